"""Fixtures shared by the rootfs tests."""

import pathlib
import subprocess

import pytest

from support import REPO, release_bin_dir, require_root, require_tool


@pytest.fixture(scope="session")
def binary() -> pathlib.Path:
    """The release-built cano-collector that build-rootfs.sh puts in the tree."""
    path = release_bin_dir() / "cano-collector"
    assert path.is_file(), f"no release build at {path}: run scripts/build-release.sh"
    return path


@pytest.fixture(scope="session")
def rootfs(tmp_path_factory: pytest.TempPathFactory, binary: pathlib.Path) -> pathlib.Path:
    """The core-only tree, as scripts/build-rootfs.sh makes it for the `core` image."""
    require_root()
    require_tool("chroot", "coreutils")
    root = tmp_path_factory.mktemp("rootfs") / "tree"
    subprocess.run([str(REPO / "scripts" / "build-rootfs.sh"), str(root), str(binary)], check=True)
    return root
