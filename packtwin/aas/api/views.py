"""What a role may see of the repository, and the content modifiers (level, extent, $metadata) on JSON.

Every read goes through :class:`AccessView`: submodels come back pruned of the elements above the caller's access
group (``packtwin.submodels.access.filter_copy``), whole submodels above it are invisible, and shells list only the
submodels the caller may see. Pruned copies are cached per (submodel, clearance) and dropped on the repository's
change events, so a hot read path does not deep-copy a submodel per request.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from typing import Any

from basyx.aas import model

from packtwin.aas.api.codec import to_dict
from packtwin.aas.api.errors import ApiError, not_found
from packtwin.aas.events import ChangeEvent, Target
from packtwin.aas.repository import Repository
from packtwin.submodels.access import AccessGroup, Role, access_group_of, filter_copy, own_access_group

_CACHE_SIZE = 4096


class AccessView:
    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self._cache: OrderedDict[tuple[str, AccessGroup], model.Submodel] = OrderedDict()
        # Serialised shells per (shell, clearance): which submodel references show depends on the clearance.
        self._shell_json: dict[tuple[str, AccessGroup], dict] = {}
        self._lock = threading.Lock()
        self.unsubscribe = repo.bus.subscribe(self._on_change)

    def _on_change(self, event: ChangeEvent) -> None:
        with self._lock:
            for key in [k for k in self._cache if k[0] == event.identifiable_id]:
                del self._cache[key]
            if event.target is Target.SUBMODEL:  # a submodel's own group may have changed: shells list it or not
                self._shell_json.clear()
            for key in [k for k in self._shell_json if k[0] == event.identifiable_id]:
                del self._shell_json[key]

    # -- submodels ---------------------------------------------------------------------------------------------------
    def submodel_visible(self, sm: model.Submodel, role: Role) -> bool:
        return (own_access_group(sm) or AccessGroup.PUBLIC) <= role.clearance

    def submodel(self, sm: model.Submodel, role: Role) -> model.Submodel:
        """``sm`` as ``role`` may see it (a cached, pruned copy; never mutate it)."""
        if not self.submodel_visible(sm, role):
            raise not_found(f"submodel {sm.id!r}")
        # Every role, the highest too, reads a copy taken under the repository lock: a response is never
        # serialised from an object another thread is changing in place.
        key = (sm.id, role.clearance)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        with self.repo.lock:
            pruned = filter_copy(sm, role)
        with self._lock:
            self._cache[key] = pruned
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return pruned

    def get_submodel(self, identifier: str, role: Role) -> model.Submodel:
        try:
            sm = self.repo.get_submodel(identifier)
        except KeyError:
            raise not_found(f"submodel {identifier!r}") from None
        return self.submodel(sm, role)

    def submodels(self, role: Role) -> list[model.Submodel]:
        return [self.submodel(sm, role) for sm in self.repo.submodels() if self.submodel_visible(sm, role)]

    # -- shells ------------------------------------------------------------------------------------------------------
    def shell(self, shell: model.AssetAdministrationShell, role: Role) -> model.AssetAdministrationShell:
        """``shell`` without references to submodels the role may not see (a copy only when something is cut)."""
        hidden = [ref for ref in shell.submodel if not self._ref_visible(ref, role)]
        if not hidden:
            return shell
        clone = copy.copy(shell)
        clone.submodel = {ref for ref in shell.submodel if ref not in hidden}
        return clone

    def _ref_visible(self, ref: model.ModelReference, role: Role) -> bool:
        try:
            sm = self.repo.get(ref.key[0].value)
        except (KeyError, IndexError):
            return True  # a reference to a submodel elsewhere reveals only its id
        return not isinstance(sm, model.Submodel) or self.submodel_visible(sm, role)

    def shell_json(self, shell: model.AssetAdministrationShell, role: Role) -> dict:
        """The role's view of ``shell`` in AAS JSON (cached; treat as read-only)."""
        key = (shell.id, role.clearance)
        with self._lock:
            hit = self._shell_json.get(key)
        if hit is None:
            hit = to_dict(self.shell(shell, role))
            with self._lock:
                self._shell_json[key] = hit
        return hit

    def get_shell(self, identifier: str, role: Role) -> model.AssetAdministrationShell:
        try:
            return self.shell(self.repo.get_shell(identifier), role)
        except KeyError:
            raise not_found(f"shell {identifier!r}") from None

    def shells(self, role: Role) -> list[model.AssetAdministrationShell]:
        return [self.shell(s, role) for s in self.repo.shells()]

    def shell_submodel(self, aas_id: str, sm_id: str, role: Role) -> model.Submodel:
        """The submodel ``sm_id`` reached through shell ``aas_id``: 404 unless the shell references it."""
        shell = self.get_shell(aas_id, role)
        if not any(ref.key and ref.key[0].value == sm_id for ref in shell.submodel):
            raise not_found(f"submodel {sm_id!r} in shell {aas_id!r}")
        return self.get_submodel(sm_id, role)


