#!/usr/bin/env bash
# The test command: installs missing packages, builds, runs the unit tests and
# every integration suite that exists, against a throw-away PostgreSQL cluster.
#
#   tests/run.sh [--asan] [--no-deps] [SUITE...]
#
#   --asan     also build build-asan/ (-DDVSCONF_SANITIZE=ON) and run every suite
#              again against it
#   --no-deps  do not run deploy/install-deps.sh
#   DVSCONF_BUILD_DIR=dir  build there instead of build/ (asan: dir-asan)
#   SUITE      run only these: unit, or the name of a folder tests/NAME/ that
#              has a run.sh (default: all)
#
# Suites: unit (ctest in the build dir) and every tests/NAME/run.sh (vsphere,
# integration, python first, then the others by name). Each suite gets
#   PGURI          a fresh database of its own on the private cluster
#   DVSCONF_BUILD  the build dir (absolute), DVSCONF_ROOT the repo root
#   VCSIM_LAUNCHER the vcsim launcher binary, when deploy/vcsim/build.sh exists
#   DVSCONF_SANITIZE  1 in the --asan pass (valgrind cannot run ASan binaries)
# A suite is failed when its script exits non-zero, fails to start, or runs
# longer than DVSCONF_SUITE_TIMEOUT seconds (default 1500).
# Last line: "summary: N passed, M failed"; exit status 0 only if M is 0.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2

asan=0 deps=1 only=()
for a in "$@"; do
  case $a in
    --asan) asan=1 ;;
    --no-deps) deps=0 ;;
    -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
    -*) echo "tests/run.sh: unknown option '$a' (see --help)" >&2; exit 2 ;;
    unit) only+=("$a") ;;
    *) [[ -f "$ROOT/tests/$a/run.sh" ]] || { echo "tests/run.sh: no suite '$a' (no tests/$a/run.sh)" >&2; exit 2; }
       only+=("$a") ;;
  esac
done
wanted() { [[ ${#only[@]} -eq 0 ]] || [[ " ${only[*]} " == *" $1 "* ]]; }

SUITE_TIMEOUT=${DVSCONF_SUITE_TIMEOUT:-1500}
passed=() failed=()
PG_TMP=""

log() { printf '\n==== %s ====\n' "$*"; }
pass() { passed+=("$1"); echo "---- PASS $1"; }
fail() { failed+=("$1"); echo "---- FAIL $1${2:+: $2}"; }

summary() {
  echo
  echo "==== results ===="
  local s
  for s in "${passed[@]}"; do echo "  PASS $s"; done
  for s in "${failed[@]}"; do echo "  FAIL $s"; done
  echo "summary: ${#passed[@]} passed, ${#failed[@]} failed"
}

cleanup() {
  if [[ -n "$PG_TMP" ]]; then
    pg_destroy "$PG_TMP" || echo "tests/run.sh: could not stop PostgreSQL in $PG_TMP" >&2
    PG_TMP=""
  fi
}
trap cleanup EXIT
trap 'echo "tests/run.sh: interrupted" >&2; cleanup; exit 130' INT TERM

# shellcheck source=deploy/lib/pg.sh
source "$ROOT/deploy/lib/pg.sh"

if ((deps)); then
  log "dependencies"
  if ! "$ROOT/deploy/install-deps.sh"; then
    fail deps "deploy/install-deps.sh failed"; summary; exit 1
  fi
fi

# build DIR [cmake args...] -> 0 if configured and built
build() {
  local dir=$1; shift
  log "build $dir"
  cmake -S "$ROOT" -B "$ROOT/$dir" "$@" && cmake --build "$ROOT/$dir" -j2
}

# new_db NAME: a fresh database t_NAME on the private cluster; URI in SUITE_URI
SUITE_URI=""
new_db() {
  local db="t_${1//[^a-z0-9]/_}"
  SUITE_URI=""
  [[ -n "$PG_TMP" ]] || { echo "tests/run.sh: PostgreSQL is not running" >&2; return 1; }
  "$PG_BIN/psql" "postgresql://postgres@127.0.0.1:$PG_PORT/postgres" -XqAt -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null || return 1
  SUITE_URI="postgresql://postgres@127.0.0.1:$PG_PORT/$db"
}

# run_suite NAME BUILD_DIR SCRIPT: one integration suite, its own database
run_suite() {
  local name=$1 bdir=$2 script=$3 rc
  log "suite $name ($script, build $bdir)"
  if ! new_db "$name"; then
    fail "$name" "no database (PostgreSQL did not start)"; return
  fi
  PGURI=$SUITE_URI DVSCONF_SANITIZE=$sanitize \
  DVSCONF_BUILD="$ROOT/$bdir" DVSCONF_ROOT="$ROOT" \
    timeout -s TERM -k 30 "$SUITE_TIMEOUT" bash "$ROOT/$script" </dev/null
  rc=$?
  case $rc in
    0) pass "$name" ;;
    124) fail "$name" "timed out after ${SUITE_TIMEOUT}s" ;;
    *) fail "$name" "exit status $rc" ;;
  esac
}

# Suites present in the tree, in order.
ISUITES=()
for f in "$ROOT"/tests/{vsphere,integration,python}/run.sh "$ROOT"/tests/*/run.sh; do
  s=${f%/run.sh} s=${s##*/}
  [[ -f "$f" ]] && wanted "$s" && [[ " ${ISUITES[*]} " != *" $s "* ]] && ISUITES+=("$s")
