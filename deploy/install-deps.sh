#!/usr/bin/env bash
# Installs the Debian 12 packages dvsconf needs to build, test and run, and
# only those that are missing. Runs as root (CI) or through sudo.
#   deploy/install-deps.sh          install what is missing
#   deploy/install-deps.sh --check  list what is missing; exit 1 if anything is
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libgrpc-dev protobuf-c-compiler libprotobuf-c-dev
  libcmocka-dev libjansson-dev libcurl4-openssl-dev libxml2-dev libssl-dev libpq-dev zlib1g-dev liblzma-dev
  openssl                                     # the local stack's CA, certificate and tokens
  clang                                       # libFuzzer targets
  postgresql                                  # server binaries in /usr/lib/postgresql/15/bin
  golang-go golang-github-vmware-govmomi-dev  # the vcsim launcher
  protobuf-compiler protobuf-compiler-grpc python3-grpcio python3-protobuf  # python client tests
  valgrind nghttp2-client                     # memcheck, h2load for benchmarks
  util-linux                                  # runuser
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == installed ]] || missing+=("$p")
done
# Node.js for the independent grpc-js client (tests/hardening): by command,
# since a machine may have it from elsewhere than Debian's nodejs + npm.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
if [[ "${1:-}" == --check ]]; then
  echo "install-deps: missing: ${missing[*]}"
  exit 1
fi

if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null; then
  SUDO=(sudo)
else
  echo "install-deps: missing ${missing[*]}, and not root and no sudo" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
