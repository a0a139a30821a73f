//! WASI `0.2.0-rc-2023-11-10`: the release-candidate snapshot that wasmtime 15, componentize-py
//! 0.7 and componentize-js 0.5 target. Components exporting
//! `wasi:http/incoming-handler@0.2.0-rc-2023-11-10` run on the host's WASI 0.2 implementation:
//! every rc function forwards to wasmtime-wasi / wasmtime-wasi-http, as Spin does.
//!
//! The rc interfaces are structurally identical to 0.2.0 except for:
//! * `wasi:http/types`: `request-options.*-timeout-ms` (forwarded unchanged to `*-timeout`),
//!   `future-trailers.get` has one `result` layer less (getting the trailers twice traps), and
//!   there is no `fields.has`;
//! * `wasi:sockets/tcp` and `udp`: `ipv6-only` / `set-ipv6-only`, which answer `not-supported`.
//!
//! Resources are shared with the 0.2 bindings through bindgen's `with:`, and error types through
//! `trappable_error_type`, so most functions forward as they are; records, enums, variants and
//! flags are distinct Rust types and are converted by the `convert!` impls below.

use wasmtime::component::{HasData, InstancePre, Linker, Resource, ResourceTable};
use wasmtime::Store;
use wasmtime_wasi::cli::{WasiCli, WasiCliCtxView, WasiCliView as _};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksCtxView, WasiClocksView as _};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemCtxView, WasiFilesystemView as _};
use wasmtime_wasi::p2::bindings as latest;
use wasmtime_wasi::p2::{
    DynInputStream, DynOutputStream, DynPollable, FsResult, IoError, SocketResult, StreamResult,
};
use wasmtime_wasi::random::{WasiRandom, WasiRandomCtx, WasiRandomView as _};
use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsCtxView, WasiSocketsView as _};
use wasmtime_wasi::WasiView as _;
use wasmtime_wasi_http::p2::bindings::http as latest_http;
use wasmtime_wasi_http::p2::types::{HostIncomingRequest, HostResponseOutparam};
use wasmtime_wasi_http::p2::{HeaderResult, HttpResult};
use wasmtime_wasi_http::{WasiHttp, WasiHttpCtxView, WasiHttpView as _};

use crate::sandbox::InstanceState;

#[allow(dead_code, reason = "generated entry points the runtime does not use")]
mod bindings {
    wasmtime::component::bindgen!({
        path: "wit-rc-2023-11-10",
        world: "spindle:rc-2023-11-10/proxy-full",
        // Async exactly where the wasmtime 48 implementation is async.
        imports: {
            "wasi:io/poll.poll": async | trappable,
            "wasi:io/poll.[method]pollable.block": async | trappable,
            "wasi:io/poll.[method]pollable.ready": async | trappable,
            "wasi:io/streams.[method]input-stream.blocking-read": async | trappable,
            "wasi:io/streams.[method]input-stream.blocking-skip": async | trappable,
            "wasi:io/streams.[drop]input-stream": async | trappable,
            "wasi:io/streams.[method]output-stream.blocking-splice": async | trappable,
            "wasi:io/streams.[method]output-stream.blocking-flush": async | trappable,
            "wasi:io/streams.[method]output-stream.blocking-write-and-flush": async | trappable,
            "wasi:io/streams.[method]output-stream.blocking-write-zeroes-and-flush": async | trappable,
            "wasi:io/streams.[drop]output-stream": async | trappable,
            "wasi:filesystem/types.[method]descriptor.advise": async | trappable,
            "wasi:filesystem/types.[method]descriptor.create-directory-at": async | trappable,
            "wasi:filesystem/types.[method]descriptor.get-flags": async | trappable,
            "wasi:filesystem/types.[method]descriptor.get-type": async | trappable,
            "wasi:filesystem/types.[method]descriptor.is-same-object": async | trappable,
            "wasi:filesystem/types.[method]descriptor.link-at": async | trappable,
            "wasi:filesystem/types.[method]descriptor.metadata-hash": async | trappable,
            "wasi:filesystem/types.[method]descriptor.metadata-hash-at": async | trappable,
            "wasi:filesystem/types.[method]descriptor.open-at": async | trappable,
            "wasi:filesystem/types.[method]descriptor.read": async | trappable,
            "wasi:filesystem/types.[method]descriptor.read-directory": async | trappable,
            "wasi:filesystem/types.[method]descriptor.readlink-at": async | trappable,
            "wasi:filesystem/types.[method]descriptor.remove-directory-at": async | trappable,
            "wasi:filesystem/types.[method]descriptor.rename-at": async | trappable,
            "wasi:filesystem/types.[method]descriptor.set-size": async | trappable,
            "wasi:filesystem/types.[method]descriptor.set-times": async | trappable,
            "wasi:filesystem/types.[method]descriptor.set-times-at": async | trappable,
            "wasi:filesystem/types.[method]descriptor.stat": async | trappable,
            "wasi:filesystem/types.[method]descriptor.stat-at": async | trappable,
            "wasi:filesystem/types.[method]descriptor.symlink-at": async | trappable,
            "wasi:filesystem/types.[method]descriptor.sync": async | trappable,
            "wasi:filesystem/types.[method]descriptor.sync-data": async | trappable,
            "wasi:filesystem/types.[method]descriptor.unlink-file-at": async | trappable,
            "wasi:filesystem/types.[method]descriptor.write": async | trappable,
            "wasi:filesystem/types.[method]directory-entry-stream.read-directory-entry": async | trappable,
            "wasi:sockets/udp-create-socket.create-udp-socket": async | trappable,
            "wasi:sockets/tcp.[method]tcp-socket.start-bind": async | trappable,
            "wasi:sockets/tcp.[method]tcp-socket.start-listen": async | trappable,
            "wasi:sockets/udp.[method]udp-socket.start-bind": async | trappable,
            "wasi:sockets/udp.[method]udp-socket.stream": async | trappable,
            "wasi:sockets/udp.[drop]outgoing-datagram-stream": async | trappable,
            default: trappable,
        },
        exports: { default: async },
        // The 0.2 error carriers, so results forward unchanged; the rc `Host::convert_*`
        // functions turn them into the rc error types.
        trappable_error_type: {
            "wasi:io/streams.stream-error" => wasmtime_wasi::p2::StreamError,
            "wasi:filesystem/types.error-code" => wasmtime_wasi::p2::FsError,
            "wasi:sockets/network.error-code" => wasmtime_wasi::p2::SocketError,
            "wasi:http/types.error-code" => wasmtime_wasi_http::p2::HttpError,
            "wasi:http/types.header-error" => wasmtime_wasi_http::p2::HeaderError,
        },
        with: {
            "wasi:io/poll.pollable": wasmtime_wasi::p2::DynPollable,
            "wasi:io/streams.input-stream": wasmtime_wasi::p2::DynInputStream,
            "wasi:io/streams.output-stream": wasmtime_wasi::p2::DynOutputStream,
            "wasi:io/error.error": wasmtime_wasi::p2::IoError,
            "wasi:filesystem/types.descriptor": wasmtime_wasi::p2::bindings::filesystem::types::Descriptor,
            "wasi:filesystem/types.directory-entry-stream": wasmtime_wasi::p2::bindings::filesystem::types::DirectoryEntryStream,
            "wasi:cli/terminal-input.terminal-input": wasmtime_wasi::p2::bindings::cli::terminal_input::TerminalInput,
            "wasi:cli/terminal-output.terminal-output": wasmtime_wasi::p2::bindings::cli::terminal_output::TerminalOutput,
            "wasi:sockets/network.network": wasmtime_wasi::p2::bindings::sockets::network::Network,
            "wasi:sockets/tcp.tcp-socket": wasmtime_wasi::p2::bindings::sockets::tcp::TcpSocket,
            "wasi:sockets/udp.udp-socket": wasmtime_wasi::p2::bindings::sockets::udp::UdpSocket,
            "wasi:sockets/udp.incoming-datagram-stream": wasmtime_wasi::p2::bindings::sockets::udp::IncomingDatagramStream,
            "wasi:sockets/udp.outgoing-datagram-stream": wasmtime_wasi::p2::bindings::sockets::udp::OutgoingDatagramStream,
            "wasi:sockets/ip-name-lookup.resolve-address-stream": wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::ResolveAddressStream,
            "wasi:http/types.fields": wasmtime_wasi_http::p2::bindings::http::types::Fields,
            "wasi:http/types.incoming-request": wasmtime_wasi_http::p2::bindings::http::types::IncomingRequest,
            "wasi:http/types.outgoing-request": wasmtime_wasi_http::p2::bindings::http::types::OutgoingRequest,
            "wasi:http/types.request-options": wasmtime_wasi_http::p2::bindings::http::types::RequestOptions,
            "wasi:http/types.response-outparam": wasmtime_wasi_http::p2::bindings::http::types::ResponseOutparam,
            "wasi:http/types.incoming-response": wasmtime_wasi_http::p2::bindings::http::types::IncomingResponse,
            "wasi:http/types.incoming-body": wasmtime_wasi_http::p2::bindings::http::types::IncomingBody,
            "wasi:http/types.future-trailers": wasmtime_wasi_http::p2::bindings::http::types::FutureTrailers,
            "wasi:http/types.outgoing-response": wasmtime_wasi_http::p2::bindings::http::types::OutgoingResponse,
            "wasi:http/types.outgoing-body": wasmtime_wasi_http::p2::bindings::http::types::OutgoingBody,
            "wasi:http/types.future-incoming-response": wasmtime_wasi_http::p2::bindings::http::types::FutureIncomingResponse,
        },
    });
}

use bindings::wasi as rc;

