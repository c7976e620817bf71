"""Roles from API keys and HS256 JWTs; bad credentials are a 401, never a silent fall-back to anonymous."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from packtwin.aas.api import create_app, resolve_role
from packtwin.aas.api.auth import AuthConfig, make_jwt, role_from_jwt
from packtwin.aas.api.errors import ApiError
from packtwin.aas.repository import Repository
from packtwin.settings import Settings
from packtwin.submodels.access import Role

SECRET = "s3cret"
CONFIG = AuthConfig({"k1": Role.AUTHORITY}, SECRET)


def test_jwt_roles_and_rejections() -> None:
    now = time.time()
    assert role_from_jwt(make_jwt({"role": "legitimate_interest"}, SECRET), CONFIG) is Role.LEGITIMATE_INTEREST
    assert role_from_jwt(make_jwt({"roles": ["authority", "operator"]}, SECRET), CONFIG) is Role.OPERATOR
    bad = [
        make_jwt({"role": "operator"}, "other-secret"),
        make_jwt({"role": "operator", "exp": now - 1}, SECRET),
        make_jwt({"role": "operator", "nbf": now + 60}, SECRET),
        make_jwt({"role": "king"}, SECRET),
        "not.a.jwt", "abc",
    ]
    for token in bad:
        with pytest.raises(ApiError) as e:
            role_from_jwt(token, CONFIG)
        assert e.value.status == 401
    with pytest.raises(ApiError):
        role_from_jwt(make_jwt({"role": "operator"}, SECRET), AuthConfig())  # no secret configured: refused
    aud = AuthConfig({}, SECRET, "packtwin")
    assert role_from_jwt(make_jwt({"role": "authority", "aud": "packtwin"}, SECRET), aud) is Role.AUTHORITY
    with pytest.raises(ApiError):
        role_from_jwt(make_jwt({"role": "authority", "aud": "elsewhere"}, SECRET), aud)


def test_keys_file_and_reuse_by_other_routes(tmp_path: Path) -> None:
    keys = tmp_path / "keys.toml"
    keys.write_text('[api_keys]\n"k-legit" = "legitimate_interest"\n')
    assert AuthConfig.load(keys).api_keys == {"k-legit": Role.LEGITIMATE_INTEREST}
    keys.write_text('[api_keys]\n"k" = "emperor"\n')
    with pytest.raises(ValueError, match="unknown role"):
        AuthConfig.load(keys)

    async def whoami(request: Request) -> PlainTextResponse:
        return PlainTextResponse(resolve_role(request).value)

    import requests

    from tests.aas.api.conftest import live
    app = create_app(Repository.open(None), Settings(), auth=CONFIG, extra_routes=[Route("/whoami", whoami)])
    assert isinstance(app, Starlette)
    server = live(app)
    try:
        base = server.url.removesuffix("/api/v3.0")
        assert requests.get(base + "/whoami", timeout=10).text == "anonymous"
        assert requests.get(base + "/whoami", headers={"X-API-Key": "k1"}, timeout=10).text == "authority"
        token = make_jwt({"role": "operator"}, SECRET)
        assert requests.get(base + "/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=10).text \
            == "operator"
        resp = requests.get(server.url + "/shells", headers={"X-API-Key": "wrong"}, timeout=10)
        assert resp.status_code == 401 and resp.json()["messages"][0]["code"] == "401"
        assert resp.headers["www-authenticate"].startswith("Bearer")
    finally:
        server.stop()
