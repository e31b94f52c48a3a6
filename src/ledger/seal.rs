//! Sealing: rows that have become final — at or below the chain's finalized block and indexed
//! by every group of the chain — enter the chain's log in chain order, and a checkpoint is
//! signed over the grown tree. A covenant period whose last block is sealed is stated right
//! after that block's leaves ([`super::statement`]).
//!
//! Invariant: a group's rows enter the log once, in one transaction with the group's sealed
//! height; a checkpoint is signed only after the new tree has been proven consistent with the
//! last one signed, so the daemon never signs two trees of which one is not a prefix of the
//! other.

use std::collections::{BTreeMap, HashMap};

use alloy::primitives::B256;

use super::keys::LogKey;
use super::leaf::{Leaf, LeafError, Position, Verdict, VerdictItem};
use super::merkle::{self, Frontier, Hash, MerkleError, NodeId};
use super::note::{Checkpoint, NoteError, SigningKey};
use super::statement::{self, DuePeriod, Stamps};
use crate::config::Settings;
use crate::store::{
    BatchTx, CovenantVersion, Divergence, LogTables, ManifestVersion, NewLogEntry, NewStatement,
    NodeKey, RecordRow, SealTx, Store, StoreError, StoredCheckpoint,
};

/// At most this many blocks enter the log per transaction, to bound memory on a long backlog.
const BLOCKS_PER_SEAL: i64 = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a stored record cannot be encoded as a leaf: {0}")]
    Leaf(#[from] LeafError),
    #[error("checkpoint: {0}")]
    Note(#[from] NoteError),
    #[error("log tree: {0}")]
    Merkle(#[from] MerkleError),
    /// A request for entries or sizes the log does not have.
    #[error("{0}")]
    Range(String),
    /// The stored tree is not an extension of the last signed checkpoint: the database was
    /// altered. Signing stops until an operator looks.
    #[error("refusing to sign: {0}")]
    Inconsistent(String),
    /// The latest checkpoint of a log was signed by none of the keys this daemon signs with:
    /// every replica must sign with the one configured key (or rotate, cosigning).
    #[error(
        "the latest checkpoint of the {chain} log (tree size {size}) is signed by {signers}, \
         not by the configured key {configured}: every replica must sign with the same \
         ledger.signing_key; to change it, set the key that signed as \
         ledger.previous_signing_key for the hand-over"
    )]
    ForeignKey {
        chain: String,
        size: u64,
        /// `name+id` of the keys this daemon signs with.
        configured: String,
        /// `name+id` of the keys that signed the checkpoint.
        signers: String,
    },
}

/// The log's identity on one chain and the keys that sign its checkpoints.
pub struct LogSigner {
    /// The first line of every checkpoint.
    pub origin: String,
    pub key: SigningKey,
    /// During a key rotation, the previous key: it signs every note too.
    pub cosigner: Option<SigningKey>,
}

impl LogSigner {
    /// The daemon's keys: the signing key `ledger.signing_key` if set, else `ledger.key` in the
    /// data directory, generated (and logged with its verifier key) on first start; with
    /// `ledger.previous_signing_key` and `ledger.retired_verifier_keys` beside it.
    pub fn key(settings: &Settings) -> Result<LogKey, LedgerError> {
        if !settings.ledger.signing_key.is_empty() {
            let key = SigningKey::parse(settings.ledger.signing_key.expose().trim())?;
            return LogKey::with_settings(key, settings);
        }
        let path = settings.data_dir.join("ledger.key");
        let (key, generated) = SigningKey::load_or_generate(&path, &settings.ledger.origin)?;
        if generated {
            tracing::info!(
                path = %path.display(),
                verifier = %key.verifier().encode(),
                "generated the key that signs log checkpoints"
            );
        }
        LogKey::with_settings(key, settings)
    }

    /// The signer of `chain`'s log.
    pub fn new(settings: &Settings, chain: &str, key: LogKey) -> LogSigner {
        LogSigner {
            origin: settings.ledger.origin_of(chain),
            key: key.current,
            cosigner: key.previous,
        }
    }

