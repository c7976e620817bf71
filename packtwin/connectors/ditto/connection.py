"""The Ditto MQTT connection for packtwin's topics, and the policy its Things use.

packtwin publishes Ditto Protocol messages on ``packtwin/v1/ditto/{namespace}/{name}`` (one topic per Thing).
The connection consumes ``packtwin/v1/ditto/#`` with the authorization subject ``integration:packtwin``, and its
enforcement only lets a message on the topic of Thing X change Thing X. It publishes the twin events of those Things
on ``packtwin/v1/ditto-events/{namespace}/{name}`` for the way back (:mod:`packtwin.connectors.ditto.inbound`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from packtwin.connectors import topics
from packtwin.connectors.ditto.protocol import split_thing_id

TOPIC_ROOT = f"{topics.PREFIX}/ditto"
EVENTS_TOPIC_ROOT = f"{topics.PREFIX}/ditto-events"
AUTH_SUBJECT = "integration:packtwin"


def thing_topic(thing_id: str) -> str:
    namespace, name = split_thing_id(thing_id)
    return f"{TOPIC_ROOT}/{namespace}/{name}"


def broker_uri(mqtt_url: str) -> str:
    """Ditto wants ``tcp://host:port`` (or ``ssl://``); packtwin's settings say ``mqtt://host:port``."""
    url = urlparse(mqtt_url)
    scheme = {"mqtt": "tcp", "tcp": "tcp", "mqtts": "ssl", "ssl": "ssl"}.get(url.scheme)
    if scheme is None or not url.hostname:
        raise ValueError(f"unsupported MQTT URL {mqtt_url!r}: expected mqtt://host:port or mqtts://host:port")
    return f"{scheme}://{url.hostname}:{url.port or (8883 if scheme == 'ssl' else 1883)}"


def mqtt_connection(mqtt_url: str, *, connection_id: str = "packtwin-mqtt", mqtt5: bool = False,
                    client_id: str = "ditto-packtwin") -> dict[str, Any]:
    """The connection JSON to create in Ditto (``POST /api/2/connections`` or the devops ``createConnection``)."""
    return {
        "id": connection_id,
        "name": "packtwin AAS twins",
        "connectionType": "mqtt-5" if mqtt5 else "mqtt",
        "connectionStatus": "open",
        "uri": broker_uri(mqtt_url),
        "failoverEnabled": True,
        "clientCount": 1,
        "sources": [{
            "addresses": [f"{TOPIC_ROOT}/#"],
            "consumerCount": 1,
            "authorizationContext": [AUTH_SUBJECT],
            "enforcement": {
                "input": "{{ source:address }}",
                "filters": [f"{TOPIC_ROOT}/{{{{ thing:namespace }}}}/{{{{ thing:name }}}}"],
            },
            "payloadMapping": ["Ditto"],
            # packtwin sends commands with response-required=false: no replies are expected.
            "replyTarget": {"enabled": False, "address": f"{TOPIC_ROOT}-replies/{{{{ thing:id }}}}"},
        }],
        # Twin events of packtwin's Things go back to packtwin (connectors/ditto/inbound.py), which applies the
        # value changes others made in Ditto and skips its own.
        "targets": [{
            "address": f"{EVENTS_TOPIC_ROOT}/{{{{ thing:namespace }}}}/{{{{ thing:name }}}}",
            "topics": ["_/_/things/twin/events"],
            "authorizationContext": [AUTH_SUBJECT],
        }],
        "specificConfig": {"clientId": client_id},
    }


def policy(policy_id: str, *, admins: tuple[str, ...] = ("nginx:ditto",)) -> dict[str, Any]:
    """The policy of packtwin's Things: the connection writes them; ``admins`` (by default the user of Ditto's
    docker deployment) read and write Things and the policy (Ditto refuses a policy nobody may change)."""
    return {
        "policyId": policy_id,
        "entries": {
            "packtwin": {
                "subjects": {AUTH_SUBJECT: {"type": "packtwin MQTT connection"}},
                "resources": {"thing:/": {"grant": ["READ", "WRITE"], "revoke": []},
                              "policy:/": {"grant": ["READ"], "revoke": []}},
            },
            "admins": {
                "subjects": {subject: {"type": "administrator"} for subject in admins},
                "resources": {"thing:/": {"grant": ["READ", "WRITE"], "revoke": []},
                              "policy:/": {"grant": ["READ", "WRITE"], "revoke": []}},
            },
        },
    }
