#!/usr/bin/env bash
# Installs what the containerd shim needs, on a fresh Debian 12 (as root):
#   * to build it: protobuf-compiler (containerd's gRPC client), libseccomp-dev and pkg-config
#     (youki's libcontainer, inside runwasi);
#   * to test it: runc, and containerd 1.7 from Debian trixie. Bookworm's containerd 1.6 cannot
#     pull images whose layers are Wasm ("mismatched image rootfs and manifest layers"); the
#     trixie .deb runs on bookworm (it needs glibc 2.34). It is unpacked with `dpkg -x` into
#     $SPINDLE_CONTAINERD_ROOT (default /opt/spindle-ci/containerd), through a private apt
#     configuration: nothing is installed system-wide and /etc/apt is not touched.
# Idempotent.
set -euo pipefail

root=${SPINDLE_CONTAINERD_ROOT:-/opt/spindle-ci/containerd}

missing=()
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
[ -e /usr/include/seccomp.h ] || missing+=(libseccomp-dev)
command -v runc >/dev/null 2>&1 || missing+=(runc)
command -v curl >/dev/null 2>&1 || missing+=(curl ca-certificates)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "install-containerd: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ -x "$root/usr/bin/containerd" ] && [ -x "$root/usr/bin/ctr" ]; then
    echo "install-containerd: $("$root/usr/bin/containerd" --version) is in $root"
    exit 0
fi

apt_dir=$(mktemp -d)
trap 'rm -rf "$apt_dir"' EXIT
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs"
echo 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main' \
    > "$apt_dir/sources.list"
apt_opts=(
    -o "Dir::Etc::SourceList=$apt_dir/sources.list"
    -o "Dir::Etc::SourceParts=/nonexistent"
    -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Cache=$apt_dir/cache"
)
apt-get "${apt_opts[@]}" update -qq
(cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" download containerd)
mkdir -p "$root"
dpkg -x "$apt_dir"/debs/containerd_*.deb "$root"
echo "install-containerd: $("$root/usr/bin/containerd" --version) unpacked into $root"
