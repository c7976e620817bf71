"""A client of Eclipse Ditto's HTTP API (``/api/2``): sends Ditto Protocol commands as the equivalent requests."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import requests

from packtwin.connectors.ditto.bridge import thing_id_of_message
from packtwin.connectors.ditto.protocol import JSON, MERGE_PATCH


class DittoError(RuntimeError):
    def __init__(self, status: int, body: Any, request: str) -> None:
        self.status = status
        self.body = body
        error = body.get("error") if isinstance(body, dict) else None
        message = body.get("message") if isinstance(body, dict) else body
        super().__init__(f"Ditto {request} -> {status} {error or ''}: {message}")


class DittoHttpClient:
    def __init__(self, base_url: str, auth: tuple[str, str] | None = ("ditto", "ditto"), timeout_s: float = 10.0,
                 session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        if auth is not None:
            self.session.auth = auth
        self.timeout_s = timeout_s

    def _url(self, kind: str, entity_id: str, path: str = "/") -> str:
        suffix = "/".join(quote(seg, safe="") for seg in path.strip("/").split("/") if seg)
        return f"{self.base_url}/api/2/{kind}/{quote(entity_id, safe=':')}" + (f"/{suffix}" if suffix else "")

    def _request(self, method: str, url: str, body: Any = None, content_type: str = JSON,
                 headers: dict[str, str] | None = None) -> requests.Response:
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode("utf-8")
        all_headers = {"Content-Type": content_type} if data is not None else {}
        all_headers.update(headers or {})
        try:
            resp = self.session.request(method, url, data=data, headers=all_headers, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise DittoError(0, f"no answer: {exc}", f"{method} {url}") from exc
        if resp.status_code >= 400:
            try:
                detail: Any = resp.json()
            except ValueError:
                detail = resp.text
            raise DittoError(resp.status_code, detail, f"{method} {url}")
        return resp

    # -- Things and policies -------------------------------------------------------------------------------------------
    def put_policy(self, policy: dict[str, Any]) -> int:
        return self._request("PUT", self._url("policies", policy["policyId"]), policy).status_code

    def put_thing(self, thing: dict[str, Any]) -> int:
        return self._request("PUT", self._url("things", thing["thingId"]), thing).status_code

    def get_thing(self, thing_id: str) -> dict[str, Any]:
        return self._request("GET", self._url("things", thing_id)).json()

    def delete_thing(self, thing_id: str) -> int:
        return self._request("DELETE", self._url("things", thing_id)).status_code

    # -- Ditto Protocol commands ---------------------------------------------------------------------------------------
    def send(self, message: dict[str, Any]) -> int:
        """Carry out one ``things/twin/commands`` message over HTTP; returns the HTTP status."""
        action = message["topic"].rsplit("/", 1)[-1]
        url = self._url("things", thing_id_of_message(message), message["path"])
        if action == "modify":
            return self._request("PUT", url, message["value"]).status_code
        if action == "create":
            return self._request("PUT", url, message["value"], headers={"If-None-Match": "*"}).status_code
        if action == "merge":
            return self._request("PATCH", url, message["value"], content_type=MERGE_PATCH).status_code
        if action == "delete":
            return self._request("DELETE", url).status_code
        raise ValueError(f"unsupported Ditto command {message['topic']!r}")
