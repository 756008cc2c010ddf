#!/usr/bin/env bash
# dvsconf benchmarks: ONE command, ONE table. See bench/README.md.
#
#   bench/run.sh            build (Release, build-bench/), start PostgreSQL, vcsim,
#                           dvsconfd and the echo server of its own, measure figures
#                           1-7, print the table, stop everything.
#
# Environment: BENCH_REPEAT (timing samples, default 5), BENCH_ROUNDS (h2load /
# pgbench / RSS rounds, default 3), BENCH_KEEP=1 keeps the work directory,
# BENCH_ONLY="1 5" measures only these figure groups (1 = figures 1-3, 4, 5, 6, 7).
# Exit status: 0 when every figure was measured (met or missed), 1 when
# something broke.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BUILD=$ROOT/build-bench
PY=/usr/bin/python3
ROUNDS=${BENCH_ROUNDS:-3}
# shellcheck source=deploy/lib/pg.sh
source "$ROOT/deploy/lib/pg.sh"

W=$(mktemp -d /tmp/dvsconf-bench.XXXXXX)
export BENCH_RESULTS=$W/results.jsonl
export PYTHONPATH=$W/gen:$HERE PYTHONDONTWRITEBYTECODE=1
: >"$BENCH_RESULTS"
PGD="" VCSIM_PID="" DVS_PID="" ECHO_PID="" FLOOR_PID=""

want() { [[ -z "${BENCH_ONLY:-}" || " $BENCH_ONLY " == *" $1 "* ]]; }
step() { printf '\n== %s  [%s]\n' "$*" "$(date +%T)"; }
die() { echo "bench: $*" >&2; exit 1; }

