#!/bin/bash
# Entrypoint of the local PostgreSQL 15 test image, the stand-in for the official
# postgres:15-alpine image that runs MS5.0 in production. It follows the official
# image's contract: POSTGRES_USER (a superuser, default postgres),
# POSTGRES_PASSWORD(_FILE), POSTGRES_DB (default: the user's name),
# POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD (default scram-sha-256), PGDATA,
# /docker-entrypoint-initdb.d (*.sh, *.sql, *.sql.gz) at the first start only,
# `postgres -c` pass-through, trust on the local socket and on localhost inside the
# container, and a password for every other TCP client.
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

psql_init() { # psql_init DATABASE [ARGS...]
  local database="$1"
  shift
  gosu postgres psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc \
    --username "$POSTGRES_USER" --dbname "$database" "$@"
}

init_database() {
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  local auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != "trust" ]; then
    echo >&2 "error: database is uninitialized and superuser password is not specified."
    echo >&2 "       You must specify POSTGRES_PASSWORD to a non-empty value for the superuser."
    exit 1
  fi
  local pwfile
  pwfile="$(mktemp)"
  chmod 0600 "$pwfile"
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  chown postgres "$pwfile"
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of arguments
  gosu postgres initdb --username="$POSTGRES_USER" --pwfile="$pwfile" $POSTGRES_INITDB_ARGS
  rm -f "$pwfile"
  echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
  printf '\nhost all all all %s\n' "$auth" >> "$PGDATA/pg_hba.conf"

  gosu postgres pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" -w start
  if [ "$POSTGRES_DB" != "postgres" ]; then
    psql_init postgres -c "CREATE DATABASE \"$POSTGRES_DB\""
  fi
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    [ -e "$f" ] || continue
    case "$f" in
      *.sh)
        if [ -x "$f" ]; then
          echo "running $f"; "$f"
        else
          echo "sourcing $f"
          # shellcheck disable=SC1090 # init scripts are sourced, as in the official image
          . "$f"
        fi ;;
      *.sql) echo "running $f"; psql_init "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) echo "running $f"; gunzip -c "$f" | psql_init "$POSTGRES_DB" ;;
      *) echo "ignoring $f" ;;
    esac
  done
  gosu postgres pg_ctl -D "$PGDATA" -m fast -w stop
  unset POSTGRES_PASSWORD
  echo "PostgreSQL init process complete; ready for start up."
}

if [ "${1:0:1}" = '-' ]; then
  set -- postgres "$@"
fi

if [ "$1" = 'postgres' ] && [ "$(id -u)" = '0' ]; then
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 0700 "$PGDATA"
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    init_database
  fi
  exec gosu postgres "$@"
fi
exec "$@"
