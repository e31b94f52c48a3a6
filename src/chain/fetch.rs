//! The range fetcher: everything one block range needs before anything is written — its logs
//! (by emitter, and token transfers and approvals naming a treasury), its block refs, the inputs of the
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
    /// Treasury addresses as topics, looked for in the indexed positions `by_treasury` names,
    /// whoever emits the logs.
    pub treasury: Vec<B256>,
    /// One `eth_getLogs` filter each: logs of any of its topic0 values with a treasury address
    /// in its position.
    pub by_treasury: Vec<TreasuryFilter>,
}

/// Logs from any emitter with one of `events` as topic0 and a treasury address as topic
/// `position` (1, 2 or 3): one request, its topic0 values an OR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreasuryFilter {
    pub position: usize,
    pub events: Vec<B256>,
}

impl LogQuery {
    /// The filters of the logs that name a treasury: one per entry of `by_treasury` (a
    /// position out of 1..=3 or without events is skipped), none without treasury addresses.
    pub fn treasury_filters(&self) -> Vec<Filter> {
        if self.treasury.is_empty() {
            return Vec::new();
        }
        self.by_treasury
            .iter()
            .filter(|f| !f.events.is_empty())
            .filter_map(|f| {
                let filter = Filter::new().event_signature(f.events.clone());
                let treasury = self.treasury.clone();
                match f.position {
                    1 => Some(filter.topic1(treasury)),
                    2 => Some(filter.topic2(treasury)),
                    3 => Some(filter.topic3(treasury)),
                    _ => None,
                }
            })
            .collect()
    }
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
    let mut filters = Vec::new();
    if !query.addresses.is_empty() {
        filters.push(
            Filter::new()
                .address(query.addresses.clone())
                .event_signature(query.topics.clone()),
        );
    }
    filters.extend(query.treasury_filters());
    // The filters side by side: at the head, a provider's round trip per filter is most of a
    // step's time.
    let mut logs: Vec<Log> =
        futures::future::try_join_all(filters.iter().map(|f| range.logs(rpc, f, a, b)))
            .await?
            .into_iter()
            .flatten()
            .collect();
    logs.sort_by_key(|l| (l.block_number, l.log_index));
    // A transfer between two treasuries (or from a watched contract) comes back more than once.
    logs.dedup_by_key(|l| (l.block_number, l.log_index));
    let last = rpc.block_ref(b).await?;
    if blocks.last() != Some(&last) {
        return Err(RpcError::new(
            "eth_getBlockByNumber",
            RpcErrorKind::Transient,
            format!("block {b} changed while its range was fetched (reorg)"),
        ));
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

/// Recipient and input of each transaction (of logs already fetched), by hash.
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

#[cfg(test)]
mod tests {
    use alloy::rpc::types::FilterSet;

    use super::*;

    fn t(n: u8) -> B256 {
        B256::repeat_byte(n)
    }

    fn set(values: &[B256]) -> FilterSet<B256> {
        values.to_vec().into()
    }

    #[test]
    fn one_filter_per_position_with_its_events_ored() {
        let query = LogQuery {
            treasury: vec![t(0xa), t(0xb)],
            by_treasury: vec![
                TreasuryFilter {
                    position: 1,
                    events: vec![t(1), t(2), t(3)],
                },
                TreasuryFilter {
                    position: 2,
                    events: vec![t(1), t(4)],
                },
                TreasuryFilter {
                    position: 3,
                    events: vec![t(4)],
                },
            ],
            ..Default::default()
        };
        let filters = query.treasury_filters();
        assert_eq!(filters.len(), 3);
        for (filter, (position, events)) in filters.iter().zip([
            (1, vec![t(1), t(2), t(3)]),
            (2, vec![t(1), t(4)]),
            (3, vec![t(4)]),
        ]) {
            assert_eq!(filter.topics[0], set(&events));
            for p in 1..4 {
                let expected = if p == position {
                    set(&[t(0xa), t(0xb)])
                } else {
                    FilterSet::default()
                };
                assert_eq!(filter.topics[p], expected, "position {p}");
            }
            // From any emitter.
            assert!(filter.address.is_empty());
        }
    }

    #[test]
    fn no_treasury_no_filters() {
        let query = LogQuery {
            by_treasury: vec![TreasuryFilter {
                position: 1,
                events: vec![t(1)],
            }],
            ..Default::default()
        };
        assert!(query.treasury_filters().is_empty());
        let odd = LogQuery {
            treasury: vec![t(0xa)],
            by_treasury: vec![
                TreasuryFilter {
                    position: 0,
                    events: vec![t(1)],
                },
                TreasuryFilter {
                    position: 2,
                    events: vec![],
                },
            ],
            ..Default::default()
        };
        assert!(odd.treasury_filters().is_empty());
    }
}
