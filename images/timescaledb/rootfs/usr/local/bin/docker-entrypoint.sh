#!/bin/bash
# Entrypoint of the local TimescaleDB test image. It follows the official
# postgres / timescale/timescaledb images where this collection relies on them:
# POSTGRES_USER, POSTGRES_PASSWORD(_FILE), POSTGRES_DB, POSTGRES_INITDB_ARGS,
# PGDATA, /docker-entrypoint-initdb.d at first init, `postgres -c` pass-through,
# trust on the local socket and scram-sha-256 for TCP clients.
set -Eeuo pipefail

file_env() {
  local var="$1" file_var="${1}_FILE" def="${2:-}"
  if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
    echo >&2 "error: both $var and $file_var are set (but are exclusive)"
    exit 1
  fi
  local val="$def"
  if [ -n "${!var:-}" ]; then
    val="${!var}"
  elif [ -n "${!file_var:-}" ]; then
    val="$(< "${!file_var}")"
  fi
  export "$var"="$val"
  unset "$file_var"
}

init_database() {
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  if [ -z "$POSTGRES_PASSWORD" ]; then
    echo >&2 "error: database is uninitialized and superuser password is not specified."
    echo >&2 "       Set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE."
    exit 1
  fi
  local pwfile
  pwfile="$(mktemp)"
  chmod 0600 "$pwfile"
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  chown postgres "$pwfile"
  # shellcheck disable=SC2086
  gosu postgres initdb --username="$POSTGRES_USER" --pwfile="$pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 $POSTGRES_INITDB_ARGS
  rm -f "$pwfile"
  {
    echo "listen_addresses = '*'"
    echo "shared_preload_libraries = 'timescaledb'"
    echo "password_encryption = 'scram-sha-256'"
  } >> "$PGDATA/postgresql.conf"
  {
    echo "host all all all scram-sha-256"
  } >> "$PGDATA/pg_hba.conf"

  gosu postgres pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" -w start
  if [ "$POSTGRES_DB" != "postgres" ]; then
    gosu postgres psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
      -c "CREATE DATABASE \"$POSTGRES_DB\""
  fi
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    [ -e "$f" ] || continue
    case "$f" in
      *.sh)
        echo "running $f"
        # shellcheck disable=SC1090 # init scripts are sourced, as in the official image
        . "$f" ;;
      *.sql) echo "running $f"; gosu postgres psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) echo "running $f"; gunzip -c "$f" | gosu postgres psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" ;;
      *) echo "ignoring $f" ;;
    esac
  done
  gosu postgres pg_ctl -D "$PGDATA" -m fast -w stop
  unset POSTGRES_PASSWORD
}

if [ "${1:0:1}" = '-' ]; then
  set -- postgres "$@"
fi

if [ "$1" = 'postgres' ]; then
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 0700 "$PGDATA"
  if [ "$(id -u)" = '0' ]; then
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
      init_database
    fi
    exec gosu postgres "$@"
  fi
fi
exec "$@"
