#!/usr/bin/env bash
# Berth next to the reference registry (Debian's docker-registry, CNCF distribution), in
# one run, with the same load tool (berth-bench) and the same repository names:
#
#   1. installs docker-registry and apache2-utils from apt when missing (needs root);
#   2. builds target/release/berth and target/release/berth-bench (cargo build --release
#      -p gateway -p loadgen; a no-op when they are up to date);
#   3. starts, each on a free 127.0.0.1 port and each in its own temporary directory:
#        - the reference registry with htpasswd (Basic) auth,
#        - Berth on its embedded default (SQLite + local files), token auth,
#        - with --pg-s3: Berth on PostgreSQL + S3 (tests/services/pg-up.sh, s3-up.sh);
#   4. measures how long each takes from start to answering /v2/;
#   5. runs every berth-bench scenario on each (reference first: ratios are to it), with
#      the server PIDs so CPU per request and RSS are reported; with --pg-s3 it then
#      starts a second reference registry on the same S3 server as Berth and runs the
#      storage-bound scenarios on that pair, so S3 figures are compared like for like;
#   6. writes the tables, the machine and the command into docs/performance.md (between
#      the "bench:begin" and "bench:end" markers) and the raw JSON lines under
#      target/bench/;
#   7. stops everything it started (also on failure or Ctrl-C).
#
# With --metadata it runs the metadata-scale scenario instead (no reference registry:
# the scenario needs Harbor's API): Berth on the embedded default (and with --pg-s3 on
# Postgres + S3) on a data directory kept under target/bench/metadata-<backend>/, so the
# dataset (Harbor's "small": 100 projects, 10,000 repositories, 100,000 artifacts,
# 500,000 tags) is seeded once and reused; then `berth-bench metadata` measures the list
# endpoints and the table goes between the "metadata:begin" and "metadata:end" markers.
# Delete target/bench/metadata-* to seed again (e.g. after a schema change).
#
# Usage:
#   bash tests/bench/compare.sh                 # full sizes (512 MiB blob, 10,000 tags, ...)
#   bash tests/bench/compare.sh --quick         # small sizes, about two minutes
#   bash tests/bench/compare.sh --pg-s3         # also Berth on Postgres + S3
#   bash tests/bench/compare.sh --no-docs       # leave docs/performance.md alone
#   bash tests/bench/compare.sh --metadata      # metadata-scale list endpoints (seeds once)
#   bash tests/bench/compare.sh --metadata --metadata-scale tiny   # 1/100 of it, quick
#   bash tests/bench/compare.sh -- -d 5s --scenarios get-manifest,head-manifest
#                                               # anything after -- goes to berth-bench
# Environment: BERTH_BIN, BENCH_BIN (binaries to use instead of target/release/...),
# DOC (the file to write, default docs/performance.md).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT="$PWD"
COMMAND_LINE="bash tests/bench/compare.sh${*:+ $*}"
for v in DOC BENCH_BIN BERTH_BIN; do
  [ -n "${!v:-}" ] && COMMAND_LINE="$v=${!v} $COMMAND_LINE"
done

log() { printf 'compare: %s\n' "$*" >&2; }
die() { printf 'compare: error: %s\n' "$*" >&2; exit 1; }

QUICK=0; PG_S3=0; DOCS=1; EXTRA=(); METADATA=0; MD_SCALE=small
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --metadata) METADATA=1 ;;
    --metadata-scale) shift; MD_SCALE="${1:-}"
      case "$MD_SCALE" in small|tiny) ;; *) die "--metadata-scale: small or tiny" ;; esac ;;
    --pg-s3) PG_S3=1 ;;
    --no-docs) DOCS=0 ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
  shift
done

DOC="${DOC:-docs/performance.md}"
BUILD=()
[ -n "${BERTH_BIN:-}" ] || BUILD+=(-p gateway)
[ -n "${BENCH_BIN:-}" ] || BUILD+=(-p loadgen)
BERTH_BIN="${BERTH_BIN:-target/release/berth}"
BENCH_BIN="${BENCH_BIN:-target/release/berth-bench}"

