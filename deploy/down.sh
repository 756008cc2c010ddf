#!/usr/bin/env bash
# Stops what deploy/up.sh started: dvsconfd (SIGTERM), vcsim, PostgreSQL.
# Idempotent: stopping a stack that is not (or only partly) up is fine.
#
#   deploy/down.sh [--state DIR] [--purge]
#
#   --state DIR  the state dir given to up.sh (default deploy/.state)
#   --purge      also delete the PostgreSQL data and the state dir
# Exit status 1 if dvsconfd did not exit 0 on SIGTERM or something would not stop.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=deploy/lib/pg.sh
source "$ROOT/deploy/lib/pg.sh"

STATE=$ROOT/deploy/.state purge=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --state) STATE=$2; shift ;;
    --purge) purge=1 ;;
    -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
    *) echo "down.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ -d "$STATE" ]] || { echo "down.sh: nothing to stop ($STATE does not exist)"; exit 0; }
rc=0

# running PID: the process exists and is not a zombie waiting to be reaped
running() {
  local st
  kill -0 "$1" 2>/dev/null || return 1
  st=$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ $st != Z && $st != X ]]
}

# stop NAME PATTERN TIMEOUT: SIGTERM the pid in STATE/NAME.pid (if it still runs a
# program matching PATTERN), wait, SIGKILL after TIMEOUT seconds. Reports the exit
# status that up.sh's watcher wrote to STATE/NAME.exit.
stop() {
  local name=$1 pat=$2 timeout=$3 pid i status
  pid=$(cat "$STATE/$name.pid" 2>/dev/null) || return 0
  if [[ -n "$pid" ]] && running "$pid" \
     && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pat"; then
    kill -TERM "$pid"
    for ((i = 0; i < timeout * 10; i++)); do
      running "$pid" || break
      sleep 0.1
    done
    if running "$pid"; then
      echo "down.sh: $name (pid $pid) still running ${timeout}s after SIGTERM: SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null
      rc=1
    fi
    for ((i = 0; i < 50; i++)); do [[ -s "$STATE/$name.exit" ]] && break; sleep 0.1; done
    status=$(cat "$STATE/$name.exit" 2>/dev/null || echo unknown)
    echo "down.sh: stopped $name (pid $pid, exit status $status)"
    if [[ $name == dvsconfd && $status != 0 && $status != unknown ]]; then
      echo "down.sh: dvsconfd exited with status $status on SIGTERM (expected 0); log: $STATE/dvsconfd.log" >&2
      rc=1
    fi
  fi
  rm -f "$STATE/$name.pid"
}

stop dvsconfd dvsconfd 30
stop vcsim "$(cat "$STATE/vcsim.bin" 2>/dev/null || echo vcsim)" 15

if [[ -s "$STATE/pg.dir" ]]; then
  pgdir=$(cat "$STATE/pg.dir")
  if pg_stop "$pgdir"; then
    echo "down.sh: stopped PostgreSQL in $pgdir"
    rm -f "$STATE/pg.dir"
  else
    rc=1
  fi
fi
rm -f "$STATE/env"

if ((purge)); then
  pgdir=$(cat "$STATE/pg.dir.keep" 2>/dev/null || true)
  if [[ -n "$pgdir" && -d "$pgdir" ]]; then
    pg_stop "$pgdir" && rm -rf "$pgdir" || rc=1
  fi
  rm -rf "$STATE"
  echo "down.sh: purged $STATE"
fi
exit $rc