    /// The keys that sign: the key, then the cosigner.
    pub fn keys(&self) -> Vec<&SigningKey> {
        std::iter::once(&self.key)
            .chain(self.cosigner.as_ref())
            .collect()
    }
}

/// The tree after an append.
#[derive(Debug, Clone, Copy)]
pub struct Appended {
    /// The index of the first appended leaf.
    pub first: u64,
    pub size: u64,
    pub root: Hash,
}

/// Appends leaves in the given order under the log's lock, numbering them from its current
/// size: encodes and hashes each, extends the tree from its stored frontier, and writes the
/// leaves, the nodes they complete and the new size. The caller holds the transaction.
pub async fn append(log: &mut LogTables<'_>, leaves: Vec<Leaf>) -> Result<Appended, LedgerError> {
    append_each(log, Box::new(leaves.into_iter().map(Ok))).await
}

/// Leaves to append, built as they are taken.
type LeafIter<'a> = Box<dyn Iterator<Item = Result<Leaf, LedgerError>> + Send + 'a>;

/// [`append`] of leaves built one at a time (each dropped once encoded, so a large batch never
/// holds all its leaves decoded at once).
async fn append_each(
    log: &mut LogTables<'_>,
    leaves: LeafIter<'_>,
) -> Result<Appended, LedgerError> {
    let size = log.lock_head().await?;
    let ids: Vec<NodeKey> = merkle::root_nodes(size)
        .iter()
        .map(|id| (id.level, id.index))
        .collect();
    let nodes: HashMap<NodeId, Hash> = log
        .nodes(&ids)
        .await?
        .into_iter()
        .map(|((level, index), h)| (NodeId::new(level, index), Hash(h.0)))
        .collect();
    let mut frontier = Frontier::from_source(&nodes, size)
        .map_err(|e| StoreError::Corrupt(format!("log of {size} leaves: {e}")))?;
    let mut entries = Vec::with_capacity(leaves.size_hint().0);
    let mut new_nodes = Vec::with_capacity(leaves.size_hint().0 * 2);
    for leaf in leaves {
        let mut leaf = leaf?;
        leaf.set_index(frontier.size());
        let bytes = leaf.encode();
        let hash = merkle::leaf_hash(bytes.as_bytes());
        entries.push(NewLogEntry {
            index: frontier.size(),
            kind: leaf.kind(),
            group_id: leaf.group().map(str::to_string),
            block_number: leaf.block(),
            leaf_hash: B256::from(hash.0),
            leaf: bytes,
        });
        new_nodes.extend(
            frontier
                .append(hash)
                .into_iter()
                .map(|(id, h)| ((id.level, id.index), B256::from(h.0))),
        );
    }
    log.append(&entries, &new_nodes, frontier.size()).await?;
    Ok(Appended {
        first: size,
        size: frontier.size(),
        root: frontier.root(),
    })
}

/// Appends leaves to `chain`'s log in a transaction of their own (for tools and benchmarks;
/// the daemon appends while sealing).
pub async fn append_to_log(
    store: &Store,
    chain: &str,
    leaves: Vec<Leaf>,
) -> Result<Appended, LedgerError> {
    let mut tx = store.begin_log(chain).await?;
    let out = append(&mut tx.log(), leaves).await?;
    tx.commit().await?;
    Ok(out)
}

/// The stored hashes of the given nodes of `chain`'s log.
pub async fn nodes(
    store: &Store,
    chain: &str,
    ids: &[NodeId],
) -> Result<HashMap<NodeId, Hash>, StoreError> {
    let keys: Vec<NodeKey> = ids.iter().map(|id| (id.level, id.index)).collect();
    Ok(store
        .log_nodes(chain, &keys)
        .await?
        .into_iter()
        .map(|((level, index), h)| (NodeId::new(level, index), Hash(h.0)))
        .collect())
}

/// What one call to [`seal`] did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sealed {
    pub leaves: u64,
    /// The tree after the last append, if anything was appended.
    pub tree: Option<Appended>,
    /// Statements appended (among `leaves`).
    pub statements: u64,
    /// Sealing stopped before the last block of a period whose block timestamps were not
    /// given: fetch them and seal again.
    pub waiting: bool,
}

