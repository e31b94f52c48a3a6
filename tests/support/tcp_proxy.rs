//! A TCP proxy that can take a node away: in front of a node's port (HTTP and WebSocket alike,
//! since it forwards bytes), [`TcpProxy::down`] closes every live connection and stops
//! listening, so that clients get "connection refused" as from a node that is down, and
//! [`TcpProxy::up`] listens again on the same port. [`TcpProxy::drop_connections`] closes the
//! live connections only, as a server restart or an idle disconnect does.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

pub struct TcpProxy {
    port: u16,
    upstream: SocketAddr,
    accept: Mutex<Option<JoinHandle<()>>>,
    conns: Arc<Mutex<Vec<AbortHandle>>>,
    accepted: Arc<AtomicU64>,
}

impl TcpProxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `upstream` (`127.0.0.1:PORT`).
    ///
    /// The port is taken below the kernel's ephemeral range: while the proxy is down, its port
    /// must not be handed to anyone else (the client side of another test's connection, a
    /// listener bound to port 0), or it could not listen there again.
    pub async fn start(upstream: SocketAddr) -> TcpProxy {
        let listener = bind_outside_ephemeral_range().await;
        let proxy = TcpProxy {
            port: listener.local_addr().unwrap().port(),
            upstream,
            accept: Mutex::new(None),
            conns: Arc::new(Mutex::new(Vec::new())),
            accepted: Arc::new(AtomicU64::new(0)),
        };
        proxy.serve(listener);
        proxy
    }

    /// In front of a node's `http://127.0.0.1:PORT` URL.
    pub async fn in_front_of(url: &str) -> TcpProxy {
        let port: u16 = url
            .rsplit(':')
            .next()
            .unwrap()
            .trim_end_matches('/')
            .parse()
            .unwrap();
        TcpProxy::start(SocketAddr::from(([127, 0, 0, 1], port))).await
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    fn serve(&self, listener: TcpListener) {
        let upstream = self.upstream;
        let conns = self.conns.clone();
        let accepted = self.accepted.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                accepted.fetch_add(1, Ordering::Relaxed);
                let conn = tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
                conns.lock().unwrap().push(conn.abort_handle());
            }
        });
        *self.accept.lock().unwrap() = Some(task);
    }

    /// Closes every live connection (the listener stays).
    pub fn drop_connections(&self) {
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    /// Closes every live connection and stops listening: new connections are refused.
    pub async fn down(&self) {
        if let Some(task) = self.accept.lock().unwrap().take() {
            task.abort();
        }
        self.drop_connections();
        // Let the aborted listener close before anyone connects again.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    /// Listens again on the same port.
    pub async fn up(&self) {
        if self.accept.lock().unwrap().is_some() {
            return;
        }
        // The port may take a moment to be free again after `down`.
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => break l,
                Err(_) if tries < 100 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("listening again on port {}: {e}", self.port),
            }
        };
        self.serve(listener);
    }
}

/// Binds a free port of 127.0.0.1 below the ephemeral range, starting at a random place.
async fn bind_outside_ephemeral_range() -> TcpListener {
    let low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    let (from, to) = (10_000u16, low.max(10_100));
    let span = u32::from(to - from);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
        ^ std::process::id().wrapping_mul(2_654_435_761);
    for i in 0..span {
        let port = from + ((seed.wrapping_add(i.wrapping_mul(7919))) % span) as u16;
        if let Ok(l) = TcpListener::bind(("127.0.0.1", port)).await {
            return l;
        }
    }
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        if let Some(task) = self.accept.lock().unwrap().take() {
            task.abort();
        }
        self.drop_connections();
    }
}
