"""The runtime images, built for real as OCI archives by scripts/build-images.sh (umoci and
skopeo, no container engine), and read back here as a registry or a runtime would: the
index, the manifest, the config and each layer, every digest checked.

Checks: the host images run as 65532 with the collector as entry point and no shell; the
core image's layer is exactly the tree tests/rootfs/test_rootfs.py runs under chroot; each
plugin image's layer holds its library and the static copier, nothing else; sizes.tsv
reports what the archives hold; and the build is reproducible (same digests twice).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import pathlib
import stat
import subprocess
import tarfile
from dataclasses import dataclass
from typing import Any

import pytest

from support import APP_UID, REPO, SHIPPED, release_bin_dir, require_root, require_tool

HOST_IMAGES = ("cano-collector-core", "cano-collector")
SHELLS = {"sh", "bash", "dash", "ash", "busybox"}


@dataclass
class Image:
    """One OCI image read from its archive."""
    manifest_digest: str
    config: dict[str, Any]
    layers: list[list[tarfile.TarInfo]]
    compressed: int
    uncompressed: int

    def files(self) -> dict[str, tarfile.TarInfo]:
        """The single layer's entries by path, relative to / (the root entry left out)."""
        assert len(self.layers) == 1, f"{len(self.layers)} layers"
        paths = {m.name.removeprefix("./").strip("/"): m for m in self.layers[0]}
        return {path: m for path, m in paths.items() if path not in ("", ".")}


