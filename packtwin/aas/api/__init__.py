"""The AAS Part 2 HTTP API (IDTA-01002): repositories, single services, registry, discovery, with access control."""

from packtwin.aas.api.app import create_app
from packtwin.aas.api.auth import AuthConfig, resolve_role

__all__ = ["create_app", "AuthConfig", "resolve_role"]