/// What sealing needs to state covenant periods: the chain's block time, the timestamps of the
/// periods' first and last blocks (fetched before the seal, [`statement::blocks_to_stamp`]),
/// and the signer of their notes.
pub struct StatementInputs<'a> {
    pub block_time_ms: u64,
    pub stamps: &'a Stamps,
    pub signer: Option<&'a LogSigner>,
}

/// Appends to `chain`'s log every record and manifest version of its groups up to
/// `final_block` that is not in it yet, holding back while a group is indexed less far. States
/// no covenant period ([`seal_with`] does).
pub async fn seal(
    store: &Store,
    chain: &str,
    chain_id: u64,
    final_block: i64,
) -> Result<Sealed, LedgerError> {
    seal_with(store, chain, chain_id, final_block, None).await
}

/// [`seal`], stating each covenant period whose last block enters the log, right after that
/// block's leaves; it stops before the last block of a period whose timestamps `statements`
/// lacks ([`Sealed::waiting`]).
pub async fn seal_with(
    store: &Store,
    chain: &str,
    chain_id: u64,
    final_block: i64,
    statements: Option<&StatementInputs<'_>>,
) -> Result<Sealed, LedgerError> {
    let mut out = Sealed::default();
    let covenants = match statements {
        Some(_) => store.covenants_cached().await?,
        None => Default::default(),
    };
    loop {
        let mut tx = store.begin_seal(chain).await?;
        let groups = tx.log().groups().await?;
        let Some(height) = groups
            .iter()
            .map(|g| g.synced_to)
            .min()
            .map(|h| h.min(final_block))
        else {
            return Ok(out);
        };
        let Some(lowest) = groups
            .iter()
            .map(|g| g.sealed_to)
            .filter(|s| *s < height)
            .min()
        else {
            return Ok(out);
        };
        let mut upto = height.min(lowest.saturating_add(BLOCKS_PER_SEAL));
        // The periods ending first in the range: sealed up to their last block and stated, or,
        // lacking their timestamps, sealed up to the block before.
        let mut due: Vec<DuePeriod> = Vec::new();
        if let (Some(inputs), false) = (statements, covenants.is_empty()) {
            let stated = tx.stated_periods().await?;
            let all = statement::due_periods(
                &covenants,
                &groups,
                inputs.block_time_ms,
                &stated,
                lowest,
                upto,
            );
            if let Some(end) = all.first().map(|d| d.to) {
                due = all.into_iter().take_while(|d| d.to == end).collect();
                let stamped = due.iter().all(|d| {
                    inputs.stamps.contains_key(&d.from) && inputs.stamps.contains_key(&d.to)
                });
                if stamped {
                    upto = end;
                } else {
                    upto = end - 1;
                    due.clear();
                    out.waiting = true;
                }
            }
        }
        if upto <= lowest {
            return Ok(out);
        }
        // Each group's rows in the range, read first; their leaves are built while appended.
        let mut rows = Vec::new();
        for g in groups.iter().filter(|g| g.sealed_to < upto) {
            let versions = tx.versions(&g.id, g.sealed_to, upto).await?;
            let records = tx.records(&g.id, g.sealed_to, upto).await?;
            let verdicts = tx.verdicts(&g.id, g.sealed_to, upto).await?;
            tx.log().set_sealed_to(&g.id, upto).await?;
            rows.push((versions, records, verdicts));
        }
        let mut sources = Vec::new();
        for (versions, records, verdicts) in &rows {
            sources.extend(group_sources(versions, records, verdicts));
        }
        out.leaves += sources.len() as u64;
        if !sources.is_empty() {
            out.tree = Some(append_sources(&mut tx.log(), sources, chain_id).await?);
        }
        if let Some(inputs) = statements.filter(|_| !due.is_empty()) {
            let n = append_statements(&mut tx, &covenants, &groups, chain_id, &due, inputs).await?;
            out.leaves += n.0;
            out.statements += n.0;
            out.tree = Some(n.1);
        }
        tx.commit().await?;
        if out.waiting || upto >= height {
            return Ok(out);
        }
    }
}

