#!/usr/bin/env bash
# Throwaway PostgreSQL for tests, in a temporary directory, on 127.0.0.1 only.
# Works as root: the server itself runs as the "postgres" user, which Postgres requires.
#
# Usage:  eval "$(bash tests/services/pg-up.sh)"
#         ... tests read BERTH_TEST_DATABASE_URL ...
#         eval "$PG_STOP"
#
# stdout carries only the two export lines; everything else goes to stderr.
# Environment: PGPORT (default 5433), PGU / PGPW (superuser and password, default
# berth/berth), PGDB (database created for the tests, default berth_test).
# The user is a superuser because the contract tests create one database per test.
set -euo pipefail
PGPORT="${PGPORT:-5433}"; PGU="${PGU:-berth}"; PGPW="${PGPW:-berth}"; PGDB="${PGDB:-berth_test}"

PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  # Binaries absent: install them, without the default cluster and without autostart.
  mkdir -p /etc/postgresql-common
  echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 \
      --no-install-recommends postgresql >&2
  PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
fi

AS=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
  AS=(runuser -u postgres --)
fi

ROOT="$(mktemp -d /tmp/berth-pg.XXXXXX)"
chmod 755 "$ROOT"                                   # the server user must reach its data dir
if [ "$(id -u)" = 0 ]; then chown postgres: "$ROOT"; fi
printf '%s\n' "$PGPW" > "$ROOT/pw"; chmod 644 "$ROOT/pw"

fail() { cat "$1" >&2; rm -rf "$ROOT"; exit 1; }
"${AS[@]}" "$PGBIN/initdb" -D "$ROOT/data" -U "$PGU" --pwfile="$ROOT/pw" --auth=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 --no-sync >"$ROOT/initdb.log" 2>&1 || fail "$ROOT/initdb.log"
# Durability off: the data is thrown away anyway. The socket goes to $ROOT (-k) so that a
# missing /var/run/postgresql does not matter. Many connections: tests run in parallel,
# each with its own pool.
"${AS[@]}" "$PGBIN/pg_ctl" -D "$ROOT/data" -l "$ROOT/server.log" -w -t 60 -o \
    "-c listen_addresses=127.0.0.1 -p $PGPORT -k $ROOT -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
    start >&2 || fail "$ROOT/server.log"
if ! PGPASSWORD="$PGPW" "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U "$PGU" -d postgres -qAt \
    -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$PGDB\"" >&2; then
  "${AS[@]}" "$PGBIN/pg_ctl" -D "$ROOT/data" -m fast -w stop >&2 || true
  rm -rf "$ROOT"; exit 1
fi

echo "export BERTH_TEST_DATABASE_URL='postgres://$PGU:$PGPW@127.0.0.1:$PGPORT/$PGDB'"
echo "export PG_STOP='${AS[*]} $PGBIN/pg_ctl -D $ROOT/data -m fast -w stop >/dev/null; rm -rf $ROOT'"
