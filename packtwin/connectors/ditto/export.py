"""Write the Things, their Ditto Protocol messages, the policy and the MQTT connection of an AAS environment as files.

Layout of the output directory::

    connection.json                          the Ditto MQTT connection for packtwin's topics
    policy.json                              the policy every Thing refers to
    things/{namespace}/{name}.json           one Thing per AAS (as sent, i.e. within Ditto's Thing limit)
    messages/{namespace}/{name}.jsonl        its Ditto Protocol messages, one per line, in order
    omissions.json                           what was left out to respect Ditto's limits, and why
"""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from basyx.aas import model

from packtwin.connectors.ditto import connection, mapping
from packtwin.connectors.ditto.mapping import ThingMapper
from packtwin.connectors.ditto.protocol import (
    MESSAGE_LIMIT_BYTES,
    THING_LIMIT_BYTES,
    Omission,
    split_thing_id,
    thing_messages,
)


@dataclass
class ExportResult:
    things: int = 0
    messages: int = 0
    features: int = 0
    omissions: list[Omission] = field(default_factory=list)


def load_environment(path: str | Path) -> model.DictIdentifiableStore:
    """An AAS environment from AAS JSON, XML or AASX; :class:`~packtwin.aas.interchange.InterchangeError` (a
    ValueError naming the file and the problem) for anything unreadable."""
    from packtwin.aas.interchange import read_environment

    return read_environment(path)[0]


def things_and_messages(store: Any, mapper: ThingMapper, *, thing_limit: int = THING_LIMIT_BYTES,
                        message_limit: int = MESSAGE_LIMIT_BYTES, deterministic: bool = True):
    """Yield (thing, messages, omissions) for every shell in ``store``."""
    shells = sorted((x for x in store if isinstance(x, model.AssetAdministrationShell)), key=lambda s: s.id)
    for shell in shells:
        thing = mapper.thing(shell, mapping.submodels_of(shell, store))
        counter = itertools.count()
        correlation = ((lambda t=thing["thingId"], c=counter: f"packtwin-export-{t}-{next(c)}")
                       if deterministic else None)
        kwargs = {"correlation": correlation} if correlation else {}
        messages, fitted, omissions = thing_messages(thing, thing_limit=thing_limit, message_limit=message_limit,
                                                     **kwargs)
        yield fitted, messages, omissions


def export(store: Any, out_dir: str | Path, mapper: ThingMapper, mqtt_url: str = "mqtt://127.0.0.1:1883",
           **limits: int) -> ExportResult:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = ExportResult()
    _write_json(out / "connection.json", connection.mqtt_connection(mqtt_url))
    _write_json(out / "policy.json", connection.policy(mapper.policy))
    for thing, messages, omissions in things_and_messages(store, mapper, **limits):
        namespace, name = split_thing_id(thing["thingId"])
        _write_json(out / "things" / namespace / f"{name}.json", thing)
        lines = out / "messages" / namespace / f"{name}.jsonl"
        lines.parent.mkdir(parents=True, exist_ok=True)
        lines.write_text("".join(json.dumps(m, separators=(",", ":"), ensure_ascii=False) + "\n"
                                 for m in messages), encoding="utf-8")
        result.things += 1
        result.features += len(thing.get("features", {}))
        result.messages += len(messages)
        result.omissions += omissions
    _write_json(out / "omissions.json", [asdict(o) for o in result.omissions])
    return result


def _write_json(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
