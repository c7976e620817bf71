"""The ValueOnly ('$value') serialisation of IDTA-01002 Part 2 (clause 'ValueOnly-Serialization'), both ways.

basyx-python-sdk has none, so this follows the spec's rules element by element: a Property is its value as the JSON
type matching its valueType; a MultiLanguageProperty a list of ``{lang: text}``; a Range ``{min, max}``;
File/Blob ``{contentType, value}``; a ReferenceElement its Reference; (Annotated)RelationshipElement
``{first, second[, annotations]}``; an Entity ``{statements, entityType, globalAssetId, specificAssetIds}``;
a collection an object keyed by idShort; a list a JSON array; BasicEventElement ``{observed}``. Operations and
Capabilities have no value and are left out.
"""

from __future__ import annotations

import base64
import math
from decimal import Decimal
from typing import Any

from basyx.aas import model
from basyx.aas.model import datatypes

from packtwin.aas.api.codec import decode_model, to_dict
from packtwin.aas.api.errors import ApiError

_NUMERIC = (int, float, Decimal)
_BOOL = datatypes.Boolean


def _scalar(value: Any, value_type: type) -> Any:
    if value is None:
        return None
    if value_type is _BOOL:
        return bool(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float | Decimal):
        f = float(value)
        return f if math.isfinite(f) else datatypes.xsd_repr(value)  # NaN/INF are not JSON numbers
    return datatypes.xsd_repr(value)


def has_value(element: model.SubmodelElement) -> bool:
    return not isinstance(element, model.Operation | model.Capability)


def value_of(element: model.SubmodelElement, with_blob: bool = True, depth: int | None = None) -> Any:
    """The ValueOnly form of ``element``; ``depth`` limits nesting (``level=core``: 0 = containers come out empty)."""
    inner = None if depth is None else depth - 1
    if isinstance(element, model.Property):
        return _scalar(element.value, element.value_type)
    if isinstance(element, model.MultiLanguageProperty):
        return [{lang: text} for lang, text in (element.value or {}).items()]
    if isinstance(element, model.Range):
        out = {}
        if element.min is not None:
            out["min"] = _scalar(element.min, element.value_type)
        if element.max is not None:
            out["max"] = _scalar(element.max, element.value_type)
        return out
    if isinstance(element, model.Blob):
        out = {"contentType": element.content_type}
        if with_blob and element.value is not None:
            out["value"] = base64.b64encode(element.value).decode("ascii")
        return out
    if isinstance(element, model.File):
        out = {"contentType": element.content_type}
        if element.value is not None:
            out["value"] = element.value
        return out
    if isinstance(element, model.ReferenceElement):
        return to_dict(element.value) if element.value is not None else None
    if isinstance(element, model.AnnotatedRelationshipElement):
        out = _relationship(element)
        if len(element.annotation):
            out["annotations"] = [{a.id_short: value_of(a, with_blob, inner)} for a in element.annotation]
        return out
    if isinstance(element, model.RelationshipElement):
        return _relationship(element)
    if isinstance(element, model.Entity):
        out: dict[str, Any] = {
            "statements": {} if depth == 0 else {s.id_short: value_of(s, with_blob, inner)
                                                 for s in element.statement if has_value(s)},
            "entityType": _entity_type(element.entity_type),
        }
        if element.global_asset_id:
            out["globalAssetId"] = element.global_asset_id
        if element.specific_asset_id:
            out["specificAssetIds"] = [{s.name: s.value} for s in element.specific_asset_id]
        return out
    if isinstance(element, model.BasicEventElement):
        return {"observed": to_dict(element.observed)}
    if isinstance(element, model.SubmodelElementCollection):
        return {} if depth == 0 else collection_value(element.value, with_blob, inner)
    if isinstance(element, model.SubmodelElementList):
        return [] if depth == 0 else [value_of(e, with_blob, inner) for e in element.value if has_value(e)]
    raise ApiError(400, f"{type(element).__name__} has no ValueOnly serialisation")


def _entity_type(entity_type: model.EntityType) -> str:
    return "CoManagedEntity" if entity_type is model.EntityType.CO_MANAGED_ENTITY else "SelfManagedEntity"


def _relationship(element: model.RelationshipElement) -> dict:
    out = {}
    if element.first is not None:
        out["first"] = to_dict(element.first)
    if element.second is not None:
        out["second"] = to_dict(element.second)
    return out


def collection_value(elements: Any, with_blob: bool = True, depth: int | None = None) -> dict:
    return {e.id_short: value_of(e, with_blob, depth) for e in elements if has_value(e)}


def unwrap(element: model.SubmodelElement, raw: Any) -> Any:
    """Accept both the v3.0 named form ``{idShort: value}`` and the v3.1 bare value on PATCH ``$value``."""
    if isinstance(raw, dict) and len(raw) == 1 and element.id_short in raw:
        kids = {c.id_short for c in (element.value if isinstance(element, model.SubmodelElementCollection)
                                     else element.statement if isinstance(element, model.Entity) else ())}
        if element.id_short not in kids:  # a child of the same name would make the payload ambiguous: keep it
            return raw[element.id_short]
    return raw


# -- writing ($value PATCH) --------------------------------------------------------------------------------------------

