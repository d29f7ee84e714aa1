# The metadata-scale part of tests/bench/compare.sh (`--metadata`), sourced by it after
# its helpers are defined (start_berth, start_berth_pg_s3, free_port, stop_pid,
# write_doc_section, the cleanup trap). Not meant to run on its own.
#
# Each backend keeps its dataset under target/bench/metadata-<backend>/ (the admin
# password, Berth's data directory, and for Postgres a pg_dump of the database, since
# tests/services/pg-up.sh starts a throwaway cluster), so the seeding, which takes many
# minutes at the small size, happens once; later runs find everything in place.

MD_ROOT="$ROOT/target/bench"
MD_RESULTS="$MD_ROOT/metadata-$STAMP.jsonl"
MD_ROWS=()
MD_TABLES=()
mkdir -p "$MD_ROOT"
: >"$MD_RESULTS"

# seed_and_measure NAME DIR PORT [SETTLE...]: seeds (resuming) and measures the Berth on
# PORT, pid $BERTH_PID; appends the JSON lines to $MD_RESULTS, the table to
# $WORK/md-NAME.md. SETTLE, when given, is a command run between the two.
seed_and_measure() {
  local name=$1 dir=$2 port=$3 pid=$BERTH_PID out seed_s created
  shift 3
  out="$WORK/md-$name.jsonl"
  log "$name: seeding the $MD_SCALE dataset (resumes; progress below)"
  "$BENCH_BIN" metadata --target "http://127.0.0.1:$port" --user admin --password "$PASSWORD" \
    --name "$name" --scale "$MD_SCALE" --seed-only "${EXTRA[@]}" >"$out"
  cat "$out" >>"$MD_RESULTS"
  seed_s=$(sed -n 's/.*"kind":"seed-total","seconds":\([0-9.]*\).*/\1/p' "$out")
  created=$(sed -n 's/.*"kind":"seed".*"created":\([0-9]*\).*/\1/p' "$out" | awk '{s += $1} END {print s + 0}')
  # The time of the run that created the dataset is kept; later runs only check it.
  if [ "$created" -gt 0 ]; then
    echo "$seed_s s ($(date -u '+%Y-%m-%d'), $created items created)" >"$dir/seeded-in"
  fi
  MD_ROWS+=("| $name | $(cat "$dir/seeded-in" 2>/dev/null || echo unknown) | $seed_s s |")
  [ $# -eq 0 ] || "$@"
  log "$name: measuring"
  "$BENCH_BIN" metadata --target "http://127.0.0.1:$port" --user admin --password "$PASSWORD" \
    --name "$name" --scale "$MD_SCALE" --measure-only --server-pid "$pid" \
    --markdown "$WORK/md-$name.md" "${EXTRA[@]}" >"$out" || MD_RC=$?
  cat "$out" >>"$MD_RESULTS"
  MD_TABLES+=("$name")
}

# settle_postgres: what autovacuum does within a minute or two of a database changing in
# bulk, done before measuring rather than during it. Berth's start migrates a dump saved
# by an older schema (migration 0007 rewrites every repository row) and a first seeding
# inserts everything; until a vacuum, the index-only scans of the listings visit the
# table for every entry (5,000 heap fetches on a deep repository page, 2.1 ms instead of
# 0.6) and the planner works from the statistics of the old shape. Measured without it,
# the listings at 16 clients were up to twice as slow, and autovacuum ran in the middle.
settle_postgres() {
  log "VACUUM ANALYZE after the migrations and the seeding"
  psql -q "$BERTH_TEST_DATABASE_URL" -c "VACUUM ANALYZE"
}

# migration_count: the migrations applied to the Postgres database of this run.
migration_count() {
  psql -qAt "$BERTH_TEST_DATABASE_URL" -c "SELECT COUNT(*) FROM _sqlx_migrations" 2>/dev/null || echo 0
}

# password_of DIR: the admin password of a cached dataset (made on first use).
password_of() {
  [ -s "$1/password" ] || printf 'Bench-%s-%s1\n' "$(date +%s)" "$RANDOM" >"$1/password"
  cat "$1/password"
}

MD_RC=0
BERTH_VERSION=$("$BERTH_BIN" --version 2>/dev/null | head -1 || echo berth)

# --- embedded (SQLite + local files) -----------------------------------------------------
MD_DIR="$MD_ROOT/metadata-$MD_SCALE-embedded"
mkdir -p "$MD_DIR"
PASSWORD=$(password_of "$MD_DIR")
MD_PORT=$(free_port)
start_berth berth "$MD_PORT" "$MD_DIR/data"
seed_and_measure berth "$MD_DIR" "$MD_PORT"
stop_pid "$BERTH_PID"

# --- Postgres + S3 -----------------------------------------------------------------------
if [ "$PG_S3" = 1 ]; then
  MD_DIR="$MD_ROOT/metadata-$MD_SCALE-pg-s3"
  mkdir -p "$MD_DIR"
  PASSWORD=$(password_of "$MD_DIR")
  PGPORT=$(free_port)
  eval "$(PGPORT=$PGPORT PGDB=berth_metadata bash tests/services/pg-up.sh)"
  PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  if [ -s "$MD_DIR/berth.dump" ]; then
    log "restoring the cached Postgres dataset"
    "$PGBIN/pg_restore" --no-owner -d "$BERTH_TEST_DATABASE_URL" "$MD_DIR/berth.dump"
    # A restore brings no planner statistics (without them Postgres planned the last
    # page of the repository listing badly, 1.3 s) and no visibility map (so every
    # COUNT(*) read the whole table instead of an index). A database in service has
    # both from autovacuum, which also runs after inserts; a fresh restore does not yet.
    psql -q "$BERTH_TEST_DATABASE_URL" -c "VACUUM ANALYZE"
  fi
  S3_PORT=$(free_port 30)
  eval "$(S3_PORT=$S3_PORT S3_BUCKET=berth-metadata bash tests/services/s3-up.sh)"
  MD_PORT=$(free_port)
  # The bucket is new every run: only the two tiny blobs every image shares live there,
  # and the listings measured never read them.
  MIGRATIONS_BEFORE=$(migration_count)
  start_berth_pg_s3 berth-pg-s3 "$MD_PORT" "$MD_DIR/data"
  seed_and_measure berth-pg-s3 "$MD_DIR" "$MD_PORT" settle_postgres
  stop_pid "$BERTH_PID"
  # Saved again when the seeding created something or Berth migrated the schema, so the
  # next run starts from this one's shape.
  if [ ! -s "$MD_DIR/berth.dump" ] || [ "$(migration_count)" != "$MIGRATIONS_BEFORE" ] \
    || [ -n "$(find "$MD_DIR/seeded-in" -newer "$MD_DIR/berth.dump" 2>/dev/null)" ]; then
    log "saving the Postgres dataset to $MD_DIR/berth.dump"
    "$PGBIN/pg_dump" -Fc -d "$BERTH_TEST_DATABASE_URL" -f "$MD_DIR/berth.dump"
  fi
fi

# --- docs/performance.md -----------------------------------------------------------------
if [ "$DOCS" = 1 ]; then
  CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
  SECTION="$WORK/md-section.md"
  {
    echo "<!-- metadata:begin (written by tests/bench/compare.sh --metadata; edits here are overwritten) -->"
    echo "### Latest metadata run"
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- Command: \`$COMMAND_LINE\`"
    echo "- Machine: $(nproc) cores ($CPU_MODEL), $(uname -sr); load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- Server: $BERTH_VERSION (\`$BERTH_BIN\`, RUST_LOG=warn)"
    echo "- Dataset: \`$(grep -m1 '"kind":"settings"' "$MD_RESULTS")\`"
    echo
    echo "Seeding (over HTTP, concurrency 16; the dataset is cached, so later runs only check it):"
    echo
    echo "| server | when the dataset was created | this run |"
    echo "|---|---|---|"
    printf '%s\n' "${MD_ROWS[@]}"
    for name in "${MD_TABLES[@]}"; do
      echo
      echo "**$name** (latency in ms; c = concurrent requests; the last column is the target at c=1):"
      echo
      cat "$WORK/md-$name.md"
    done
    echo
    echo "<!-- metadata:end -->"
  } >"$SECTION"
  write_doc_section metadata "$SECTION" "Metadata scale: latest results"
fi
log "JSON lines in $MD_RESULTS"
[ "$MD_RC" = 0 ] || log "berth-bench metadata exit $MD_RC: some requests failed (see the table)"
