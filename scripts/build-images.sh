#!/usr/bin/env bash
# Builds the runtime images as OCI archives, with no container engine and no base image.
#
#   scripts/build-images.sh OUT_DIR [BIN_DIR]
#
# BIN_DIR holds the release build: cano-collector and the shipped plugin libraries
# (default: `swift build -c release --show-bin-path`; nothing is built here). OUT_DIR gets:
#   cano-collector-core.tar     the host alone: the Dockerfile's `core` stage
#   cano-collector.tar          the host and the shipped plugins: the Dockerfile's default
#   cano-plugin-NAME.tar        one per shipped plugin: Dockerfile.plugin with PLUGIN=NAME
#   sizes.tsv                   image, layers, compressed bytes, uncompressed bytes
# Each archive is skopeo's `oci-archive:` (a tar of an OCI image layout), tagged `latest`:
#   skopeo copy oci-archive:OUT_DIR/cano-collector-core.tar docker://REGISTRY/cano-collector:core
#
# The layers are the trees the tests check: scripts/build-rootfs.sh for the host images,
# scripts/package-plugin.sh --stage for the plugin images. umoci writes the layout (one
# layer per image, the image config below); skopeo copies it into the archive, checking
# every digest on the way. Why not the Dockerfile: its build stage pulls the Swift image,
# and building from the tested trees needs no engine, no registry and no root daemon.
#
# Reproducible: every file's mtime and the image's `created` are SOURCE_DATE_EPOCH
# (default: the time of the checked-out commit), so the same inputs give the same digests.
#
# Needs root (build-rootfs.sh sets ownership), umoci, skopeo and python3 (Debian packages).
set -euo pipefail

die() { echo "build-images: $*" >&2; exit 1; }

[[ $# -ge 1 && $# -le 2 ]] || die "usage: $0 OUT_DIR [BIN_DIR]"
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$1
bin=${2:-$(cd "$repo" && swift build -c release --show-bin-path)}
command -v umoci >/dev/null || die "umoci not found (apt-get install umoci)"
command -v skopeo >/dev/null || die "skopeo not found (apt-get install skopeo)"
command -v python3 >/dev/null || die "python3 not found (it sums the layer sizes)"
[[ -x $bin/cano-collector ]] || die "no release cano-collector in $bin (run: scripts/build-release.sh --product cano-collector)"

# The shipped plugins (scripts/shipped-plugins): image name -> SwiftPM product.
declare -A shipped=()
while read -r name product; do
    shipped[$name]=$product
done < <(awk '!/^#/ && NF' "$repo/scripts/shipped-plugins")
mapfile -t names < <(printf '%s\n' "${!shipped[@]}" | sort)
libraries=()
for name in "${names[@]}"; do
    so="$bin/lib${shipped[$name]}.so"
    [[ -f $so ]] || die "no $so (run: scripts/build-release.sh --product ${shipped[$name]})"
    libraries+=("$so")
done

epoch=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || echo 0)}
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
revision=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)

mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# image NAME TREE DESCRIPTION [umoci config options...]
# One OCI image of one layer holding TREE at /, exported to OUT_DIR/NAME.tar.
image() {
    local name=$1 tree=$2 description=$3
    shift 3
    local layout="$work/$name" bundle="$work/bundle"
    umoci init --layout "$layout"
    umoci new --image "$layout:latest"
    # unpack + repack, not `umoci insert`: 0.4.7's insert never closes the layer's tar, so
    # the last file's padding and the end-of-archive blocks are missing (strict readers,
    # Python's tarfile and GNU tar among them, refuse the layer).
    umoci unpack --image "$layout:latest" "$bundle" >/dev/null
    cp -a "$tree/." "$bundle/rootfs/"
    find "$bundle/rootfs" -exec touch -h -d "@$epoch" {} +
    umoci repack --image "$layout:latest" --history.created "$created" \
        --history.created_by "scripts/build-images.sh" "$bundle"
    rm -rf "$bundle"
    umoci config --image "$layout:latest" --no-history --created "$created" \
        --config.user 65532:65532 \
        --config.label "org.opencontainers.image.title=$name" \
        --config.label "org.opencontainers.image.description=$description" \
        --config.label "org.opencontainers.image.revision=$revision" \
        --config.label "org.opencontainers.image.created=$created" \
        "$@"
    umoci gc --layout "$layout"
    rm -f "$out/$name.tar"
    skopeo --insecure-policy copy --quiet "oci:$layout:latest" "oci-archive:$out/$name.tar:latest"
    sizes "$name" "$layout" >> "$out/sizes.tsv"
}

# sizes NAME LAYOUT: one sizes.tsv row, the layers' compressed and uncompressed bytes.
sizes() {
    python3 - "$1" "$2" <<'EOF'
import gzip, json, pathlib, sys
name, layout = sys.argv[1], pathlib.Path(sys.argv[2])
blob = lambda digest: layout / "blobs" / "sha256" / digest.split(":", 1)[1]
(entry,) = json.loads((layout / "index.json").read_text())["manifests"]
layers = json.loads(blob(entry["digest"]).read_text())["layers"]
compressed = sum(layer["size"] for layer in layers)
uncompressed = sum(len(gzip.decompress(blob(layer["digest"]).read_bytes())) for layer in layers)
print(f"{name}\t{len(layers)}\t{compressed}\t{uncompressed}")
EOF
}

printf 'image\tlayers\tcompressed_bytes\tuncompressed_bytes\n' > "$out/sizes.tsv"
host_config=(
    --config.workingdir /var/lib/cano-collector
    --config.exposedports 9099/tcp
    --config.entrypoint /usr/bin/cano-collector
    --config.cmd run --config.cmd --config --config.cmd /etc/cano-collector/config.yaml
)

"$repo/scripts/build-rootfs.sh" "$work/rootfs-core" "$bin/cano-collector"
image cano-collector-core "$work/rootfs-core" "cano-collector, the host alone (plugins mounted)" "${host_config[@]}"
rm -rf "$work/rootfs-core"

"$repo/scripts/build-rootfs.sh" "$work/rootfs" "$bin/cano-collector" --plugins "${libraries[@]}"
image cano-collector "$work/rootfs" "cano-collector with the shipped plugins" "${host_config[@]}"
rm -rf "$work/rootfs"

for name in "${names[@]}"; do
    so="$bin/lib${shipped[$name]}.so"
    "$repo/scripts/package-plugin.sh" "$name" --so "$so" --out "$work/dist" --stage "$work/plugin-$name" >/dev/null
    image "cano-plugin-$name" "$work/plugin-$name" "cano-collector plugin $name: /plugin/$(basename "$so")" \
        --config.label "io.cano-collector.plugin=$name"
    rm -rf "$work/plugin-$name"
done

echo "build-images: $(($(wc -l < "$out/sizes.tsv") - 1)) images in $out"
column -t "$out/sizes.tsv"
