//! The range fetcher: everything one block range needs before anything is written — its logs
//! (by emitter, and ERC-20 transfers from or to the treasury), its block refs, the inputs of the
//! transactions named, the hashes of blocks named, and contract readings — so that no network
//! call happens while a database transaction is open.
//!
//! Invariant: a [`RawBatch`] is consistent — its logs belong to its block refs (headers first,
//! logs second, the last header again third; a chain that moved in between is refused).

use std::collections::{BTreeMap, HashMap};

use alloy::primitives::{Address, B256};
use alloy::rpc::types::{Filter, Log};
use futures::StreamExt;

use super::range::AdaptiveRange;
use super::read::{read, ReadRequest, Reading};
use super::rpc::{BlockRef, Rpc, RpcError, RpcErrorKind, TxInput};
use super::trace::{trace_transaction, TraceMode, TracedCall};

/// At most this many header, input or reading requests of one batch are in flight at once.
const PARALLEL_REQUESTS: usize = 8;

/// Which logs a lane follows.
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    /// Emitters, with the catalog's topics.
    pub addresses: Vec<Address>,
    pub topics: Vec<B256>,
    /// Treasury addresses as topics: `transfer_topic` logs from (topic 1) or to (topic 2) them,
    /// whoever emits them.
    pub treasury: Vec<B256>,
    pub transfer_topic: B256,
}

/// The logs of a block range and its block refs (every block near the head, else the last).
#[derive(Debug, Clone)]
pub struct RawBatch {
    pub from: u64,
    pub to: u64,
    pub logs: Vec<Log>,
    pub blocks: Vec<BlockRef>,
}

/// Fetches the logs and block refs of `a..=b` (each logs request split as the node demands).
#[tracing::instrument(skip_all, fields(from = a, to = b))]
pub async fn fetch_range(
    rpc: &Rpc,
    range: &AdaptiveRange,
    query: &LogQuery,
    a: u64,
    b: u64,
    all_headers: bool,
) -> Result<RawBatch, RpcError> {
    // Headers first, logs second, the last header again third: if the chain moved between the
    // first and the third, the batch is refused (the last block's hash changed), and if it
    // moved between the headers and the logs, a log's block hash betrays it. Fetching logs
    // first could pair old-fork logs with new-fork headers and lose an event silently.
    let numbers: Vec<u64> = if all_headers {
        (a..=b).collect()
    } else {
        vec![b]
    };
    let blocks = block_refs(rpc, numbers).await?;
    let mut logs = Vec::new();
    if !query.addresses.is_empty() {
        let by_emitter = Filter::new()
            .address(query.addresses.clone())
            .event_signature(query.topics.clone());
        logs.extend(range.logs(rpc, &by_emitter, a, b).await?);
    }
    if !query.treasury.is_empty() {
        let transfers = Filter::new().event_signature(query.transfer_topic);
        let out = transfers.clone().topic1(query.treasury.clone());
        let into = transfers.topic2(query.treasury.clone());
        logs.extend(range.logs(rpc, &out, a, b).await?);
        logs.extend(range.logs(rpc, &into, a, b).await?);
    }
    logs.sort_by_key(|l| (l.block_number, l.log_index));
    // A transfer between two treasuries (or from a watched contract) comes back twice.
    logs.dedup_by_key(|l| (l.block_number, l.log_index));
    let last = rpc.block_ref(b).await?;
    if blocks.last() != Some(&last) {
        return Err(RpcError {
            method: "eth_getBlockByNumber",
            kind: RpcErrorKind::Transient,
            message: format!("block {b} changed while its range was fetched (reorg)"),
        });
    }
    Ok(RawBatch {
        from: a,
        to: b,
        logs,
        blocks,
    })
}

/// The canonical block refs of `numbers`, in order.
pub async fn block_refs(rpc: &Rpc, numbers: Vec<u64>) -> Result<Vec<BlockRef>, RpcError> {
    futures::stream::iter(numbers)
        .map(|n| async move { rpc.block_ref(n).await })
        .buffered(PARALLEL_REQUESTS)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// Recipient and input of each transaction the node knows, by hash.
pub async fn transaction_inputs(
    rpc: &Rpc,
    txs: Vec<B256>,
) -> Result<HashMap<B256, TxInput>, RpcError> {
    futures::stream::iter(txs)
        .map(|tx| async move { rpc.transaction_input(tx).await.map(|i| (tx, i)) })
        .buffered(PARALLEL_REQUESTS)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .filter_map(|r| match r {
            Ok((tx, Some(input))) => Some(Ok((tx, input))),
            Ok((_, None)) => None,
            Err(e) => Some(Err(e)),
        })
        .collect()
}

/// The transactions of `logs` that carry a log emitted by a treasury address of `query` (every
/// Safe execution and module execution emits one): the ones worth a call trace.
pub fn treasury_transactions(logs: &[Log], query: &LogQuery) -> Vec<B256> {
    let treasury: std::collections::BTreeSet<Address> = query
        .treasury
        .iter()
        .map(|w| Address::from_word(*w))
        .collect();
    let mut txs: Vec<B256> = logs
        .iter()
        .filter(|l| treasury.contains(&l.address()))
        .filter_map(|l| l.transaction_hash)
        .collect();
    txs.sort();
    txs.dedup();
    txs
}

/// The call traces of `txs` by `mode` (none when it is `off`), by transaction.
pub async fn traces(
    rpc: &Rpc,
    mode: TraceMode,
    txs: Vec<B256>,
) -> Result<HashMap<B256, Vec<TracedCall>>, RpcError> {
    if !matches!(mode, TraceMode::Debug | TraceMode::Parity) {
        return Ok(HashMap::new());
    }
    futures::stream::iter(txs)
        .map(|tx| async move { trace_transaction(rpc, mode, tx).await.map(|t| (tx, t)) })
        .buffered(PARALLEL_REQUESTS)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .filter_map(|r| match r {
            Ok((tx, Some(t))) => Some(Ok((tx, t))),
            Ok((_, None)) => None,
            Err(e) => Some(Err(e)),
        })
        .collect()
}

/// Every request read, each once.
pub async fn readings(
    rpc: &Rpc,
    range: &AdaptiveRange,
    requests: Vec<ReadRequest>,
) -> Result<BTreeMap<ReadRequest, Reading>, RpcError> {
    futures::stream::iter(requests)
        .map(|r| async move { read(rpc, range, r).await.map(|x| (r, x)) })
        .buffered(PARALLEL_REQUESTS)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}
