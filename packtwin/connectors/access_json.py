"""Access-group filtering on AAS JSON, for the ways out that speak JSON (MQTT events, Ditto).

Same rules as :mod:`packtwin.submodels.access` (a mark is the ``BatteryPassAccessGroup`` extension; an unmarked node
inherits its nearest marked ancestor's group), applied to the serialised form so that an element can be filtered
without deep-copying the basyx object tree (a deep copy of an element would drag its parent submodel along).
"""

from __future__ import annotations

import json
from typing import Any

from basyx.aas import model
from basyx.aas.adapter.json import json_serialization

from packtwin.submodels.access import EXTENSION_NAME, AccessGroup

# Keys under which AAS JSON nests child elements (Submodel, SMC/SML, Entity, AnnotatedRelationshipElement).
_CHILD_KEYS = ("submodelElements", "value", "statements", "annotations")


def to_dict(obj: model.Referable) -> dict[str, Any]:
    """The AAS JSON of a basyx identifiable or submodel element, as a dict."""
    return json.loads(json.dumps(obj, cls=json_serialization.AASToJsonEncoder))


def own_group(node: dict[str, Any]) -> AccessGroup | None:
    for ext in node.get("extensions", ()):
        if ext.get("name") == EXTENSION_NAME and ext.get("value") is not None:
            return AccessGroup.parse(str(ext["value"]))
    return None


def effective_group(node: dict[str, Any], inherited: AccessGroup = AccessGroup.PUBLIC) -> AccessGroup:
    group = own_group(node)
    return group if group is not None else inherited


def prune(node: dict[str, Any], clearance: AccessGroup, inherited: AccessGroup = AccessGroup.PUBLIC) -> None:
    """Remove, in place, every descendant of ``node`` above ``clearance`` (``node`` itself is the caller's call)."""
    group = effective_group(node, inherited)
    for key in _CHILD_KEYS:
        children = node.get(key)
        # "value" is also the scalar value of a Property; only lists of objects hold children.
        if not isinstance(children, list) or not all(isinstance(c, dict) for c in children):
            continue
        kept = []
        for child in children:
            if effective_group(child, group) <= clearance:
                prune(child, clearance, group)
                kept.append(child)
        node[key] = kept


def filtered(node: dict[str, Any], clearance: AccessGroup,
             inherited: AccessGroup = AccessGroup.PUBLIC) -> dict[str, Any] | None:
    """``node`` pruned to ``clearance`` (in place), or None when ``node`` itself is above it."""
    if effective_group(node, inherited) > clearance:
        return None
    prune(node, clearance, inherited)
    return node
