# Warden's container image: `warden` is the entrypoint, config comes from a
# mounted /etc/warden/warden.toml plus WARDEN_KAFKA_* variables.
#
#   podman build -t warden:0.1.0 .        (or docker build)
#
# Two stages. The build stage compiles with the pinned lockfile and lays out
# the runtime's files; the runtime stage is those files on an empty base:
# the binary, the C libraries it links, CA certificates and a non-root
# user, and nothing else (no shell, no package manager, no compiler).
#
# RUST_IMAGE is any image with the Rust toolchain (1.95 or newer), a C
# compiler, make, perl and OpenSSL's headers (librdkafka is built from
# source). An image that already holds a built binary at /out/warden (and
# a POSIX shell) skips the compile: CI builds this file that way, with the
# binary its tests ran against (scripts/container.sh).
ARG RUST_IMAGE=docker.io/library/rust:1.95-bookworm

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
RUN if [ -x /out/warden ]; then \
        echo "using the binary already built at /out/warden"; \
    else \
        cargo build --release --locked --bin warden && \
        install -D -m 0755 target/release/warden /out/warden; \
    fi && \
    sh scripts/container-rootfs.sh /out/warden /rootfs

FROM scratch AS runtime
COPY --from=build /rootfs/ /
# 65532: the conventional "nonroot" user of distroless images; the root
# filesystem can be mounted read-only (Warden writes nothing locally).
USER 65532:65532
ENV RUST_LOG=info
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/warden"]
CMD ["run", "--config", "/etc/warden/warden.toml"]
