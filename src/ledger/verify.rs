//! Auditing a log without trusting whoever serves it: every entry is re-read from its bytes,
//! the tree is recomputed, checkpoints are checked against their signature and the recomputed
//! roots, each covenant statement against the log it says it covers and its signed note, and
//! (optionally) every record is checked against the chain itself.
//!
//! Invariant: the first disagreement ends the audit with an error that names the entry, node
//! or checkpoint at fault; an audit that returns `Ok` has checked every entry it was given.

use std::collections::{BTreeSet, HashMap};
use std::io::BufRead;

use alloy::primitives::{Address, Bytes, B256};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::leaf::{Leaf, RecordLeaf};
use super::merkle::{self, Frontier, Hash};
use super::note::{Checkpoint, NoteError, Verifiers};
use crate::chain::rpc::{Receipt, Rpc, RpcError};
use crate::store::{RecordFilter, Store, StoreError, StoredLeaf};

/// Why an audit failed, naming what is at fault.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("entry {index}: {problem}")]
    Entry { index: u64, problem: String },
    #[error("node ({level}, {index}) over entries {first}..{end}: stored {stored}, recomputed {computed}")]
    Node {
        level: u32,
        index: u64,
        first: u64,
        end: u64,
        stored: String,
        computed: Hash,
    },
    #[error("checkpoint {label}: {problem}")]
    Checkpoint { label: String, problem: String },
    #[error("statement of {covenant} period {period}: {problem}")]
    Statement {
        covenant: String,
        period: i64,
        problem: String,
    },
    #[error("export line {line}: {problem}")]
    Export { line: usize, problem: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("chain: {0}")]
    Rpc(#[from] RpcError),
}

fn entry(index: u64, problem: impl Into<String>) -> VerifyError {
    VerifyError::Entry {
        index,
        problem: problem.into(),
    }
}

/// One line of an export after the header.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportEntry {
    pub index: u64,
    pub leaf_hash: String,
    /// The leaf, a JSON object: its canonical bytes as exported, or any JSON text of the same
    /// object.
    pub leaf: Box<RawValue>,
}

/// The first line of an export: which log, and the checkpoint it was exported under.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportHeader {
    pub chain: String,
    pub tree_size: u64,
    pub checkpoint: Option<String>,
}

/// A checkpoint the recomputed tree must match at its size.
pub struct Expected {
    pub label: String,
    pub checkpoint: Checkpoint,
}

/// What an audit went through.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub entries: u64,
    pub records: u64,
    pub manifests: u64,
    pub retractions: u64,
    /// Covenant statements among the entries.
    pub statements: u64,
    /// Stored statements whose body is their leaf and whose note the key signed.
    pub statements_signed: u64,
    pub voided: u64,
    pub root: Option<Hash>,
    /// Records whose log was found on the canonical chain (with `--chain`).
    pub checked_on_chain: u64,
    /// Voided records whose block is indeed no longer canonical (with `--chain`).
    pub retractions_confirmed: u64,
    pub checkpoints: Vec<String>,
}

/// Recomputes the tree entry by entry.
pub struct Audit {
    frontier: Frontier,
    hashes: Vec<Hash>,
    voided: HashMap<u64, u64>,
    expected: Vec<Expected>,
    summary: Summary,
    /// Live record leaves, kept when they are to be checked against the chain or the store.
    keep_records: bool,
    records: Vec<RecordLeaf>,
    /// The first Safe (address, owners, threshold) each manifest version declares, by chain,
    /// group and version: the authority that ratifies the version after it.
    declared_owners: HashMap<VersionKey, DeclaredSafe>,
}

/// A manifest version in the log: chain id, group, version.
type VersionKey = (u64, String, u64);
/// A version's first declared Safe: address, owners, threshold.
type DeclaredSafe = (Address, Vec<Address>, u64);

impl Audit {
    pub fn new(mut expected: Vec<Expected>, keep_records: bool) -> Audit {
        expected.sort_by_key(|e| e.checkpoint.size);
        Audit {
            frontier: Frontier::new(),
            hashes: Vec::new(),
            voided: HashMap::new(),
            expected,
            summary: Summary::default(),
            keep_records,
            records: Vec::new(),
            declared_owners: HashMap::new(),
        }
    }

