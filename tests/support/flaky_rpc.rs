//! A JSON-RPC-over-HTTP proxy that fails on purpose, for testing how clients survive an RPC
//! provider that misbehaves transiently.
//!
//! [`FlakyRpc::start`] listens on `127.0.0.1:0` and forwards each POST body to an upstream node
//! (e.g. a [`Devnet`](devnet::Devnet)'s `rpc_url()`), except that, following a
//! [`FaultPlan`], some requests are answered `429 Too Many Requests`, `502`/`503`, are delayed,
//! have their connection closed without an answer, or get a truncated JSON body. Faults are
//! chosen deterministically from the plan's seed and the request's arrival index, so a test run
//! is reproducible as long as its requests arrive in the same order. Rejected, dropped and
//! malformed requests never reach the upstream (they have no side effects); delayed ones do.
//! [`FlakyRpc::stats`] counts what was injected and [`FlakyRpc::set_faulting`] turns faults off
//! and on. HTTP only (no WebSocket); HTTP/1.1 with keep-alive toward clients, one connection
//! per request toward the upstream. Written on tokio's `TcpStream` to add no dependencies.
//!
//! Include it from a test with `#[path = "support/flaky_rpc.rs"] mod flaky_rpc;`.

#![allow(dead_code)]

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use tokio::{
    io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    task::{JoinHandle, JoinSet},
};

/// Which faults to inject, as fractions of requests (their sum must not exceed 1).
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    /// Seed for choosing which requests fail.
    pub seed: u64,
    /// Fraction answered `429 Too Many Requests`.
    pub rate_limited: f64,
    /// Fraction answered `502 Bad Gateway` or `503 Service Unavailable` (half each).
    pub unavailable: f64,
    /// Fraction forwarded only after [`FaultPlan::delay`].
    pub delayed: f64,
    /// How long a delayed request waits.
    pub delay: Duration,
    /// Fraction whose connection is closed without an answer.
    pub dropped: f64,
    /// Fraction answered `200` with a truncated JSON body.
    pub malformed: f64,
    /// The first this many requests are never faulted (lets a client connect).
    pub healthy_first: u64,
    /// Refuse `eth_getLogs` over more blocks than this, as providers do, with the JSON-RPC
    /// error -32005 (always, even when faulting is off: it is the provider's limit).
    pub max_log_blocks: Option<u64>,
}

impl FaultPlan {
    /// No faults: a transparent proxy.
    pub fn none() -> Self {
        Self {
            seed: 0,
            rate_limited: 0.0,
            unavailable: 0.0,
            delayed: 0.0,
            delay: Duration::from_millis(200),
            dropped: 0.0,
            malformed: 0.0,
            healthy_first: 0,
            max_log_blocks: None,
        }
    }

    /// A typical bad day: 10% rate-limited, 10% 502/503, 10% delayed by 200 ms, 5% dropped,
    /// no malformed bodies.
    pub fn mixed(seed: u64) -> Self {
        Self {
            seed,
            rate_limited: 0.10,
            unavailable: 0.10,
            delayed: 0.10,
            dropped: 0.05,
            ..Self::none()
        }
    }

    /// Sets the fraction of malformed JSON answers.
    pub fn with_malformed(mut self, fraction: f64) -> Self {
        self.malformed = fraction;
        self
    }

    /// Sets the delay of delayed requests.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Refuses `eth_getLogs` ranges longer than `blocks`.
    pub fn with_max_log_blocks(mut self, blocks: u64) -> Self {
        self.max_log_blocks = Some(blocks);
        self
    }

    /// Leaves the first `n` requests alone.
    pub fn with_healthy_first(mut self, n: u64) -> Self {
        self.healthy_first = n;
        self
    }

