"""Every request the AAS client sends is an operation of the AAS Part 2 HTTP API, as the OpenAPI document kept in
the package states it: the contract a remote BaSyx repository (not runnable here) is built to."""

from __future__ import annotations

import re
from importlib import resources

import requests
import yaml

from packtwin.connectors.remote.client import AasClient

BASE = "http://127.0.0.1:9/api/v3.0"  # never contacted: the transport below answers every request itself


def _operations() -> list[tuple[str, re.Pattern[str], str]]:
    text = resources.files("packtwin.aas.api.resources").joinpath("openapi.yaml").read_text(encoding="utf-8")
    ops = []
    for template, item in yaml.safe_load(text)["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
        ops += [(method.upper(), pattern, template) for method in item
                if method in ("get", "put", "post", "patch", "delete")]
    return ops


class _Recorder(requests.adapters.BaseAdapter):
    """A transport that keeps what was sent and answers an empty page."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str]] = []

    def send(self, request, **kwargs):  # type: ignore[no-untyped-def]
        self.sent.append((request.method, request.path_url.split("?", 1)[0]))
        resp = requests.Response()
        resp.status_code, resp.request, resp.url = 200, request, request.url
        resp._content = b'{"result": [], "paging_metadata": {}}'
        return resp

    def close(self) -> None:
        pass


def test_every_request_of_the_client_is_an_operation_of_the_aas_api():
    session = requests.Session()
    recorder = _Recorder()
    session.mount("http://", recorder)
    aas = AasClient(BASE, session=session)
    sm = "https://example.org/packtwin/sm/cell/PT-P000001-M01-C001/ProductCondition"
    for kind in ("shells", "submodels", "concept-descriptions", "shell-descriptors"):
        list(aas.list(kind))
    aas.get("submodels", sm)
    aas.create("submodels", {"id": sm})
    aas.update("submodels", {"id": sm})
    aas.delete("submodels", sm)
    aas.put_element(sm, "StateOfCharge.StateOfChargeValue", {})
    aas.get_value(sm, "NegativeEvents[0].LastUpdate")
    aas.post_element(sm, "", {})
    aas.post_element(sm, "NegativeEvents", {})
    aas.patch_value(sm, "StateOfCharge.StateOfChargeValue", "1.5")
    aas.patch_submodel_value(sm, {"StateOfCharge": {"StateOfChargeValue": "1.5"}})
    aas.delete_element(sm, "NegativeEvents[0]")
    ops = _operations()
    assert len(ops) > 100
    unknown = []
    for method, path in recorder.sent:
        local = path.removeprefix("/api/v3.0")
        if not any(m == method and pattern.match(local) for m, pattern, _ in ops):
            unknown.append(f"{method} {local}")
    assert len(recorder.sent) == 15 and not unknown, unknown
    # The write-back's one request per submodel is the spec's PatchSubmodelById-ValueOnly.
    method, path = recorder.sent[-2]
    assert method == "PATCH"
    assert {t for m, p, t in ops if m == method and p.match(path.removeprefix("/api/v3.0"))} == {
        "/submodels/{submodelIdentifier}/$value"}
