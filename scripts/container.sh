#!/usr/bin/env bash
# Builds Warden's container image from ./Dockerfile with podman and runs
# `warden demo --duration 10s` inside it, as the Kubernetes manifests run
# it: non-root, read-only root filesystem, every capability dropped, no
# privilege escalation, no network but loopback.
#
# Base images cannot be pulled on this machine, so the build stage runs on a
# Debian bookworm image made here with debootstrap (kept between runs as
# localhost/warden-build-base) holding the binary `cargo build`
# already made at $CARGO_TARGET_DIR/release/warden; the Dockerfile then
# skips its compile and lays out the runtime image exactly as it does
# elsewhere. Needs root (podman, debootstrap); tests/container.rs and
# scripts/test.sh run it.
#
#   scripts/container.sh [IMAGE_TAG]   (default localhost/warden:ci)
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-localhost/warden:ci}
target=${CARGO_TARGET_DIR:-target}
bin=$target/release/warden
[ -x "$bin" ] || { echo "container: build the binary first (cargo build --release --locked --bin warden)" >&2; exit 1; }

# This machine's sandbox refuses setrlimit above its own limits and has a
# hybrid cgroup tree crun rejects: runc with limits at or under ours works.
rt=(--runtime runc --ulimit "nofile=1024:1024" --ulimit "nproc=1024:1024")

# The base's tag names what it holds beyond minbase: the libraries the
# binary links that minbase lacks (OpenSSL, for librdkafka's TLS).
base=localhost/warden-build-base:bookworm-libssl3
if ! podman image exists "$base"; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "container: making $base with debootstrap (once)" >&2
  debootstrap --variant=minbase --include=libssl3 bookworm "$work/rootfs" \
    http://deb.debian.org/debian >/dev/null
  tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
  podman import "$work/rootfs.tar" "$base" >/dev/null
fi

# The build stage's image: the Debian base with the prebuilt binary.
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
# Stripped here: the Debian base has no binutils to strip it in the build.
strip --strip-debug -o "$ctx/warden" "$bin"
printf 'FROM %s\nCOPY warden /out/warden\n' "$base" > "$ctx/Containerfile"
podman build -q -t localhost/warden-prebuilt:ci -f "$ctx/Containerfile" "$ctx" >/dev/null

podman build "${rt[@]}" -q --build-arg RUST_IMAGE=localhost/warden-prebuilt:ci -t "$tag" . >/dev/null
echo "container: built $tag ($(podman image inspect --format '{{.Size}}' "$tag") bytes)"

run=(podman "${rt[@]:0:2}" run --rm "${rt[@]:2}" --read-only --cap-drop ALL
  --security-opt no-new-privileges --network none)
# No shell in the image: the entrypoint is the only program.
if "${run[@]}" --entrypoint /bin/sh "$tag" -c true >/dev/null 2>&1; then
  echo "container: the image has a shell; it should not" >&2
  exit 1
fi
[ "$(podman image inspect --format '{{.Config.User}}' "$tag")" = "65532:65532" ] ||
  { echo "container: the image does not run as 65532" >&2; exit 1; }
out=$(mktemp)
"${run[@]}" "$tag" demo --duration 10s | tee "$out"
# The demo inside the image must do what it does outside: catch every
# attack it injected.
summary=$(grep -E '^caught [0-9]+ of [0-9]+ injected' "$out" || true)
rm -f "$out"
read -r _ caught _ injected _ <<< "$summary"
if [ -z "$summary" ] || [ "$injected" -eq 0 ] || [ "$caught" != "$injected" ]; then
  echo "container: the demo in the image did not catch every attack: ${summary:-no summary}" >&2
  exit 1
fi
echo "container: $tag ran the demo as user 65532, read-only, no capabilities: $summary"
