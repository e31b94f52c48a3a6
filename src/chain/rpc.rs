//! JSON-RPC access for one chain: every call has a timeout, transient failures (429, 5xx,
//! timeouts, dropped connections, garbled answers) are retried with exponential backoff and
//! jitter, and every error says which call failed and whether it may be retried.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, Bytes, B256, U256, U64};
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::client::RpcClient;
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::SolCall;
use alloy::transports::{RpcError as AlloyRpcError, TransportError, TransportErrorKind};
use backon::Retryable;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::refusals::{self, Refusal, RefusalKind};
use super::transport::HttpTransport;
use crate::config::FollowerConfig;
pub use crate::model::BlockRef;
use crate::retry::Backoff;

/// The parameters of a call that takes none, sent as `"params": []`. alloy sends `()` as
/// `"params": null`, which JSON-RPC 2.0 does not allow and some nodes (Hardhat's among them)
/// refuse as an invalid request, answering without the request's id.
const NO_PARAMS: [(); 0] = [];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBlock {
    number: U64,
    hash: B256,
    parent_hash: B256,
    timestamp: U64,
}

/// Who sent a transaction, to whom, and its input: what a Safe execution's calls are decoded
/// from when no event describes them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TxInput {
    pub from: Address,
    /// `None` for a contract creation.
    pub to: Option<Address>,
    pub input: Bytes,
}

/// The parts of a transaction receipt a log entry is checked against.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    pub block_hash: B256,
    pub block_number: U64,
    pub transaction_index: U64,
    pub logs: Vec<ReceiptLog>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptLog {
    pub address: Address,
    pub topics: Vec<B256>,
    pub data: Bytes,
    pub log_index: U64,
}

/// Why an RPC call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcErrorKind {
    /// Rate limited, 5xx, timeout, dropped connection, garbled answer: worth retrying.
    Transient,
    /// The node refuses the `eth_getLogs` range or result size: split the range.
    RangeTooLarge,
    /// The node answered that the block does not exist (yet, or any more).
    MissingBlock,
    /// Anything else: retrying will not help.
    Fatal,
}

/// An RPC failure, with the call and the node's answer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{method}: {message}")]
pub struct RpcError {
    pub method: &'static str,
    pub kind: RpcErrorKind,
    pub message: String,
    /// The provider's refusal, when the catalogue knows its text: how to split a refused
    /// `eth_getLogs` range. Boxed: errors travel in every `Result` of the client.
    pub refusal: Option<Box<Refusal>>,
    /// How long the provider asked us to wait (`Retry-After` of a 429 or 503).
    pub retry_after: Option<Duration>,
}

impl RpcError {
    /// An error of `kind` without a provider's refusal or wait.
    pub fn new(method: &'static str, kind: RpcErrorKind, message: impl Into<String>) -> RpcError {
        RpcError {
            method,
            kind,
            message: message.into(),
            refusal: None,
            retry_after: None,
        }
    }

    /// Worth asking again: a transient failure, or a block the node does not know — every
    /// call names a block at or below a head already seen (or a transaction of a log already
    /// fetched), so a node that does not know it is behind its peers (a load-balanced
    /// provider's backends lag each other) and catches up.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            RpcErrorKind::Transient | RpcErrorKind::MissingBlock
        )
    }

    fn classify(method: &'static str, err: TransportError) -> RpcError {
        let message = with_causes(&err);
        let mut refusal = None;
        let mut retry_after = None;
        let kind = match &err {
            AlloyRpcError::ErrorResp(payload) => {
                refusal = refusals::recognise(payload.code, &payload.message);
                let size = |r: &Refusal| {
                    matches!(
                        r.kind,
                        RefusalKind::TooManyResults
                            | RefusalKind::TooManyBlocks
                            | RefusalKind::TooLarge
                    )
                };
                match refusal {
                    Some(r) if method == "eth_getLogs" && size(&r) => RpcErrorKind::RangeTooLarge,
                    Some(r) if r.kind == RefusalKind::RateLimited => RpcErrorKind::Transient,
                    Some(r) if r.kind == RefusalKind::UnknownBlock => RpcErrorKind::MissingBlock,
                    _ => {
                        let m = payload.message.to_lowercase();
                        if payload.code == 429 || m.contains("timeout") {
                            RpcErrorKind::Transient
                        } else if payload.code == 3
                            || m.contains("revert")
                            || m.contains("missing trie node")
                            || m.contains("state not available")
                        {
                            // A revert, or state the node has pruned: asking again will not help.
                            RpcErrorKind::Fatal
                        } else if payload.code == -32603 || payload.code == -32000 {
                            // Internal errors of a node under load are usually passing.
                            RpcErrorKind::Transient
                        } else {
                            RpcErrorKind::Fatal
                        }
                    }
                }
            }
            AlloyRpcError::Transport(TransportErrorKind::HttpErrorWithRetryAfter {
                error,
                retry_after: wait,
            }) => {
                retry_after = Some(*wait);
                http_kind(method, error.status)
            }
            AlloyRpcError::Transport(TransportErrorKind::HttpError(http)) => {
                http_kind(method, http.status)
            }
            AlloyRpcError::Transport(_) => RpcErrorKind::Transient,
            AlloyRpcError::DeserError { .. } => RpcErrorKind::Transient,
            AlloyRpcError::NullResp => RpcErrorKind::MissingBlock,
            _ => RpcErrorKind::Fatal,
        };
        RpcError {
            method,
            kind,
            message: truncate(message),
            refusal: refusal.map(Box::new),
            retry_after,
        }
    }
}

