#!/bin/sh
# Build the vcsim launcher offline from Debian's govmomi source
# (golang-go + golang-github-vmware-govmomi-dev). Usage: build.sh [OUT]
# OUT defaults to deploy/.state/bin/vcsim. Go's build cache goes to $GOCACHE
# when set, else deploy/.state/gocache (CI runs as root in a fresh clone,
# where $HOME/.cache may not be writable).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
state="$(cd "$here/.." && pwd)/.state"
out=${1:-"$state/bin/vcsim"}
case "$out" in /*) ;; *) out="$(pwd)/$out" ;; esac

command -v go >/dev/null 2>&1 || { echo "build.sh: go not found (apt-get install golang-go)" >&2; exit 1; }
gocode=/usr/share/gocode
[ -d "$gocode/src/github.com/vmware/govmomi/simulator" ] ||
  { echo "build.sh: govmomi source missing (apt-get install golang-github-vmware-govmomi-dev)" >&2; exit 1; }

mkdir -p "$(dirname "$out")"
export GOCACHE="${GOCACHE:-$state/gocache}"
mkdir -p "$GOCACHE"
cd "$here"
GOPATH=$gocode GO111MODULE=off GOFLAGS= go build -o "$out" main.go
echo "$out"
