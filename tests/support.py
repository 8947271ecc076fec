"""Helpers shared by the packaging tests (tests/rootfs, tests/plugins)."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import time
from typing import Callable, TypeVar

REPO = pathlib.Path(__file__).resolve().parents[1]
#: The runtime image's non-root user and group (scripts/build-rootfs.sh).
APP_UID = 65532
#: The plugins the default image ships (scripts/shipped-plugins): config type -> SwiftPM
#: product, whose library is lib<product>.so.
SHIPPED = dict(line.split() for line in (REPO / "scripts/shipped-plugins").read_text().splitlines()
               if line.strip() and not line.startswith("#"))
T = TypeVar("T")


def require_tool(name: str, package: str) -> str:
    """The tool's path; a clear failure (never a skip) when it is missing."""
    path = shutil.which(name)
    if path is None:
        raise AssertionError(f"{name} is required for this test (Debian package: {package})")
    return path


def release_bin_dir() -> pathlib.Path:
    """Where the release build put cano-collector and the plugin libraries.

    scripts/test-packaging.sh builds them and exports CANO_RELEASE_BIN_DIR; run by hand,
    the same directory is asked of SwiftPM (which does not build anything)."""
    env = os.environ.get("CANO_RELEASE_BIN_DIR")
    if env:
        return pathlib.Path(env)
    out = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=REPO,
                         check=True, capture_output=True, text=True)
    return pathlib.Path(out.stdout.strip())


def wait_until(condition: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.05) -> T:
    """Polls `condition` until it returns a truthy value or the deadline passes.
    Waiting on a condition with a deadline, never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def build_c_example(out_dir: pathlib.Path) -> pathlib.Path:
    require_tool("cc", "gcc")
    require_tool("make", "make")
    so = out_dir / "libjsonl_c.so"
    subprocess.run(["make", "-s", "-C", str(REPO / "examples" / "c-destination"), f"OUT={so}",
                    f"CANO_INCLUDE={REPO / 'Sources' / 'PluginABI' / 'include'}"], check=True)
    return so


def build_rust_example(target_dir: pathlib.Path) -> pathlib.Path:
    require_tool("cargo", "cargo (or rustup)")
    subprocess.run(["cargo", "build", "--release", "--offline", "--quiet", "--target-dir", str(target_dir)],
                   cwd=REPO / "examples" / "rust-plugin", check=True)
    return target_dir / "release" / "libjsonl_rust.so"


def chroot() -> str:
    """chroot's absolute path: the children run with an empty environment (no PATH)."""
    return require_tool("chroot", "coreutils")


def require_root() -> None:
    if os.geteuid() != 0:
        raise AssertionError("the rootfs isolation tests need root (chroot); run them as root, as CI does")


def in_container(root: pathlib.Path, *command: str, user: bool = True) -> list[str]:
    """argv that runs `command` inside the tree `root` the way a container runtime would:
    new mount and PID namespaces, /proc and /dev mounted, chroot, uid 65532.

    A bare chroot has no /proc, and the Swift runtime reads the process arguments from
    /proc/self/cmdline: without it every command would see none. The mounts live in the
    private mount namespace and vanish with it. SIGTERM to the returned process reaches
    the command (--kill-child), as `docker stop` would."""
    require_root()
    unshare = require_tool("unshare", "util-linux")
    shell = require_tool("sh", "dash")
    mount = require_tool("mount", "mount")
    userspec = [f"--userspec={APP_UID}:{APP_UID}"] if user else []
    # sh -c SCRIPT ROOT ARGV...: $0 is the tree, "$@" is chroot's own argv.
    script = f'{mount} -t proc proc "$0/proc" && {mount} --rbind /dev "$0/dev" && exec "$@"'
    return [unshare, "--mount", "--pid", "--fork", "--kill-child=SIGTERM", "--", shell, "-c", script,
            str(root), chroot(), *userspec, str(root), *command]
