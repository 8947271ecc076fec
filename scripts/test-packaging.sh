#!/usr/bin/env bash
# Runs the packaging tests that are not Swift tests:
#   tests/chart    Helm chart rendered with Helm's engine and validated against Kubernetes schemas
#                  (defaults: 1 replica + PVC; the HA example; values that must fail to render)
#   tests/plugins  the C and Rust example plugins, built and driven through a fake host
#   tests/rootfs   the runtime image's root filesystem, run in isolation under chroot
#
#   scripts/test-packaging.sh [pytest args...]
#
# It installs its Python dependencies itself (pinned, tests/chart/requirements.txt) into a
# virtualenv under .build/, builds the release binaries the rootfs tests need
# (`scripts/build-release.sh`; set CANO_RELEASE_BIN_DIR to reuse a build), skips nothing,
# and ends with one line: "packaging: N passed, M failed".
#
# Needs: python3 with venv (Debian: python3-venv), root (chroot), cc/make, cargo, swift.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

venv=${CANO_PACKAGING_VENV:-$repo/.build/packaging-venv}
if [[ ! -x $venv/bin/python ]]; then
    python3 -m venv "$venv" || { echo "packaging: cannot create a virtualenv (apt-get install python3-venv)"; echo "0 passed, 1 failed"; exit 1; }
fi
if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/chart/requirements.txt; then
    echo "packaging: pip install -r tests/chart/requirements.txt failed"
    echo "0 passed, 1 failed"
    exit 1
fi

if [[ -z ${CANO_RELEASE_BIN_DIR:-} ]]; then
    # Only the products the image and these tests ship: the whole package in release would
    # also optimise the test-only HTTPS stack and the benchmarks, doubling CI time.
    for product in cano-collector $(awk '!/^#/ && NF { print $2 }' scripts/shipped-plugins); do
        echo "packaging: scripts/build-release.sh --product $product"
        if ! scripts/build-release.sh --product "$product"; then
            echo "packaging: release build of $product failed"
            echo "0 passed, 1 failed"
            exit 1
        fi
    done
    CANO_RELEASE_BIN_DIR=$(swift build -c release --show-bin-path)
fi
export CANO_RELEASE_BIN_DIR

report=$(mktemp)
trap 'rm -f "$report"' EXIT
# -p no:cacheprovider: don't write .pytest_cache into the tree.
"$venv/bin/python" -m pytest tests/chart tests/plugins tests/rootfs -p no:cacheprovider -rfE \
    --junitxml="$report" "$@"
pytest_status=$?

# One closing line, counted from pytest's own report (errors count as failures).
"$venv/bin/python" - "$report" "$pytest_status" <<'EOF'
import sys
import xml.etree.ElementTree as ET

path, status = sys.argv[1], int(sys.argv[2])
try:
    suites = ET.parse(path).getroot()
except (ET.ParseError, FileNotFoundError):
    print("packaging: pytest produced no report")
    print("0 passed, 1 failed")
    sys.exit(1)
suites = [suites] if suites.tag == "testsuite" else list(suites)
tests = sum(int(s.get("tests", 0)) for s in suites)
failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
passed = tests - failed - skipped
if tests == 0:
    failed = max(failed, 1)
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(0 if failed == 0 and skipped == 0 and status == 0 else 1)
EOF
