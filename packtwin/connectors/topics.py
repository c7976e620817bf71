"""The MQTT topic scheme of packtwin, version 1 (specified in docs/mqtt.md). Topic names live here and nowhere else."""

from __future__ import annotations

PREFIX = "packtwin/v1"

TELEMETRY = "telemetry"
DEADLETTER = "deadletter"
COMMAND = "command"
COMMAND_ACK = "command/ack"
STATUS = "status"
ESTIMATE = "estimate"
ALERT = "alert"

# Subscriptions of the ingest tier; ``$share/<group>/`` in front spreads packs over several ingest processes.
TELEMETRY_ALL = f"{PREFIX}/+/{TELEMETRY}"
DEADLETTER_ALL = f"{PREFIX}/+/{DEADLETTER}"
STATUS_ALL = f"{PREFIX}/+/{STATUS}"
INGEST_SHARE_GROUP = "packtwin-ingest"


def _check_pack_id(pack_id: str) -> str:
    if not pack_id or any(c in pack_id for c in "/+#\x00"):
        raise ValueError(f"invalid pack id for a topic level: {pack_id!r}")
    return pack_id


def telemetry(pack_id: str) -> str:
    return f"{PREFIX}/{_check_pack_id(pack_id)}/{TELEMETRY}"


def deadletter(pack_id: str) -> str:
    return f"{PREFIX}/{_check_pack_id(pack_id)}/{DEADLETTER}"


def command(pack_id: str) -> str:
    return f"{PREFIX}/{_check_pack_id(pack_id)}/{COMMAND}"


def command_ack(pack_id: str) -> str:
    return f"{PREFIX}/{_check_pack_id(pack_id)}/{COMMAND_ACK}"


def status(pack_id: str) -> str:
    return f"{PREFIX}/{_check_pack_id(pack_id)}/{STATUS}"


def estimate(pack_id: str) -> str:
    """Where estimator workers publish a pack's latest estimate (scale-out deployment)."""
    return f"{PREFIX}/{_check_pack_id(pack_id)}/{ESTIMATE}"


def alert(pack_id: str) -> str:
    """Where estimator workers publish an alert (fault, sensor, temperature) the moment it is raised."""
    return f"{PREFIX}/{_check_pack_id(pack_id)}/{ALERT}"


def shared(subscription: str, group: str = INGEST_SHARE_GROUP) -> str:
    """The MQTT 5 shared-subscription form of ``subscription``."""
    return f"$share/{group}/{subscription}"


def parse(topic: str) -> tuple[str, str] | None:
    """``(pack_id, kind)`` of a packtwin topic, or None when ``topic`` is not one of ours."""
    head = PREFIX + "/"
    if not topic.startswith(head):
        return None
    rest = topic[len(head):]
    pack_id, sep, kind = rest.partition("/")
    if not sep or not pack_id or kind not in (TELEMETRY, DEADLETTER, COMMAND, COMMAND_ACK, STATUS, ESTIMATE, ALERT):
        return None
    return pack_id, kind


def pack_of_telemetry(topic: str) -> str | None:
    """The pack id of a telemetry topic (fast path of the ingest), None for anything else."""
    if topic.startswith(PREFIX) and topic.endswith("/" + TELEMETRY):
        pack_id = topic[len(PREFIX) + 1: -len(TELEMETRY) - 1]
        if pack_id and "/" not in pack_id:
            return pack_id
    return None
