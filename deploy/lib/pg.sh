# shellcheck shell=bash
# A private PostgreSQL 15 cluster in a directory of its own. Source this file.
#
#   pg_start DIR [--fast]   initdb (once) + start; DIR/data is the cluster, the unix
#                           socket lives in DIR, TCP on a free 127.0.0.1 port.
#                           Creates database "dvsconf" and exports PGURI
#                           (postgresql://postgres@127.0.0.1:PORT/dvsconf), PG_DIR,
#                           PG_PORT, PG_SOCKDIR. --fast: fsync etc. off (tests only).
#   pg_stop DIR             pg_ctl stop -m fast; nothing to do if not running
#   pg_destroy DIR          pg_stop, then rm -rf DIR
#   pg_tempdir              print a new directory under /tmp the postgres user can use
#   dvs_free_port           print a free TCP port on 127.0.0.1
#   pg_uri_for URI DB       print URI with its database replaced by DB
#   pg_create_db URI DB     create database DB on URI's server; print its URI
#   pg_drop_db URI DB       drop database DB on URI's server (connections too)
#
# Uses /usr/lib/postgresql/15/bin only: another pg_ctl may be first on PATH.
# PostgreSQL refuses to run as root: as root, it runs as the `postgres` user
# (runuser), so DIR must be reachable by that user (pg_tempdir's is).
# Functions return non-zero with a message on stderr on failure.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

_pg_as() {  # run a command as the cluster's owner
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

_pg_err() { echo "pg.sh: $*" >&2; }

dvs_free_port() {
  /usr/bin/python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

pg_tempdir() {
  local d
  d=$(mktemp -d /tmp/dvsconf-pg.XXXXXX) || return 1
  chmod 755 "$d"
  [[ $(id -u) -eq 0 ]] && chown postgres: "$d"
  echo "$d"
}

pg_start() {
  local dir=${1:?pg_start DIR [--fast]} fast=0 port try opts
  [[ "${2:-}" == --fast ]] && fast=1
  if [[ ! -x "$PG_BIN/pg_ctl" ]]; then
    _pg_err "$PG_BIN/pg_ctl not found: install postgresql (deploy/install-deps.sh)"
    return 1
  fi
  mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || return 1
  if (( ${#dir} > 90 )); then  # unix socket paths are limited to ~107 bytes
    _pg_err "$dir: path too long for a unix socket; use pg_tempdir"
    return 1
  fi
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres: "$dir"
    if ! runuser -u postgres -- test -w "$dir"; then
      _pg_err "$dir: not reachable by user postgres (a parent dir is not traversable); use pg_tempdir"
      return 1
    fi
  fi

  if [[ -f "$dir/data/postmaster.pid" ]] && _pg_as "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    port=$(sed -n 4p "$dir/data/postmaster.pid")
  else
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
      local initopts=(-A trust -U postgres -E UTF8 --no-locale)
      ((fast)) && initopts+=(--no-sync)
      if ! _pg_as "$PG_BIN/initdb" -D "$dir/data" "${initopts[@]}" >"$dir/initdb.log" 2>&1; then
        _pg_err "initdb -D $dir/data failed:"; cat "$dir/initdb.log" >&2
        return 1
      fi
    fi
    opts="-c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir"
    ((fast)) && opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    for try in 1 2 3; do  # the port may be taken between dvs_free_port and bind
      port=$(dvs_free_port) || return 1
      if _pg_as "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
           -o "$opts -p $port" start >/dev/null 2>&1; then
        break
      fi
      if (( try == 3 )); then
        _pg_err "pg_ctl start -D $dir/data failed; tail of $dir/postgres.log:"
        tail -n 20 "$dir/postgres.log" >&2
        return 1
      fi
    done
  fi

  if ! _pg_as "$PG_BIN/psql" -h "$dir" -p "$port" -U postgres -d postgres -XtAq \
         -c "SELECT 1 FROM pg_database WHERE datname = 'dvsconf'" | grep -q 1; then
    _pg_as "$PG_BIN/createdb" -h "$dir" -p "$port" -U postgres dvsconf || {
      _pg_err "createdb dvsconf failed"; return 1; }
  fi
  export PG_DIR=$dir PG_PORT=$port PG_SOCKDIR=$dir
  export PGURI="postgresql://postgres@127.0.0.1:$port/dvsconf"
}

pg_stop() {
  local dir=${1:?pg_stop DIR}
  [[ -f "$dir/data/postmaster.pid" ]] || return 0
  _pg_as "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 || {
    # not running (stale pid file) is fine; anything else is reported
    if _pg_as "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      _pg_err "pg_ctl stop -D $dir/data failed"; return 1
    fi
  }
}

pg_destroy() {
  local dir=${1:?pg_destroy DIR}
  [[ -d "$dir" ]] || return 0
  pg_stop "$dir" || return 1
  rm -rf "$dir"
}

# pg_uri_for URI DB: URI with its database replaced by DB
pg_uri_for() {
  /usr/bin/python3 -c 'import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$1" "$2"
}

# pg_create_db URI DB: create database DB on URI's server; print its URI
pg_create_db() {
  local admin
  admin=$(pg_uri_for "$1" postgres) || return 1
  "$PG_BIN/psql" "$admin" -XqAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$2\"" >/dev/null \
    || { _pg_err "cannot create database $2 via $admin"; return 1; }
  pg_uri_for "$1" "$2"
}

# pg_drop_db URI DB: drop database DB on URI's server, and its connections
pg_drop_db() {
  local admin
  admin=$(pg_uri_for "$1" postgres) || return 1
  "$PG_BIN/psql" "$admin" -XqAt -c "DROP DATABASE IF EXISTS \"$2\" WITH (FORCE)" >/dev/null
}
