#!/usr/bin/env bash
# Starts a local dvsconf stack: PostgreSQL, a vcsim (simulated vCenter with one
# datacenter, a cluster of 3 hosts, switch DVS0 with 4 port groups) and dvsconfd
# with a plane "vcsim" pointing at it. State (pids, logs, config, env) lives in
# deploy/.state/; deploy/down.sh stops it all.
#
#   deploy/up.sh [--state DIR] [--build DIR] [--no-build] [--pg URI]
#                [--launcher BIN] [--port N] [--fast] [--plaintext] [-- DVSCONFD_ARGS...]
#
#   --state DIR     where state goes (default deploy/.state)
#   --build DIR     build dir with dvsconfd (default build/)
#   --no-build      do not run cmake; dvsconfd must already be built
#   --pg URI        use this database instead of starting PostgreSQL
#   --launcher BIN  vcsim launcher binary (default: built once into STATE/bin/)
#   --port N        dvsconfd's port on 127.0.0.1 (default: a free one)
#   --fast          PostgreSQL without fsync (tests)
#   --plaintext     serve plaintext gRPC with no identity checks (also
#                   DVSCONF_PLAINTEXT=1); on 127.0.0.1 only
#   DVSCONFD_ARGS   more options for `dvsconfd serve` (e.g. --threads 2)
# Secure by default: a private CA and a server certificate for 127.0.0.1 /
# localhost (STATE/tls/), admin, operator and viewer tokens (files 0600; the
# access file holds only their SHA-256), and dvsconfd with TLS and token checks.
# DVSCONF_WRAPPER="valgrind -q ..." runs dvsconfd under that command.
#
# On success prints and writes STATE/env (KEY=value lines):
#   DVSCONF_ADDR, DVSCONF_PLANE, PGURI, VCSIM_URL (sdk URL, no credentials),
#   VCSIM_HOOKS_URL (launcher base URL), VCSIM_USER, VCSIM_PASSWORD_FILE,
#   DVSCONF_CONFIG, DVSCONF_LOG; unless --plaintext also DVSCONF_CA (the CA
#   certificate), DVSCONF_ADMIN_TOKEN, DVSCONF_OPERATOR_TOKEN, DVSCONF_VIEWER_TOKEN
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=deploy/lib/pg.sh
source "$ROOT/deploy/lib/pg.sh"
PY=/usr/bin/python3

STATE=$ROOT/deploy/.state BUILD=$ROOT/build do_build=1 pguri="" launcher="" port="" fast="" extra=()
plaintext=${DVSCONF_PLAINTEXT:+1}
plaintext=${plaintext:-0}
while [[ $# -gt 0 ]]; do
  case $1 in
    --state) STATE=$2; shift ;;
    --build) BUILD=$2; shift ;;
    --no-build) do_build=0 ;;
    --pg) pguri=$2; shift ;;
    --launcher) launcher=$2; shift ;;
    --port) port=$2; shift ;;
    --fast) fast=--fast ;;
    --plaintext) plaintext=1 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
    *) echo "up.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$STATE" "$BUILD" 2>/dev/null || true
STATE=$(cd "$STATE" && pwd)
BUILD=$(cd "$BUILD" && pwd)

die() {
  echo "up.sh: $*" >&2
  exit 1
}

# alive PIDFILE NAME: the pid in PIDFILE runs a program whose command line has NAME
alive() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2"
}

# --- already up? ----------------------------------------------------------------
if [[ -f "$STATE/env" ]] && alive "$STATE/dvsconfd.pid" dvsconfd && alive "$STATE/vcsim.pid" "$(cat "$STATE/vcsim.bin" 2>/dev/null || echo vcsim)"; then
  echo "up.sh: already up (deploy/down.sh to stop); $STATE/env:"
  cat "$STATE/env"
  exit 0
fi
if [[ -e "$STATE/dvsconfd.pid" || -e "$STATE/vcsim.pid" || -e "$STATE/pg.dir" ]]; then
  echo "up.sh: cleaning up what is left of a previous run"
  "$ROOT/deploy/down.sh" --state "$STATE" >/dev/null 2>&1 || true
fi
rm -f "$STATE/env"

# From here on, a failure stops whatever this run started.
started=0
on_exit() {
  local rc=$?
  if [[ $rc -ne 0 && $started -eq 1 ]]; then
    for f in vcsim dvsconfd; do
      if [[ -s "$STATE/$f.log" ]]; then
        echo "---- tail of $STATE/$f.log" >&2; tail -n 25 "$STATE/$f.log" >&2
      fi
    done
    echo "up.sh: failed; stopping what was started" >&2
    "$ROOT/deploy/down.sh" --state "$STATE" >&2 || true
  fi
}
trap on_exit EXIT

# --- build ----------------------------------------------------------------------
if ((do_build)); then
  echo "up.sh: building in $BUILD"
  if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
    cmake -S "$ROOT" -B "$BUILD" >"$STATE/build.log" 2>&1 || { tail -n 30 "$STATE/build.log" >&2; die "cmake configure failed (log: $STATE/build.log)"; }
  fi
  cmake --build "$BUILD" -j2 >>"$STATE/build.log" 2>&1 || { tail -n 30 "$STATE/build.log" >&2; die "build failed (log: $STATE/build.log)"; }
