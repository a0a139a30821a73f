#!/usr/bin/env bash
# Builds the Kubernetes pause (sandbox) image from the k8s 1.20 source (build/pause/linux/pause.c,
# unpacked by build.sh): compiled statically and wrapped as an OCI image tar named
# k8s.gcr.io/pause:3.2, so the node needs no registry for it. Usage: pause-image.sh OUT.tar
set -euo pipefail
out=${1:?usage: pause-image.sh OUT.tar}
src=${K8S_DIR:-/opt/spindle-ci/k8s}/src/kubernetes-1.20.2/build/pause/linux/pause.c
[ -f "$src" ] || { echo "pause-image: $src is missing: run scripts/k8s/build.sh" >&2; exit 1; }
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
mkdir -p "$w/rootfs" "$w/layout/blobs/sha256"
gcc -Os -static -DVERSION=3.2 -o "$w/rootfs/pause" "$src"
strip "$w/rootfs/pause"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2020-01-01' -C "$w/rootfs" -cf "$w/layer.tar" .
put() { local d s; d=$(sha256sum "$1" | cut -d' ' -f1); s=$(stat -c %s "$1"); mv "$1" "$w/layout/blobs/sha256/$d"; echo "$d $s"; }
read -r ld ls < <(put "$w/layer.tar")
printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/pause"],"User":"65535:65535"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$ld" > "$w/config.json"
read -r cd cs < <(put "$w/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$cd" "$cs" "$ld" "$ls" > "$w/manifest.json"
read -r md ms < <(put "$w/manifest.json")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"k8s.gcr.io/pause:3.2","org.opencontainers.image.ref.name":"3.2"}}]}' \
    "$md" "$ms" > "$w/layout/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$w/layout/oci-layout"
tar -C "$w/layout" -cf "$out" oci-layout index.json blobs
