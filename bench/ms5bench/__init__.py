"""MS5.0 telemetry benchmark: TimescaleDB hypertables against plain PostgreSQL tables."""
