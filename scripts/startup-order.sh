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
# drives it on loopback: the Webhook and Slack plugins (the benchmark's memory scenario)
# against a stub receiver and a route with matchers; ready, 2 s of idle, an alert firing
# and resolving, /metrics, /healthz, /readyz, and the shutdown on SIGTERM (last in the
# file). Needs a C compiler, binutils (readelf), procps (pgrep), python3 and curl;
# x86-64 Linux.
set -euo pipefail
cd "$(dirname "$0")/.."
die() { echo "startup-order: $*" >&2; exit 1; }

for product in cano-collector CanoWebhook CanoSlack; do
    scripts/build-release.sh --product "$product" >&2
done
bin=$(swift build -c release --show-bin-path)
cc=$(command -v cc || command -v clang || command -v gcc) || die "no C compiler"

work=$(mktemp -d "${TMPDIR:-/tmp}/cano-startup-order-XXXXXX")
receiver_pid= trace_pid=
cleanup() {
    # The tracer's PTRACE_O_EXITKILL takes the collector down with it.
    [[ -n $trace_pid ]] && kill -KILL "$trace_pid" 2>/dev/null
    [[ -n $receiver_pid ]] && kill "$receiver_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

"$cc" -O2 -o "$work/trace" scripts/startup-order/trace.c
# The executable's functions: symbols typed FUNC only, since assembly (BoringSSL's) keeps
# constant tables in .text under other symbols, which a breakpoint would corrupt.
readelf -sW "$bin/cano-collector" | awk '$4 == "FUNC" && $7 != "UND" && $2 !~ /^0+$/ { print $2, $8 }' | sort -u > "$work/symbols"

out=Sources/Host/startup.order
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
mkdir "$work/data"

"$work/trace" "$work/symbols" "$work/ran" -- "$bin/cano-collector" run --config "$work/config.yaml" > "$work/log" 2>&1 &
trace_pid=$!
url="http://127.0.0.1:$port"
get() { curl -sf --max-time 5 "$@"; }
# Poll with a deadline (60 s): the traced start-up takes a few seconds.
wait_for() {
    local what=$1; shift
    for _ in $(seq 1 600); do "$@" && return 0; sleep 0.1; done
    tail -20 "$work/log" >&2
    die "timed out waiting for $what"
}
wait_for "ready" get "$url/readyz" -o /dev/null
collector_pid=$(pgrep -P "$trace_pid") || die "no collector process under the tracer"
sleep 2  # idle: the timers and pollers that run when nothing happens
get -XPOST "$url/api/alerts" -H 'Content-Type: application/json' -d @examples/alert.json -o /dev/null
sed 's/"status":"firing"/"status":"resolved"/g; s/"endsAt":"0001-01-01T00:00:00Z"/"endsAt":"2026-11-26T15:43:12Z"/' examples/alert.json > "$work/resolved.json"
delivered() { [[ $(get "$url/metrics" | awk '/^cano_deliveries_total\{.*result="delivered"/ { n += $2 } END { print n + 0 }') -ge $1 ]]; }
wait_for "the firing alert's deliveries" delivered 2
get -XPOST "$url/api/alerts" -H 'Content-Type: application/json' -d @"$work/resolved.json" -o /dev/null
wait_for "the resolved alert's deliveries" delivered 4
get "$url/healthz" -o /dev/null
get "$url/readyz" -o /dev/null
kill -TERM "$collector_pid"
tracer_gone() { ! kill -0 "$trace_pid" 2>/dev/null; }
wait_for "the collector to stop" tracer_gone
wait "$trace_pid" || die "the tracer failed (see above); $out is unchanged"
trace_pid=
ran=$(awk 'NF' "$work/ran" | wc -l)
(( ran >= 1000 )) || die "only $ran functions ran; $out is unchanged"

{
    echo "# Generated by scripts/startup-order.sh on $(date -u +%Y-%m-%d); do not edit."
    echo "# The host's functions in the order start-up, idle and a first delivery run them:"
    echo "# the release link places them first (Package.swift, docs/benchmarks.md \"RSS idle\")."
    awk 'NF && !seen[$0]++' "$work/ran"
} > "$out"
# SwiftPM does not know the link reads the file: remove the binary so the next build links.
rm -f "$bin/cano-collector"
echo "startup-order: $(grep -vc '^#' "$out") functions written to $out; scripts/build-release.sh links with it" >&2
