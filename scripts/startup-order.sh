#!/usr/bin/env bash
# Writes Sources/Host/startup.order: the host's functions that start-up, idle, the probes
# and a first few deliveries run, in the order they first run. The release link places
# them first in the binary (Package.swift, scripts/build-release.sh), so they share a few
# MiB of pages instead of touching 8 MiB of the 15 (docs/benchmarks.md, "RSS idle").
#
#   scripts/startup-order.sh
#
# Run it again when start-up code moves (a new dependency, a new module, a refactor of
# what `run` does). A stale file costs memory, never correctness: a name that no longer
# exists is skipped. The packaging tests fail when fewer than 90 % of its names are left
# in the release binary.
#
# How: scripts/startup-order/trace.c runs the release collector under ptrace with a
# breakpoint on every function and records each function's first entry, while this script
# drives it on loopback, twice:
#   1. Alertmanager only (the benchmark's memory scenario): the Webhook and Slack plugins
#      against a stub receiver and a route with matchers; ready, 2 s of idle, an alert
#      firing and resolving, /metrics, /healthz, /readyz, and the shutdown on SIGTERM.
#   2. The Helm chart's default configuration: the same plugins, plus the Kubernetes
#      sources with leader election against the fake API server (KubeBench serve, 200
#      pods and 400 events from ../shared/fixtures), and a resync storm whose Issues are
#      delivered. Reached through a kubeconfig: the chart's service account needs
#      /var/run/secrets, so the in-cluster loader itself (a few functions) is not traced.
# The file lists the first run's functions in their order, then those only the second ran,
# so the Alertmanager-only start-up stays as compact as before.
# Needs a C compiler, binutils (readelf), procps (pgrep), python3, curl and the fixtures;
# x86-64 Linux.
set -euo pipefail
cd "$(dirname "$0")/.."
die() { echo "startup-order: $*" >&2; exit 1; }

for product in cano-collector CanoWebhook CanoSlack KubeBench; do
    scripts/build-release.sh --product "$product" >&2
done
bin=$(swift build -c release --show-bin-path)
cc=$(command -v cc || command -v clang || command -v gcc) || die "no C compiler"

