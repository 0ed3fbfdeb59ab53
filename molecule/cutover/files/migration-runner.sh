#!/bin/bash
# The migration plan's migration-runner.sh, reproduced for molecule/cutover: every
# migration file in order with plain `psql -f`, as the backend's user, against host
# `postgres` on the backend's network. psql without ON_ERROR_STOP reports a failed
# statement and goes on with the next one and exits 0, so on PostgreSQL 15 without
# TimescaleDB the create_hypertable calls (001, 003, 004) and 009's time_bucket view
# fail while everything else is created: the time-series tables stay plain tables.
set -e
DB_HOST="${DB_HOST:-postgres}"
DB_PORT="${DB_PORT:-5432}"
DB_NAME="${DB_NAME:-factory_telemetry}"
DB_USER="${DB_USER:-ms5_user_production}"
MIGRATIONS_DIR="${MIGRATIONS_DIR:-/migrations}"

echo "Running MS5.0 migrations against ${DB_HOST}:${DB_PORT}/${DB_NAME} as ${DB_USER}"
for migration in "${MIGRATIONS_DIR}"/[0-9][0-9][0-9]_*.sql; do
  echo "Applying $(basename "$migration")"
  psql -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" -d "$DB_NAME" -f "$migration"
done
echo "Migrations complete"