# --- tools ------------------------------------------------------------------------------
need=()
if [ "$METADATA" = 0 ]; then
  command -v docker-registry >/dev/null || need+=(docker-registry)
  command -v htpasswd >/dev/null || need+=(apache2-utils)
fi
command -v curl >/dev/null || need+=(curl)
if [ "${#need[@]}" -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing packages (${need[*]}) and not root: install them first"
  log "installing ${need[*]}"
  apt-get update -qq -o DPkg::Lock::Timeout=300 >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 \
    --no-install-recommends "${need[@]}" >&2
fi
# Built every time (a no-op when up to date) unless given: stale binaries would measure
# old code.
if [ "${#BUILD[@]}" -gt 0 ]; then
  log "cargo build --release ${BUILD[*]}"
  cargo build --release "${BUILD[@]}" >&2
fi
[ -x "$BERTH_BIN" ] || die "$BERTH_BIN not found"
[ -x "$BENCH_BIN" ] || die "$BENCH_BIN not found"

# --- bookkeeping: everything started here is stopped on exit ----------------------------
WORK="$(mktemp -d /tmp/berth-bench.XXXXXX)"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
PIDS=()
PG_STOP=""; S3_STOP=""
stop_pid() {
  local pid=$1 i
  kill "$pid" 2>/dev/null || return 0
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  set +e
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  [ -n "$S3_STOP" ] && (eval "$S3_STOP")
  [ -n "$PG_STOP" ] && (eval "$PG_STOP")
  # Keep the server logs next to the results (Berth logs warnings and errors only).
  mkdir -p "$ROOT/target/bench"
  [ -f "$WORK/ref/log" ] && cp "$WORK/ref/log" "$ROOT/target/bench/$STAMP-reference.log"
  for f in "$WORK"/*.log; do
    [ -f "$f" ] && cp "$f" "$ROOT/target/bench/$STAMP-$(basename "$f")"
  done
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 9<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# A free port, optionally with the next $2 ports free as well (the S3 server uses p+20..p+30).
free_port() {
  local span=${1:-0} p i ok low
  # Below the kernel's range for outgoing connections' local ports: a port picked there
  # can be taken by some client's connection before the server binds it (a SeaweedFS
  # start failed that way).
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  [ "$low" -gt 12000 ] 2>/dev/null || low=32768
  for _ in $(seq 1 200); do
    p=$((10000 + RANDOM % (low - 10000 - 40))); ok=1
    port_free "$p" || continue
    if [ "$span" -gt 0 ]; then
      for i in $(seq 20 "$span"); do port_free $((p + i)) || { ok=0; break; }; done
    fi
    [ "$ok" = 1 ] && { echo "$p"; return 0; }
  done
  die "no free port found"
}
# write_doc_section NAME SECTION_FILE HEADING: replaces the part of $DOC between the
# "<!-- NAME:begin" and "<!-- NAME:end -->" markers with SECTION_FILE (which carries the
# markers itself), or appends it under HEADING when the markers are missing.
write_doc_section() {
  local name=$1 section=$2 heading=$3
  if [ -f "$DOC" ] && grep -q "<!-- $name:begin" "$DOC" && grep -q "<!-- $name:end -->" "$DOC"; then
    awk -v section="$section" -v begin="<!-- $name:begin" -v end="<!-- $name:end -->" '
      index($0, begin) == 1 { while ((getline line < section) > 0) print line; skip = 1; next }
      index($0, end) == 1 { skip = 0; next }
      !skip { print }
    ' "$DOC" >"$WORK/doc.md"
  else
    { [ -f "$DOC" ] && cat "$DOC" && echo; echo "## $heading"; echo; cat "$section"; } >"$WORK/doc.md"
  fi
  cp "$WORK/doc.md" "$DOC"
  log "wrote $DOC"
}

now_ns() { date +%s%N; }
# VmRSS of a process in MiB.
rss_mib() { awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$1/status" 2>/dev/null; }
# Waits for /v2/ on a port; prints milliseconds since $2 (ns). Fails if the pid $3 died.
wait_ready() {
  local port=$1 since=$2 pid=$3 out
  if ! out=$("$BENCH_BIN" wait-ready --url "http://127.0.0.1:$port" --since-ns "$since" --timeout 60s); then
    kill -0 "$pid" 2>/dev/null || die "server (pid $pid) exited during start"
    die "server on port $port not ready after 60 s"
  fi
  sed -n 's/.*"ms":\([0-9.]*\).*/\1/p' <<<"$out"
}
# Berth runs without the ambient AWS_* variables (they can point the S3 client elsewhere).
UNSET_AWS=()
for v in $(compgen -e | grep '^AWS_' || true); do UNSET_AWS+=(-u "$v"); done

PASSWORD="bench-$(date +%s)-$RANDOM"
READY_LINES=()

# --- Berth ------------------------------------------------------------------------------
# start_berth NAME PORT DATA_DIR [VAR=VALUE...]: starts it, sets BERTH_PID, prints ready ms.
start_berth() {
  local name=$1 port=$2 data=$3 t
  shift 3
  mkdir -p "$data"
  port_free "$port" || die "port $port is taken"
  t=$(now_ns)
  # `env` execs the server, so $! is the server's own PID (the one to measure and stop).
  env "${UNSET_AWS[@]}" RUST_LOG=warn BERTH_ADMIN_PASSWORD="$PASSWORD" \
    BERTH_LISTEN="127.0.0.1:$port" BERTH_DATA_DIR="$data" "$@" \
    "$BERTH_BIN" serve >>"$data.log" 2>&1 </dev/null &
  BERTH_PID=$!
  PIDS+=("$BERTH_PID")
  READY_MS=$(wait_ready "$port" "$t" "$BERTH_PID")
  [ "$(cat "/proc/$BERTH_PID/comm" 2>/dev/null)" = berth ] || die "$name did not stay up (see $data.log)"

  READY_RSS=$(rss_mib "$BERTH_PID")
  log "$name: pid $BERTH_PID on 127.0.0.1:$port, ready in $READY_MS ms, RSS $READY_RSS MiB"
}
# make_robot PORT: a pull robot in library; prints "name secret" (empty if unsupported).
# start_berth_pg_s3 NAME PORT DATA_DIR: start_berth on the Postgres and S3 server that
# tests/services/pg-up.sh and s3-up.sh exported.
start_berth_pg_s3() {
  start_berth "$1" "$2" "$3" \
    BERTH_DATABASE_URL="$BERTH_TEST_DATABASE_URL" \
    BERTH_S3_ENDPOINT="$BERTH_TEST_S3_ENDPOINT" BERTH_S3_BUCKET="$BERTH_TEST_S3_BUCKET" \
    BERTH_S3_REGION="$BERTH_TEST_S3_REGION" BERTH_S3_ACCESS_KEY="$BERTH_TEST_S3_ACCESS_KEY" \
    BERTH_S3_SECRET_KEY="$BERTH_TEST_S3_SECRET_KEY" BERTH_S3_ALLOW_HTTP=true
}

make_robot() {
  local port=$1 body
  body=$(curl -s --max-time 10 -u "admin:$PASSWORD" -H 'Content-Type: application/json' \
    -X POST "http://127.0.0.1:$port/api/v2.0/robots" -d '{
      "name": "bench", "duration": -1, "level": "project",
      "permissions": [{"kind": "project", "namespace": "library",
                       "access": [{"resource": "repository", "action": "pull"}]}]}' || true)
  local rname secret
  rname=$(sed -n 's/.*"name" *: *"\([^"]*\)".*/\1/p' <<<"$body")
  secret=$(sed -n 's/.*"secret" *: *"\([^"]*\)".*/\1/p' <<<"$body")
  [ -n "$rname" ] && [ -n "$secret" ] && printf '%s %s\n' "$rname" "$secret"
}

# --- the metadata-scale scenario (--metadata) ------------------------------------------
if [ "$METADATA" = 1 ]; then
  . tests/bench/metadata.sh
  exit "$MD_RC"
fi

# --- the reference registry -------------------------------------------------------------
REF_PORT=$(free_port)
mkdir -p "$WORK/ref"
htpasswd -Bbn bench "$PASSWORD" >"$WORK/ref/htpasswd"
cat >"$WORK/ref/config.yml" <<EOF
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $WORK/ref/data}
  delete: {enabled: true}