def element_visible(element: model.Referable, role: Role) -> bool:
    return access_group_of(element) <= role.clearance


# -- content modifiers on the JSON form ------------------------------------------------------------------------------

_CHILD_KEYS = {"SubmodelElementCollection": "value", "SubmodelElementList": "value",
               "Entity": "statements", "AnnotatedRelationshipElement": "annotations"}
# Attributes that carry values: dropped by $metadata (IDTA-01002 Part 2, '*Metadata' schemas).
_VALUE_KEYS = {
    "Submodel": ("submodelElements",),
    "Property": ("value", "valueId"),
    "MultiLanguageProperty": ("value", "valueId"),
    "Range": ("min", "max"),
    "Blob": ("value",),
    "File": ("value",),
    "ReferenceElement": ("value",),
    "RelationshipElement": ("first", "second"),
    "AnnotatedRelationshipElement": ("first", "second", "annotations"),
    "Entity": ("statements", "globalAssetId", "specificAssetIds"),
    "BasicEventElement": ("observed",),
    "SubmodelElementCollection": ("value",),
    "SubmodelElementList": ("value",),
}


def parse_level(raw: str | None) -> bool:
    """True for ``deep`` (the default), False for ``core``."""
    if raw in (None, "", "deep"):
        return True
    if raw == "core":
        return False
    raise ApiError(400, f"level must be 'deep' or 'core', got {raw[:40]!r}")


def parse_extent(raw: str | None) -> bool:
    """True for ``withBlobValue``; ``withoutBlobValue`` is the default."""
    if raw in (None, "", "withoutBlobValue"):
        return False
    if raw == "withBlobValue":
        return True
    raise ApiError(400, f"extent must be 'withBlobValue' or 'withoutBlobValue', got {raw[:40]!r}")


def parse_bool(raw: str | None, name: str, default: bool = False) -> bool:
    if raw in (None, ""):
        return default
    # Case-insensitive: the official test engine sends Python's "True" (see docs/api.md).
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise ApiError(400, f"{name} must be 'true' or 'false', got {raw[:40]!r}")


def shape(data: Any, deep: bool = True, with_blob: bool = False, depth: int = 1) -> Any:
    """Apply ``level`` (core keeps ``depth`` levels of children) and ``extent`` to a serialised element/submodel."""
    if isinstance(data, list):
        return [shape(d, deep, with_blob, depth) for d in data]
    if not isinstance(data, dict):
        return data
    kind = data.get("modelType")
    if kind == "Blob" and not with_blob:
        data.pop("value", None)
    key = "submodelElements" if kind == "Submodel" else _CHILD_KEYS.get(kind or "")
    if key and key in data:
        if not deep and depth <= 0:
            data.pop(key)
        else:
            data[key] = [shape(c, deep, with_blob, depth - 1) for c in data[key]]
    return data


def metadata(data: dict) -> dict:
    for key in _VALUE_KEYS.get(data.get("modelType", ""), ()):
        data.pop(key, None)
    return data


def submodel_refs(shell: model.AssetAdministrationShell) -> list[model.ModelReference]:
    """A shell's submodel references in a stable order (basyx keeps them in a set)."""
    return sorted(shell.submodel, key=lambda r: r.key[0].value if r.key else "")
