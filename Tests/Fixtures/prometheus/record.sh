#!/usr/bin/env bash
# Re-records the answers in this folder (see README.md). Needs Debian's prometheus package.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'kill $(cat "$work/pid") 2>/dev/null || true; rm -rf "$work"' EXIT
python3 - "$work/data.om" <<'PY'
import sys, datetime
def ts(s): return int(datetime.datetime.fromisoformat(s.replace('Z', '+00:00')).timestamp())
MI = 1024 * 1024
A = dict(namespace="payments", pod="worker-5c4b7f9d8-abcde", container="worker")
B = dict(namespace="test-ns-5msxm", pod="raycluster-auth-token-head-vbjrq", container="ray-head")
a0, kill, endA = ts("2026-11-30T08:00:00Z"), ts("2026-11-30T08:45:00Z"), ts("2026-11-30T08:55:00Z")
b0, bkill, endB = ts("2026-01-08T08:06:45Z"), ts("2026-01-08T08:07:10Z"), ts("2026-01-08T08:10:00Z")
def lbl(d, **extra): return "{" + ",".join(f'{k}="{v}"' for k, v in {**d, **extra}.items()) + "}"
mem, cpu, c = [], [], 0.0
for t in range(a0 - 900, endA + 1, 15):
    if a0 <= t <= kill: mem.append((t, 150 * MI + 360 * MI * (t - a0) / (kill - a0) + (3 * MI if (t // 15) % 2 else 0)))
    elif t >= kill + 30: mem.append((t, 120 * MI + 60 * MI * (t - kill - 30) / (endA - kill - 30)))
    if t >= a0:
        c += 0.21 * 15 + (0.3 if (t // 60) % 3 == 0 else 0)
        cpu.append((t, c))
memB = [(b0, 0.62e9), (b0 + 15, 1.55e9), (bkill - 1, 1.98e9)] + [(t, 0.35e9 + (t - bkill) * 2.5e6) for t in range(bkill + 5, endB + 1, 15)]
out = ["# TYPE container_memory_working_set_bytes gauge"]
out += [f"container_memory_working_set_bytes{lbl(A)} {v:.0f} {t}" for t, v in mem]
out += [f"container_memory_working_set_bytes{lbl(B)} {v:.0f} {t}" for t, v in memB]
out += ["# TYPE container_cpu_usage_seconds_total counter"] + [f"container_cpu_usage_seconds_total{lbl(A)} {v:.3f} {t}" for t, v in cpu]
for name, va, vb in [("kube_pod_container_resource_limits", {"memory": 512 * MI, "cpu": 0.5}, {"memory": 2e9, "cpu": 0.5}),
                     ("kube_pod_container_resource_requests", {"memory": 256 * MI, "cpu": 0.25}, {"memory": 1e9, "cpu": 0.3})]:
    out.append(f"# TYPE {name} gauge")
    for res, unit in [("memory", "byte"), ("cpu", "core")]:
        out += [f"{name}{lbl(A, resource=res, unit=unit)} {va[res]} {t}" for t in range(a0 - 900, endA + 1, 15)]
        out += [f"{name}{lbl(B, resource=res, unit=unit)} {vb[res]} {t}" for t in range(b0 - 60, endB + 1, 15)]
open(sys.argv[1], "w").write("\n".join(out + ["# EOF"]) + "\n")
PY
promtool tsdb create-blocks-from openmetrics "$work/data.om" "$work/tsdb" >/dev/null
printf 'global: {scrape_interval: 15s}\nscrape_configs: []\n' > "$work/prom.yml"
prometheus --config.file="$work/prom.yml" --storage.tsdb.path="$work/tsdb" --storage.tsdb.retention.time=5y \
  --web.listen-address=127.0.0.1:19090 >"$work/log" 2>&1 & echo $! >"$work/pid"
until curl -sf 127.0.0.1:19090/-/ready >/dev/null; do sleep 0.2; done
record() { # name end namespace pod container
  local sel="namespace=\"$3\", pod=\"$4\", container=\"$5\"" start=$(( $2 - 3600 ))
  declare -A q=(
    [memory]="max by (container) (container_memory_working_set_bytes{$sel})"
    [cpu]="sum by (container) (rate(container_cpu_usage_seconds_total{$sel}[5m]))"
    [memory-limit]="max by (container) (kube_pod_container_resource_limits{$sel, resource=\"memory\"})"
    [memory-request]="max by (container) (kube_pod_container_resource_requests{$sel, resource=\"memory\"})"
    [cpu-limit]="max by (container) (kube_pod_container_resource_limits{$sel, resource=\"cpu\"})"
    [cpu-request]="max by (container) (kube_pod_container_resource_requests{$sel, resource=\"cpu\"})")
  for k in "${!q[@]}"; do
    curl -sfG 127.0.0.1:19090/api/v1/query_range --data-urlencode "query=${q[$k]}" -d start=$start -d end=$2 -d step=15s >"$1-$k.json"
  done
}
record leak 1796028900 payments worker-5c4b7f9d8-abcde worker
record spike 1767859800 test-ns-5msxm raycluster-auth-token-head-vbjrq ray-head
