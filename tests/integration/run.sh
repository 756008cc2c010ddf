#!/usr/bin/env bash
# Store + service operations against the real PostgreSQL in $PGURI.
set -euo pipefail
: "${PGURI:?PGURI must name a database (tests/run.sh sets it)}"
: "${DVSCONF_BUILD:?DVSCONF_BUILD must be the build dir}"
exec "$DVSCONF_BUILD/tests/integration/test_store_ops"
