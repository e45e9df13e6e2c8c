#!/usr/bin/env bash
# Quick start: install what is missing, build, and start a local cluster
# (primary + standbys + etcd on loopback) with a short demo workload.
# Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build --silent
exec node bin/pg-failover.js up --demo "$@"
