"""No container engine runs here, so the Dockerfiles are checked for the one property the
rootfs tests rely on: the image is exactly the tree scripts/build-rootfs.sh makes (and a
plugin image exactly what scripts/package-plugin.sh stages), with nothing added on top."""

from __future__ import annotations

import re

from support import REPO


def stages(dockerfile: str) -> list[list[str]]:
    """Instructions per stage, continuation lines joined, comments dropped."""
    text = (REPO / dockerfile).read_text()
    text = re.sub(r"\\\n\s*", " ", text)
    result: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            result.append([])
        if result:
            result[-1].append(line)
    return result


def test_runtime_images_are_the_tested_trees() -> None:
    """Two final stages: `core` (the host alone) and the default (the host and the shipped
    plugins, the last stage, so a plain `docker build` makes it)."""
    build, core, default = stages("Dockerfile")
    assert build[0].startswith("FROM ${SWIFT_IMAGE} AS build")
    runs = " ".join(i for i in build if i.startswith("RUN "))
    assert "scripts/build-release.sh --product cano-collector" in runs
    assert "scripts/build-rootfs.sh /rootfs-core" in runs
    assert "scripts/build-rootfs.sh /rootfs " in runs and "--plugins" in runs
    # Nothing but the tree, the non-root user and the entry point.
    for final, tree in ((core, "/rootfs-core"), (default, "/rootfs")):
        assert final[0].startswith("FROM scratch")
        assert [i for i in final if i.split()[0] in ("COPY", "ADD", "RUN")] == [f"COPY --from=build {tree} /"]
        assert "USER 65532:65532" in final
        assert 'ENTRYPOINT ["/usr/bin/cano-collector"]' in final
    assert core[0] == "FROM scratch AS core"


def test_plugin_image_is_the_staged_plugin() -> None:
    build, final = stages("Dockerfile.plugin")
    runs = " ".join(i for i in build if i.startswith("RUN "))
    assert 'scripts/package-plugin.sh "$PLUGIN"' in runs and "--stage /image" in runs
    assert final[0] == "FROM scratch"
    assert [i for i in final if i.split()[0] in ("COPY", "ADD", "RUN")] == ["COPY --from=build /image /"]


def test_both_images_build_with_the_same_swift_toolchain() -> None:
    # Swift plugins must match the host's toolchain exactly (docs/plugins.md).
    def swift_image(dockerfile: str) -> str:
        (arg,) = [line for line in (REPO / dockerfile).read_text().splitlines() if line.startswith("ARG SWIFT_IMAGE=")]
        return arg

    assert swift_image("Dockerfile") == swift_image("Dockerfile.plugin")
