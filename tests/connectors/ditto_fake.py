"""A stand-in for Eclipse Ditto's HTTP API (Ditto cannot run here): keeps Things and policies in memory and rejects
what Ditto would reject: bodies that break the Ditto JSON schemas, Things over the size limit, unknown policies,
bad credentials, wrong content types. Served by uvicorn on a loopback port."""

from __future__ import annotations

import base64
import copy
import json
import socket
import threading
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from packtwin.connectors.ditto import schemas
from packtwin.connectors.ditto.protocol import THING_LIMIT_BYTES, size_of


def _error(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"status": status, "error": error, "message": message}, status_code=status)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class FakeDitto:
    def __init__(self, user: str = "ditto", password: str = "ditto", thing_limit: int = THING_LIMIT_BYTES) -> None:
        self.things: dict[str, dict[str, Any]] = {}
        self.policies: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.thing_limit = thing_limit
        self._auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.app = Starlette(routes=[
            Route("/api/2/policies/{policy_id}", self.policy, methods=["PUT", "GET"]),
            Route("/api/2/things/{thing_id}", self.thing, methods=["PUT", "GET", "PATCH", "DELETE"]),
            Route("/api/2/things/{thing_id}/{path:path}", self.thing, methods=["PUT", "GET", "PATCH", "DELETE"]),
        ])

    async def _body(self, request: Request, merge: bool = False) -> Any:
        expected = "application/merge-patch+json" if merge else "application/json"
        if request.headers.get("content-type", "").split(";")[0] != expected:
            raise ValueError(f"content-type must be {expected}")
        return json.loads(await request.body())

    async def policy(self, request: Request) -> Response:
        if request.headers.get("authorization") != self._auth:
            return _error(401, "gateway:authentication.failed", "bad credentials")
        pid = request.path_params["policy_id"]
        if request.method == "GET":
            return JSONResponse(self.policies[pid]) if pid in self.policies else _error(404, "policies:policy.notfound", pid)
        try:
            body = await self._body(request)
        except ValueError as exc:
            return _error(400, "policies:policy.invalid", str(exc))
        problems = schemas.errors("policy", body)
        if problems or body.get("policyId") != pid:
            return _error(400, "policies:policy.invalid", "; ".join(problems) or "policyId mismatch")
        existed = pid in self.policies
        self.policies[pid] = body
        return Response(status_code=204 if existed else 201)

    async def thing(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path))
        if request.headers.get("authorization") != self._auth:
            return _error(401, "gateway:authentication.failed", "bad credentials")
        tid = request.path_params["thing_id"]
        path = [p for p in request.path_params.get("path", "").split("/") if p]
        current = self.things.get(tid)
        if request.method == "GET":
            node: Any = current
            for seg in path:
                node = node.get(seg) if isinstance(node, dict) else None
            return JSONResponse(node) if node is not None else _error(404, "things:thing.notfound", tid)
        if request.method == "DELETE":
            if current is None:
                return _error(404, "things:thing.notfound", tid)
            if not path:
                del self.things[tid]
                return Response(status_code=204)
            parent = current
            for seg in path[:-1]:
                parent = parent.get(seg) if isinstance(parent, dict) else None
            if not isinstance(parent, dict) or path[-1] not in parent:
                return _error(404, "things:attribute.notfound", "/".join(path))
            del parent[path[-1]]
            return Response(status_code=204)
        try:
            body = await self._body(request, merge=request.method == "PATCH")
        except ValueError as exc:
            return _error(400, "json.invalid", str(exc))
        if request.method == "PUT" and not path and request.headers.get("if-none-match") == "*" and current:
            return _error(412, "things:precondition.failed", "exists")
        if current is None and path:
            return _error(404, "things:thing.notfound", tid)
        new = copy.deepcopy(current) if current is not None else {}
        if request.method == "PATCH":
            new = self._set(new, path, merge_patch(self._get(new, path), body))
        else:
            new = self._set(new, path, body)
            if path[:1] == ["features"] and len(path) == 2:
                problems = schemas.errors("feature_v2", body)
                if problems:
                    return _error(400, "things:feature.invalid", "; ".join(problems))
        new.setdefault("thingId", tid)
        problems = schemas.errors("thing_v2", new)
        if problems or new["thingId"] != tid:
            return _error(400, "things:thing.invalid", "; ".join(problems) or "thingId mismatch")
        if new["policyId"] not in self.policies:
            return _error(400, "things:policy.notfound", new["policyId"])
        if size_of(new) > self.thing_limit:
            return _error(413, "things:thing.toolarge", f"Thing of {size_of(new)} bytes exceeds {self.thing_limit}")
        self.things[tid] = new
        return Response(status_code=201 if current is None and not path else 204)

    @staticmethod
    def _get(doc: Any, path: list[str]) -> Any:
        for seg in path:
            doc = doc.get(seg) if isinstance(doc, dict) else None
        return doc

    @staticmethod
    def _set(doc: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
        if not path:
            return value
        node = doc
        for seg in path[:-1]:
            node = node.setdefault(seg, {})
        node[path[-1]] = value
        return doc


class Server:
    """Run an ASGI app with uvicorn on a free loopback port in a background thread."""

    def __init__(self, app: Any) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.server.started:
            raise RuntimeError("fake Ditto did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