def read_image(archive: pathlib.Path) -> Image:
    """Reads an oci-archive the way a registry would, and checks every digest it names."""
    with tarfile.open(archive) as tar:
        def blob(descriptor: dict[str, Any]) -> bytes:
            algorithm, digest = descriptor["digest"].split(":", 1)
            data = tar.extractfile(f"blobs/{algorithm}/{digest}").read()
            assert hashlib.sha256(data).hexdigest() == digest, f"{archive.name}: blob {digest} does not match its digest"
            assert len(data) == descriptor["size"], f"{archive.name}: blob {digest} is not its stated size"
            return data

        layout = json.loads(tar.extractfile("oci-layout").read())
        assert layout["imageLayoutVersion"] == "1.0.0"
        (entry,) = json.loads(tar.extractfile("index.json").read())["manifests"]
        manifest = json.loads(blob(entry))
        assert manifest["schemaVersion"] == 2
        config = json.loads(blob(manifest["config"]))
        layers, uncompressed = [], 0
        for descriptor, diff_id in zip(manifest["layers"], config["rootfs"]["diff_ids"], strict=True):
            assert descriptor["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
            raw = gzip.decompress(blob(descriptor))
            assert "sha256:" + hashlib.sha256(raw).hexdigest() == diff_id, f"{archive.name}: diff_id mismatch"
            uncompressed += len(raw)
            with tarfile.open(fileobj=io.BytesIO(raw)) as layer:
                layers.append(layer.getmembers())
        compressed = sum(d["size"] for d in manifest["layers"])
        return Image(entry["digest"], config, layers, compressed, uncompressed)


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    require_root()
    require_tool("umoci", "umoci")
    require_tool("skopeo", "skopeo")
    out = tmp_path_factory.mktemp("images")
    subprocess.run([str(REPO / "scripts" / "build-images.sh"), str(out), str(release_bin_dir())], check=True)
    return out


def test_every_image_is_built(images: pathlib.Path) -> None:
    expected = {f"{name}.tar" for name in HOST_IMAGES} | {f"cano-plugin-{name}.tar" for name in SHIPPED}
    assert {p.name for p in images.glob("*.tar")} == expected


@pytest.mark.parametrize("name", HOST_IMAGES)
def test_host_image_config(images: pathlib.Path, name: str) -> None:
    """What the Dockerfile's final stages declare: non-root user, the collector as entry point
    with the chart's config path, the data directory as working directory, the HTTP port."""
    image = read_image(images / f"{name}.tar")
    assert (image.config["os"], image.config["architecture"]) == ("linux", "amd64")
    config = image.config["config"]
    assert config["User"] == f"{APP_UID}:{APP_UID}"
    assert config["Entrypoint"] == ["/usr/bin/cano-collector"]
    assert config["Cmd"] == ["run", "--config", "/etc/cano-collector/config.yaml"]
    assert config["WorkingDir"] == "/var/lib/cano-collector"
    assert config["ExposedPorts"] == {"9099/tcp": {}}
    assert "Env" not in config, "nothing in the environment (no PATH: there is no shell to use it)"
    labels = config["Labels"]
    assert labels["org.opencontainers.image.title"] == name
    revision = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert labels["org.opencontainers.image.revision"] == revision
    assert labels["org.opencontainers.image.created"] == image.config["created"]
    files = image.files()
    assert not SHELLS & {pathlib.PurePath(p).name for p in files}, "no shell in a runtime image"
    data = files["var/lib/cano-collector"]
    assert (data.uid, data.gid, stat.S_IMODE(data.mode)) == (APP_UID, APP_UID, 0o750)
    assert files["usr/bin/cano-collector"].uid == 0 and stat.S_IMODE(files["usr/bin/cano-collector"].mode) == 0o755


def test_core_image_is_the_tested_tree(images: pathlib.Path, rootfs: pathlib.Path) -> None:
    """The core image's layer holds exactly the tree test_rootfs.py runs under chroot: the
    same paths, types, modes, owners and file sizes."""
    def entry(kind: str, mode: int, uid: int, gid: int, size: int) -> tuple[str, int, int, int, int]:
        return (kind, stat.S_IMODE(mode), uid, gid, size if kind == "file" else 0)

    tree = {}
    for path in rootfs.rglob("*"):
        st = path.lstat()
        kind = "link" if stat.S_ISLNK(st.st_mode) else "dir" if stat.S_ISDIR(st.st_mode) else "file"
        tree[str(path.relative_to(rootfs))] = entry(kind, st.st_mode, st.st_uid, st.st_gid, st.st_size)
    layer = {path: entry("link" if m.issym() else "dir" if m.isdir() else "file", m.mode, m.uid, m.gid, m.size)
             for path, m in read_image(images / "cano-collector-core.tar").files().items()}
    assert layer.keys() == tree.keys(), f"only in the image: {sorted(layer.keys() - tree.keys())}; " \
                                        f"only in the tree: {sorted(tree.keys() - layer.keys())}"
    differ = {p: (layer[p], tree[p]) for p in tree if layer[p] != tree[p]}
    assert not differ, differ


def test_default_image_carries_the_shipped_plugins(images: pathlib.Path) -> None:
    files = read_image(images / "cano-collector.tar").files()
    builtin = {pathlib.PurePath(p).name for p in files if p.startswith("usr/lib/cano-collector/builtin/")}
    assert builtin == {f"lib{product}.so" for product in SHIPPED.values()}
    assert "usr/share/fonts/truetype/dejavu/DejaVuSans.ttf" in files


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_plugin_image_holds_only_its_library(images: pathlib.Path, name: str) -> None:
    """One layer: /plugin/<lib>.so, which the chart mounts as an image volume, and the static
    /cano-plugin-install its init-copy fallback runs (the image has no shell to copy with)."""
    image = read_image(images / f"cano-plugin-{name}.tar")
    files = image.files()
    library = f"plugin/lib{SHIPPED[name]}.so"
    assert sorted(files) == sorted(["plugin", library, "cano-plugin-install"])
    assert all(files[p].isfile() for p in (library, "cano-plugin-install"))
    config = image.config["config"]
    assert config["User"] == f"{APP_UID}:{APP_UID}"
    assert "Entrypoint" not in config and "Cmd" not in config, "a plugin image is mounted, never run"
    assert config["Labels"]["io.cano-collector.plugin"] == name
    assert config["Labels"]["org.opencontainers.image.title"] == f"cano-plugin-{name}"


def test_sizes_report_what_the_archives_hold(images: pathlib.Path) -> None:
    rows = [line.split("\t") for line in (images / "sizes.tsv").read_text().splitlines()]
    assert rows[0] == ["image", "layers", "compressed_bytes", "uncompressed_bytes"]
    reported = {row[0]: tuple(map(int, row[1:])) for row in rows[1:]}
    for name, (layers, compressed, uncompressed) in reported.items():
        image = read_image(images / f"{name}.tar")
        assert (layers, compressed, uncompressed) == (len(image.layers), image.compressed, image.uncompressed), name
        print(f"{name}: {compressed / 1e6:.1f} MB compressed, {uncompressed / 1e6:.1f} MB uncompressed")
    assert reported.keys() == {p.stem for p in images.glob("*.tar")}


def test_images_are_reproducible(images: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """Built again from the same binaries and commit, every image has the same digest."""
    subprocess.run([str(REPO / "scripts" / "build-images.sh"), str(tmp_path), str(release_bin_dir())],
                   check=True, capture_output=True)
    for archive in sorted(images.glob("*.tar")):
        assert read_image(tmp_path / archive.name).manifest_digest == read_image(archive).manifest_digest, archive.name
