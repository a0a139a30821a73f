#!/usr/bin/env bash
# Builds the image `spindle kube install` runs (the operator and the node installer) from the
# release binary, without Docker: /usr/local/bin/spindle, the shared libraries it links (from
# ldd), busybox for the node installer's `sh` and `nsenter`, and the CA bundle, packed as an
# OCI image tar. Usage: image.sh NAME OUT.tar   (then `ctr -n k8s.io image import OUT.tar`
# on each node, or push it to a registry the nodes pull from).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
name=${1:?usage: image.sh NAME OUT.tar}
out=${2:?usage: image.sh NAME OUT.tar}
spindle=${SPINDLE_BIN:-$root/target/release/spindle}
[ -x "$spindle" ] || { echo "image.sh: $spindle is missing (cargo build --release)" >&2; exit 1; }
dpkg -s busybox-static >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends busybox-static
. "$root/scripts/k8s/oci-image.sh"
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
r=$w/rootfs
mkdir -p "$r/usr/local/bin" "$r/bin" "$r/tmp" "$r/etc/ssl/certs"
chmod 1777 "$r/tmp"
cp "$spindle" "$r/usr/local/bin/spindle"
# The dynamic loader and every library ldd names, at the same paths.
for lib in $(ldd "$spindle" | grep -o '/[^ ]*'); do
    mkdir -p "$r$(dirname "$lib")"
    cp -L "$lib" "$r$lib"
done
cp /bin/busybox "$r/bin/busybox"
for applet in sh nsenter cat ls; do ln -s busybox "$r/bin/$applet"; done
[ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/"
oci_image_tar "$r" "$name" '{"Entrypoint":["/usr/local/bin/spindle"],"Env":["PATH=/usr/local/bin:/bin"]}' "$out"
echo "image.sh: $name -> $out ($(du -h "$out" | cut -f1))"