fi
DVSCONFD=$BUILD/dvsconfd
[[ -x "$DVSCONFD" ]] || die "$DVSCONFD not found: the daemon did not build (cmake --build $BUILD)"

if [[ -z "$launcher" ]]; then
  launcher=$STATE/bin/vcsim-launcher
  if [[ ! -x "$launcher" ]]; then
    [[ -f "$ROOT/deploy/vcsim/build.sh" ]] || die "deploy/vcsim/build.sh not found: cannot build the vcsim launcher"
    echo "up.sh: building the vcsim launcher into $launcher"
    mkdir -p "$STATE/bin"
    bash "$ROOT/deploy/vcsim/build.sh" "$launcher" </dev/null >"$STATE/vcsim-build.log" 2>&1 \
      || { tail -n 30 "$STATE/vcsim-build.log" >&2; die "deploy/vcsim/build.sh failed (log: $STATE/vcsim-build.log)"; }
    [[ -x "$launcher" ]] || die "deploy/vcsim/build.sh did not produce $launcher"
  fi
fi
[[ -x "$launcher" ]] || die "vcsim launcher $launcher is not an executable"
basename "$launcher" >"$STATE/vcsim.bin"
started=1

# spawn NAME CMD...: run CMD in the background, log to STATE/NAME.log, its pid in
# STATE/NAME.pid, and its exit status in STATE/NAME.exit once it ends.
spawn() {
  local name=$1; shift
  rm -f "$STATE/$name.pid" "$STATE/$name.exit"
  (
    "$@" </dev/null >>"$STATE/$name.log" 2>&1 &
    echo $! >"$STATE/$name.pid.tmp"; mv "$STATE/$name.pid.tmp" "$STATE/$name.pid"
    wait $!
    echo $? >"$STATE/$name.exit"
  ) </dev/null >/dev/null 2>&1 &
  for _ in $(seq 100); do [[ -s "$STATE/$name.pid" ]] && return 0; sleep 0.05; done
  die "could not start $name"
}

