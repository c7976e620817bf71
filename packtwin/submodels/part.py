"""A submodel part: its template, where it applies, its access groups and value ranges, and instance validation."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from basyx.aas import model

from packtwin.aas.ids import Level
from packtwin.submodels.access import AccessGroup, own_access_group
from packtwin.submodels.template import Node, SubmodelTemplate, generic_path


@dataclass(frozen=True)
class Violation:
    """One finding, named by submodel id and idShortPath so that a reader can find the element."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


_MODEL_TYPES = {
    "Property": model.Property,
    "MultiLanguageProperty": model.MultiLanguageProperty,
    "Range": model.Range,
    "File": model.File,
    "Blob": model.Blob,
    "ReferenceElement": model.ReferenceElement,
    "RelationshipElement": model.RelationshipElement,
    "SubmodelElementCollection": model.SubmodelElementCollection,
    "SubmodelElementList": model.SubmodelElementList,
    "Entity": model.Entity,
}


@dataclass(frozen=True)
class Part:
    """One IDTA submodel template as packtwin uses it."""

    name: str
    resource: str
    levels: frozenset[Level]
    fix: Callable[[dict[str, Any]], None] | None = None
    # idShortPath (``A.B``, list items ``A[]``) -> access group marked on that element. Top-level elements not named
    # here are marked public; deeper elements inherit from their parent unless named.
    access: Mapping[str, AccessGroup] = field(default_factory=dict)
    # idShortPath -> (min, max) for numeric values, either bound may be None.
    ranges: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)
    is_passport: bool = True
    # Containers whose elements the user defines beyond the template's (e.g. the variables of a 02008 Record).
    open_containers: frozenset[str] = frozenset()

    @cached_property
    def template(self) -> SubmodelTemplate:
        return SubmodelTemplate(self.resource, self.fix)

    @property
    def semantic_id(self) -> str:
        return self.template.semantic_id

    @property
    def id_short(self) -> str:
        return self.template.id_short

    def full_access(self) -> dict[str, AccessGroup]:
        marks: dict[str, AccessGroup] = {}
        if self.is_passport:
            marks = {str(c.id_short): AccessGroup.PUBLIC for c in self.template.root.children}
        marks.update(self.access)
        return marks

    def build(self, submodel_id: str, values: Mapping[str, Any]) -> model.Submodel:
        return self.template.build(submodel_id, values, self.full_access())

    def instantiate(self, submodel_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        return self.template.instantiate(submodel_id, values, self.full_access())

    # -- validation ----------------------------------------------------------------------------------------------------
    def validate(self, submodel: model.Submodel) -> list[Violation]:
        where = submodel.id
        out: list[Violation] = []
        sem = _first_key(submodel.semantic_id)
        if sem != self.semantic_id:
            out.append(Violation(where, f"semanticId {sem!r} is not the template's {self.semantic_id!r}"))
        marks = self.full_access()
        self._walk(self.template.root, list(submodel.submodel_element), "", where, marks, AccessGroup.PUBLIC, out)
        return out

    def _walk(self, node: Node, elements: Iterable[model.SubmodelElement], path: str, where: str,
              marks: Mapping[str, AccessGroup], inherited: AccessGroup, out: list[Violation]) -> None:
        elements = list(elements)
        if node.model_type == "SubmodelElementList":
            proto = node.children[0] if node.children else None
            if proto is not None and proto.mandatory and not elements:
                out.append(Violation(where, f"{path}: needs at least one item"))
            for i, e in enumerate(elements):
                if proto is not None:
                    self._check(proto, e, f"{path}[{i}]", f"{path}[]", where, marks, inherited, out)
            return
        by_id = {e.id_short: e for e in elements}
        for child in node.children:
            p = f"{path}.{child.id_short}" if path else str(child.id_short)
            e = by_id.pop(str(child.id_short), None)
            if e is None:
                if child.mandatory:
                    out.append(Violation(where, f"{p}: mandatory element missing"))
                continue
            generic = _generic(path, child.id_short)
            self._check(child, e, p, generic, where, marks, inherited, out)
        if generic_path(path) in self.open_containers:
            return
        for extra in by_id:
            p = f"{path}.{extra}" if path else str(extra)
            out.append(Violation(where, f"{p}: element not in template {self.template.id_short}"))

    def _check(self, node: Node, e: model.SubmodelElement, path: str, generic: str, where: str,
               marks: Mapping[str, AccessGroup], inherited: AccessGroup, out: list[Violation]) -> None:
        expected_cls = _MODEL_TYPES.get(node.model_type)
        if expected_cls is not None and not isinstance(e, expected_cls):
            out.append(Violation(where, f"{path}: is a {type(e).__name__}, the template has {node.model_type}"))
            return
        if node.semantic_id and _first_key(e.semantic_id) != node.semantic_id:
            out.append(Violation(where, f"{path}: semanticId {_first_key(e.semantic_id)!r} is not the template's "
                                        f"{node.semantic_id!r}"))
        if isinstance(e, model.Property):
            expected_vt = model.datatypes.XSD_TYPE_CLASSES.get(node.value_type or "")
            if expected_vt is not None and e.value_type is not expected_vt:
                out.append(Violation(where, f"{path}: valueType {model.datatypes.XSD_TYPE_NAMES[e.value_type]} is "
                                            f"not the template's {node.value_type}"))
            if e.value is None and node.mandatory:
                out.append(Violation(where, f"{path}: mandatory value is empty"))
            bounds = self.ranges.get(generic)
            if bounds is not None and e.value is not None:
                lo, hi = bounds
                v = float(e.value)
                if (lo is not None and v < lo) or (hi is not None and v > hi):
                    out.append(Violation(where, f"{path}: value {e.value} outside [{lo}, {hi}]"))
        # Access groups: the element's effective group must be the one the regulation mapping prescribes.
        own = own_access_group(e)
        expected = marks.get(generic)
        if expected is not None and own is None:
            out.append(Violation(where, f"{path}: access group {expected.token} is not marked"))
        effective = own if own is not None else inherited
        if expected is not None and own is not None and own != expected:
            out.append(Violation(where, f"{path}: access group {own.token}, expected {expected.token}"))
        children = _element_children(e)
        if children is not None:
            self._walk(node, children, path, where, marks, effective, out)


def _generic(path: str, id_short: str | None) -> str:
    return generic_path(f"{path}.{id_short}" if path else str(id_short))


def _element_children(e: model.SubmodelElement) -> list[model.SubmodelElement] | None:
    if isinstance(e, model.SubmodelElementCollection | model.SubmodelElementList):
        return list(e.value)
    if isinstance(e, model.Entity):
        return list(e.statement)
    return None


def _first_key(ref: model.Reference | None) -> str | None:
    return ref.key[0].value if ref is not None and ref.key else None
