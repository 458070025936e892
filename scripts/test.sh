#!/usr/bin/env bash
# The whole test suite, from a fresh machine: checks the toolchain, formats,
# lints, then builds once (release profile, shared by tests and benches) and
# runs every unit, property and integration test, including the detection-
# quality runs on held-out simulator seeds, the streaming service against the
# embedded Kafka cluster, and an end-to-end run against a real broker (tansu)
# driven by kafka-python. Tests that use the real audit logs in ../shared/data
# skip with a message when that folder is absent. The HTML reports are
# rendered in Debian's headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1; }
if ! need cargo; then
  echo "cargo not found: install Rust (https://rustup.rs) first" >&2
  exit 1
fi
# rustfmt and clippy ship as rustup components; add them if missing.
if need rustup; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi

# What the Kafka tests need: a C compiler and make for the bundled
# librdkafka, Debian's kcat (an independent client against the embedded
# cluster), kafka-python and the tansu broker for the real-broker test. Each
# is installed only when missing; an installed tansu is reused.
apt_install() {
  if need apt-get; then
    local sudo=""
    [ "$(id -u)" -ne 0 ] && need sudo && sudo="sudo"
    $sudo apt-get install -y -q "$@" >/dev/null 2>&1 ||
      { $sudo apt-get update -q >/dev/null 2>&1 && $sudo apt-get install -y -q "$@" >/dev/null; }
  else
    echo "warning: cannot install $* (no apt-get)" >&2
  fi
}
need cc && need make || apt_install build-essential
# OpenSSL for librdkafka's TLS and SASL SCRAM (the rdkafka "ssl" feature).
{ need pkg-config && pkg-config --exists openssl; } || apt_install pkg-config libssl-dev
need kcat || apt_install kcat
need chromium || apt_install chromium
python3 -c 'import kafka' 2>/dev/null || python3 -m pip install -q kafka-python
# The SSF receiver in tests/deploy.rs verifies SETs with PyJWT, not Warden.
python3 -c 'import jwt, cryptography' 2>/dev/null || python3 -m pip install -q 'pyjwt[crypto]==2.15.1'
# deploy/: manifests rendered by kubectl's kustomize and validated against
# the Kubernetes schemas; alert rules checked and unit-tested by promtool;
# the container image built and run by podman (runc) on a Debian base made
# by debootstrap.
need kubectl || apt_install kubectl || apt_install kubernetes-client
need kubernetes-validate || python3 -m pip install -q 'kubernetes-validate==1.37.0'
need promtool || apt_install prometheus
{ need podman && need runc && need debootstrap; } || apt_install podman runc debootstrap
if ! need tansu && [ ! -x "$HOME/.cargo/bin/tansu" ]; then
  echo "installing the tansu broker for the real-broker test (about 13 minutes, once)" >&2
  cargo install tansu --locked --features dynostore -q
fi

# Everything the real-broker test needs is installed now: there, a missing
# piece fails the test instead of skipping it.
export WARDEN_REQUIRE_BROKER=1

cargo fmt --check
# The README's two commands must share one build of the dependencies.
./scripts/check-features.sh
# No import cycles between modules (docs/architecture.md).
python3 scripts/check-imports.py
# Deployment files: the Kubernetes overlays against the Kubernetes schemas
# and the KEDA/ServiceMonitor fields, the alert rules and their unit tests.
python3 scripts/check_deploy.py 1.30.0
promtool check rules deploy/prometheus/warden-rules.yml
(cd deploy/prometheus && promtool test rules warden-rules.test.yml)
cargo clippy --release --all-targets --locked -- -D warnings
# Coverage-guided fuzzing of the decoders, a fixed number of inputs
# (README: Fuzzing the decoders). Before the tests: the fuzz build compiles
# the warden crate with coverage, and the test build after it puts the
# plain one back, so ./scripts/run.sh finds everything built.
./scripts/fuzz.sh 1000000
cargo test --release --locked

# The container image, built from ./Dockerfile around the binary the tests
# ran against, and `warden demo` run inside it as Kubernetes runs it.
cargo build --release --locked --bin warden
./scripts/container.sh
