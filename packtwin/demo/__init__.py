"""``packtwin demo``: the whole twin on embedded defaults in one process, browsable at one HTTP port.

Modules: :mod:`.fleetdata` loads the fleet into the SQLite repository, :mod:`.live` keeps the latest telemetry and
estimates in memory for the dashboard, :mod:`.estimates` runs the estimator worker on ingested frames and writes its
results into the passport submodels, :mod:`.runner` wires broker, simulator, ingest, estimators, RDF sync and the
HTTP server together, :mod:`.cli` is the command.
"""
