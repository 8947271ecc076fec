#!/usr/bin/env bash
# Builds cano-collector and runs it on examples/local.yaml: no cluster, no credentials.
# Issues are printed to stdout as JSON lines. Send a test alert from another shell with:
#   curl -sS -XPOST localhost:9099/api/alerts -H 'Content-Type: application/json' -d @examples/alert.json
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >&2
swift build >&2   # keep stdout for the Issues
exec .build/debug/cano-collector run --config examples/local.yaml "$@"
