#!/usr/bin/env bash
# The hardening suite: bad input, faults, concurrency and memory, with real
# components (PostgreSQL, vcsim, dvsconfd as processes) and independent
# clients (Debian's grpcio; Node's @grpc/grpc-js). See README.md here.
#
#   tests/hardening/run.sh [a] [b] [c]       (default: all three phases)
#
#   a  a secure stack (deploy/up.sh: TLS + tokens) on $PGURI's database:
#      test_bad_input.py and node/bad_input.js (every RPC), then
#      test_concurrency.py (a second dvsconfd by hand on the same database,
#      concurrent exports and imports through both, a bounded load test)
#   b  a stack on a PostgreSQL cluster of its own, which test_faults.py stops
#      and starts: corrupt versions, vCenter faults mid-apply and during undo,
#      PostgreSQL and vCenter stopped, SIGTERM under load
#   c  dvsconfd under valgrind --leak-check=full through a bounded request
#      loop (memcheck.py): no definite or indirect leak, no memory error.
#      Skipped, saying so, when DVSCONF_SANITIZE=1 (valgrind cannot run ASan
#      binaries; the ASan pass finds leaks with LeakSanitizer instead).
#
# Environment (tests/run.sh sets them): PGURI (a database of its own; a
# private cluster is started when unset), DVSCONF_BUILD (build dir with
# dvsconfd, not rebuilt), DVSCONF_ROOT, VCSIM_LAUNCHER, DVSCONF_SANITIZE.
# Tuning: LOAD_SECONDS (load test; default 20, 10 in the sanitized pass),
# MEMCHECK_ROUNDS (request loop rounds under valgrind, default 10).
# Everything started here is stopped on exit; traffic stays on 127.0.0.1.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=${DVSCONF_ROOT:-$(cd "$HERE/../.." && pwd)}
PY=/usr/bin/python3
BUILD=$(cd "${DVSCONF_BUILD:-$ROOT/build}" 2>/dev/null && pwd) \
  || { echo "hardening: build dir ${DVSCONF_BUILD:-$ROOT/build} not found" >&2; exit 1; }
