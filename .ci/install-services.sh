#!/usr/bin/env bash
# Installs the services the end-to-end tests start themselves (a fresh Debian 12, as root):
#   docker-registry  a real OCI registry (crates/cli/tests/registry.rs)
#   apache2-utils    htpasswd, for the registry with authentication
#   redis-server     key-value store tests
#   openssl, curl    a self-signed certificate and an HTTPS client for the TLS listener test
#   etcd-server, containernetworking-plugins, iptables, busybox-static
#                    the Kubernetes test cluster (scripts/k8s/up.sh) and the operator's image
#                    (scripts/k8s/image.sh)
# Idempotent: apt-get runs only when something is missing.
set -euo pipefail

missing=()
command -v docker-registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v curl >/dev/null 2>&1 || missing+=(curl ca-certificates)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
[ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
command -v iptables >/dev/null 2>&1 || missing+=(iptables)
dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-services: everything is present"
    exit 0
fi

echo "install-services: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