/// Appends the statements of `due` (periods ending at one block, whose leaves are in the log),
/// one after the other, and stores them with their signed notes. Returns how many, and the tree
/// after.
async fn append_statements(
    tx: &mut SealTx,
    covenants: &[CovenantVersion],
    groups: &[crate::store::SealGroup],
    chain_id: u64,
    due: &[DuePeriod],
    inputs: &StatementInputs<'_>,
) -> Result<(u64, Appended), LedgerError> {
    let mut appended = None;
    for d in due {
        let cv = covenants
            .iter()
            .find(|c| c.covenant_id == d.covenant_id)
            .ok_or_else(|| LedgerError::Range(format!("covenant {} is gone", d.covenant_id)))?;
        let parties: Vec<String> = statement::parties_on_chain(&cv.covenant, groups)
            .unwrap_or_default()
            .into_iter()
            .map(|g| g.id.clone())
            .collect();
        let findings = tx
            .covenant_findings(&parties, &d.covenant_id, d.from, d.to)
            .await?;
        // Each statement covers the log right before it: the block's leaves, and the statements
        // of the block before it.
        let (index, root) = head(&mut tx.log()).await?;
        let times = (inputs.stamps[&d.from], inputs.stamps[&d.to]);
        let mut leaf = statement::build(cv, chain_id, d, times, &findings, index, &root);
        leaf.set_index(index);
        let body = leaf.encode();
        let note = match inputs.signer {
            Some(s) => Some(statement::sign(
                &s.keys(),
                &s.origin,
                &d.covenant_id,
                d.period,
                &body,
            )?),
            None => None,
        };
        appended = Some(append(&mut tx.log(), vec![leaf]).await?);
        tx.insert_statement(&NewStatement {
            covenant_id: d.covenant_id.clone(),
            period: d.period,
            from_block: d.from,
            to_block: d.to,
            version: cv.version,
            body,
            leaf_index: index,
            note,
        })
        .await?;
    }
    let appended =
        appended.ok_or_else(|| LedgerError::Range("no statement was due".to_string()))?;
    Ok((due.len() as u64, appended))
}

/// The log's size and root, inside the transaction that holds its lock.
async fn head(log: &mut LogTables<'_>) -> Result<(u64, Hash), LedgerError> {
    let size = log.lock_head().await?;
    let ids: Vec<NodeKey> = merkle::root_nodes(size)
        .iter()
        .map(|id| (id.level, id.index))
        .collect();
    let nodes: HashMap<NodeId, Hash> = log
        .nodes(&ids)
        .await?
        .into_iter()
        .map(|((level, index), h)| (NodeId::new(level, index), Hash(h.0)))
        .collect();
    Ok((size, merkle::root(&nodes, size)?))
}

/// A leaf to build, by the position it sorts at.
enum Source<'a> {
    Version(&'a ManifestVersion),
    Record(&'a RecordRow, Verdict),
}

/// The leaves of one group over a range: its manifest versions taking effect there and its
/// records with their verdicts (from the divergences their logs opened or resolved), each by
/// its position. The caller passes only rows of the range.
fn group_sources<'a>(
    versions: impl IntoIterator<Item = &'a ManifestVersion>,
    records: impl IntoIterator<Item = &'a RecordRow>,
    divergences: impl IntoIterator<Item = &'a Divergence>,
) -> Vec<(Position, Source<'a>)> {
    let mut verdicts = verdicts_by_log(divergences);
    let mut out: Vec<(Position, Source)> = versions
        .into_iter()
        .map(|v| (Position::of_manifest(v), Source::Version(v)))
        .collect();
    for r in records {
        let (opened, resolved) = verdicts
            .remove(&(r.block_number, r.log_index))
            .unwrap_or_default();
        let verdict = Verdict::new(opened, resolved);
        out.push((Position::of_record(r), Source::Record(r, verdict)));
    }
    out
}

