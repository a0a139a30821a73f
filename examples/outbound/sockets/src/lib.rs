//! `sockets` component: opens a `wasi:sockets` connection (TCP or UDP) to the address in
//! `?addr=HOST:PORT` (a host name is resolved through `wasi:sockets/ip-name-lookup`), sends
//! `?msg=` and answers with what came back, so tests can exercise `allowed_outbound_hosts` for
//! sockets.
//!
//! * `GET /sockets/tcp?addr=..&msg=..`: 200 `echo <reply>`
//! * `GET /sockets/udp?addr=..&msg=..`: 200 `echo <reply>`
//! * the host denied it (`access-denied`): 403 with the error
//! * any other error: 502 with the error

use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;
use wasi::io::poll;
use wasi::sockets::network::{
    ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
    Network,
};
use wasi::sockets::udp::OutgoingDatagram;
use wasi::sockets::{instance_network, ip_name_lookup, tcp, tcp_create_socket, udp_create_socket};

#[http_component]
fn handle_sockets(req: Request) -> anyhow::Result<impl IntoResponse> {
    let query = req.query().to_string();
    let (Some(addr), Some(msg)) = (param(&query, "addr"), param(&query, "msg")) else {
        return Ok(text(400, "missing ?addr=HOST:PORT&msg=TEXT\n".into()));
    };
    let network = instance_network::instance_network();
    let result = resolve(&network, &addr).and_then(|remote| {
        if req.path().ends_with("/udp") {
            udp(&network, remote, &msg)
        } else {
            tcp(&network, remote, &msg)
        }
    });
    Ok(match result {
        Ok(reply) => text(200, format!("echo {reply}")),
        Err(ErrorCode::AccessDenied) => text(403, format!("connection to {addr} denied: access-denied\n")),
        Err(e) => text(502, format!("connection to {addr} failed: {e:?}\n")),
    })
}

/// `HOST:PORT` (or `[V6]:PORT`) to a socket address, looking the host name up if needed.
fn resolve(network: &Network, addr: &str) -> Result<IpSocketAddress, ErrorCode> {
    let (host, port) = addr.rsplit_once(':').ok_or(ErrorCode::InvalidArgument)?;
    let port: u16 = port.parse().map_err(|_| ErrorCode::InvalidArgument)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => {
            let o = v4.octets();
            IpAddress::Ipv4((o[0], o[1], o[2], o[3]))
        }
        Ok(std::net::IpAddr::V6(v6)) => {
            let s = v6.segments();
            IpAddress::Ipv6((s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]))
        }
        Err(_) => {
            let lookup = ip_name_lookup::resolve_addresses(network, host)?;
            loop {
                match lookup.resolve_next_address() {
                    Ok(Some(ip @ IpAddress::Ipv4(_))) => break ip,
                    Ok(Some(_)) => continue,
                    Ok(None) => return Err(ErrorCode::NameUnresolvable),
                    Err(ErrorCode::WouldBlock) => lookup.subscribe().block(),
                    Err(e) => return Err(e),
                }
            }
        }
    };
    Ok(match ip {
        IpAddress::Ipv4(address) => IpSocketAddress::Ipv4(Ipv4SocketAddress { port, address }),
        IpAddress::Ipv6(address) => IpSocketAddress::Ipv6(Ipv6SocketAddress {
            port,
            address,
            flow_info: 0,
            scope_id: 0,
        }),
    })
}

fn family(addr: &IpSocketAddress) -> IpAddressFamily {
    match addr {
        IpSocketAddress::Ipv4(_) => IpAddressFamily::Ipv4,
        IpSocketAddress::Ipv6(_) => IpAddressFamily::Ipv6,
    }
}

fn tcp(network: &Network, remote: IpSocketAddress, msg: &str) -> Result<String, ErrorCode> {
    let socket = tcp_create_socket::create_tcp_socket(family(&remote))?;
    socket.start_connect(network, remote)?;
    let (input, output) = loop {
        match socket.finish_connect() {
            Err(ErrorCode::WouldBlock) => socket.subscribe().block(),
            other => break other?,
        }
    };
    output
        .blocking_write_and_flush(msg.as_bytes())
        .map_err(|_| ErrorCode::ConnectionReset)?;
    socket.shutdown(tcp::ShutdownType::Send)?;
    let mut reply = Vec::new();
    while let Ok(chunk) = input.blocking_read(4096) {
        reply.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

fn udp(network: &Network, remote: IpSocketAddress, msg: &str) -> Result<String, ErrorCode> {
    let socket = udp_create_socket::create_udp_socket(family(&remote))?;
    let any = match remote {
        IpSocketAddress::Ipv4(_) => IpSocketAddress::Ipv4(Ipv4SocketAddress {
            port: 0,
            address: (0, 0, 0, 0),
        }),
        IpSocketAddress::Ipv6(_) => IpSocketAddress::Ipv6(Ipv6SocketAddress {
            port: 0,
            address: (0, 0, 0, 0, 0, 0, 0, 0),
            flow_info: 0,
            scope_id: 0,
        }),
    };
    socket.start_bind(network, any)?;
    loop {
        match socket.finish_bind() {
            Err(ErrorCode::WouldBlock) => socket.subscribe().block(),
            other => break other?,
        }
    }
    let (incoming, outgoing) = socket.stream(Some(remote))?;
    outgoing.subscribe().block();
    outgoing.check_send()?;
    outgoing.send(&[OutgoingDatagram {
        data: msg.as_bytes().to_vec(),
        remote_address: None,
    }])?;
    // Wait at most 5 s for the answer.
    let timeout = wasi::clocks::monotonic_clock::subscribe_duration(5_000_000_000);
    let readable = incoming.subscribe();
    loop {
        let ready = poll::poll(&[&readable, &timeout]);
        if !ready.contains(&0) {
            return Err(ErrorCode::Timeout);
        }
        if let Some(d) = incoming.receive(1)?.into_iter().next() {
            return Ok(String::from_utf8_lossy(&d.data).into_owned());
        }
    }
}

fn text(status: u16, body: String) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(body)
        .build()
}

fn param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.replace("%3A", ":").replace("%3a", ":"))
    })
}
