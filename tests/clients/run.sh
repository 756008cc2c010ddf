#!/usr/bin/env bash
# The client suite: runs the dvsconf CLI and the example programs as real
# binaries against a stack of their own (deploy/up.sh: vcsim + dvsconfd on a
# fresh database made from $PGURI), and a second dvsconfd with an access file
# for the token checks. Checks exit codes, --json output (parsed with
# /usr/bin/python3), the table and plan formats, colors, the round trip
# `show --output` -> edit -> `import --from-file` -> `diff`, and runs a few
# commands under valgrind.
#
#   PGURI=postgresql://... DVSCONF_BUILD=build tests/clients/run.sh
#
# PGURI: a database on a server where we may CREATE DATABASE (a private cluster
# is started when unset). DVSCONF_BUILD: build dir with dvsconfd, dvsconf and
# the examples (default build/; not rebuilt). VCSIM_LAUNCHER: a built vcsim
# launcher (else deploy/up.sh builds one).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
BUILD=$(cd "${DVSCONF_BUILD:-$ROOT/build}" 2>/dev/null && pwd) \
  || { echo "clients suite: build dir ${DVSCONF_BUILD:-$ROOT/build} not found" >&2; exit 1; }
# shellcheck source=deploy/lib/pg.sh
source "$ROOT/deploy/lib/pg.sh"

die() { echo "clients suite: $*" >&2; exit 1; }
for b in dvsconfd dvsconf dvsconf-recreate dvsconf-clone dvsconf-revert; do
  [[ -x "$BUILD/$b" ]] || die "$BUILD/$b not built"
done
command -v valgrind >/dev/null || die "valgrind not found (deploy/install-deps.sh installs it)"
command -v script >/dev/null || die "script (util-linux) not found: needed to test colors on a terminal"

