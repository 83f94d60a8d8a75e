//! HTTPS: the certificate chain and private key named by `API_TLS_CERT` and `API_TLS_KEY`
//! loaded into a rustls server configuration (HTTP/1.1 and HTTP/2, chosen by ALPN), and each
//! connection's handshake.
//!
//! The handshake runs in the connection's own task (the accept loop's), bounded by
//! [`HANDSHAKE_TIMEOUT`], so a slow or broken client never holds up the accept loop; a
//! failed handshake is logged at debug level and costs only its own connection.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure};
use imports_runtime::config::ApiConfig;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
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

/// The TLS side of a connection once its handshake is done within [`HANDSHAKE_TIMEOUT`];
/// `None` (logged at debug level) when it fails, times out, or the shutdown comes first.
pub(crate) async fn handshake(
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
    shutdown: &CancellationToken,
) -> Option<TlsStream<TcpStream>> {
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
    tokio::select! {
        _ = shutdown.cancelled() => None,
        done = handshake => match done {
            Ok(Ok(stream)) => Some(stream),
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                None
            }
            Err(_) => {
                tracing::debug!(%peer, timeout = ?HANDSHAKE_TIMEOUT, "TLS handshake timed out");
                None
            }
        },
    }
}