/// The export every rc HTTP component has.
pub(crate) const EXPORT: &str = "wasi:http/incoming-handler@0.2.0-rc-2023-11-10";

/// Adds every rc-2023-11-10 interface to `linker`, forwarding to wasmtime-wasi / wasmtime-wasi-http 48.
pub(crate) fn add_to_linker(linker: &mut Linker<InstanceState>) -> anyhow::Result<()> {
    let l = linker;
    rc::io::error::add_to_linker::<_, HasIo>(l, |s| s.ctx().table)?;
    rc::io::poll::add_to_linker::<_, HasIo>(l, |s| s.ctx().table)?;
    rc::io::streams::add_to_linker::<_, HasIo>(l, |s| s.ctx().table)?;
    rc::clocks::wall_clock::add_to_linker::<_, WasiClocks>(l, |s| s.clocks())?;
    rc::clocks::monotonic_clock::add_to_linker::<_, WasiClocks>(l, |s| s.clocks())?;
    rc::random::random::add_to_linker::<_, WasiRandom>(l, |s| s.random())?;
    rc::random::insecure::add_to_linker::<_, WasiRandom>(l, |s| s.random())?;
    rc::random::insecure_seed::add_to_linker::<_, WasiRandom>(l, |s| s.random())?;
    rc::filesystem::types::add_to_linker::<_, WasiFilesystem>(l, |s| s.filesystem())?;
    rc::filesystem::preopens::add_to_linker::<_, WasiFilesystem>(l, |s| s.filesystem())?;
    rc::cli::environment::add_to_linker::<_, WasiCli>(l, |s| s.cli())?;
    rc::cli::exit::add_to_linker::<_, WasiCli>(l, |s| s.cli())?;
    rc::cli::stdin::add_to_linker::<_, WasiCli>(l, |s| s.cli())?;
    rc::cli::stdout::add_to_linker::<_, WasiCli>(l, |s| s.cli())?;
    rc::cli::stderr::add_to_linker::<_, WasiCli>(l, |s| s.cli())?;
    rc::cli::terminal_input::add_to_linker::<_, WasiCli>(l, |s| s.cli())?;
    rc::cli::terminal_output::add_to_linker::<_, WasiCli>(l, |s| s.cli())?;
    rc::cli::terminal_stdin::add_to_linker::<_, WasiCli>(l, |s| s.cli())?;
    rc::cli::terminal_stdout::add_to_linker::<_, WasiCli>(l, |s| s.cli())?;
    rc::cli::terminal_stderr::add_to_linker::<_, WasiCli>(l, |s| s.cli())?;
    rc::sockets::network::add_to_linker::<_, WasiSockets>(l, |s| s.sockets())?;
    rc::sockets::instance_network::add_to_linker::<_, WasiSockets>(l, |s| s.sockets())?;
    rc::sockets::ip_name_lookup::add_to_linker::<_, WasiSockets>(l, |s| s.sockets())?;
    rc::sockets::tcp::add_to_linker::<_, WasiSockets>(l, |s| s.sockets())?;
    rc::sockets::tcp_create_socket::add_to_linker::<_, WasiSockets>(l, |s| s.sockets())?;
    rc::sockets::udp::add_to_linker::<_, WasiSockets>(l, |s| s.sockets())?;
    rc::sockets::udp_create_socket::add_to_linker::<_, WasiSockets>(l, |s| s.sockets())?;
    rc::http::types::add_to_linker::<_, WasiHttp>(l, |s| s.http())?;
    rc::http::outgoing_handler::add_to_linker::<_, WasiHttp>(l, |s| s.http())?;
    Ok(())
}

/// Pre-instantiation handle for components exporting the rc incoming-handler.
#[derive(Clone)]
pub(crate) struct RcProxyPre {
    pre: bindings::ProxyFullPre<InstanceState>,
}

impl RcProxyPre {
    /// Err if the component does not export wasi:http/incoming-handler@0.2.0-rc-2023-11-10.
    pub(crate) fn new(pre: InstancePre<InstanceState>) -> anyhow::Result<Self> {
        let pre = bindings::ProxyFullPre::new(pre).map_err(|e| anyhow::anyhow!("{e:#}"))?;
        Ok(Self { pre })
    }

    /// Instantiates into `store` and calls handle(request, response_out) for one request.
    pub(crate) async fn call_handle(
        &self,
        store: &mut Store<InstanceState>,
        request: Resource<HostIncomingRequest>,
        response_out: Resource<HostResponseOutparam>,
    ) -> wasmtime::Result<()> {
        let proxy = self.pre.instantiate_async(&mut *store).await?;
        proxy
            .wasi_http_incoming_handler()
            .call_handle(store, request, response_out)
            .await
    }
}

/// The io interfaces are implemented on the resource table alone (wasmtime's own marker for
/// this is private).
struct HasIo;

impl HasData for HasIo {
    type Data<'a> = &'a mut ResourceTable;
}

// ---------------------------------------------------------------------------------------------
// Conversions between the rc and the 0.2 types
// ---------------------------------------------------------------------------------------------

/// `From` impls in both directions between two structurally identical bindgen types:
/// * `record A, B { f, g; opt h }`: fields converted with `into` (`opt`: an `Option` of one);
/// * `variant A, B { X, Y; into Z; opt W }`: unit cases, then cases with a payload converted
///   with `into` (`opt`: an `Option` payload); plain enums list unit cases only;
/// * `flags A, B { X, Y }`.
macro_rules! convert {
    ($kind:ident $a:ty, $b:ty { $($body:tt)* }) => {
        convert!(@$kind $a => $b { $($body)* });
        convert!(@$kind $b => $a { $($body)* });
    };
    (@record $from:ty => $to:ty {
        $($f:ident),* $(,)? $(; opt $($o:ident),* $(,)?)?
    }) => {
        impl From<$from> for $to {
            fn from(v: $from) -> Self {
                Self {
                    $($f: v.$f.into(),)*
                    $($($o: v.$o.map(Into::into),)*)?
                }
            }
        }
    };
    (@variant $from:ty => $to:ty {
        $($u:ident),* $(,)? $(; into $($p:ident),* $(,)?)? $(; opt $($o:ident),* $(,)?)?
    }) => {
        impl From<$from> for $to {
            fn from(v: $from) -> Self {
                type Src = $from;
                match v {
                    $(Src::$u => Self::$u,)*
                    $($(Src::$p(x) => Self::$p(x.into()),)*)?
                    $($(Src::$o(x) => Self::$o(x.map(Into::into)),)*)?
                }
            }
        }
    };
    (@flags $from:ty => $to:ty { $($f:ident),* $(,)? }) => {
        impl From<$from> for $to {
            fn from(v: $from) -> Self {
                type Src = $from;
                let mut out = Self::empty();
                $(if v.contains(Src::$f) { out |= Self::$f; })*
                out
            }
        }
    };
}

convert!(record rc::clocks::wall_clock::Datetime, latest::clocks::wall_clock::Datetime {
    seconds, nanoseconds
});

convert!(variant rc::filesystem::types::ErrorCode, latest::filesystem::types::ErrorCode {
    Access, WouldBlock, Already, BadDescriptor, Busy, Deadlock, Quota, Exist, FileTooLarge,
    IllegalByteSequence, InProgress, Interrupted, Invalid, Io, IsDirectory, Loop, TooManyLinks,
    MessageSize, NameTooLong, NoDevice, NoEntry, NoLock, InsufficientMemory, InsufficientSpace,
    NotDirectory, NotEmpty, NotRecoverable, Unsupported, NoTty, NoSuchDevice, Overflow,
    NotPermitted, Pipe, ReadOnly, InvalidSeek, TextFileBusy, CrossDevice,
});
convert!(variant rc::filesystem::types::Advice, latest::filesystem::types::Advice {
    Normal, Sequential, Random, WillNeed, DontNeed, NoReuse,
});
convert!(variant rc::filesystem::types::DescriptorType, latest::filesystem::types::DescriptorType {
    Unknown, BlockDevice, CharacterDevice, Directory, Fifo, SymbolicLink, RegularFile, Socket,
});
convert!(variant rc::filesystem::types::NewTimestamp, latest::filesystem::types::NewTimestamp {
    NoChange, Now; into Timestamp
});
convert!(flags rc::filesystem::types::DescriptorFlags, latest::filesystem::types::DescriptorFlags {
    READ, WRITE, FILE_INTEGRITY_SYNC, DATA_INTEGRITY_SYNC, REQUESTED_WRITE_SYNC, MUTATE_DIRECTORY,
});
convert!(flags rc::filesystem::types::PathFlags, latest::filesystem::types::PathFlags {
    SYMLINK_FOLLOW
});
convert!(flags rc::filesystem::types::OpenFlags, latest::filesystem::types::OpenFlags {
    CREATE, DIRECTORY, EXCLUSIVE, TRUNCATE
});
convert!(record rc::filesystem::types::DescriptorStat, latest::filesystem::types::DescriptorStat {
    type_, link_count, size;
    opt data_access_timestamp, data_modification_timestamp, status_change_timestamp
});
convert!(record rc::filesystem::types::DirectoryEntry, latest::filesystem::types::DirectoryEntry {
    type_, name
});
convert!(record rc::filesystem::types::MetadataHashValue, latest::filesystem::types::MetadataHashValue {
    lower, upper
});

