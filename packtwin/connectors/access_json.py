"""Access-group filtering on AAS JSON, for the ways out that speak JSON (MQTT events, Ditto).

Same rules as :mod:`packtwin.submodels.access` (a mark is the ``BatteryPassAccessGroup`` extension; an unmarked node
inherits its nearest marked ancestor's group), applied to the serialised form so that an element can be filtered
without deep-copying the basyx object tree (a deep copy of an element would drag its parent submodel along).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from basyx.aas import model

from packtwin.aas.serialization import to_jsonable
from packtwin.submodels.access import EXTENSION_NAME, AccessGroup

# Keys under which AAS JSON nests child elements (Submodel, SMC/SML, Entity, AnnotatedRelationshipElement).
_CHILD_KEYS = ("submodelElements", "value", "statements", "annotations")


def to_dict(obj: model.Referable) -> dict[str, Any]:
    """The AAS JSON of a basyx identifiable or submodel element, as a dict."""
    return to_jsonable(obj)


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


def repository_loader(repo: Any) -> Callable[[str], dict[str, Any] | None]:
    """An :class:`AccessIndex` loader over a :class:`~packtwin.aas.repository.Repository` (shells and submodels)."""

    def load(identifier: str) -> dict[str, Any] | None:
        try:
            obj = repo.get(identifier)
        except KeyError:
            return None
        if isinstance(obj, model.ConceptDescription):  # concept descriptions carry no marks
            return None
        return to_dict(obj)

    return load


def parent_path(id_short_path: str) -> str | None:
    """The idShortPath of the parent element, or None for a top-level element."""
    segments = list(model.Referable.parse_id_short_path(id_short_path))
    parent = ""
    for seg in segments[:-1]:
        parent = f"{parent}[{seg}]" if seg.isdigit() else (f"{parent}.{seg}" if parent else seg)
    return parent or None


class AccessIndex:
    """The own access marks of every element seen, per identifiable ("" = the identifiable itself).

    Deletion events carry no object, so a way out that must not reveal restricted deletions remembers the marks of
    what it published: the deleted element's own mark, else the effective group of its nearest live ancestor.
    """

    def __init__(self, loader: Callable[[str], dict[str, Any] | None] | None = None) -> None:
        """``loader(id)`` gives the AAS JSON of an identifiable (None if there is none): with it, an identifiable's
        marks are read the first time they are needed rather than for the whole repository up front (decoding every
        submodel of a fleet at start takes minutes)."""
        self._marks: dict[str, dict[str, AccessGroup]] = {}
        self._loader = loader
        self._loaded: set[str] = set()

    def _ensure(self, identifiable_id: str) -> None:
        if self._loader is None or identifiable_id in self._loaded:
            return
        self._loaded.add(identifiable_id)
        node = self._loader(identifiable_id)
        if node is not None:
            self._marks.pop(identifiable_id, None)
            self._walk(identifiable_id, "", node)

    def index(self, identifiable_id: str, path: str, node: dict[str, Any]) -> None:
        """Record the marks of ``node`` (at ``path``; "" for the identifiable) and its descendants."""
        if path:
            self._ensure(identifiable_id)
        else:
            self._loaded.add(identifiable_id)
        self.forget(identifiable_id, path)
        self._walk(identifiable_id, path, node)

    def _walk(self, identifiable_id: str, path: str, node: dict[str, Any]) -> None:
        own = own_group(node)
        if own is not None:
            self._marks.setdefault(identifiable_id, {})[path] = own
        is_list = node.get("modelType") == "SubmodelElementList"
        for key in _CHILD_KEYS:
            children = node.get(key)
            if not isinstance(children, list):
                continue
            for i, child in enumerate(children):
                if not isinstance(child, dict) or ("idShort" not in child and not is_list):
                    continue
                if is_list:
                    step = f"{path}[{i}]"
                else:
                    step = f"{path}.{child['idShort']}" if path else child["idShort"]
                self._walk(identifiable_id, step, child)

    def forget(self, identifiable_id: str, path: str = "") -> None:
        """Drop the marks at ``path`` and below ("" drops the whole identifiable)."""
        if path == "":
            self._marks.pop(identifiable_id, None)
            self._loaded.discard(identifiable_id)
            return
        marks = self._marks.get(identifiable_id)
        if marks:
            for key in [k for k in marks if k == path or k.startswith((path + ".", path + "["))]:
                del marks[key]

    def own_mark(self, identifiable_id: str, path: str = "") -> AccessGroup | None:
        self._ensure(identifiable_id)
        return self._marks.get(identifiable_id, {}).get(path)

    def group_at(self, identifiable_id: str, path: str | None) -> AccessGroup:
        """The effective group at ``path`` (None = the identifiable) from the recorded marks of it and its ancestors."""
        self._ensure(identifiable_id)
        marks = self._marks.get(identifiable_id, {})
        group = marks.get("", AccessGroup.PUBLIC)
        if not path:
            return group
        prefix = ""
        for seg in model.Referable.parse_id_short_path(path):
            prefix = f"{prefix}[{seg}]" if seg.isdigit() else (f"{prefix}.{seg}" if prefix else seg)
            group = marks.get(prefix, group)
        return group