/// Appends the leaves of `sources` in position order, each built as it is taken.
async fn append_sources(
    log: &mut LogTables<'_>,
    mut sources: Vec<(Position, Source<'_>)>,
    chain_id: u64,
) -> Result<Appended, LedgerError> {
    sources.sort_by(|a, b| a.0.cmp(&b.0));
    let leaves: LeafIter = Box::new(sources.into_iter().map(move |(_, s)| match s {
        Source::Version(v) => Ok(Leaf::manifest(v, chain_id)),
        Source::Record(r, verdict) => Ok(Leaf::record(r, verdict)?),
    }));
    append_each(log, leaves).await
}

type Verdicts = BTreeMap<(i64, i64), (Vec<VerdictItem>, Vec<VerdictItem>)>;

/// Groups divergences by the log that opened or resolved them.
fn verdicts_by_log<'a>(divergences: impl IntoIterator<Item = &'a Divergence>) -> Verdicts {
    let mut out = Verdicts::new();
    for d in divergences {
        let item = VerdictItem {
            rule: d.rule.clone(),
            severity: d.severity.clone(),
            subject: d.subject.clone(),
            item: d.item.clone(),
            expected: d.expected.clone(),
            observed: d.observed.clone(),
        };
        if let Some(li) = d.opened_log_index {
            out.entry((d.opened_block, li))
                .or_default()
                .0
                .push(item.clone());
        }
        if let (Some(b), Some(li)) = (d.resolved_block, d.resolved_log_index) {
            out.entry((b, li)).or_default().1.push(item);
        }
    }
    out
}

/// A batch's records and the divergences it opened or resolved, with its groups' manifest
/// versions: what [`seal_batch`] builds leaves from.
pub struct BatchLeaves<'a> {
    pub chain_id: u64,
    /// The batch's blocks.
    pub from: i64,
    pub to: i64,
    pub records: &'a [RecordRow],
    pub divergences: &'a [Divergence],
    pub versions: &'a HashMap<String, std::sync::Arc<Vec<ManifestVersion>>>,
    /// The period lengths, in blocks, of the covenants of the batch's groups: a batch holding
    /// the last block of a period is left to [`seal_with`], which states the period.
    pub period_blocks: &'a [i64],
}

/// Seals a batch that is already final in the transaction that writes it, from the rows in
/// hand rather than read back: when every group of the chain has just been indexed through
/// the batch's last block and nothing before the batch waits to be sealed, the leaves are
/// exactly those [`seal`] would append next. Otherwise nothing is done here (and [`seal`]
/// catches up later), and so when a covenant period ends in the blocks to seal. Returns the
/// leaves appended.
pub async fn seal_batch(tx: &mut BatchTx, b: &BatchLeaves<'_>) -> Result<u64, LedgerError> {
    let groups = tx.log().groups().await?;
    let ready = groups
        .iter()
        .all(|g| g.synced_to >= b.to && g.sealed_to >= b.from - 1);
    if !ready {
        return Ok(0);
    }
    let lowest = groups.iter().map(|g| g.sealed_to).min().unwrap_or(b.to);
    if b.period_blocks
        .iter()
        .any(|p| ends_a_period(*p, lowest, b.to))
    {
        return Ok(0);
    }
    let mut sources = Vec::new();
    for g in groups.iter().filter(|g| g.sealed_to < b.to) {
        let versions = b.versions.get(&g.id).ok_or_else(|| {
            LedgerError::Range(format!("group {} is not in the batch being sealed", g.id))
        })?;
        let in_range = |block: i64| block > g.sealed_to && block <= b.to;
        sources.extend(group_sources(
            versions.iter().filter(|v| in_range(v.effective_block)),
            b.records
                .iter()
                .filter(|r| r.group_id == g.id && in_range(r.block_number)),
            b.divergences.iter().filter(|d| d.group_id == g.id),
        ));
        tx.log().set_sealed_to(&g.id, b.to).await?;
    }
    let n = sources.len() as u64;
    if n > 0 {
        append_sources(&mut tx.log(), sources, b.chain_id).await?;
    }
    Ok(n)
}

