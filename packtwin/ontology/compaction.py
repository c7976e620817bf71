"""Compaction of the pyoxigraph store: a fresh copy without the quads that were removed.

pyoxigraph's in-memory store (0.5) never frees a removed quad: it marks the quad's version range closed and leaves it
in the linked lists a lookup walks (per subject, predicate, object and graph), and a quad removed and added again
keeps one node whose version range grows by two entries each time. Every value the sync replaces therefore lengthens
the list of its battery node for good: after 250 state-of-charge writes per battery, ``state-of-charge-per-pack``
took 18x as long as on a fresh store (``bench/sparql_updates.py``), and memory grows with every write.

The sync therefore touches only the quads that changed (``RdfSync._replace``); the rest needs a new store holding the
live quads, the only remedy the API allows. :class:`Compactor` builds one in a background thread when the removed
quads reach a share of the live ones, or when one node has collected many (a pack written every few seconds), within
a duty limit: under the writers' lock, in chunks (writes wait one chunk at most), it reads the subjects of a snapshot,
then the quads of each subject in subject order into a new store (a node's quads together in memory, as
:meth:`GraphStore.add` puts them: a copy in list order made ``state-of-charge-per-pack`` twice as slow), replays the
writes made meanwhile and swaps it in under the lock. Queries never wait: they run in forked processes. A copy of the
9,984-cell store (8.8 M quads) this way took 155 s and 3.0 GB beyond the store (the new one); holding all quads as
Python objects and sorting them took 72 s but 8.1 GB, enough to get a server killed on a smaller machine.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from itertools import islice

import pyoxigraph as ox

from packtwin.ontology.store import GraphStore

logger = logging.getLogger(__name__)


@dataclass
class CompactionPolicy:
    # Removed quads as a share of the live ones: the copy costs O(live), so this bounds its cost per write.
    removed_share: float = 0.5
    # Removed quads on one subject: its lookups walk them all (a battery node has 30-50 live quads, so 64 make
    # them about three times as long).
    removed_per_node: int = 64
    # Below this many removals in all, never compact (a small store walks short lists anyway).
    min_removed: int = 1000
    # Share of the time compactions may take: after one that took t seconds, the next waits t * (1 / duty - 1).
    # A store of 10k cells takes about a minute to copy; its hottest nodes may be written every few seconds.
    max_duty: float = 0.1
    # Quads read per hold of the writers' lock (about a second when read subject by subject).
    chunk: int = 50_000
    # After a failed compaction (memory, say), the next try waits this long rather than following every write.
    retry_after_failure_s: float = 600.0


def _term_key(term: ox.NamedNode | ox.BlankNode) -> str:
    return term.value


class Compactor:
    """Watches ``store``'s removal counters and compacts it in the background; writers hold ``lock``."""

    def __init__(self, store: GraphStore, lock: threading.RLock, policy: CompactionPolicy | None = None) -> None:
        self.store = store
        self.lock = lock
        self.policy = policy or CompactionPolicy()
        self.runs = 0
        self.last_s = 0.0
        self._last_end = float("-inf")
        self._failed_at = float("-inf")
        self.failures = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def due(self) -> bool:
        st, pol = self.store, self.policy
        if st.ox is None or st.removed < pol.min_removed:
            return False
        now = time.monotonic()
        if now - self._last_end < self.last_s * (1.0 / pol.max_duty - 1.0):
            return False
        if now - self._failed_at < pol.retry_after_failure_s:
            return False
        live = max(st.added - st.removed, 1)
        if st.removed >= pol.removed_share * live:
            return True
        return st.most_removed_on_a_subject >= pol.removed_per_node

    def maybe_start(self) -> bool:
        """Start a compaction if one is due and none is running (call after writes, under the lock)."""
        if (self._thread is not None and self._thread.is_alive()) or not self.due():
            return False
        self._thread = threading.Thread(target=self._run_logged, name="packtwin-rdf-compact", daemon=True)
        self._thread.start()
        return True

    def join(self, timeout: float = 60.0) -> None:
        """Wait for a running compaction to finish."""
        if self._thread is not None:
            self._thread.join(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self.join(timeout)

    def _abandon(self) -> bool:
        with self.lock:
            self.store.abandon_copy()
        return False

    def _run_logged(self) -> None:
        try:
            self.run()
        except Exception:
            logger.exception("RDF store compaction failed; the store is unchanged")
            self.failures += 1
            self._failed_at = time.monotonic()
            self._abandon()

    def run(self) -> bool:
        """Compact now (blocking the caller, not the writers); False when stopped before the swap."""
        started = time.monotonic()
        with self.lock:
            removed_before = self.store.removed
            snapshot = self.store.begin_copy()
        # First the subjects of the snapshot, then their quads subject by subject in order: the copy gets a node's
        # quads together without holding every quad as a Python object at once. A subject's quads are read from
        # the store as it is then, not as it was at begin_copy; replaying every write since then on top still
        # gives the current content (the last write of a quad decides, and without one nothing changed it).
        subjects: set[ox.NamedNode | ox.BlankNode] = set()
        while True:
            if self._stop.is_set():
                return self._abandon()
            with self.lock:
                chunk = list(islice(snapshot, self.policy.chunk))
            if not chunk:
                break
            subjects.update(q.subject for q in chunk)
        del chunk
        order = sorted(subjects, key=_term_key)
        del subjects
        copy = ox.Store()
        live = k = 0
        while k < len(order):
            if self._stop.is_set():
                return self._abandon()
            batch: list[ox.Quad] = []
            with self.lock:
                store = self.store.ox
                assert store is not None
                while k < len(order) and len(batch) < self.policy.chunk:
                    batch += store.quads_for_pattern(order[k], None, None, None)
                    k += 1
            copy.bulk_extend(batch)
            live += len(batch)
        with self.lock:
            replayed = self.store.finish_copy(copy, live)
        self.runs += 1
        self._last_end = time.monotonic()
        self.last_s = self._last_end - started
        logger.info("RDF store compacted: %d live quads kept, %d removed ones dropped, %d writes replayed, %.1f s",
                    live, removed_before, replayed, self.last_s)
        return True
