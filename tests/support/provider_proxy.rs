//! A JSON-RPC-over-HTTP proxy that behaves like a hosted provider in front of a devnet, for
//! testing a client against providers as they are.
//!
//! [`ProviderProxy::start`] listens on `127.0.0.1:0` and forwards each request to an upstream
//! node (a [`Devnet`](devnet::Devnet)), following a [`ProviderPlan`]:
//!
//! - **height shift**: every block number in a request is shifted down by `offset` and every one
//!   in an answer up by it — `eth_blockNumber`, `eth_getBlockByNumber` (parameter and `number`),
//!   `eth_getLogs` (`fromBlock`, `toBlock`, each log's `blockNumber`), receipts, transactions,
//!   traces (`blockNumber` wherever it appears), the block parameter of `eth_call`,
//!   `eth_getBalance`, `eth_getCode`, `eth_getStorageAt`, `eth_getTransactionCount`; tags
//!   (`latest`, `finalized`, …) pass through; `eth_chainId` is untouched. Below the offset lies
//!   an empty prehistory (synthetic headers, 12 s apart, that the devnet's genesis follows; no
//!   logs, code or balances), as in the devnet crate's proxy. So a devnet looks `offset` blocks
//!   taller than it is;
//! - **range cap**: `eth_getLogs` over more blocks than allowed is refused with the message of a
//!   provider style ([`RangeCapStyle`]);
//! - **result cap**: `eth_getLogs` answering more logs than allowed is refused with the message
//!   of a provider style ([`ResultCapStyle`]), with the range that would have worked where the
//!   provider gives one;
//! - **rate limit**: every `every`-th request (at most `times` of them) is answered `429` with a
//!   `Retry-After` header and Alchemy's body;
//! - **lag**: a load balancer over two backends, one `lag` blocks behind the other: every other
//!   request is served by the lagging one, which answers `eth_blockNumber` `lag` lower, `null`
//!   for blocks and transactions above its head, and geth's errors ("header not found", "block
//!   range extends beyond current head block") for state and logs above it;
//! - **delay**: every answer waits this long (a remote provider's round trip).
//!
//! It counts requests per method and what it refused. Single requests and batches; HTTP only.

#![allow(dead_code)]

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use alloy::primitives::{keccak256, B256};
use serde_json::{json, Value};
use tokio::{
    io::BufReader,
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};

use super::flaky_rpc::{accept_each, read_message, write_response_with, Upstream};

/// Whose words a result cap is refused in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultCapStyle {
    /// "Log response size exceeded. … this block range should work: [0x…, 0x…]"
    Alchemy,
    /// "query returned more than N results. Try with this block range [0x…, 0x…]."
    Infura,
    /// "query exceeds max results N, retry with the range A-B" (reth; Base)
    Reth,
    /// "logs matched by query exceeds limit of N" (Arbitrum; no hint)
    Arbitrum,
}

/// Whose words a range cap is refused in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeCapStyle {
    /// "eth_getLogs is limited to a 10,000 range"
    QuickNode,
    /// "exceed maximum block range: N" (bsc, PublicNode)
    Bsc,
    /// "query exceeds max block range N"
    Reth,
    /// "Block range limit exceeded." (no number)
    Chainstack,
    /// "block range is too wide" (no number)
    Ankr,
}

/// `429` with `Retry-After` on every `every`-th request, at most `times` times.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    pub every: u64,
    pub times: u64,
    /// The header's value: seconds or an HTTP date.
    pub retry_after: String,
}

/// How the proxy behaves.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProviderPlan {
    pub offset: u64,
    pub result_cap: Option<(ResultCapStyle, usize)>,
    pub range_cap: Option<(RangeCapStyle, u64)>,
    pub rate_limit: Option<RateLimit>,
    pub lag: Option<u64>,
    pub delay: Duration,
}

/// What the proxy saw and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderStats {
    /// Requests by method (a batch counts each of its requests).
    pub by_method: BTreeMap<String, u64>,
    pub rate_limited: u64,
    pub range_refused: u64,
    pub results_refused: u64,
    /// Answers of the lagging backend that did not know the block or transaction.
    pub lagging_answers: u64,
}