/// What an HTTP error status of `method` means.
fn http_kind(method: &str, status: u16) -> RpcErrorKind {
    if status == 429 || status >= 500 || status == 408 {
        RpcErrorKind::Transient
    } else if status == 413 && method == "eth_getLogs" {
        RpcErrorKind::RangeTooLarge
    } else {
        RpcErrorKind::Fatal
    }
}

/// No wait a provider asks for is honoured beyond this (the retries still bound the total).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// An error's text followed by each cause's that it does not already say: "error sending
/// request for url (…): client error (Connect): tcp connect error: Connection refused (os
/// error 111)" rather than the first part alone.
fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let part = c.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = c.source();
    }
    text
}

fn truncate(mut s: String) -> String {
    if s.len() > 400 {
        let mut cut = 400;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// Retry policy and timeouts for one chain's calls.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub base: Duration,
    pub timeout: Duration,
}

impl RetryPolicy {
    /// The shared backoff: from `base`, doubling up to 64 times `base`, `max_retries` times.
    pub fn backoff(&self) -> Backoff {
        Backoff {
            initial: self.base,
            max: self.base.saturating_mul(64),
            retries: Some(self.max_retries as usize),
        }
    }
}

impl From<&FollowerConfig> for RetryPolicy {
    fn from(c: &FollowerConfig) -> Self {
        RetryPolicy {
            max_retries: c.max_retries,
            base: Duration::from_millis(c.retry_base_ms),
            timeout: Duration::from_millis(c.request_timeout_ms),
        }
    }
}

/// Told about every RPC attempt and how long it took, e.g. to count and time it; implemented
/// by the metrics of the layers above, so this client depends on none of them.
pub trait CallObserver: Send + Sync + std::fmt::Debug {
    /// One attempt of `method` was answered after `took`.
    fn answered(&self, method: &'static str, took: Duration);
    /// One attempt of `method` failed with `kind` after `took` (it may be retried).
    fn failed(&self, method: &'static str, kind: RpcErrorKind, took: Duration);
}

/// One chain's RPC endpoint with retries. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Rpc {
    provider: RootProvider,
    policy: RetryPolicy,
    /// Told of every attempt.
    observer: Option<Arc<dyn CallObserver>>,
}

impl Rpc {
    pub fn new(rpc_url: &str, policy: RetryPolicy) -> Result<Rpc, RpcError> {
        let url: url::Url = rpc_url.parse().map_err(|e| {
            RpcError::new(
                "connect",
                RpcErrorKind::Fatal,
                format!("bad rpc_url {rpc_url}: {e}"),
            )
        })?;
        let local = alloy::transports::utils::guess_local_url(url.as_str());
        let client = RpcClient::new(HttpTransport::new(url), local);
        Ok(Rpc {
            provider: RootProvider::new(client),
            policy,
            observer: None,
        })
    }

    /// Tells `observer` of every attempt.
    pub fn with_observer(mut self, observer: Arc<dyn CallObserver>) -> Rpc {
        self.observer = Some(observer);
        self
    }

    /// One call, retried while the failure is transient or the node does not know the block
    /// yet (see [`RpcError::is_retryable`]).
    pub(crate) async fn request<P, R>(&self, method: &'static str, params: P) -> Result<R, RpcError>
    where
        P: Serialize + Clone + Send + Sync + Unpin + std::fmt::Debug + 'static,
        R: DeserializeOwned + std::fmt::Debug + Send + Sync + Unpin + 'static,
    {
        self.request_checked(method, params, Ok).await
    }

    /// One call whose answer `check` must accept, both retried like [`Rpc::request`]: a
    /// `null` for something the chain is known to have is lag, retried by the caller's check
    /// returning [`RpcErrorKind::MissingBlock`].
    async fn request_checked<P, R, T>(
        &self,
        method: &'static str,
        params: P,
        check: impl Fn(R) -> Result<T, RpcError>,
    ) -> Result<T, RpcError>
    where
        P: Serialize + Clone + Send + Sync + Unpin + std::fmt::Debug + 'static,
        R: DeserializeOwned + std::fmt::Debug + Send + Sync + Unpin + 'static,
    {
        let attempt = || {
            let params = params.clone();
            let check = &check;
            async move {
                let call = self
                    .provider
                    .raw_request::<P, R>(Cow::Borrowed(method), params);
                let started = Instant::now();
                let answer = match tokio::time::timeout(self.policy.timeout, call).await {
                    Ok(Ok(v)) => check(v),
                    Ok(Err(e)) => Err(RpcError::classify(method, e)),
                    Err(_) => Err(RpcError::new(
                        method,
                        RpcErrorKind::Transient,
                        format!("no answer within {:?}", self.policy.timeout),
                    )),
                };
                if let Some(o) = &self.observer {
                    match &answer {
                        Ok(_) => o.answered(method, started.elapsed()),
                        Err(e) => o.failed(method, e.kind, started.elapsed()),
                    }
                }
                answer
            }
        };
        attempt
            .retry(self.policy.backoff().builder())
            .when(RpcError::is_retryable)
            // A provider that said how long to wait is waited for at least that long (capped);
            // `None` — no retry left — stays `None`.
            .adjust(|err, wait| {
                wait.map(|w| match err.retry_after {
                    Some(asked) => w.max(asked.min(MAX_RETRY_AFTER)),
                    None => w,
                })
            })
            .notify(|err, wait| {
                if err.kind == RpcErrorKind::MissingBlock {
                    tracing::debug!(%err, retry_in_ms = wait.as_millis() as u64, "node behind (lag); retrying")
                } else {
                    tracing::debug!(%err, retry_in_ms = wait.as_millis() as u64, "transient RPC failure; retrying")
                }
            })
            .await
    }

    pub async fn chain_id(&self) -> Result<u64, RpcError> {
        let id: U64 = self.request("eth_chainId", NO_PARAMS).await?;
        Ok(id.to())
    }

    pub async fn head(&self) -> Result<u64, RpcError> {
        let n: U64 = self.request("eth_blockNumber", NO_PARAMS).await?;
        Ok(n.to())
    }

    /// The receipt of transaction `hash`, or `None` if the node knows no such transaction.
    pub async fn receipt(&self, hash: B256) -> Result<Option<Receipt>, RpcError> {
        self.request("eth_getTransactionReceipt", (hash,)).await
    }

    /// The node's `finalized` block number, or `None` if it does not name one.
    pub async fn finalized(&self) -> Result<Option<u64>, RpcError> {
        let raw: Option<RawBlock> = self
            .request("eth_getBlockByNumber", ("finalized", false))
            .await?;
        Ok(raw.map(|b| b.number.to()))
    }

    /// The canonical block at `number`, or `None` if the node has no such block.
    pub async fn block(&self, number: u64) -> Result<Option<(BlockRef, u64)>, RpcError> {
        let raw: Option<RawBlock> = self
            .request("eth_getBlockByNumber", (U64::from(number), false))
            .await?;
        Ok(raw.map(|b| {
            (
                BlockRef {
                    number: b.number.to(),
                    hash: b.hash,
                    parent_hash: b.parent_hash,
                },
                b.timestamp.to(),
            )
        }))
    }

    /// The canonical block at `number`, which the chain is known to have (at or below a head
    /// already seen): a node that answers `null` is behind, and is asked again; its absence
    /// after the retries is an error.
    pub async fn block_ref(&self, number: u64) -> Result<BlockRef, RpcError> {
        self.request_checked(
            "eth_getBlockByNumber",
            (U64::from(number), false),
            |raw: Option<RawBlock>| {
                let b = raw.ok_or_else(|| {
                    RpcError::new(
                        "eth_getBlockByNumber",
                        RpcErrorKind::MissingBlock,
                        format!("block {number} not found"),
                    )
                })?;
                Ok(BlockRef {
                    number: b.number.to(),
                    hash: b.hash,
                    parent_hash: b.parent_hash,
                })
            },
        )
        .await
    }

    pub async fn logs(&self, filter: &Filter) -> Result<Vec<Log>, RpcError> {
        self.request("eth_getLogs", (filter.clone(),)).await
    }

    /// The recipient and input of a transaction the chain is known to have (one of a log
    /// already fetched): a node that answers `null` is behind, and is asked again; its absence
    /// after the retries is an error, never a silent gap.
    pub async fn transaction_input(&self, tx_hash: B256) -> Result<TxInput, RpcError> {
        self.request_checked(
            "eth_getTransactionByHash",
            (tx_hash,),
            |tx: Option<TxInput>| {
                tx.ok_or_else(|| {
                    RpcError::new(
                        "eth_getTransactionByHash",
                        RpcErrorKind::MissingBlock,
                        format!("transaction {tx_hash} not found"),
                    )
                })
            },
        )
        .await
    }

    /// The native balance of `address` at `block`.
    pub async fn balance(&self, address: Address, block: u64) -> Result<U256, RpcError> {
        self.request("eth_getBalance", (address, U64::from(block)))
            .await
    }

    pub async fn code_at(&self, address: Address, block: u64) -> Result<Bytes, RpcError> {
        self.request("eth_getCode", (address, U64::from(block)))
            .await
    }

    pub async fn storage_address(
        &self,
        address: Address,
        slot: B256,
        block: u64,
    ) -> Result<Address, RpcError> {
        let word: B256 = self
            .request(
                "eth_getStorageAt",
                (address, U256::from_be_bytes(slot.0), U64::from(block)),
            )
            .await?;
        Ok(Address::from_word(word))
    }

    /// `eth_call` of a `sol!` call at `block`, decoded; a revert or a garbled answer is an error.
    pub async fn call_decode<C: SolCall>(
        &self,
        to: Address,
        call: &C,
        block: u64,
    ) -> Result<C::Return, RpcError> {
        #[derive(Serialize, Clone, Debug)]
        struct CallRequest {
            to: Address,
            input: Bytes,
        }
        let req = CallRequest {
            to,
            input: call.abi_encode().into(),
        };
        let out: Bytes = self.request("eth_call", (req, U64::from(block))).await?;
        C::abi_decode_returns(&out).map_err(|e| {
            RpcError::new(
                "eth_call",
                RpcErrorKind::Fatal,
                format!("{} on {to} at block {block}: {e}", C::SIGNATURE),
            )
        })
    }
}

/// A stream that yields once per new head announced over WebSocket.
pub async fn subscribe_heads(
    ws_url: &str,
) -> Result<futures::stream::BoxStream<'static, ()>, RpcError> {
    use alloy::transports::ws::WsConnect;
    use futures::StreamExt;
    // Two quick reconnects of the transport's own; past those the stream ends and the
    // follower resubscribes with its own backoff, polling meanwhile. A keepalive ping finds a
    // connection that died without a close.
    let ws = WsConnect::new(ws_url)
        .with_max_retries(2)
        .with_retry_interval(Duration::from_secs(1))
        .with_keepalive_interval(Duration::from_secs(10));
    let client = alloy::rpc::client::ClientBuilder::default()
        .ws(ws)
        .await
        .map_err(|e| RpcError::classify("eth_subscribe", e))?;
    let provider = RootProvider::<alloy::network::Ethereum>::new(client);
    let sub = provider
        .subscribe_blocks()
        .await
        .map_err(|e| RpcError::classify("eth_subscribe", e))?;
    // The provider must live as long as the stream; move it into the stream's state.
    Ok(sub
        .into_stream()
        .map(move |_| {
            let _keep = &provider;
        })
        .boxed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refused_connection_says_so() {
        // A port nothing listens on: bind one, then free it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let rpc = Rpc::new(
            &format!("http://127.0.0.1:{port}"),
            RetryPolicy {
                max_retries: 0,
                base: Duration::from_millis(1),
                timeout: Duration::from_secs(5),
            },
        )
        .unwrap();
        let e = rpc.head().await.unwrap_err();
        assert_eq!(e.kind, RpcErrorKind::Transient);
        assert!(
            e.message.to_lowercase().contains("connection refused"),
            "the cause is named: {e}"
        );
    }
}
