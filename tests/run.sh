#!/usr/bin/env bash
# The project's test command: builds the workspace and runs every test, the end-to-end
# ones included, against real services started here and stopped again on exit (also on
# failure or Ctrl-C):
#   - PostgreSQL   (tests/services/pg-up.sh      -> BERTH_TEST_DATABASE_URL)
#   - S3 server    (tests/services/s3-up.sh      -> BERTH_TEST_S3_*)
#   - Docker engine (tests/services/dockerd-up.sh -> DOCKER_HOST; also installs skopeo)
#
#   bash tests/run.sh                      # everything
#   bash tests/run.sh -p berth-e2e         # extra arguments go to `cargo test`
#   bash tests/run.sh -p berth-e2e --test protocol -- embedded
#
# Meant for a fresh Debian 12 machine as root (as CI runs it): missing packages are
# installed from apt. A Rust toolchain must already be there.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
START=$(date +%s)

section() { printf '\n==== %s [%ss] ====\n' "$*" "$(($(date +%s) - START))"; }
die() { printf 'tests/run.sh: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------
section "Tools"
command -v cargo >/dev/null || die "cargo not found: install a Rust toolchain (rustup), 1.88 or newer"
need=()
command -v curl >/dev/null || need+=(curl ca-certificates)   # S3 readiness and bucket creation
command -v tar >/dev/null || need+=(tar)                      # rootfs tarballs for docker import
command -v cc >/dev/null || need+=(gcc libc6-dev)             # C parts of the crypto crates
command -v make >/dev/null || need+=(make)                    # jemalloc's build
command -v psql >/dev/null || need+=(postgresql-client)       # one database per test server
command -v python3 >/dev/null || need+=(python3)
# The S3 server installs into a venv; Debian's python3 needs python3-venv for that.
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
if [ "${#need[@]}" -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing packages (${need[*]}) and not root: install them first"
  echo "installing: ${need[*]}"
  apt-get update -qq -o DPkg::Lock::Timeout=300
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 \
    --no-install-recommends "${need[@]}" >/dev/null
fi
cargo --version
rustc --version

# ---------------------------------------------------------------------------------------
# Built before any service starts: a cold build is the longest step, and a compile error
# should fail the run without installing or starting anything.
section "Build (cargo build --workspace --all-targets)"
cargo build --workspace --all-targets

# ---------------------------------------------------------------------------------------
section "Services"
RUN_TMP="$(mktemp -d /tmp/berth-run.XXXXXX)"
# Test servers register their pids here; anything left when the run ends is killed.
export BERTH_E2E_PID_DIR="$RUN_TMP/pids"
mkdir -p "$BERTH_E2E_PID_DIR"

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  section "Stopping services"
  local f pid
  for f in "$BERTH_E2E_PID_DIR"/*; do
    [ -e "$f" ] || continue
    pid="${f##*/}"
    # Only a process that is still a berth server (pids can be reused).
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'berth serve'; then
      echo "killing leftover berth server $pid"
      kill -KILL "$pid" 2>/dev/null
    fi
  done
  # Each stop command ends only the service it belongs to; they run side by side
  # because the S3 server can take several seconds to exit.
  [ -n "${DOCKERD_STOP:-}" ] && (eval "$DOCKERD_STOP") &
  [ -n "${S3_STOP:-}" ] && (eval "$S3_STOP") &
  [ -n "${PG_STOP:-}" ] && (eval "$PG_STOP") &
  wait
  rm -rf "$RUN_TMP"
  section "Done (exit $rc)"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A base port such that base..base+span are all free, so services started here do not
# collide with ones a developer already runs (e.g. on the scripts' default ports).
pick_port() {
  local base=$1 span=$2 p busy
  for _ in $(seq 1 40); do
    busy=0
    for p in $(seq "$base" $((base + span))); do
      if (exec 9<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then busy=1; break; fi
    done
    [ "$busy" = 0 ] && { echo "$base"; return 0; }
    base=$((base + 100))
  done
  die "no free port range found near $1"
}
pg_port="${PGPORT:-$(pick_port 25433 0)}"
s3_port="${S3_PORT:-$(pick_port 29000 30)}"

# Runs a service script and applies its `export` lines (its log goes to stderr).
start_service() {
  local name=$1 script=$2 out
  [ -f "$script" ] || die "$script is missing"
  echo "-- $name ($script)"
  out="$(bash "$script")" || die "$name did not start (see above)"
  eval "$out"
}
PGPORT="$pg_port" start_service PostgreSQL tests/services/pg-up.sh
S3_PORT="$s3_port" start_service "S3 server" tests/services/s3-up.sh
start_service "Docker engine" tests/services/dockerd-up.sh
for var in BERTH_TEST_DATABASE_URL BERTH_TEST_S3_ENDPOINT BERTH_TEST_S3_BUCKET \
  BERTH_TEST_S3_REGION BERTH_TEST_S3_ACCESS_KEY BERTH_TEST_S3_SECRET_KEY DOCKER_HOST; do
  [ -n "${!var:-}" ] || die "a service script did not set $var"
done
echo "Postgres on 127.0.0.1:$pg_port, S3 at $BERTH_TEST_S3_ENDPOINT, Docker at $DOCKER_HOST"

# ---------------------------------------------------------------------------------------
section "Tests (cargo test --workspace $*)"
if [ "$#" -gt 0 ]; then cargo test "$@"; else cargo test --workspace; fi
