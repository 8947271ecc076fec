#!/usr/bin/env bash
# Packages one destination plugin for shipping separately from the core image.
#
#   scripts/package-plugin.sh NAME [--so PATH] [--out DIR] [--stage DIR]
#
# NAME    the plugin's short name (webhook, slack, jsonl-c...). Without --so, NAME is also
#         resolved to the SwiftPM product Cano<Name> (webhook -> CanoWebhook), built with
#         `scripts/build-release.sh`; with --so, any ready .so (C, Rust, Go) is packaged.
# --out   where the archive goes (default: dist/plugins). It is
#         <out>/cano-plugin-NAME.tar.gz and holds only the .so, so
#         `tar -xzf cano-plugin-NAME.tar.gz -C /usr/lib/cano-collector/plugins/NAME` installs it.
# --stage also lay out the plugin image's filesystem in DIR for Dockerfile.plugin:
#         DIR/plugin/<lib>.so and DIR/cano-plugin-install (static copier for the chart's
#         init-copy fallback: the image has no shell).
#
# The .so must export cano_plugin_entry; the archive is reproducible (fixed owner and mtime).
set -euo pipefail

die() { echo "package-plugin: $*" >&2; exit 1; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ $# -ge 1 ]] || die "usage: $0 NAME [--so PATH] [--out DIR] [--stage DIR]"
name=$1
shift
[[ $name =~ ^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$ ]] || die "plugin name '$name' must match [a-z0-9_-]+"
so="" out="$repo/dist/plugins" stage=""
while [[ $# -gt 0 ]]; do
    case $1 in
        --so) so=${2:?--so needs a path}; shift 2 ;;
        --out) out=${2:?--out needs a directory}; shift 2 ;;
        --stage) stage=${2:?--stage needs a directory}; shift 2 ;;
        *) die "unknown option $1" ;;
    esac
done

if [[ -z $so ]]; then
    # A shipped plugin's product is in scripts/shipped-plugins (msteams -> CanoTeams);
    # any other name is camel-cased: my-thing -> CanoMyThing.
    product=$(awk -v name="$name" '!/^#/ && $1 == name { print $2 }' "$repo/scripts/shipped-plugins")
    [[ -n $product ]] || product="Cano$(sed -E 's/(^|[-_])([a-z])/\U\2/g' <<<"$name")"
    "$repo/scripts/build-release.sh" --product "$product" || die "swift build of $product failed"
    so="$(cd "$repo" && swift build -c release --show-bin-path)/lib$product.so"
fi
[[ -f $so ]] || die "no plugin library at $so"
file_name=$(basename "$so")
[[ $file_name == *.so ]] || die "$so is not a .so file"

# The one symbol the host looks up: refuse to ship a library that would not load.
command -v nm >/dev/null || die "nm not found (binutils)"
command -v strip >/dev/null || die "strip not found (binutils)"
nm -D --defined-only "$so" | awk '{print $NF}' | grep -qx cano_plugin_entry \
    || die "$so does not export cano_plugin_entry"

mkdir -p "$out"
archive="$out/cano-plugin-$name.tar.gz"
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
install -m 0755 "$so" "$staging/$file_name"
# Debug info only: the dynamic symbol table the host needs is untouched.
strip --strip-debug "$staging/$file_name" || die "strip failed"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$staging" -cf - "$file_name" \
    | gzip -n -9 > "$archive"
echo "package-plugin: $archive ($(du -h "$archive" | cut -f1))"

if [[ -n $stage ]]; then
    command -v cc >/dev/null || die "cc not found (needed to build the static cano-plugin-install)"
    mkdir -p "$stage/plugin"
    install -m 0755 "$staging/$file_name" "$stage/plugin/$file_name"
    cc -static -Os -s -Wall -Wextra -Werror -o "$stage/cano-plugin-install" "$repo/scripts/cano-plugin-install.c" \
        || die "building the static cano-plugin-install failed (libc6-dev provides the static libc)"
    echo "package-plugin: image tree staged in $stage"
fi
