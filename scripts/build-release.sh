#!/usr/bin/env bash
# Every release build: `swift build -c release` with the code-layout flags, then any of
# swift build's own arguments (`--product cano-collector`, `--show-bin-path`).
#
#   scripts/build-release.sh                          every product
#   scripts/build-release.sh --product cano-collector
#
# The flags let the linker lay out the host by Sources/Host/startup.order, the functions
# that start-up and idle run, so they share a few MiB of pages instead of touching 8 MiB of
# the binary's 15 (docs/benchmarks.md, "RSS idle"). They must reach every module,
# dependencies included, which Package.swift cannot do; hence this script:
#   -function-sections                  every function in a section of its own, which the
#                                       linker can move (without it, a whole file's code
#                                       moves at once);
#   -disable-llvm-merge-functions-pass  LLVM's MergeFunctions turns merged bodies into
#                                       unnamed private functions (.L__unnamed_N), which an
#                                       order file cannot name, so they stay scattered.
# A plain `swift build -c release` still builds and runs; the host is laid out by whole
# files then, and idle RSS is 3 MiB higher. Use one of the two for a build folder: SwiftPM
# does not always rebuild objects when only -Xswiftc flags change.
set -euo pipefail
cd "$(dirname "$0")/.."
exec swift build -c release \
    -Xswiftc -Xfrontend -Xswiftc -function-sections \
    -Xswiftc -Xfrontend -Xswiftc -disable-llvm-merge-functions-pass \
    "$@"
