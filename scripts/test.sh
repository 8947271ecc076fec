#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine with Swift 6.3:
# system packages, the Swift tests (unit, plugin ABI, delivery, Slack, Kubernetes,
# end to end with a real Alertmanager), the packaging tests (rootfs, chart, examples), and
# a smoke run of the benchmark suite.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
# A disposable PostgreSQL (scripts/postgres.sh) for the tests of the shared store, in a
# folder of this run's own, gone at exit. Swift tests read its admin URL from
# CANO_TEST_POSTGRES_URL and make a database each (Tests/TestSupport/PostgresServer.swift).
export CANO_POSTGRES_HOME
CANO_POSTGRES_HOME=$(mktemp -d "${TMPDIR:-/tmp}/cano-postgres-test.XXXXXX")
trap 'scripts/postgres.sh destroy' EXIT
export CANO_TEST_POSTGRES_URL
CANO_TEST_POSTGRES_URL=$(scripts/postgres.sh start)
echo "PostgreSQL for the tests: $CANO_TEST_POSTGRES_URL"
# `swift build` builds every product, including the plugin .so files the tests dlopen;
# `swift test` alone builds only what the test targets link.
swift build
swift test
scripts/test-packaging.sh
# Benchmarks are not tests; the smoke variant only checks that every scenario still runs.
scripts/bench.sh --smoke
