#!/usr/bin/env bash
# Installs the services the end-to-end tests start themselves (a fresh Debian 12, as root):
#   docker-registry  a real OCI registry (crates/cli/tests/registry.rs)
#   apache2-utils    htpasswd, for the registry with authentication
#   redis-server     key-value store tests
#   openssl, curl    a self-signed certificate and an HTTPS client for the TLS listener test
# Idempotent: apt-get runs only when something is missing.
set -euo pipefail

missing=()
command -v docker-registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v curl >/dev/null 2>&1 || missing+=(curl ca-certificates)

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-services: docker-registry, htpasswd, redis-server, openssl and curl are present"
    exit 0
fi

echo "install-services: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
