#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs Spindle's whole test suite:
#   1. the guest toolchains and every example/test guest (.ci/build-guests.sh),
#   2. formatting and lints,
#   3. unit and end-to-end tests (the real `spindle` binary serving the real guests, the
#      containerd shim on a real containerd 1.7, and the operator on a real single-node
#      Kubernetes 1.20 built from Debian's source, as root).
# One cargo profile (release) is used for everything, so the binary is built once.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { echo; echo "=== $* ($(date +%T))"; }

step "guests"
bash .ci/build-guests.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "containerd shim: build dependencies (protoc, libseccomp), runc, containerd 1.7"
bash .ci/install-containerd.sh

step "Kubernetes 1.20 from Debian's source (scripts/k8s/build.sh; skipped when built)"
bash scripts/k8s/build.sh

step "cargo clippy"
cargo clippy --workspace --all-targets --release -- -D warnings

step "services (docker-registry, htpasswd, redis-server, openssl, curl)"
bash .ci/install-services.sh

step "cargo test"
cargo test --workspace --release -- --test-threads 2

step "done"
