#!/usr/bin/env bash
# Assembles the root filesystem of the cano-collector runtime image.
#
#   scripts/build-rootfs.sh OUT_DIR [BINARY] [--plugins PLUGIN.so...]
#
# BINARY defaults to the release build (`scripts/build-release.sh --product cano-collector`).
# Without --plugins the tree is the core-only image; with it, the given plugin libraries
# (the shipped ones: the destinations, and the Prometheus graph enricher) go into
# /usr/lib/cano-collector/builtin/, with their own library closure. The
# Dockerfile runs this same script in its build stage and copies OUT_DIR into a
# `FROM scratch` image, so the tree tests/rootfs checks with chroot is the image.
#
# What goes in, and nothing else (no shell, no package manager):
#   /usr/bin/cano-collector            the host binary
#   <its ldd closure>                  at the paths the build machine resolved them to:
#                                      Swift runtime from the toolchain, libcurl and its deps,
#                                      libsqlite3, libc and the dynamic loader
#   /etc/ld.so.conf, /etc/ld.so.cache  so the loader finds them without LD_LIBRARY_PATH
#   /etc/ssl/certs/ca-certificates.crt CA bundle for libcurl (Debian's default path)
#   /etc/passwd, /etc/group            root and the non-root user nonroot (65532:65532)
#   /etc/nsswitch.conf, /etc/hosts     name resolution from files, then DNS
#   /usr/lib/cano-collector/plugins/   plugin directory (root-owned: plugins are mounted)
#   /usr/lib/cano-collector/builtin/   the --plugins libraries, if any (outside plugins/,
#                                      which the chart may mount over)
#   /etc/fonts, DejaVuSans.ttf         only when a plugin links fontconfig (the graph plugin)
#   /var/lib/cano-collector/           data directory, owned by 65532, mode 0750
#   /tmp                               1777, for libraries that want a temp dir
#   /proc, /sys, /dev                  empty mount points
#
# Needs root (it sets ownership) and ldd/ldconfig from the build machine's libc.
set -euo pipefail

die() { echo "build-rootfs: $*" >&2; exit 1; }

