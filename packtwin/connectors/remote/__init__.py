"""Remote AAS servers (AAS Part 2 HTTP API: packtwin, Eclipse BaSyx AAS Environment, FA³ST, AASX Server).

``client`` speaks the API, ``sync`` pushes and pulls environments idempotently with a journal for conflicts and
resumption, ``mirror`` keeps a remote server in step with the repository's change events, ``cli`` is
``packtwin sync``. See docs/remote-sync.md.
"""