/// Whether a period of `p` blocks ends in blocks `after + 1 ..= upto`.
fn ends_a_period(p: i64, after: i64, upto: i64) -> bool {
    let p = p.max(1);
    upto > after && (upto + 1).div_euclid(p) > (after + 1).div_euclid(p)
}

/// The root of `chain`'s log at `size`, from at most 64 stored nodes.
pub async fn root_at(store: &Store, chain: &str, size: u64) -> Result<Hash, LedgerError> {
    let nodes = nodes(store, chain, &merkle::root_nodes(size)).await?;
    Ok(merkle::root(&nodes, size)?)
}

/// Signs a checkpoint of `chain`'s log at its current size, if the last signed one is
/// smaller; returns it. Refuses when the tree does not extend the last signed checkpoint.
pub async fn sign_checkpoint(
    store: &Store,
    chain: &str,
    signer: &LogSigner,
) -> Result<Option<StoredCheckpoint>, LedgerError> {
    let size = store.log_size(chain).await?;
    let last = store.latest_checkpoint(chain).await?;
    if let Some(last) = &last {
        if last.tree_size == size {
            return Ok(None);
        }
        if last.tree_size > size {
            return Err(LedgerError::Inconsistent(format!(
                "the log of {chain} holds {size} leaves but a checkpoint of {} was signed",
                last.tree_size
            )));
        }
    }
    if size == 0 {
        return Ok(None);
    }
    let root = root_at(store, chain, size).await?;
    if let Some(last) = &last {
        let old_root: Hash = last.root.parse().map_err(|_| {
            LedgerError::Inconsistent(format!("stored checkpoint root {:?}", last.root))
        })?;
        let ids = merkle::consistency_proof_nodes(last.tree_size, size)?;
        let nodes = nodes(store, chain, &ids).await?;
        let proof = merkle::consistency_proof(&nodes, last.tree_size, size)?;
        merkle::verify_consistency(last.tree_size, size, &old_root, &root, &proof).map_err(
            |e| {
                LedgerError::Inconsistent(format!(
                    "the tree of {size} leaves does not extend the checkpoint of {}: {e}",
                    last.tree_size
                ))
            },
        )?;
    }
    let note = Checkpoint {
        origin: signer.origin.clone(),
        size,
        root,
        extensions: vec![],
    }
    .sign_all(&signer.keys())?;
    store
        .insert_checkpoint(chain, size, &B256::from(root.0), &note)
        .await?;
    Ok(store.latest_checkpoint(chain).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &std::path::Path, signing_key: &str) -> Settings {
        let mut s = Settings::load(None).unwrap();
        s.data_dir = dir.to_path_buf();
        s.ledger.signing_key = crate::config::Secret::new(signing_key);
        s
    }

    #[test]
    fn a_batch_holding_the_last_block_of_a_period_is_found() {
        assert!(ends_a_period(30, 20, 29));
        assert!(!ends_a_period(30, 29, 58));
        assert!(ends_a_period(30, 29, 59));
        assert!(ends_a_period(30, -1, 29));
        assert!(!ends_a_period(30, -1, 28));
        assert!(!ends_a_period(30, 29, 29));
    }

    #[test]
    fn the_key_is_generated_once_into_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let first = LogSigner::key(&settings(dir.path(), "")).unwrap();
        assert!(dir.path().join("ledger.key").exists());
        let again = LogSigner::key(&settings(dir.path(), "")).unwrap();
        assert_eq!(first.verifier(), again.verifier());
        assert_eq!(first.name(), "groupstate");
        assert!(first.previous.is_none());
        let signer = LogSigner::new(&settings(dir.path(), ""), "local", first);
        assert_eq!(signer.origin, "groupstate/local");
    }

    #[test]
    fn a_configured_key_wins_and_a_bad_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let configured = SigningKey::generate("ops").unwrap();
        let key = LogSigner::key(&settings(dir.path(), &configured.encode())).unwrap();
        assert_eq!(key.current.verifier(), configured.verifier());
        assert!(!dir.path().join("ledger.key").exists(), "nothing generated");
        assert!(LogSigner::key(&settings(dir.path(), "PRIVATE+KEY+ops+00+AAAA")).is_err());
    }
}