stop_pid() {  # stop one process we started, by its id
  local pid=$1
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  set +e
  stop_pid "$DVS_PID"
  stop_pid "$ECHO_PID"
  stop_pid "$FLOOR_PID"
  stop_pid "$VCSIM_PID"
  [[ -n "$PGD" ]] && pg_destroy "$PGD"
  if [[ $rc -ne 0 ]]; then
    for f in "$W"/dvsconfd*.log "$W/vcsim.log"; do
      [[ -s "$f" ]] && { echo "---- tail of $f"; tail -n 15 "$f"; }
    done
  fi
  if [[ "${BENCH_KEEP:-0}" == 1 || $rc -ne 0 ]]; then echo "bench: work directory kept: $W"; else rm -rf "$W"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

wait_for() {  # wait_for SECONDS PID CMD...: until CMD succeeds, while PID lives
  local t=$1 pid=$2; shift 2
  for _ in $(seq $((t * 10))); do
    "$@" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# --- build ------------------------------------------------------------------------
step "build (Release) into build-bench/, echo server, vcsim, Python stubs"
for tool in cmake cc pkg-config h2load git protoc go; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
[[ -x /usr/bin/grpc_python_plugin ]] || die "/usr/bin/grpc_python_plugin not found (protobuf-compiler-grpc)"
"$PY" -c 'import grpc, google.protobuf' || die "$PY lacks grpc/protobuf"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >"$W/cmake.log" 2>&1 \
  || { tail -20 "$W/cmake.log"; die "cmake configure failed"; }
cmake --build "$BUILD" -j2 --target dvsconfd >"$W/build.log" 2>&1 \
  || { tail -30 "$W/build.log"; die "build failed"; }
# shellcheck disable=SC2046
cc -std=gnu11 -O2 -Wall -Wextra -o "$BUILD/bench_echo_server" "$HERE/echo_server.c" \
  $(pkg-config --cflags --libs grpc gpr libpq) -Wl,--as-needed -lpthread \
  || die "echo server: build failed"
GOCACHE=${GOCACHE:-$BUILD/gocache} "$ROOT/deploy/vcsim/build.sh" "$BUILD/vcsim" >"$W/vcsim-build.log" 2>&1 \
  || { cat "$W/vcsim-build.log"; die "vcsim build failed"; }
mkdir -p "$W/gen"
protoc -I "$ROOT/proto" -I /usr/include --python_out="$W/gen" --grpc_python_out="$W/gen" \
  --plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin dvsconf/v1/dvsconf.proto

# --- services ---------------------------------------------------------------------
step "start PostgreSQL 15 (default durability settings), vcsim (2,000 port groups), dvsconfd"
PGD=$(pg_tempdir)
pg_start "$PGD"

"$BUILD/vcsim" -listen 127.0.0.1:0 -url-file "$W/vcsim.url" -test-hooks -dc 1 -cluster 1 -host 4 \
  -pg 2000 >"$W/vcsim.log" 2>&1 &
VCSIM_PID=$!
wait_for 60 "$VCSIM_PID" test -s "$W/vcsim.url" || die "vcsim did not start"
SDK=$(head -n1 "$W/vcsim.url")            # http://user:pass@127.0.0.1:PORT/sdk
SDK_PLAIN=${SDK/\/\/user:pass@/\/\/}       # the URL dvsconfd is given (no credentials)
echo pass >"$W/vcsim.password"
cat >"$W/planes.json" <<EOF
{"planes":[{"name":"vcsim","kind":"vsphere","url":"$SDK_PLAIN","username":"user",
 "password_file":"$W/vcsim.password","insecure":true}]}
EOF

DVS_PORT=$(dvs_free_port)
DVS_ADDR=127.0.0.1:$DVS_PORT
DVS_LOG=""
start_dvsconfd() {  # start_dvsconfd LOG
  DVS_LOG=$1
  "$BUILD/dvsconfd" --listen "$DVS_ADDR" --plaintext --pg "$PGURI" --config "$W/planes.json" \
    2>"$DVS_LOG" &
  DVS_PID=$!
  export BENCH_DVS_PID=$DVS_PID
  wait_for 30 "$DVS_PID" grep -q "listening on" "$DVS_LOG" || die "dvsconfd did not start"
}
start_dvsconfd "$W/dvsconfd.log"
echo "PostgreSQL $PGURI; vcsim $SDK_PLAIN; dvsconfd $DVS_ADDR (pid $DVS_PID)"

# The floor of the latency figures: the echo server with as many threads as
# dvsconfd has workers, which also commits one row per /bench.Echo/Commit
# (echo_server.c), in a database of its own on the same cluster.
runuser -u postgres -- "$PG_BIN/createdb" -h "$PG_SOCKDIR" -p "$PG_PORT" bench_floor
"$BUILD/bench_echo_server" 127.0.0.1:0 8 "${PGURI%/*}/bench_floor" >"$W/floor.port" 2>"$W/floor.log" &
FLOOR_PID=$!
wait_for 10 "$FLOOR_PID" test -s "$W/floor.port" || { cat "$W/floor.log"; die "floor server did not start"; }
FLOOR_ADDR=127.0.0.1:$(head -n1 "$W/floor.port")

fig() { "$PY" "$HERE/figures.py" "$@"; }

step "the machine: how fast an idle process answers (context for the latency figures)"
fig machine "$DVS_ADDR" "$FLOOR_ADDR"

# --- figures 1, 2, 3 ----------------------------------------------------------------
if want 1; then
  step "figures 1-3: a 5,000-port-group switch, 300 versions, in dvsconf and in git"
  fig history "$DVS_ADDR" "$PGURI" "$W" "$DVS_LOG" "$FLOOR_ADDR"
fi

# --- figures 5, 6 -------------------------------------------------------------------
if want 5; then
  step "figure 5: Export of vcsim's DVS0 (2,000 port groups) vs the plane's own calls"
  fig export "$DVS_ADDR" "$SDK" "$DVS_LOG"
fi
if want 6; then
  step "figure 6: APPLY_EXISTING sends exactly k ReconfigureDVPortgroup_Task"
  fig apply "$DVS_ADDR" "$SDK"
fi

# --- figure 4 ---------------------------------------------------------------------
h2() {  # h2 DATAFILE URL [h2load options]: prints req/s; fails unless every request succeeded
  local data=$1 url=$2 out; shift 2
  out=$(h2load "$@" -d "$data" -H 'content-type: application/grpc' -H 'te: trailers' "$url") \
    || { echo "$out" >&2; return 1; }
  local total ok
  total=$(sed -n 's/^requests: \([0-9]*\) total.*/\1/p' <<<"$out")
  ok=$(sed -n 's/.* \([0-9]*\) succeeded.*/\1/p' <<<"$out")
  [[ -n "$total" && "$total" == "$ok" ]] || { echo "$out" >&2; return 1; }
  sed -n 's/^finished in [0-9.]*s, \([0-9.]*\) req\/s.*/\1/p' <<<"$out"
}
med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
if want 4 || want 7; then
  fig small "$DVS_ADDR" "$W"  # the small switch and the h2load inputs of figures 4 and 7
fi
if want 4; then
  step "figure 4: throughput (h2load -D 10 --warm-up-time 2 -c 8 -m 32 -t 1; pgbench -S scale 10)"
  "$BUILD/bench_echo_server" 127.0.0.1:0 2 >"$W/echo.port" &
  ECHO_PID=$!
  wait_for 10 "$ECHO_PID" test -s "$W/echo.port" || die "echo server did not start"
  ECHO_PORT=$(head -n1 "$W/echo.port")
  "$PY" - "$ECHO_PORT" "$W/echo.bin" <<'EOF'
import sys, grpc
ch = grpc.insecure_channel("127.0.0.1:" + sys.argv[1])
msg = open(sys.argv[2], "rb").read()[5:]
assert ch.unary_unary("/bench.Echo/Echo")(msg, timeout=10) == msg, "echo server: wrong reply"
EOF
  PGB=(runuser -u postgres -- /usr/lib/postgresql/15/bin/pgbench -h "$PG_SOCKDIR" -p "$PG_PORT")
  runuser -u postgres -- "$PG_BIN/createdb" -h "$PG_SOCKDIR" -p "$PG_PORT" pgbench
  "${PGB[@]}" -i -s 10 -q pgbench >"$W/pgbench-init.log" 2>&1 || { cat "$W/pgbench-init.log"; die "pgbench -i failed"; }

  H2OPTS=(-D 10 --warm-up-time 2 -c 8 -m 32 -t 1)
  declare -a R_ECHO=() R_GET=() R_LIST=() R_PGB=()
  for round in $(seq "$ROUNDS"); do
    r=$(h2 "$W/echo.bin" "http://127.0.0.1:$ECHO_PORT/bench.Echo/Echo" "${H2OPTS[@]}"); R_ECHO+=("$r")
    off=$(stat -c %s "$DVS_LOG")
    r=$(h2 "$W/get.bin" "http://$DVS_ADDR/dvsconf.v1.ConfigManager/GetVersion" "${H2OPTS[@]}"); R_GET+=("$r")
    fig logcheck "$DVS_LOG" "$off" >"$W/check" || { cat "$W/check"; die "GetVersion: errors under load"; }
    off=$(stat -c %s "$DVS_LOG")
    r=$(h2 "$W/list.bin" "http://$DVS_ADDR/dvsconf.v1.ConfigManager/ListVersions" "${H2OPTS[@]}"); R_LIST+=("$r")
    fig logcheck "$DVS_LOG" "$off" >"$W/check" || { cat "$W/check"; die "ListVersions: errors under load"; }
    r=$("${PGB[@]}" -S -M prepared -c 8 -j 2 -T 10 pgbench 2>&1 | sed -n 's/^tps = \([0-9.]*\) .*without.*/\1/p')
    [[ -n "$r" ]] || die "pgbench: no tps"
    R_PGB+=("$r")
    printf '   round %d: echo %s/s, GetVersion %s/s, ListVersions %s/s, pgbench -S %s TPS\n' \
      "$round" "${R_ECHO[-1]}" "${R_GET[-1]}" "${R_LIST[-1]}" "${R_PGB[-1]}"
  done
  stop_pid "$ECHO_PID"; ECHO_PID=""
  # Where the CPU goes: dvsconfd's and PostgreSQL's CPU per call over a fixed number of calls.
  ticks() { local s=0 p; for p in "$@"; do [[ -r /proc/$p/stat ]] && s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$s"; }
  PM=$(head -n1 "$PG_DIR/data/postmaster.pid")
  for m in GetVersion:get ListVersions:list; do
    mapfile -t pgpids < <(pgrep -P "$PM")
    d0=$(ticks "$DVS_PID"); p0=$(ticks "${pgpids[@]}")
    h2 "$W/${m#*:}.bin" "http://$DVS_ADDR/dvsconf.v1.ConfigManager/${m%:*}" -n 40000 -c 8 -m 32 -t 1 >/dev/null
    d1=$(ticks "$DVS_PID"); p1=$(ticks "${pgpids[@]}")
    awk -v m="${m%:*}" -v d=$((d1 - d0)) -v p=$((p1 - p0)) -v hz="$(getconf CLK_TCK)" \
      'BEGIN {printf "   %s: CPU per call: dvsconfd %.0f us, PostgreSQL backends %.0f us (40,000 calls)\n", m, d / hz / 40000 * 1e6, p / hz / 40000 * 1e6}'
  done
  fig record 4a "$(med "${R_GET[@]}")" anchor="$(med "${R_ECHO[@]}")" n="$ROUNDS"
  fig record 4b "$(med "${R_LIST[@]}")" anchor="$(med "${R_PGB[@]}")" n="$ROUNDS"
fi

# --- figure 7 ---------------------------------------------------------------------
if want 7; then
  step "figure 7: dvsconfd RSS after 1,000 and 100,000 GetVersion/ListVersions calls (fresh process each round)"
  rss() { awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$1/status"; }
  mix() {  # mix N: N calls, half GetVersion, half ListVersions, concurrently
    local half=$(($1 / 2)) p1 p2
    h2 "$W/get.bin" "http://$DVS_ADDR/dvsconf.v1.ConfigManager/GetVersion" -n "$half" -c 4 -m 16 -t 1 >/dev/null &
    p1=$!
    h2 "$W/list.bin" "http://$DVS_ADDR/dvsconf.v1.ConfigManager/ListVersions" -n "$half" -c 4 -m 16 -t 1 >/dev/null &
    p2=$!
    wait "$p1" && wait "$p2"
  }
  declare -a R_1K=() R_100K=()
  for round in $(seq "$ROUNDS"); do
    stop_pid "$DVS_PID"
    start_dvsconfd "$W/dvsconfd-rss$round.log"
    start_rss=$(rss "$DVS_PID")
    mix 1000 || die "h2load failed"
    R_1K+=("$(rss "$DVS_PID")")
    mix 99000 || die "h2load failed"
    R_100K+=("$(rss "$DVS_PID")")
    fig logcheck "$DVS_LOG" 0 >"$W/check" || { cat "$W/check"; die "errors under load"; }
    awk -v r="$round" -v a="$start_rss" -v b="${R_1K[-1]}" -v c="${R_100K[-1]}" -v chk="$(cat "$W/check")" \
      'BEGIN {printf "   round %d: RSS at start %.1f MB, after 1,000 calls %.1f MB, after 100,000 calls %.1f MB (%s)\n", r, a / 1e6, b / 1e6, c / 1e6, chk}'
  done
  fig record 7 "$(med "${R_100K[@]}")" anchor="$(med "${R_1K[@]}")" n="$ROUNDS"
fi

# --- the table ----------------------------------------------------------------------
step "results (ratio = dvsconf / anchor; medians of n runs)"
fig table