done

BUILD=${DVSCONF_BUILD_DIR:-build}
BUILDS=("$BUILD")
((asan)) && BUILDS+=("$BUILD-asan")
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

for bdir in "${BUILDS[@]}"; do
  tag="" args=() sanitize=0
  if [[ $bdir == "$BUILD-asan" ]]; then tag="asan:" args=(-DDVSCONF_SANITIZE=ON) sanitize=1; fi
  if ! build "$bdir" "${args[@]}"; then
    fail "${tag}build" "cmake failed in $bdir"
    continue
  fi
  pass "${tag}build"

  # The vcsim launcher, built once, shared by the suites.
  if [[ -z "${VCSIM_LAUNCHER:-}" && -f "$ROOT/deploy/vcsim/build.sh" ]]; then
    log "vcsim launcher"
    if bash "$ROOT/deploy/vcsim/build.sh" "$ROOT/$BUILD/vcsim-launcher" </dev/null; then
      export VCSIM_LAUNCHER="$ROOT/$BUILD/vcsim-launcher"
      pass vcsim-launcher
    else
      fail vcsim-launcher "deploy/vcsim/build.sh failed"
    fi
  fi

  if [[ -z "$PG_TMP" ]]; then
    log "PostgreSQL"
    if PG_TMP=$(pg_tempdir) && pg_start "$PG_TMP" --fast; then
      echo "PostgreSQL 15 in $PG_TMP on port $PG_PORT"
    else
      fail postgres "could not start a private cluster"
      [[ -n "$PG_TMP" ]] && rm -rf "$PG_TMP"
      PG_TMP=""
    fi
  fi

  # ctest: the unit tests, and whatever else registers with ctest (it gets the
  # same environment as the suites, with a database of its own).
  if wanted unit; then
    log "${tag}unit (ctest in $bdir)"
    if new_db "${tag}ctest" && \
       (cd "$ROOT/$bdir" && PGURI=$SUITE_URI DVSCONF_SANITIZE=$sanitize DVSCONF_BUILD="$ROOT/$bdir" DVSCONF_ROOT="$ROOT" \
          ctest --output-on-failure --no-tests=error -j2 --timeout 300 </dev/null); then
      pass "${tag}unit"
    else
      fail "${tag}unit" "ctest failed"
    fi
  fi

  for s in "${ISUITES[@]}"; do
    run_suite "${tag}$s" "$bdir" "tests/$s/run.sh"
  done
done

cleanup
summary
[[ ${#failed[@]} -eq 0 ]]
