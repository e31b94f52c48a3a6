//! The event catalog: `sol!` bindings generated from `abis/`, and the decoding of a raw log into a
//! typed [`GroupEvent`], dispatched on topic0: Safe events ([`safe`]), governance events —
//! Governor, Timelock, AccessControl, Ownable, ERC-20 `Transfer` ([`governance`]) — token
//! allowances, ERC-721 and ERC-1155 events ([`token`]), and EIP-1967 proxy events ([`proxy`]).
//! Beside it, the call catalog ([`calls`]): what a Safe execution's call data did, batches
//! unpacked.

pub mod calls;
pub mod governance;
pub mod proxy;
pub mod safe;
pub mod token;

pub use governance::{GovernanceEvent, TRANSFER_TOPIC};
pub use proxy::ProxyEvent;
pub use safe::{decode_safe_event, SafeEvent};
pub use token::{treasury_topics, TokenEvent};

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

pub(crate) fn decimals<S: serde::Serializer>(v: &[U256], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|x| x.to_string()))
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
    Token(TokenEvent),
    Proxy(ProxyEvent),
}

impl GroupEvent {
    pub fn kind(&self) -> RecordKind {
        match self {
            GroupEvent::Safe(e) => e.kind(),
            GroupEvent::Governance(e) => e.kind(),
            GroupEvent::Token(e) => e.kind(),
            GroupEvent::Proxy(e) => e.kind(),
        }
    }
    pub fn category(&self) -> Category {
        match self {
            GroupEvent::Safe(e) => e.category(),
            GroupEvent::Governance(e) => e.category(),
            GroupEvent::Token(e) => e.category(),
            GroupEvent::Proxy(e) => e.category(),
        }
    }

    /// The two accounts a token transfer or approval is between, with which the fold decides
    /// whether a log from any emitter concerns a group's treasury (either side among its
    /// addresses): `(from, to)` of an ERC-20, ERC-721 or ERC-1155 transfer (an ERC-1155
    /// operator is not a party), `(owner, spender)` of an ERC-20 `Approval`, `(owner, approved)`
    /// of an ERC-721 `Approval`, `(owner, operator)` of an `ApprovalForAll`. `None` for every
    /// other event: those are the group's by their emitter, not by their parties.
    pub fn parties(&self) -> Option<(Address, Address)> {
        match self {
            GroupEvent::Governance(GovernanceEvent::Transfer { from, to, .. }) => {
                Some((*from, *to))
            }
            GroupEvent::Token(e) => Some(e.parties()),
            _ => None,
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
    Token,
    Proxy,
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
        for t in token::topics() {
            m.insert(t, Family::Token);
        }
        for t in proxy::topics() {
            m.insert(t, Family::Proxy);
        }
        m
    })
}

/// Every topic0 emitted by watched contracts, to filter `eth_getLogs` by address: Safe,
/// governance and EIP-1967 proxy events. (Token transfers and approvals are fetched separately,
/// from any emitter, by [`treasury_topics`] with a treasury address in an indexed position.)
pub fn catalog_topics() -> Vec<B256> {
    let mut v: Vec<B256> = families()
        .iter()
        .filter(|(t, family)| **t != TRANSFER_TOPIC && **family != Family::Token)
        .map(|(t, _)| *t)
        .collect();
    v.sort();
    v
}

/// Decodes an event from its topics and data, dispatching on topic0.
pub fn decode_event(topics: &[B256], data: &[u8]) -> Result<GroupEvent, DecodeError> {
    let topic0 = *topics.first().ok_or(DecodeError::Anonymous)?;
    match families().get(&topic0) {
        Some(Family::Safe) => decode_safe_event(topics, data).map(GroupEvent::Safe),
        // ERC-721 `Transfer` shares ERC-20's topic0, with the token id as a fourth topic.
        Some(Family::Governance) if token::is_nft_transfer(topics) => {
            token::decode(topics, data).map(GroupEvent::Token)
        }
        Some(Family::Governance) => governance::decode(topics, data).map(GroupEvent::Governance),
        Some(Family::Token) => token::decode(topics, data).map(GroupEvent::Token),
        Some(Family::Proxy) => proxy::decode(topics, data).map(GroupEvent::Proxy),
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
