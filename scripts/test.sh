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
swift build --build-tests
# Five phases. The leader-election suites (two replicas racing for a 2 s Lease; the
# election's own suite timed out waiting for a leader once beside the rest),
# the shared-store suites (2-3 collectors at a time against PostgreSQL servers of their
# own: initdb, restarts) and the destinations' end-to-end suites (a collector and an
# Alertmanager per destination, and the 200-Issue 429 bursts) are timing-bound or
# CPU-heavy; beside the rest of the suite on a 2-core machine they starve each other's
# leases and deadlines. So the rest runs first, in parallel as usual, then each group on
# its own. The Kafka suites whose mock broker goes down and up run in a phase of their
# own, last: librdkafka 2.0's mock closes the broker's listener on "down" and binds its
# port again at once, and aborts the whole test process when another socket took the port
# in between (seen once beside the rest, then once beside the leader-election suites,
# whose watches and Lease calls open connections all the time). The
# console's browser test (a headless Chromium beside a collector, its pages waiting on
# deliveries with deadlines) is CPU-heavy the same way: it runs with the destinations.
browser='ConsoleBrowserTests'
failover='DetectorStateTests|LeaderElectionTests'
broker_outage='KafkaDeliveryTests|KafkaEndToEndTests'
shared_state='SharedStateProcessTests|SharedStoreTests|SchemaUpgradeTests|PostgreSQLDatabaseTests|PostgresTLSTests|PostgresServerTests|aLeaderFailover|NoiseControlSharedStoreTests|SilenceStorePostgresTests|OrderingSharedStoreTests|IssueJournalSharedStoreTests'
destinations='(PagerDuty|Opsgenie|Jira|ServiceNow|Teams|Datadog|NoiseControl|Ordering|Grouping)EndToEndTests|RateLimitBurstTests'
swift test --skip-build --skip "$failover|$broker_outage|$shared_state|$destinations|$browser"
swift test --skip-build --filter "$failover"
swift test --skip-build --filter "$shared_state"
swift test --skip-build --filter "$destinations|$browser"
swift test --skip-build --filter "$broker_outage"
scripts/test-packaging.sh
# Benchmarks are not tests; the smoke variant checks that every scenario still runs and
# that the loose regression guards on idle RSS and the ingest ratio hold (issue 16).
scripts/bench.sh --smoke