    /// The fault for the request with arrival index `index`.
    fn fault_for(&self, index: u64) -> Fault {
        if index < self.healthy_first {
            return Fault::None;
        }
        let roll = splitmix64(self.seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        // 53 random bits as a uniform fraction in [0, 1).
        let r = (roll >> 11) as f64 / (1u64 << 53) as f64;
        let mut edge = 0.0;
        let mut hit = |fraction: f64| {
            edge += fraction;
            r < edge
        };
        if hit(self.rate_limited) {
            Fault::RateLimited
        } else if hit(self.unavailable) {
            Fault::Unavailable(if roll & 1 == 0 { 502 } else { 503 })
        } else if hit(self.delayed) {
            Fault::Delayed
        } else if hit(self.dropped) {
            Fault::Dropped
        } else if hit(self.malformed) {
            Fault::Malformed
        } else {
            Fault::None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    RateLimited,
    Unavailable(u16),
    Delayed,
    Dropped,
    Malformed,
}

/// Counts of requests seen and faults injected so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Requests received.
    pub requests: u64,
    /// Requests forwarded to the upstream (including delayed ones).
    pub forwarded: u64,
    /// Answered 429.
    pub rate_limited: u64,
    /// Answered 502 or 503 by plan.
    pub unavailable: u64,
    /// Delayed before forwarding.
    pub delayed: u64,
    /// Connections closed without an answer.
    pub dropped: u64,
    /// Answered with a truncated JSON body.
    pub malformed: u64,
    /// `eth_getLogs` refused for spanning too many blocks.
    pub range_refused: u64,
    /// Forwarding failed (the upstream was unreachable); answered 502.
    pub upstream_errors: u64,
}

impl FaultStats {
    /// Faults injected by plan (not counting upstream errors).
    pub fn faults(&self) -> u64 {
        self.rate_limited + self.unavailable + self.delayed + self.dropped + self.malformed
    }
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    forwarded: AtomicU64,
    rate_limited: AtomicU64,
    unavailable: AtomicU64,
    delayed: AtomicU64,
    dropped: AtomicU64,
    malformed: AtomicU64,
    range_refused: AtomicU64,
    upstream_errors: AtomicU64,
}

struct Shared {
    plan: FaultPlan,
    upstream: Upstream,
    faulting: AtomicBool,
    counters: Counters,
}

impl Shared {
    fn next_fault(&self) -> Fault {
        let index = self.counters.requests.fetch_add(1, Ordering::SeqCst);
        if self.faulting.load(Ordering::SeqCst) {
            self.plan.fault_for(index)
        } else {
            Fault::None
        }
    }
}

/// A running fault-injecting proxy; dropping it stops it and closes its connections.
pub struct FlakyRpc {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl FlakyRpc {
    /// Starts the proxy in front of `upstream_url` (an `http://host:port[/path]` URL).
    ///
    /// # Panics
    /// If the URL is not plain HTTP or no local port can be bound (this is test support).
    pub async fn start(upstream_url: &str, plan: FaultPlan) -> FlakyRpc {
        let upstream = Upstream::parse(upstream_url);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the flaky RPC proxy");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            plan,
            upstream,
            faulting: AtomicBool::new(true),
            counters: Counters::default(),
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        FlakyRpc { addr, shared, task }
    }

    /// The proxy's URL, e.g. `http://127.0.0.1:40125`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What was seen and injected so far.
    pub fn stats(&self) -> FaultStats {
        let c = &self.shared.counters;
        let get = |n: &AtomicU64| n.load(Ordering::SeqCst);
        FaultStats {
            requests: get(&c.requests),
            forwarded: get(&c.forwarded),
            rate_limited: get(&c.rate_limited),
            unavailable: get(&c.unavailable),
            delayed: get(&c.delayed),
            dropped: get(&c.dropped),
            malformed: get(&c.malformed),
            range_refused: get(&c.range_refused),
            upstream_errors: get(&c.upstream_errors),
        }
    }

    /// Turns fault injection on or off; off makes the proxy transparent.
    pub fn set_faulting(&self, on: bool) {
        self.shared.faulting.store(on, Ordering::SeqCst);
    }

    /// Stops injecting faults.
    pub fn stop_faulting(&self) {
        self.set_faulting(false);
    }
}

impl Drop for FlakyRpc {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every connection task.
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    accept_each(listener, move |stream| {
        serve_connection(stream, shared.clone())
    })
    .await
}

/// Serves every connection `listener` accepts with `serve`, each in its own task; the tasks
/// end with this future (aborting it aborts them all).
pub(crate) async fn accept_each<F, Fut>(listener: TcpListener, serve: F)
where
    F: Fn(TcpStream) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    connections.spawn(serve(stream));
                }
            }
            // Reap finished connection tasks so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let mut stream = BufReader::new(stream);
    loop {
        let request = match read_message(&mut stream).await {
            Ok(Some(request)) => request,
            _ => return,
        };
        let counters = &shared.counters;
        let fault = shared.next_fault();
        let (status, body) = match fault {
            Fault::Dropped => {
                counters.dropped.fetch_add(1, Ordering::SeqCst);
                return;
            }
            Fault::RateLimited => {
                counters.rate_limited.fetch_add(1, Ordering::SeqCst);
                (429, br#"{"error":"too many requests"}"#.to_vec())
            }
            Fault::Unavailable(status) => {
                counters.unavailable.fetch_add(1, Ordering::SeqCst);
                (status, b"upstream temporarily unavailable".to_vec())
            }
            Fault::Malformed => {
                counters.malformed.fetch_add(1, Ordering::SeqCst);
                (200, br#"{"jsonrpc":"2.0","id":1,"result":"0x"#.to_vec())
            }
            Fault::Delayed | Fault::None => {
                if fault == Fault::Delayed {
                    counters.delayed.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(shared.plan.delay).await;
                }
                if !request.start_line.starts_with("POST ") {
                    (405, b"only POST is proxied".to_vec())
                } else if let Some(refusal) = refuse_range(&shared.plan, &request.body) {
                    counters.range_refused.fetch_add(1, Ordering::SeqCst);
                    (200, refusal)
                } else {
                    counters.forwarded.fetch_add(1, Ordering::SeqCst);
                    match shared.upstream.post(&request.body).await {
                        Ok(answer) => answer,
                        Err(e) => {
                            counters.upstream_errors.fetch_add(1, Ordering::SeqCst);
                            (502, format!("upstream error: {e}").into_bytes())
                        }
                    }
                }
            }
        };
        if write_response(stream.get_mut(), status, &body)
            .await
            .is_err()
        {
            return;
        }
        if request.close {
            return;
        }
    }
}

/// The provider-style refusal of an `eth_getLogs` over too many blocks, if this is one.
fn refuse_range(plan: &FaultPlan, body: &[u8]) -> Option<Vec<u8>> {
    let max = plan.max_log_blocks?;
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    if v["method"] != "eth_getLogs" {
        return None;
    }
    let block = |k: &str| {
        u64::from_str_radix(v["params"][0][k].as_str()?.trim_start_matches("0x"), 16).ok()
    };
    let (from, to) = (block("fromBlock")?, block("toBlock")?);
    (to.saturating_sub(from) + 1 > max).then(|| {
        serde_json::json!({
            "jsonrpc": "2.0",
            "id": v["id"],
            "error": {"code": -32005, "message": format!("query exceeds max block range {max}")}
        })
        .to_string()
        .into_bytes()
    })
}

async fn write_response(stream: &mut TcpStream, status: u16, body: &[u8]) -> std::io::Result<()> {
    write_response_with(stream, status, &[], body).await
}

/// Writes one response with `headers` besides the content type and length.
pub(crate) async fn write_response_with(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra}\r\n",
        body.len()
    );
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    stream.write_all(&out).await?;
    stream.flush().await
}

