"""The Helm chart's rendered config, checked by the collector inside the image tree, laid
out as the chart lays out the pod: the ConfigMap at /etc/cano-collector/config.yaml and
the Secret's keys as files under /etc/cano-collector/secrets (read through `*_file`)."""

from __future__ import annotations

import pathlib
import subprocess
import sys
from typing import Any

import pytest

from support import REPO, SHIPPED, in_container, require_root

sys.path.insert(0, str(REPO / "tests" / "chart"))
from chart_render import render  # noqa: E402

CASES: dict[str, dict[str, Any]] = {
    "defaults": {},
    "slack with a chart secret and a route": {
        "config": {
            "cluster": "prod-eu",
            "destinations": [
                {"name": "ops-slack", "type": "slack",
                 "config": {"channel": "#alerts", "token_file": "/etc/cano-collector/secrets/slack-token"}},
                {"name": "audit", "type": "file", "config": {"path": "/var/lib/cano-collector/audit.jsonl"}},
            ],
            "routes": [{"matchers": ["severity=critical"], "destinations": ["ops-slack"]}],
            "default_destinations": ["audit"],
        },
        "secrets": {"values": {"slack-token": "xoxb-test-not-a-real-token"}},
        # The core image with the Slack plugin mounted as an image of its own.
        "plugins": {"builtin": False, "mode": "image-volume", "images": [{"name": "slack", "image": "x/slack:1"}]},
    },
}
# The default image with its builtin plugins, and the same Slack destination.
CASES["slack from the default image"] = {k: v for k, v in CASES["slack with a chart secret and a route"].items() if k != "plugins"}


@pytest.mark.parametrize("case", CASES)
def test_chart_config_is_accepted_by_the_collector_in_the_image(
        case: str, binary: pathlib.Path, tmp_path: pathlib.Path) -> None:
    require_root()
    root = tmp_path / "tree"
    # The image the values go with: the default one (builtin plugins) unless they turn
    # builtin off, which is how the core image is deployed.
    builtin = CASES[case].get("plugins", {}).get("builtin", True)
    plugins = ["--plugins", *(str(binary.parent / f"lib{p}.so") for p in SHIPPED.values())] if builtin else []
    subprocess.run([str(REPO / "scripts" / "build-rootfs.sh"), str(root), str(binary), *plugins], check=True,
                   capture_output=True)
    rendered = render(CASES[case])
    etc = root / "etc" / "cano-collector"
    etc.mkdir()
    (etc / "config.yaml").write_text(rendered.one("ConfigMap")["data"]["config.yaml"])
    for secret in rendered.of_kind("Secret"):
        (etc / "secrets").mkdir()
        for key, value in secret["stringData"].items():
            (etc / "secrets" / key).write_text(value)
    # `validate` creates every destination (a dry run), so the plugins must be where the
    # pod has them: each plugin image's /plugin directory mounted at
    # /usr/lib/cano-collector/plugins/<name> (deployment.yaml), here copied from the release build.
    for plugin in CASES[case].get("plugins", {}).get("images", []):
        directory = root / "usr" / "lib" / "cano-collector" / "plugins" / plugin["name"]
        directory.mkdir(parents=True)
        library = binary.parent / f"libCano{plugin['name'].capitalize()}.so"
        assert library.is_file(), f"no {plugin['name']} plugin at {library}: run scripts/build-release.sh"
        (directory / library.name).write_bytes(library.read_bytes())
    out = subprocess.run(in_container(root, "/usr/bin/cano-collector", "validate", "--config", "/etc/cano-collector/config.yaml"),
                         capture_output=True, text=True, env={}, timeout=60)
    assert out.returncode == 0, f"the collector refused the chart's config:\n{out.stdout}{out.stderr}"
    assert ": OK (" in out.stdout