convert!(variant rc::sockets::network::ErrorCode, latest::sockets::network::ErrorCode {
    Unknown, AccessDenied, NotSupported, InvalidArgument, OutOfMemory, Timeout,
    ConcurrencyConflict, NotInProgress, WouldBlock, InvalidState, NewSocketLimit,
    AddressNotBindable, AddressInUse, RemoteUnreachable, ConnectionRefused, ConnectionReset,
    ConnectionAborted, DatagramTooLarge, NameUnresolvable, TemporaryResolverFailure,
    PermanentResolverFailure,
});
convert!(variant rc::sockets::network::IpAddressFamily, latest::sockets::network::IpAddressFamily {
    Ipv4, Ipv6
});
convert!(variant rc::sockets::network::IpAddress, latest::sockets::network::IpAddress {
    ; into Ipv4, Ipv6
});
convert!(record rc::sockets::network::Ipv4SocketAddress, latest::sockets::network::Ipv4SocketAddress {
    port, address
});
convert!(record rc::sockets::network::Ipv6SocketAddress, latest::sockets::network::Ipv6SocketAddress {
    port, flow_info, address, scope_id
});
convert!(variant rc::sockets::network::IpSocketAddress, latest::sockets::network::IpSocketAddress {
    ; into Ipv4, Ipv6
});
convert!(variant rc::sockets::tcp::ShutdownType, latest::sockets::tcp::ShutdownType {
    Receive, Send, Both
});
convert!(record rc::sockets::udp::IncomingDatagram, latest::sockets::udp::IncomingDatagram {
    data, remote_address
});
convert!(record rc::sockets::udp::OutgoingDatagram, latest::sockets::udp::OutgoingDatagram {
    data; opt remote_address
});

convert!(variant rc::http::types::Method, latest_http::types::Method {
    Get, Head, Post, Put, Delete, Connect, Options, Trace, Patch; into Other
});
convert!(variant rc::http::types::Scheme, latest_http::types::Scheme {
    Http, Https; into Other
});
convert!(variant rc::http::types::HeaderError, latest_http::types::HeaderError {
    InvalidSyntax, Forbidden, Immutable
});
convert!(record rc::http::types::DnsErrorPayload, latest_http::types::DnsErrorPayload {
    rcode, info_code
});
convert!(record rc::http::types::TlsAlertReceivedPayload, latest_http::types::TlsAlertReceivedPayload {
    alert_id, alert_message
});
convert!(record rc::http::types::FieldSizePayload, latest_http::types::FieldSizePayload {
    field_name, field_size
});
convert!(variant rc::http::types::ErrorCode, latest_http::types::ErrorCode {
    DnsTimeout, DestinationNotFound, DestinationUnavailable, DestinationIpProhibited,
    DestinationIpUnroutable, ConnectionRefused, ConnectionTerminated, ConnectionTimeout,
    ConnectionReadTimeout, ConnectionWriteTimeout, ConnectionLimitReached, TlsProtocolError,
    TlsCertificateError, HttpRequestDenied, HttpRequestLengthRequired, HttpRequestMethodInvalid,
    HttpRequestUriInvalid, HttpRequestUriTooLong, HttpResponseIncomplete, HttpResponseTimeout,
    HttpUpgradeFailed, HttpProtocolError, LoopDetected, ConfigurationError;
    into DnsError, TlsAlertReceived, HttpRequestBodySize, HttpRequestHeaderSectionSize,
        HttpRequestTrailerSectionSize, HttpRequestTrailerSize, HttpResponseHeaderSectionSize,
        HttpResponseHeaderSize, HttpResponseBodySize, HttpResponseTrailerSectionSize,
        HttpResponseTrailerSize, HttpResponseTransferCoding, HttpResponseContentCoding,
        InternalError;
    opt HttpRequestHeaderSize
});

// ---------------------------------------------------------------------------------------------
// wasi:io
// ---------------------------------------------------------------------------------------------

impl rc::io::error::Host for ResourceTable {}

impl rc::io::error::HostError for ResourceTable {
    fn to_debug_string(&mut self, err: Resource<IoError>) -> wasmtime::Result<String> {
        latest::io::error::HostError::to_debug_string(self, err)
    }

    fn drop(&mut self, err: Resource<IoError>) -> wasmtime::Result<()> {
        latest::io::error::HostError::drop(self, err)
    }
}

impl rc::io::poll::Host for ResourceTable {
    async fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        latest::io::poll::Host::poll(self, pollables).await
    }
}

impl rc::io::poll::HostPollable for ResourceTable {
    async fn ready(&mut self, p: Resource<DynPollable>) -> wasmtime::Result<bool> {
        latest::io::poll::HostPollable::ready(self, p).await
    }

    async fn block(&mut self, p: Resource<DynPollable>) -> wasmtime::Result<()> {
        latest::io::poll::HostPollable::block(self, p).await
    }

    fn drop(&mut self, p: Resource<DynPollable>) -> wasmtime::Result<()> {
        latest::io::poll::HostPollable::drop(self, p)
    }
}

impl rc::io::streams::Host for ResourceTable {
    fn convert_stream_error(
        &mut self,
        err: wasmtime_wasi::p2::StreamError,
    ) -> wasmtime::Result<rc::io::streams::StreamError> {
        use rc::io::streams::StreamError;
        Ok(
            match latest::io::streams::Host::convert_stream_error(self, err)? {
                latest::io::streams::StreamError::LastOperationFailed(e) => {
                    StreamError::LastOperationFailed(e)
                }
                latest::io::streams::StreamError::Closed => StreamError::Closed,
            },
        )
    }
}

impl rc::io::streams::HostInputStream for ResourceTable {
    fn read(&mut self, s: Resource<DynInputStream>, len: u64) -> StreamResult<Vec<u8>> {
        latest::io::streams::HostInputStream::read(self, s, len)
    }

    async fn blocking_read(
        &mut self,
        s: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<Vec<u8>> {
        latest::io::streams::HostInputStream::blocking_read(self, s, len).await
    }

    fn skip(&mut self, s: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        latest::io::streams::HostInputStream::skip(self, s, len)
    }

    async fn blocking_skip(&mut self, s: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        latest::io::streams::HostInputStream::blocking_skip(self, s, len).await
    }

    fn subscribe(
        &mut self,
        s: Resource<DynInputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        latest::io::streams::HostInputStream::subscribe(self, s)
    }

    async fn drop(&mut self, s: Resource<DynInputStream>) -> wasmtime::Result<()> {
        latest::io::streams::HostInputStream::drop(self, s).await
    }
}

impl rc::io::streams::HostOutputStream for ResourceTable {
    fn check_write(&mut self, s: Resource<DynOutputStream>) -> StreamResult<u64> {
        latest::io::streams::HostOutputStream::check_write(self, s)
    }

    fn write(&mut self, s: Resource<DynOutputStream>, contents: Vec<u8>) -> StreamResult<()> {
        latest::io::streams::HostOutputStream::write(self, s, contents)
    }

    async fn blocking_write_and_flush(
        &mut self,
        s: Resource<DynOutputStream>,
        contents: Vec<u8>,
    ) -> StreamResult<()> {
        latest::io::streams::HostOutputStream::blocking_write_and_flush(self, s, contents).await
    }

    fn flush(&mut self, s: Resource<DynOutputStream>) -> StreamResult<()> {
        latest::io::streams::HostOutputStream::flush(self, s)
    }

    async fn blocking_flush(&mut self, s: Resource<DynOutputStream>) -> StreamResult<()> {
        latest::io::streams::HostOutputStream::blocking_flush(self, s).await
    }

    fn subscribe(
        &mut self,
        s: Resource<DynOutputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        latest::io::streams::HostOutputStream::subscribe(self, s)
    }

    fn write_zeroes(&mut self, s: Resource<DynOutputStream>, len: u64) -> StreamResult<()> {
        latest::io::streams::HostOutputStream::write_zeroes(self, s, len)
    }

    async fn blocking_write_zeroes_and_flush(
        &mut self,
        s: Resource<DynOutputStream>,
        len: u64,
    ) -> StreamResult<()> {
        latest::io::streams::HostOutputStream::blocking_write_zeroes_and_flush(self, s, len).await
    }

    fn splice(
        &mut self,
        s: Resource<DynOutputStream>,
        src: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        latest::io::streams::HostOutputStream::splice(self, s, src, len)
    }

    async fn blocking_splice(
        &mut self,
        s: Resource<DynOutputStream>,
        src: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        latest::io::streams::HostOutputStream::blocking_splice(self, s, src, len).await
    }

    async fn drop(&mut self, s: Resource<DynOutputStream>) -> wasmtime::Result<()> {
        latest::io::streams::HostOutputStream::drop(self, s).await
    }
}

// ---------------------------------------------------------------------------------------------
// wasi:clocks, wasi:random
// ---------------------------------------------------------------------------------------------

impl rc::clocks::wall_clock::Host for WasiClocksCtxView<'_> {
    fn now(&mut self) -> wasmtime::Result<rc::clocks::wall_clock::Datetime> {
        Ok(latest::clocks::wall_clock::Host::now(self)?.into())
    }

    fn resolution(&mut self) -> wasmtime::Result<rc::clocks::wall_clock::Datetime> {
        Ok(latest::clocks::wall_clock::Host::resolution(self)?.into())
    }
}

impl rc::clocks::monotonic_clock::Host for WasiClocksCtxView<'_> {
    fn now(&mut self) -> wasmtime::Result<u64> {
        latest::clocks::monotonic_clock::Host::now(self)
    }

    fn resolution(&mut self) -> wasmtime::Result<u64> {
        latest::clocks::monotonic_clock::Host::resolution(self)
    }

    fn subscribe_instant(&mut self, when: u64) -> wasmtime::Result<Resource<DynPollable>> {
        latest::clocks::monotonic_clock::Host::subscribe_instant(self, when)
    }

    fn subscribe_duration(&mut self, when: u64) -> wasmtime::Result<Resource<DynPollable>> {
        latest::clocks::monotonic_clock::Host::subscribe_duration(self, when)
    }
}