http: {addr: 127.0.0.1:$REF_PORT}
auth:
  htpasswd: {realm: registry, path: $WORK/ref/htpasswd}
EOF
t0=$(now_ns)
docker-registry serve "$WORK/ref/config.yml" >"$WORK/ref/log" 2>&1 </dev/null &
REF_PID=$!; PIDS+=("$REF_PID")
ms=$(wait_ready "$REF_PORT" "$t0" "$REF_PID")
READY_LINES+=("| reference (docker-registry $(docker-registry --version 2>/dev/null | awk '{print $3}')) | first start | $ms | $(rss_mib "$REF_PID") |")
log "reference registry: pid $REF_PID on 127.0.0.1:$REF_PORT, ready in $ms ms"

BERTH_VERSION=$("$BERTH_BIN" --version 2>/dev/null | head -1 || echo berth)
B1_PORT=$(free_port)
# First start (creates the database, runs migrations, hashes the admin password), then a
# restart on the same data: both times are reported.
start_berth berth "$B1_PORT" "$WORK/berth"
READY_LINES+=("| Berth, embedded | first start (new data directory) | $READY_MS | $READY_RSS |")
stop_pid "$BERTH_PID"
for _ in $(seq 1 50); do port_free "$B1_PORT" && break; sleep 0.1; done
start_berth berth "$B1_PORT" "$WORK/berth"
READY_LINES+=("| Berth, embedded | restart on existing data | $READY_MS | $READY_RSS |")
B1_PID=$BERTH_PID

