//! A TCP proxy with an off switch, to make Postgres or RabbitMQ unreachable for one process
//! under test without touching the machine's real services (other tests share them).
//!
//! ```ignore
//! let proxy = TcpProxy::start("127.0.0.1:5432").await;
//! let url = proxy.rewrite(&database_url);   // the same URL, through the proxy
//! proxy.cut();      // drops every open connection; new ones are closed at once
//! proxy.restore();  // forwards again
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// A running proxy. Dropping it stops it and closes every connection.
pub struct TcpProxy {
    /// Where it listens (`127.0.0.1:<free port>`).
    pub addr: SocketAddr,
    target: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: CancellationToken,
}

struct State {
    up: bool,
    /// Cancelled by `cut`: ends every connection opened before it.
    generation: CancellationToken,
}

impl TcpProxy {
    /// Starts forwarding a free local port to `target` (`host:port`).
    pub async fn start(target: &str) -> TcpProxy {
        let target: SocketAddr = tokio::net::lookup_host(target)
            .await
            .expect("resolve the proxy's target")
            .next()
            .expect("the proxy's target has an address");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            up: true,
            generation: CancellationToken::new(),
        }));
        let stop = CancellationToken::new();
        tokio::spawn(accept(listener, target, state.clone(), stop.clone()));
        TcpProxy {
            addr,
            target,
            state,
            stop,
        }
    }

    /// Starts a proxy to the host and port of a connection URL (`scheme://[user@]host:port/...`),
    /// returning it with the URL rewritten to go through it.
    pub async fn for_url(url: &str, default_port: u16) -> (TcpProxy, String) {
        let (prefix, host_port, rest) = split_url(url);
        let target = if host_port.contains(':') {
            host_port.to_owned()
        } else {
            format!("{host_port}:{default_port}")
        };
        let proxy = TcpProxy::start(&target).await;
        let rewritten = format!("{prefix}{}{rest}", proxy.addr);
        (proxy, rewritten)
    }

    /// The address it forwards to.
    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// Drops every open connection and closes new ones at once, until [`restore`].
    ///
    /// [`restore`]: TcpProxy::restore
    pub fn cut(&self) {
        let mut state = self.state.lock().unwrap();
        state.up = false;
        state.generation.cancel();
        state.generation = CancellationToken::new();
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.state.lock().unwrap().up = true;
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.stop.cancel();
        self.state.lock().unwrap().generation.cancel();
    }
}

/// `scheme://user@` + `host:port` + `/rest`.
fn split_url(url: &str) -> (&str, &str, &str) {
    let authority_start = url.find("://").map(|i| i + 3).unwrap_or(0);
    let after = &url[authority_start..];
    let end = after.find(['/', '?']).unwrap_or(after.len());
    let authority = &after[..end];
    let host_start = authority.rfind('@').map(|i| i + 1).unwrap_or(0);
    let split = authority_start + host_start;
    (
        &url[..split],
        &url[split..authority_start + end],
        &url[authority_start + end..],
    )
}

async fn accept(
    listener: TcpListener,
    target: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: CancellationToken,
) {
    loop {
        let (client, _) = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => continue,
            },
        };
        let (up, generation) = {
            let s = state.lock().unwrap();
            (s.up, s.generation.clone())
        };
        if !up {
            drop(client); // refused: closed at once
            continue;
        }
        tokio::spawn(forward(client, target, generation));
    }
}

async fn forward(mut client: TcpStream, target: SocketAddr, cut: CancellationToken) {
    let Ok(mut server) = TcpStream::connect(target).await else {
        return;
    };
    tokio::select! {
        _ = cut.cancelled() => {}
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_split_around_the_host_and_port() {
        assert_eq!(
            super::split_url("postgres://postgres@127.0.0.1:5432/imports_x"),
            ("postgres://postgres@", "127.0.0.1:5432", "/imports_x")
        );
        assert_eq!(
            super::split_url("amqp://guest:guest@127.0.0.1:5672/%2f"),
            ("amqp://guest:guest@", "127.0.0.1:5672", "/%2f")
        );
        assert_eq!(
            super::split_url("postgres://localhost"),
            ("postgres://", "localhost", "")
        );
    }
}
