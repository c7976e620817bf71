"""Repository change events -> Ditto Protocol messages, handed to a sender (MQTT or Ditto's HTTP API).

Shell created/updated: the whole Thing (``modify /``). Submodel created/updated: its feature (``modify
/features/{id}``). Element created/updated: its value (``merge /features/{id}/properties/{path}``); an element inside
a SubmodelElementList sends the whole list, since Ditto addresses no array items. Deletions: ``delete`` at the same
paths. Only what the mapper's clearance may see goes out (public by default).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from basyx.aas import model

from packtwin.aas.events import ChangeEvent, Operation, Target
from packtwin.aas.repository import Repository
from packtwin.connectors import access_json
from packtwin.connectors.ditto import mapping
from packtwin.connectors.ditto.mapping import ThingMapper
from packtwin.connectors.ditto.protocol import (
    MESSAGE_LIMIT_BYTES,
    THING_LIMIT_BYTES,
    envelope,
    fit_thing,
    pointer,
    size_of,
    thing_messages,
)

logger = logging.getLogger(__name__)

Sender = Callable[[dict[str, Any]], None]


def thing_id_of_message(message: dict[str, Any]) -> str:
    namespace, name = message["topic"].split("/", 2)[:2]
    return f"{namespace}:{name}"


class DittoBridge:
    def __init__(self, repo: Repository, mapper: ThingMapper, send: Sender | None = None, *,
                 thing_limit: int = THING_LIMIT_BYTES, message_limit: int = MESSAGE_LIMIT_BYTES) -> None:
        self.repo = repo
        self.mapper = mapper
        self.send = send
        self.thing_limit = thing_limit
        self.message_limit = message_limit
        self.access = access_json.AccessIndex(access_json.repository_loader(repo))
        self._thing_of_shell: dict[str, str] = {}
        self._shells_of_submodel: dict[str, set[str]] = {}
        self._unsubscribe: Any = None

    # -- lifecycle -----------------------------------------------------------------------------------------------------
    def start(self, initial_sync: bool = False) -> DittoBridge:
        with self.repo.lock:
            messages = []
            for shell in self.repo.shells():
                self._index_shell(shell)
                if initial_sync:
                    messages += self._thing(shell)
            self._unsubscribe = self.repo.bus.subscribe(self._on_event)
        self._emit(messages)
        return self

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _on_event(self, event: ChangeEvent) -> None:
        self._emit(self.messages_for(event))

    def _emit(self, messages: list[dict[str, Any]]) -> None:
        if self.send is not None:
            for msg in messages:
                self.send(msg)

    # -- events -> messages --------------------------------------------------------------------------------------------
    def messages_for(self, event: ChangeEvent) -> list[dict[str, Any]]:
        if event.target is Target.SHELL:
            return self._shell_event(event)
        if event.target is Target.SUBMODEL:
            return self._submodel_event(event)
        if event.target is Target.SUBMODEL_ELEMENT:
            return self._element_event(event)
        return []

    def _index_shell(self, shell: model.AssetAdministrationShell) -> None:
        self._thing_of_shell[shell.id] = self.mapper.thing_id(shell)
        self.mapper.assign_feature_ids(mapping.submodels_of(shell, self.repo))
        for ref in shell.submodel:
            if ref.key:
                self._shells_of_submodel.setdefault(ref.key[-1].value, set()).add(shell.id)

    def _forget_shell(self, shell_id: str) -> None:
        self._thing_of_shell.pop(shell_id, None)
        for shells in self._shells_of_submodel.values():
            shells.discard(shell_id)

    def _thing(self, shell: model.AssetAdministrationShell) -> list[dict[str, Any]]:
        thing = self.mapper.thing(shell, mapping.submodels_of(shell, self.repo))
        messages, _, omissions = thing_messages(thing, thing_limit=self.thing_limit,
                                                message_limit=self.message_limit)
        for o in omissions:
            logger.warning("Ditto: %s feature %s property %s (%d bytes) left out: %s",
                           o.thing_id, o.feature_id, o.property, o.size_bytes, o.reason)
        return messages

    def _shell_event(self, event: ChangeEvent) -> list[dict[str, Any]]:
        if event.operation is Operation.DELETED:
            thing_id = self._thing_of_shell.get(event.identifiable_id)
            self._forget_shell(event.identifiable_id)
            return [envelope(thing_id, "delete", "/")] if thing_id else []
        shell = event.obj
        assert isinstance(shell, model.AssetAdministrationShell)
        self._forget_shell(shell.id)
        self._index_shell(shell)
        return self._thing(shell)

    def _submodel_event(self, event: ChangeEvent) -> list[dict[str, Any]]:
        sm_id = event.identifiable_id
        messages: list[dict[str, Any]] = []
        if event.operation is Operation.DELETED:
            fid = self.mapper.feature_id(sm_id)
            self.access.forget(sm_id)
            if fid is not None:
                for shell_id in sorted(self._shells_of_submodel.get(sm_id, ())):
                    thing_id = self._thing_of_shell[shell_id]
                    messages += [envelope(thing_id, "delete", pointer("features", fid)),
                                 envelope(thing_id, "delete", pointer("attributes", "submodels", fid))]
            return messages
        self.access.index(sm_id, "", access_json.to_dict(event.obj))  # type: ignore[arg-type]
        for shell_id in sorted(self._shells_of_submodel.get(sm_id, ())):
            try:
                shell = self.repo.get_shell(shell_id)
            except KeyError:
                continue
            thing, _ = fit_thing(self.mapper.thing(shell, mapping.submodels_of(shell, self.repo)), self.thing_limit)
            fid = self.mapper.feature_id(sm_id)
            if fid is None:
                continue
            feature = thing["features"].get(fid)
            if feature is None:  # not visible at the clearance (any more)
                messages.append(envelope(thing["thingId"], "delete", pointer("features", fid)))
                continue
            messages += self._feature_messages(thing["thingId"], fid, feature)
            messages.append(envelope(thing["thingId"], "modify", pointer("attributes", "submodels", fid),
                                     thing["attributes"]["submodels"][fid]))
        return messages

    def _feature_messages(self, thing_id: str, fid: str, feature: dict[str, Any]) -> list[dict[str, Any]]:
        msg = envelope(thing_id, "modify", pointer("features", fid), feature)
        if size_of(msg) <= self.message_limit:
            return [msg]
        out = []
        for key, value in feature.get("properties", {}).items():
            msg = envelope(thing_id, "modify", pointer("features", fid, "properties", key), value)
            if size_of(msg) <= self.message_limit:
                out.append(msg)
            else:
                logger.warning("Ditto: %s/%s property %s exceeds the message limit; left out", thing_id, fid, key)
        return out

    def _element_event(self, event: ChangeEvent) -> list[dict[str, Any]]:
        sm_id, path = event.identifiable_id, event.id_short_path or ""
        fid = self.mapper.feature_id(sm_id)
        shells = sorted(self._shells_of_submodel.get(sm_id, ()))
        inherited = self.access.group_at(sm_id, access_json.parent_path(path))
        body = access_json.to_dict(event.obj) if event.obj is not None else None  # type: ignore[arg-type]
        if event.operation is Operation.DELETED:
            own = access_json.own_group(body) if body is not None else self.access.own_mark(sm_id, path)
            group = own if own is not None else inherited
            self.access.forget(sm_id, path)
        else:
            if body is None:
                return []
            self.access.index(sm_id, path, body)
            group = access_json.effective_group(body, inherited)
        if fid is None or not shells or group > self.mapper.clearance:
            return []
        segments = list(model.Referable.parse_id_short_path(path))
        if any(s.isdigit() for s in segments):
            # Ditto addresses no array items: send the whole SubmodelElementList that holds the element.
            list_path = ""
            for seg in segments[:next(i for i, s in enumerate(segments) if s.isdigit())]:
                list_path = f"{list_path}.{seg}" if list_path else seg
            return self._list_messages(sm_id, list_path, fid, shells)
        target = pointer("features", fid, "properties", *segments)
        value = None
        if event.operation is not Operation.DELETED and body is not None:
            view = access_json.filtered(body, self.mapper.clearance, inherited)
            value = mapping.value_only(view) if view is not None else None
        messages = []
        for shell_id in shells:
            thing_id = self._thing_of_shell[shell_id]
            messages.append(envelope(thing_id, "delete", target) if value is None
                            else envelope(thing_id, "merge", target, value))
        return messages

    def _list_messages(self, sm_id: str, list_path: str, fid: str, shells: list[str]) -> list[dict[str, Any]]:
        try:
            element = self.repo.get_submodel(sm_id).get_referable(list_path)
        except (KeyError, TypeError, ValueError):
            return []
        inherited = self.access.group_at(sm_id, access_json.parent_path(list_path))
        view = access_json.filtered(access_json.to_dict(element), self.mapper.clearance, inherited)
        if view is None:
            return []
        value = mapping.value_only(view)
        target = pointer("features", fid, "properties", *model.Referable.parse_id_short_path(list_path))
        return [envelope(self._thing_of_shell[s], "modify", target, value) for s in shells]