    /// Checks a manifest leaf's ratification, if it has one: its own consistency
    /// ([`crate::manifest::ratify::Ratification::check`]) and, when the log holds the version
    /// before it, that its authority is the owners that version declares.
    fn check_ratification(&mut self, m: &super::leaf::ManifestLeaf) -> Result<(), String> {
        let document = crate::manifest::Manifest::from_canonical_json(&m.document).ok();
        if let Some(safe) = document.as_ref().and_then(|d| d.treasury.safes.first()) {
            self.declared_owners.insert(
                (m.chain_id, m.group.clone(), m.version),
                (safe.address, safe.owners.clone(), safe.threshold),
            );
        }
        let Some(r) = &m.ratification else {
            return Ok(());
        };
        let hash: crate::manifest::ManifestHash = m
            .hash
            .trim_start_matches("0x")
            .parse()
            .map_err(|e| format!("ratification: {e}"))?;
        r.check(&m.group, m.version, &hash)
            .map_err(|e| format!("ratification: {e}"))?;
        if let Some(v) = r.authority.version {
            if v + 1 != m.version {
                return Err(format!(
                    "ratification: version {} is ratified by the owners of version {v}",
                    m.version
                ));
            }
            if let Some((safe, owners, threshold)) =
                self.declared_owners.get(&(m.chain_id, m.group.clone(), v))
            {
                let a = &r.authority;
                if a.safe != *safe || a.owners != *owners || a.threshold != *threshold {
                    return Err(format!(
                        "ratification: the authority it names is not what version {v} declares"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Checks a checkpoint of the empty tree, if one is expected.
    fn check_expected(&mut self) -> Result<(), VerifyError> {
        let size = self.frontier.size();
        let root = self.frontier.root();
        for e in self.expected.iter().filter(|e| e.checkpoint.size == size) {
            if e.checkpoint.root != root {
                return Err(VerifyError::Checkpoint {
                    label: e.label.clone(),
                    problem: format!(
                        "says the tree of {size} entries has root {}, recomputed {root}",
                        e.checkpoint.root
                    ),
                });
            }
            self.summary
                .checkpoints
                .push(format!("{} (size {size}, root {root})", e.label));
        }
        Ok(())
    }

    /// Takes the next entry: its claimed index and hash, and its leaf bytes.
    pub fn push(&mut self, index: u64, claimed_hash: &str, bytes: &str) -> Result<(), VerifyError> {
        self.check_next(index)?;
        let leaf = Leaf::decode(bytes).map_err(|e| entry(index, format!("leaf: {e}")))?;
        self.accept(index, claimed_hash, bytes, leaf)
    }

    /// [`Audit::push`] of a leaf already decoded from exactly `bytes` (by [`Leaf::decode`]).
    fn push_decoded(
        &mut self,
        index: u64,
        claimed_hash: &str,
        bytes: &str,
        leaf: Leaf,
    ) -> Result<(), VerifyError> {
        self.check_next(index)?;
        self.accept(index, claimed_hash, bytes, leaf)
    }

    /// Checks that `index` is the next entry (and, before the first, a checkpoint of the empty
    /// tree).
    fn check_next(&mut self, index: u64) -> Result<(), VerifyError> {
        let want = self.frontier.size();
        if want == 0 {
            self.check_expected()?;
        }
        if index != want {
            return Err(if index > want {
                entry(want, format!("missing (the next entry given is {index})"))
            } else {
                entry(
                    index,
                    format!("repeated or out of order (expected entry {want})"),
                )
            });
        }
        Ok(())
    }

    /// The rest of [`Audit::push`], once the leaf is read from its canonical bytes.
    fn accept(
        &mut self,
        index: u64,
        claimed_hash: &str,
        bytes: &str,
        leaf: Leaf,
    ) -> Result<(), VerifyError> {
        if leaf.index() != index {
            return Err(entry(
                index,
                format!("the leaf says it is entry {}", leaf.index()),
            ));
        }
        let hash = merkle::leaf_hash(bytes.as_bytes());
        let claimed: Hash = claimed_hash
            .parse()
            .map_err(|_| entry(index, format!("malformed hash {claimed_hash:?}")))?;
        if claimed != hash {
            return Err(entry(
                index,
                format!("stored hash {claimed} does not match its leaf, which hashes to {hash}"),
            ));
        }
        match leaf {
            Leaf::Record(r) => {
                self.summary.records += 1;
                if self.keep_records {
                    self.records.push(r);
                }
            }
            Leaf::Manifest(m) => {
                self.summary.manifests += 1;
                self.check_ratification(&m).map_err(|e| entry(index, e))?;
                let digest = hex::encode(Sha256::digest(m.document.as_bytes()));
                if !m
                    .hash
                    .trim_start_matches("0x")
                    .eq_ignore_ascii_case(&digest)
                {
                    return Err(entry(
                        index,
                        format!(
                            "manifest document hashes to {digest}, the leaf says {}",
                            m.hash
                        ),
                    ));
                }
            }
            Leaf::Statement(st) => {
                self.summary.statements += 1;
                check_statement(&st, index, &self.frontier.root()).map_err(|e| entry(index, e))?;
            }
            Leaf::Retraction(r) => {
                self.summary.retractions += 1;
                for v in &r.voids {
                    let Some(h) = self.hashes.get(v.index as usize) else {
                        return Err(entry(
                            index,
                            format!("retracts entry {}, which comes later", v.index),
                        ));
                    };
                    if h.to_string() != v.leaf_hash {
                        return Err(entry(
                            index,
                            format!("retracts entry {} by a hash it does not have", v.index),
                        ));
                    }
                    if self.voided.insert(v.index, index).is_some() {
                        return Err(entry(index, format!("retracts entry {} again", v.index)));
                    }
                    self.summary.voided += 1;
                }
            }
        }
        self.hashes.push(hash);
        self.frontier.append(hash);
        self.summary.entries += 1;
        self.check_expected()
    }

    /// Every entry's hash, in order (for the node audit).
    pub fn leaf_hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Ends the audit: every expected checkpoint must have been reached. Returns what was
    /// checked, and the kept record leaves split into live and voided ones.
    pub fn finish(mut self) -> Result<(Summary, Vec<RecordLeaf>, Vec<RecordLeaf>), VerifyError> {
        let size = self.frontier.size();
        if size == 0 {
            self.check_expected()?;
        }
        if let Some(e) = self.expected.iter().find(|e| e.checkpoint.size > size) {
            return Err(VerifyError::Checkpoint {
                label: e.label.clone(),
                problem: format!(
                    "covers {} entries but only {size} were given (entry {size} onwards is missing)",
                    e.checkpoint.size
                ),
            });
        }
        self.summary.root = Some(self.frontier.root());
        let voided = &self.voided;
        let (live, gone): (Vec<RecordLeaf>, Vec<RecordLeaf>) = self
            .records
            .into_iter()
            .partition(|r| !voided.contains_key(&r.index));
        Ok((self.summary, live, gone))
    }
}

/// Checks what a statement leaf says of the log and of its own clauses: it covers the log
/// exactly as it stood before it (size and root), and each verdict is what its findings make.
fn check_statement(st: &super::leaf::StatementLeaf, index: u64, root: &Hash) -> Result<(), String> {
    use super::leaf::ClauseVerdict;
    if st.log.size != index || st.log.root != root.to_string() {
        return Err(format!(
            "statement of {} period {} says the log had {} entries of root {}; before it, the \
             log had {index} of root {root}",
            st.covenant.id, st.period.index, st.log.size, st.log.root
        ));
    }
    if st.period.from_block > st.period.to_block {
        return Err(format!(
            "statement of {} period {}: its blocks {}..={} are reversed",
            st.covenant.id, st.period.index, st.period.from_block, st.period.to_block
        ));
    }
    for c in &st.clauses {
        let rule = |r: crate::model::Rule| c.findings.iter().any(|f| f.rule == r.as_str());
        let made = match c.verdict {
            ClauseVerdict::Holds | ClauseVerdict::NotAttested => c.findings.is_empty(),
            ClauseVerdict::Breach => rule(crate::model::Rule::CovenantBreach),
            ClauseVerdict::AtRisk => {
                rule(crate::model::Rule::CovenantAtRisk)
                    && !rule(crate::model::Rule::CovenantBreach)
            }
        };
        let in_period = c.findings.iter().all(|f| {
            f.opened_block <= st.period.to_block
                && f.resolved_block
                    .is_none_or(|r| r > st.period.from_block && r <= st.period.to_block)
        });
        if !made || !in_period {
            return Err(format!(
                "statement of {} period {}: clause {} says {} but its findings do not",
                st.covenant.id,
                st.period.index,
                c.index,
                c.verdict.as_str()
            ));
        }
    }
    Ok(())
}

/// Checks every stored statement of `chain`'s log against the audited entries (`hashes`, in
/// order): its body is exactly the leaf at its index, about its covenant and period, and its
/// signed note (when it has one) is signed by `key` over that body. Returns how many notes were
/// checked.
pub async fn check_store_statements(
    store: &Store,
    chain: &str,
    key: &Verifiers,
    hashes: &[Hash],
) -> Result<u64, VerifyError> {
    let mut signed = 0;
    for s in store.chain_statements(chain).await? {
        let index = s.leaf_index.max(0) as u64;
        let bad = |problem: String| VerifyError::Statement {
            covenant: s.covenant_id.clone(),
            period: s.period,
            problem,
        };
        let Some(hash) = hashes.get(index as usize) else {
            return Err(bad(format!("its leaf {index} is not in the log")));
        };
        if merkle::leaf_hash(s.body.as_bytes()) != *hash {
            return Err(bad(format!(
                "the stored body is not the log's entry {index}: the statement was altered"
            )));
        }
        match Leaf::decode(&s.body) {
            Ok(Leaf::Statement(st))
                if st.covenant.id == s.covenant_id && st.period.index as i64 == s.period => {}
            _ => return Err(bad(format!("entry {index} is not this statement"))),
        }
        if let Some(note) = &s.note {
            super::statement::open(note, key, &s.covenant_id, s.period, &s.body).map_err(bad)?;
            signed += 1;
        }
    }
    Ok(signed)
}

/// Opens a signed checkpoint with the verifier keys (signed by any of them, each signature by
/// one of them valid), naming it by `label` on failure.
pub fn open_checkpoint(note: &str, keys: &Verifiers, label: &str) -> Result<Expected, VerifyError> {
    let checkpoint =
        Checkpoint::open_any(note, keys).map_err(|e: NoteError| VerifyError::Checkpoint {
            label: label.to_string(),
            problem: e.to_string(),
        })?;
    Ok(Expected {
        label: label.to_string(),
        checkpoint,
    })
}

/// Reads the first line of an export (JSON lines: a header, then one entry per line).
pub fn read_export_header(reader: &mut impl BufRead) -> Result<ExportHeader, VerifyError> {
    let bad = |problem: String| VerifyError::Export { line: 1, problem };
    let mut first = String::new();
    reader
        .read_line(&mut first)
        .map_err(|e| bad(e.to_string()))?;
    if first.trim().is_empty() {
        return Err(bad("empty export".into()));
    }
    serde_json::from_str(&first).map_err(|e| bad(format!("not an export header: {e}")))
}

/// Lines of an export read and parsed ahead of the audit, in batches of this many, so the
/// reading thread and the checking one meet once per batch rather than once per line.
const EXPORT_BATCH: usize = 4_096;

/// Batches in flight between the reading thread and the audit: the reader waits when the
/// audit is this far behind, which bounds the memory an export of any size takes.
const BATCHES_AHEAD: usize = 2;

/// Feeds the entries of an export, after its header, into an audit: one thread reads and
/// parses the lines while this one decodes, hashes and checks the entries.
pub fn read_export_entries(
    reader: impl BufRead + Send,
    audit: &mut Audit,
) -> Result<(), VerifyError> {
    let (tx, rx) =
        std::sync::mpsc::sync_channel::<Vec<Result<ExportEntry, VerifyError>>>(BATCHES_AHEAD);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut batch = Vec::with_capacity(EXPORT_BATCH);
            for (n, line) in reader.lines().enumerate() {
                // Line 1 was the header.
                let bad = |problem: String| VerifyError::Export {
                    line: n + 2,
                    problem,
                };
                let parsed = line.map_err(|e| bad(e.to_string())).and_then(|line| {
                    if line.trim().is_empty() {
                        return Ok(None);
                    }
                    serde_json::from_str::<ExportEntry>(&line)
                        .map(Some)
                        .map_err(|e| bad(e.to_string()))
                });
                let stop = parsed.is_err();
                match parsed.transpose() {
                    Some(item) => batch.push(item),
                    None => continue,
                }
                if stop || batch.len() == EXPORT_BATCH {
                    // A closed channel: the audit stopped at a bad entry.
                    if tx.send(std::mem::take(&mut batch)).is_err() || stop {
                        return;
                    }
                }
            }
            let _ = tx.send(batch);
        });
        for batch in rx {
            for item in batch {
                let e = item?;
                check_export_entry(audit, &e)?;
            }
        }
        Ok(())
    })
}

/// Checks one exported entry. Its leaf is normally the canonical bytes themselves; any other
/// JSON text of the leaf is brought to canonical form first, as the hash covers that.
fn check_export_entry(audit: &mut Audit, e: &ExportEntry) -> Result<(), VerifyError> {
    let raw = e.leaf.get();
    match Leaf::decode(raw) {
        Ok(leaf) => audit.push_decoded(e.index, &e.leaf_hash, raw, leaf),
        Err(_) => {
            let value: serde_json::Value =
                serde_json::from_str(raw).expect("a raw value is valid JSON");
            let bytes = super::leaf::canonical_json(&value);
            audit.push(e.index, &e.leaf_hash, &bytes)
        }
    }
}

/// Leaves read from the store per query.
const STORE_PAGE: u64 = 10_000;

/// Pages in flight between the reading task and the audit (back-pressure as for exports).
const PAGES_AHEAD: usize = 2;

/// Feeds a stored log into an audit: one task reads the next page of leaves while a blocking
/// thread decodes, hashes and checks the entries of the previous one.
pub async fn read_store(store: &Store, chain: &str, audit: &mut Audit) -> Result<u64, VerifyError> {
    let size = store.log_size(chain).await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<StoredLeaf>>(PAGES_AHEAD);
    let mut checking = std::mem::replace(audit, Audit::new(Vec::new(), false));
    let checker = tokio::task::spawn_blocking(move || {
        let mut checked = Ok(());
        'pages: while let Some(page) = rx.blocking_recv() {
            for e in &page {
                if let Err(e) = checking.push(e.index, &e.leaf_hash, &e.leaf) {
                    checked = Err(e);
                    break 'pages;
                }
            }
        }
        (checking, checked)
    });
    let read = async {
        let mut start = 0u64;
        while start < size {
            let end = size.min(start + STORE_PAGE);
            let page = store.log_leaves(chain, start, end).await?;
            let short = (page.len() as u64) < end - start;
            let next = page.last().map(|e| e.index + 1).unwrap_or(start);
            if tx.send(page).await.is_err() {
                // The audit stopped at a bad entry: its error is the one to report.
                break;
            }
            if short {
                return Err(entry(next, "missing from the store"));
            }
            start = end;
        }
        Ok(())
    };
    let read: Result<(), VerifyError> = read.await;
    drop(tx);
    let (checked_audit, checked) = match checker.await {
        Ok(done) => done,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    };
    *audit = checked_audit;
    // An entry that fails comes before whatever the reader stopped at.
    checked?;
    read?;
    Ok(size)
}

/// Recomputes every complete subtree from the leaf hashes and compares it with the stored
/// node, level by level: a stored node that was altered is named with the entries it covers.
pub async fn check_stored_nodes(
    store: &Store,
    chain: &str,
    leaves: &[Hash],
) -> Result<(), VerifyError> {
    /// Nodes read per statement.
    const PAGE: u64 = 50_000;
    /// Pages read at once: on two connections the database decodes one page while the other
    /// is compared (SQLite runs each connection on a thread of its own).
    const IN_FLIGHT: usize = 2;
    // Every level computed first (CPU only: a million leaves make a million nodes above them),
    // so the reads of all levels form one ordered stream.
    let mut levels: Vec<Vec<Hash>> = vec![leaves.to_vec()];
    while levels.last().is_some_and(|l| l.len() > 1) {
        let next = levels
            .last()
            .expect("a level")
            .chunks_exact(2)
            .map(|p| merkle::node_hash(&p[0], &p[1]))
            .collect();
        levels.push(next);
    }
    let pages = levels.iter().enumerate().flat_map(|(level, hashes)| {
        let n = hashes.len() as u64;
        (0..n.div_ceil(PAGE)).map(move |p| (level as u32, p * PAGE, n.min((p + 1) * PAGE)))
    });
    let mut reads = futures::stream::iter(pages)
        .map(|(level, start, end)| async move {
            let stored = store.log_level(chain, level, start, end).await?;
            Ok::<_, VerifyError>((level, start, end, stored))
        })
        .buffered(IN_FLIGHT);
    while let Some((level, start, end, stored)) = reads.try_next().await? {
        let computed = &levels[level as usize];
        let mut stored = stored.into_iter().peekable();
        for idx in start..end {
            let found = match stored.peek() {
                Some((i, h)) if *i == idx => {
                    let h = Hash(h.0);
                    stored.next();
                    Some(h)
                }
                _ => None,
            };
            let computed = computed[idx as usize];
            if found != Some(computed) {
                return Err(VerifyError::Node {
                    level,
                    index: idx,
                    first: idx << level,
                    end: (idx + 1) << level,
                    stored: found
                        .map(|h| h.to_string())
                        .unwrap_or_else(|| "nothing".into()),
                    computed,
                });
            }
        }
    }
    Ok(())
}

/// Compares every live record leaf with the record row the store serves today: an edited
/// row is named by its entry.
pub async fn check_store_records(store: &Store, records: &[RecordLeaf]) -> Result<(), VerifyError> {
    let mut by_group: HashMap<&str, Vec<&RecordLeaf>> = HashMap::new();
    for r in records {
        by_group.entry(&r.group).or_default().push(r);
    }
    for (group, leaves) in by_group {
        for chunk in leaves.chunks(5_000) {
            let from = chunk.iter().map(|r| r.block.number).min().unwrap_or(0) as i64;
            let to = chunk.iter().map(|r| r.block.number).max().unwrap_or(0) as i64;
            let rows = store
                .records(
                    group,
                    &RecordFilter {
                        from_block: Some(from),
                        to_block: Some(to),
                        ..Default::default()
                    },
                )
                .await?;
            let rows: HashMap<(i64, i64), _> = rows
                .into_iter()
                .map(|r| ((r.block_number, r.log_index), r))
                .collect();
            for leaf in chunk {
                let key = (leaf.block.number as i64, leaf.log.index as i64);
                let Some(row) = rows.get(&key) else {
                    return Err(entry(
                        leaf.index,
                        format!(
                            "its record (group {group}, block {}, log {}) is missing from the store",
                            key.0, key.1
                        ),
                    ));
                };
                let again = Leaf::record(row, leaf.verdict.clone())
                    .map_err(|e| entry(leaf.index, format!("stored record: {e}")))?;
                let mut again = match again {
                    Leaf::Record(r) => r,
                    _ => unreachable!("Leaf::record builds a record leaf"),
                };
                again.index = leaf.index;
                if &again != *leaf {
                    return Err(entry(
                        leaf.index,
                        format!(
                            "the stored record (group {group}, block {}, log {}) differs from the logged one",
                            key.0, key.1
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Checks every live record against the canonical chain (its transaction's receipt and its
/// block), and every voided one against its absence; `concurrency` requests in flight, one
/// receipt per transaction and one header per block however many records share them.
pub async fn check_chain(
    rpc: &Rpc,
    chain_id: u64,
    live: &[RecordLeaf],
    voided: &[RecordLeaf],
    concurrency: usize,
) -> Result<(u64, u64), VerifyError> {
    let concurrency = concurrency.max(1);
    // Canonical hashes of every block a record names.
    let numbers: BTreeSet<u64> = live.iter().chain(voided).map(|r| r.block.number).collect();
    let canonical: HashMap<u64, Option<B256>> = futures::stream::iter(numbers)
        .map(|n| async move { Ok::<_, VerifyError>((n, rpc.block(n).await?.map(|(b, _)| b.hash))) })
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    // Records by transaction, in log order of their first entry, so the first bad entry is
    // the one reported.
    let mut by_tx: Vec<(&str, Vec<&RecordLeaf>)> = Vec::new();
    let mut position: HashMap<&str, usize> = HashMap::new();
    for r in live {
        let i = *position.entry(&r.tx.hash).or_insert_with(|| {
            by_tx.push((&r.tx.hash, Vec::new()));
            by_tx.len() - 1
        });
        by_tx[i].1.push(r);
    }
    let canonical = &canonical;
    let found = futures::stream::iter(by_tx.into_iter().map(|(tx, records)| async move {
        check_transaction(rpc, chain_id, tx, &records, canonical).await?;
        Ok::<_, VerifyError>(records.len() as u64)
    }))
    .buffered(concurrency)
    .try_fold(0u64, |n, k| async move { Ok(n + k) })
    .await?;
    let mut confirmed = 0;
    for r in voided {
        let hash = canonical.get(&r.block.number).copied().flatten();
        if hash.map(|h| h.to_string()) == Some(r.block.hash.clone()) {
            return Err(entry(
                r.index,
                format!(
                    "retracted, but block {} ({}) is still canonical",
                    r.block.number, r.block.hash
                ),
            ));
        }
        confirmed += 1;
    }
    Ok((found, confirmed))
}

async fn check_transaction(
    rpc: &Rpc,
    chain_id: u64,
    tx: &str,
    records: &[&RecordLeaf],
    canonical: &HashMap<u64, Option<B256>>,
) -> Result<(), VerifyError> {
    let first = records[0];
    let hash: B256 = tx
        .parse()
        .map_err(|_| entry(first.index, format!("malformed transaction hash {tx:?}")))?;
    let Some(receipt) = rpc.receipt(hash).await? else {
        return Err(entry(
            first.index,
            format!("transaction {hash} is not on the chain"),
        ));
    };
    for r in records {
        check_record(chain_id, r, &receipt, canonical)?;
    }
    Ok(())
}

fn check_record(
    chain_id: u64,
    r: &RecordLeaf,
    receipt: &Receipt,
    canonical: &HashMap<u64, Option<B256>>,
) -> Result<(), VerifyError> {
    let bad = |problem: String| entry(r.index, problem);
    let tx = &r.tx.hash;
    if r.chain_id != chain_id {
        return Err(bad(format!(
            "is for chain {}, the node serves chain {chain_id}",
            r.chain_id
        )));
    }
    if receipt.block_hash.to_string() != r.block.hash
        || receipt.block_number.to::<u64>() != r.block.number
    {
        return Err(bad(format!(
            "transaction {tx} is in block {} ({}), the leaf says {} ({})",
            receipt.block_number, receipt.block_hash, r.block.number, r.block.hash
        )));
    }
    if receipt.transaction_index.to::<u64>() != r.tx.index {
        return Err(bad(format!(
            "transaction {tx} has index {}, the leaf says {}",
            receipt.transaction_index, r.tx.index
        )));
    }
    let Some(log) = receipt
        .logs
        .iter()
        .find(|l| l.log_index.to::<u64>() == r.log.index)
    else {
        return Err(bad(format!(
            "transaction {tx} has no log {} on the chain",
            r.log.index
        )));
    };
    let address: Option<Address> = r.log.address.parse().ok();
    let topics: Option<Vec<B256>> = r.log.topics.iter().map(|t| t.parse().ok()).collect();
    let data: Option<Bytes> = r.log.data.parse().ok();
    if address != Some(log.address)
        || topics.as_ref() != Some(&log.topics)
        || data.as_ref() != Some(&log.data)
    {
        return Err(bad(format!(
            "log {} of transaction {tx} on the chain differs from the leaf (emitter, topics or data)",
            r.log.index
        )));
    }
    if canonical.get(&r.block.number).copied().flatten() != Some(receipt.block_hash) {
        return Err(bad(format!(
            "block {} ({}) is not canonical",
            r.block.number, r.block.hash
        )));
    }
    Ok(())
}

/// Writes `chain`'s log as JSON lines: a header naming the latest checkpoint, then every
/// entry (its index, hash, and leaf as a JSON object).
pub async fn export(
    store: &Store,
    chain: &str,
    mut out: impl std::io::Write,
) -> Result<u64, VerifyError> {
    let size = store.log_size(chain).await?;
    let checkpoint = store.latest_checkpoint(chain).await?;
    let header = ExportHeader {
        chain: chain.to_string(),
        tree_size: size,
        checkpoint: checkpoint.map(|c| c.note),
    };
    let io = |e: std::io::Error| VerifyError::Export {
        line: 0,
        problem: e.to_string(),
    };
    writeln!(
        out,
        "{}",
        serde_json::to_string(&header).expect("plain JSON")
    )
    .map_err(io)?;
    let mut start = 0;
    while start < size {
        let end = size.min(start + 20_000);
        for e in store.log_leaves(chain, start, end).await? {
            writeln!(out, "{}", export_line(&e)).map_err(io)?;
        }
        start = end;
    }
    Ok(size)
}

fn export_line(e: &StoredLeaf) -> String {
    // The leaf's own canonical bytes, embedded as an object: re-encoding it canonically
    // gives back exactly these bytes.
    format!(
        "{{\"index\":{},\"leaf_hash\":\"{}\",\"leaf\":{}}}",
        e.index, e.leaf_hash, e.leaf
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::leaf::RetractionLeaf;

    fn leaf(index: u64) -> Leaf {
        Leaf::Retraction(RetractionLeaf {
            v: super::super::leaf::LEAF_VERSION,
            index,
            chain_id: 31337,
            fork_block: index as i64,
            fork_hash: None,
            voids: vec![],
            reason: format!("ré {index}"),
        })
    }

    /// An export's lines after the header; `layout` writes each leaf's JSON text.
    fn export(n: u64, layout: impl Fn(&Leaf) -> String) -> String {
        (0..n)
            .map(|i| {
                let l = leaf(i);
                format!(
                    "{{\"index\":{i},\"leaf_hash\":\"{}\",\"leaf\":{}}}\n",
                    l.hash(),
                    layout(&l)
                )
            })
            .collect()
    }

    fn audit(lines: &str) -> Result<Summary, VerifyError> {
        let mut audit = Audit::new(vec![], false);
        read_export_entries(lines.as_bytes(), &mut audit)?;
        Ok(audit.finish()?.0)
    }

    /// Several batches of lines; leaves in canonical form, or in any other JSON layout of the
    /// same object (the hash covers the canonical form), give the same tree.
    #[test]
    fn an_export_verifies_whatever_the_layout_of_its_leaves() {
        let n = 2 * EXPORT_BATCH as u64 + 7;
        let canonical = audit(&export(n, Leaf::encode)).unwrap();
        assert_eq!(canonical.entries, n);
        let other = export(n, |l| serde_json::to_string(l).unwrap());
        assert!(!other.contains(&leaf(1).encode()));
        let other = audit(&other).unwrap();
        assert_eq!(other.root, canonical.root);
        assert_eq!(other.retractions, n);
    }

    /// The first bad entry or line stops the audit and is named, wherever it falls among the
    /// batches read ahead.
    #[test]
    fn the_first_bad_entry_or_line_of_an_export_is_named() {
        let n = 2 * EXPORT_BATCH as u64 + 7;
        let lines = export(n, Leaf::encode);
        let bad = EXPORT_BATCH as u64 + 3;
        let tampered = lines.replacen(&format!("ré {bad}"), "ré x", 1);
        let err = audit(&tampered).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("entry {bad}: stored hash")),
            "{err}"
        );
        let mut garbled: Vec<&str> = lines.lines().collect();
        garbled[bad as usize] = "{\"index\": 5, \"leaf";
        let err = audit(&garbled.join("\n")).unwrap_err().to_string();
        // Line 1 is the header.
        assert!(
            err.starts_with(&format!("export line {}:", bad + 2)),
            "{err}"
        );
        let mut removed: Vec<&str> = lines.lines().collect();
        removed.remove(bad as usize);
        let err = audit(&removed.join("\n")).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "entry {bad}: missing (the next entry given is {})",
                bad + 1
            )),
            "{err}"
        );
    }

    /// A manifest leaf's ratification is checked again: its signatures, and that its authority
    /// is what the version before it declares.
    #[test]
    fn a_forged_or_misattributed_ratification_is_caught() {
        use alloy::signers::local::PrivateKeySigner;
        use alloy::signers::SignerSync;

        use crate::ledger::leaf::ManifestLeaf;
        use crate::manifest::ratify::{signing_hash, Authority, Ratification, Scheme, Signed};
        use crate::manifest::Manifest;

        let keys: Vec<PrivateKeySigner> = (1..=4u8)
            .map(|i| PrivateKeySigner::from_bytes(&B256::repeat_byte(i)).unwrap())
            .collect();
        let safe = Address::repeat_byte(0x55);
        let manifest = |owners: &[&PrivateKeySigner], name: &str| {
            let owners: Vec<String> = owners.iter().map(|k| k.address().to_string()).collect();
            Manifest::parse(
                &serde_json::json!({"id": "g", "name": name, "purpose": "p",
                    "phase": "coordination", "chain": "local",
                    "treasury": {"safes": [{"address": safe.to_string(), "owners": owners,
                                            "threshold": 2}]}})
                .to_string(),
            )
            .unwrap()
        };
        let v1 = manifest(&[&keys[0], &keys[1], &keys[2]], "one");
        let v2 = manifest(&[&keys[0], &keys[1], &keys[3]], "two");
        let leaf = |index: u64, version: u64, m: &Manifest, r: Option<Ratification>| {
            Leaf::Manifest(ManifestLeaf {
                v: super::super::leaf::LEAF_VERSION,
                index,
                chain_id: 31337,
                group: "g".into(),
                version,
                effective_block: 0,
                hash: m.hash().to_string(),
                document: m.canonical_json(),
                ratification: r,
            })
        };
        let digest = signing_hash("g", 2, &v2.hash(), 31337);
        let signed = |k: &PrivateKeySigner| Signed {
            signer: k.address(),
            scheme: Scheme::Ecdsa,
            signature: k
                .sign_hash_sync(&digest)
                .unwrap()
                .as_bytes()
                .to_vec()
                .into(),
        };
        let mut owners: Vec<Address> = keys[..3].iter().map(|k| k.address()).collect();
        owners.sort();
        let ratification = Ratification {
            chain_id: 31337,
            digest,
            authority: Authority {
                version: Some(1),
                block: None,
                safe,
                owners,
                threshold: 2,
            },
            signers: vec![signed(&keys[0]), signed(&keys[2])],
            governor: None,
        };
        let run = |r: Ratification| {
            let mut audit = Audit::new(vec![], false);
            for l in [leaf(0, 1, &v1, None), leaf(1, 2, &v2, Some(r))] {
                audit.push(l.index(), &l.hash().to_string(), &l.encode())?;
            }
            Ok::<_, VerifyError>(())
        };
        run(ratification.clone()).unwrap();

        let mut forged = ratification.clone();
        forged.signers[1].signer = keys[1].address();
        let err = run(forged).unwrap_err().to_string();
        assert!(
            err.contains("ratification: the signature given for"),
            "{err}"
        );

        // Owners the previous version never declared, claiming to be its authority.
        let mut misattributed = ratification;
        misattributed.authority.owners =
            vec![keys[0].address(), keys[2].address(), keys[3].address()];
        misattributed.authority.owners.sort();
        misattributed.signers = vec![signed(&keys[3]), signed(&keys[0])];
        let err = run(misattributed).unwrap_err().to_string();
        assert!(
            err.contains("the authority it names is not what version 1 declares"),
            "{err}"
        );
    }
}
