//! The accept loop: connections, plain or TLS, served with HTTP/1.1 or HTTP/2 under the
//! limits of `HttpLimits` until shutdown.
//!
//! - At most `API_MAX_CONNECTIONS` connections are open; past it the loop stops accepting
//!   and new connections wait in the listen backlog until one closes.
//! - A client has `API_HEADER_TIMEOUT_SECONDS` to send a request's headers (HTTP/1.1), so
//!   connections that hold half a header are closed rather than kept; HTTP/2 connections are
//!   pinged and bounded in streams.
//! - Each request carries its client's address ([`ClientAddr`]), for the per-address limit of
//!   unauthenticated requests.
//!
//! Shutdown is graceful: the listener closes, idle connections close, in-flight requests
//! finish.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use imports_runtime::config::HttpLimits;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// The address of the client that sent a request: the connection's peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The most HTTP/2 streams one connection may have open at once.
const MAX_STREAMS_PER_CONNECTION: u32 = 64;

/// Serves `router` on `listener` (over TLS with `tls`) until `shutdown`, then waits for the
/// open connections to finish their requests.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    limits: HttpLimits,
    shutdown: CancellationToken,
) {
    let graceful = GracefulShutdown::new();
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let builder = Arc::new(builder(&limits));
    loop {
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            permit = open.clone().acquire_owned() => permit.expect("never closed"),
        };
        let (tcp, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        let connection = Connection {
            builder: builder.clone(),
            router: router.clone(),
            watcher: graceful.watcher(),
            peer,
        };
        let (tls, shutdown) = (tls.clone(), shutdown.clone());
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => connection.serve(tcp).await,
                Some(acceptor) => {
                    if let Some(stream) =
                        crate::tls::handshake(&acceptor, tcp, peer, &shutdown).await
                    {
                        connection.serve(stream).await
                    }
                }
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// HTTP/1.1 and HTTP/2 with the header timeout, keep-alive pings and the stream bound.
fn builder(limits: &HttpLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
        .keep_alive_interval(Duration::from_secs(20))
        .keep_alive_timeout(limits.header_timeout);
    builder
}

/// One accepted connection, before it is served.
struct Connection {
    builder: Arc<auto::Builder<TokioExecutor>>,
    router: Router,
    watcher: Watcher,
    peer: SocketAddr,
}

impl Connection {
    /// Serves requests on `io` until the client, a timeout or the shutdown ends it.
    async fn serve<I>(self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let client = ClientAddr(self.peer.ip());
        let router = self.router;
        let service = tower::service_fn(move |mut request: axum::extract::Request<_>| {
            request.extensions_mut().insert(client);
            let mut router = router.clone();
            async move { tower::Service::call(&mut router, request.map(axum::body::Body::new)).await }
        });
        let conn = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(service));
        if let Err(e) = self.watcher.watch(conn.into_owned()).await {
            tracing::debug!(peer = %self.peer, error = %e, "connection ended with an error");
        }
    }
}

/// An accept error: a connection reset before it was accepted is no matter; anything else
/// (out of file descriptors, say) is logged and retried after a pause, as `axum::serve` does.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
