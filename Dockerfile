# syntax=docker/dockerfile:1
# The cano-collector runtime images: the host binary, exactly the shared libraries it
# needs, CA certificates and a non-root user. No shell, no package manager.
#   - default (the last stage): plus the shipped destination plugins (Slack, Webhook,
#     PagerDuty, Opsgenie, Jira, ServiceNow, Microsoft Teams, Datadog, Kafka) and the
#     Prometheus graph enricher in /usr/lib/cano-collector/builtin, with librdkafka for
#     Kafka, and cairo and one font for the graphs;
#   - `core`: the host alone, for plugins mounted as separate images (Dockerfile.plugin).
#
# Both root filesystems are assembled by scripts/build-rootfs.sh, the same script
# tests/rootfs runs and checks under chroot, so the tested trees and the images are one.
#
#   docker build -t cano-collector .
#   docker build --target core -t cano-collector:core .

ARG SWIFT_IMAGE=swift:6.3.1-bookworm

FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcurl4-openssl-dev libssl-dev libsqlite3-dev librdkafka-dev libcairo2-dev fonts-dejavu-core ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Manifests first: dependency resolution is cached until they change.
# Package.resolved is optional (not committed): the wildcard lets COPY succeed without it.
COPY Package.swift Package.resolved* ./
RUN swift package resolve
COPY . .
# The products of scripts/shipped-plugins, or --build-arg SHIPPED_PLUGINS="CanoSlack ...".
# Empty means that default list too; an image without plugins is the `core` target.
ARG SHIPPED_PLUGINS=""
RUN SHIPPED_PLUGINS="${SHIPPED_PLUGINS:-$(awk '!/^#/ && NF { print $2 }' scripts/shipped-plugins)}" \
 && scripts/build-release.sh --product cano-collector \
 && for product in $SHIPPED_PLUGINS; do scripts/build-release.sh --product "$product"; done \
 && bin="$(swift build -c release --show-bin-path)" \
 && scripts/build-rootfs.sh /rootfs-core "$bin/cano-collector" \
 && scripts/build-rootfs.sh /rootfs "$bin/cano-collector" --plugins $(for p in $SHIPPED_PLUGINS; do echo "$bin/lib$p.so"; done) \
 && chroot /rootfs-core /usr/bin/cano-collector --help >/dev/null \
 && chroot /rootfs /usr/bin/cano-collector plugins list --plugin-dir /usr/lib/cano-collector/builtin

FROM scratch AS core
COPY --from=build /rootfs-core /
USER 65532:65532
WORKDIR /var/lib/cano-collector
EXPOSE 9099
ENTRYPOINT ["/usr/bin/cano-collector"]
CMD ["run", "--config", "/etc/cano-collector/config.yaml"]

FROM scratch AS default
COPY --from=build /rootfs /
USER 65532:65532
WORKDIR /var/lib/cano-collector
EXPOSE 9099
ENTRYPOINT ["/usr/bin/cano-collector"]
CMD ["run", "--config", "/etc/cano-collector/config.yaml"]
