#!/usr/bin/env bash
# The benchmark suite (issue 8; docs/benchmarks.md). Builds release (scripts/build-release.sh), then runs every
# scenario against the release `cano-collector` binary and plugins on loopback.
#
#   scripts/bench.sh            full suite; results in bench/results/<date>.md and .json
#   scripts/bench.sh --quick    the same with the storm scaled down to a tenth
#   scripts/bench.sh --smoke    tiny sizes, checks that every scenario runs and that the
#                               regression guards hold (Benchmarks/CollectorBench/Guards.swift; CI);
#                               results go to a temporary directory, not the repository
#   scripts/bench.sh --only ingest,latency    a subset (names: plugin-call ingest latency memory storm kube shared kafka startup image)
#
# `image` builds the core rootfs with scripts/build-rootfs.sh, which needs root (it sets
# ownership), as the packaging tests do; as another user, leave it out with --only.
#
# `shared` (issue 11: SQLite vs PostgreSQL, 1 and 3 replicas) needs a PostgreSQL: the one
# named by CANO_TEST_POSTGRES_URL, else its own, started through scripts/postgres.sh.
#
# Ends with "N passed, M failed"; exits non-zero if a scenario failed.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=()
out=bench/results
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) mode=(--smoke); out="$(mktemp -d "${TMPDIR:-/tmp}/cano-bench-smoke-XXXXXX")" ;;
    --quick) mode=(--quick) ;;
    --only) args+=(--only "$2"); shift ;;
    --skip-build) skip_build=1 ;;
    *) echo "unknown option: $1 (see the header of $0)" >&2; exit 2 ;;
  esac
  shift
done

scripts/install-deps.sh
if [ -z "${skip_build:-}" ]; then
  # Every product: the collector, both plugins, KubeBench and CollectorBench.
  scripts/build-release.sh
fi
bin="$(swift build -c release --show-bin-path)"

export CANO_BIN_DIR="$bin"
export CANO_BENCH_SWIFT_VERSION="$(swift --version 2>&1 | head -n 1)"
export CANO_BENCH_COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo '+dirty')"
exec "$bin/CollectorBench" "${mode[@]}" --out "$out" "${args[@]}"
