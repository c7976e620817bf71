"""A client of the AAS Part 2 HTTP API (repository and registry profiles) with base64url identifiers and paging."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import requests

SHELLS = "shells"
SUBMODELS = "submodels"
CONCEPT_DESCRIPTIONS = "concept-descriptions"
SHELL_DESCRIPTORS = "shell-descriptors"
KINDS = (CONCEPT_DESCRIPTIONS, SUBMODELS, SHELLS)  # in dependency order: what shells refer to goes first


def encode_id(identifier: str) -> str:
    """base64url without padding, as AAS Part 2 encodes identifiers in paths."""
    return base64.urlsafe_b64encode(identifier.encode("utf-8")).rstrip(b"=").decode("ascii")


class RemoteError(RuntimeError):
    def __init__(self, status: int, method: str, url: str, detail: str) -> None:
        self.status = status
        super().__init__(f"{method} {url} -> {status}: {detail[:500]}")


class AasClient:
    """``base_url`` is the API root, e.g. ``http://host:8080/api/v3.0`` (packtwin) or ``http://host:8081`` (BaSyx)."""

    def __init__(self, base_url: str, *, api_key: str | None = None, bearer: str | None = None,
                 timeout_s: float = 30.0, page_size: int = 200, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        if api_key:
            self.session.headers["X-API-Key"] = api_key
        if bearer:
            self.session.headers["Authorization"] = f"Bearer {bearer}"
        self.timeout_s = timeout_s
        self.page_size = page_size

    def _request(self, method: str, path: str, *, params: dict | None = None, json: Any = None,
                 ok_missing: bool = False) -> requests.Response | None:
        url = f"{self.base_url}/{path.lstrip('/')}"
        try:
            resp = self.session.request(method, url, params=params, json=json, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise RemoteError(0, method, url, f"no answer: {exc}") from exc
        if ok_missing and resp.status_code == 404:
            return None
        if resp.status_code >= 400:
            raise RemoteError(resp.status_code, method, url, resp.text)
        return resp

    def list(self, kind: str) -> Iterator[dict[str, Any]]:
        """Every item of a collection (``shells``, ``submodels``, ``concept-descriptions``, ``shell-descriptors``),
        following the paging cursor."""
        cursor: str | None = None
        for _ in range(1_000_000):  # bounded: a server that repeats its cursor must not loop us forever
            params: dict[str, Any] = {"limit": self.page_size}
            if cursor:
                params["cursor"] = cursor
            body = self._request("GET", kind, params=params).json()  # type: ignore[union-attr]
            items = body.get("result", []) if isinstance(body, dict) else body
            yield from items
            nxt = (body.get("paging_metadata") or {}).get("cursor") if isinstance(body, dict) else None
            if not nxt or nxt == cursor or not items:
                return
            cursor = nxt
        raise RuntimeError(f"{self.base_url}/{kind}: paging did not end")

    def get(self, kind: str, identifier: str) -> dict[str, Any] | None:
        resp = self._request("GET", f"{kind}/{encode_id(identifier)}", ok_missing=True)
        return None if resp is None else resp.json()

    def create(self, kind: str, doc: dict[str, Any]) -> None:
        self._request("POST", kind, json=doc)

    def update(self, kind: str, doc: dict[str, Any], identifier: str | None = None) -> None:
        self._request("PUT", f"{kind}/{encode_id(identifier or doc['id'])}", json=doc)

    def delete(self, kind: str, identifier: str) -> None:
        self._request("DELETE", f"{kind}/{encode_id(identifier)}")

    def put_element(self, submodel_id: str, id_short_path: str, element: dict[str, Any]) -> None:
        self._request("PUT", f"{SUBMODELS}/{encode_id(submodel_id)}/submodel-elements/{id_short_path}", json=element)

    def get_value(self, submodel_id: str, id_short_path: str) -> Any:
        """An element's value in the ValueOnly form; None when the element does not exist."""
        resp = self._request("GET", f"{SUBMODELS}/{encode_id(submodel_id)}/submodel-elements/{id_short_path}/$value",
                             ok_missing=True)
        return None if resp is None else resp.json()

    def post_element(self, submodel_id: str, id_short_path: str, element: dict[str, Any]) -> None:
        """Add ``element`` under the collection or list at ``id_short_path`` (appended to a list); an empty path
        adds it at the top level of the submodel."""
        path = f"/{id_short_path}" if id_short_path else ""
        self._request("POST", f"{SUBMODELS}/{encode_id(submodel_id)}/submodel-elements{path}", json=element)

    def patch_value(self, submodel_id: str, id_short_path: str, value: Any) -> None:
        """Set an element's value in the ValueOnly form (a Property's value is its lexical form as a JSON string)."""
        self._request("PATCH", f"{SUBMODELS}/{encode_id(submodel_id)}/submodel-elements/{id_short_path}/$value",
                      json=value)

    def patch_submodel_value(self, submodel_id: str, value: dict[str, Any]) -> None:
        """Set the values of the elements ``value`` names, in the submodel's ValueOnly form (PATCH is partial: the
        elements it does not name keep theirs): one request, and one change on the server, for many values."""
        self._request("PATCH", f"{SUBMODELS}/{encode_id(submodel_id)}/$value", json=value)

    def delete_element(self, submodel_id: str, id_short_path: str) -> None:
        self._request("DELETE", f"{SUBMODELS}/{encode_id(submodel_id)}/submodel-elements/{id_short_path}")
