#!/usr/bin/env bash
# The independent Python client suite: generates stubs from proto/, starts a
# stack of its own (deploy/up.sh in a temp state dir: vcsim + dvsconfd on a fresh
# database made from $PGURI) and runs test_api.py with Debian's grpcio.
#
#   PGURI=postgresql://... DVSCONF_BUILD=build tests/python/run.sh [unittest args]
#
# PGURI: a database on a server where we may CREATE DATABASE (a private cluster
# is started when unset). DVSCONF_BUILD: build dir with dvsconfd (default build/;
# not rebuilt). VCSIM_LAUNCHER: a built vcsim launcher (else built here).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
BUILD=$(cd "${DVSCONF_BUILD:-$ROOT/build}" 2>/dev/null && pwd) \
  || { echo "python suite: build dir ${DVSCONF_BUILD:-$ROOT/build} not found" >&2; exit 1; }
# shellcheck source=deploy/lib/pg.sh
source "$ROOT/deploy/lib/pg.sh"

die() { echo "python suite: $*" >&2; exit 1; }
[[ -x "$BUILD/dvsconfd" ]] || die "$BUILD/dvsconfd not built"
"$PY" -c 'import grpc, google.protobuf' 2>/dev/null || die "$PY lacks grpc/protobuf (python3-grpcio, python3-protobuf)"
command -v protoc >/dev/null || die "protoc not found (protobuf-compiler)"
[[ -x /usr/bin/grpc_python_plugin ]] || die "/usr/bin/grpc_python_plugin not found (protobuf-compiler-grpc)"

# --- stubs: dvsconf/v1 only; health is called by hand (see test_api.py) ---------
rm -rf "$HERE/gen" && mkdir -p "$HERE/gen"
protoc -I "$ROOT/proto" -I /usr/include --python_out="$HERE/gen" --grpc_python_out="$HERE/gen" \
  --plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin dvsconf/v1/dvsconf.proto

T=$(mktemp -d /tmp/dvsconf-py.XXXXXX)
own_pg="" db="" rc=0
cleanup() {
  rc=$?
  set +e
  if [[ -d "$T/stack" ]]; then
    "$ROOT/deploy/down.sh" --state "$T/stack" || { echo "python suite: deploy/down.sh reported a failure" >&2; rc=1; }
    if [[ $rc -ne 0 && -s "$T/stack/dvsconfd.log" ]]; then
      echo "---- tail of dvsconfd.log"; tail -n 40 "$T/stack/dvsconfd.log"
    fi
    # sanitizer reports fail the suite even when the exit status hides them
    if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$T/stack/dvsconfd.log" 2>/dev/null; then
      echo "python suite: sanitizer report in dvsconfd.log:" >&2
      grep -E -A30 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$T/stack/dvsconfd.log" | head -80 >&2
      rc=1
    fi
  fi
  [[ -n "$db" ]] && pg_drop_db "$PGURI" "$db"
  [[ -n "$own_pg" ]] && pg_destroy "$own_pg"
  rm -rf "$T"
  exit $rc
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

if [[ -z "${PGURI:-}" ]]; then
  own_pg=$(pg_tempdir)
  pg_start "$own_pg" --fast
fi
# A fresh database on the same server: same URI, another database name.
db="dvsconf_py_$$_$RANDOM"
test_uri=$(pg_create_db "$PGURI" "$db") || { db=""; die "cannot create database $db"; }

up_args=(--state "$T/stack" --build "$BUILD" --no-build --pg "$test_uri")
[[ -n "${VCSIM_LAUNCHER:-}" ]] && up_args+=(--launcher "$VCSIM_LAUNCHER")
"$ROOT/deploy/up.sh" "${up_args[@]}"
set -a
# shellcheck disable=SC1091
source "$T/stack/env"
set +a

cd "$HERE"
if (($#)); then suites=("$@"); else suites=(test_api test_security test_vsphere_e2e test_no_stall); fi
export DVSCONF_BUILD=$BUILD
PYTHONPATH="$HERE/gen:$HERE:$ROOT/deploy/lib" "$PY" -m unittest -v "${suites[@]}"
