"""The Eclipse Ditto bridge: every AAS is a Ditto Thing, every submodel a feature, element values its properties.

``mapping`` builds Things from shells and submodels, ``protocol`` the Ditto Protocol messages (within Ditto's size
limits), ``connection`` the Ditto MQTT connection and policy, ``http`` a client of Ditto's HTTP API, ``mqtt`` the
live bridge from repository change events to a Ditto MQTT connection, ``inbound`` the way back (values changed in
Ditto written into the twins), ``export`` Things and messages as files.
See docs/ditto.md.
"""