/// The upstream node, reached with one HTTP/1.1 connection per request.
pub(crate) struct Upstream {
    authority: String,
    path: String,
}

impl Upstream {
    pub(crate) fn parse(url: &str) -> Self {
        let rest = url
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("flaky RPC upstream must be http://, got {url}"));
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let authority = if authority.contains(':') {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Self {
            authority,
            path: path.to_string(),
        }
    }

    pub(crate) async fn post(&self, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
        let mut stream = TcpStream::connect(&self.authority).await?;
        let _ = stream.set_nodelay(true);
        let head = format!(
            "POST {} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            self.path,
            self.authority,
            body.len()
        );
        let mut out = head.into_bytes();
        out.extend_from_slice(body);
        stream.write_all(&out).await?;
        let mut reader = BufReader::new(stream);
        let response = read_message(&mut reader)
            .await?
            .ok_or_else(|| invalid("upstream closed without answering"))?;
        let status = response
            .start_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid("bad upstream status line"))?;
        Ok((status, response.body))
    }
}

/// One HTTP/1.1 request or response.
pub(crate) struct Message {
    pub(crate) start_line: String,
    pub(crate) body: Vec<u8>,
    /// The peer asked to close the connection after this message.
    pub(crate) close: bool,
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

/// Reads one message; `None` on a clean EOF before it starts. Bodies framed by
/// `content-length`, `transfer-encoding: chunked`, or (responses only) the end of the stream.
pub(crate) async fn read_message<R: AsyncBufRead + Unpin>(
    reader: &mut R,
) -> std::io::Result<Option<Message>> {
    let mut start_line = String::new();
    if reader.read_line(&mut start_line).await? == 0 {
        return Ok(None);
    }
    let start_line = start_line.trim_end().to_string();
    let is_response = start_line.starts_with("HTTP/");
    let mut content_length = None;
    let mut chunked = false;
    let mut close = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Err(invalid("EOF inside headers"));
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(invalid("malformed header"));
        };
        let value = value.trim().to_ascii_lowercase();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                content_length = Some(value.parse().map_err(|_| invalid("bad content-length"))?)
            }
            "transfer-encoding" => chunked = value.contains("chunked"),
            "connection" => close = value == "close",
            _ => {}
        }
    }
    let body = if chunked {
        read_chunked(reader).await?
    } else if let Some(len) = content_length {
        let mut body = vec![0; len];
        reader.read_exact(&mut body).await?;
        body
    } else if is_response {
        let mut body = Vec::new();
        reader.read_to_end(&mut body).await?;
        body
    } else {
        Vec::new()
    };
    Ok(Some(Message {
        start_line,
        body,
        close,
    }))
}

async fn read_chunked<R: AsyncBufRead + Unpin>(reader: &mut R) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line).await?;
        let size_hex = size_line.trim().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| invalid("bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the blank line.
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).await? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..]).await?;
        let mut crlf = [0; 2];
        reader.read_exact(&mut crlf).await?;
    }
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}