impl rc::random::random::Host for WasiRandomCtx {
    fn get_random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
        latest::random::random::Host::get_random_bytes(self, len)
    }

    fn get_random_u64(&mut self) -> wasmtime::Result<u64> {
        latest::random::random::Host::get_random_u64(self)
    }
}

impl rc::random::insecure::Host for WasiRandomCtx {
    fn get_insecure_random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
        latest::random::insecure::Host::get_insecure_random_bytes(self, len)
    }

    fn get_insecure_random_u64(&mut self) -> wasmtime::Result<u64> {
        latest::random::insecure::Host::get_insecure_random_u64(self)
    }
}

impl rc::random::insecure_seed::Host for WasiRandomCtx {
    fn insecure_seed(&mut self) -> wasmtime::Result<(u64, u64)> {
        latest::random::insecure_seed::Host::insecure_seed(self)
    }
}

// ---------------------------------------------------------------------------------------------
// wasi:cli
// ---------------------------------------------------------------------------------------------

impl rc::cli::environment::Host for WasiCliCtxView<'_> {
    fn get_environment(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        latest::cli::environment::Host::get_environment(self)
    }

    fn get_arguments(&mut self) -> wasmtime::Result<Vec<String>> {
        latest::cli::environment::Host::get_arguments(self)
    }

    fn initial_cwd(&mut self) -> wasmtime::Result<Option<String>> {
        latest::cli::environment::Host::initial_cwd(self)
    }
}

impl rc::cli::exit::Host for WasiCliCtxView<'_> {
    fn exit(&mut self, status: Result<(), ()>) -> wasmtime::Result<()> {
        latest::cli::exit::Host::exit(self, status)
    }
}

impl rc::cli::stdin::Host for WasiCliCtxView<'_> {
    fn get_stdin(&mut self) -> wasmtime::Result<Resource<DynInputStream>> {
        latest::cli::stdin::Host::get_stdin(self)
    }
}

impl rc::cli::stdout::Host for WasiCliCtxView<'_> {
    fn get_stdout(&mut self) -> wasmtime::Result<Resource<DynOutputStream>> {
        latest::cli::stdout::Host::get_stdout(self)
    }
}

impl rc::cli::stderr::Host for WasiCliCtxView<'_> {
    fn get_stderr(&mut self) -> wasmtime::Result<Resource<DynOutputStream>> {
        latest::cli::stderr::Host::get_stderr(self)
    }
}

use rc::cli::terminal_input::TerminalInput;
use rc::cli::terminal_output::TerminalOutput;

impl rc::cli::terminal_input::Host for WasiCliCtxView<'_> {}

impl rc::cli::terminal_input::HostTerminalInput for WasiCliCtxView<'_> {
    fn drop(&mut self, t: Resource<TerminalInput>) -> wasmtime::Result<()> {
        latest::cli::terminal_input::HostTerminalInput::drop(self, t)
    }
}

impl rc::cli::terminal_output::Host for WasiCliCtxView<'_> {}

impl rc::cli::terminal_output::HostTerminalOutput for WasiCliCtxView<'_> {
    fn drop(&mut self, t: Resource<TerminalOutput>) -> wasmtime::Result<()> {
        latest::cli::terminal_output::HostTerminalOutput::drop(self, t)
    }
}

impl rc::cli::terminal_stdin::Host for WasiCliCtxView<'_> {
    fn get_terminal_stdin(&mut self) -> wasmtime::Result<Option<Resource<TerminalInput>>> {
        latest::cli::terminal_stdin::Host::get_terminal_stdin(self)
    }
}

impl rc::cli::terminal_stdout::Host for WasiCliCtxView<'_> {
    fn get_terminal_stdout(&mut self) -> wasmtime::Result<Option<Resource<TerminalOutput>>> {
        latest::cli::terminal_stdout::Host::get_terminal_stdout(self)
    }
}

impl rc::cli::terminal_stderr::Host for WasiCliCtxView<'_> {
    fn get_terminal_stderr(&mut self) -> wasmtime::Result<Option<Resource<TerminalOutput>>> {
        latest::cli::terminal_stderr::Host::get_terminal_stderr(self)
    }
}

// ---------------------------------------------------------------------------------------------
// wasi:filesystem
// ---------------------------------------------------------------------------------------------

use latest::filesystem::types::{
    HostDescriptor as LatestDescriptor, HostDirectoryEntryStream as LatestDirectoryEntryStream,
};
use rc::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorStat, DescriptorType, DirectoryEntry,
    DirectoryEntryStream, MetadataHashValue, NewTimestamp, OpenFlags, PathFlags,
};

impl rc::filesystem::types::Host for WasiFilesystemCtxView<'_> {
    fn filesystem_error_code(
        &mut self,
        err: Resource<IoError>,
    ) -> wasmtime::Result<Option<rc::filesystem::types::ErrorCode>> {
        Ok(latest::filesystem::types::Host::filesystem_error_code(self, err)?.map(Into::into))
    }

    fn convert_error_code(
        &mut self,
        err: wasmtime_wasi::p2::FsError,
    ) -> wasmtime::Result<rc::filesystem::types::ErrorCode> {
        Ok(latest::filesystem::types::Host::convert_error_code(self, err)?.into())
    }
}

impl rc::filesystem::types::HostDescriptor for WasiFilesystemCtxView<'_> {
    fn read_via_stream(
        &mut self,
        d: Resource<Descriptor>,
        offset: u64,
    ) -> FsResult<Resource<DynInputStream>> {
        LatestDescriptor::read_via_stream(self, d, offset)
    }

    fn write_via_stream(
        &mut self,
        d: Resource<Descriptor>,
        offset: u64,
    ) -> FsResult<Resource<DynOutputStream>> {
        LatestDescriptor::write_via_stream(self, d, offset)
    }

    fn append_via_stream(
        &mut self,
        d: Resource<Descriptor>,
    ) -> FsResult<Resource<DynOutputStream>> {
        LatestDescriptor::append_via_stream(self, d)
    }

    async fn advise(
        &mut self,
        d: Resource<Descriptor>,
        offset: u64,
        length: u64,
        advice: rc::filesystem::types::Advice,
    ) -> FsResult<()> {
        LatestDescriptor::advise(self, d, offset, length, advice.into()).await
    }

    async fn sync_data(&mut self, d: Resource<Descriptor>) -> FsResult<()> {
        LatestDescriptor::sync_data(self, d).await
    }

    async fn get_flags(&mut self, d: Resource<Descriptor>) -> FsResult<DescriptorFlags> {
        Ok(LatestDescriptor::get_flags(self, d).await?.into())
    }

    async fn get_type(&mut self, d: Resource<Descriptor>) -> FsResult<DescriptorType> {
        Ok(LatestDescriptor::get_type(self, d).await?.into())
    }

    async fn set_size(&mut self, d: Resource<Descriptor>, size: u64) -> FsResult<()> {
        LatestDescriptor::set_size(self, d, size).await
    }

    async fn set_times(
        &mut self,
        d: Resource<Descriptor>,
        atime: NewTimestamp,
        mtime: NewTimestamp,
    ) -> FsResult<()> {
        LatestDescriptor::set_times(self, d, atime.into(), mtime.into()).await
    }

    async fn read(
        &mut self,
        d: Resource<Descriptor>,
        length: u64,
        offset: u64,
    ) -> FsResult<(Vec<u8>, bool)> {
        LatestDescriptor::read(self, d, length, offset).await
    }

    async fn write(
        &mut self,
        d: Resource<Descriptor>,
        buffer: Vec<u8>,
        offset: u64,
    ) -> FsResult<u64> {
        LatestDescriptor::write(self, d, buffer, offset).await
    }

    async fn read_directory(
        &mut self,
        d: Resource<Descriptor>,
    ) -> FsResult<Resource<DirectoryEntryStream>> {
        LatestDescriptor::read_directory(self, d).await
    }

    async fn sync(&mut self, d: Resource<Descriptor>) -> FsResult<()> {
        LatestDescriptor::sync(self, d).await
    }

    async fn create_directory_at(&mut self, d: Resource<Descriptor>, path: String) -> FsResult<()> {
        LatestDescriptor::create_directory_at(self, d, path).await
    }

    async fn stat(&mut self, d: Resource<Descriptor>) -> FsResult<DescriptorStat> {
        Ok(LatestDescriptor::stat(self, d).await?.into())
    }

    async fn stat_at(
        &mut self,
        d: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
    ) -> FsResult<DescriptorStat> {
        Ok(LatestDescriptor::stat_at(self, d, path_flags.into(), path)
            .await?
            .into())
    }

    async fn set_times_at(
        &mut self,
        d: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
        atime: NewTimestamp,
        mtime: NewTimestamp,
    ) -> FsResult<()> {
        LatestDescriptor::set_times_at(self, d, path_flags.into(), path, atime.into(), mtime.into())
            .await
    }

    async fn link_at(
        &mut self,
        d: Resource<Descriptor>,
        old_path_flags: PathFlags,
        old_path: String,
        new_descriptor: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        LatestDescriptor::link_at(
            self,
            d,
            old_path_flags.into(),
            old_path,
            new_descriptor,
            new_path,
        )
        .await
    }

    async fn open_at(
        &mut self,
        d: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
        open_flags: OpenFlags,
        flags: DescriptorFlags,
    ) -> FsResult<Resource<Descriptor>> {
        LatestDescriptor::open_at(
            self,
            d,
            path_flags.into(),
            path,
            open_flags.into(),
            flags.into(),
        )
        .await
    }

    async fn readlink_at(&mut self, d: Resource<Descriptor>, path: String) -> FsResult<String> {
        LatestDescriptor::readlink_at(self, d, path).await
    }

    async fn remove_directory_at(&mut self, d: Resource<Descriptor>, path: String) -> FsResult<()> {
        LatestDescriptor::remove_directory_at(self, d, path).await
    }

    async fn rename_at(
        &mut self,
        d: Resource<Descriptor>,
        old_path: String,
        new_descriptor: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        LatestDescriptor::rename_at(self, d, old_path, new_descriptor, new_path).await
    }

    async fn symlink_at(
        &mut self,
        d: Resource<Descriptor>,
        old_path: String,
        new_path: String,
    ) -> FsResult<()> {
        LatestDescriptor::symlink_at(self, d, old_path, new_path).await
    }

    async fn unlink_file_at(&mut self, d: Resource<Descriptor>, path: String) -> FsResult<()> {
        LatestDescriptor::unlink_file_at(self, d, path).await
    }

    async fn is_same_object(
        &mut self,
        d: Resource<Descriptor>,
        other: Resource<Descriptor>,
    ) -> wasmtime::Result<bool> {
        LatestDescriptor::is_same_object(self, d, other).await
    }

    async fn metadata_hash(&mut self, d: Resource<Descriptor>) -> FsResult<MetadataHashValue> {
        Ok(LatestDescriptor::metadata_hash(self, d).await?.into())
    }

    async fn metadata_hash_at(
        &mut self,
        d: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
    ) -> FsResult<MetadataHashValue> {
        Ok(
            LatestDescriptor::metadata_hash_at(self, d, path_flags.into(), path)
                .await?
                .into(),
        )
    }

    fn drop(&mut self, d: Resource<Descriptor>) -> wasmtime::Result<()> {
        LatestDescriptor::drop(self, d)
    }
}