# --- PostgreSQL -----------------------------------------------------------------
if [[ -z "$pguri" ]]; then
  pgdir=$STATE/pg
  if [[ -s "$STATE/pg.dir.keep" ]]; then
    pgdir=$(cat "$STATE/pg.dir.keep")  # data kept by an earlier up.sh (down.sh keeps it)
  elif [[ $(id -u) -eq 0 ]] && { ! runuser -u postgres -- test -x "$STATE" || (( ${#pgdir} > 90 )); }; then
    pgdir=$(pg_tempdir)  # postgres cannot reach $STATE: keep the data under /tmp
  fi
  echo "$pgdir" >"$STATE/pg.dir"; echo "$pgdir" >"$STATE/pg.dir.keep"
  echo "up.sh: starting PostgreSQL 15 in $pgdir"
  pg_start "$pgdir" $fast || die "PostgreSQL did not start (log: $pgdir/postgres.log)"
  pguri=$PGURI  # set by pg_start
fi

echo "up.sh: migrating the database"
"$DVSCONFD" migrate --pg "$pguri" </dev/null >"$STATE/migrate.log" 2>&1 \
  || { cat "$STATE/migrate.log" >&2; die "dvsconfd migrate failed"; }

# --- vcsim ----------------------------------------------------------------------
echo "up.sh: starting vcsim ($launcher)"
rm -f "$STATE/vcsim.url" "$STATE/vcsim.log"
spawn vcsim "$launcher" -listen 127.0.0.1:0 -url-file "$STATE/vcsim.url" -test-hooks \
  -dc 1 -cluster 1 -host 3 -pg 4
url=""
for _ in $(seq 300); do  # 30 s
  if [[ -s "$STATE/vcsim.url" ]] && grep -Eq '^https?://.+/sdk$' "$STATE/vcsim.url"; then
    url=$(head -n 1 "$STATE/vcsim.url"); break
  fi
  alive "$STATE/vcsim.pid" "$(basename "$launcher")" || die "vcsim exited (status $(cat "$STATE/vcsim.exit" 2>/dev/null || echo '?'))"
  sleep 0.1
done
[[ -n "$url" ]] || die "vcsim wrote no URL to $STATE/vcsim.url within 30 s"

# Split http://user:pass@host:port/sdk; the password goes to a 0600 file.
mapfile -t parts < <("$PY" - "$url" <<'EOF'
import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
print(u.unquote(p.username or "")); print(u.unquote(p.password or ""))
print(u.urlunsplit((p.scheme, p.hostname + ":" + str(p.port), p.path, "", "")))
print(u.urlunsplit((p.scheme, p.hostname + ":" + str(p.port), "", "", "")))
EOF
)
[[ ${#parts[@]} -eq 4 ]] || die "cannot parse the vcsim URL in $STATE/vcsim.url"
vc_user=${parts[0]} vc_pass=${parts[1]} vc_sdk=${parts[2]} vc_base=${parts[3]}
[[ -n "$vc_user" ]] || die "vcsim URL $vc_sdk carries no user name"
(umask 077; printf '%s' "$vc_pass" >"$STATE/vcsim.password")

"$PY" - "$STATE/dvsconf.json" "$vc_sdk" "$vc_user" "$STATE/vcsim.password" <<'EOF'
import json, sys
out, url, user, pwfile = sys.argv[1:]
plane = {"name": "vcsim", "kind": "vsphere", "url": url, "username": user,
         "password_file": pwfile, "insecure": True, "timeout_ms": 30000}
with open(out, "w") as f:
    json.dump({"planes": [plane]}, f, indent=2)
    f.write("\n")
EOF

# --- TLS and tokens -------------------------------------------------------------
transport=(--plaintext)
secure_env=""
if ((!plaintext)); then
  tls=$STATE/tls
  mkdir -p "$tls"
  if [[ ! -s "$tls/server.pem" ]]; then
    echo "up.sh: making a private CA and a server certificate in $tls"
    (
      umask 077
      openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=dvsconf local CA" \
        -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
      openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
        -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$tls/ext.cnf"
      openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
        -CAcreateserial -days 825 -extfile "$tls/ext.cnf" -out "$tls/server.pem" 2>/dev/null
    ) || die "openssl could not make the certificates"
    chmod 644 "$tls/ca.pem" "$tls/server.pem"
  fi
  : >"$STATE/access"
  for role in admin operator viewer; do
    if [[ ! -s "$tls/$role.token" ]]; then
      (umask 077; openssl rand -hex 24 >"$tls/$role.token")
    fi
    printf '%s token %s local-%s\n' "$role" \
      "$(tr -d '\n' <"$tls/$role.token" | "$DVSCONFD" hash-token)" "$role" >>"$STATE/access"
  done
  transport=(--tls-cert "$tls/server.pem" --tls-key "$tls/server.key" --access-file "$STATE/access")
  secure_env="DVSCONF_CA=$tls/ca.pem
DVSCONF_ADMIN_TOKEN=$(cat "$tls/admin.token")
DVSCONF_OPERATOR_TOKEN=$(cat "$tls/operator.token")
DVSCONF_VIEWER_TOKEN=$(cat "$tls/viewer.token")"
fi

# --- dvsconfd -------------------------------------------------------------------
[[ -n "$port" ]] || port=$(dvs_free_port)
addr=127.0.0.1:$port
echo "up.sh: starting dvsconfd on $addr ($( ((plaintext)) && echo plaintext || echo "TLS, tokens"))"
# shellcheck disable=SC2086  # DVSCONF_WRAPPER is a command line
spawn dvsconfd ${DVSCONF_WRAPPER:-} "$DVSCONFD" serve --listen "$addr" --pg "$pguri" \
  --config "$STATE/dvsconf.json" "${transport[@]}" "${extra[@]}"

"$PY" - "$addr" "$STATE/dvsconfd.pid" "${DVSCONF_READY_TIMEOUT:-60}" "${tls:-}" <<'EOF' || die "dvsconfd did not become ready (log: $STATE/dvsconfd.log)"
import os, sys, time, grpc
addr, pidfile, timeout, tls = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
pid = int(open(pidfile).read())
deadline = time.monotonic() + timeout
if tls:
    creds = grpc.ssl_channel_credentials(open(os.path.join(tls, "ca.pem"), "rb").read())
    ch = grpc.secure_channel(addr, creds)
else:
    ch = grpc.insecure_channel(addr)
with ch:
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            sys.exit("up.sh: dvsconfd exited during start-up")
        try:
            grpc.channel_ready_future(ch).result(timeout=0.5)
            break
        except grpc.FutureTimeoutError:
            if time.monotonic() > deadline:
                sys.exit("up.sh: dvsconfd's port %s does not answer after %gs" % (addr, timeout))
    # grpc.health.v1.Health/Check with an empty request; SERVING is b"\x08\x01"
    check = ch.unary_unary("/grpc.health.v1.Health/Check")
    try:
        reply = check(b"", timeout=10)
        print("up.sh: health:", "SERVING" if reply == b"\x08\x01" else "reply %r" % reply)
    except grpc.RpcError as e:
        print("up.sh: warning: health check failed: %s %s" % (e.code(), e.details()), file=sys.stderr)
EOF

cat >"$STATE/env" <<EOF
DVSCONF_ADDR=$addr
DVSCONF_PLANE=vcsim
PGURI=$pguri
VCSIM_URL=$vc_sdk
VCSIM_HOOKS_URL=$vc_base
VCSIM_USER=$vc_user
VCSIM_PASSWORD_FILE=$STATE/vcsim.password
DVSCONF_CONFIG=$STATE/dvsconf.json
DVSCONF_LOG=$STATE/dvsconfd.log
${secure_env}
EOF
echo "up.sh: up; $STATE/env (tokens not shown):"
sed -E 's/^(DVSCONF_[A-Z]+_TOKEN)=.*/\1=.../' "$STATE/env"
