"""JSON in and out through basyx's AAS JSON adapter (no hand-written metamodel serialisers)."""

from __future__ import annotations

import json
from typing import Any

from basyx.aas import model
from basyx.aas.adapter.json import json_deserialization
from starlette.responses import Response

from packtwin.aas.api.errors import ApiError
from packtwin.aas.serialization import AASJsonEncoder

_Decoder = json_deserialization.StrictAASFromJsonDecoder


class StableEncoder(AASJsonEncoder):
    """packtwin's encoder, without empty arrays, and with a shell's submodel references in id order: basyx keeps them
    in a set, whose order changes from one process to the next (string hashing is randomised)."""

    def default(self, obj: object) -> object:
        data = super().default(obj)
        if isinstance(data, dict):
            # AAS JSON forbids empty arrays (minItems 1); basyx writes e.g. an Entity's empty specificAssetIds as [].
            return {k: v for k, v in data.items() if not (isinstance(v, list) and not v)}
        return data

    @classmethod
    def _asset_administration_shell_to_json(cls, obj: model.AssetAdministrationShell) -> dict[str, object]:
        data = super()._asset_administration_shell_to_json(obj)
        if "submodels" in data:
            data["submodels"] = sorted(obj.submodel, key=lambda r: r.key[0].value if r.key else "")
        return data


def dumps(body: Any) -> str:
    """Serialise a body that may contain basyx objects anywhere (lists, dicts, paged results)."""
    return json.dumps(body, cls=StableEncoder, separators=(",", ":"), allow_nan=False)


def to_dict(obj: Any) -> Any:
    return json.loads(dumps(obj))


class AasJsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")


def parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, f"request body is not valid JSON: {e}") from None


def decode_model(raw: bytes | Any, expected: type) -> Any:
    """Decode a metamodel object of class ``expected`` from a JSON body (bytes or an already parsed value)."""
    data = parse_json(raw) if isinstance(raw, bytes | bytearray) else raw
    try:
        if expected is model.Reference:
            return _Decoder._construct_reference(_dict(data))
        if expected is model.AssetInformation:
            return _Decoder._construct_asset_information(_dict(data))
        if expected is model.SpecificAssetId:
            return _Decoder._construct_specific_asset_id(_dict(data))
        obj = json.loads(json.dumps(data), cls=_Decoder)
    except ApiError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, model.AASConstraintViolation) as e:
        raise ApiError(400, f"request body is not a valid {expected.__name__}: {type(e).__name__}: {e}") from None
    if not isinstance(obj, expected):
        raise ApiError(400, f"request body is a {type(obj).__name__}, expected a {expected.__name__}")
    return obj


def _dict(data: Any) -> dict:
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object")
    return data
