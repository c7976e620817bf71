"""Ditto -> AAS: property values changed in Ditto (by a device or an application) written back into the twins.

The Ditto connection's target publishes the twin events of packtwin's Things on
``packtwin/v1/ditto-events/{namespace}/{name}``; :class:`DittoInbound` applies ``created``/``modified``/``merged``
events (and the same commands) under ``/features/{featureId}/properties/...`` to the matching submodel elements and
commits them, so they are persisted and announced like any other write. Only values are written: the AAS structure
stays packtwin's (deletions, new keys and non-value elements are reported, not applied), and only elements visible at
the mapper's clearance may be written, since only those were given to Ditto.

Loop: packtwin's own writes reach Ditto as commands of ``integration:packtwin`` and come back as events with
``ditto-originator: integration:packtwin``; those are skipped.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from basyx.aas import model

from packtwin.aas.repository import Repository
from packtwin.connectors.ditto.connection import AUTH_SUBJECT, EVENTS_TOPIC_ROOT
from packtwin.connectors.ditto.mapping import ThingMapper
from packtwin.submodels.access import access_group_of

logger = logging.getLogger(__name__)

EVENTS_ROOT = EVENTS_TOPIC_ROOT
_ACTIONS = {"events/created", "events/modified", "events/merged", "commands/create", "commands/modify",
            "commands/merge"}


@dataclass
class InboundResult:
    applied: list[tuple[str, str]] = field(default_factory=list)  # (submodel id, idShortPath)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (Ditto path, reason)
    skipped: str | None = None  # why the whole message was not applied


def _xsd_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class DittoInbound:
    def __init__(self, repo: Repository, mapper: ThingMapper, own_subject: str = AUTH_SUBJECT) -> None:
        self.repo = repo
        self.mapper = mapper
        self.own_subject = own_subject

    def _shell_of(self, thing_id: str) -> model.AssetAdministrationShell | None:
        for shell in self.repo.shells():
            if self.mapper.thing_id(shell) == thing_id:
                return shell
        return None

    def _submodel_of(self, shell: model.AssetAdministrationShell, feature_id: str) -> model.Submodel | None:
        from packtwin.connectors.ditto.mapping import submodels_of

        submodels = submodels_of(shell, self.repo)
        self.mapper.assign_feature_ids(submodels)
        return next((sm for sm in submodels if self.mapper.feature_id(sm.id) == feature_id), None)

    def apply(self, message: dict[str, Any]) -> InboundResult:
        result = InboundResult()
        parts = str(message.get("topic", "")).split("/")
        if len(parts) != 6 or parts[2:4] != ["things", "twin"] or "/".join(parts[4:]) not in _ACTIONS:
            result.skipped = f"not a twin change: {message.get('topic')!r}"
            return result
        if (message.get("headers") or {}).get("ditto-originator") == self.own_subject:
            result.skipped = "packtwin's own change coming back"
            return result
        shell = self._shell_of(f"{parts[0]}:{parts[1]}")
        if shell is None:
            result.skipped = f"no twin for Thing {parts[0]}:{parts[1]}"
            return result
        path = [p for p in str(message.get("path", "/")).split("/") if p]
        value = message.get("value")
        # Bring every form (whole Thing, features, one feature, its properties, one property) to feature level.
        if not path:
            value, path = (value or {}).get("features", {}), ["features"]
        if path == ["features"]:
            for fid, feature in (value or {}).items():
                self._apply_feature(shell, fid, [], (feature or {}).get("properties", {}), result)
        elif len(path) >= 2 and path[0] == "features":
            fid, rest = path[1], path[2:]
            if not rest:
                self._apply_feature(shell, fid, [], (value or {}).get("properties", {}), result)
            elif rest[0] == "properties":
                self._apply_feature(shell, fid, rest[1:], value, result)
            else:
                result.rejected.append(("/".join(path), "only feature properties map to AAS values"))
        else:
            result.rejected.append(("/".join(path), "only features map to AAS submodels"))
        return result

    def _apply_feature(self, shell: model.AssetAdministrationShell, fid: str, segments: list[str], value: Any,
                       result: InboundResult) -> None:
        sm = self._submodel_of(shell, fid)
        if sm is None:
            result.rejected.append((f"features/{fid}", "no such submodel"))
            return
        with self.repo.lock:
            if not segments:
                if not isinstance(value, dict):
                    result.rejected.append((f"features/{fid}/properties", "expected an object"))
                    return
                for key, sub in value.items():
                    self._apply(sm, [key], sub, result)
            else:
                self._apply(sm, segments, value, result)

    def _apply(self, sm: model.Submodel, segments: list[str], value: Any, result: InboundResult) -> None:
        node: Any = sm
        id_path = ""
        for seg in segments:
            try:
                node = (list(node.value)[int(seg)] if isinstance(node, model.SubmodelElementList)
                        else node.get_referable(seg))
            except (KeyError, IndexError, ValueError, AttributeError, TypeError):
                result.rejected.append(("/".join(segments), "no such element"))
                return
            id_path = f"{id_path}[{seg}]" if seg.isdigit() else (f"{id_path}.{seg}" if id_path else seg)
        self._write(sm, node, id_path, value, result)

    def _write(self, sm: model.Submodel, node: Any, id_path: str, value: Any, result: InboundResult) -> None:
        if access_group_of(node) > self.mapper.clearance:
            result.rejected.append((id_path, "above the access group given to Ditto"))
            return
        if isinstance(node, model.Property):
            if isinstance(value, dict | list) or value is None:
                result.rejected.append((id_path, "a Property takes a scalar"))
                return
            try:
                new = model.datatypes.from_xsd(_xsd_text(value), node.value_type)
            except (ValueError, TypeError) as exc:
                result.rejected.append((id_path, f"not a {node.value_type.__name__}: {exc}"))
                return
            if new != node.value:
                node.value = new
                self.repo.commit(sm, id_path, element=node)
                result.applied.append((sm.id, id_path))
            return
        if isinstance(node, model.SubmodelElementCollection) and isinstance(value, dict):
            for key, sub in value.items():
                child = next((c for c in node.value if c.id_short == key), None)
                if child is None:
                    result.rejected.append((f"{id_path}.{key}", "no such element"))
                else:
                    self._write(sm, child, f"{id_path}.{key}", sub, result)
            return
        if isinstance(node, model.SubmodelElementList) and isinstance(value, list):
            items = list(node.value)
            if len(items) != len(value):
                result.rejected.append((id_path, "the number of list items differs"))
                return
            for i, (child, sub) in enumerate(zip(items, value, strict=True)):
                self._write(sm, child, f"{id_path}[{i}]", sub, result)
            return
        result.rejected.append((id_path, f"a {type(node).__name__} is not written from Ditto"))


class DittoInboundMqtt:
    """Consumes the Ditto connection's target topic and applies each event (paho client already connected)."""

    def __init__(self, inbound: DittoInbound, client: Any, qos: int = 1) -> None:
        self.inbound = inbound
        self.client = client
        self.qos = qos

    def start(self) -> DittoInboundMqtt:
        self.client.message_callback_add(f"{EVENTS_ROOT}/#", self._on_message)
        previous = self.client.on_connect

        def on_connect(client: Any, userdata: Any, *args: Any) -> None:
            client.subscribe(f"{EVENTS_ROOT}/#", qos=self.qos)  # on every (re)connect: sessions are clean
            if previous is not None:
                previous(client, userdata, *args)

        self.client.on_connect = on_connect
        if self.client.is_connected():
            self.client.subscribe(f"{EVENTS_ROOT}/#", qos=self.qos)
        return self

    def stop(self) -> None:
        self.client.unsubscribe(f"{EVENTS_ROOT}/#")
        self.client.message_callback_remove(f"{EVENTS_ROOT}/#")

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        try:
            result = self.inbound.apply(json.loads(msg.payload))
        except (ValueError, TypeError) as exc:
            logger.warning("Ditto inbound: unreadable message on %s: %s", msg.topic, exc)
            return
        for path, reason in result.rejected:
            logger.warning("Ditto inbound: %s not applied: %s", path, reason)