TARGETS=(--target "http://127.0.0.1:$REF_PORT" --name reference --user bench --password "$PASSWORD" --server-pid "$REF_PID"
         --target "http://127.0.0.1:$B1_PORT" --name berth --user admin --password "$PASSWORD" --server-pid "$B1_PID")
TOKEN_USERS=(bench); TOKEN_PASSWORDS=("$PASSWORD")
if robot=$(make_robot "$B1_PORT"); then
  TOKEN_USERS+=("${robot%% *}"); TOKEN_PASSWORDS+=("${robot#* }")
  TOKEN_ACCOUNT="robot account \`${robot%% *}\` (pull on library)"
else
  TOKEN_USERS+=(admin); TOKEN_PASSWORDS+=("$PASSWORD")
  TOKEN_ACCOUNT="admin (the robot API was not available)"
fi

if [ "$PG_S3" = 1 ]; then
  PGPORT=$(free_port)
  eval "$(PGPORT=$PGPORT PGDB=berth_bench bash tests/services/pg-up.sh)"
  S3_PORT=$(free_port 30)
  eval "$(S3_PORT=$S3_PORT S3_BUCKET=berth-bench bash tests/services/s3-up.sh)"
  B2_PORT=$(free_port)
  start_berth_pg_s3 berth-pg-s3 "$B2_PORT" "$WORK/berth-pg"
  READY_LINES+=("| Berth, Postgres + S3 | first start (empty database) | $READY_MS | $READY_RSS |")
  TARGETS+=(--target "http://127.0.0.1:$B2_PORT" --name berth-pg-s3 --user admin --password "$PASSWORD" --server-pid "$BERTH_PID")
  if robot=$(make_robot "$B2_PORT"); then
    TOKEN_USERS+=("${robot%% *}"); TOKEN_PASSWORDS+=("${robot#* }")
  else
    TOKEN_USERS+=(admin); TOKEN_PASSWORDS+=("$PASSWORD")
  fi
fi
TOKEN_ARGS=()
for i in "${!TOKEN_USERS[@]}"; do
  TOKEN_ARGS+=(--token-user "${TOKEN_USERS[$i]}" --token-password "${TOKEN_PASSWORDS[$i]}")
done

SIZE_ARGS=()
if [ "$QUICK" = 1 ]; then
  SIZE_ARGS=(--blob-size 64MiB --chunk-size 16MiB --images 50 -c 32 -d 3s --tags 2000 --repos 200)
fi

