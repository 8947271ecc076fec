#!/usr/bin/env python3
"""End-to-end delivery latency of the real collector at a fixed alert rate.

Starts a loopback receiver, runs `cano-collector run` with the Webhook plugin pointing at
it, posts one Alertmanager webhook per alert at --rate alerts/s for --seconds, and prints
the p50/p99 time from the POST to /api/alerts until the receiver got the Issue.
Build in release first:

    scripts/build-release.sh
    python3 Benchmarks/e2e_latency.py --bin .build/release/cano-collector \
        --plugin .build/release/libCanoWebhook.so --rate 100 --seconds 20
"""
import argparse
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

arrivals = {}
lock = threading.Lock()


class Receiver(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle plus the
    # client's delayed ACK would add ~40 ms to every answer (the receiver's cost, not ours).
    disable_nagle_algorithm = True

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        now = time.monotonic()
        fingerprint = json.loads(body).get("fingerprint", "")
        with lock:
            arrivals.setdefault(fingerprint, now)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def webhook(fingerprint):
    return json.dumps({
        "version": "4", "status": "firing", "receiver": "cano", "groupKey": "{}:{}",
        "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
        "alerts": [{
            "status": "firing", "fingerprint": fingerprint,
            "labels": {"alertname": "Latency", "severity": "critical", "fp": fingerprint},
            "annotations": {"summary": "latency probe"},
            "startsAt": "2026-11-26T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
        }],
    }).encode()


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--plugin", required=True)
    ap.add_argument("--rate", type=int, default=100)
    ap.add_argument("--seconds", type=int, default=20)
    args = ap.parse_args()

    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    workdir = tempfile.mkdtemp(prefix="cano-e2e-")
    port = free_port()
    config = os.path.join(workdir, "config.yaml")
    with open(config, "w") as f:
        f.write(f"""data_dir: {workdir}/data
server:
  host: 127.0.0.1
  port: {port}
plugins:
  paths: ["{os.path.abspath(args.plugin)}"]
destinations:
  - name: fast
    type: webhook
    config:
      url: http://127.0.0.1:{receiver.server_address[1]}/hook
default_destinations: [fast]
""")
    log = open(os.path.join(workdir, "collector.log"), "w")
    proc = subprocess.Popen([args.bin, "run", "--config", config, "--log-level", "warning"], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1).status == 200:
                    break
            except Exception:
                if time.monotonic() > deadline or proc.poll() is not None:
                    sys.exit("collector did not become ready; see " + log.name)
                time.sleep(0.05)
        total = args.rate * args.seconds
        sent = {}
        start = time.monotonic()
        for i in range(total):
            due = start + i / args.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            fingerprint = f"{i:016x}"
            sent[fingerprint] = time.monotonic()
            req = urllib.request.Request(f"http://127.0.0.1:{port}/api/alerts", data=webhook(fingerprint),
                                         headers={"Content-Type": "application/json"})
            if urllib.request.urlopen(req, timeout=10).status != 200:
                sys.exit("intake refused an alert")
        deadline = time.monotonic() + 30
        while len(arrivals) < total and time.monotonic() < deadline:
            time.sleep(0.05)
        latencies = [(arrivals[fp] - t) * 1000 for fp, t in sent.items() if fp in arrivals]
        print(f"delivered {len(latencies)}/{total} at {args.rate}/s; end-to-end latency "
              f"p50 {percentile(latencies, 0.5):.2f} ms, p99 {percentile(latencies, 0.99):.2f} ms, max {max(latencies):.2f} ms")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        receiver.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
