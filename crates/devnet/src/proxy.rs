//! A JSON-RPC proxy in front of a devnet that behaves like a hosted provider in front of a tall
//! chain, for tests and benchmarks that cannot leave this machine:
//!
//! - **Height shift**: the chain appears `offset` blocks taller. Block `p` of the proxy is block
//!   `p - offset` of the node; the `offset` blocks below are an empty prehistory (no code, no
//!   logs, synthetic headers). A chain 20,000,000 blocks tall costs nothing to make, where
//!   `anvil_mine` grows quadratically with the count.
//! - **Provider limits**: `eth_getLogs` over more than `max_log_range` blocks is refused with the
//!   JSON-RPC error -32005 and a message in the style of the hosted providers.
//! - **Latency and stalls**: every call can wait a fixed round trip, and calls a rule picks can
//!   stall for seconds (a slow archive read).
//! - **Counting**: calls by method, and `eth_getLogs` by whether they read prehistory.
//!
//! HTTP only; single requests and batches.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy::primitives::{keccak256, B256};
use anyhow::{Context, Result};
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

/// Picks calls to delay: `(method, params)` → how long.
pub type StallRule = Arc<dyn Fn(&str, &Value) -> Option<Duration> + Send + Sync>;

/// How the proxy behaves.
#[derive(Clone, Default)]
pub struct ProxyOptions {
    /// Blocks added below the node's genesis.
    pub offset: u64,
    /// The widest `eth_getLogs` range answered.
    pub max_log_range: Option<u64>,
    /// A round trip added to every call.
    pub latency: Duration,
    /// Extra delays for some calls.
    pub stall: Option<StallRule>,
}

/// What went through the proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyCounts {
    /// Calls by method (each request of a batch counted).
    pub by_method: BTreeMap<String, u64>,
    /// `eth_getLogs` calls refused for their range.
    pub refused_ranges: u64,
}

impl ProxyCounts {
    pub fn total(&self) -> u64 {
        self.by_method.values().sum()
    }

    pub fn of(&self, method: &str) -> u64 {
        self.by_method.get(method).copied().unwrap_or(0)
    }
}

struct Shared {
    upstream: String,
    http: reqwest::Client,
    options: ProxyOptions,
    counts: Mutex<ProxyCounts>,
    /// The node's genesis timestamp, for synthetic prehistory headers.
    genesis_time: u64,
}

