"""The telemetry history: SQLite embedded, PostgreSQL for scale."""
