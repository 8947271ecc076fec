#!/usr/bin/env bash
# Every release build: `swift build -c release` with the code-layout flags, then any of
# swift build's own arguments. It runs from the repository root, so a relative
# `--scratch-path` is read from there.
#
#   scripts/build-release.sh                          every product
#   scripts/build-release.sh --product cano-collector
#
# The flags let the linker lay out the host by Sources/Host/startup.order, the functions
# that start-up and idle run, so they share a few MiB of pages instead of touching 8 MiB of
# the binary's 15 (docs/benchmarks.md, "RSS idle"). They must reach every module,
# dependencies and C targets included, which Package.swift cannot do; hence this script:
#   -function-sections (Swift), -ffunction-sections (C)
#                                       every function in a section of its own, which the
#                                       linker can move (without it, a whole file's code
#                                       moves at once);
#   -disable-llvm-merge-functions-pass  LLVM's MergeFunctions turns merged bodies into
#                                       unnamed private functions (.L__unnamed_N), which an
#                                       order file cannot name, so they stay scattered.
# A plain `swift build -c release` still builds and runs; the host is laid out by whole
# files then, and idle RSS is about 3 MiB higher. Use one of the two per build folder:
# SwiftPM re-ran the compiles but kept the old objects when only these flags changed.
set -euo pipefail
cd "$(dirname "$0")/.."
exec swift build -c release \
    -Xswiftc -Xfrontend -Xswiftc -function-sections \
    -Xswiftc -Xfrontend -Xswiftc -disable-llvm-merge-functions-pass \
    -Xcc -ffunction-sections \
    "$@"
