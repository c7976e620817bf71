"""Access control: every read endpoint, as every role, shows nothing above the role's access group.

Every string value inside an element whose effective group is above public is replaced by a unique token naming its
group; a response may contain a token only if the caller's role is entitled to that group. Paths are checked too:
a role's ``$path`` lists exactly the elements of its groups. The operator's responses do contain the tokens, so the
check would notice a leak.
"""

from __future__ import annotations

import io
import itertools
import re
import zipfile
from collections.abc import Iterator

import pytest
import requests
from basyx.aas import model

from packtwin.aas.api import create_app
from packtwin.aas.api.b64 import encode_id
from packtwin.aas.repository import Repository
from packtwin.settings import Settings
from packtwin.submodels.access import AccessGroup, Role, own_access_group
from tests.aas.api.conftest import KEYS, LiveApp, headers_for, keys_config, live
from tests.aas.api.fleet_data import BASE, make_fleet

PACK_AAS = f"{BASE}/aas/pack/PT-P000001"
TOKEN = re.compile(r"SECRET[A-Z_]+N\d+")
ROLES = list(KEYS)


def _children(node: object) -> list:
    if isinstance(node, model.Submodel):
        return list(node.submodel_element)
    if isinstance(node, model.SubmodelElementCollection | model.SubmodelElementList):
        return list(node.value)
    if isinstance(node, model.Entity):
        return list(node.statement)
    return []


def mark_secrets(objects: model.DictIdentifiableStore) -> tuple[dict[AccessGroup, set[str]], dict[str, dict]]:
    """Put tokens into restricted string values; return tokens by group and, per submodel, path -> group."""
    counter = itertools.count()
    tokens: dict[AccessGroup, set[str]] = {AccessGroup.LEGITIMATE_INTEREST: set(), AccessGroup.AUTHORITIES: set()}
    groups: dict[str, dict[str, AccessGroup]] = {}

    def walk(node: object, inherited: AccessGroup, prefix: str, sm_paths: dict[str, AccessGroup]) -> None:
        for i, child in enumerate(_children(node)):
            group = own_access_group(child) or inherited
            path = f"{prefix}[{i}]" if isinstance(node, model.SubmodelElementList) else (
                f"{prefix}.{child.id_short}" if prefix else str(child.id_short))
            sm_paths[path] = group
            if group > AccessGroup.PUBLIC:
                token = f"SECRET{group.name}N{next(counter)}"
                if isinstance(child, model.Property) and child.value_type is model.datatypes.String:
                    child.value = token
                    tokens[group].add(token)
                elif isinstance(child, model.MultiLanguageProperty):
                    child.value = model.MultiLanguageTextType({"en": token})
                    tokens[group].add(token)
            walk(child, group, path, sm_paths)

    for obj in objects:
        if isinstance(obj, model.Submodel):
            groups[obj.id] = {}
            walk(obj, own_access_group(obj) or AccessGroup.PUBLIC, "", groups[obj.id])
    return tokens, groups


@pytest.fixture(scope="module")
def setup() -> Iterator[tuple[LiveApp, dict, dict, list[str]]]:
    fleet = make_fleet(1, 1, 1)
    tokens, groups = mark_secrets(fleet.objects)
    assert len(tokens[AccessGroup.LEGITIMATE_INTEREST]) >= 3 and len(tokens[AccessGroup.AUTHORITIES]) >= 1
    repo = Repository.open(None)
    repo.add_many(list(fleet.objects))
    pack_submodels = sorted(r.key[0].value for r in repo.get_shell(PACK_AAS).submodel)
    condition = next(s for s in pack_submodels if s.endswith("/ProductCondition"))
    app = live(create_app(repo, Settings(), auth=keys_config(), files=fleet.files, service_aas_id=PACK_AAS,
                          service_submodel_id=condition))
    yield app, tokens, groups, pack_submodels
    app.stop()


def _text(resp: requests.Response) -> str:
    if resp.content[:2] == b"PK":  # AASX: scan every part of the package
        with zipfile.ZipFile(io.BytesIO(resp.content)) as zf:
            return "\n".join(zf.read(n).decode("utf-8", "replace") for n in zf.namelist())
    return resp.text