impl rc::filesystem::types::HostDirectoryEntryStream for WasiFilesystemCtxView<'_> {
    async fn read_directory_entry(
        &mut self,
        s: Resource<DirectoryEntryStream>,
    ) -> FsResult<Option<DirectoryEntry>> {
        Ok(LatestDirectoryEntryStream::read_directory_entry(self, s)
            .await?
            .map(Into::into))
    }

    fn drop(&mut self, s: Resource<DirectoryEntryStream>) -> wasmtime::Result<()> {
        LatestDirectoryEntryStream::drop(self, s)
    }
}

impl rc::filesystem::preopens::Host for WasiFilesystemCtxView<'_> {
    fn get_directories(&mut self) -> wasmtime::Result<Vec<(Resource<Descriptor>, String)>> {
        latest::filesystem::preopens::Host::get_directories(self)
    }
}

// ---------------------------------------------------------------------------------------------
// wasi:sockets
// ---------------------------------------------------------------------------------------------

use latest::sockets::ip_name_lookup::HostResolveAddressStream as LatestResolveAddressStream;
use latest::sockets::tcp::HostTcpSocket as LatestTcpSocket;
use latest::sockets::udp::{
    HostIncomingDatagramStream as LatestIncomingDatagramStream,
    HostOutgoingDatagramStream as LatestOutgoingDatagramStream, HostUdpSocket as LatestUdpSocket,
};
use rc::sockets::ip_name_lookup::ResolveAddressStream;
use rc::sockets::network::{IpAddress, IpAddressFamily, IpSocketAddress, Network};
use rc::sockets::tcp::{ShutdownType, TcpSocket};
use rc::sockets::udp::{
    IncomingDatagram, IncomingDatagramStream, OutgoingDatagram, OutgoingDatagramStream, UdpSocket,
};

/// `ipv6-only` was dropped before 0.2.0; wasmtime 48 has no such option to forward to.
fn ipv6_only_not_supported<T>() -> SocketResult<T> {
    Err(latest::sockets::network::ErrorCode::NotSupported.into())
}

impl rc::sockets::network::Host for WasiSocketsCtxView<'_> {
    fn convert_error_code(
        &mut self,
        err: wasmtime_wasi::p2::SocketError,
    ) -> wasmtime::Result<rc::sockets::network::ErrorCode> {
        Ok(latest::sockets::network::Host::convert_error_code(self, err)?.into())
    }
}

impl rc::sockets::network::HostNetwork for WasiSocketsCtxView<'_> {
    fn drop(&mut self, n: Resource<Network>) -> wasmtime::Result<()> {
        latest::sockets::network::HostNetwork::drop(self, n)
    }
}

impl rc::sockets::instance_network::Host for WasiSocketsCtxView<'_> {
    fn instance_network(&mut self) -> wasmtime::Result<Resource<Network>> {
        latest::sockets::instance_network::Host::instance_network(self)
    }
}

impl rc::sockets::ip_name_lookup::Host for WasiSocketsCtxView<'_> {
    fn resolve_addresses(
        &mut self,
        network: Resource<Network>,
        name: String,
    ) -> SocketResult<Resource<ResolveAddressStream>> {
        latest::sockets::ip_name_lookup::Host::resolve_addresses(self, network, name)
    }
}

impl rc::sockets::ip_name_lookup::HostResolveAddressStream for WasiSocketsCtxView<'_> {
    fn resolve_next_address(
        &mut self,
        s: Resource<ResolveAddressStream>,
    ) -> SocketResult<Option<IpAddress>> {
        Ok(LatestResolveAddressStream::resolve_next_address(self, s)?.map(Into::into))
    }

    fn subscribe(
        &mut self,
        s: Resource<ResolveAddressStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        LatestResolveAddressStream::subscribe(self, s)
    }

    fn drop(&mut self, s: Resource<ResolveAddressStream>) -> wasmtime::Result<()> {
        LatestResolveAddressStream::drop(self, s)
    }
}

impl rc::sockets::tcp_create_socket::Host for WasiSocketsCtxView<'_> {
    fn create_tcp_socket(&mut self, family: IpAddressFamily) -> SocketResult<Resource<TcpSocket>> {
        latest::sockets::tcp_create_socket::Host::create_tcp_socket(self, family.into())
    }
}

impl rc::sockets::tcp::Host for WasiSocketsCtxView<'_> {}

impl rc::sockets::tcp::HostTcpSocket for WasiSocketsCtxView<'_> {
    async fn start_bind(
        &mut self,
        s: Resource<TcpSocket>,
        network: Resource<Network>,
        local_address: IpSocketAddress,
    ) -> SocketResult<()> {
        LatestTcpSocket::start_bind(self, s, network, local_address.into()).await
    }

    fn finish_bind(&mut self, s: Resource<TcpSocket>) -> SocketResult<()> {
        LatestTcpSocket::finish_bind(self, s)
    }

    fn start_connect(
        &mut self,
        s: Resource<TcpSocket>,
        network: Resource<Network>,
        remote_address: IpSocketAddress,
    ) -> SocketResult<()> {
        LatestTcpSocket::start_connect(self, s, network, remote_address.into())
    }

    fn finish_connect(
        &mut self,
        s: Resource<TcpSocket>,
    ) -> SocketResult<(Resource<DynInputStream>, Resource<DynOutputStream>)> {
        LatestTcpSocket::finish_connect(self, s)
    }

    async fn start_listen(&mut self, s: Resource<TcpSocket>) -> SocketResult<()> {
        LatestTcpSocket::start_listen(self, s).await
    }

    fn finish_listen(&mut self, s: Resource<TcpSocket>) -> SocketResult<()> {
        LatestTcpSocket::finish_listen(self, s)
    }

    fn accept(
        &mut self,
        s: Resource<TcpSocket>,
    ) -> SocketResult<(
        Resource<TcpSocket>,
        Resource<DynInputStream>,
        Resource<DynOutputStream>,
    )> {
        LatestTcpSocket::accept(self, s)
    }

    fn local_address(&mut self, s: Resource<TcpSocket>) -> SocketResult<IpSocketAddress> {
        Ok(LatestTcpSocket::local_address(self, s)?.into())
    }

    fn remote_address(&mut self, s: Resource<TcpSocket>) -> SocketResult<IpSocketAddress> {
        Ok(LatestTcpSocket::remote_address(self, s)?.into())
    }

    fn is_listening(&mut self, s: Resource<TcpSocket>) -> wasmtime::Result<bool> {
        LatestTcpSocket::is_listening(self, s)
    }

    fn address_family(&mut self, s: Resource<TcpSocket>) -> wasmtime::Result<IpAddressFamily> {
        Ok(LatestTcpSocket::address_family(self, s)?.into())
    }

    fn ipv6_only(&mut self, _: Resource<TcpSocket>) -> SocketResult<bool> {
        ipv6_only_not_supported()
    }

    fn set_ipv6_only(&mut self, _: Resource<TcpSocket>, _: bool) -> SocketResult<()> {
        ipv6_only_not_supported()
    }

    fn set_listen_backlog_size(&mut self, s: Resource<TcpSocket>, value: u64) -> SocketResult<()> {
        LatestTcpSocket::set_listen_backlog_size(self, s, value)
    }

    fn keep_alive_enabled(&mut self, s: Resource<TcpSocket>) -> SocketResult<bool> {
        LatestTcpSocket::keep_alive_enabled(self, s)
    }

    fn set_keep_alive_enabled(&mut self, s: Resource<TcpSocket>, value: bool) -> SocketResult<()> {
        LatestTcpSocket::set_keep_alive_enabled(self, s, value)
    }

    fn keep_alive_idle_time(&mut self, s: Resource<TcpSocket>) -> SocketResult<u64> {
        LatestTcpSocket::keep_alive_idle_time(self, s)
    }

    fn set_keep_alive_idle_time(&mut self, s: Resource<TcpSocket>, value: u64) -> SocketResult<()> {
        LatestTcpSocket::set_keep_alive_idle_time(self, s, value)
    }

    fn keep_alive_interval(&mut self, s: Resource<TcpSocket>) -> SocketResult<u64> {
        LatestTcpSocket::keep_alive_interval(self, s)
    }

    fn set_keep_alive_interval(&mut self, s: Resource<TcpSocket>, value: u64) -> SocketResult<()> {
        LatestTcpSocket::set_keep_alive_interval(self, s, value)
    }

    fn keep_alive_count(&mut self, s: Resource<TcpSocket>) -> SocketResult<u32> {
        LatestTcpSocket::keep_alive_count(self, s)
    }

    fn set_keep_alive_count(&mut self, s: Resource<TcpSocket>, value: u32) -> SocketResult<()> {
        LatestTcpSocket::set_keep_alive_count(self, s, value)
    }

    fn hop_limit(&mut self, s: Resource<TcpSocket>) -> SocketResult<u8> {
        LatestTcpSocket::hop_limit(self, s)
    }

    fn set_hop_limit(&mut self, s: Resource<TcpSocket>, value: u8) -> SocketResult<()> {
        LatestTcpSocket::set_hop_limit(self, s, value)
    }

    fn receive_buffer_size(&mut self, s: Resource<TcpSocket>) -> SocketResult<u64> {
        LatestTcpSocket::receive_buffer_size(self, s)
    }

    fn set_receive_buffer_size(&mut self, s: Resource<TcpSocket>, value: u64) -> SocketResult<()> {
        LatestTcpSocket::set_receive_buffer_size(self, s, value)
    }

    fn send_buffer_size(&mut self, s: Resource<TcpSocket>) -> SocketResult<u64> {
        LatestTcpSocket::send_buffer_size(self, s)
    }

    fn set_send_buffer_size(&mut self, s: Resource<TcpSocket>, value: u64) -> SocketResult<()> {
        LatestTcpSocket::set_send_buffer_size(self, s, value)
    }

    fn subscribe(&mut self, s: Resource<TcpSocket>) -> wasmtime::Result<Resource<DynPollable>> {
        LatestTcpSocket::subscribe(self, s)
    }

    fn shutdown(
        &mut self,
        s: Resource<TcpSocket>,
        shutdown_type: ShutdownType,
    ) -> SocketResult<()> {
        LatestTcpSocket::shutdown(self, s, shutdown_type.into())
    }

    fn drop(&mut self, s: Resource<TcpSocket>) -> wasmtime::Result<()> {
        LatestTcpSocket::drop(self, s)
    }
}

