//! The HTTP listener (metrics, health) next to a server.

use std::net::SocketAddr;

use anyhow::Context;
use ferromq_http::{HttpHandle, HttpServer, Target};
use ferromq_net::{ServerTls, TlsMode, TlsServerConfig};

/// Binds `listen` and serves `target` there: plaintext HTTP when `mode` is `disabled`, else HTTPS
/// with the certificate and key (and client-certificate settings) of `tls`, the remoting
/// listener's, in `mode` (`permissive` also answers plaintext on the port, `enforcing` does not).
pub fn start_tls(
    listen: SocketAddr,
    target: Target,
    tls: &TlsServerConfig,
    mode: TlsMode,
) -> anyhow::Result<HttpHandle> {
    let server_tls = server_tls(tls, mode)?;
    let listener = ferromq_net::listen::bind(listen)
        .with_context(|| format!("binding the HTTP listener to {listen}"))?;
    serve(listener, target, server_tls)
}

/// The HTTP listener's TLS: the remoting listener's certificate settings `tls` in `mode`; `None`
/// when `mode` is `disabled`.
pub fn server_tls(tls: &TlsServerConfig, mode: TlsMode) -> anyhow::Result<Option<ServerTls>> {
    ServerTls::from_config(&TlsServerConfig {
        mode,
        ..tls.clone()
    })
    .context("the HTTP listener's TLS settings")
}

/// Serves `target` on the bound `listener`, over HTTPS when `tls` is set.
pub fn serve(
    listener: tokio::net::TcpListener,
    target: Target,
    tls: Option<ServerTls>,
) -> anyhow::Result<HttpHandle> {
    match tls {
        None => HttpServer::start(listener, target),
        Some(tls) => HttpServer::start_tls(listener, target, tls),
    }
    .context("starting the HTTP listener")
}

/// The listener `ferromq namesrv` and `ferromq controller` serve on `--http-listen` (process
/// metrics and the probes; none without the flag), with the end of their ready line.
pub fn start_process(
    listen: Option<SocketAddr>,
    tls: &TlsServerConfig,
    mode: TlsMode,
) -> anyhow::Result<(Option<HttpHandle>, String)> {
    let Some(listen) = listen else {
        return Ok((None, String::new()));
    };
    let handle = start_tls(listen, Target::Process, tls, mode)?;
    let field = ready_field(&handle, mode);
    Ok((Some(handle), field))
}

/// ` http=ADDR http_tls=MODE`, the end of a server's ready line when it serves HTTP.
pub fn ready_field(handle: &HttpHandle, mode: TlsMode) -> String {
    format!(" http={} http_tls={mode}", handle.local_addr())
}
