#!/usr/bin/env bash
# Builds the Kubernetes pause (sandbox) image from the k8s 1.20 source (build/pause/linux/pause.c,
# unpacked by build.sh): compiled statically and wrapped as an OCI image tar named
# k8s.gcr.io/pause:3.2, so the node needs no registry for it. Usage: pause-image.sh OUT.tar
set -euo pipefail
out=${1:?usage: pause-image.sh OUT.tar}
src=${K8S_DIR:-/opt/spindle-ci/k8s}/src/kubernetes-1.20.2/build/pause/linux/pause.c
[ -f "$src" ] || { echo "pause-image: $src is missing: run scripts/k8s/build.sh" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/oci-image.sh"
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
mkdir -p "$w/rootfs"
gcc -Os -static -DVERSION=3.2 -o "$w/rootfs/pause" "$src"
strip "$w/rootfs/pause"
oci_image_tar "$w/rootfs" k8s.gcr.io/pause:3.2 '{"Entrypoint":["/pause"],"User":"65535:65535"}' "$out"
