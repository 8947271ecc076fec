"""Renders charts/cano-collector with Helm's own engine, offline.

helm-python-sdk binds libhelm_c, a C ABI over Helm v4's Go SDK shipped inside the wheel, so
`render` runs the real template engine (Sprig, `include`, `required`, `fail`...) with no helm
binary and no cluster. kubernetes-validate carries the Kubernetes OpenAPI-derived JSON
schemas, so every rendered object is checked as the API server's schema would check it.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass, field
from typing import Any

import helm_python as helm
import yaml

CHART = pathlib.Path(__file__).resolve().parents[2] / "charts" / "cano-collector"
RELEASE = "cano"
NAMESPACE = "monitoring"


@dataclass
class Rendered:
    """One render: every object, grouped for lookups, plus NOTES.txt."""

    objects: list[dict[str, Any]]
    notes: str
    sources: dict[str, str] = field(default_factory=dict)

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [o for o in self.of_kind(kind) if name is None or o["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name or ''}, got {len(found)}"
        return found[0]

    @property
    def deployment(self) -> dict[str, Any]:
        return self.one("Deployment")

    @property
    def pod(self) -> dict[str, Any]:
        return self.deployment["spec"]["template"]["spec"]

    @property
    def container(self) -> dict[str, Any]:
        (container,) = [c for c in self.pod["containers"] if c["name"] == "cano-collector"]
        return container

    @property
    def config(self) -> dict[str, Any]:
        """The collector config file the ConfigMap carries, parsed."""
        return yaml.safe_load(self.one("ConfigMap")["data"]["config.yaml"])

    def mounts(self) -> dict[str, dict[str, Any]]:
        return {m["mountPath"]: m for m in self.container["volumeMounts"]}

    def volumes(self) -> dict[str, dict[str, Any]]:
        return {v["name"]: v for v in self.pod["volumes"]}


def render(values: dict[str, Any] | None = None) -> Rendered:
    with helm.Chart.load(CHART) as chart:
        manifests = chart.render(values=values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)
    objects: list[dict[str, Any]] = []
    notes = ""
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            notes = text
            continue
        for document in yaml.safe_load_all(text):
            if document:
                objects.append(document)
    return Rendered(objects=objects, notes=notes, sources=manifests)

