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

from dataclasses import dataclass

from packtwin.connectors import topics


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


def ingest_subscription(group: str = topics.INGEST_SHARE_GROUP) -> str:
    """``$share/packtwin-ingest/packtwin/v1/+/telemetry``: what every ingest worker subscribes to."""
    if not group or any(c in group for c in "/+#\x00"):
        raise ValueError(f"share name {group!r} must not be empty or contain '/', '+' or '#'")
    return topics.shared(topics.TELEMETRY_ALL, group)


def partition_topic_of(partition: int, partitions: int) -> str:
    # Six levels, so that the telemetry filter packtwin/v1/+/telemetry never matches it.
    return f"{topics.PREFIX}/partition/{partitions}/{partition}/{topics.TELEMETRY}"


def partition_topic(pack_id: str, partitions: int) -> str:
    """Where ingest forwards a validated frame of ``pack_id`` for its estimator."""
    return partition_topic_of(partition_of(pack_id, partitions), partitions)
