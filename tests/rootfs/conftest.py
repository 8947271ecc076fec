"""Fixtures shared by the rootfs tests."""

import pathlib

import pytest

from support import release_bin_dir


@pytest.fixture(scope="session")
def binary() -> pathlib.Path:
    """The release-built cano-collector that build-rootfs.sh puts in the tree."""
    path = release_bin_dir() / "cano-collector"
    assert path.is_file(), f"no release build at {path}: run swift build -c release"
    return path
