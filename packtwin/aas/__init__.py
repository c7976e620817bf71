"""Identifiers, the battery hierarchy, the repository (stores and change events), the AAS HTTP API, AASX/JSON/XML."""
