"""Cursor pagination (``limit``, ``cursor``) and the PagedResult body."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from packtwin.aas.api.b64 import decode_id, encode_id
from packtwin.aas.api.errors import ApiError

# Hard cap on a page so one request cannot serialise the whole fleet at once.
MAX_LIMIT = 10_000


def parse_limit(raw: str | None, default: int = MAX_LIMIT) -> int:
    if raw is None or raw == "":
        return default
    try:
        limit = int(raw)
    except ValueError:
        raise ApiError(400, f"limit must be a positive integer, got {raw[:40]!r}") from None
    if limit < 1:
        raise ApiError(400, f"limit must be a positive integer, got {limit}")
    return min(limit, MAX_LIMIT)


def parse_cursor(raw: str | None) -> int:
    """The cursor is the base64url-encoded position of the next item: opaque to clients, stable for a sort."""
    if raw is None or raw == "":
        return 0
    text = decode_id(raw, "cursor")
    if not text.isdigit():
        raise ApiError(400, "cursor is not one this server issued")
    return int(text)


def page(items: Sequence[Any], params: Any) -> tuple[list[Any], str | None]:
    """Slice ``items`` per the request's ``limit`` and ``cursor``; returns the page and the next cursor."""
    limit = parse_limit(params.get("limit"))
    start = parse_cursor(params.get("cursor"))
    chunk = list(items[start:start + limit])
    nxt = start + limit
    return chunk, (encode_id(str(nxt)) if nxt < len(items) else None)


def paged_body(result: list[Any], cursor: str | None) -> dict:
    meta = {"cursor": cursor} if cursor is not None else {}
    return {"paging_metadata": meta, "result": result}