impl rc::sockets::udp_create_socket::Host for WasiSocketsCtxView<'_> {
    async fn create_udp_socket(
        &mut self,
        family: IpAddressFamily,
    ) -> SocketResult<Resource<UdpSocket>> {
        latest::sockets::udp_create_socket::Host::create_udp_socket(self, family.into()).await
    }
}

impl rc::sockets::udp::Host for WasiSocketsCtxView<'_> {}

impl rc::sockets::udp::HostUdpSocket for WasiSocketsCtxView<'_> {
    async fn start_bind(
        &mut self,
        s: Resource<UdpSocket>,
        network: Resource<Network>,
        local_address: IpSocketAddress,
    ) -> SocketResult<()> {
        LatestUdpSocket::start_bind(self, s, network, local_address.into()).await
    }

    fn finish_bind(&mut self, s: Resource<UdpSocket>) -> SocketResult<()> {
        LatestUdpSocket::finish_bind(self, s)
    }

    async fn stream(
        &mut self,
        s: Resource<UdpSocket>,
        remote_address: Option<IpSocketAddress>,
    ) -> SocketResult<(
        Resource<IncomingDatagramStream>,
        Resource<OutgoingDatagramStream>,
    )> {
        LatestUdpSocket::stream(self, s, remote_address.map(Into::into)).await
    }

    fn local_address(&mut self, s: Resource<UdpSocket>) -> SocketResult<IpSocketAddress> {
        Ok(LatestUdpSocket::local_address(self, s)?.into())
    }

    fn remote_address(&mut self, s: Resource<UdpSocket>) -> SocketResult<IpSocketAddress> {
        Ok(LatestUdpSocket::remote_address(self, s)?.into())
    }

    fn address_family(&mut self, s: Resource<UdpSocket>) -> wasmtime::Result<IpAddressFamily> {
        Ok(LatestUdpSocket::address_family(self, s)?.into())
    }

    fn ipv6_only(&mut self, _: Resource<UdpSocket>) -> SocketResult<bool> {
        ipv6_only_not_supported()
    }

    fn set_ipv6_only(&mut self, _: Resource<UdpSocket>, _: bool) -> SocketResult<()> {
        ipv6_only_not_supported()
    }

    fn unicast_hop_limit(&mut self, s: Resource<UdpSocket>) -> SocketResult<u8> {
        LatestUdpSocket::unicast_hop_limit(self, s)
    }

    fn set_unicast_hop_limit(&mut self, s: Resource<UdpSocket>, value: u8) -> SocketResult<()> {
        LatestUdpSocket::set_unicast_hop_limit(self, s, value)
    }

    fn receive_buffer_size(&mut self, s: Resource<UdpSocket>) -> SocketResult<u64> {
        LatestUdpSocket::receive_buffer_size(self, s)
    }

    fn set_receive_buffer_size(&mut self, s: Resource<UdpSocket>, value: u64) -> SocketResult<()> {
        LatestUdpSocket::set_receive_buffer_size(self, s, value)
    }

    fn send_buffer_size(&mut self, s: Resource<UdpSocket>) -> SocketResult<u64> {
        LatestUdpSocket::send_buffer_size(self, s)
    }

    fn set_send_buffer_size(&mut self, s: Resource<UdpSocket>, value: u64) -> SocketResult<()> {
        LatestUdpSocket::set_send_buffer_size(self, s, value)
    }

    fn subscribe(&mut self, s: Resource<UdpSocket>) -> wasmtime::Result<Resource<DynPollable>> {
        LatestUdpSocket::subscribe(self, s)
    }

    fn drop(&mut self, s: Resource<UdpSocket>) -> wasmtime::Result<()> {
        LatestUdpSocket::drop(self, s)
    }
}

impl rc::sockets::udp::HostIncomingDatagramStream for WasiSocketsCtxView<'_> {
    fn receive(
        &mut self,
        s: Resource<IncomingDatagramStream>,
        max_results: u64,
    ) -> SocketResult<Vec<IncomingDatagram>> {
        let datagrams = LatestIncomingDatagramStream::receive(self, s, max_results)?;
        Ok(datagrams.into_iter().map(Into::into).collect())
    }

    fn subscribe(
        &mut self,
        s: Resource<IncomingDatagramStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        LatestIncomingDatagramStream::subscribe(self, s)
    }

    fn drop(&mut self, s: Resource<IncomingDatagramStream>) -> wasmtime::Result<()> {
        LatestIncomingDatagramStream::drop(self, s)
    }
}

impl rc::sockets::udp::HostOutgoingDatagramStream for WasiSocketsCtxView<'_> {
    fn check_send(&mut self, s: Resource<OutgoingDatagramStream>) -> SocketResult<u64> {
        LatestOutgoingDatagramStream::check_send(self, s)
    }

    fn send(
        &mut self,
        s: Resource<OutgoingDatagramStream>,
        datagrams: Vec<OutgoingDatagram>,
    ) -> SocketResult<u64> {
        let datagrams = datagrams.into_iter().map(Into::into).collect();
        LatestOutgoingDatagramStream::send(self, s, datagrams)
    }

    fn subscribe(
        &mut self,
        s: Resource<OutgoingDatagramStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        LatestOutgoingDatagramStream::subscribe(self, s)
    }

    async fn drop(&mut self, s: Resource<OutgoingDatagramStream>) -> wasmtime::Result<()> {
        LatestOutgoingDatagramStream::drop(self, s).await
    }
}

// ---------------------------------------------------------------------------------------------
// wasi:http
// ---------------------------------------------------------------------------------------------

use latest_http::types::{
    HostFields as LatestFields, HostFutureIncomingResponse as LatestFutureIncomingResponse,
    HostFutureTrailers as LatestFutureTrailers, HostIncomingBody as LatestIncomingBody,
    HostIncomingRequest as LatestIncomingRequest, HostIncomingResponse as LatestIncomingResponse,
    HostOutgoingBody as LatestOutgoingBody, HostOutgoingRequest as LatestOutgoingRequest,
    HostOutgoingResponse as LatestOutgoingResponse, HostRequestOptions as LatestRequestOptions,
    HostResponseOutparam as LatestResponseOutparam,
};
use rc::http::types::{
    ErrorCode as HttpErrorCode, Fields, FutureIncomingResponse, FutureTrailers, IncomingBody,
    IncomingRequest, IncomingResponse, Method, OutgoingBody, OutgoingRequest, OutgoingResponse,
    RequestOptions, ResponseOutparam, Scheme,
};

impl rc::http::types::Host for WasiHttpCtxView<'_> {
    fn http_error_code(
        &mut self,
        err: Resource<IoError>,
    ) -> wasmtime::Result<Option<HttpErrorCode>> {
        Ok(latest_http::types::Host::http_error_code(self, err)?.map(Into::into))
    }

    fn convert_error_code(
        &mut self,
        err: wasmtime_wasi_http::p2::HttpError,
    ) -> wasmtime::Result<HttpErrorCode> {
        Ok(err.downcast()?.into())
    }

    fn convert_header_error(
        &mut self,
        err: wasmtime_wasi_http::p2::HeaderError,
    ) -> wasmtime::Result<rc::http::types::HeaderError> {
        Ok(err.downcast()?.into())
    }
}

