"""The C and Rust example plugins: built from source (cc; cargo --offline with no crates),
loaded by a fake host that follows the host's loading rules (harness.c), and driven through
create -> deliver(firing) -> deliver(resolved) -> destroy, plus bad configs."""

from __future__ import annotations

import json
import pathlib
import subprocess
from typing import Any

import pytest

from support import REPO, build_c_example, build_rust_example, require_tool

HERE = pathlib.Path(__file__).resolve().parent
FIRING = HERE / "issue-firing.json"
RESOLVED = HERE / "issue-resolved.json"

PLUGINS = {"jsonl-c": build_c_example, "jsonl-rust": build_rust_example}


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return tmp_path_factory.mktemp("plugins")


@pytest.fixture(scope="module")
def harness(build_dir: pathlib.Path) -> pathlib.Path:
    require_tool("cc", "gcc")
    exe = build_dir / "harness"
    subprocess.run(["cc", "-Wall", "-Wextra", "-Werror", "-std=c11", "-D_DEFAULT_SOURCE",
                    f"-I{REPO / 'Sources' / 'PluginABI' / 'include'}", "-o", str(exe), str(HERE / "harness.c"), "-ldl"],
                   check=True)
    return exe


@pytest.fixture(scope="module", params=sorted(PLUGINS))
def plugin(request: pytest.FixtureRequest, build_dir: pathlib.Path) -> tuple[str, pathlib.Path]:
    name = request.param
    return name, PLUGINS[name](build_dir / name if name == "jsonl-rust" else build_dir)


