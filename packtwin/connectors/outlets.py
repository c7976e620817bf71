"""Start the change-event ways out of one process in one call: BaSyx-scheme MQTT events, the Ditto bridge over MQTT,
and a mirror to a remote AAS server. Whatever writes the repository (``packtwin serve``, the workers) calls
:func:`start_outlets` once and :meth:`Outlets.stop` on shutdown."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from packtwin.submodels.access import AccessGroup


@dataclass
class Outlets:
    stoppables: list[Any] = field(default_factory=list)
    clients: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        for s in reversed(self.stoppables):
            s.stop()
        for c in self.clients:
            c.disconnect()
            c.loop_stop()
        self.stoppables.clear()
        self.clients.clear()


def start_outlets(repo: Any, *, mqtt_url: str | None = None, basyx_repo_id: str | None = "packtwin",
                  basyx_groups: tuple[AccessGroup, ...] = (AccessGroup.PUBLIC,),
                  ditto_namespace: str | None = None, ditto_clearance: AccessGroup = AccessGroup.PUBLIC,
                  ditto_inbound: bool = False,
                  base_iri: str = "https://example.org/packtwin", mirror_url: str | None = None,
                  mirror_api_key: str | None = None, mirror_clearance: AccessGroup = AccessGroup.PUBLIC) -> Outlets:
    """BaSyx events when ``mqtt_url`` and ``basyx_repo_id`` are given; Ditto Protocol over MQTT when ``mqtt_url``
    and ``ditto_namespace`` are (and Ditto's changes back with ``ditto_inbound``); a remote mirror when
    ``mirror_url`` is."""
    outlets = Outlets()
    try:
        if mqtt_url and (basyx_repo_id or ditto_namespace):
            from packtwin.connectors.basyx_events import connect

            client = connect(mqtt_url, client_id="")
            outlets.clients.append(client)
            if basyx_repo_id:
                from packtwin.connectors.basyx_events import BasyxEventPublisher

                outlets.stoppables.append(
                    BasyxEventPublisher(repo, client, repo_id=basyx_repo_id, groups=basyx_groups).start())
            if ditto_namespace:
                from packtwin.connectors.ditto.bridge import DittoBridge
                from packtwin.connectors.ditto.mapping import ThingMapper
                from packtwin.connectors.ditto.mqtt import MqttSender

                mapper = ThingMapper(namespace=ditto_namespace, base_iri=base_iri, clearance=ditto_clearance)
                outlets.stoppables.append(DittoBridge(repo, mapper, MqttSender(client)).start())
                if ditto_inbound:  # values changed in Ditto come back into the twins
                    from packtwin.connectors.ditto.inbound import DittoInbound, DittoInboundMqtt

                    outlets.stoppables.append(DittoInboundMqtt(DittoInbound(repo, mapper), client).start())
        if mirror_url:
            from packtwin.connectors.remote.client import AasClient
            from packtwin.connectors.remote.mirror import RemoteMirror

            outlets.stoppables.append(RemoteMirror(repo, AasClient(mirror_url, api_key=mirror_api_key),
                                                   clearance=mirror_clearance).start())
    except Exception:
        outlets.stop()
        raise
    return outlets