# --- the disk, for scale: 512 MiB written with fsync where the registries keep data ------
DISK_WRITE=$(dd if=/dev/zero of="$WORK/dd.bin" bs=1M count=512 conv=fsync 2>&1 | tail -1 |
  sed -n 's/.*, \([0-9.,]* [kMG]B\/s\)$/\1/p')
rm -f "$WORK/dd.bin"
log "disk write with fsync: ${DISK_WRITE:-unknown}"

# --- run --------------------------------------------------------------------------------
# CPU bookkeeping, to tell how busy the machine was with other work during the run.
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
busy_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
servers_ticks() {
  local pid sum=0 t
  for pid in "${SERVER_PIDS[@]}"; do
    t=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12+$13}')
    sum=$((sum + ${t:-0}))
  done
  echo "$sum"
}
# CPU seconds of this shell's finished children (`times` must run in this shell itself,
# not in a command substitution's subshell).
children_cpu() {
  times >"$WORK/times"
  tail -1 "$WORK/times" | awk '{split($1,a,"m"); split($2,b,"m"); print a[1]*60+a[2]+b[1]*60+b[2]}'
}
SERVER_PIDS=("$REF_PID" "$B1_PID")
[ "$PG_S3" = 1 ] && SERVER_PIDS+=("$BERTH_PID")

mkdir -p target/bench
RESULTS="target/bench/results-$STAMP.jsonl"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log "running berth-bench; JSON lines go to $RESULTS"
BUSY0=$(busy_ticks); SRV0=$(servers_ticks); children_cpu >"$WORK/c0"; T0=$(date +%s.%N)
set +e
"$BENCH_BIN" "${TARGETS[@]}" "${TOKEN_ARGS[@]}" "${SIZE_ARGS[@]}" "${EXTRA[@]}" \
  --markdown "$WORK/tables.md" >"$RESULTS"
BENCH_RC=$?
set -e
BUSY1=$(busy_ticks); SRV1=$(servers_ticks); children_cpu >"$WORK/c1"; T1=$(date +%s.%N)
CHILD0=$(cat "$WORK/c0"); CHILD1=$(cat "$WORK/c1")
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
CPU_LINE=$(awk -v b0="$BUSY0" -v b1="$BUSY1" -v s0="$SRV0" -v s1="$SRV1" -v c0="$CHILD0" \
  -v c1="$CHILD1" -v t0="$T0" -v t1="$T1" -v hz="$HZ" -v cores="$(nproc)" 'BEGIN {
    wall = t1 - t0; busy = (b1 - b0) / hz; srv = (s1 - s0) / hz; tool = c1 - c0
    other = busy - srv - tool; if (other < 0) other = 0
    printf "%.0f s wall; CPU busy %.0f core-s of %.0f available: servers %.0f, berth-bench %.0f, everything else %.0f (%.0f%% of the machine)",
      wall, busy, wall * cores, srv, tool, other, 100 * other / (wall * cores) }')
log "$CPU_LINE"
[ -s "$WORK/tables.md" ] || die "berth-bench wrote no tables (exit $BENCH_RC)"
[ "$BENCH_RC" = 0 ] || log "berth-bench exit $BENCH_RC: some scenarios failed (see the table)"
SETTINGS=$(head -1 "$RESULTS")

# --- with --pg-s3: both registries on the same S3 server ---------------------------------
# The main run compares Berth on S3 with the reference on local files, which says more
# about SeaweedFS on these cores than about either registry. Here the reference stores
# into the same SeaweedFS (its own prefix of Berth's bucket). Its S3 driver answers blob
# GETs with a redirect to a presigned S3 URL by default; that is disabled, so both serve
# the bytes themselves, as Berth does.
S3_SCENARIOS=push-blob,push-blob-chunked,pull-blob,push-images
if [ "$PG_S3" = 1 ]; then
  REF_S3_PORT=$(free_port)
  mkdir -p "$WORK/ref-s3"
  cat >"$WORK/ref-s3/config.yml" <<EOF
version: 0.1
log: {level: warn}
storage:
  s3:
    accesskey: $BERTH_TEST_S3_ACCESS_KEY
    secretkey: $BERTH_TEST_S3_SECRET_KEY
    region: $BERTH_TEST_S3_REGION
    regionendpoint: $BERTH_TEST_S3_ENDPOINT
    bucket: $BERTH_TEST_S3_BUCKET
    rootdirectory: /reference
    secure: false
    v4auth: true
  redirect: {disable: true}
  delete: {enabled: true}
