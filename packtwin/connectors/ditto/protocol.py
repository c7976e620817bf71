"""Ditto Protocol messages (``things/twin/commands``) for Things, features and properties, within Ditto's limits.

Ditto's default limits: a Thing may hold at most 100 kB of JSON (``things.thing.max-size``), a message at most 250 kB
(``messages.max-size``). :func:`fit_thing` makes a Thing fit its limit by leaving out its largest top-level
properties (listed in ``attributes.submodels.{feature}.omittedProperties``: read them through the AAS API);
:func:`thing_messages` then sends the Thing as one ``modify`` message when that fits the message limit, else as a
skeleton followed by one message per feature, and a feature too large for one message by one message per top-level
property. A single property larger than a message cannot be sent: it is left out and reported as an :class:`Omission`.
(With Ditto's defaults a fitted Thing always fits one message; the splitting matters when an operator raises the
Thing limit above the message limit.)
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

THING_LIMIT_BYTES = 100 * 1024
MESSAGE_LIMIT_BYTES = 250 * 1024
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"


def size_of(obj: Any) -> int:
    return len(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def split_thing_id(thing_id: str) -> tuple[str, str]:
    namespace, sep, name = thing_id.partition(":")
    if not sep or not name:
        raise ValueError(f"thingId {thing_id!r} is not of the form namespace:name")
    return namespace, name


def pointer(*segments: str) -> str:
    """A JSON pointer from idShort segments (Ditto keys contain no '/', idShorts no '~')."""
    return "/" + "/".join(segments)


def new_correlation_id() -> str:
    return f"packtwin-{uuid.uuid4()}"


def envelope(thing_id: str, action: str, path: str, value: Any = None, *,
             correlation_id: str | None = None) -> dict[str, Any]:
    """One Ditto Protocol command on the twin channel: ``action`` is create, modify, merge or delete."""
    if action not in ("create", "modify", "merge", "delete"):
        raise ValueError(f"unsupported Ditto command {action!r}")
    namespace, name = split_thing_id(thing_id)
    msg: dict[str, Any] = {
        "topic": f"{namespace}/{name}/things/twin/commands/{action}",
        "headers": {"correlation-id": correlation_id or new_correlation_id(),
                    "content-type": MERGE_PATCH if action == "merge" else JSON,
                    "response-required": False},
        "path": path,
    }
    if action != "delete":
        if value is None:
            raise ValueError(f"a {action} command needs a value")
        msg["value"] = value
    return msg


@dataclass(frozen=True)
class Omission:
    thing_id: str
    feature_id: str
    property: str
    size_bytes: int
    reason: str


def fit_thing(thing: dict[str, Any], limit: int = THING_LIMIT_BYTES) -> tuple[dict[str, Any], list[Omission]]:
    """A copy of ``thing`` within ``limit`` bytes, without its largest top-level feature properties if need be."""
    thing = copy.deepcopy(thing)
    thing.setdefault("attributes", {}).setdefault("submodels", {})
    omissions: list[Omission] = []
    if size_of(thing) <= limit:
        return thing, omissions
    candidates = sorted(
        ((size_of({key: value}), fid, key) for fid, feature in thing.get("features", {}).items()
         for key, value in feature.get("properties", {}).items()),
        reverse=True)
    total = size_of(thing)
    sources = thing["attributes"]["submodels"]
    for size, fid, key in candidates:
        if total <= limit:
            break
        del thing["features"][fid]["properties"][key]
        sources.setdefault(fid, {}).setdefault("omittedProperties", []).append(key)
        omissions.append(Omission(thing["thingId"], fid, key, size,
                                  f"the Thing would exceed Ditto's Thing size limit of {limit} bytes"))
        total = size_of(thing)  # exact, including the bookkeeping attribute just added
    if total > limit:
        raise ValueError(f"{thing['thingId']}: even without feature properties the Thing has {total} bytes > {limit}")
    return thing, omissions


def thing_messages(thing: dict[str, Any], *, thing_limit: int = THING_LIMIT_BYTES,
                   message_limit: int = MESSAGE_LIMIT_BYTES,
                   correlation: Callable[[], str] = new_correlation_id,
                   ) -> tuple[list[dict[str, Any]], dict[str, Any], list[Omission]]:
    """(messages, the Thing as sent, omissions) that create or replace ``thing`` in Ditto."""
    fitted, omissions = fit_thing(thing, thing_limit)
    tid = fitted["thingId"]
    whole = envelope(tid, "modify", "/", fitted, correlation_id=correlation())
    if size_of(whole) <= message_limit:
        return [whole], fitted, omissions
    skeleton = copy.deepcopy(fitted)
    skeleton["features"] = {fid: {k: v for k, v in f.items() if k != "properties"} | {"properties": {}}
                            for fid, f in fitted.get("features", {}).items()}
    messages = [envelope(tid, "modify", "/", skeleton, correlation_id=correlation())]
    omitted_late = False
    for fid, feature in fitted.get("features", {}).items():
        msg = envelope(tid, "modify", pointer("features", fid), feature, correlation_id=correlation())
        if size_of(msg) <= message_limit:
            messages.append(msg)
            continue
        for key, value in list(feature.get("properties", {}).items()):
            msg = envelope(tid, "modify", pointer("features", fid, "properties", key), value,
                           correlation_id=correlation())
            if size_of(msg) <= message_limit:
                messages.append(msg)
                continue
            omissions.append(Omission(tid, fid, key, size_of(msg),
                                      f"one property exceeds Ditto's message size limit of {message_limit} bytes"))
            del feature["properties"][key]
            fitted["attributes"]["submodels"].setdefault(fid, {}).setdefault("omittedProperties", []).append(key)
            omitted_late = True
    if omitted_late:  # the skeleton went out before these were known
        messages.append(envelope(tid, "modify", "/attributes/submodels", fitted["attributes"]["submodels"],
                                 correlation_id=correlation()))
    return messages, fitted, omissions
