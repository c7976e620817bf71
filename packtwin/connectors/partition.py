"""Splitting the fleet over workers without home-made cluster code.

- **Estimators** (stateful) are partitioned by pack, as Kafka partitions a keyed topic: ``partition = murmur2(pack_id)
  & 0x7fffffff mod P`` — Kafka's default partitioner, bit for bit, so the assignment is stable across processes,
  Python hash seeds, machines and languages, and stays the same if the frames are ever carried by Kafka. A worker
  started with ``--partition K/P`` owns partition K of P (or a set: ``0,2/8``, ``4-7/8``), so every pack's state
  lives in exactly one process.
- **Ingest** (stateless) shares one MQTT 5 shared subscription, ``$share/packtwin-ingest/packtwin/v1/+/telemetry``:
  the broker hands each frame to one member of the group.
- Ingest forwards each validated frame to its pack's partition topic ``packtwin/v1/partition/{P}/{K}/telemetry``,
  to which estimator K subscribes with a persistent session (QoS 1), so a restarting estimator misses nothing.
  P is part of the topic so that workers started with different P never silently share or drop packs.

See docs/scale-out.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TOPIC_ROOT = "packtwin/v1"
TELEMETRY_FILTER = f"{TOPIC_ROOT}/+/telemetry"
INGEST_GROUP = "packtwin-ingest"
_PACK_ID = re.compile(r"^[^/+#\x00]{1,128}$")
_GROUP = re.compile(r"^[^/+#\x00]{1,64}$")


def murmur2(data: bytes) -> int:
    """Kafka's ``Utils.murmur2`` (MurmurHash2, seed 0x9747b28c) as a signed 32-bit int."""
    m, r, mask = 0x5BD1E995, 24, 0xFFFFFFFF
    length = len(data)
    h = (0x9747B28C ^ length) & mask
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * m) & mask
        k ^= k >> r
        k = (k * m) & mask
        h = (h * m) & mask
        h ^= k
    tail = length % 4
    base = length - tail
    if tail == 3:
        h ^= data[base + 2] << 16
    if tail >= 2:
        h ^= data[base + 1] << 8
    if tail >= 1:
        h ^= data[base]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_of(pack_id: str, partitions: int) -> int:
    """The partition of ``pack_id`` among ``partitions``, as Kafka's default partitioner computes it."""
    if partitions < 1:
        raise ValueError(f"the number of partitions must be at least 1, not {partitions}")
    return (murmur2(pack_id.encode("utf-8")) & 0x7FFFFFFF) % partitions


@dataclass(frozen=True)
class Assignment:
    """The partitions one worker owns, out of ``total``."""

    owned: frozenset[int]
    total: int

    def __post_init__(self) -> None:
        if self.total < 1:
            raise ValueError(f"the number of partitions must be at least 1, not {self.total}")
        if not self.owned or any(not 0 <= k < self.total for k in self.owned):
            raise ValueError(f"partitions {sorted(self.owned)} are not within 0..{self.total - 1}")

    @classmethod
    def parse(cls, spec: str) -> Assignment:
        """``K/P``, ``K1,K2/P`` or ``A-B/P`` (ranges inclusive), e.g. ``--partition 1/4``."""
        owned_text, sep, total_text = spec.strip().partition("/")
        if not sep or not total_text.isdigit():
            raise ValueError(f"bad partition {spec!r}: expected K/P, e.g. 1/4")
        owned: set[int] = set()
        for part in owned_text.split(","):
            first, dash, last = part.strip().partition("-")
            if not first.isdigit() or (dash and not last.isdigit()):
                raise ValueError(f"bad partition {spec!r}: expected K/P, e.g. 1/4, 0,2/8 or 4-7/8")
            lo, hi = int(first), int(last) if dash else int(first)
            if hi < lo:
                raise ValueError(f"bad partition range {part!r} in {spec!r}")
            owned.update(range(lo, hi + 1))
        return cls(frozenset(owned), int(total_text))

    def owns(self, pack_id: str) -> bool:
        return partition_of(pack_id, self.total) in self.owned

    def topic_filters(self) -> list[str]:
        """What an estimator with this assignment subscribes to."""
        return [partition_topic_of(k, self.total) for k in sorted(self.owned)]

    def __str__(self) -> str:
        return f"{','.join(map(str, sorted(self.owned)))}/{self.total}"


def check_pack_id(pack_id: str) -> str:
    if not _PACK_ID.match(pack_id):
        raise ValueError(f"pack id {pack_id!r} cannot be an MQTT topic level (no '/', '+', '#', 1..128 chars)")
    return pack_id


def telemetry_topic(pack_id: str) -> str:
    return f"{TOPIC_ROOT}/{check_pack_id(pack_id)}/telemetry"


def pack_of_topic(topic: str) -> str | None:
    """The pack id of a ``packtwin/v1/{pack_id}/telemetry`` topic, or None for any other topic."""
    parts = topic.split("/")
    if len(parts) == 4 and f"{parts[0]}/{parts[1]}" == TOPIC_ROOT and parts[3] == "telemetry" and parts[2]:
        return parts[2]
    return None


def shared(group: str, topic_filter: str) -> str:
    """The MQTT 5 shared-subscription filter ``$share/{group}/{filter}``."""
    if not _GROUP.match(group):
        raise ValueError(f"share name {group!r} must not contain '/', '+' or '#'")
    if topic_filter.startswith("$share/"):
        raise ValueError(f"{topic_filter!r} is already a shared subscription")
    return f"$share/{group}/{topic_filter}"


def ingest_subscription(group: str = INGEST_GROUP) -> str:
    return shared(group, TELEMETRY_FILTER)


def partition_topic_of(partition: int, partitions: int) -> str:
    return f"{TOPIC_ROOT}/partition/{partitions}/{partition}/telemetry"


def partition_topic(pack_id: str, partitions: int) -> str:
    """Where ingest forwards a validated frame of ``pack_id`` for its estimator."""
    return partition_topic_of(partition_of(check_pack_id(pack_id), partitions), partitions)