http: {addr: 127.0.0.1:$REF_S3_PORT}
auth:
  htpasswd: {realm: registry, path: $WORK/ref/htpasswd}
EOF
  # The ambient AWS_* variables (a CA bundle, say) would reconfigure its S3 client too.
  env "${UNSET_AWS[@]}" docker-registry serve "$WORK/ref-s3/config.yml" >"$WORK/ref-s3/log" 2>&1 </dev/null &
  REF_S3_PID=$!; PIDS+=("$REF_S3_PID")
  wait_ready "$REF_S3_PORT" "$(now_ns)" "$REF_S3_PID" >/dev/null
  log "reference registry on S3: pid $REF_S3_PID on 127.0.0.1:$REF_S3_PORT; running $S3_SCENARIOS"
  set +e
  "$BENCH_BIN" --target "http://127.0.0.1:$REF_S3_PORT" --name reference-s3 --user bench \
    --password "$PASSWORD" --server-pid "$REF_S3_PID" \
    --target "http://127.0.0.1:$B2_PORT" --name berth-pg-s3 --user admin \
    --password "$PASSWORD" --server-pid "$BERTH_PID" \
    --scenarios "$S3_SCENARIOS" --repo-prefix library/bench-s3 "${SIZE_ARGS[@]}" "${EXTRA[@]}" \
    --markdown "$WORK/s3-tables.md" >>"$RESULTS"
  S3_RC=$?
  set -e
  [ "$S3_RC" = 0 ] || { log "berth-bench on S3 exit $S3_RC"; BENCH_RC=$S3_RC; }
  stop_pid "$REF_S3_PID"
fi

# --- docs/performance.md ----------------------------------------------------------------
if [ "$DOCS" = 1 ]; then
  CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
  SECTION="$WORK/section.md"
  {
    echo "<!-- bench:begin (written by tests/bench/compare.sh; edits here are overwritten) -->"
    echo "### Latest run"
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- Command: \`$COMMAND_LINE\`"
    echo "- Machine: $(nproc) cores ($CPU_MODEL), $(uname -sr)"
    echo "- Load average (1, 5, 15 min) before: $LOAD_BEFORE; after: $LOAD_AFTER"
    echo "- CPU during the suite: $CPU_LINE. \"Everything else\" includes Postgres and SeaweedFS when \`--pg-s3\` is on, and any other work on the machine."
    echo "- Disk: 512 MiB written with \`dd conv=fsync\` in the data directory's file system: ${DISK_WRITE:-unknown}"
    echo "- Servers: $BERTH_VERSION (\`$BERTH_BIN\`, RUST_LOG=warn); docker-registry $(docker-registry --version 2>/dev/null | awk '{print $3}') (log level warn, htpasswd bcrypt)"
    echo "- Token scenario account on Berth: $TOKEN_ACCOUNT"
    echo "- Settings: \`$SETTINGS\`"
    echo
    echo '```'
    free -h
    echo '```'
    echo
    echo "Start to ready (from process start to the first answer on \`/v2/\`, polled every 2 ms), and RSS at that moment, before any authenticated request:"
    echo
    echo "| server | start | ms | RSS MiB |"
    echo "|---|---|---|---|"
    printf '%s\n' "${READY_LINES[@]}"
    echo
    echo "Main figures (higher is better; the ratio columns divide by the reference):"
    echo
    cat "$WORK/tables.md"
    if [ -s "$WORK/s3-tables.md" ]; then
      echo
      echo "#### Both on the same S3 server"
      echo
      echo "The reference registry (S3 driver, \`redirect: disable\` so it serves blobs itself as Berth does) and Berth on Postgres + S3, storing into the same SeaweedFS; ratios divide by reference-s3:"
      echo
      cat "$WORK/s3-tables.md"
    fi
    echo
    echo "<!-- bench:end -->"
  } >"$SECTION"
  write_doc_section bench "$SECTION" "Latest results"
fi
exit "$BENCH_RC"
