"""The core-only runtime image's root filesystem, run in isolation.

scripts/build-rootfs.sh (the script the Dockerfile runs) assembles the tree from the
release build; these tests chroot into it, so the binary sees only the tree's files and
libraries, and check: the library closure resolves inside the tree, nothing but the
binary, its libraries and a few /etc files is there, `/readyz` answers, and plugins
dropped into the tree's plugin directory load and deliver an Alertmanager alert.

Needs root (chroot), as CI has.
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import os
import pathlib
import shutil
import signal
import socket
import stat
import struct
import subprocess
import tarfile
import threading
import urllib.error
import urllib.request
from typing import Any, Iterator

import pytest

from support import APP_UID, REPO, SHIPPED, build_c_example, chroot, in_container, require_root, require_tool, wait_until

PLUGIN_DIR = "usr/lib/cano-collector/plugins"
HMAC_SECRET = "rootfs-test-hmac-secret"
DATA_DIR = "var/lib/cano-collector"


def shared_fixtures() -> pathlib.Path:
    """shared/fixtures beside the repository (CI lays a copy next to the clone)."""
    path = pathlib.Path(os.environ.get("CANO_SHARED_DIR", REPO.parent / "shared")) / "fixtures"
    assert path.is_dir(), f"shared fixtures not found at {path} (set CANO_SHARED_DIR)"
    return path


def elf_interpreter(path: pathlib.Path) -> str:
    """PT_INTERP of a 64-bit little-endian ELF executable: the dynamic loader's path."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, f"{path} is not a 64-bit LE ELF"
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
        if p_type == 3:  # PT_INTERP
            return data[p_offset:p_offset + p_filesz].rstrip(b"\0").decode()
    raise AssertionError(f"{path} has no PT_INTERP")


