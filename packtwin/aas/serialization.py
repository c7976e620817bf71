"""AAS JSON encoding as packtwin writes it: basyx's encoder with its known defects fixed here, in one place."""

from __future__ import annotations

import json
from typing import Any

from basyx.aas import model
from basyx.aas.adapter.json import json_deserialization, json_serialization


class AASJsonEncoder(json_serialization.AASToJsonEncoder):
    @classmethod
    def _entity_to_json(cls, obj: model.Entity) -> dict[str, object]:
        data = super()._entity_to_json(obj)
        # Defect in basyx-python-sdk 2.2: an Entity's empty specificAssetIds is written as [], which AAS 3.1 forbids
        # ("not set or at least one item") and which then breaks AASd-014 for self-managed entities.
        if not data.get("specificAssetIds"):
            data.pop("specificAssetIds", None)
        return data


class StrippedAASJsonEncoder(AASJsonEncoder):
    stripped = True


def to_json(obj: Any) -> str:
    return json.dumps(obj, cls=AASJsonEncoder, separators=(",", ":"))


def to_jsonable(obj: Any) -> Any:
    return json.loads(to_json(obj))


def from_json(text: str) -> Any:
    return json.loads(text, cls=json_deserialization.StrictAASFromJsonDecoder)


def environment_json(objects: model.AbstractObjectStore) -> str:
    return json_serialization.object_store_to_json(objects, encoder=AASJsonEncoder)
