#!/usr/bin/env bash
# Starts a private Docker engine for the end-to-end tests: rootful dockerd on its own unix
# socket, vfs storage, no bridge and no iptables rules, with its data root, exec root and
# pidfile in a fresh temp directory, so it never touches a system dockerd or its state.
# Installs `docker.io` (for dockerd) and `skopeo` from apt when they are missing.
#
# Prints only `export` lines on stdout; everything else goes to stderr:
#
#   eval "$(bash tests/services/dockerd-up.sh)"
#   docker version                     # talks to the private engine via DOCKER_HOST
#   eval "$DOCKERD_STOP"               # TERM, then KILL after ~30 s; unmount; remove the dir
set -euo pipefail

# fd 3 is the caller's stdout and receives only the export lines, so `eval "$(...)"` never
# executes log output.
exec 3>&1 1>&2

log() { printf 'dockerd-up: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- packages ---------------------------------------------------------------------------
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v skopeo >/dev/null 2>&1 || need+=(skopeo)
if [ "${#need[@]}" -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing ${need[*]} and not root: install them first"
  # Without a policy-rc.d (a bare machine), docker.io's postinst would start a system-wide
  # dockerd on /var/run/docker.sock. Forbid service starts for the duration of the install.
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  log "installing ${need[*]} from apt"
  rc=0
  {
    apt-get update -qq -o DPkg::Lock::Timeout=300 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 \
        --no-install-recommends "${need[@]}" >/dev/null
  } || rc=$?
  [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "$rc" = 0 ] || die "apt-get install ${need[*]} failed (exit $rc)"
fi
command -v dockerd >/dev/null || die "dockerd not found after installing docker.io"
command -v docker >/dev/null || die "docker CLI not found"

# --- start ------------------------------------------------------------------------------
DK="$(mktemp -d /tmp/berth-dockerd.XXXXXX)"
SOCK="$DK/docker.sock"
PID=""
started=0

# Stops the engine and removes its directory. dockerd stops the containerd it spawned on
# TERM, but after a KILL that containerd survives, so it is ended by its own pidfile too.
# dockerd also leaves the netns/default nsfs mount behind, without which `rm -rf` fails
# with "Device or resource busy".
stop_engine() {
  local pid cpid
  pid="$(cat "$DK/dockerd.bgpid" 2>/dev/null || true)"
  cpid="$(cat "$DK/exec/containerd/containerd.pid" 2>/dev/null || true)"
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  [ -n "$cpid" ] && kill -KILL "$cpid" 2>/dev/null || true
  umount "$DK/exec/netns/default" 2>/dev/null || true
  rm -rf "$DK"
}

cleanup_on_failure() {
  [ "$started" = 1 ] && return 0
  if [ -f "$DK/dockerd.log" ]; then
    log "last lines of $DK/dockerd.log:"
    tail -40 "$DK/dockerd.log" >&2
  fi
  stop_engine
}
trap cleanup_on_failure EXIT

log "starting $(dockerd --version) in $DK"
# All standard fds and fd 3 are detached from the caller: a child holding the command
# substitution's pipe open would make `eval "$(...)"` hang until dockerd exits.
nohup dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
  --data-root "$DK/data" --exec-root "$DK/exec" --pidfile "$DK/dockerd.pid" \
  -H "unix://$SOCK" </dev/null >"$DK/dockerd.log" 2>&1 3>&- &
PID=$!
echo "$PID" >"$DK/dockerd.bgpid"

# --- wait until the API answers ---------------------------------------------------------
# A throwaway DOCKER_CONFIG keeps the probe from reading the caller's ~/.docker.
probe_config="$DK/probe-config"
mkdir -p "$probe_config"
ready=0
for _ in $(seq 1 240); do
  if DOCKER_HOST="unix://$SOCK" DOCKER_CONFIG="$probe_config" \
    docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
    ready=1
    break
  fi
  kill -0 "$PID" 2>/dev/null || die "dockerd exited during startup"
  sleep 0.25
done
[ "$ready" = 1 ] || die "dockerd not answering on $SOCK after 60 s"
started=1
log "ready: $(DOCKER_HOST="unix://$SOCK" DOCKER_CONFIG="$probe_config" docker version \
  --format 'dockerd {{.Server.Version}} (API {{.Server.APIVersion}}), client {{.Client.Version}}') pid=$PID"

# --- hand over --------------------------------------------------------------------------
# The same steps as stop_engine, as one line for the caller to eval. It runs in a subshell
# so it leaves no variables behind, and ends with `true` so a caller under `set -e` is not
# stopped by it. $DK comes from mktemp (letters, digits, dots, slashes): no quoting needed.
stop="(pid=\$(cat $DK/dockerd.bgpid 2>/dev/null); cpid=\$(cat $DK/exec/containerd/containerd.pid 2>/dev/null);"
stop+=" if [ -n \"\$pid\" ]; then kill \$pid 2>/dev/null; for _ in \$(seq 1 60); do kill -0 \$pid 2>/dev/null || break; sleep 0.5; done; kill -KILL \$pid 2>/dev/null; fi;"
stop+=" [ -n \"\$cpid\" ] && kill -KILL \$cpid 2>/dev/null;"
stop+=" umount $DK/exec/netns/default 2>/dev/null; rm -rf $DK; true)"
case "$stop" in *"'"*) die "internal error: stop command must not contain single quotes" ;; esac
{
  printf 'export DOCKER_HOST=%q\n' "unix://$SOCK"
  printf "export DOCKERD_STOP='%s'\n" "$stop"
} >&3
