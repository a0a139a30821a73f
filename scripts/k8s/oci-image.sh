# Sourced by the image scripts: `oci_image_tar ROOTFS NAME CONFIG OUT` packs the directory ROOTFS
# as a one-layer OCI image tar named NAME (the `io.containerd.image.name` annotation that
# `ctr image import` reads), with CONFIG as the image config's "config" object (Entrypoint,
# User, Env...). The layer is reproducible: sorted, owned by root, fixed mtime.
oci_image_tar() {
    local rootfs=$1 name=$2 config=$3 out=$4 w d s ld ls cd cs md ms
    w=$(mktemp -d)
    mkdir -p "$w/layout/blobs/sha256"
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2020-01-01' -C "$rootfs" -cf "$w/layer.tar" .
    put() { d=$(sha256sum "$1" | cut -d' ' -f1); s=$(stat -c %s "$1"); mv "$1" "$w/layout/blobs/sha256/$d"; echo "$d $s"; }
    read -r ld ls < <(put "$w/layer.tar")
    printf '{"architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
        "$config" "$ld" > "$w/config.json"
    read -r cd cs < <(put "$w/config.json")
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
        "$cd" "$cs" "$ld" "$ls" > "$w/manifest.json"
    read -r md ms < <(put "$w/manifest.json")
    printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
        "$md" "$ms" "$name" "${name##*:}" > "$w/layout/index.json"
    echo '{"imageLayoutVersion":"1.0.0"}' > "$w/layout/oci-layout"
    tar -C "$w/layout" -cf "$out" oci-layout index.json blobs
    rm -rf "$w"
}
