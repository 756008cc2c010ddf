#!/usr/bin/env bash
# The README's first command: on a fresh Debian 12 machine, install what is
# missing, build, start PostgreSQL, vcsim and dvsconfd (deploy/up.sh), and walk
# dvsconf's story with the CLI, printing each step:
#
#   export a switch -> someone changes a port group in vCenter -> export again
#   -> list versions -> diff -> revert (dry run, then for real) -> the switch
#   is lost -> re-create the original -> clone it as a new switch for production
#
#   deploy/quickstart.sh [--keep]     --keep: leave the stack running afterwards
#                                     (stop it with deploy/down.sh)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
keep=0
[[ "${1:-}" == --keep ]] && keep=1

"$ROOT/deploy/install-deps.sh"
cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$ROOT/build" -j2 >/dev/null
"$ROOT/deploy/down.sh" >/dev/null 2>&1 || true  # a stack left over from an earlier run
"$ROOT/deploy/up.sh" --no-build
((keep)) || trap '"$ROOT/deploy/down.sh"' EXIT

set -a
# shellcheck disable=SC1091
source "$ROOT/deploy/.state/env"
set +a
export DVSCONF_TOKEN=${DVSCONF_ADMIN_TOKEN:-}
PATH="$ROOT/build:$PATH"
PLANE=${DVSCONF_PLANE:-vcsim}

n=0
step() {
  n=$((n + 1))
  printf '\n\033[1m== %d. %s\033[0m\n' "$n" "$1"
}
run() {
  printf '$ %s\n' "$*"
  "$@"
}
latest_id() {  # the newest version of DVS0
  dvsconf --json versions --switch DVS0 --limit 1 |
    /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["versions"][0]["id"])'
}

step "The switch, as vCenter has it"
run dvsconf planes
run dvsconf switches --plane "$PLANE" --live

step "Export it: the first version of its history"
run dvsconf export --plane "$PLANE" --switch DVS0 --note "baseline" --label env=lab
V1=$(latest_id)

step "Someone changes a port group in vCenter, behind our back"
run deploy/vcenter.py set-vlan DC0_DVPG1 1234

step "Export again: a new version (only the change is stored)"
run dvsconf export --plane "$PLANE" --switch DVS0 --note "nightly"
V2=$(latest_id)
run dvsconf export --plane "$PLANE" --switch DVS0 --note "nothing changed since"

step "List the versions"
run dvsconf versions --switch DVS0

step "What changed between them?"
run dvsconf diff "$V1" "$V2" || true

step "Revert the switch to the baseline: first a dry run (nothing is touched)"
run dvsconf import "$V1" --mode existing --dry-run

step "Revert for real (its current state is kept as a safety version first)"
run dvsconf import "$V1" --mode existing
run dvsconf diff "$V1" --live --plane "$PLANE" --switch DVS0 --exit-code
echo "(no differences: the live switch is the baseline again)"

step "Disaster: the switch is deleted in vCenter"
run deploy/vcenter.py destroy-switch-of DC0_DVPG0
run dvsconf switches --plane "$PLANE" --live

step "Re-create the original switch from the baseline: names, settings, port groups, hosts"
run dvsconf import "$V1" --mode original
run dvsconf export --plane "$PLANE" --switch DVS0 --note "after re-creation"
run dvsconf versions --switch DVS0
echo "(the re-created switch continues the same history)"

step "Clone it as a new switch for production, port groups renamed"
run dvsconf import "$V1" --mode new --name DVS0-prod --portgroup-prefix prod- --include-hosts
run dvsconf switches --plane "$PLANE" --live

printf '\n\033[1m== Done.\033[0m '
if ((keep)); then
  echo "The stack is still running (deploy/.state/env); stop it with deploy/down.sh."
else
  echo "Stopping the stack."
fi