impl rc::http::types::HostFields for WasiHttpCtxView<'_> {
    fn new(&mut self) -> wasmtime::Result<Resource<Fields>> {
        LatestFields::new(self)
    }

    fn from_list(&mut self, entries: Vec<(String, Vec<u8>)>) -> HeaderResult<Resource<Fields>> {
        LatestFields::from_list(self, entries)
    }

    fn get(&mut self, f: Resource<Fields>, name: String) -> wasmtime::Result<Vec<Vec<u8>>> {
        LatestFields::get(self, f, name)
    }

    fn set(&mut self, f: Resource<Fields>, name: String, values: Vec<Vec<u8>>) -> HeaderResult<()> {
        LatestFields::set(self, f, name, values)
    }

    fn delete(&mut self, f: Resource<Fields>, name: String) -> HeaderResult<()> {
        LatestFields::delete(self, f, name)
    }

    fn append(&mut self, f: Resource<Fields>, name: String, value: Vec<u8>) -> HeaderResult<()> {
        LatestFields::append(self, f, name, value)
    }

    fn entries(&mut self, f: Resource<Fields>) -> wasmtime::Result<Vec<(String, Vec<u8>)>> {
        LatestFields::entries(self, f)
    }

    fn clone(&mut self, f: Resource<Fields>) -> wasmtime::Result<Resource<Fields>> {
        LatestFields::clone(self, f)
    }

    fn drop(&mut self, f: Resource<Fields>) -> wasmtime::Result<()> {
        LatestFields::drop(self, f)
    }
}

impl rc::http::types::HostIncomingRequest for WasiHttpCtxView<'_> {
    fn method(&mut self, r: Resource<IncomingRequest>) -> wasmtime::Result<Method> {
        Ok(LatestIncomingRequest::method(self, r)?.into())
    }

    fn path_with_query(
        &mut self,
        r: Resource<IncomingRequest>,
    ) -> wasmtime::Result<Option<String>> {
        LatestIncomingRequest::path_with_query(self, r)
    }

    fn scheme(&mut self, r: Resource<IncomingRequest>) -> wasmtime::Result<Option<Scheme>> {
        Ok(LatestIncomingRequest::scheme(self, r)?.map(Into::into))
    }

    fn authority(&mut self, r: Resource<IncomingRequest>) -> wasmtime::Result<Option<String>> {
        LatestIncomingRequest::authority(self, r)
    }

    fn headers(&mut self, r: Resource<IncomingRequest>) -> wasmtime::Result<Resource<Fields>> {
        LatestIncomingRequest::headers(self, r)
    }

    fn consume(
        &mut self,
        r: Resource<IncomingRequest>,
    ) -> wasmtime::Result<Result<Resource<IncomingBody>, ()>> {
        LatestIncomingRequest::consume(self, r)
    }

    fn drop(&mut self, r: Resource<IncomingRequest>) -> wasmtime::Result<()> {
        LatestIncomingRequest::drop(self, r)
    }
}

impl rc::http::types::HostOutgoingRequest for WasiHttpCtxView<'_> {
    fn new(&mut self, headers: Resource<Fields>) -> wasmtime::Result<Resource<OutgoingRequest>> {
        LatestOutgoingRequest::new(self, headers)
    }

    fn body(
        &mut self,
        r: Resource<OutgoingRequest>,
    ) -> wasmtime::Result<Result<Resource<OutgoingBody>, ()>> {
        LatestOutgoingRequest::body(self, r)
    }

    fn method(&mut self, r: Resource<OutgoingRequest>) -> wasmtime::Result<Method> {
        Ok(LatestOutgoingRequest::method(self, r)?.into())
    }

    fn set_method(
        &mut self,
        r: Resource<OutgoingRequest>,
        method: Method,
    ) -> wasmtime::Result<Result<(), ()>> {
        LatestOutgoingRequest::set_method(self, r, method.into())
    }

    fn path_with_query(
        &mut self,
        r: Resource<OutgoingRequest>,
    ) -> wasmtime::Result<Option<String>> {
        LatestOutgoingRequest::path_with_query(self, r)
    }

    fn set_path_with_query(
        &mut self,
        r: Resource<OutgoingRequest>,
        path_with_query: Option<String>,
    ) -> wasmtime::Result<Result<(), ()>> {
        LatestOutgoingRequest::set_path_with_query(self, r, path_with_query)
    }

    fn scheme(&mut self, r: Resource<OutgoingRequest>) -> wasmtime::Result<Option<Scheme>> {
        Ok(LatestOutgoingRequest::scheme(self, r)?.map(Into::into))
    }

    fn set_scheme(
        &mut self,
        r: Resource<OutgoingRequest>,
        scheme: Option<Scheme>,
    ) -> wasmtime::Result<Result<(), ()>> {
        LatestOutgoingRequest::set_scheme(self, r, scheme.map(Into::into))
    }

    fn authority(&mut self, r: Resource<OutgoingRequest>) -> wasmtime::Result<Option<String>> {
        LatestOutgoingRequest::authority(self, r)
    }

    fn set_authority(
        &mut self,
        r: Resource<OutgoingRequest>,
        authority: Option<String>,
    ) -> wasmtime::Result<Result<(), ()>> {
        LatestOutgoingRequest::set_authority(self, r, authority)
    }

    fn headers(&mut self, r: Resource<OutgoingRequest>) -> wasmtime::Result<Resource<Fields>> {
        LatestOutgoingRequest::headers(self, r)
    }

    fn drop(&mut self, r: Resource<OutgoingRequest>) -> wasmtime::Result<()> {
        LatestOutgoingRequest::drop(self, r)
    }
}

/// The rc names end in `-ms`, but the type is the same `duration` (nanoseconds) as in 0.2; the
/// value is forwarded unchanged, as Spin does.
impl rc::http::types::HostRequestOptions for WasiHttpCtxView<'_> {
    fn new(&mut self) -> wasmtime::Result<Resource<RequestOptions>> {
        LatestRequestOptions::new(self)
    }

    fn connect_timeout_ms(&mut self, o: Resource<RequestOptions>) -> wasmtime::Result<Option<u64>> {
        LatestRequestOptions::connect_timeout(self, o)
    }

    fn set_connect_timeout_ms(
        &mut self,
        o: Resource<RequestOptions>,
        d: Option<u64>,
    ) -> wasmtime::Result<Result<(), ()>> {
        LatestRequestOptions::set_connect_timeout(self, o, d)
    }

    fn first_byte_timeout_ms(
        &mut self,
        o: Resource<RequestOptions>,
    ) -> wasmtime::Result<Option<u64>> {
        LatestRequestOptions::first_byte_timeout(self, o)
    }

    fn set_first_byte_timeout_ms(
        &mut self,
        o: Resource<RequestOptions>,
        d: Option<u64>,
    ) -> wasmtime::Result<Result<(), ()>> {
        LatestRequestOptions::set_first_byte_timeout(self, o, d)
    }

    fn between_bytes_timeout_ms(
        &mut self,
        o: Resource<RequestOptions>,
    ) -> wasmtime::Result<Option<u64>> {
        LatestRequestOptions::between_bytes_timeout(self, o)
    }

    fn set_between_bytes_timeout_ms(
        &mut self,
        o: Resource<RequestOptions>,
        d: Option<u64>,
    ) -> wasmtime::Result<Result<(), ()>> {
        LatestRequestOptions::set_between_bytes_timeout(self, o, d)
    }

    fn drop(&mut self, o: Resource<RequestOptions>) -> wasmtime::Result<()> {
        LatestRequestOptions::drop(self, o)
    }
}

impl rc::http::types::HostResponseOutparam for WasiHttpCtxView<'_> {
    fn set(
        &mut self,
        param: Resource<ResponseOutparam>,
        response: Result<Resource<OutgoingResponse>, HttpErrorCode>,
    ) -> wasmtime::Result<()> {
        LatestResponseOutparam::set(self, param, response.map_err(Into::into))
    }

    fn drop(&mut self, param: Resource<ResponseOutparam>) -> wasmtime::Result<()> {
        LatestResponseOutparam::drop(self, param)
    }
}

impl rc::http::types::HostIncomingResponse for WasiHttpCtxView<'_> {
    fn status(&mut self, r: Resource<IncomingResponse>) -> wasmtime::Result<u16> {
        LatestIncomingResponse::status(self, r)
    }

    fn headers(&mut self, r: Resource<IncomingResponse>) -> wasmtime::Result<Resource<Fields>> {
        LatestIncomingResponse::headers(self, r)
    }

    fn consume(
        &mut self,
        r: Resource<IncomingResponse>,
    ) -> wasmtime::Result<Result<Resource<IncomingBody>, ()>> {
        LatestIncomingResponse::consume(self, r)
    }

    fn drop(&mut self, r: Resource<IncomingResponse>) -> wasmtime::Result<()> {
        LatestIncomingResponse::drop(self, r)
    }
}

impl rc::http::types::HostIncomingBody for WasiHttpCtxView<'_> {
    fn stream(
        &mut self,
        b: Resource<IncomingBody>,
    ) -> wasmtime::Result<Result<Resource<DynInputStream>, ()>> {
        LatestIncomingBody::stream(self, b)
    }

    fn finish(&mut self, b: Resource<IncomingBody>) -> wasmtime::Result<Resource<FutureTrailers>> {
        LatestIncomingBody::finish(self, b)
    }

    fn drop(&mut self, b: Resource<IncomingBody>) -> wasmtime::Result<()> {
        LatestIncomingBody::drop(self, b)
    }
}