T=$(mktemp -d /tmp/dvsconf-cli.XXXXXX)
own_pg="" db="" d2_pid=""
cleanup() {
  local rc=$?
  set +e
  [[ -n "$d2_pid" ]] && kill "$d2_pid" 2>/dev/null && wait "$d2_pid" 2>/dev/null
  if [[ -d "$T/stack" ]]; then
    "$ROOT/deploy/down.sh" --state "$T/stack" >/dev/null || echo "clients suite: deploy/down.sh reported a failure" >&2
    if [[ $rc -ne 0 && -s "$T/stack/dvsconfd.log" ]]; then
      echo "---- tail of dvsconfd.log"; tail -n 30 "$T/stack/dvsconfd.log"
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
  pg_start "$own_pg" --fast || die "cannot start PostgreSQL"
fi
db="dvsconf_cli_$$_$RANDOM"
test_uri=$(pg_create_db "$PGURI" "$db") || { db=""; die "cannot create database $db"; }

up_args=(--state "$T/stack" --build "$BUILD" --no-build --pg "$test_uri")
[[ -n "${VCSIM_LAUNCHER:-}" ]] && up_args+=(--launcher "$VCSIM_LAUNCHER")
# dvsconfd serves plaintext only when told to (loopback here).
DVSCONF_PLAINTEXT=1 "$ROOT/deploy/up.sh" "${up_args[@]}" >"$T/up.log" 2>&1 \
  || { cat "$T/up.log" >&2; die "deploy/up.sh failed"; }
set -a
# shellcheck disable=SC1091
source "$T/stack/env"
set +a
export DVSCONF_ADDR  # the CLI's default server from here on
unset DVSCONF_CA DVSCONF_TOKEN DVSCONF_CERT DVSCONF_KEY NO_COLOR
PLANE=${DVSCONF_PLANE:-vcsim}

# ---------------------------------------------------------------------------
# Helpers: every check prints ok/FAIL and the suite goes on.
# ---------------------------------------------------------------------------
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok    $1"; }
bad() {
  failed=$((failed + 1)); echo "FAIL  $1"
  shift
  for m in "$@"; do echo "      $m"; done
  if [[ -s "$T/out" ]]; then echo "      --- stdout"; sed 's/^/      /' "$T/out" | head -20; fi
  if [[ -s "$T/err" ]]; then echo "      --- stderr"; sed 's/^/      /' "$T/err" | head -20; fi
}

# run RC DESC CMD...: run CMD (stdout -> $T/out, stderr -> $T/err), expect exit RC.
run() {
  local want=$1 desc=$2 rc
  shift 2
  "$@" >"$T/out" 2>"$T/err" </dev/null
  rc=$?
  if [[ $rc -eq $want ]]; then ok "$desc"; return 0; fi
  bad "$desc" "exit status $rc, expected $want: $*"
  return 1
}

# json DESC PYTHON-EXPR: evaluate EXPR with d = the JSON in $T/out.
json() {
  local desc=$1 expr=$2 msg
  if msg=$("$PY" - "$T/out" "$expr" 2>&1 <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
if not eval(sys.argv[2]):
    sys.exit("false: %s\nJSON: %s" % (sys.argv[2], json.dumps(d)[:800]))
PYEOF
  ); then ok "$desc"; else bad "$desc" "$msg"; fi
}

# has DESC FILE PATTERN (grep -E) / hasnt
has() { if grep -qE -- "$3" "$2"; then ok "$1"; else bad "$1" "no line matching /$3/ in $2"; fi; }
hasnt() { if grep -qE -- "$3" "$2"; then bad "$1" "unexpected /$3/ in $2"; else ok "$1"; fi; }

# value EXPR: print a value from the JSON in $T/out.
value() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/out" "$1"; }

D="$BUILD/dvsconf"

# ---------------------------------------------------------------------------
echo "== usage and help"
run 0 "dvsconf --help" "$D" --help
has "--help lists every command" "$T/out" "^  (export|versions|show|diff|import|switches|planes|health) "
has "--help documents exit codes" "$T/out" "^  7   could not reach the server"
for cmd in export versions show diff import switches planes health; do
  run 0 "dvsconf $cmd --help" "$D" "$cmd" --help
  has "$cmd --help has a usage line" "$T/out" "^usage: dvsconf $cmd"
done
run 0 "dvsconf help import" "$D" help import
run 2 "no command: usage error" "$D"
run 2 "unknown command" "$D" bogus
has "unknown command message" "$T/err" '^dvsconf: unknown command "bogus"'
run 2 "unknown option" "$D" versions --bogus
run 2 "export without --plane" "$D" export --switch DVS0
has "export usage message" "$T/err" "^dvsconf export: --plane is required"
run 2 "export with --switch and --uuid" "$D" export --plane "$PLANE" --switch a --uuid b
run 2 "export --scope bad" "$D" export --plane "$PLANE" --switch DVS0 --scope some
run 2 "export --label without =" "$D" export --plane "$PLANE" --switch DVS0 --label novalue
run 2 "versions --limit 0" "$D" versions --limit 0
run 2 "show without VERSION" "$D" show
run 2 "diff without TO" "$D" diff 1
run 2 "diff TO and --live" "$D" diff 1 2 --live --plane "$PLANE" --switch DVS0
run 2 "import without --mode" "$D" import 1
run 2 "import --mode bad" "$D" import 1 --mode sideways
run 2 "import --from-file with VERSION" "$D" import 1 --from-file x.json
run 2 "--timeout not a number" "$D" --timeout soon health
run 2 "--ca missing file" "$D" --ca "$T/nonexistent.pem" health
has "--ca message" "$T/err" "^dvsconf: CA file .*nonexistent.pem: No such file"

# ---------------------------------------------------------------------------
echo "== health, planes, switches"
run 0 "health" "$D" health
has "health prints SERVING" "$T/out" "^SERVING$"
run 0 "health --json" "$D" --json health
json "health JSON" 'd == {"status": "SERVING"}'
run 0 "planes" "$D" planes
has "planes table header" "$T/out" "^NAME +KIND +URL$"
has "planes lists the plane" "$T/out" "^$PLANE +vsphere +http"
run 0 "planes --json" "$D" planes --json
json "planes JSON" "[p['name'] for p in d['planes']] == ['$PLANE'] and d['planes'][0]['kind'] == 'vsphere'"
run 0 "switches --live" "$D" switches --plane "$PLANE" --live
has "switches table header" "$T/out" "^PLANE +NAME +UUID +PGS +LATEST$"
has "switches lists DVS0 with 4 port groups and no version" "$T/out" "^$PLANE +DVS0 +[-0-9a-f]+ +4 +-$"
run 2 "switches --live without --plane" "$D" switches --live

# ---------------------------------------------------------------------------
echo "== export, versions"
run 0 "export DVS0" "$D" export --plane "$PLANE" --switch DVS0 --note "first export" --label env=ci --label team=net
has "export prints the stored version" "$T/out" "^stored version [0-9]+ \(#1 of DVS0 on plane $PLANE\): 4 port groups, checksum [0-9a-f]{12}$"
run 0 "export again --json" "$D" export --plane "$PLANE" --switch DVS0 --json
json "unchanged export" "d['unchanged'] is True and d['version']['number'] == '1'"
json "labels as a JSON object" "d['version']['labels'] == {'env': 'ci', 'team': 'net'}"
json "int64 as string, timestamp RFC 3339" "isinstance(d['version']['number'], str) and d['version']['createdAt'].endswith('Z')"
V1=$(value "d['version']['id']")
UUID0=$(value "d['version']['switchUuid']")
run 4 "export unknown plane: NOT_FOUND" "$D" export --plane nowhere --switch DVS0
has "NOT_FOUND message" "$T/err" "^dvsconf: NOT_FOUND: "
run 4 "export unknown switch: NOT_FOUND" "$D" export --plane "$PLANE" --switch no-such-switch
run 0 "export by --uuid, scope switch" "$D" export --plane "$PLANE" --uuid "$UUID0" --scope switch --note "switch only" --json
json "scope switch stored as a new version" "d['version']['scope'] == 'EXPORT_SCOPE_SWITCH_ONLY' and d['version']['number'] == '2' and 'portgroupCount' not in d['version']"
run 0 "versions" "$D" versions
has "versions table header" "$T/out" "^ID +NO +PLANE +SWITCH +CREATED +PGS +CHECKSUM +NOTE$"
has "versions row" "$T/out" "^$V1 +1 +$PLANE +DVS0 +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} +4 +[0-9a-f]{12} +first export$"
run 0 "versions --limit 1" "$D" versions --limit 1
if [[ $(wc -l <"$T/out") -eq 2 ]]; then ok "--limit 1 prints one row"; else bad "--limit 1 prints one row"; fi
has "--limit 1 says there is more" "$T/err" "more versions exist"
run 0 "versions --all --limit 1 --json" "$D" --json versions --all --limit 1 --switch DVS0 --plane "$PLANE"
json "--all follows page tokens" "[v['number'] for v in d['versions']] == ['2', '1'] and 'nextPageToken' not in d"
run 0 "versions of an unknown switch" "$D" versions --switch nothing-here --json
json "no versions: empty JSON" "d == {}"

# ---------------------------------------------------------------------------
echo "== show"
run 0 "show" "$D" show "$V1"
has "show summary: version line" "$T/out" "^version +$V1 \(#1 of DVS0 on plane $PLANE\)$"
has "show summary: labels" "$T/out" "^labels +env=ci, team=net$"
has "show summary: port groups" "$T/out" "^port groups \(4\):$"
run 0 "show --json" "$D" show "$V1" --json
json "show JSON is the Version message" "d['info']['id'] == '$V1' and d['config']['name'] == 'DVS0' and len(d['config']['portgroups']) == 4"
run 4 "show unknown version: NOT_FOUND" "$D" show 999999
run 3 "show bad version id: INVALID_ARGUMENT" "$D" show not-an-id
has "INVALID_ARGUMENT message" "$T/err" "^dvsconf: INVALID_ARGUMENT: "

# ---------------------------------------------------------------------------
echo "== round trip: show --output, edit, import --from-file, diff"
run 0 "show --output" "$D" show "$V1" --output "$T/v1.json"
if [[ ! -s "$T/out" ]]; then ok "show --output prints no summary"; else bad "show --output prints no summary"; fi
cp "$T/v1.json" "$T/out"
json "document keys in order" "list(d) == ['plane', 'note', 'labels', 'config']"
json "document content" "d['plane'] == '$PLANE' and d['note'] == 'first export' and d['labels'] == {'env': 'ci', 'team': 'net'} and d['config']['name'] == 'DVS0'"
has "document is pretty-printed" "$T/v1.json" '^  "config": \{$'
PG0=$(value "d['config']['portgroups'][0]['name']")
OLD_PORTS=$(value "d['config']['portgroups'][0].get('numPorts', 0)")
"$PY" - "$T/v1.json" "$T/v2.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["config"]["portgroups"][0]["numPorts"] = 77
d["labels"]["edited"] = "yes"
json.dump(d, open(sys.argv[2], "w"), indent=2)
PYEOF
run 0 "import --from-file" "$D" import --from-file "$T/v2.json" --note "77 ports"
has "import --from-file prints the stored version" "$T/out" "^stored version [0-9]+ \(#3 of DVS0 on plane $PLANE\): 4 port groups"
run 0 "import --from-file again --json: unchanged" "$D" --json import --from-file "$T/v2.json"
json "same document: unchanged" "d['unchanged'] is True and d['version']['note'] == '77 ports' and d['version']['labels']['edited'] == 'yes'"
V2=$(value "d['version']['id']")
run 0 "diff V1 V2" "$D" diff "$V1" "$V2"
expected="~ portgroups[\"$PG0\"].num_ports: $OLD_PORTS -> 77"
if [[ "$(cat "$T/out")" == "$expected" ]]; then ok "diff shows exactly the edit"
else bad "diff shows exactly the edit" "expected: $expected"; fi
hasnt "no color when piped" "$T/out" $'\033'
run 1 "diff --exit-code with differences" "$D" diff "$V1" "$V2" --exit-code
run 0 "diff --exit-code, same version" "$D" diff "$V2" "$V2" --exit-code
if [[ ! -s "$T/out" ]]; then ok "no differences: no output"; else bad "no differences: no output"; fi
run 1 "diff --json --exit-code" "$D" --json diff "$V1" "$V2" --exit-code
json "diff JSON" "d == {'changes': [{'kind': 'CHANGE_KIND_MODIFIED', 'path': 'portgroups[\"$PG0\"].num_ports', 'oldValue': '$OLD_PORTS', 'newValue': '77'}]}"
script -qec "$D diff $V1 $V2" /dev/null >"$T/tty" 2>&1 </dev/null
if grep -q $'\033\[33m~ portgroups' "$T/tty"; then ok "yellow on a terminal"; else bad "yellow on a terminal" "$(od -c "$T/tty" | head -3)"; fi
NO_COLOR=1 script -qec "$D diff $V1 $V2" /dev/null >"$T/tty" 2>&1 </dev/null
if grep -q $'\033' "$T/tty"; then bad "NO_COLOR: plain on a terminal"; else ok "NO_COLOR: plain on a terminal"; fi

# input errors name the file and the JSON path
"$PY" - "$T/v1.json" "$T/bad1.json" "$T/bad2.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["config"]["portgroups"][0]["numPorts"] = "many"
json.dump(d, open(sys.argv[2], "w"))
d = json.load(open(sys.argv[1]))
d["config"]["colour"] = "blue"
json.dump(d, open(sys.argv[3], "w"))
PYEOF
printf '{"plane": "x",,}' >"$T/bad3.json"
run 2 "import --from-file: wrong type" "$D" import --from-file "$T/bad1.json"
has "error names the JSON path" "$T/err" "^dvsconf: .*bad1.json: config.portgroups\[0\].numPorts: expected a number"
run 2 "import --from-file: unknown field" "$D" import --from-file "$T/bad2.json"
has "unknown field error" "$T/err" "config.colour: unknown field"
run 2 "import --from-file: not JSON" "$D" import --from-file "$T/bad3.json"
has "JSON syntax error has line and column" "$T/err" "bad3.json:1:[0-9]+: "
run 2 "import --from-file: missing file" "$D" import --from-file "$T/none.json"
"$PY" - "$T/v1.json" "$T/bad4.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["config"]["name"] = ""
json.dump(d, open(sys.argv[2], "w"))
PYEOF
run 3 "import --from-file: the server refuses an invalid config" "$D" import --from-file "$T/bad4.json"
has "server message" "$T/err" "^dvsconf: INVALID_ARGUMENT: "

# ---------------------------------------------------------------------------
echo "== live diff, import plans, the examples"
run 1 "diff --live --exit-code" "$D" diff "$V2" --live --plane "$PLANE" --switch DVS0 --exit-code
has "live diff line" "$T/out" "^~ portgroups\[\"$PG0\"\]\.num_ports: 77 -> $OLD_PORTS$"
run 2 "diff --live without --plane" "$D" diff "$V2" --live --switch DVS0
run 0 "import existing --dry-run" "$D" import "$V2" --mode existing --dry-run
has "plan step format" "$T/out" "^1\. \[reconfigure portgroup\] $PG0: "
has "not applied" "$T/out" "^applied: no$"
run 0 "import existing --dry-run --json" "$D" import "$V2" --mode existing --dry-run --json
json "plan JSON" "d['plan'][0]['kind'] == 'PLAN_STEP_RECONFIGURE_PORTGROUP' and 'applied' not in d"
run 0 "dvsconf-revert (dry run)" "$BUILD/dvsconf-revert" "$V2"
has "revert dry run: plan" "$T/out" "^1\. \[reconfigure portgroup\] $PG0: "
has "revert dry run: nothing changed" "$T/out" "^dry run: nothing was changed"
run 1 "live switch unchanged by the dry run" "$D" diff "$V2" --live --plane "$PLANE" --switch DVS0 --exit-code
run 0 "dvsconf-revert --apply" "$BUILD/dvsconf-revert" "$V2" --apply
has "revert applied" "$T/out" "^applied: yes$"
has "revert: safety version" "$T/out" "^safety version: [0-9]+ "
run 0 "live switch now matches V2" "$D" diff "$V2" --live --plane "$PLANE" --switch DVS0 --exit-code
run 0 "dvsconf-clone (dry run)" "$BUILD/dvsconf-clone" "$V1" --name DVS-ci-clone --portgroup-prefix ci-
has "clone plan: create switch" "$T/out" "^1\. \[create switch\] DVS-ci-clone: "
has "clone plan: prefixed port group" "$T/out" "^[2-5]\. \[add portgroup\] ci-$PG0: "
run 0 "dvsconf-clone --apply" "$BUILD/dvsconf-clone" "$V1" --name DVS-ci-clone --portgroup-prefix ci- --apply
has "clone applied" "$T/out" "^applied: yes$"
has "clone identity map" "$T/out" "^  portgroup ci-$PG0: "
run 0 "switches --live --json" "$D" --json switches --plane "$PLANE" --live
json "the clone exists" "sorted(s['name'] for s in d['switches']) == ['DVS-ci-clone', 'DVS0']"
run 5 "dvsconf-clone again: ALREADY_EXISTS" "$BUILD/dvsconf-clone" "$V1" --name DVS-ci-clone --portgroup-prefix ci- --apply
has "ALREADY_EXISTS message" "$T/err" "^dvsconf-clone: ALREADY_EXISTS: "
run 5 "dvsconf-recreate of an existing switch: ALREADY_EXISTS" "$BUILD/dvsconf-recreate" "$V1"
run 0 "import new --rename --dry-run --json" "$D" --json import "$V1" --mode new --name DVS-ci-2 --rename "$PG0=renamed-pg" --dry-run
json "rename in the plan" "any(s['object'] == 'renamed-pg' for s in d['plan'])"
run 2 "dvsconf-clone without --name" "$BUILD/dvsconf-clone" "$V1"
run 0 "dvsconf-recreate --help" "$BUILD/dvsconf-recreate" --help
# the switch is lost in vCenter (port groups first, as an operator does it)
run 0 "vCenter: destroy DVS0" "$PY" "$ROOT/deploy/vcenter.py" destroy-switch-of "$PG0"
run 0 "dvsconf-recreate (dry run)" "$BUILD/dvsconf-recreate" "$V1"
has "recreate plan: create switch" "$T/out" "^1\. \[create switch\] DVS0: "
run 0 "dvsconf-recreate --apply" "$BUILD/dvsconf-recreate" "$V1" --apply
has "recreate applied" "$T/out" "^applied: yes$"
has "recreate identity map" "$T/out" "^  portgroup $PG0: "
run 0 "re-created switch: same names and settings as V1" "$D" diff "$V1" --live --plane "$PLANE" --switch DVS0
if grep -vqE '(\.key: |^$)' "$T/out"; then bad "re-created switch differs from V1 in more than keys"; else ok "only port-group keys differ"; fi
run 0 "switches (stored)" "$D" switches
has "switches: latest version id/number" "$T/out" "^$PLANE +DVS0 +$UUID0 +4 +[0-9]+/[0-9]+$"

# ---------------------------------------------------------------------------
echo "== unreachable server"
port=$(dvs_free_port)
run 7 "nothing listening: UNAVAILABLE" "$D" --addr "127.0.0.1:$port" health
has "UNAVAILABLE message" "$T/err" "^dvsconf: UNAVAILABLE: "
run 7 "DVSCONF_ADDR is used" env DVSCONF_ADDR="127.0.0.1:$port" "$D" planes

# ---------------------------------------------------------------------------
echo "== tokens (a second dvsconfd with an access file)"
token=ci-viewer-token
cred=$(printf '%s' "$token" | "$BUILD/dvsconfd" hash-token) || die "dvsconfd hash-token failed"
echo "viewer token $cred ci-viewer" >"$T/access"
port2=$(dvs_free_port)
"$BUILD/dvsconfd" serve --plaintext --listen "127.0.0.1:$port2" --pg "$test_uri" --threads 2 \
  --access-file "$T/access" >"$T/d2.log" 2>&1 &
d2_pid=$!
for _ in $(seq 50); do "$D" --addr "127.0.0.1:$port2" health >/dev/null 2>&1 && break; sleep 0.2; done
run 8 "no token: UNAUTHENTICATED" "$D" --addr "127.0.0.1:$port2" versions
has "UNAUTHENTICATED message" "$T/err" "^dvsconf: UNAUTHENTICATED: "
run 8 "wrong token" "$D" --addr "127.0.0.1:$port2" --token wrong versions
run 0 "--token" "$D" --addr "127.0.0.1:$port2" --token "$token" versions
run 0 "DVSCONF_TOKEN" env DVSCONF_TOKEN="$token" "$D" --addr "127.0.0.1:$port2" show "$V1"
run 8 "viewer may not write: PERMISSION_DENIED" env DVSCONF_TOKEN="$token" "$D" --addr "127.0.0.1:$port2" import --from-file "$T/v1.json"
kill "$d2_pid" && wait "$d2_pid" 2>/dev/null
d2_pid=""

# ---------------------------------------------------------------------------
if [[ -n "${DVSCONF_SANITIZE:-}" ]]; then
  # the sanitized pass: these binaries are ASan's already (valgrind cannot
  # run them), and every check above ran under ASan + UBSan
  echo "== memcheck: by AddressSanitizer in this pass (valgrind runs in the plain pass)"
  vg=()
else
  echo "== valgrind (no leaks, no errors)"
  vg=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect
      --show-leak-kinds=definite,indirect --error-exitcode=99)
fi
run 0 "valgrind: versions --all" "${vg[@]}" "$D" versions --all --limit 1
run 0 "valgrind: show --json" "${vg[@]}" "$D" --json show "$V1"
run 0 "valgrind: show --output" "${vg[@]}" "$D" show "$V1" --output "$T/vg.json"
run 0 "valgrind: import --from-file" "${vg[@]}" "$D" import --from-file "$T/v2.json"
run 2 "valgrind: import --from-file, bad input" "${vg[@]}" "$D" import --from-file "$T/bad1.json"
run 1 "valgrind: diff --exit-code" "${vg[@]}" "$D" diff "$V1" "$V2" --exit-code
run 4 "valgrind: NOT_FOUND" "${vg[@]}" "$D" show 999999
run 7 "valgrind: unreachable" "${vg[@]}" "$D" --addr "127.0.0.1:$port" health
run 0 "valgrind: dvsconf-revert" "${vg[@]}" "$BUILD/dvsconf-revert" "$V2"

echo
echo "clients suite: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