SANITIZE=${DVSCONF_SANITIZE:-0}
# shellcheck source=deploy/lib/pg.sh
source "$ROOT/deploy/lib/pg.sh"
phases=("$@")
((${#phases[@]})) || phases=(a b c)
want() { [[ " ${phases[*]} " == *" $1 "* ]]; }

die() { echo "hardening: $*" >&2; exit 1; }
[[ -x "$BUILD/dvsconfd" ]] || die "$BUILD/dvsconfd not built"
"$PY" -c 'import grpc, google.protobuf' 2>/dev/null || die "$PY lacks grpc/protobuf (python3-grpcio, python3-protobuf)"
command -v protoc >/dev/null || die "protoc not found (protobuf-compiler)"
[[ -x /usr/bin/grpc_python_plugin ]] || die "/usr/bin/grpc_python_plugin not found (protobuf-compiler-grpc)"
command -v node >/dev/null && command -v npm >/dev/null || die "node and npm are needed for the Node.js client (package nodejs)"
if want c && [[ $SANITIZE != 1 ]]; then
  command -v valgrind >/dev/null || die "valgrind not found (deploy/install-deps.sh installs it)"
fi

T=$(mktemp -d /tmp/dvsconf-hard.XXXXXX)
chmod 755 "$T"
SUITE_PGURI=${PGURI:-} own_pg="" fault_pg="" mem_db="" failed=()
cleanup() {
  local rc=$? st pid
  set +e
  for st in "$T/a" "$T/b" "$T/v"; do
    [[ -d "$st" ]] && "$ROOT/deploy/down.sh" --state "$st" >/dev/null 2>&1
  done
  for pid in $(cat "$T/a/dvsconfd-b.pid" "$T/b/dvsconfd-grace.pid" 2>/dev/null); do
    # a dvsconfd a test started by hand and could not stop
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q dvsconfd; then
      kill -TERM "$pid"; sleep 1; kill -KILL "$pid" 2>/dev/null
    fi
  done
  [[ -n "$fault_pg" ]] && pg_destroy "$fault_pg"
  [[ -n "$mem_db" ]] && pg_drop_db "$SUITE_PGURI" "$mem_db"
  [[ -n "$own_pg" ]] && pg_destroy "$own_pg"
  rm -rf "$T"
  exit $rc
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

fail() { failed+=("$1"); echo "hardening: FAILED: $1" >&2; }
phase() { printf '\n==== hardening %s (%ds so far)\n' "$*" "$SECONDS"; }
# sanitizer reports fail the suite even when an exit status hides them
sanitizer_clean() {
  local f
  for f in "$@"; do
    [[ -f "$f" ]] || continue
    if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f"; then
      grep -E -A30 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f" | head -60 >&2
      fail "sanitizer report in $f"
    fi
  done
}
up() {  # up STATE PGURI [up.sh args...]
  local st=$1 uri=$2; shift 2
  local args=(--state "$st" --build "$BUILD" --no-build --pg "$uri")
  [[ -n "${VCSIM_LAUNCHER:-}" ]] && args+=(--launcher "$VCSIM_LAUNCHER")
  "$ROOT/deploy/up.sh" "${args[@]}" "$@" >"$st.up.log" 2>&1 || { cat "$st.up.log" >&2; return 1; }
}
stack_env() {  # the env file of a stack, for the clients
  set -a
  # shellcheck disable=SC1090
  source "$1/env"
  set +a
}

# --- stubs and the Node client ------------------------------------------------
mkdir -p "$T/gen"
protoc -I "$ROOT/proto" -I /usr/include --python_out="$T/gen" --grpc_python_out="$T/gen" \
  --plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin dvsconf/v1/dvsconf.proto || die "protoc failed"
export PYTHONPATH="$T/gen:$HERE:$ROOT/deploy/lib"
export PROTO_DIR=$ROOT/proto
if want a && { [[ ! -d "$HERE/node/node_modules/@grpc/grpc-js" ]] ||
               [[ "$HERE/node/package-lock.json" -nt "$HERE/node/node_modules/.package-lock.json" ]]; }; then
  echo "hardening: npm ci in $HERE/node"
  (cd "$HERE/node" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed in $HERE/node"
fi

# --- databases ------------------------------------------------------------------
if [[ -z "$SUITE_PGURI" ]]; then
  own_pg=$(pg_tempdir) && pg_start "$own_pg" --fast || die "could not start PostgreSQL"
  SUITE_PGURI=$PGURI
fi
# --- a: bad input, concurrency, load ------------------------------------------
if want a; then
  phase "a: bad input (Python, Node), two processes, load"
  t0=$SECONDS
  if up "$T/a" "$SUITE_PGURI"; then
    (
      stack_env "$T/a"
      export PGURI=$SUITE_PGURI DVSCONF_BUILD=$BUILD HARD_STATE=$T/a
      [[ $SANITIZE == 1 ]] && export LOAD_SECONDS=${LOAD_SECONDS:-10}
      export LOAD_SECONDS=${LOAD_SECONDS:-20}
      cd "$HERE" || exit 1
      rc=0
      timeout -k 10 240 "$PY" -m unittest -v test_bad_input test_concurrency || rc=1
      echo "hardening: node/bad_input.js"
      timeout -k 10 120 node --no-deprecation node/bad_input.js || rc=1
      exit $rc
    ) || fail "a: tests (see above)"
    out=$("$ROOT/deploy/down.sh" --state "$T/a" 2>&1) || fail "a: deploy/down.sh: $out"
    echo "$out" | grep dvsconfd
    sanitizer_clean "$T/a/dvsconfd.log" "$T/a/dvsconfd-b.log"
  else
    fail "a: deploy/up.sh"
  fi
  echo "hardening: phase a took $((SECONDS - t0))s"
fi

# --- b: faults, on a cluster of its own -----------------------------------------
if want b; then
  phase "b: faults"
  t0=$SECONDS
  fault_pg=$(pg_tempdir)
  if pg_start "$fault_pg" --fast && up "$T/b" "$PGURI" -- --version-cache-mb 0; then
    (
      stack_env "$T/b"
      export DVSCONF_ROOT=$ROOT DVSCONF_BUILD=$BUILD HARD_STACK=$T/b HARD_PG_DIR=$PG_DIR HARD_PG_PORT=$PG_PORT
      cd "$HERE" && timeout -k 10 240 "$PY" -m unittest -v test_faults
    ) || fail "b: test_faults"
    "$ROOT/deploy/down.sh" --state "$T/b" >/dev/null 2>&1  # when a test stopped before doing so
    sanitizer_clean "$T/b/dvsconfd.log" "$T/b/dvsconfd-grace.log"
  else
    fail "b: PostgreSQL or deploy/up.sh"
  fi
  pg_destroy "$fault_pg" && fault_pg=""
  echo "hardening: phase b took $((SECONDS - t0))s"
fi

# --- c: valgrind ----------------------------------------------------------------
if want c; then
  phase "c: memory (valgrind)"
  if [[ $SANITIZE == 1 ]]; then
    echo "hardening: c skipped: DVSCONF_SANITIZE=1, and valgrind cannot run AddressSanitizer binaries;" \
         "this pass's LeakSanitizer checks every dvsconfd of a and b for leaks at exit instead"
  else
    t0=$SECONDS
    mem_db=hard_mem_$$
    vlog=$T/valgrind.log
    if mem_uri=$(pg_create_db "$SUITE_PGURI" "$mem_db") &&
       DVSCONF_READY_TIMEOUT=120 DVSCONF_WRAPPER="valgrind --leak-check=full --show-leak-kinds=definite,indirect
         --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --num-callers=40 --log-file=$vlog" \
         up "$T/v" "$mem_uri"; then
      ( stack_env "$T/v"; cd "$HERE" && timeout -k 10 300 "$PY" memcheck.py "${MEMCHECK_ROUNDS:-10}" ) \
        || fail "c: memcheck.py"
      out=$("$ROOT/deploy/down.sh" --state "$T/v" 2>&1) || fail "c: dvsconfd under valgrind did not exit 0: $out"
      echo "$out" | grep dvsconfd
      grep -E 'definitely lost|indirectly lost|possibly lost|ERROR SUMMARY' "$vlog" | sed 's/^==[0-9]*== */  valgrind: /'
      if ! grep -q 'definitely lost: 0 bytes' "$vlog" || ! grep -q 'indirectly lost: 0 bytes' "$vlog" \
         || ! grep -q 'ERROR SUMMARY: 0 errors' "$vlog"; then
        sed -n '/HEAP SUMMARY/,$p' "$vlog" | head -120 >&2
        fail "c: valgrind found leaks or memory errors (report above)"
      fi
    else
      [[ -f "$vlog" ]] && tail -40 "$vlog" >&2
      fail "c: dvsconfd under valgrind did not start"
    fi
    echo "hardening: phase c took $((SECONDS - t0))s"
  fi
fi

echo
if ((${#failed[@]})); then
  echo "hardening: ${#failed[@]} failure(s) in ${SECONDS}s:"
  printf '  %s\n' "${failed[@]}"
  exit 1
fi
echo "hardening: all phases passed in ${SECONDS}s"
