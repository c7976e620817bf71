"""The in-process change-event bus: every write to the repository is announced here.

Subscribers (MQTT events in the BaSyx topic scheme, RDF sync, Ditto, the dashboard) register a callback. Callbacks run
synchronously in the writer's thread, after the write is durable; a subscriber that needs to do slow work hands the
event to its own queue. A failing subscriber is logged and never breaks the write or the other subscribers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

logger = logging.getLogger(__name__)


class Operation(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


class Target(StrEnum):
    SHELL = "shell"
    SUBMODEL = "submodel"
    SUBMODEL_ELEMENT = "submodelElement"
    CONCEPT_DESCRIPTION = "conceptDescription"


@dataclass(frozen=True)
class ChangeEvent:
    operation: Operation
    target: Target
    identifiable_id: str
    # idShortPath of the element inside the submodel, for SUBMODEL_ELEMENT events.
    id_short_path: str | None = None
    # The identifiable (or element) after the change; for deletions, what was deleted where known.
    obj: object | None = field(default=None, compare=False)
    # For a SUBMODEL update that only set element values: the idShortPaths of the elements set, so that followers
    # (the RDF sync) can redo just those; None when anything may have changed.
    changed_paths: tuple[str, ...] | None = None


Subscriber = Callable[[ChangeEvent], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Register ``callback``; returns a function that unsubscribes it."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    @property
    def has_subscribers(self) -> bool:
        return bool(self._subscribers)

    def publish(self, event: ChangeEvent) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(event)
            except Exception:  # a broken subscriber must not break the write path
                logger.exception("change-event subscriber %r failed on %s", callback, event)
