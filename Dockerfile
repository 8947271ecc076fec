# syntax=docker/dockerfile:1
# The core-only cano-collector runtime image: the host binary, exactly the shared
# libraries it needs, CA certificates and a non-root user. No shell, no package manager,
# no plugins (they ship as separate images/archives: Dockerfile.plugin).
#
# The root filesystem is assembled by scripts/build-rootfs.sh, the same script
# tests/rootfs runs and checks under chroot, so the tested tree and the image are one.
#
#   docker build -t cano-collector .

ARG SWIFT_IMAGE=swift:6.3.1-bookworm

FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcurl4-openssl-dev libsqlite3-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Manifests first: dependency resolution is cached until they change.
# Package.resolved is optional (not committed): the wildcard lets COPY succeed without it.
COPY Package.swift Package.resolved* ./
RUN swift package resolve
COPY . .
RUN swift build -c release --product cano-collector \
 && scripts/build-rootfs.sh /rootfs "$(swift build -c release --show-bin-path)/cano-collector" \
 && chroot /rootfs /usr/bin/cano-collector --help >/dev/null

FROM scratch
COPY --from=build /rootfs /
USER 65532:65532
WORKDIR /var/lib/cano-collector
EXPOSE 9099
ENTRYPOINT ["/usr/bin/cano-collector"]
CMD ["run", "--config", "/etc/cano-collector/config.yaml"]
