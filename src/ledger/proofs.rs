//! Reading the log back for others: pages of entries, inclusion and consistency proofs, each
//! from `O(log n)` stored nodes.

use serde::Serialize;

use super::merkle::{self, Hash};
use super::seal::{root_at, LedgerError};
use crate::store::{LogEntry, Store};

/// The most entries one read returns.
pub const MAX_ENTRIES: u64 = 1000;

/// `PATH(index, D[tree_size])` with what it proves.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InclusionProof {
    pub index: u64,
    pub tree_size: u64,
    #[schema(value_type = String)]
    pub leaf_hash: Hash,
    #[schema(value_type = String)]
    pub root: Hash,
    #[schema(value_type = Vec<String>)]
    pub proof: Vec<Hash>,
}

/// `PROOF(from, D[to])` with the two roots it links.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    #[schema(value_type = String)]
    pub old_root: Hash,
    #[schema(value_type = String)]
    pub new_root: Hash,
    #[schema(value_type = Vec<String>)]
    pub proof: Vec<Hash>,
}

fn range(message: String) -> LedgerError {
    LedgerError::Range(message)
}

/// Entries `start..end` (at most [`MAX_ENTRIES`]) of `chain`'s log.
pub async fn entries(
    store: &Store,
    chain: &str,
    start: u64,
    end: Option<u64>,
) -> Result<Vec<LogEntry>, LedgerError> {
    let size = store.log_size(chain).await?;
    let end = end.unwrap_or(size).min(size);
    if start > end {
        return Err(range(format!(
            "start {start} is past end {end} (the log has {size} entries)"
        )));
    }
    let end = end.min(start.saturating_add(MAX_ENTRIES));
    Ok(store.log_entries(chain, start, end).await?)
}

/// The proof that entry `index` is in the tree of `size` entries (default: the whole log).
pub async fn inclusion(
    store: &Store,
    chain: &str,
    index: u64,
    size: Option<u64>,
) -> Result<InclusionProof, LedgerError> {
    let log_size = store.log_size(chain).await?;
    let size = size.unwrap_or(log_size);
    if size > log_size {
        return Err(range(format!(
            "size {size} is past the log's {log_size} entries"
        )));
    }
    if index >= size {
        return Err(range(format!("index {index} is not below size {size}")));
    }
    let mut ids = merkle::inclusion_proof_nodes(index, size)?;
    ids.push(merkle::NodeId::leaf(index));
    ids.extend(merkle::root_nodes(size));
    let nodes = super::seal::nodes(store, chain, &ids).await?;
    let proof = merkle::inclusion_proof(&nodes, index, size)?;
    Ok(InclusionProof {
        index,
        tree_size: size,
        leaf_hash: merkle::NodeSource::node(&nodes, merkle::NodeId::leaf(index))?,
        root: merkle::root(&nodes, size)?,
        proof,
    })
}

/// The proof that the tree of `from` entries is a prefix of the tree of `to` (default: the
/// whole log).
pub async fn consistency(
    store: &Store,
    chain: &str,
    from: u64,
    to: Option<u64>,
) -> Result<ConsistencyProof, LedgerError> {
    let log_size = store.log_size(chain).await?;
    let to = to.unwrap_or(log_size);
    if to > log_size {
        return Err(range(format!(
            "to {to} is past the log's {log_size} entries"
        )));
    }
    if from > to {
        return Err(range(format!("from {from} is past to {to}")));
    }
    let ids = merkle::consistency_proof_nodes(from, to)?;
    let nodes = super::seal::nodes(store, chain, &ids).await?;
    let proof = merkle::consistency_proof(&nodes, from, to)?;
    Ok(ConsistencyProof {
        from,
        to,
        old_root: root_at(store, chain, from).await?,
        new_root: root_at(store, chain, to).await?,
        proof,
    })
}