impl ProviderStats {
    pub fn calls(&self, method: &str) -> u64 {
        self.by_method.get(method).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.by_method.values().sum()
    }
}

struct Shared {
    plan: ProviderPlan,
    upstream: Upstream,
    stats: Mutex<ProviderStats>,
    /// Requests received (for the rate limit).
    requests: AtomicU64,
    /// JSON-RPC calls routed (for the load balancer).
    routed: AtomicU64,
    /// The devnet's genesis timestamp, for the headers below the offset.
    genesis_time: u64,
}

/// A running provider-emulating proxy; dropping it stops it.
pub struct ProviderProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl ProviderProxy {
    /// Starts the proxy in front of `upstream_url` (plain `http://`).
    pub async fn start(upstream_url: &str, plan: ProviderPlan) -> ProviderProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the provider proxy");
        let addr = listener.local_addr().expect("proxy address");
        let upstream = Upstream::parse(upstream_url);
        let genesis = json!({"jsonrpc": "2.0", "id": 0, "method": "eth_getBlockByNumber",
            "params": ["0x0", false]});
        let (_, genesis) = upstream
            .post(genesis.to_string().as_bytes())
            .await
            .expect("the devnet's genesis");
        let genesis: Value = serde_json::from_slice(&genesis).expect("a genesis block");
        let shared = Arc::new(Shared {
            plan,
            upstream,
            stats: Mutex::new(ProviderStats::default()),
            requests: AtomicU64::new(0),
            routed: AtomicU64::new(0),
            genesis_time: parse_quantity(&genesis["result"]["timestamp"]).unwrap_or(0),
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        ProviderProxy { addr, shared, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn stats(&self) -> ProviderStats {
        self.shared.stats.lock().unwrap().clone()
    }

    /// Forgets the counts so far.
    pub fn reset_stats(&self) {
        *self.shared.stats.lock().unwrap() = ProviderStats::default();
    }
}

impl Drop for ProviderProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    accept_each(listener, move |stream| {
        serve_connection(stream, shared.clone())
    })
    .await
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let mut stream = BufReader::new(stream);
    loop {
        let request = match read_message(&mut stream).await {
            Ok(Some(request)) => request,
            _ => return,
        };
        let (status, headers, body) = shared.answer(&request.body).await;
        if !shared.plan.delay.is_zero() {
            tokio::time::sleep(shared.plan.delay).await;
        }
        if write_response_with(stream.get_mut(), status, &headers, &body)
            .await
            .is_err()
            || request.close
        {
            return;
        }
    }
}

/// The error answer of call `id`.
fn error(id: &Value, code: i64, message: impl Into<String>) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message.into()}})
}

/// The hash of block `n` below the offset.
fn prehistory_hash(n: u64) -> B256 {
    keccak256(format!("prehistory {n}"))
}

fn hex(n: u64) -> Value {
    Value::String(format!("{n:#x}"))
}