/// A running proxy; stops when dropped.
pub struct RpcProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RpcProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RpcProxy {
    /// Starts a proxy on `127.0.0.1:0` in front of the node at `upstream`.
    pub async fn start(upstream: &str, options: ProxyOptions) -> Result<RpcProxy> {
        let http = reqwest::Client::new();
        let genesis: Value = http
            .post(upstream)
            .json(
                &json!({"jsonrpc": "2.0", "id": 0, "method": "eth_getBlockByNumber",
                "params": ["0x0", false]}),
            )
            .send()
            .await
            .context("reading the node's genesis")?
            .json()
            .await?;
        let genesis_time = hex_u64(&genesis["result"]["timestamp"]).unwrap_or(0);
        let shared = Arc::new(Shared {
            upstream: upstream.to_string(),
            http,
            options,
            counts: Mutex::new(ProxyCounts::default()),
            genesis_time,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/", post(handle))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(RpcProxy { addr, shared, task })
    }

    /// The proxy's HTTP URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What went through so far.
    pub fn counts(&self) -> ProxyCounts {
        self.shared.counts.lock().expect("counts").clone()
    }

    /// Forgets what was counted.
    pub fn reset_counts(&self) {
        *self.shared.counts.lock().expect("counts") = ProxyCounts::default();
    }

    /// The proxy's block number of the node's block `n`.
    pub fn shifted(&self, n: u64) -> u64 {
        n + self.shared.options.offset
    }
}

async fn handle(State(s): State<Arc<Shared>>, Json(body): Json<Value>) -> Json<Value> {
    match body {
        Value::Array(calls) => {
            let mut out = Vec::with_capacity(calls.len());
            for c in calls {
                out.push(one(&s, c).await);
            }
            Json(Value::Array(out))
        }
        call => Json(one(&s, call).await),
    }
}

fn hex_u64(v: &Value) -> Option<u64> {
    u64::from_str_radix(v.as_str()?.trim_start_matches("0x"), 16).ok()
}

fn hex(n: u64) -> Value {
    Value::String(format!("0x{n:x}"))
}

/// The hash of prehistory block `n`.
fn prehistory_hash(n: u64) -> B256 {
    keccak256(format!("prehistory {n}"))
}

/// A block parameter as the node sees it: `Ok(node block)` or `Err(())` for prehistory.
enum Block {
    Node(Value),
    Prehistory(u64),
}

fn map_block(param: &Value, offset: u64) -> Block {
    match hex_u64(param) {
        Some(p) if p < offset => Block::Prehistory(p),
        Some(p) => Block::Node(hex(p - offset)),
        None => Block::Node(param.clone()),
    }
}

fn error(id: &Value, code: i64, message: String) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn answer(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

async fn one(s: &Shared, call: Value) -> Value {
    let id = call["id"].clone();
    let method = call["method"].as_str().unwrap_or("").to_string();
    let params = call["params"].clone();
    {
        let mut c = s.counts.lock().expect("counts");
        *c.by_method.entry(method.clone()).or_default() += 1;
    }
    let mut delay = s.options.latency;
    if let Some(rule) = &s.options.stall {
        delay += rule(&method, &params).unwrap_or_default();
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let offset = s.options.offset;
    let mut params = params;
    match method.as_str() {
        "eth_getLogs" => {
            let filter = &mut params[0];
            let from = hex_u64(&filter["fromBlock"]);
            let to = hex_u64(&filter["toBlock"]);
            if let (Some(from), Some(to), Some(max)) = (from, to, s.options.max_log_range) {
                if to >= from && to - from + 1 > max {
                    s.counts.lock().expect("counts").refused_ranges += 1;
                    return error(
                        &id,
                        -32005,
                        format!(
                            "query exceeds max block range {max}; try with this block range [0x{from:x}, 0x{:x}]",
                            from + max - 1
                        ),
                    );
                }
            }
            if to.is_some_and(|t| t < offset) {
                return answer(&id, json!([]));
            }
            if let Some(from) = from {
                filter["fromBlock"] = hex(from.max(offset) - offset);
            }
            if let Some(to) = to {
                filter["toBlock"] = hex(to - offset);
            }
        }
        "eth_getCode" | "eth_getStorageAt" | "eth_call" | "eth_getBalance" => {
            let last = params.as_array().map(|a| a.len()).unwrap_or(0);
            if last > 0 {
                match map_block(&params[last - 1], offset) {
                    Block::Prehistory(_) => {
                        // Nothing was deployed yet: no code, empty storage, calls return nothing.
                        let result = match method.as_str() {
                            "eth_getStorageAt" => Value::String(format!("0x{}", "0".repeat(64))),
                            "eth_getBalance" => hex(0),
                            _ => Value::String("0x".into()),
                        };
                        return answer(&id, result);
                    }
                    Block::Node(b) => params[last - 1] = b,
                }
            }
        }
        "eth_getBlockByNumber" => match map_block(&params[0], offset) {
            Block::Prehistory(p) => {
                let parent = p.checked_sub(1).map(prehistory_hash).unwrap_or_default();
                let time = s.genesis_time.saturating_sub((offset - p) * 12);
                return answer(
                    &id,
                    json!({"number": hex(p), "hash": prehistory_hash(p), "parentHash": parent,
                        "timestamp": hex(time), "transactions": []}),
                );
            }
            Block::Node(b) => params[0] = b,
        },
        _ => {}
    }
    let forwarded = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    let reply: Value = match s.http.post(&s.upstream).json(&forwarded).send().await {
        Ok(r) => match r.json().await {
            Ok(v) => v,
            Err(e) => return error(&id, -32603, format!("upstream answer: {e}")),
        },
        Err(e) => return error(&id, -32603, format!("upstream: {e}")),
    };
    if offset == 0 {
        return reply;
    }
    let mut reply = reply;
    let result = &mut reply["result"];
    match method.as_str() {
        "eth_blockNumber" => {
            if let Some(n) = hex_u64(result) {
                *result = hex(n + offset);
            }
        }
        "eth_getBlockByNumber" | "eth_getBlockByHash" => shift_block(result, offset),
        "eth_getLogs" => {
            if let Some(logs) = result.as_array_mut() {
                for l in logs {
                    shift_number(&mut l["blockNumber"], offset);
                }
            }
        }
        "eth_getTransactionReceipt" => {
            shift_number(&mut result["blockNumber"], offset);
            if let Some(logs) = result["logs"].as_array_mut() {
                for l in logs {
                    shift_number(&mut l["blockNumber"], offset);
                }
            }
        }
        "eth_getTransactionByHash" => shift_number(&mut result["blockNumber"], offset),
        _ => {}
    }
    reply
}

fn shift_number(v: &mut Value, offset: u64) {
    if let Some(n) = hex_u64(v) {
        *v = hex(n + offset);
    }
}

fn shift_block(block: &mut Value, offset: u64) {
    if block.is_null() {
        return;
    }
    let n = hex_u64(&block["number"]);
    shift_number(&mut block["number"], offset);
    if n == Some(0) {
        // The node's genesis follows the last prehistory block.
        block["parentHash"] = json!(prehistory_hash(offset - 1));
    }
}
