"""Identifiers in URLs: base64url-encoded UTF-8 (IDTA-01002 Part 2, 'Encoding of identifiers')."""

from __future__ import annotations

import base64
import binascii
import re

from packtwin.aas.api.errors import ApiError

_ALPHABET = re.compile(r"^[A-Za-z0-9_-]*={0,2}$")


def encode_id(identifier: str) -> str:
    """base64url without padding, as the spec recommends and BaSyx clients send."""
    return base64.urlsafe_b64encode(identifier.encode("utf-8")).decode("ascii").rstrip("=")


def decode_id(text: str, what: str = "identifier") -> str:
    """Decode a base64url identifier, with or without padding; a 400 Result for anything else."""
    if not text or not _ALPHABET.match(text):
        raise ApiError(400, f"{what} is not base64url-encoded: {text[:80]!r}")
    core = text.rstrip("=")
    if len(core) % 4 == 1:  # no byte sequence encodes to this length
        raise ApiError(400, f"{what} is not valid base64url: {text[:80]!r}")
    try:
        raw = base64.urlsafe_b64decode(core + "=" * (-len(core) % 4))
        value = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        raise ApiError(400, f"{what} is not valid base64url-encoded UTF-8: {text[:80]!r}") from None
    if not value:
        raise ApiError(400, f"{what} is empty")
    return value
