"""Ingest → estimators in the scaled deployment: each stored frame is forwarded to its pack's partition topic.

The forwarded payload is the pack id, a NUL byte and the frame's binary encoding (docs/mqtt.md): partition topics
carry many packs, so the pack id travels in the payload.
"""

from __future__ import annotations

from packtwin.connectors import codec
from packtwin.connectors.frame import Frame
from packtwin.connectors.mqtt import Publisher
from packtwin.connectors.partition import partition_topic


def encode_forwarded(frame: Frame) -> bytes:
    return frame.pack_id.encode("utf-8") + b"\0" + codec.encode_binary(frame)


def decode_forwarded(payload: bytes) -> Frame:
    pack_id, sep, body = payload.partition(b"\0")
    if not sep:
        raise ValueError("forwarded frame without a pack id")
    return codec.decode(body, pack_id.decode("utf-8"))


class Forwarder:
    """An ingest ``on_batch`` callback publishing each new frame to ``packtwin/v1/partition/{P}/{K}/telemetry``."""

    def __init__(self, publisher: Publisher, partitions: int) -> None:
        self.publisher = publisher
        self.partitions = partitions
        self.forwarded = 0

    def __call__(self, frames: list[Frame]) -> None:
        for frame in frames:
            self.publisher.publish(partition_topic(frame.pack_id, self.partitions), encode_forwarded(frame))
            self.forwarded += 1
