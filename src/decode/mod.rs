//! The event catalog: `sol!` bindings generated from `abis/`, and the decoding of a raw log into a
//! typed [`GroupEvent`], dispatched on topic0: Safe events ([`safe`]) and governance events —
//! Governor, Timelock, AccessControl, Ownable, ERC-20 ([`governance`]). Beside it, the call
//! catalog ([`calls`]): what a Safe execution's call data did, batches unpacked.

pub mod calls;
pub mod governance;
pub mod safe;

pub use governance::{GovernanceEvent, TRANSFER_TOPIC};
pub use safe::{decode_safe_event, SafeEvent};

use std::collections::HashMap;
use std::sync::OnceLock;

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::rpc::types::Log;
use serde::Serialize;

pub use crate::model::{Category, RecordKind};

/// The contract interfaces (`sol!` bindings), also under their own name [`crate::abi`].
pub use crate::abi;

pub(crate) fn decimal<S: serde::Serializer>(v: &U256, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

/// Where a record comes from on the chain: enough to find it again and check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub chain_id: u64,
    pub block_number: u64,
    pub block_hash: B256,
    pub tx_hash: B256,
    pub tx_index: u64,
    pub log_index: u64,
    pub block_timestamp: Option<u64>,
}

/// Any event the catalog knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum GroupEvent {
    Safe(SafeEvent),
    Governance(GovernanceEvent),
}

impl GroupEvent {
    pub fn kind(&self) -> RecordKind {
        match self {
            GroupEvent::Safe(e) => e.kind(),
            GroupEvent::Governance(e) => e.kind(),
        }
    }
    pub fn category(&self) -> Category {
        match self {
            GroupEvent::Safe(e) => e.category(),
            GroupEvent::Governance(e) => e.category(),
        }
    }
}

/// A log the catalog could not turn into an event; it is kept as an `unknown` record, not lost.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("log {log_index:?} in block {block:?}: missing {field}")]
    MissingField {
        block: Option<u64>,
        log_index: Option<u64>,
        field: &'static str,
    },
    #[error("no topic0: anonymous events are not in the catalog")]
    Anonymous,
    #[error("topic0 {0} is not in the catalog")]
    UnknownTopic(B256),
    #[error("topic0 {topic0} matches the catalog but the log does not decode with any known layout ({topics} topics, {data_len} data bytes): {reason}")]
    BadLayout {
        topic0: B256,
        topics: usize,
        data_len: usize,
        reason: String,
    },
}

/// A raw log, its evidence, and what the catalog made of it.
#[derive(Debug, Clone)]
pub struct DecodedLog {
    pub evidence: Evidence,
    pub address: Address,
    pub topics: Vec<B256>,
    pub data: Bytes,
    pub event: Result<GroupEvent, DecodeError>,
}

/// Which decoder a topic0 belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Safe,
    Governance,
}

fn families() -> &'static HashMap<B256, Family> {
    static FAMILIES: OnceLock<HashMap<B256, Family>> = OnceLock::new();
    FAMILIES.get_or_init(|| {
        let mut m = HashMap::new();
        for t in safe::topics() {
            m.insert(t, Family::Safe);
        }
        for t in governance::topics() {
            m.insert(t, Family::Governance);
        }
        m
    })
}

/// Every topic0 emitted by watched contracts, to filter `eth_getLogs` by address. (ERC-20
/// transfers are fetched separately, by [`TRANSFER_TOPIC`] and the treasury in topic 1 or 2.)
pub fn catalog_topics() -> Vec<B256> {
    let mut v: Vec<B256> = families()
        .keys()
        .copied()
        .filter(|t| *t != TRANSFER_TOPIC)
        .collect();
    v.sort();
    v
}

/// Decodes an event from its topics and data, dispatching on topic0.
pub fn decode_event(topics: &[B256], data: &[u8]) -> Result<GroupEvent, DecodeError> {
    let topic0 = *topics.first().ok_or(DecodeError::Anonymous)?;
    match families().get(&topic0) {
        Some(Family::Safe) => decode_safe_event(topics, data).map(GroupEvent::Safe),
        Some(Family::Governance) => governance::decode(topics, data).map(GroupEvent::Governance),
        None => Err(DecodeError::UnknownTopic(topic0)),
    }
}

/// Decodes one RPC log; `Err` only when the log lacks the chain position every record needs.
pub fn decode_log(chain_id: u64, log: &Log) -> Result<DecodedLog, DecodeError> {
    let missing = |field| DecodeError::MissingField {
        block: log.block_number,
        log_index: log.log_index,
        field,
    };
    let evidence = Evidence {
        chain_id,
        block_number: log.block_number.ok_or_else(|| missing("blockNumber"))?,
        block_hash: log.block_hash.ok_or_else(|| missing("blockHash"))?,
        tx_hash: log
            .transaction_hash
            .ok_or_else(|| missing("transactionHash"))?,
        tx_index: log
            .transaction_index
            .ok_or_else(|| missing("transactionIndex"))?,
        log_index: log.log_index.ok_or_else(|| missing("logIndex"))?,
        block_timestamp: log.block_timestamp,
    };
    let topics = log.topics().to_vec();
    let data = log.data().data.clone();
    let event = decode_event(&topics, &data);
    Ok(DecodedLog {
        evidence,
        address: log.address(),
        topics,
        data,
        event,
    })
}
