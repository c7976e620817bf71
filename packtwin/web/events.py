"""Server-sent events for the dashboard: repository change events and live statistics fanned out to browsers.

Writers publish from any thread; each connected browser has a bounded asyncio queue on the server's event loop. A
browser that cannot keep up loses the oldest events, never blocks a writer. Change events carry identifiers only (no
values), so they reveal nothing an access group hides.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from packtwin.aas.events import ChangeEvent, EventBus

QUEUE_SIZE = 500
HEARTBEAT_S = 15.0


class EventHub:
    def __init__(self) -> None:
        self._clients: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = set()
        self._lock = threading.Lock()
        self.closed = threading.Event()
        self.sent = 0
        self._unsubscribe: Callable[[], None] | None = None

    def follow(self, bus: EventBus) -> EventHub:
        self._unsubscribe = bus.subscribe(self._on_change)
        return self

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.closed.set()
        self.publish("bye", {})

    @property
    def clients(self) -> int:
        return len(self._clients)

    def _on_change(self, event: ChangeEvent) -> None:
        self.publish("change", {"operation": event.operation.value, "target": event.target.value,
                                "id": event.identifiable_id, "path": event.id_short_path})

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        message = f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
        with self._lock:
            clients = list(self._clients)
        for loop, q in clients:
            try:
                loop.call_soon_threadsafe(_put, q, message)
            except RuntimeError:  # the loop is closed: that client is gone
                with self._lock:
                    self._clients.discard((loop, q))

    async def stream(self) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        q: asyncio.Queue[str] = asyncio.Queue(maxsize=QUEUE_SIZE)
        entry = (loop, q)
        with self._lock:
            self._clients.add(entry)
        try:
            yield "retry: 2000\n\n"
            while not self.closed.is_set():
                try:
                    message = await asyncio.wait_for(q.get(), timeout=HEARTBEAT_S)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                self.sent += 1
                yield message
        finally:
            with self._lock:
                self._clients.discard(entry)


def _put(q: asyncio.Queue, message: str) -> None:
    if q.full():
        q.get_nowait()
    q.put_nowait(message)
