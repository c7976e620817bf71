"""``/serialization``: an environment of chosen shells, submodels and concept descriptions as JSON, XML or AASX.

Written by basyx's adapters from the caller's pruned view, so the file never holds an element above its group.
"""

from __future__ import annotations

import io

from basyx.aas import model
from basyx.aas.adapter.aasx import AASXWriter
from basyx.aas.adapter.json import write_aas_json_file
from basyx.aas.adapter.xml import write_aas_xml_file
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from packtwin.aas.api.b64 import decode_id
from packtwin.aas.api.codec import StableEncoder
from packtwin.aas.api.errors import ApiError
from packtwin.aas.api.state import reader
from packtwin.aas.api.views import parse_bool

AASX = "application/asset-administration-shell-package+xml"
_FORMATS = {"application/json": "json", "application/xml": "xml", "text/xml": "xml", AASX: "aasx",
            "application/asset-administration-shell-package": "aasx", "application/aasx": "aasx"}


def negotiate(accept: str | None) -> str:
    if not accept:
        return "json"
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in _FORMATS:
            return _FORMATS[media]
        if media in ("*/*", "application/*"):
            return "json"
    raise ApiError(406, f"cannot serialise as {accept[:80]!r}; offered: application/json, application/xml, {AASX}")


async def get_serialization(request: Request) -> Response:
    state, role = reader(request)
    q = request.query_params
    fmt = negotiate(request.headers.get("accept"))
    aas_ids = [decode_id(x, "aasIds") for x in q.getlist("aasIds")]
    sm_ids = [decode_id(x, "submodelIds") for x in q.getlist("submodelIds")]
    include_cds = parse_bool(q.get("includeConceptDescriptions"), "includeConceptDescriptions", True)
    everything = not aas_ids and not sm_ids
    store: model.DictIdentifiableStore = model.DictIdentifiableStore()
    shells = state.view.shells(role) if everything else [state.view.get_shell(i, role) for i in aas_ids]
    submodels = state.view.submodels(role) if everything else [state.view.get_submodel(i, role) for i in sm_ids]
    for obj in [*shells, *submodels]:
        if obj.id not in store:
            store.add(obj)
    if include_cds:
        for cd in state.repo.concept_descriptions():
            store.add(cd)
    buf = io.BytesIO()
    if fmt == "json":
        text = io.StringIO()
        write_aas_json_file(text, store, encoder=StableEncoder)
        return Response(text.getvalue(), media_type="application/json")
    if fmt == "xml":
        write_aas_xml_file(buf, store)
        return Response(buf.getvalue(), media_type="application/xml")
    with AASXWriter(buf) as writer:
        shell_ids = [s.id for s in shells]
        if shell_ids:
            writer.write_aas(shell_ids, store, state.files)
        else:
            writer.write_all_aas_objects("/aasx/data.xml", store, state.files)
    return Response(buf.getvalue(), media_type=AASX,
                    headers={"Content-Disposition": 'attachment; filename="environment.aasx"'})


def routes() -> list[Route]:
    return [Route("/serialization", get_serialization, methods=["GET"])]