def is_elf(path: pathlib.Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == b"\x7fELF"


def chroot_list(root: pathlib.Path, loader: str, target: str) -> str:
    """`ld.so --list` run inside the tree: exactly ldd, resolved with only the tree's files."""
    out = subprocess.run([chroot(), str(root), loader, "--list", target], capture_output=True, text=True, env={})
    assert out.returncode == 0, f"{target}: {out.stdout}{out.stderr}"
    return out.stdout


# --- the tree ------------------------------------------------------------------------------

def test_library_closure_resolves_inside_the_tree(rootfs: pathlib.Path) -> None:
    loader = elf_interpreter(rootfs / "usr/bin/cano-collector")
    assert (rootfs / loader.lstrip("/")).is_file(), f"the loader {loader} is missing from the tree"
    listing = chroot_list(rootfs, loader, "/usr/bin/cano-collector")
    assert "not found" not in listing, listing
    for expected in ("libswiftCore.so", "libcurl.so.4", "libsqlite3.so.0", "libc.so.6"):
        assert expected in listing, f"{expected} not in the closure:\n{listing}"
    # Every library in the tree is itself resolvable with the tree alone.
    for lib in rootfs.rglob("*.so*"):
        if lib.is_file() and not lib.is_symlink() and is_elf(lib) and "ld-linux" not in lib.name:
            sub = chroot_list(rootfs, loader, "/" + str(lib.relative_to(rootfs)))
            assert "not found" not in sub, f"{lib}: {sub}"


def test_the_binary_runs_with_an_empty_environment(rootfs: pathlib.Path) -> None:
    out = subprocess.run(in_container(rootfs, "/usr/bin/cano-collector", "--help"),
                         capture_output=True, text=True, env={}, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "plugins" in out.stdout, out.stdout


def test_nothing_but_the_binary_its_libraries_and_config(rootfs: pathlib.Path) -> None:
    loader = elf_interpreter(rootfs / "usr/bin/cano-collector")
    listing = chroot_list(rootfs, loader, "/usr/bin/cano-collector")
    closure = {line.split("=>")[1].split("(")[0].strip() if "=>" in line else line.split("(")[0].strip()
               for line in listing.splitlines() if "/" in line}
    # libgcc_s is dlopen()ed by glibc (pthread_cancel, unwinding): the one library ldd can't see.
    allowed_elves = {"/usr/bin/cano-collector", loader} | closure
    elves = set()
    for path in rootfs.rglob("*"):
        if path.is_file() and not path.is_symlink() and is_elf(path):
            elves.add("/" + str(path.relative_to(rootfs)))
    extra = {e for e in elves - allowed_elves if not e.endswith("/libgcc_s.so.1")}
    assert not extra, f"ELF files outside the closure: {sorted(extra)}"
    for name in ("sh", "bash", "dash", "busybox", "apt", "apt-get", "dpkg", "ls"):
        assert not list(rootfs.rglob(name)), f"{name} must not be in the runtime image"
    assert not (rootfs / "etc/fonts").exists(), "fonts come only with a plugin that draws text"
    top = sorted(p.name for p in rootfs.iterdir())
    assert set(top) <= {"etc", "usr", "var", "tmp", "lib", "lib64", "opt", "proc", "sys", "dev"}, top
    assert not any(list((rootfs / d).iterdir()) for d in ("proc", "sys", "dev")), "mount points stay empty"


BUILTIN_DIR = "usr/lib/cano-collector/builtin"


def test_the_default_image_carries_the_shipped_plugins_and_they_load(
        binary: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """The default image (Dockerfile's last stage) is this tree with --plugins: every shipped
    plugin is in builtin/, its libraries resolve inside the tree, and the collector loads it
    (plugins list exits 1 when any file is refused)."""
    require_root()
    plugins = [binary.parent / f"lib{product}.so" for product in SHIPPED.values()]
    missing = [str(p) for p in plugins if not p.is_file()]
    assert not missing, f"release plugin builds missing (scripts/build-release.sh --product ...): {missing}"
    tree = tmp_path / "tree"
    subprocess.run([str(REPO / "scripts" / "build-rootfs.sh"), str(tree), str(binary), "--plugins", *map(str, plugins)], check=True)
    assert sorted(p.name for p in (tree / BUILTIN_DIR).iterdir()) == sorted(p.name for p in plugins)
    assert not list((tree / PLUGIN_DIR).iterdir()), "plugins/ stays empty: the chart mounts plugin images there"
    loader = elf_interpreter(tree / "usr/bin/cano-collector")
    for plugin in plugins:
        listing = chroot_list(tree, loader, f"/{BUILTIN_DIR}/{plugin.name}")
        assert "not found" not in listing, f"{plugin.name}: {listing}"
    out = subprocess.run(in_container(tree, "/usr/bin/cano-collector", "plugins", "list", "--plugin-dir", "/" + BUILTIN_DIR),
                         capture_output=True, text=True, env={}, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    for name in SHIPPED:
        assert name in out.stdout, f"{name} not loaded:\n{out.stdout}"
    # The graph plugin writes text through fontconfig: its configuration and the font are
    # in this tree, and only here (the core tree has no fontconfig).
    assert (tree / "etc/fonts/fonts.conf").is_file()
    assert (tree / "usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").is_file()


def test_non_root_user_directories_and_certificates(rootfs: pathlib.Path) -> None:
    passwd = (rootfs / "etc/passwd").read_text()
    assert f"nonroot:x:{APP_UID}:{APP_UID}:" in passwd
    assert f"nonroot:x:{APP_UID}:" in (rootfs / "etc/group").read_text()
    data = (rootfs / DATA_DIR).stat()
    assert (data.st_uid, data.st_gid, stat.S_IMODE(data.st_mode)) == (APP_UID, APP_UID, 0o750)
    plugins = (rootfs / PLUGIN_DIR).stat()
    assert stat.S_ISDIR(plugins.st_mode) and plugins.st_uid == 0 and stat.S_IMODE(plugins.st_mode) == 0o755
    bundle = (rootfs / "etc/ssl/certs/ca-certificates.crt").read_text()
    assert bundle.count("BEGIN CERTIFICATE") > 50
    assert stat.S_IMODE((rootfs / "tmp").stat().st_mode) == 0o1777


def test_build_refuses_to_wipe_a_foreign_directory(tmp_path: pathlib.Path, binary: pathlib.Path) -> None:
    require_root()
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine")
    out = subprocess.run([str(REPO / "scripts" / "build-rootfs.sh"), str(precious), str(binary)],
                         capture_output=True, text=True)
    assert out.returncode != 0 and "refusing to delete" in out.stderr
    assert (precious / "keep.txt").read_text() == "mine"


# --- plugin packaging ----------------------------------------------------------------------

def test_plugin_archive_holds_only_the_library(tmp_path: pathlib.Path) -> None:
    so = build_c_example(tmp_path)
    subprocess.run([str(REPO / "scripts" / "package-plugin.sh"), "jsonl-c", "--so", str(so), "--out", str(tmp_path / "dist"),
                    "--stage", str(tmp_path / "image")], check=True)
    archive = tmp_path / "dist" / "cano-plugin-jsonl-c.tar.gz"
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
    assert [(m.name, m.isfile(), m.uid, m.mtime) for m in members] == [("libjsonl_c.so", True, 0, 0)]
    image = sorted(str(p.relative_to(tmp_path / "image")) for p in (tmp_path / "image").rglob("*"))
    assert image == ["cano-plugin-install", "plugin", "plugin/libjsonl_c.so"]
    # The static copier works in an otherwise empty tree, as in a FROM-scratch image.
    require_root()
    out = subprocess.run([chroot(), str(tmp_path / "image"), "/cano-plugin-install", "/plugin", "/copied/jsonl-c"],
                         capture_output=True, text=True, env={})
    assert out.returncode == 0, out.stderr
    shipped = (tmp_path / "image/plugin/libjsonl_c.so").read_bytes()
    assert (tmp_path / "image/copied/jsonl-c/libjsonl_c.so").read_bytes() == shipped
    with tarfile.open(archive) as tar:
        assert tar.extractfile("libjsonl_c.so").read() == shipped


def test_packaging_refuses_a_library_without_the_entry_symbol(tmp_path: pathlib.Path) -> None:
    require_tool("cc", "gcc")
    source = tmp_path / "not_a_plugin.c"
    source.write_text("int some_function(void) { return 1; }\n")
    so = tmp_path / "libnot_a_plugin.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(so), str(source)], check=True)
    out = subprocess.run([str(REPO / "scripts" / "package-plugin.sh"), "not-a-plugin", "--so", str(so),
                          "--out", str(tmp_path / "dist")], capture_output=True, text=True)
    assert out.returncode != 0 and "does not export cano_plugin_entry" in out.stderr
    assert not (tmp_path / "dist" / "cano-plugin-not-a-plugin.tar.gz").exists()


# --- running it ----------------------------------------------------------------------------

class Capture(http.server.BaseHTTPRequestHandler):
    """Stands in for a webhook receiver: records each POSTed JSON body, answers 200."""

    received: list[dict[str, Any]] = []
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            parsed = json.loads(body)
        except ValueError:
            self.send_response(400)
            self.end_headers()
            return
        with self.lock:
            self.received.append({"path": self.path, "headers": dict(self.headers), "raw": body, "body": parsed})
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def capture_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    Capture.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", Capture.received
    server.shutdown()
    server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(url: str, body: bytes | None = None) -> int | None:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"} if body else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


@pytest.fixture
def running(binary: pathlib.Path, capture_server: tuple[str, list[dict[str, Any]]],
            tmp_path: pathlib.Path) -> Iterator[dict[str, Any]]:
    """The collector running from the tree as uid 65532, with two plugins dropped into the
    tree's plugin directory: the Webhook plugin from the release build (Swift: it must find
    the Swift runtime in the tree) and the C example (installed from its archive)."""
    hook_url, received = capture_server
    # A tree of its own, so what this test drops in can't leak into the tree tests.
    require_root()
    rootfs = tmp_path / "tree"
    subprocess.run([str(REPO / "scripts" / "build-rootfs.sh"), str(rootfs), str(binary)], check=True)
    plugin_dir = rootfs / PLUGIN_DIR
    webhook = binary.parent / "libCanoWebhook.so"
    assert webhook.is_file(), f"no Webhook plugin at {webhook}: run scripts/build-release.sh"
    shutil.copy2(webhook, plugin_dir / webhook.name)
    so = build_c_example(tmp_path)
    subprocess.run([str(REPO / "scripts" / "package-plugin.sh"), "jsonl-c", "--so", str(so), "--out", str(tmp_path)], check=True)
    # What an operator does with the archive: unpack it into the plugin directory.
    with tarfile.open(tmp_path / "cano-plugin-jsonl-c.tar.gz") as tar:
        (member,) = tar.getmembers()
        (plugin_dir / member.name).write_bytes(tar.extractfile(member).read())
        (plugin_dir / member.name).chmod(0o755)
    jsonl = rootfs / DATA_DIR / "issues.jsonl"
    port = free_port()
    config = {
        "server": {"host": "127.0.0.1", "port": port},
        "data_dir": "/" + DATA_DIR,
        "plugins": {"directories": ["/" + PLUGIN_DIR]},
        "destinations": [
            # The HMAC secret comes from a file, as a mounted Kubernetes Secret would.
            {"name": "hook", "type": "webhook",
             "config": {"url": hook_url, "hmac_secret_file": "/etc/cano-collector/secrets/hmac"}},
            {"name": "lines", "type": "jsonl-c", "config": {"path": "/" + DATA_DIR + "/issues.jsonl"}},
        ],
        "default_destinations": ["hook", "lines"],
    }
    config_dir = rootfs / "etc/cano-collector"
    config_dir.mkdir()
    (config_dir / "secrets").mkdir()
    (config_dir / "secrets" / "hmac").write_text(HMAC_SECRET + "\n")
    # JSON is YAML: no YAML library needed to write the config.
    (config_dir / "config.yaml").write_text(json.dumps(config, indent=2))
    log = (tmp_path / "collector.log").open("wb")
    process = subprocess.Popen(
        in_container(rootfs, "/usr/bin/cano-collector", "run", "--config", "/etc/cano-collector/config.yaml"),
        stdout=log, stderr=subprocess.STDOUT, env={})
    base = f"http://127.0.0.1:{port}"
    try:
        yield {"base": base, "received": received, "jsonl": jsonl, "process": process, "log": tmp_path / "collector.log"}
    finally:
        stop(process)
        log.close()


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the collector itself, as `docker stop` does, then wait for it.

    unshare blocks SIGTERM while it waits, and the parent-death signal it arms is cleared
    when chroot switches to uid 65532, so signalling unshare would orphan the collector.
    Its (only) child is the collector: sh and chroot exec'd into it."""
    children = pathlib.Path(f"/proc/{process.pid}/task/{process.pid}/children")
    pids = [int(p) for p in children.read_text().split()] if children.exists() else []
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        process.wait()
        raise AssertionError("the collector did not exit within 30 s of SIGTERM")
    assert process.returncode == 0, f"the collector exited with {process.returncode} on SIGTERM"


def log_of(run: dict[str, Any]) -> str:
    return run["log"].read_text(errors="replace")[-4000:]


def test_readyz_answers_and_plugins_deliver_an_alert(running: dict[str, Any]) -> None:
    base = running["base"]

    def ready() -> bool:
        assert running["process"].poll() is None, f"collector exited:\n{log_of(running)}"
        return http_status(base + "/readyz") == 200

    wait_until(ready, timeout=60, what=f"/readyz to answer 200\n{log_of(running)}")

    alerts = shared_fixtures() / "alertmanager" / "am-0.25-captured"
    firing = (alerts / "firing-crashlooping.json").read_bytes()
    status = http_status(base + "/api/alerts", firing)
    assert status is not None and 200 <= status < 300, f"POST /api/alerts answered {status}\n{log_of(running)}"

    received = running["received"]
    wait_until(lambda: received, timeout=60, what=f"the webhook plugin to POST the Issue\n{log_of(running)}")
    issue = received[0]["body"]
    expected = hmac.new(HMAC_SECRET.encode(), received[0]["raw"], hashlib.sha256).hexdigest()
    assert received[0]["headers"].get("X-Cano-Signature") == f"sha256={expected}", "signed with the file's secret"
    assert issue["schemaVersion"] == 1 and issue["status"] == "firing" and issue["source"] == "prometheus"
    alert = json.loads(firing)["alerts"][0]
    assert issue["title"] == alert["labels"]["alertname"] or alert["labels"]["alertname"] in json.dumps(issue)

    jsonl: pathlib.Path = running["jsonl"]
    wait_until(lambda: jsonl.exists() and jsonl.read_text().strip(), timeout=60,
               what=f"the C plugin to append the Issue\n{log_of(running)}")
    line = json.loads(jsonl.read_text().splitlines()[0])
    # Alertmanager's notification is one group (docs/noise-control.md): the Webhook plugin,
    # which declares groups, gets the grouped Issue; the C plugin, a v1.0 plugin written
    # before grouping, gets each member as an Issue of its own.
    assert issue["type"] == "group"
    members = {m["fingerprint"] for m in issue["group"]["members"]}
    assert line["fingerprint"] in members and line["status"] == "firing"
    # The plugin wrote as the non-root user, into the only writable directory.
    assert jsonl.stat().st_uid == APP_UID

    resolved = (alerts / "resolved-crashlooping.json").read_bytes()
    status = http_status(base + "/api/alerts", resolved)
    assert status is not None and 200 <= status < 300, f"POST /api/alerts answered {status}\n{log_of(running)}"
    wait_until(lambda: any(r["body"].get("status") == "resolved" for r in received), timeout=60,
               what=f"the resolved Issue to reach the webhook\n{log_of(running)}")
    wait_until(lambda: len(jsonl.read_text().splitlines()) >= 2, timeout=60,
               what=f"the resolved Issue to reach the C plugin\n{log_of(running)}")
