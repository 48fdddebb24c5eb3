#!/bin/sh
# First start: initdb with the password from POSTGRES_PASSWORD_FILE, create the role and the
# database; every start: run the server as postgres, listening on the container's network.
set -eu
user="${POSTGRES_USER:-postgres}"
db="${POSTGRES_DB:-$user}"
if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
  password="$(cat "$POSTGRES_PASSWORD_FILE")"
else
  password="${POSTGRES_PASSWORD:-}"
fi
[ -n "$password" ] || { echo "postgres: set POSTGRES_PASSWORD_FILE (or POSTGRES_PASSWORD)" >&2; exit 1; }
chown -R postgres:postgres "$PGDATA" /var/run/postgresql
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile="$(mktemp)"
  printf '%s\n' "$password" > "$pwfile"
  chown postgres "$pwfile"
  su postgres -c "initdb -D '$PGDATA' --username='$user' --pwfile='$pwfile' --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8"
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  su postgres -c "pg_ctl -D '$PGDATA' -o '-c listen_addresses=' -w start"
  if [ "$db" != "postgres" ]; then
    su postgres -c "psql -v ON_ERROR_STOP=1 --username='$user' --dbname=postgres -c 'CREATE DATABASE \"$db\"'"
  fi
  su postgres -c "pg_ctl -D '$PGDATA' -m fast -w stop"
fi
exec su postgres -c "exec postgres -D '$PGDATA' -c listen_addresses='*'"
