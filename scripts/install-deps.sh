#!/usr/bin/env bash
# Installs the system packages cano-collector builds and tests against (Debian 12).
# Idempotent: installs only what is missing. Needs root (or sudo).
set -euo pipefail

packages=(
  libcurl4-openssl-dev      # outbound HTTP, host and plugins
  libssl-dev                # OpenSSL's libcrypto headers: the Webhook plugin's HMAC (libcurl links libcrypto)
  libsqlite3-dev            # durable outbox and plugin state
  zlib1g-dev                # Helm release payloads are gzip (enrichment)
  librdkafka-dev            # the Kafka destination (its tests use librdkafka's mock cluster)
  libcairo2-dev             # the Prometheus graph plugin draws PNGs with cairo (the host does not link it)
  fonts-dejavu-core         # the graphs' text (cairo finds it through fontconfig)
  make gcc libc6-dev        # build the example C plugins in the tests
  util-linux                # unshare, for the rootfs isolation test
  prometheus-alertmanager   # end-to-end tests post through a real Alertmanager
  postgresql                # the shared store's tests run a real server (scripts/postgres.sh)
  chromium chromium-driver  # the console's browser test: headless Chromium driven by Selenium
  python3-selenium          #   (tests/browser/console_test.py, run with /usr/bin/python3)
  umoci skopeo              # scripts/build-images.sh: the OCI images, built with no container engine
  ca-certificates
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Tests validate emitted Issues against docs/issue.schema.json with Python's jsonschema.
python3 -c 'import jsonschema' 2>/dev/null || python3 -m pip install -q 'jsonschema>=4.18'
# Alertmanager's Debian package may start a service on systems with an init; tests start their own.
