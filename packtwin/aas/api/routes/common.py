"""Helpers shared by the route modules: bodies in and out, element lookup, query parameters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from packtwin.aas.api import paging
from packtwin.aas.api.codec import AasJsonResponse, parse_json
from packtwin.aas.api.errors import ApiError


def ok(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return AasJsonResponse(body, status_code=status, headers=headers)


def no_content() -> Response:
    return Response(status_code=204)


async def body_bytes(request: Request) -> bytes:
    """The request body, refused with 413 beyond ``settings.max_body_bytes`` (counted while streaming)."""
    limit = request.app.state.api.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"request body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"request body larger than {limit} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw:
        raise ApiError(400, "request body is empty")
    return raw


async def body_json(request: Request) -> Any:
    return parse_json(await body_bytes(request))


def paged(items: list[Any], request: Request, convert: Any = None) -> Response:
    chunk, cursor = paging.page(items, request.query_params)
    if convert is not None:
        chunk = [convert(x) for x in chunk]
    return ok(paging.paged_body(chunk, cursor))


async def locked(state: Any, write: Callable[[], Any]) -> Any:
    """Run a write in a worker thread under the repository lock: the store's fsync does not stall the event loop
    (reads go on meanwhile), and writers from other threads (workers, importers) are serialised with it."""
    def run() -> Any:
        with state.repo.lock:
            return write()
    return await run_in_threadpool(run)
