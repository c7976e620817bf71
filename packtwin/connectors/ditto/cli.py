"""The `packtwin ditto` commands: ``packtwin ditto connection | export``."""

from __future__ import annotations

import argparse
import json
import os
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    ditto = subparsers.add_parser("ditto", help="Eclipse Ditto bridge: connection JSON, Things and messages as files")
    sub = ditto.add_subparsers(dest="ditto_command", metavar="ACTION", required=True)

    conn = sub.add_parser("connection", help="print the Ditto MQTT connection JSON for packtwin's topics")
    conn.add_argument("--mqtt-url", help="broker as Ditto reaches it (default: the mqtt_url setting)")
    conn.add_argument("--mqtt5", action="store_true", help="connection type mqtt-5 instead of mqtt (3.1.1)")
    conn.add_argument("--id", default="packtwin-mqtt", help="connection id")
    conn.set_defaults(func=_connection)

    exp = sub.add_parser("export", help="write Things, Ditto Protocol messages, policy and connection as files")
    exp.add_argument("--data", required=True, help="AAS environment (.json, .xml or .aasx)")
    exp.add_argument("--out", required=True, help="output directory")
    exp.add_argument("--namespace", help="Ditto namespace of the thingIds (default: derived from the base IRI)")
    exp.add_argument("--access-group", default="public", choices=["public", "legitimateInterest", "authorities"],
                     help="highest access group whose elements go to Ditto (default: public)")
    exp.add_argument("--mqtt-url", help="broker as Ditto reaches it, for connection.json")
    exp.set_defaults(func=_export)

    push = sub.add_parser("push", help="create the policy and every Thing in Ditto through its HTTP API")
    push.add_argument("--data", required=True, help="AAS environment (.json, .xml or .aasx)")
    push.add_argument("--url", required=True, help="Ditto's HTTP endpoint, e.g. http://localhost:8090")
    push.add_argument("--user", default="ditto")
    push.add_argument("--password", default=os.environ.get("DITTO_PASSWORD", "ditto"),
                      help="(env DITTO_PASSWORD; default: ditto)")
    push.add_argument("--namespace", help="Ditto namespace of the thingIds (default: derived from the base IRI)")
    push.add_argument("--access-group", default="public", choices=["public", "legitimateInterest", "authorities"])
    push.set_defaults(func=_push)


def _connection(args: argparse.Namespace) -> int:
    from packtwin.connectors.ditto import connection, schemas
    from packtwin.settings import load_settings

    doc = connection.mqtt_connection(args.mqtt_url or load_settings().mqtt_url, connection_id=args.id,
                                     mqtt5=args.mqtt5)
    schemas.validate("connection", doc)
    json.dump(doc, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def _export(args: argparse.Namespace) -> int:
    from packtwin.connectors.ditto import export, mapping
    from packtwin.settings import load_settings
    from packtwin.submodels.access import AccessGroup

    settings = load_settings()
    try:
        store = export.load_environment(args.data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"packtwin ditto export: cannot read {args.data}: {exc}", file=sys.stderr)
        return 2
    mapper = mapping.ThingMapper(namespace=args.namespace or mapping.namespace_from_base(settings.base_iri),
                                 base_iri=settings.base_iri, clearance=AccessGroup.parse(args.access_group))
    result = export.export(store, args.out, mapper, mqtt_url=args.mqtt_url or settings.mqtt_url)
    print(f"{result.things} Things, {result.features} features, {result.messages} messages written to {args.out}; "
          f"{len(result.omissions)} properties left out for Ditto's limits (see omissions.json)")
    return 0


def _push(args: argparse.Namespace) -> int:
    from packtwin.connectors.ditto import connection, export, mapping
    from packtwin.connectors.ditto.http import DittoError, DittoHttpClient
    from packtwin.settings import load_settings
    from packtwin.submodels.access import AccessGroup

    settings = load_settings()
    try:
        store = export.load_environment(args.data)
    except (OSError, ValueError) as exc:
        print(f"packtwin ditto push: cannot read {args.data}: {exc}", file=sys.stderr)
        return 2
    mapper = mapping.ThingMapper(namespace=args.namespace or mapping.namespace_from_base(settings.base_iri),
                                 base_iri=settings.base_iri, clearance=AccessGroup.parse(args.access_group))
    client = DittoHttpClient(args.url, auth=(args.user, args.password))
    things = messages = 0
    try:
        client.put_policy(connection.policy(mapper.policy))
        for _, msgs, omissions in export.things_and_messages(store, mapper, deterministic=False):
            for msg in msgs:
                client.send(msg)
            things += 1
            messages += len(msgs)
            for o in omissions:
                print(f"left out {o.thing_id} {o.feature_id}/{o.property} ({o.size_bytes} bytes): {o.reason}")
    except DittoError as exc:
        print(f"packtwin ditto push: {exc} (after {things} Things)", file=sys.stderr)
        return 1
    print(f"{things} Things written to {args.url} with {messages} messages")
    return 0
