"""AAS change events over MQTT in the Eclipse BaSyx topic scheme (BaSyx Java server SDK, ``*-feature-mqtt``).

Topics, as BaSyx's ``MqttAasRepositoryTopicFactory`` / ``MqttSubmodelRepositoryTopicFactory`` build them::

    aas-repository/{repoId}/shells/created|updated|deleted                               payload: the shell
    sm-repository/{repoId}/submodels/created|updated|deleted                             payload: the submodel
    sm-repository/{repoId}/submodels/{submodelId b64url}/submodelElements/{idShortPath}/created|updated|deleted
                                                                                         payload: the element

Identifiers are base64url-encoded without padding, as BaSyx's ``Base64URLEncoder`` does. Payloads are AAS JSON.

Access groups: each configured group gets its own topic tree under its own repoId (``{repoId}`` for public,
``{repoId}.legitimateInterest``, ``{repoId}.authorities``), so a broker ACL on the topic prefix decides who may
subscribe. A tree carries only what its group may see: events on elements above the group are not published there
and payloads are pruned to the group. By default only the public tree is published. See docs/mqtt.md.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from basyx.aas import model

from packtwin.aas.events import ChangeEvent, Operation, Target
from packtwin.aas.repository import Repository
from packtwin.connectors import access_json
from packtwin.submodels.access import AccessGroup

logger = logging.getLogger(__name__)

AAS_REPOSITORY = "aas-repository"
SM_REPOSITORY = "sm-repository"
DEFAULT_REPO_ID = "packtwin"


def encode_id(identifier: str) -> str:
    """base64url without padding, as BaSyx encodes ids in topics and URLs."""
    return base64.urlsafe_b64encode(identifier.encode("utf-8")).rstrip(b"=").decode("ascii")


def repo_id_for(repo_id: str, group: AccessGroup) -> str:
    return repo_id if group is AccessGroup.PUBLIC else f"{repo_id}.{group.token}"


def shell_topic(repo_id: str, operation: Operation) -> str:
    return f"{AAS_REPOSITORY}/{repo_id}/shells/{operation.value}"


def submodel_topic(repo_id: str, operation: Operation) -> str:
    return f"{SM_REPOSITORY}/{repo_id}/submodels/{operation.value}"


def element_topic(repo_id: str, submodel_id: str, id_short_path: str, operation: Operation) -> str:
    return (f"{SM_REPOSITORY}/{repo_id}/submodels/{encode_id(submodel_id)}/submodelElements/"
            f"{id_short_path}/{operation.value}")


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes


class BasyxEventPublisher:
    """Turns the repository's change events into BaSyx MQTT events; publish with any paho client."""

    def __init__(self, repo: Repository, client: Any | None = None, repo_id: str = DEFAULT_REPO_ID,
                 groups: Iterable[AccessGroup] = (AccessGroup.PUBLIC,), qos: int = 1) -> None:
        self.repo = repo
        self.client = client
        self.repo_id = repo_id
        self.groups = tuple(sorted(set(groups)))
        self.qos = qos
        # Marks of everything seen, so that deletions (which carry no object) go only where the thing was visible.
        self.access = access_json.AccessIndex(access_json.repository_loader(repo))
        self._unsubscribe: Any = None

    # -- lifecycle -----------------------------------------------------------------------------------------------------
    def start(self) -> BasyxEventPublisher:
        # Marks are read per identifiable on its first event (AccessIndex loader), not for the whole repository here.
        self._unsubscribe = self.repo.bus.subscribe(self._on_event)
        return self

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _on_event(self, event: ChangeEvent) -> None:
        for msg in self.messages_for(event):
            if self.client is not None:
                self.client.publish(msg.topic, msg.payload, qos=self.qos)

    # -- event -> messages ---------------------------------------------------------------------------------------------
    def messages_for(self, event: ChangeEvent) -> list[Message]:
        if event.target is Target.CONCEPT_DESCRIPTION:
            return []  # BaSyx has no MQTT eventing for concept descriptions
        if event.target is Target.SUBMODEL_ELEMENT:
            return self._element_messages(event)
        return self._identifiable_messages(event)

    def _identifiable_messages(self, event: ChangeEvent) -> list[Message]:
        topic_of = shell_topic if event.target is Target.SHELL else submodel_topic
        if event.operation is Operation.DELETED:
            group = self.access.group_at(event.identifiable_id, None)
            self.access.forget(event.identifiable_id)
            if event.obj is not None:  # as BaSyx does: the deleted identifiable's JSON
                body: dict[str, Any] = access_json.to_dict(event.obj)  # type: ignore[arg-type]
                group = access_json.effective_group(body)
            else:
                model_type = "AssetAdministrationShell" if event.target is Target.SHELL else "Submodel"
                body = {"modelType": model_type, "id": event.identifiable_id}
        else:
            body = access_json.to_dict(event.obj)  # type: ignore[arg-type]
            self.access.index(event.identifiable_id, "", body)
            group = access_json.effective_group(body)
        return self._fan_out(group, body, lambda rid: topic_of(rid, event.operation))

    def _element_messages(self, event: ChangeEvent) -> list[Message]:
        sm_id, path = event.identifiable_id, event.id_short_path or ""
        inherited = self.access.group_at(sm_id, access_json.parent_path(path))
        body = access_json.to_dict(event.obj) if event.obj is not None else None  # type: ignore[arg-type]
        if event.operation is Operation.DELETED:
            own = access_json.own_group(body) if body is not None else self.access.own_mark(sm_id, path)
            group = own if own is not None else inherited
            self.access.forget(sm_id, path)
            if body is None:
                body = {"idShort": list(model.Referable.parse_id_short_path(path))[-1]}
        else:
            if body is None:
                return []
            self.access.index(sm_id, path, body)
            group = access_json.effective_group(body, inherited)
        return self._fan_out(group, body, lambda rid: element_topic(rid, sm_id, path, event.operation), inherited)

    def _fan_out(self, group: AccessGroup, body: dict[str, Any], topic_of: Any,
                 inherited: AccessGroup = AccessGroup.PUBLIC) -> list[Message]:
        out = []
        for clearance in self.groups:
            if group > clearance:
                continue
            view = access_json.filtered(json.loads(json.dumps(body)), clearance, inherited)
            if view is None:
                continue
            out.append(Message(topic_of(repo_id_for(self.repo_id, clearance)),
                               json.dumps(view, separators=(",", ":")).encode("utf-8")))
        return out


def connect(mqtt_url: str, client_id: str = "") -> Any:
    """A paho client for the event ways out, configured as all of packtwin's (TLS and credentials from the URL,
    reconnect with backoff); it connects in the background and queues QoS 1 messages until it is connected."""
    from packtwin.connectors.mqtt import MqttOptions, connect_async, make_client

    options = MqttOptions(url=mqtt_url)
    client = make_client(options, client_id)
    connect_async(client, options)
    return client
