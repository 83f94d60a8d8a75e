//! HTTPS: the certificate chain and private key named by `API_TLS_CERT` and `API_TLS_KEY`
//! loaded into a rustls server configuration, and the accept loop that serves the router
//! over TLS (HTTP/1.1 and HTTP/2, chosen by ALPN) until shutdown.
//!
//! Each connection's handshake runs in a task of its own, bounded by [`HANDSHAKE_TIMEOUT`],
//! so a slow or broken client never holds up the accept loop; a failed handshake is logged at
//! debug level and costs only its own connection. Shutdown is graceful as with plain HTTP:
//! the listener closes, idle connections close, in-flight requests finish.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use imports_runtime::config::ApiConfig;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// How long a client may take to complete its TLS handshake before it is dropped, so that
/// connections which never finish one do not pile up.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS acceptor the configuration asks for: `None` (plain HTTP) when neither
/// `API_TLS_CERT` nor `API_TLS_KEY` is set. A missing, unreadable or invalid file is an error
/// naming the variable and the path, so a misconfigured API fails at start, never later.
pub fn acceptor(config: &ApiConfig) -> anyhow::Result<Option<TlsAcceptor>> {
    match (&config.tls_cert, &config.tls_key) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => Ok(Some(TlsAcceptor::from(Arc::new(server_config(cert, key)?)))),
        (Some(_), None) => bail!("API_TLS_KEY is not set, but API_TLS_CERT is: TLS needs both"),
        (None, Some(_)) => bail!("API_TLS_CERT is not set, but API_TLS_KEY is: TLS needs both"),
    }
}

/// The rustls configuration of a certificate chain and its key (PEM files), offering HTTP/2
/// and HTTP/1.1 by ALPN, on the ring provider.
fn server_config(cert: &Path, key: &Path) -> anyhow::Result<ServerConfig> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            anyhow!(
                "API_TLS_CERT={}: cannot read a PEM certificate chain: {}",
                cert.display(),
                pem_error(e)
            )
        })?;
    ensure!(
        !chain.is_empty(),
        "API_TLS_CERT={}: no PEM certificate in the file",
        cert.display()
    );
    let private_key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        anyhow!(
            "API_TLS_KEY={}: cannot read a PEM private key (PKCS#8, PKCS#1 or SEC1): {}",
            key.display(),
            pem_error(e)
        )
    })?;
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, private_key)
            .map_err(|e| {
                anyhow!(
                    "API_TLS_CERT={} with API_TLS_KEY={}: not a usable certificate and key: {e}",
                    cert.display(),
                    key.display()
                )
            })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// A PEM error in words, on one line.
fn pem_error(e: rustls_pki_types::pem::Error) -> String {
    match e {
        rustls_pki_types::pem::Error::NoItemsFound => {
            "no PEM section of that kind in the file".into()
        }
        other => other.to_string(),
    }
}

/// Serves `router` over TLS on `listener` until `shutdown`, then waits for the open
/// connections to finish their requests (as `axum::serve`'s graceful shutdown does).
pub async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    router: Router,
    shutdown: CancellationToken,
) {
    let graceful = GracefulShutdown::new();
    loop {
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
        tokio::spawn(connection(
            acceptor.clone(),
            tcp,
            peer,
            router.clone(),
            graceful.watcher(),
            shutdown.clone(),
        ));
    }
    drop(listener);
    graceful.shutdown().await;
}

/// One connection: its handshake, then HTTP/1.1 or HTTP/2 until the client or the shutdown
/// ends it. A connection still in its handshake at shutdown is dropped.
async fn connection(
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
    router: Router,
    watcher: Watcher,
    shutdown: CancellationToken,
) {
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
    let stream = tokio::select! {
        _ = shutdown.cancelled() => return,
        done = handshake => match done {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, timeout = ?HANDSHAKE_TIMEOUT, "TLS handshake timed out");
                return;
            }
        },
    };
    let builder = auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(router));
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
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
