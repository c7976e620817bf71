"""Keeps the RDF store in step with the AAS repository, one change event at a time (never a full rebuild).

The unit of replacement is as small as the node naming allows:

* an element event replaces the subtree of the element's top-level ancestor (list items are named by position, so
  an insert into a list renames its later siblings; the top-level element is the smallest stable unit);
* an identifiable event replaces that shell, submodel or concept description.

Removal follows the graph: the subjects owned by the replaced unit (its element IRIs), then content-addressed value
nodes no longer referenced in their graph. Battery-node triples (``pt:stateOfHealth`` ...) are shared by several
submodels of one battery (a cell's ``pt:partOf`` is stated by its own BoM and by its module's), so they are
reference-counted per contributing identifiable. The result equals a fresh conversion of the repository (tested).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable

from basyx.aas import model
from rdflib import URIRef
from rdflib.term import Node

from packtwin.aas.events import ChangeEvent, Operation, Target
from packtwin.aas.repository import Repository
from packtwin.ontology import battery
from packtwin.ontology.aas_rdf import (
    VALUE_PREFIX,
    Quad,
    _Out,
    convert_identifiable,
    element_iri,
    identifiable_iri,
    link_submodel_element,
    p,
)
from packtwin.ontology.compaction import CompactionPolicy, Compactor
from packtwin.ontology.store import GraphStore, NativeQuad
from packtwin.submodels.access import AccessGroup, own_access_group

logger = logging.getLogger(__name__)
_SUBMODEL_ELEMENTS = p("Submodel", "submodelElements")


def full_quads(objects: Iterable[model.Identifiable]) -> tuple[list[Quad], dict[str, list[Quad]]]:
    """(all quads, battery-node quads per identifiable id) of a fresh conversion."""
    quads: list[Quad] = []
    about: dict[str, list[Quad]] = {}
    for obj in objects:
        quads += convert_identifiable(obj)
        a, owned = battery.derive(obj)
        quads += owned
        if a:
            about[obj.id] = a
            quads += a
    quads += battery.in_pack(q for a in about.values() for q in a)
    return quads, about


def convert_all(objects: Iterable[model.Identifiable], store: GraphStore) -> None:
    quads, _ = full_quads(objects)
    store.add(quads)


class RdfSync:
    """Subscribes to ``repo.bus`` and applies every change to ``store``."""

    def __init__(self, repo: Repository, store: GraphStore, compaction: CompactionPolicy | None = None) -> None:
        self.repo = repo
        self.store = store
        self.lock = threading.RLock()
        # Replaced values stay in pyoxigraph's lists until the store is copied afresh (compaction.py).
        self.compactor = Compactor(store, self.lock, compaction) if store.ox is not None else None
        # Battery-node quads per contributing identifiable, and how many contribute each: as N-Quads keys
        # (GraphStore.keys), which the garbage collector does not walk.
        self._about: dict[str, tuple[str, ...]] = {}
        self._refs: Counter[str] = Counter()
        self._unsubscribe: Callable[[], None] | None = None
        self.events = 0

    # -- life cycle --------------------------------------------------------------------------------------------
    def start(self) -> RdfSync:
        """Convert the repository once, then follow its events."""
        with self.lock, self.repo.lock:
            # Peeked, not kept: converting must not leave every twin decoded in memory (Repository.peek).
            quads, about = full_quads([self.repo.peek(i) for i in self.repo.ids()])
            for ident, a in about.items():
                keys = tuple(dict.fromkeys(self.store.keys(a)))
                self._about[ident] = keys
                self._refs.update(keys)
            self.store.add(quads)
            self._unsubscribe = self.repo.bus.subscribe(self.on_event)
        return self

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.compactor is not None:
            self.compactor.stop()

    # -- events --------------------------------------------------------------------------------------------------
    def on_event(self, event: ChangeEvent) -> None:
        with self.lock:
            self.events += 1
            if event.target is Target.SUBMODEL_ELEMENT:
                self._elements_changed(event.identifiable_id, [event.id_short_path or ""])
            elif event.operation is Operation.DELETED:
                self._remove_identifiable(event.identifiable_id)
            elif event.target is Target.SUBMODEL and event.changed_paths is not None:
                self._elements_changed(event.identifiable_id, event.changed_paths)
            else:
                obj = event.obj if isinstance(event.obj, model.Identifiable) else self.repo.get(event.identifiable_id)
                self._replace_identifiable(obj)
            if self.compactor is not None:
                self.compactor.maybe_start()

    def _replace_identifiable(self, obj: model.Identifiable) -> None:
        old = self.store.subtree(identifiable_iri(obj.id), str(element_iri(obj.id, "")))
        about, owned = battery.derive(obj)
        self._replace(old, convert_identifiable(obj) + owned)
        self._set_about(obj.id, about)

    def _remove_identifiable(self, identifier: str) -> None:
        node = identifiable_iri(identifier)
        self._remove_subtree(node, str(element_iri(identifier, "")))
        self._set_about(identifier, [])

    def _elements_changed(self, submodel_id: str, paths: Iterable[str]) -> None:
        """Redo the subtrees of the top-level elements holding ``paths`` (and the submodel's battery triples)."""
        try:
            sm = self.repo.get_submodel(submodel_id)
        except KeyError:
            self._remove_identifiable(submodel_id)
            return
        sm_own = own_access_group(sm)
        group = sm_own if sm_own is not None else AccessGroup.PUBLIC
        sm_node = identifiable_iri(sm.id)
        old: list[NativeQuad] = []
        out = _Out()
        for top in dict.fromkeys(path.split(".", 1)[0].split("[", 1)[0] for path in paths):
            top_node = element_iri(sm.id, top)
            # The link from the submodel lives in the element's graph, which may have changed with the element.
            old += self.store.native_quads(sm_node, _SUBMODEL_ELEMENTS, top_node)
            old += self.store.subtree(top_node, str(top_node))
            try:
                element = sm.get_referable(top)
            except KeyError:
                continue
            link_submodel_element(sm, element, group, out)
        about, owned = battery.derive(sm)
        self._replace(old, out.quads + owned)
        self._set_about(sm.id, about)

    # -- helpers ---------------------------------------------------------------------------------------------
    def _remove_subtree(self, root: URIRef, owned_prefix: str) -> None:
        self.store.replace(self.store.subtree(root, owned_prefix), [], VALUE_PREFIX)

    def _replace(self, old: list[NativeQuad], new: list[Quad]) -> None:
        """Put ``new`` in place of ``old`` (see :meth:`GraphStore.replace`); value nodes nobody uses go too."""
        self.store.replace(old, self.store.native(new), VALUE_PREFIX)

    def _set_about(self, identifier: str, quads: list[Quad]) -> None:
        old = self._about.pop(identifier, ())
        new = tuple(dict.fromkeys(self.store.keys(quads)))
        old_set, new_set = set(old), set(new)
        gone_keys = []
        for k in old_set - new_set:
            self._refs[k] -= 1
            if self._refs[k] <= 0:
                del self._refs[k]
                gone_keys.append(k)
        added_keys = []
        for k in new_set - old_set:
            if self._refs[k] == 0:
                added_keys.append(k)
            self._refs[k] += 1
        gone, added = self.store.from_keys(gone_keys), self.store.from_keys(added_keys)
        self.store.remove(gone)
        self.store.add(added)
        if new:
            self._about[identifier] = new
        moved = {q[0] for q in (*gone, *added) if q[1] == battery.PT.partOf}
        if moved:
            self._refresh_in_pack(moved)

    def _refresh_in_pack(self, nodes: set[Node]) -> None:
        """Recompute ``pt:inPack`` of the cells at or directly below ``nodes``, whose ``pt:partOf`` links changed."""
        part_of = battery.PT.partOf
        cells = set(nodes)
        for node in nodes:
            cells.update(q[0] for q in self.store.quads(None, part_of, node))

        def parents(node: URIRef) -> list[tuple[URIRef, AccessGroup]]:
            return [(q[2], q[3]) for q in self.store.quads(node, part_of, None)]  # type: ignore[misc]

        for cell in cells:
            want = set(battery.in_pack_of(cell, parents)) if isinstance(cell, URIRef) else set()
            have = set(self.store.quads(cell, battery.PT.inPack, None))
            self.store.remove(have - want)
            self.store.add(want - have)
