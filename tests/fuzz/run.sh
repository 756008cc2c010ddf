#!/usr/bin/env bash
# The fuzz suite: builds the libFuzzer targets with clang and runs each for a
# bounded time, failing on any crash, leak, undefined behaviour or failed
# check (tests/run.sh runs it in both passes; the targets are always built
# with -fsanitize=fuzzer,address,undefined).
#
#   tests/fuzz/run.sh [TARGET...]      (default: request soap canon)
#
#   fuzz_request  request decoding + validation (protobuf-c unpack into the
#                 per-call arena, dv_validate_strings, dv_validate_config ...)
#   fuzz_soap     the vSphere adapter's RetrievePropertiesEx parser
#   fuzz_canon    canonical encoding, checksum, diff, delta layout + fold
#
# Environment: FUZZ_SECONDS per target (default 20; the three run at once),
# DVSCONF_ROOT, VCSIM_LAUNCHER (when set, fresh SOAP seeds are captured from
# a vcsim as well as the committed ones in seeds/soap/), FUZZ_BUILD (default
# $DVSCONF_ROOT/build-fuzz, shared by both passes). Seeds: make_seeds.py
# (requests and config pairs as clients send them) and seeds/*/ (captured
# SOAP answers, and inputs that once failed: regress-*); soap.dict holds the
# XML names the parser looks for. A failing input is
# kept in tests/.state/fuzz/ with the command that reproduces it.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=${DVSCONF_ROOT:-$(cd "$HERE/../.." && pwd)}
PY=/usr/bin/python3
SECONDS_EACH=${FUZZ_SECONDS:-20}
BUILD=${FUZZ_BUILD:-$ROOT/build-fuzz}
KEEP=$ROOT/tests/.state/fuzz
targets=("$@")
((${#targets[@]})) || targets=(request soap canon)

die() { echo "fuzz suite: $*" >&2; exit 1; }
command -v clang >/dev/null || die "clang not found: the fuzz targets need clang with libFuzzer (deploy/install-deps.sh installs clang)"
command -v protoc >/dev/null || die "protoc not found (protobuf-compiler)"
"$PY" -c 'import google.protobuf' 2>/dev/null || die "$PY lacks google.protobuf (python3-protobuf)"

T=$(mktemp -d /tmp/dvsconf-fuzz.XXXXXX)
vcsim_pid=""
declare -A pids
cleanup() {
  local p
  [[ -n "$vcsim_pid" ]] && { kill "$vcsim_pid" 2>/dev/null; wait "$vcsim_pid" 2>/dev/null; }
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done  # the fuzzers, when stopped early
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# --- build ------------------------------------------------------------------
echo "fuzz suite: building the targets in $BUILD (clang $(clang -dumpversion))"
if ! { cmake -S "$HERE/cmake" -B "$BUILD" -DCMAKE_C_COMPILER=clang >"$T/build.log" 2>&1 &&
       cmake --build "$BUILD" -j2 >>"$T/build.log" 2>&1; }; then
  tail -n 40 "$T/build.log" >&2
  die "build failed"
fi

# --- seeds ------------------------------------------------------------------
mkdir -p "$T/gen" "$T/seeds"
protoc -I "$ROOT/proto" -I /usr/include --python_out="$T/gen" dvsconf/v1/dvsconf.proto \
  || die "protoc failed"
PYTHONPATH="$T/gen" "$PY" "$HERE/make_seeds.py" "$T/seeds" || die "make_seeds.py failed"
mkdir -p "$T/seeds/soap"
if [[ -n "${VCSIM_LAUNCHER:-}" ]]; then
  [[ -x "$VCSIM_LAUNCHER" ]] || die "VCSIM_LAUNCHER=$VCSIM_LAUNCHER is not executable"
  "$VCSIM_LAUNCHER" -listen 127.0.0.1:0 -url-file "$T/vcsim.url" -dc 1 -cluster 1 -host 3 -pg 4 \
    >"$T/vcsim.log" 2>&1 &
  vcsim_pid=$!
  for _ in $(seq 300); do [[ -s "$T/vcsim.url" ]] && break; sleep 0.1; done
  [[ -s "$T/vcsim.url" ]] || { cat "$T/vcsim.log" >&2; die "vcsim did not start within 30 s"; }
  mapfile -t vc < <("$PY" -c 'import sys, urllib.parse as u
p = u.urlsplit(open(sys.argv[1]).read().strip())
print("%s://%s:%d%s" % (p.scheme, p.hostname, p.port, p.path)); print(u.unquote(p.username)); print(u.unquote(p.password))' "$T/vcsim.url")
  "$PY" "$HERE/capture_soap.py" "${vc[0]}" "${vc[1]}" "${vc[2]}" "$T/seeds/soap" || die "capture_soap.py failed"
  kill "$vcsim_pid"; wait "$vcsim_pid" 2>/dev/null; vcsim_pid=""
else
  echo "fuzz suite: VCSIM_LAUNCHER not set: SOAP seeds only from tests/fuzz/seeds/soap/"
fi

# --- run --------------------------------------------------------------------
echo "fuzz suite: ${targets[*]}: ${SECONDS_EACH}s each, at once"
for t in "${targets[@]}"; do
  bin=$BUILD/fuzz_$t
  [[ -x "$bin" ]] || die "no target fuzz_$t"
  mkdir -p "$T/corpus-$t" "$T/art-$t" "$T/seeds/$t"
  dirs=("$T/corpus-$t" "$T/seeds/$t")
  [[ -d "$HERE/seeds/$t" ]] && dirs+=("$HERE/seeds/$t")
  opts=()
  [[ -f "$HERE/$t.dict" ]] && opts+=(-dict="$HERE/$t.dict")
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    timeout -k 10 $((SECONDS_EACH + 120)) "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$T/art-$t/" "${opts[@]}" "${dirs[@]}" \
      >"$T/$t.log" 2>&1 &
  pids[$t]=$!
done
failed=0
for t in "${targets[@]}"; do
  wait "${pids[$t]}"
  rc=$?
  unset "pids[$t]"
  runs=$(grep -ao 'stat::number_of_executed_units: *[0-9]*' "$T/$t.log" | grep -o '[0-9]*$')
  cov=$(grep -ao 'cov: [0-9]*' "$T/$t.log" | tail -n 1)
  seeds=$(find "${T}/seeds/$t" "$HERE/seeds/$t" -type f 2>/dev/null | wc -l)
  if [[ $rc -eq 0 ]]; then
    echo "fuzz suite: fuzz_$t ok: ${runs:-?} inputs from $seeds seeds, ${cov:-cov ?}"
    continue
  fi
  failed=1
  echo "fuzz suite: fuzz_$t FAILED (exit status $rc):" >&2
  grep -a -E -A40 'FUZZ CHECK FAILED|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' \
    "$T/$t.log" | head -n 16 | cut -c1-300 >&2
  mkdir -p "$KEEP"
  for f in "$T/art-$t"/*; do
    [[ -f "$f" ]] || continue
    cp "$f" "$KEEP/fuzz_$t-$(basename "$f")"
    echo "fuzz suite: the input is kept: reproduce with" >&2
    echo "  $BUILD/fuzz_$t $KEEP/fuzz_$t-$(basename "$f")" >&2
  done
done
((failed == 0)) || exit 1
echo "fuzz suite: no failure"