work=$(mktemp -d "${TMPDIR:-/tmp}/cano-startup-order-XXXXXX")
receiver_pid= trace_pid= kube_pid=
cleanup() {
    # The tracer's PTRACE_O_EXITKILL takes the collector down with it.
    [[ -n $trace_pid ]] && kill -KILL "$trace_pid" 2>/dev/null
    [[ -n $receiver_pid ]] && kill "$receiver_pid" 2>/dev/null
    [[ -n $kube_pid ]] && kill "$kube_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

"$cc" -O2 -o "$work/trace" scripts/startup-order/trace.c
# The executable's functions: symbols typed FUNC only, since assembly (BoringSSL's) keeps
# constant tables in .text under other symbols, which a breakpoint would corrupt.
readelf -sW "$bin/cano-collector" | awk '$4 == "FUNC" && $7 != "UND" && $2 !~ /^0+$/ { print $2, $8 }' | sort -u > "$work/symbols"

out=Sources/Host/startup.order
# The fake API server for run 2 first, so the ports picked below cannot be the one it binds.
mkdir "$work/kube"
mkfifo "$work/kube/commands"
"$bin/KubeBench" serve --dir "$work/kube" --pods 200 --events 400 < "$work/kube/commands" > "$work/kube/log" 2>&1 &
kube_pid=$!
exec 3> "$work/kube/commands"  # its stdin, kept open: it reads commands there
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
receiver_port=$(free_port)
port=$(free_port)
# The receiver: 200 to the webhook, and {"ok": true, ...} to every Slack Web API method.
python3 - "$receiver_port" <<'PY' &
import http.server, json, sys
class Receiver(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"ok": True, "user_id": "U0BOT", "team": "T0", "channel": "C0ALERTS01", "ts": "1.000100"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver).serve_forever()
PY
receiver_pid=$!

cat > "$work/config.yaml" <<EOF
cluster: startup-order
data_dir: $work/data
server: {host: 127.0.0.1, port: $port}
plugins: {paths: ["$bin/libCanoWebhook.so", "$bin/libCanoSlack.so"]}
destinations:
  - name: hook
    type: webhook
    config: {url: "http://127.0.0.1:$receiver_port/hook"}
  - name: slack
    type: slack
    config: {token: xoxb-startup-order, channel: C0ALERTS01, api_url: "http://127.0.0.1:$receiver_port/api/"}
routes:
  - matchers: ['alertname=~"KubeContainerOOMKilled|KubePodCrashLooping"', 'namespace!=""']
    destinations: [hook, slack]
default_destinations: [hook]
EOF
url="http://127.0.0.1:$port"
get() { curl -sf --max-time 5 "$@"; }
# Poll with a deadline (60 s): the traced start-up takes a few seconds. On failure it
# shows the end of $wait_log (the collector's log unless set).
wait_for() {
    local what=$1; shift
    for _ in $(seq 1 600); do "$@" && return 0; sleep 0.1; done
    tail -20 "${wait_log:-$work/log}" >&2
    die "timed out waiting for $what"
}
delivered_count() { get "$url/metrics" | awk '/^cano_deliveries_total\{.*result="delivered"/ { n += $2 } END { print n + 0 }'; }
delivered() { [[ $(delivered_count) -ge $1 ]]; }
tracer_gone() { ! kill -0 "$trace_pid" 2>/dev/null; }
ready() {
    get "$url/readyz" -o /dev/null && return 0
    if tracer_gone; then tail -20 "$work/log" >&2; die "the collector stopped during start-up"; fi
    return 1
}

# trace_run CONFIG RAN DRIVE: the collector on CONFIG under the tracer, driven by the
# function DRIVE once it is ready and has idled 2 s; the functions that ran go to RAN.
trace_run() {
    local config=$1 ran=$2 drive=$3 collector_pid n
    rm -rf "$work/data" && mkdir "$work/data"
    "$work/trace" "$work/symbols" "$ran" -- "$bin/cano-collector" run --config "$config" > "$work/log" 2>&1 &
    trace_pid=$!
    wait_for "ready" ready
    collector_pid=$(pgrep -P "$trace_pid") || die "no collector process under the tracer"
    sleep 2  # idle: the timers and pollers that run when nothing happens
    "$drive"
    get "$url/healthz" -o /dev/null
    get "$url/readyz" -o /dev/null
    kill -TERM "$collector_pid"
    wait_for "the collector to stop" tracer_gone
    wait "$trace_pid" || die "the tracer failed (see above); $out is unchanged"
    trace_pid=
    n=$(awk 'NF' "$ran" | wc -l)
    (( n >= 1000 )) || die "only $n functions ran in $ran; $out is unchanged"
}

# 1. Alertmanager only.
sed 's/"status":"firing"/"status":"resolved"/g; s/"endsAt":"0001-01-01T00:00:00Z"/"endsAt":"2026-11-26T15:43:12Z"/' examples/alert.json > "$work/resolved.json"
fire_and_resolve() {
    get -XPOST "$url/api/alerts" -H 'Content-Type: application/json' -d @examples/alert.json -o /dev/null
    wait_for "the firing alert's deliveries" delivered 2
    get -XPOST "$url/api/alerts" -H 'Content-Type: application/json' -d @"$work/resolved.json" -o /dev/null
    wait_for "the resolved alert's deliveries" delivered 4
}
trace_run "$work/config.yaml" "$work/ran-alertmanager" fire_and_resolve

# 2. The Kubernetes sources, against the fake API server seeded from the fixtures.
kube_ready() { [[ -s $work/kube/port ]] && kill -0 "$kube_pid"; }
wait_log=$work/kube/log wait_for "the fake API server" kube_ready
{ cat "$work/config.yaml"; echo "kubernetes: {enabled: true, kubeconfig: \"$work/kube/kubeconfig\", leader_election: {enabled: true}}"; } > "$work/config-kube.yaml"
# Every event sent again as a new Warning, every pod updated, and a crash-looping pod:
# Issues from the watches, enriched and delivered (more than before the storm: the initial
# sync may have raised some already).
resync_storm() {
    local before
    before=$(delivered_count)
    echo "churn 50" >&3
    wait_for "the resync storm's Issues delivered" delivered $((before + 1))
}
trace_run "$work/config-kube.yaml" "$work/ran-kube" resync_storm
exec 3>&-

{
    echo "# Generated by scripts/startup-order.sh on $(date -u +%Y-%m-%d); do not edit."
    echo "# The host's functions in the order start-up, idle and a first delivery run them"
    echo "# (Alertmanager only, then what the Kubernetes sources add):"
    echo "# the release link places them first (Package.swift, docs/benchmarks.md \"RSS idle\")."
    awk 'NF && !seen[$0]++' "$work/ran-alertmanager" "$work/ran-kube"
} > "$out"
# SwiftPM does not know the link reads the file: remove the binary so the next build links.
rm -f "$bin/cano-collector"
echo "startup-order: $(grep -vc '^#' "$out") functions written to $out; scripts/build-release.sh links with it" >&2
