//! Outbound `wasi:sockets` (TCP and UDP), gated by `allowed_outbound_hosts` as in Spin.
//!
//! A TCP connect checks the remote address with scheme `tcp`, a UDP send or receive with scheme
//! `udp`: the entries that grant it are those with scheme `*` or that scheme
//! (`*://127.0.0.1:5432`, `tcp://10.0.0.0/24:8000..8010`, `udp://{{ dns }}:53`). An entry with
//! a host name grants the addresses the name resolves to when the guest connects. Binding is
//! allowed only for the implicit client bind (wildcard address, ephemeral port); listening and
//! accepting are never allowed. Name lookup (`wasi:sockets/ip-name-lookup`) is enabled only
//! for components that some entry grants sockets.
//!
//! A denied connection fails with `access-denied`, and the console says which entry to add.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::WasiCtxBuilder;

use crate::allowed_hosts::AllowedHosts;

/// Longest wait for the host's own lookup of a name in the allow-list.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Configures `wasi`'s sockets for `component_id` from its allow-list.
pub(crate) fn grant(wasi: &mut WasiCtxBuilder, component_id: Arc<str>, allowed: Arc<AllowedHosts>) {
    let tcp = allowed.grants_sockets("tcp");
    let udp = allowed.grants_sockets("udp");
    wasi.allow_tcp(tcp)
        .allow_udp(udp)
        .allow_ip_name_lookup(tcp || udp);
    if !(tcp || udp) {
        return;
    }
    wasi.socket_addr_check(move |addr, use_| {
        let scheme = match use_ {
            SocketAddrUse::TcpConnect => "tcp",
            SocketAddrUse::UdpSend | SocketAddrUse::UdpReceive => "udp",
            // The implicit bind before a connect or a send.
            SocketAddrUse::TcpBind | SocketAddrUse::UdpBind => {
                let client_bind = addr.ip().is_unspecified() && addr.port() == 0;
                if !client_bind {
                    tracing::warn!(
                        "component `{component_id}` was denied binding a socket to {addr}: \
                         components may only make outbound connections"
                    );
                }
                return Box::pin(std::future::ready(client_bind));
            }
            SocketAddrUse::TcpListen | SocketAddrUse::TcpAccept => {
                tracing::warn!(
                    "component `{component_id}` was denied listening on {addr}: components may \
                     only make outbound connections"
                );
                return Box::pin(std::future::ready(false));
            }
        };
        if allowed.allows_socket(scheme, addr) {
            return Box::pin(std::future::ready(true));
        }
        let names: Vec<String> = allowed
            .socket_names(scheme, addr.port())
            .into_iter()
            .map(str::to_string)
            .collect();
        let id = component_id.clone();
        // Spawned so that the check's future is `Sync`, as wasmtime-wasi requires.
        let check = tokio::spawn(async move {
            let permitted = resolves_to(&names, addr).await;
            if !permitted && !matches!(use_, SocketAddrUse::UdpReceive) {
                tracing::warn!(
                    "component `{id}` was denied a {scheme} connection to {addr}: not allowed \
                     by its allowed_outbound_hosts (help: add \"{scheme}://{addr}\" to \
                     allowed_outbound_hosts of component `{id}`)"
                );
            }
            permitted
        });
        Box::pin(async move { check.await.unwrap_or(false) })
    });
}

/// Whether one of `names` resolves (on the host, within [`LOOKUP_TIMEOUT`]) to `addr`'s IP.
async fn resolves_to(names: &[String], addr: SocketAddr) -> bool {
    let ip = addr.ip().to_canonical();
    for name in names {
        let lookup = tokio::net::lookup_host((name.as_str(), addr.port()));
        if let Ok(Ok(mut found)) = tokio::time::timeout(LOOKUP_TIMEOUT, lookup).await {
            if found.any(|a| a.ip().to_canonical() == ip) {
                return true;
            }
        }
    }
    false
}
