"""packtwin's AAS JSON encoder writes exactly what basyx's would, with its known defects fixed."""

from __future__ import annotations

import json

import pytest
from basyx.aas.adapter.json import json_serialization

from packtwin.aas.fleet import build_fleet
from packtwin.aas.serialization import AASJsonEncoder, StrippedAASJsonEncoder, to_json


class _BasyxDispatch(AASJsonEncoder):
    default = json_serialization.AASToJsonEncoder.default  # basyx's own class lookup, per object


class _BasyxDispatchStripped(StrippedAASJsonEncoder):
    default = json_serialization.AASToJsonEncoder.default


@pytest.mark.parametrize(("ours", "reference"), [(AASJsonEncoder, _BasyxDispatch),
                                                  (StrippedAASJsonEncoder, _BasyxDispatchStripped)])
def test_the_encoder_picks_the_serializer_basyx_would_for_every_object_of_a_fleet(ours, reference):
    objects = list(build_fleet(1, 2, 2).objects)
    kinds = {type(o).__name__ for o in objects}
    assert {"AssetAdministrationShell", "Submodel", "ConceptDescription"} <= kinds
    for obj in objects:
        assert json.dumps(obj, cls=ours) == json.dumps(obj, cls=reference), obj.id


def test_the_stripped_encoder_keeps_its_own_serializers():
    # Each encoder class caches its own bound serializers: the stripped one leaves a submodel's elements out.
    sm = next(o for o in build_fleet(1, 1, 1).objects if type(o).__name__ == "Submodel")
    full = json.loads(to_json(sm))
    stripped = json.loads(json.dumps(sm, cls=StrippedAASJsonEncoder))
    assert "submodelElements" in full and set(full) - set(stripped) == {"submodelElements"}
    assert json.loads(to_json(sm)) == full  # and the full one is not affected by the stripped one's cache


def test_what_is_not_aas_still_fails_to_encode():
    with pytest.raises(TypeError, match="not JSON serializable"):
        to_json({"x": object()})
