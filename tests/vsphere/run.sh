#!/bin/sh
# Run the vSphere adapter test against vcsim: build the launcher when needed,
# start two vcsims on free loopback ports (http with test hooks; https with
# its certificate as CA file), run the test binary with their URLs, stop them.
#
#   tests/vsphere/run.sh [TEST_BINARY]
#
# TEST_BINARY defaults to $DVSCONF_BUILD/tests/vsphere/test_vsphere_adapter
# (DVSCONF_BUILD, as tests/run.sh sets it, defaults to build/). The launcher
# is $VCSIM_LAUNCHER when set (tests/run.sh builds it once), else
# deploy/.state/bin/vcsim, built when missing or older than main.go.
# VALGRIND=1 runs the test under valgrind --leak-check=full (fails on errors
# and definite leaks). VSPHERE_BIG_PG=N sizes the big-switch test (2000).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${DVSCONF_BUILD:-"$root/build"}
test_bin=${1:-"$build/tests/vsphere/test_vsphere_adapter"}
vcsim=${VCSIM_LAUNCHER:-"$root/deploy/.state/bin/vcsim"}
state="$root/tests/.state/vsphere"

[ -x "$test_bin" ] || { echo "run.sh: $test_bin is not built (cmake --build)" >&2; exit 1; }
[ -z "${VCSIM_LAUNCHER:-}" ] || [ -x "$vcsim" ] || { echo "run.sh: VCSIM_LAUNCHER=$vcsim is not executable" >&2; exit 1; }
if [ -z "${VCSIM_LAUNCHER:-}" ] && { [ ! -x "$vcsim" ] || [ "$root/deploy/vcsim/main.go" -nt "$vcsim" ]; }; then
  "$root/deploy/vcsim/build.sh" "$vcsim" >/dev/null
fi

mkdir -p "$state"
tmp=$(mktemp -d "$state/run.XXXXXX")
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  for p in $pids; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$vcsim" -listen 127.0.0.1:0 -dc 1 -cluster 1 -host 3 -pg 3 -test-hooks \
  -url-file "$tmp/url" >"$tmp/vcsim.log" 2>&1 &
pids="$pids $!"
"$vcsim" -listen 127.0.0.1:0 -tls -cert-out "$tmp/ca.pem" -url-file "$tmp/tls-url" \
  >"$tmp/vcsim-tls.log" 2>&1 &
pids="$pids $!"

wait_for() {
  i=0
  while [ ! -s "$1" ]; do
    i=$((i + 1))
    if [ "$i" -gt 300 ]; then
      echo "run.sh: vcsim did not start within 30 s" >&2
      cat "$tmp"/*.log >&2
      exit 1
    fi
    sleep 0.1
  done
}
wait_for "$tmp/url"
wait_for "$tmp/tls-url"

VCSIM_URL=$(cat "$tmp/url")
hostport=$(printf '%s\n' "$VCSIM_URL" | sed -e 's|^[a-z]*://||' -e 's|^.*@||' -e 's|/.*$||')
VCSIM_HOOKS="http://$hostport/dvsconf-test"
VCSIM_TLS_URL=$(cat "$tmp/tls-url")
VCSIM_CA="$tmp/ca.pem"
export VCSIM_URL VCSIM_HOOKS VCSIM_TLS_URL VCSIM_CA

if [ "${VALGRIND:-0}" = 1 ]; then
  set -- valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
    "$test_bin"
else
  set -- "$test_bin"
fi
rc=0
"$@" || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "run.sh: test failed ($rc); vcsim log:" >&2
  tail -n 20 "$tmp/vcsim.log" >&2
fi
exit "$rc"
