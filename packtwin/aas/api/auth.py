"""Who is calling: API keys and HS256 bearer JWTs resolved to a :class:`~packtwin.submodels.access.Role`.

Configuration (see docs/api.md):

* ``PACKTWIN_API_KEYS_FILE`` (or ``api_keys_file`` in packtwin.toml): a TOML file with a table ``[api_keys]``
  mapping each key to a role, e.g. ``"k-recycler-7f3a" = "legitimate_interest"``. Clients send ``X-API-Key: <key>``.
* ``PACKTWIN_JWT_SECRET`` (or ``jwt_secret``): the shared HS256 secret. Clients send ``Authorization: Bearer <jwt>``
  whose payload carries ``role`` (one role) or ``roles`` (a list; the highest counts), and optionally ``exp``/``nbf``
  (checked) and ``aud`` (checked against ``jwt_audience`` when that is set).

No credentials means :attr:`Role.ANONYMOUS` (the public passport). Credentials that do not verify are a 401, never a
silent fall-back to anonymous, so a client with a stale key notices.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from starlette.requests import HTTPConnection

from packtwin.aas.api.errors import ApiError
from packtwin.submodels.access import Role

_RANK = {Role.ANONYMOUS: 0, Role.LEGITIMATE_INTEREST: 1, Role.AUTHORITY: 2, Role.OPERATOR: 3}


@dataclass(frozen=True)
class AuthConfig:
    api_keys: dict[str, Role] = field(default_factory=dict)
    jwt_secret: str = ""
    jwt_audience: str = ""

    @classmethod
    def load(cls, keys_file: str | Path | None = None, jwt_secret: str = "", jwt_audience: str = "") -> AuthConfig:
        keys: dict[str, Role] = {}
        if keys_file:
            with Path(keys_file).open("rb") as fh:
                table = tomllib.load(fh).get("api_keys", {})
            for key, role in table.items():
                try:
                    keys[str(key)] = Role(role)
                except ValueError:
                    raise ValueError(f"{keys_file}: unknown role {role!r} for an API key; "
                                     f"expected one of {', '.join(r.value for r in Role)}") from None
        return cls(keys, jwt_secret, jwt_audience)


def resolve_role(conn: HTTPConnection) -> Role:
    """The caller's role from its credentials; usable by any route mounted on the app (e.g. ``/sparql``)."""
    config: AuthConfig = getattr(conn.app.state, "auth", None) or AuthConfig()
    key = conn.headers.get("x-api-key")
    if key is not None:
        return _role_for_key(config, key)
    authorization = conn.headers.get("authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token:
            return role_from_jwt(token.strip(), config)
        if scheme.lower() == "apikey" and token:
            return _role_for_key(config, token.strip())
        raise _unauthorized("unsupported Authorization scheme; use 'Bearer <jwt>' or the X-API-Key header")
    return Role.ANONYMOUS


def require_write(conn: HTTPConnection) -> Role:
    role = resolve_role(conn)
    if not role.may_write:
        if role is Role.ANONYMOUS:
            raise _unauthorized("writing needs the operator role; send credentials")
        raise ApiError(403, f"role {role.value} may not write; writing needs the operator role")
    return role


def _unauthorized(text: str) -> ApiError:
    return ApiError(401, text, {"WWW-Authenticate": 'Bearer realm="packtwin"'})


def _role_for_key(config: AuthConfig, key: str) -> Role:
    found: Role | None = None
    for known, role in config.api_keys.items():  # compare against every key: no timing oracle
        if hmac.compare_digest(known.encode(), key.encode()):
            found = role
    if found is None:
        raise _unauthorized("unknown API key")
    return found


def _b64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def role_from_jwt(token: str, config: AuthConfig, now: float | None = None) -> Role:
    """Verify an HS256 JWT (RFC 7519) with the configured secret and return its role."""
    if not config.jwt_secret:
        raise _unauthorized("bearer tokens are not accepted by this server (no JWT secret configured)")
    try:
        head_b64, payload_b64, sig_b64 = token.split(".")
        header = json.loads(_b64url(head_b64))
        payload = json.loads(_b64url(payload_b64))
        signature = _b64url(sig_b64)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _unauthorized("malformed bearer token") from None
    if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(payload, dict):
        raise _unauthorized("bearer token must be an HS256 JWT")
    expected = hmac.new(config.jwt_secret.encode(), f"{head_b64}.{payload_b64}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise _unauthorized("bearer token signature does not verify")
    now = time.time() if now is None else now
    if isinstance(payload.get("exp"), int | float) and now >= payload["exp"]:
        raise _unauthorized("bearer token expired")
    if isinstance(payload.get("nbf"), int | float) and now < payload["nbf"]:
        raise _unauthorized("bearer token not yet valid")
    if config.jwt_audience:
        aud = payload.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        if config.jwt_audience not in auds:
            raise _unauthorized("bearer token audience does not match")
    claimed = payload.get("roles", payload.get("role"))
    claimed = claimed if isinstance(claimed, list) else [claimed]
    roles = []
    for name in claimed:
        try:
            roles.append(Role(name))
        except ValueError:
            continue
    if not roles:
        raise _unauthorized("bearer token carries no known role")
    return max(roles, key=_RANK.__getitem__)


def make_jwt(payload: dict, secret: str) -> str:
    """Sign ``payload`` as an HS256 JWT (for operators' tooling and tests)."""
    def enc(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")
    head = enc(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = enc(json.dumps(payload, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{enc(sig)}"