def run(harness: pathlib.Path, so: pathlib.Path, config: dict[str, Any] | str, *issues: pathlib.Path) -> list[dict[str, Any]]:
    config_text = config if isinstance(config, str) else json.dumps(config)
    out = subprocess.run([str(harness), str(so), config_text, *map(str, issues)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"harness failed ({out.returncode}): {out.stdout}{out.stderr}"
    return [json.loads(line) for line in out.stdout.splitlines()]


def events(lines: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["event"] == kind]


def test_descriptor_follows_abi_v1(harness: pathlib.Path, plugin: tuple[str, pathlib.Path], tmp_path: pathlib.Path) -> None:
    name, so = plugin
    (descriptor,) = events(run(harness, so, {"path": str(tmp_path / "x.jsonl")}), "descriptor")
    # The C example is compiled against the current header (v1.3, 112 bytes: path_keys,
    # capabilities and render appended) but declares minor 0, the lowest it needs; the Rust
    # example mirrors the v1.0 layout. Both are v1.0 plugins a v1.3 host loads unchanged.
    size = {"jsonl-c": 112, "jsonl-rust": 88}[name]
    assert descriptor == {
        "event": "descriptor", "struct_size": size, "abi_major": 1, "abi_minor": 0, "kind": 1, "reserved0": 0,
        "flags": 0, "name": name, "version": "1.0.0", "toolchain": None,
        "create": True, "deliver": True, "enrich": False, "destroy": True, "free_buffer": True,
    }


def test_only_the_entry_symbol_is_exported(plugin: tuple[str, pathlib.Path]) -> None:
    require_tool("nm", "binutils")
    _, so = plugin
    out = subprocess.run(["nm", "-D", "--defined-only", str(so)], check=True, capture_output=True, text=True).stdout
    functions = [line.split()[-1] for line in out.splitlines() if line.split()[1] in ("T", "t", "W")]
    assert functions == ["cano_plugin_entry"], functions


def test_delivers_firing_then_resolved_with_the_first_reference(
        harness: pathlib.Path, plugin: tuple[str, pathlib.Path], tmp_path: pathlib.Path) -> None:
    name, so = plugin
    output = tmp_path / "issues.jsonl"
    lines = run(harness, so, {"path": str(output), "ignored": {"nested": ["}", 1]}}, FIRING, RESOLVED)
    (create,) = events(lines, "create")
    assert create["status"] == 1 and create["message"] == "created"
    firing, resolved = events(lines, "deliver")
    assert firing == {"event": "deliver", "status": 1, "retry_after_ms": -1, "message": "appended", "reference": "offset:0"}
    # The harness hands the first reference back, as the host does for the same fingerprint.
    assert resolved["status"] == 1 and resolved["reference"] == "offset:0"
    assert events(lines, "counter") == [{"event": "counter", "name": "lines_written", "delta": 1}] * 2
    assert any(f"{name} destination ready" in log["message"] for log in events(lines, "log"))
    assert lines[-1] == {"event": "destroy"}
    written = [json.loads(line) for line in output.read_text().splitlines()]
    assert written == [json.loads(FIRING.read_text()), json.loads(RESOLVED.read_text())]
    assert [issue["status"] for issue in written] == ["firing", "resolved"]


def test_appends_rather_than_overwrites(harness: pathlib.Path, plugin: tuple[str, pathlib.Path], tmp_path: pathlib.Path) -> None:
    _, so = plugin
    output = tmp_path / "issues.jsonl"
    earlier = '{"earlier":true}\n'
    output.write_text(earlier)
    (deliver,) = events(run(harness, so, {"path": str(output)}, FIRING), "deliver")
    assert deliver["reference"] == f"offset:{len(earlier)}"
    assert output.read_text().splitlines()[0] == '{"earlier":true}'


@pytest.mark.parametrize("config, message", [
    ({}, 'missing required key "path"'),
    ('{"path": 42}', '"path" must be a string'),
    ("not json", '"path" must be a string in a JSON object'),
    ({"path": "relative/issues.jsonl"}, '"path" must be an absolute file path'),
    ({"path": "/nonexistent-dir-for-cano-tests/issues.jsonl"}, 'the directory of "path" does not exist'),
])
def test_bad_config_is_refused_permanently_with_a_reason(
        harness: pathlib.Path, plugin: tuple[str, pathlib.Path], config: Any, message: str) -> None:
    _, so = plugin
    lines = run(harness, so, config, FIRING)
    (create,) = events(lines, "create")
    assert create["status"] == 3, create
    assert message in create["message"]
    assert not events(lines, "deliver"), "no delivery without an instance"


def test_unwritable_output_is_reported_not_crashed(harness: pathlib.Path, plugin: tuple[str, pathlib.Path], tmp_path: pathlib.Path) -> None:
    _, so = plugin
    # A directory where the file should be: open() fails with EISDIR, a permanent problem.
    target = tmp_path / "issues.jsonl"
    target.mkdir()
    (deliver,) = events(run(harness, so, {"path": str(target)}, FIRING), "deliver")
    assert deliver["status"] == 3 and deliver["message"] == "cannot open the output file"
    assert deliver["reference"] is None


def test_rust_example_needs_no_crates() -> None:
    require_tool("cargo", "cargo (or rustup)")
    out = subprocess.run(["cargo", "metadata", "--offline", "--format-version", "1"],
                         cwd=REPO / "examples" / "rust-plugin", check=True, capture_output=True, text=True)
    metadata = json.loads(out.stdout)
    assert [p["name"] for p in metadata["packages"]] == ["jsonl-rust"], "no crate besides the plugin itself"
    (package,) = metadata["packages"]
    assert package["dependencies"] == []
    assert package["targets"][0]["crate_types"] == ["cdylib"]


# --- the Swift template ----------------------------------------------------------------------

class Receiver:
    """A loopback HTTP receiver answering each POST with the next scripted response."""

    def __init__(self, responses: list[tuple[int, dict[str, str]]]) -> None:
        import http.server
        import threading

        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status, headers = responses[min(len(outer.requests), len(responses)) - 1]
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/secret-key"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def swift_template() -> pathlib.Path:
    """The template built as a plugin author would, from its own Package.swift."""
    require_tool("swift", "the Swift toolchain")
    template = REPO / "templates" / "swift-plugin"
    scratch = REPO / ".build" / "template-plugin"
    subprocess.run(["swift", "build", "--product", "CanoMyDestination", "--scratch-path", str(scratch)],
                   cwd=template, check=True, capture_output=True, timeout=1800)
    out = subprocess.run(["swift", "build", "--scratch-path", str(scratch), "--show-bin-path"],
                         cwd=template, check=True, capture_output=True, text=True)
    return pathlib.Path(out.stdout.strip()) / "libCanoMyDestination.so"


def test_swift_template_builds_and_delivers(harness: pathlib.Path, swift_template: pathlib.Path) -> None:
    receiver = Receiver([(201, {"Location": "/issues/42"}), (200, {})])
    try:
        lines = run(harness, swift_template, {"url": receiver.url}, FIRING, RESOLVED)
    finally:
        receiver.close()
    (descriptor,) = events(lines, "descriptor")
    assert descriptor["name"] == "my-destination" and descriptor["abi_major"] == 1
    assert descriptor["toolchain"].startswith("swift-"), "Swift plugins name their toolchain"
    assert events(lines, "create")[0]["status"] == 1
    firing, resolved = events(lines, "deliver")
    assert (firing["status"], firing["reference"]) == (1, "/issues/42")
    assert resolved["status"] == 1
    first, second = receiver.requests
    assert json.loads(first["body"]) == json.loads(FIRING.read_text())
    assert first["headers"]["Content-Type"] == "application/json"
    assert first["headers"]["Idempotency-Key"] == "harness-3"
    assert json.loads(second["body"])["status"] == "resolved"


@pytest.mark.parametrize("status, headers, expected, retry_after", [
    (500, {}, 2, -1),
    (429, {"Retry-After": "7"}, 2, 7000),
    (400, {}, 3, -1),
])
def test_swift_template_maps_http_failures_to_results(
        harness: pathlib.Path, swift_template: pathlib.Path, status: int, headers: dict[str, str],
        expected: int, retry_after: int) -> None:
    receiver = Receiver([(status, headers)])
    try:
        (deliver,) = events(run(harness, swift_template, {"url": receiver.url}, FIRING), "deliver")
    finally:
        receiver.close()
    assert (deliver["status"], deliver["retry_after_ms"]) == (expected, retry_after)
    assert f"HTTP {status}" in deliver["message"]
    assert "secret-key" not in deliver["message"], "the URL path may carry a key: never in messages"


def test_swift_template_refuses_a_bad_config(harness: pathlib.Path, swift_template: pathlib.Path) -> None:
    (create,) = events(run(harness, swift_template, {"url": "ftp://example.invalid/x"}), "create")
    assert create["status"] == 3 and create["message"] == 'config: "url" must be an http(s) URL'
    (create,) = events(run(harness, swift_template, {}), "create")
    assert create["status"] == 3 and 'missing required key "url"' in create["message"]


# --- the host's own conformance run ----------------------------------------------------------

@pytest.fixture(scope="module")
def collector() -> pathlib.Path:
    from support import release_bin_dir

    path = release_bin_dir() / "cano-collector"
    assert path.is_file(), f"no release build at {path}: run scripts/build-release.sh"
    return path


@pytest.mark.parametrize("which", ["jsonl-c", "jsonl-rust", "swift-template"])
def test_plugins_check_passes(which: str, collector: pathlib.Path, build_dir: pathlib.Path,
                              request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> None:
    if which == "swift-template":
        so = request.getfixturevalue("swift_template")
        config = '{"url":"{{capture_url}}"}'
    else:
        so = PLUGINS[which](build_dir / which if which == "jsonl-rust" else build_dir)
        config = json.dumps({"path": str(tmp_path / "issues.jsonl")})
    out = subprocess.run([str(collector), "plugins", "check", str(so), "--config-json", config],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"plugins check failed for {which}:\n{out.stdout}\n{out.stderr}"
    assert "FAIL" not in out.stdout and out.stdout.rstrip().endswith("result: PASS"), out.stdout
    if which != "swift-template":
        statuses = [json.loads(line)["status"] for line in (tmp_path / "issues.jsonl").read_text().splitlines()]
        assert statuses == ["firing", "resolved"], "the check's sample Issues reached the file"


def test_plugins_check_reports_a_bad_config_as_a_failure(collector: pathlib.Path, build_dir: pathlib.Path) -> None:
    so = build_c_example(build_dir)
    out = subprocess.run([str(collector), "plugins", "check", str(so), "--config-json", "{}"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 1, out.stdout + out.stderr
    assert 'missing required key "path"' in out.stdout
