"""The edges: MQTT telemetry in and commands out, AAS change events out, Eclipse Ditto, remote AAS servers."""