def _read_endpoints(url: str, sm_ids: list[str]) -> list[tuple[str, dict]]:
    aas = encode_id(PACK_AAS)
    out: list[tuple[str, dict]] = [(u, {}) for u in [
        "/shells", "/shells/$reference", f"/shells/{aas}", f"/shells/{aas}/$reference",
        f"/shells/{aas}/asset-information", f"/shells/{aas}/submodel-refs",
        "/submodels", "/submodels/$metadata", "/submodels/$value", "/submodels/$reference", "/submodels/$path",
        "/shell-descriptors", f"/shell-descriptors/{aas}", f"/shell-descriptors/{aas}/submodel-descriptors",
        "/submodel-descriptors", f"/lookup/shells/{aas}", "/concept-descriptions", "/description",
        "/aas", "/aas/submodel-refs", "/submodel", "/submodel/$value", "/submodel/$path", "/submodel/$metadata",
        "/submodel/submodel-elements", "/submodel/submodel-elements/$value",
    ]]
    for accept in ("application/json", "application/xml", "application/asset-administration-shell-package+xml"):
        out.append(("/serialization", {"Accept": accept}))
        out.append((f"/serialization?aasIds={aas}", {"Accept": accept}))
    for sm in sm_ids:
        s = encode_id(sm)
        for prefix in (f"/submodels/{s}", f"/shells/{aas}/submodels/{s}"):
            for suffix in ("", "/$metadata", "/$value", "/$reference", "/$path", "/submodel-elements",
                           "/submodel-elements/$metadata", "/submodel-elements/$value",
                           "/submodel-elements/$reference", "/submodel-elements/$path", "?level=core",
                           "/$value?level=core"):
                out.append((prefix + suffix, {}))
        out.append((f"/submodel-descriptors/{s}", {}))
        out.append((f"/aas/submodels/{s}", {}))
        out.append((f"/aas/submodels/{s}/$value", {}))
    return out


@pytest.mark.parametrize("role", ROLES)
def test_no_read_endpoint_leaks(setup, role: str) -> None:
    app, tokens, groups, sm_ids = setup
    clearance = Role(role).clearance
    forbidden = {t for g, ts in tokens.items() if g > clearance for t in ts}
    allowed = {t for g, ts in tokens.items() if g <= clearance for t in ts}
    session = requests.Session()
    session.headers.update(headers_for(role))
    seen_allowed: set[str] = set()
    checked = 0
    for path, headers in _read_endpoints(app.url, sm_ids):
        resp = session.get(app.url + path, headers=headers, timeout=30)
        assert resp.status_code in (200, 404), f"{path}: {resp.status_code} {resp.text[:300]}"
        found = set(TOKEN.findall(_text(resp)))
        assert not found & forbidden, f"{role} sees {sorted(found & forbidden)[:3]} in {path}"
        seen_allowed |= found & allowed
        checked += 1
    # Every element, by path, with each element modifier.
    for sm in sm_ids:
        s = encode_id(sm)
        for path, group in groups[sm].items():
            # Hidden elements with every modifier; visible ones in full and as values (the modifiers' filtering is
            # the same code path, exercised on whole submodels above).
            suffixes = ("", "/$value", "/$metadata", "/$reference") if group > clearance else ("/$value",)
            for suffix in suffixes:
                resp = session.get(f"{app.url}/submodels/{s}/submodel-elements/{path}{suffix}", timeout=30)
                if group > clearance:
                    assert resp.status_code == 404, f"{role} reads hidden {sm} {path}{suffix}: {resp.status_code}"
                else:
                    assert resp.status_code in (200, 400), f"{path}{suffix}: {resp.text[:300]}"
                found = set(TOKEN.findall(resp.text))
                assert not found & forbidden, f"{role} sees a secret in {path}{suffix}"
                seen_allowed |= found & allowed
                checked += 1
        # $path lists exactly the elements of the role's groups.
        listed = set(session.get(f"{app.url}/submodels/{s}/$path", timeout=30).json())
        assert listed == {p for p, g in groups[sm].items() if g <= clearance}, sm
    assert seen_allowed == allowed, f"{role} misses {sorted(allowed - seen_allowed)[:5]}"  # nothing over-pruned
    assert checked > 300


def test_submodel_marked_above_the_role_is_invisible_everywhere() -> None:
    """A whole submodel marked ``authorities`` is absent for lower roles: no 200, no list entry, no reference."""
    from packtwin.submodels.access import set_access_group
    fleet = make_fleet(1, 1, 1)
    secret_id = next(o.id for o in fleet.objects
                     if isinstance(o, model.Submodel) and o.id.endswith("pack/PT-P000001/Circularity"))
    set_access_group(fleet.objects.get_item(secret_id), AccessGroup.AUTHORITIES)
    repo = Repository.open(None)
    repo.add_many(list(fleet.objects))
    app = live(create_app(repo, Settings(), auth=keys_config()))
    aas, sm = encode_id(PACK_AAS), encode_id(secret_id)
    try:
        for role, visible in (("anonymous", False), ("legitimate_interest", False), ("authority", True)):
            h = headers_for(role)
            direct = requests.get(f"{app.url}/submodels/{sm}/$value", headers=h, timeout=10)
            via_shell = requests.get(f"{app.url}/shells/{aas}/submodels/{sm}", headers=h, timeout=10)
            assert (direct.status_code, via_shell.status_code) == ((200, 200) if visible else (404, 404)), role
            texts = [requests.get(app.url + path, headers=h, timeout=30).text for path in (
                "/submodels", f"/shells/{aas}", f"/shells/{aas}/submodel-refs", "/submodel-descriptors",
                f"/shell-descriptors/{aas}", "/serialization", "/submodels/$reference")]
            assert all((secret_id in t) is visible for t in texts), role
    finally:
        app.stop()