fn parse_quantity(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => {
            let digits = s.strip_prefix("0x")?;
            u64::from_str_radix(digits, 16).ok()
        }
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// `10000` as `10,000`.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Which backend serves a call: the head it has reached, if it lags.
#[derive(Debug, Clone, Copy)]
struct Backend {
    /// `Some(head)`: the lagging backend, at real block `head`.
    behind_at: Option<u64>,
}

impl Shared {
    fn count(&self, f: impl FnOnce(&mut ProviderStats)) {
        f(&mut self.stats.lock().unwrap())
    }

    /// The answer to one HTTP request body.
    async fn answer(&self, body: &[u8]) -> (u16, Vec<(&'static str, String)>, Vec<u8>) {
        let index = self.requests.fetch_add(1, Ordering::SeqCst);
        let parsed: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                let answer = error(&Value::Null, -32700, format!("parse error: {e}"));
                return (200, vec![], answer.to_string().into_bytes());
            }
        };
        let calls: Vec<Value> = match &parsed {
            Value::Array(calls) => calls.clone(),
            one => vec![one.clone()],
        };
        self.count(|s| {
            for c in &calls {
                let method = c["method"].as_str().unwrap_or("?").to_string();
                *s.by_method.entry(method).or_default() += 1;
            }
        });
        if let Some(limit) = &self.plan.rate_limit {
            let every = limit.every.max(1);
            if index % every == every - 1 && index / every < limit.times {
                self.count(|s| s.rate_limited += 1);
                // Alchemy's body (gitcoinco/grants-stack-indexer#156) with the status and header.
                let answer = error(
                    &calls[0]["id"],
                    429,
                    "Your app has exceeded its compute units per second capacity. If you have retries enabled, you can safely ignore this message. If not, check out https://docs.alchemy.com/reference/throughput",
                );
                return (
                    429,
                    vec![("retry-after", limit.retry_after.clone())],
                    answer.to_string().into_bytes(),
                );
            }
        }
        let mut answers = Vec::with_capacity(calls.len());
        for call in &calls {
            answers.push(self.answer_call(call).await);
        }
        let out = match parsed {
            Value::Array(_) => Value::Array(answers),
            _ => answers.pop().unwrap_or(Value::Null),
        };
        (200, vec![], out.to_string().into_bytes())
    }

    /// Sends `method(params)` to the upstream and returns its whole answer.
    async fn upstream(&self, id: &Value, method: &str, params: Value) -> Value {
        let request = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        match self.upstream.post(request.to_string().as_bytes()).await {
            Ok((_, body)) => serde_json::from_slice(&body)
                .unwrap_or_else(|e| error(id, -32603, format!("upstream answer: {e}"))),
            Err(e) => error(id, -32603, format!("upstream: {e}")),
        }
    }

    async fn real_head(&self) -> Option<u64> {
        let answer = self.upstream(&json!(0), "eth_blockNumber", json!([])).await;
        parse_quantity(&answer["result"])
    }

    /// Which backend serves the next call.
    async fn route(&self) -> Backend {
        let Some(lag) = self.plan.lag else {
            return Backend { behind_at: None };
        };
        if self.routed.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
            return Backend { behind_at: None };
        }
        let head = self.real_head().await.unwrap_or(0);
        Backend {
            behind_at: Some(head.saturating_sub(lag)),
        }
    }

    /// A block parameter in the client's numbers, turned into the upstream's: `Ok(new)`, or
    /// `Err(real)` when the lagging backend has not reached real block `real`. Numbers below
    /// the offset read as genesis.
    fn block_param(&self, v: &Value, backend: Backend) -> Result<Value, u64> {
        let offset = self.plan.offset;
        match v {
            Value::String(s) if !s.starts_with("0x") => match backend.behind_at {
                // Tags name the lagging backend's own head.
                Some(head) if s != "earliest" => Ok(hex(head)),
                _ => Ok(v.clone()),
            },
            Value::Object(o) if o.contains_key("blockNumber") => {
                let inner = self.block_param(&o["blockNumber"], backend)?;
                let mut o = o.clone();
                o.insert("blockNumber".into(), inner);
                Ok(Value::Object(o))
            }
            other => match parse_quantity(other) {
                Some(n) => {
                    let real = n.saturating_sub(offset);
                    match backend.behind_at {
                        Some(head) if real > head => Err(real),
                        _ => Ok(hex(real)),
                    }
                }
                None => Ok(other.clone()),
            },
        }
    }

    /// The header of block `n` below the offset: empty, a hash of its number, 12 s apart.
    fn prehistory_block(&self, n: u64) -> Value {
        let parent = n.checked_sub(1).map(prehistory_hash).unwrap_or_default();
        let time = self
            .genesis_time
            .saturating_sub((self.plan.offset - n) * 12);
        json!({"number": hex(n), "hash": prehistory_hash(n), "parentHash": parent,
            "timestamp": hex(time), "transactions": []})
    }

    /// Shifts every `blockNumber` in `v` (and a block's `number` when `block` is set) up by the
    /// offset.
    fn shift_up(&self, v: &mut Value, block: bool) {
        let offset = self.plan.offset;
        let shift = |x: &mut Value| {
            if let Some(n) = parse_quantity(x) {
                *x = hex(n + offset);
            }
        };
        match v {
            Value::Object(o) => {
                if block {
                    if o.get("number").and_then(parse_quantity) == Some(0) && offset > 0 {
                        // The devnet's genesis follows the last block below the offset.
                        o.insert("parentHash".into(), json!(prehistory_hash(offset - 1)));
                    }
                    if let Some(n) = o.get_mut("number") {
                        shift(n);
                    }
                }
                for (k, x) in o.iter_mut() {
                    if k == "blockNumber" {
                        shift(x);
                    } else {
                        self.shift_up(x, false);
                    }
                }
            }
            Value::Array(items) => {
                for x in items {
                    self.shift_up(x, false);
                }
            }
            _ => {}
        }
    }

    fn lagging(&self, id: &Value, answer: Value) -> Value {
        self.count(|s| s.lagging_answers += 1);
        match answer {
            Value::Null => json!({"jsonrpc": "2.0", "id": id, "result": null}),
            e => e,
        }
    }

    /// The answer to one JSON-RPC call.
    async fn answer_call(&self, call: &Value) -> Value {
        let id = &call["id"];
        let method = call["method"].as_str().unwrap_or_default();
        let mut params = call["params"].clone();
        if !params.is_array() {
            params = json!([]);
        }
        let offset = self.plan.offset;
        let backend = self.route().await;
        // The position of the block parameter of state reads.
        let block_at = match method {
            "eth_getBlockByNumber" => Some(0),
            "eth_call" | "eth_getBalance" | "eth_getCode" | "eth_getTransactionCount" => Some(1),
            "eth_getStorageAt" | "eth_getProof" => Some(2),
            _ => None,
        };
        if method == "eth_blockNumber" {
            let head = match backend.behind_at {
                Some(head) => Some(head),
                None => self.real_head().await,
            };
            return match head {
                Some(h) => json!({"jsonrpc": "2.0", "id": id, "result": hex(h + offset)}),
                None => error(id, -32603, "upstream head unknown"),
            };
        }
        if method == "eth_getLogs" {
            return self.get_logs(id, params, backend).await;
        }
        if let Some(i) = block_at {
            if let Some(p) = params.get(i).cloned() {
                if parse_quantity(&p).is_some_and(|n| n < offset) {
                    // Before the offset there is nothing: empty blocks, no code, no balances.
                    let result = match method {
                        "eth_getBlockByNumber" => {
                            self.prehistory_block(parse_quantity(&p).unwrap_or(0))
                        }
                        "eth_getStorageAt" => Value::String(format!("0x{}", "0".repeat(64))),
                        "eth_getBalance" | "eth_getTransactionCount" => hex(0),
                        _ => Value::String("0x".into()),
                    };
                    return json!({"jsonrpc": "2.0", "id": id, "result": result});
                }
                match self.block_param(&p, backend) {
                    Ok(real) => params[i] = real,
                    Err(_) if method == "eth_getBlockByNumber" => {
                        return self.lagging(id, Value::Null);
                    }
                    // geth's answer for state at a block it does not have.
                    Err(_) => return self.lagging(id, error(id, -32000, "header not found")),
                }
            }
            let mut answer = self.upstream(id, method, params).await;
            self.shift_up(&mut answer["result"], method == "eth_getBlockByNumber");
            return answer;
        }
        match method {
            "eth_getTransactionByHash"
            | "eth_getTransactionReceipt"
            | "eth_getBlockByHash"
            | "eth_getBlockReceipts"
            | "trace_transaction"
            | "debug_traceTransaction" => {
                let mut answer = self.upstream(id, method, params).await;
                if let Some(head) = backend.behind_at {
                    let number = answer["result"]
                        .get("blockNumber")
                        .or_else(|| answer["result"].get("number"))
                        .and_then(parse_quantity);
                    if number.is_some_and(|n| n > head) {
                        return self.lagging(id, Value::Null);
                    }
                }
                self.shift_up(&mut answer["result"], method == "eth_getBlockByHash");
                answer
            }
            _ => {
                let mut answer = self.upstream(id, method, params).await;
                self.shift_up(&mut answer["result"], false);
                answer
            }
        }
    }

    async fn get_logs(&self, id: &Value, mut params: Value, backend: Backend) -> Value {
        let offset = self.plan.offset;
        let filter = params[0].clone();
        if filter.get("blockHash").is_some() {
            let mut answer = self.upstream(id, "eth_getLogs", params).await;
            self.shift_up(&mut answer["result"], false);
            return answer;
        }
        // The range in the client's numbers, tags resolved against this backend's head.
        let head = match backend.behind_at {
            Some(h) => h,
            None => self.real_head().await.unwrap_or(0),
        };
        let client_block = |k: &str| match &filter[k] {
            Value::Null => Some(head + offset),
            Value::String(s) if s == "earliest" => Some(0),
            Value::String(s) if !s.starts_with("0x") => Some(head + offset),
            v => parse_quantity(v),
        };
        let (Some(from), Some(to)) = (client_block("fromBlock"), client_block("toBlock")) else {
            return error(id, -32602, "invalid block range params");
        };
        if from > to {
            return error(id, -32602, "invalid block range params");
        }
        if to.saturating_sub(offset) > head {
            // geth (execution-apis filter-error-future-block-range).
            let refused = error(id, -32602, "block range extends beyond current head block");
            return match backend.behind_at {
                Some(_) => self.lagging(id, refused),
                None => refused,
            };
        }
        if let Some((style, max)) = self.plan.range_cap {
            if to - from + 1 > max {
                self.count(|s| s.range_refused += 1);
                return match style {
                    RangeCapStyle::QuickNode => error(
                        id,
                        -32614,
                        format!("eth_getLogs is limited to a {} range", thousands(max)),
                    ),
                    RangeCapStyle::Bsc => {
                        error(id, -32000, format!("exceed maximum block range: {max}"))
                    }
                    RangeCapStyle::Reth => {
                        error(id, -32602, format!("query exceeds max block range {max}"))
                    }
                    RangeCapStyle::Chainstack => error(id, -32602, "Block range limit exceeded."),
                    RangeCapStyle::Ankr => error(id, -32600, "block range is too wide"),
                };
            }
        }
        if to < offset {
            // Nothing happened before the offset.
            return json!({"jsonrpc": "2.0", "id": id, "result": []});
        }
        params[0]["fromBlock"] = hex(from.saturating_sub(offset));
        params[0]["toBlock"] = hex(to.saturating_sub(offset));
        let mut answer = self.upstream(id, "eth_getLogs", params).await;
        self.shift_up(&mut answer["result"], false);
        if let (Some((style, cap)), Some(logs)) =
            (self.plan.result_cap, answer["result"].as_array())
        {
            if logs.len() > cap {
                self.count(|s| s.results_refused += 1);
                // The widest range from `from` whose logs fit, as reth computes it.
                let mut numbers: Vec<u64> = logs
                    .iter()
                    .filter_map(|l| parse_quantity(&l["blockNumber"]))
                    .collect();
                numbers.sort_unstable();
                let first_over = numbers.get(cap).copied().unwrap_or(to);
                let fits = first_over.saturating_sub(1).max(from);
                return match style {
                    ResultCapStyle::Alchemy => error(
                        id,
                        -32602,
                        format!("Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no limit on the response size, or you can request any block range with a cap of 10K logs in the response. Based on your parameters and the response size limit, this block range should work: [{from:#x}, {fits:#x}]"),
                    ),
                    ResultCapStyle::Infura => error(
                        id,
                        -32005,
                        format!("query returned more than {cap} results. Try with this block range [0x{from:X}, 0x{fits:X}]."),
                    ),
                    ResultCapStyle::Reth => error(
                        id,
                        -32602,
                        format!("query exceeds max results {cap}, retry with the range {from}-{fits}"),
                    ),
                    ResultCapStyle::Arbitrum => error(
                        id,
                        -32000,
                        format!("logs matched by query exceeds limit of {cap}"),
                    ),
                };
            }
        }
        answer
    }
}