def _parse_scalar(raw: Any, value_type: type, where: str) -> Any:
    if raw is None:
        return None
    if isinstance(raw, bool):
        text = "true" if raw else "false"
    elif isinstance(raw, int | float):
        text = repr(raw) if isinstance(raw, float) else str(raw)
    elif isinstance(raw, str):
        text = raw
    else:
        raise ApiError(400, f"{where}: expected a JSON scalar, got {type(raw).__name__}")
    try:
        return datatypes.from_xsd(text, value_type)
    except (ValueError, TypeError, ArithmeticError) as e:
        raise ApiError(400, f"{where}: {text[:60]!r} is not a valid {datatypes.XSD_TYPE_NAMES[value_type]}: {e}") \
            from None


def _expect(raw: Any, kind: type, where: str) -> Any:
    if not isinstance(raw, kind):
        raise ApiError(400, f"{where}: expected a JSON {kind.__name__.replace('dict', 'object')}")
    return raw


def set_value(element: model.SubmodelElement, raw: Any, where: str = "") -> None:
    """Apply a ValueOnly payload to ``element`` in place. Validates everything before changing anything."""
    staged: list[tuple[Any, str, Any]] = []
    _stage(element, raw, where or element.id_short or "", staged)
    for target, attr, value in staged:
        setattr(target, attr, value)


def _stage(element: model.SubmodelElement, raw: Any, where: str, staged: list) -> None:
    if isinstance(element, model.Property):
        staged.append((element, "value", _parse_scalar(raw, element.value_type, where)))
    elif isinstance(element, model.MultiLanguageProperty):
        items = _expect(raw, list, where)
        texts: dict[str, str] = {}
        for item in items:
            if not isinstance(item, dict) or not all(isinstance(v, str) for v in item.values()):
                raise ApiError(400, f"{where}: expected a list of {{language: text}} objects")
            texts.update(item)
        try:
            staged.append((element, "value", model.MultiLanguageTextType(texts) if texts else None))
        except (ValueError, KeyError) as e:
            raise ApiError(400, f"{where}: {e}") from None
    elif isinstance(element, model.Range):
        obj = _expect(raw, dict, where)
        staged.append((element, "min", _parse_scalar(obj.get("min"), element.value_type, where + ".min")))
        staged.append((element, "max", _parse_scalar(obj.get("max"), element.value_type, where + ".max")))
    elif isinstance(element, model.Blob):
        obj = _expect(raw, dict, where)
        if "contentType" in obj:
            staged.append((element, "content_type", _str(obj["contentType"], where)))
        if "value" in obj:
            try:
                staged.append((element, "value", base64.b64decode(_str(obj["value"], where), validate=True)))
            except ValueError:
                raise ApiError(400, f"{where}: Blob value is not base64") from None
    elif isinstance(element, model.File):
        obj = _expect(raw, dict, where)
        if "contentType" in obj:
            staged.append((element, "content_type", _str(obj["contentType"], where)))
        if "value" in obj:
            staged.append((element, "value", _str(obj["value"], where) if obj["value"] is not None else None))
    elif isinstance(element, model.ReferenceElement):
        staged.append((element, "value", decode_model(raw, model.Reference) if raw is not None else None))
    elif isinstance(element, model.RelationshipElement):
        obj = _expect(raw, dict, where)
        for key in ("first", "second"):
            if key in obj:
                staged.append((element, key, decode_model(obj[key], model.Reference)))
        if isinstance(element, model.AnnotatedRelationshipElement) and "annotations" in obj:
            _stage_children(element.annotation, _merge(obj["annotations"], where), where, staged)
    elif isinstance(element, model.Entity):
        obj = _expect(raw, dict, where)
        if "statements" in obj:
            _stage_children(element.statement, _expect(obj["statements"], dict, where), where, staged)
        if "globalAssetId" in obj:
            staged.append((element, "global_asset_id", _str(obj["globalAssetId"], where)))
    elif isinstance(element, model.BasicEventElement):
        obj = _expect(raw, dict, where)
        if "observed" in obj:
            staged.append((element, "observed", decode_model(obj["observed"], model.Reference)))
    elif isinstance(element, model.SubmodelElementCollection):
        _stage_children(element.value, _expect(raw, dict, where), where, staged)
    elif isinstance(element, model.SubmodelElementList):
        items = _expect(raw, list, where)
        children = [e for e in element.value if has_value(e)]
        if len(items) != len(children):
            raise ApiError(400, f"{where}: list has {len(children)} elements, the value has {len(items)}")
        for i, (child, item) in enumerate(zip(children, items, strict=True)):
            _stage(child, item, f"{where}[{i}]", staged)
    else:
        raise ApiError(400, f"{where}: a {type(element).__name__} has no value to set")


def stage_collection(children: Any, raw: Any, where: str) -> list:
    staged: list = []
    _stage_children(children, _expect(raw, dict, where or "submodel"), where, staged)
    return staged


def apply(staged: list) -> None:
    for target, attr, value in staged:
        setattr(target, attr, value)


def _stage_children(children: Any, values: dict, where: str, staged: list) -> None:
    by_id = {c.id_short: c for c in children}
    for id_short, raw in values.items():
        child = by_id.get(id_short)
        path = f"{where}.{id_short}" if where else id_short
        if child is None:
            raise ApiError(400, f"{path}: no such element")
        _stage(child, raw, path, staged)


def _merge(raw: Any, where: str) -> dict:
    if isinstance(raw, dict):
        return raw
    out: dict = {}
    for item in _expect(raw, list, where):
        out.update(_expect(item, dict, where))
    return out


def _str(raw: Any, where: str) -> str:
    if not isinstance(raw, str):
        raise ApiError(400, f"{where}: expected a string")
    return raw