usage="usage: $0 OUT_DIR [BINARY] [--plugins PLUGIN.so...]"
[[ $# -ge 1 ]] || die "$usage"
out=$1
shift
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
binary=""
if [[ $# -gt 0 && $1 != --plugins ]]; then
    binary=$1
    shift
fi
[[ -n $binary ]] || binary="$(cd "$repo" && swift build -c release --show-bin-path)/cano-collector"
plugins=()
if [[ $# -gt 0 ]]; then
    [[ $1 == --plugins ]] || die "$usage"
    shift
    plugins=("$@")
    for so in "${plugins[@]}"; do
        [[ -f $so && $so == *.so ]] || die "no plugin library at $so"
    done
fi
[[ -x $binary ]] || die "no executable at $binary (run: scripts/build-release.sh --product cano-collector)"
[[ $(id -u) -eq 0 ]] || die "must run as root: it makes /var/lib/cano-collector owned by uid 65532"
command -v ldd >/dev/null || die "ldd not found (libc-bin)"
command -v ldconfig >/dev/null || die "ldconfig not found (libc-bin)"
command -v strip >/dev/null || die "strip not found (binutils)"

readonly APP_UID=65532
readonly CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
[[ -f $CA_BUNDLE ]] || die "$CA_BUNDLE missing (apt-get install ca-certificates)"

# Refuse to wipe anything that isn't ours: OUT_DIR must be new, empty, or a previous rootfs.
if [[ -e $out ]]; then
    if [[ -n $(ls -A "$out") && ! -f $out/usr/bin/cano-collector ]]; then
        die "$out exists and is not a cano-collector rootfs; refusing to delete it"
    fi
    rm -rf "$out"
fi
mkdir -p "$out"

# --- the binary --------------------------------------------------------------------------
install -D -m 0755 "$binary" "$out/usr/bin/cano-collector"
# Debug info is more than half the release binary (47 MB -> 20 MB). The symbol table
# stays, so crash backtraces still name functions.
strip --strip-debug "$out/usr/bin/cano-collector" || die "strip failed"

# --- its shared-library closure ----------------------------------------------------------
# ldd resolves the full transitive closure with the real loader. Each library is copied
# (dereferenced) to the path it was resolved at, so RUNPATHs baked into the binary (the
# Swift toolchain's lib dir) stay valid, and the loader's own path matches PT_INTERP.
# The plugins' closures too: a plugin may need a library the binary does not.
libs=()
for object in "$binary" "${plugins[@]}"; do
    closure=$(ldd "$object") || die "ldd failed on $object"
    if grep -q 'not found' <<<"$closure"; then
        die "unresolved libraries of $object on the build machine:"$'\n'"$(grep 'not found' <<<"$closure")"
    fi
    while read -r line; do
        case $line in
            *'=>'*'('*) libs+=("$(awk '{print $3}' <<<"$line")") ;;  # name => /path (addr)
            /*'('*)     libs+=("$(awk '{print $1}' <<<"$line")") ;;  # /lib64/ld-linux... (addr)
            *)          ;;                                           # linux-vdso: in the kernel
        esac
    done <<<"$closure"
done
mapfile -t libs < <(printf '%s\n' "${libs[@]}" | sort -u)

# glibc dlopen()s libgcc_s for pthread_cancel and unwinding, which ldd cannot see; the
# Swift runtime normally links it anyway, but make sure.
if ! printf '%s\n' "${libs[@]}" | grep -q '/libgcc_s\.so\.1$'; then
    libc=$(printf '%s\n' "${libs[@]}" | grep '/libc\.so\.6$' | head -n1)
    [[ -n $libc && -f $(dirname "$libc")/libgcc_s.so.1 ]] || die "libgcc_s.so.1 not found next to libc"
    libs+=("$(dirname "$libc")/libgcc_s.so.1")
fi

declare -A lib_dirs=()
for lib in "${libs[@]}"; do
    [[ -f $lib ]] || die "resolved library $lib does not exist"
    install -D -m 0755 "$(readlink -f "$lib")" "$out$lib"
    lib_dirs[$(dirname "$lib")]=1
done

# ld.so.cache lets the loader find every library even where the binary has no RUNPATH for
# it (a toolchain registered through /etc/ld.so.conf.d on the build machine, say).
mkdir -p "$out/etc"
printf '%s\n' "${!lib_dirs[@]}" | sort > "$out/etc/ld.so.conf"
ldconfig -r "$out" || die "ldconfig -r failed"

# --- fonts, for plugins that draw text ---------------------------------------------------
# The Prometheus graph plugin writes its axes with cairo, which finds fonts through
# fontconfig: its configuration (links dereferenced: conf.d points into /usr/share) and the
# one font the graphs use. Only when a library in the closure is fontconfig.
readonly FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
if printf '%s\n' "${libs[@]}" | grep -q '/libfontconfig\.so\.1$'; then
    [[ -f $FONT ]] || die "a plugin draws text through fontconfig, but $FONT is missing (apt-get install fonts-dejavu-core)"
    [[ -f /etc/fonts/fonts.conf ]] || die "a plugin draws text through fontconfig, but /etc/fonts/fonts.conf is missing (fontconfig-config)"
    install -D -m 0644 "$FONT" "$out$FONT"
    mkdir -p "$out/etc/fonts"
    cp -rL /etc/fonts/. "$out/etc/fonts/"
fi

# --- configuration files -----------------------------------------------------------------
install -D -m 0644 "$CA_BUNDLE" "$out$CA_BUNDLE"
cat > "$out/etc/passwd" <<EOF
root:x:0:0:root:/root:/sbin/nologin
nonroot:x:$APP_UID:$APP_UID:cano-collector:/var/lib/cano-collector:/sbin/nologin
EOF
cat > "$out/etc/group" <<EOF
root:x:0:
nonroot:x:$APP_UID:
EOF
cat > "$out/etc/nsswitch.conf" <<'EOF'
passwd: files
group:  files
hosts:  files dns
EOF
# Kubernetes bind-mounts its own /etc/hosts and /etc/resolv.conf; these serve chroot/docker run.
cat > "$out/etc/hosts" <<'EOF'
127.0.0.1 localhost
::1       localhost ip6-localhost ip6-loopback
EOF
chmod 0644 "$out"/etc/{passwd,group,nsswitch.conf,hosts,ld.so.conf}

# --- directories -------------------------------------------------------------------------
install -d -m 0755 "$out/usr/lib/cano-collector/plugins"
if [[ ${#plugins[@]} -gt 0 ]]; then
    install -d -m 0755 "$out/usr/lib/cano-collector/builtin"
    for so in "${plugins[@]}"; do
        install -m 0755 "$so" "$out/usr/lib/cano-collector/builtin/$(basename "$so")"
        # Debug info only: the dynamic symbol table the host looks up is untouched.
        strip --strip-debug "$out/usr/lib/cano-collector/builtin/$(basename "$so")" || die "strip failed on $so"
    done
fi
install -d -m 0750 -o "$APP_UID" -g "$APP_UID" "$out/var/lib/cano-collector"
install -d -m 1777 "$out/tmp"
# Mount points the container runtime fills (proc, sysfs, devices).
install -d -m 0555 "$out/proc" "$out/sys"
install -d -m 0755 "$out/dev"

# Sanity: nothing that could serve as a shell or package manager slipped in.
for forbidden in bin/sh usr/bin/sh bin/bash usr/bin/apt usr/bin/dpkg; do
    [[ ! -e $out/$forbidden ]] || die "$forbidden must not be in the runtime image"
done

echo "build-rootfs: $out ready: ${#libs[@]} libraries, ${#plugins[@]} plugins, $(du -sh "$out" | cut -f1) total"
