"""The Eclipse Ditto JSON schemas (package resources), with their published defects corrected in this one place."""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

NAMES = ("thing_v2", "feature_v2", "policy", "protocol-envelope", "protocol-response", "protocol-error_response",
         "connection", "error")


def _fix_common(node: Any) -> Any:
    """Defects of several schemas: Java/ECMAScript named groups ``(?<name>...)`` in patterns (Python's ``re`` needs
    ``(?P<name>``), and ``"required": []``, which draft-04 forbids (it needs at least one name)."""
    if isinstance(node, dict):
        return {k: (v.replace("(?<", "(?P<") if k == "pattern" and isinstance(v, str) else _fix_common(v))
                for k, v in node.items() if not (k == "required" and v == [])}
    if isinstance(node, list):
        return [_fix_common(v) for v in node]
    return node


@cache
def schema(name: str) -> dict[str, Any]:
    if name not in NAMES:
        raise KeyError(f"no Ditto schema {name!r}; known: {', '.join(NAMES)}")
    text = resources.files("packtwin.connectors.ditto").joinpath("resources", f"{name}.json").read_text("utf-8")
    doc = _fix_common(json.loads(text))
    if name == "thing_v2":
        # Defect: thing_v2.json nests the feature schema one level too deep (features -> feature -> every member of
        # a feature must be a feature-like object), which rejects every real feature, whose "definition" is an
        # array. Ditto's own feature_v2.json is the schema of a feature: use it for the values of "features".
        doc = copy.deepcopy(doc)
        feature = schema("feature_v2")
        doc["properties"]["features"]["additionalProperties"] = {k: v for k, v in feature.items() if k != "$schema"}
    if name == "policy":
        # Defect: policy.json puts the schema of a policy entry (and of an import) under
        # "properties": {"additionalProperties": ...}, i.e. it only constrains an entry literally named
        # "additionalProperties" and leaves every real entry unchecked. Move it to where it was meant to be.
        doc = copy.deepcopy(doc)
        for key in ("entries", "imports"):
            node = doc["properties"][key]
            node["additionalProperties"] = node.pop("properties")["additionalProperties"]
    return doc


@cache
def validator(name: str) -> jsonschema.Draft4Validator:
    doc = schema(name)
    jsonschema.Draft4Validator.check_schema(doc)
    return jsonschema.Draft4Validator(doc, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def errors(name: str, instance: Any) -> list[str]:
    """Every violation of schema ``name`` by ``instance``, as readable strings (empty when valid)."""
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in validator(name).iter_errors(instance)]


def validate(name: str, instance: Any) -> None:
    problems = errors(name, instance)
    if problems:
        raise ValueError(f"invalid Ditto {name}: " + "; ".join(problems[:5]))
