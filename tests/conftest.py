# Shared fixtures: real MQTT brokers (Mosquitto, or the embedded amqtt broker when Mosquitto is absent).
pytest_plugins = ["tests.fixtures.brokers"]