impl rc::http::types::HostFutureTrailers for WasiHttpCtxView<'_> {
    fn subscribe(
        &mut self,
        t: Resource<FutureTrailers>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        LatestFutureTrailers::subscribe(self, t)
    }

    /// 0.2 added an outer `result` for "already taken"; the rc guest cannot see that case, so it
    /// traps instead.
    fn get(
        &mut self,
        t: Resource<FutureTrailers>,
    ) -> wasmtime::Result<Option<Result<Option<Resource<Fields>>, HttpErrorCode>>> {
        match LatestFutureTrailers::get(self, t)? {
            None => Ok(None),
            Some(Ok(Ok(trailers))) => Ok(Some(Ok(trailers))),
            Some(Ok(Err(e))) => Ok(Some(Err(e.into()))),
            Some(Err(())) => wasmtime::bail!(
                "future-trailers.get called again after the trailers were already retrieved"
            ),
        }
    }

    fn drop(&mut self, t: Resource<FutureTrailers>) -> wasmtime::Result<()> {
        LatestFutureTrailers::drop(self, t)
    }
}

impl rc::http::types::HostOutgoingResponse for WasiHttpCtxView<'_> {
    /// As Spin does, the response is built from a copy of the guest's fields. The guest gave up
    /// its handle (the parameter is owned), so the original is dropped here rather than left in
    /// the table.
    fn new(&mut self, headers: Resource<Fields>) -> wasmtime::Result<Resource<OutgoingResponse>> {
        let copy = LatestFields::clone(self, Resource::new_borrow(headers.rep()))?;
        LatestFields::drop(self, headers)?;
        LatestOutgoingResponse::new(self, copy)
    }

    fn status_code(&mut self, r: Resource<OutgoingResponse>) -> wasmtime::Result<u16> {
        LatestOutgoingResponse::status_code(self, r)
    }

    fn set_status_code(
        &mut self,
        r: Resource<OutgoingResponse>,
        status: u16,
    ) -> wasmtime::Result<Result<(), ()>> {
        LatestOutgoingResponse::set_status_code(self, r, status)
    }

    fn headers(&mut self, r: Resource<OutgoingResponse>) -> wasmtime::Result<Resource<Fields>> {
        LatestOutgoingResponse::headers(self, r)
    }

    fn body(
        &mut self,
        r: Resource<OutgoingResponse>,
    ) -> wasmtime::Result<Result<Resource<OutgoingBody>, ()>> {
        LatestOutgoingResponse::body(self, r)
    }

    fn drop(&mut self, r: Resource<OutgoingResponse>) -> wasmtime::Result<()> {
        LatestOutgoingResponse::drop(self, r)
    }
}

impl rc::http::types::HostOutgoingBody for WasiHttpCtxView<'_> {
    fn write(
        &mut self,
        b: Resource<OutgoingBody>,
    ) -> wasmtime::Result<Result<Resource<DynOutputStream>, ()>> {
        LatestOutgoingBody::write(self, b)
    }

    fn finish(
        &mut self,
        b: Resource<OutgoingBody>,
        trailers: Option<Resource<Fields>>,
    ) -> HttpResult<()> {
        LatestOutgoingBody::finish(self, b, trailers)
    }

    fn drop(&mut self, b: Resource<OutgoingBody>) -> wasmtime::Result<()> {
        LatestOutgoingBody::drop(self, b)
    }
}

impl rc::http::types::HostFutureIncomingResponse for WasiHttpCtxView<'_> {
    fn subscribe(
        &mut self,
        f: Resource<FutureIncomingResponse>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        LatestFutureIncomingResponse::subscribe(self, f)
    }

    fn get(
        &mut self,
        f: Resource<FutureIncomingResponse>,
    ) -> wasmtime::Result<Option<Result<Result<Resource<IncomingResponse>, HttpErrorCode>, ()>>>
    {
        Ok(LatestFutureIncomingResponse::get(self, f)?.map(|r| r.map(|r| r.map_err(Into::into))))
    }

    fn drop(&mut self, f: Resource<FutureIncomingResponse>) -> wasmtime::Result<()> {
        LatestFutureIncomingResponse::drop(self, f)
    }
}

impl rc::http::outgoing_handler::Host for WasiHttpCtxView<'_> {
    fn handle(
        &mut self,
        request: Resource<OutgoingRequest>,
        options: Option<Resource<RequestOptions>>,
    ) -> HttpResult<Resource<FutureIncomingResponse>> {
        latest_http::outgoing_handler::Host::handle(self, request, options)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use bytes::Bytes;
    use http_body_util::{BodyExt as _, Empty};
    use spindle_manifest::locked::LockedApp;
    use wasmtime::component::Component;
    use wasmtime::UpdateDeadline;

    use super::*;
    use crate::capabilities::{AppCapabilities, CapabilityOptions};
    use crate::engine::{EngineOptions, SpindleEngine};
    use crate::sandbox::{InstanceTemplate, LogSinks};

    /// A componentize-py 0.7.1 guest (tests/guests/rc-2023-11-10/app.py).
    const GUEST: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/guests/rc-2023-11-10/app.wasm"
    );

    /// The engine as the app builds it (without pooling, to keep the test light) and the rc
    /// guest compiled once for all tests.
    fn engine_and_guest() -> &'static (SpindleEngine, Component) {
        static CELL: OnceLock<(SpindleEngine, Component)> = OnceLock::new();
        CELL.get_or_init(|| {
            let engine = SpindleEngine::new(EngineOptions {
                pooling: false,
                ..EngineOptions::default()
            })
            .unwrap();
            let bytes = std::fs::read(GUEST).unwrap_or_else(|e| {
                panic!("cannot read {GUEST}: {e}; run `bash .ci/build-guests.sh` to build it")
            });
            let component = Component::new(&engine.engine, bytes).unwrap();
            (engine, component)
        })
    }

    /// The interfaces `sandbox::host_linker` adds, plus the rc ones.
    fn linker(engine: &wasmtime::Engine) -> Linker<InstanceState> {
        let mut linker = crate::sandbox::host_linker(engine).unwrap();
        add_to_linker(&mut linker).unwrap();
        linker
    }

    /// A sandbox for a component `rc` with no grants, as the app makes one.
    fn sandbox(state_dir: &std::path::Path) -> InstanceTemplate {
        let locked = serde_json::json!({
            "spin_lock_version": 1,
            "triggers": [],
            "components": [{"id": "rc", "source": {
                "content_type": "application/wasm", "source": "file:///rc.wasm"}}],
        });
        let locked = LockedApp::from_json(locked.to_string().as_bytes()).unwrap();
        let options = CapabilityOptions {
            state_dir: state_dir.to_path_buf(),
            ..CapabilityOptions::default()
        };
        let capabilities = AppCapabilities::new(&locked, &options).unwrap();
        let grants = capabilities
            .grants(locked.component("rc").unwrap())
            .unwrap();
        let logs = LogSinks {
            quiet: true,
            ..LogSinks::default()
        };
        InstanceTemplate::new("rc", Vec::new(), None, &logs, 256 << 20, grants).unwrap()
    }

    #[test]
    fn links_the_rc_guest_and_finds_its_handler() {
        let (engine, component) = engine_and_guest();
        let pre = linker(&engine.engine).instantiate_pre(component).unwrap();
        RcProxyPre::new(pre).unwrap();
    }

    #[test]
    fn rejects_components_without_the_rc_handler() {
        let (engine, _) = engine_and_guest();
        let empty = Component::new(&engine.engine, "(component)").unwrap();
        let pre = linker(&engine.engine).instantiate_pre(&empty).unwrap();
        let err = RcProxyPre::new(pre)
            .err()
            .expect("an empty component has no handler");
        assert!(err.to_string().contains(EXPORT), "{err:#}");
    }

    #[tokio::test]
    async fn rc_guest_answers_a_request() {
        let (engine, component) = engine_and_guest();
        let pre = linker(&engine.engine).instantiate_pre(component).unwrap();
        let rc = RcProxyPre::new(pre).unwrap();

        let state_dir = tempfile::tempdir().unwrap();
        let mut store = Store::new(
            &engine.engine,
            sandbox(state_dir.path()).instance_state().unwrap(),
        );
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_callback(|_| Ok(UpdateDeadline::Yield(1)));
        store.set_epoch_deadline(1);

        let request = http::Request::get("http://localhost:3000/some/path?x=1")
            .body(Empty::<Bytes>::new().map_err(
                |never: std::convert::Infallible| -> wasmtime_wasi_http::Error { match never {} },
            ))
            .unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let mut http = store.data_mut().http();
        let request = http
            .new_incoming_request(latest_http::types::Scheme::Http, request)
            .unwrap();
        let response_out = http.new_response_outparam(tx).unwrap();

        // The guest writes the body after handing over the response, so read both at once.
        let guest =
            tokio::spawn(async move { rc.call_handle(&mut store, request, response_out).await });
        let response = rx.await.unwrap().unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/plain");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        guest.await.unwrap().unwrap();
        // The guest also echoes its `x-custom` header (none here).
        assert_eq!(body, "hello from rc-2023-11-10 /some/path?x=1 \n");
    }

    #[test]
    fn conversions_keep_payloads() {
        let rc_code =
            HttpErrorCode::HttpRequestHeaderSize(Some(rc::http::types::FieldSizePayload {
                field_name: Some("x-big".into()),
                field_size: Some(9000),
            }));
        let latest_code: latest_http::types::ErrorCode = rc_code.clone().into();
        assert_eq!(format!("{latest_code:?}"), format!("{rc_code:?}"));
        assert_eq!(
            format!("{:?}", HttpErrorCode::from(latest_code)),
            format!("{rc_code:?}")
        );

        let flags = DescriptorFlags::READ | DescriptorFlags::MUTATE_DIRECTORY;
        let latest_flags: latest::filesystem::types::DescriptorFlags = flags.into();
        assert_eq!(
            latest_flags,
            latest::filesystem::types::DescriptorFlags::READ
                | latest::filesystem::types::DescriptorFlags::MUTATE_DIRECTORY
        );
        assert_eq!(DescriptorFlags::from(latest_flags), flags);
    }
}
