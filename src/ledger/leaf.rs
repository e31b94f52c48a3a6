//! Canonical leaves: what one entry of the log says, and the exact bytes that are hashed.
//!
//! A leaf is a JSON object, encoded canonically — keys sorted by their UTF-8 bytes at every
//! level, no whitespace, integers in decimal, strings with serde_json's (RFC 8785-compatible)
//! escaping — so the same content always gives the same bytes and the same
//! [`merkle::leaf_hash`]. Every leaf names its format version (`"v": 1`), its type and its own
//! index in the log, so a removed or reordered entry is caught by the entry itself.
//!
//! - `record`: one chain log for one group: chain id, block (number, hash, timestamp),
//!   transaction (hash, index), log (index, emitter, topics, data), the decoded event, the
//!   manifest hash in force, and the reconciliation verdict (divergences opened and resolved by
//!   this record).
//! - `manifest`: one manifest version of a group, the canonical document text itself and its
//!   hash, the block from which it is in force, and, when it was ratified, the ratification
//!   (authority, signers and signatures, or the governor proposal); an unratified version's
//!   leaf has no `ratification` key, as leaves written before ratifications existed.
//! - `retraction`: after a reorg deeper than the finality depth, the fork block and the leaves
//!   it voids.
//! - `statement`: a covenant's compliance statement for one period — the covenant (id,
//!   version, hash), the period (index, blocks, block timestamps), each clause's verdict with the
//!   findings that make it, and the log (size and root) right after the period's last block.
//!
//! Invariant: leaves are appended in [`Position`] order (block, transaction index, log index,
//! group, version; a manifest version sorts before the records of its first block, a statement
//! after every record of its period's last block), so two
//! honest indexers of the same chain and manifests build the same tree.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::merkle::{self, Hash};
use crate::store::{ManifestVersion, RecordRow};

/// The leaf format this code writes.
pub const LEAF_VERSION: u32 = 1;

/// Why bytes are not a leaf this code can read.
#[derive(Debug, thiserror::Error)]
pub enum LeafError {
    #[error("not a leaf: {0}")]
    Malformed(String),
    #[error("unsupported leaf format version {0}")]
    Version(u32),
    #[error("not in canonical form")]
    NotCanonical,
}

/// One entry of the log. Leaves are built and hashed one at a time, so the size difference
/// between the variants costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Leaf {
    Record(RecordLeaf),
    Manifest(ManifestLeaf),
    Retraction(RetractionLeaf),
    Statement(StatementLeaf),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordLeaf {
    pub v: u32,
    pub index: u64,
    pub chain_id: u64,
    pub group: String,
    pub block: BlockEvidence,
    pub tx: TxEvidence,
    pub log: LogEvidence,
    pub event: EventFields,
    /// The manifest version hash in force at the block.
    pub manifest: Option<String>,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockEvidence {
    pub number: u64,
    pub hash: String,
    pub timestamp: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TxEvidence {
    pub hash: String,
    pub index: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogEvidence {
    pub index: u64,
    pub address: String,
    pub topics: Vec<String>,
    pub data: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventFields {
    pub kind: String,
    pub category: String,
    pub fields: Value,
}

/// What reconciliation concluded at this record: the divergences it opened and those it
/// resolved. Both empty: the record agrees with the manifest in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verdict {
    pub status: String,
    pub opened: Vec<VerdictItem>,
    pub resolved: Vec<VerdictItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerdictItem {
    pub rule: String,
    pub severity: String,
    pub subject: String,
    pub item: String,
    pub expected: String,
    pub observed: String,
}

impl Verdict {
    /// A verdict from the divergences a record opened and resolved, in a deterministic order.
    pub fn new(mut opened: Vec<VerdictItem>, mut resolved: Vec<VerdictItem>) -> Verdict {
        opened.sort();
        resolved.sort();
        let status = if !opened.is_empty() {
            "divergent"
        } else if !resolved.is_empty() {
            "reconciled"
        } else {
            "consistent"
        };
        Verdict {
            status: status.to_string(),
            opened,
            resolved,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestLeaf {
    pub v: u32,
    pub index: u64,
    pub chain_id: u64,
    pub group: String,
    pub version: u64,
    pub effective_block: i64,
    /// SHA-256 of `document`, as the manifest module computes it.
    pub hash: String,
    /// The canonical JSON text of the manifest, exactly the bytes `hash` covers.
    pub document: String,
    /// Who ratified the version; absent: unratified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratification: Option<crate::manifest::ratify::Ratification>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetractionLeaf {
    pub v: u32,
    pub index: u64,
    pub chain_id: u64,
    /// The newest block still canonical (`-1`: none), and its hash.
    pub fork_block: i64,
    pub fork_hash: Option<String>,
    pub voids: Vec<Voided>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Voided {
    pub index: u64,
    pub leaf_hash: String,
    pub block: u64,
    pub block_hash: String,
}

/// A covenant's compliance statement for one period. Everything in it follows from the chain,
/// the documents and the log, never from one indexer's clock or numbering, so two honest
/// indexers of the chain write the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementLeaf {
    pub v: u32,
    pub index: u64,
    pub chain_id: u64,
    pub covenant: StatedCovenant,
    pub period: StatedPeriod,
    /// Every term of the covenant, in its order.
    pub clauses: Vec<StatedClause>,
    /// The log right before this leaf — every leaf of the period's last block, and the
    /// statements of that block before this one: its size (this leaf's index) and its root.
    pub log: StatedLog,
}

/// The covenant version a statement is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatedCovenant {
    pub id: String,
    pub version: u64,
    pub hash: String,
}

/// A statement period: its index, its first and last block and their timestamps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatedPeriod {
    pub index: u64,
    pub from_block: u64,
    pub to_block: u64,
    pub from_time: i64,
    pub to_time: i64,
}

/// One clause's verdict over a period, with the findings that make it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatedClause {
    pub index: u64,
    pub name: String,
    pub sentence: String,
    pub verdict: ClauseVerdict,
    pub findings: Vec<Evidence>,
}

/// What a clause did over a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClauseVerdict {
    /// No finding of the clause was open at any block of the period.
    Holds,
    /// A `covenant.at_risk` finding, and no breach, was open at some block of the period.
    AtRisk,
    /// A `covenant.breach` finding was open at some block of the period.
    Breach,
    /// The clause depends on one indexer (its lag), so no statement attests it.
    NotAttested,
}

impl ClauseVerdict {
    /// The verdict's name, as written in statements.
    pub fn as_str(self) -> &'static str {
        match self {
            ClauseVerdict::Holds => "holds",
            ClauseVerdict::AtRisk => "at_risk",
            ClauseVerdict::Breach => "breach",
            ClauseVerdict::NotAttested => "not_attested",
        }
    }
}

/// A finding that counts toward a clause's verdict: where it was opened and, if within the
/// period, where it was resolved.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    pub opened_block: u64,
    pub group: String,
    pub rule: String,
    pub opened_hash: String,
    pub opened_tx: Option<String>,
    /// The block that resolved it, when that is within the period (a later resolution is not
    /// the period's business, and not every indexer may have seen it yet).
    pub resolved_block: Option<u64>,
}

/// The log a statement covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatedLog {
    pub size: u64,
    pub root: String,
}

/// Where a leaf sorts among the leaves sealed together.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub block: i64,
    /// -1 for a manifest version, so it precedes the records of its first block.
    pub tx_index: i64,
    pub log_index: i64,
    pub group: String,
    pub version: i64,
}

impl Position {
    /// Where the leaf of a record sorts, without building it ([`Leaf::position`]).
    pub fn of_record(r: &RecordRow) -> Position {
        Position {
            block: r.block_number,
            tx_index: r.tx_index,
            log_index: r.log_index,
            group: r.group_id.clone(),
            version: 0,
        }
    }

    /// Where a statement sorts: after every record and manifest version of its period's last
    /// block (and before a retraction of that block), statements of one block by covenant.
    pub fn of_statement(covenant: &str, to_block: u64, period: u64) -> Position {
        Position {
            block: to_block as i64,
            tx_index: i64::MAX - 1,
            log_index: i64::MAX - 1,
            group: covenant.to_string(),
            version: period as i64,
        }
    }

    /// Where the leaf of a manifest version sorts, without building it.
    pub fn of_manifest(m: &ManifestVersion) -> Position {
        Position {
            block: m.effective_block,
            tx_index: -1,
            log_index: -1,
            group: m.group_id.clone(),
            version: m.version.max(0),
        }
    }
}

impl Leaf {
    /// A record's leaf (its index set on append).
    pub fn record(r: &RecordRow, verdict: Verdict) -> Result<Leaf, LeafError> {
        let topics: Vec<String> = serde_json::from_str(&r.topics)
            .map_err(|e| LeafError::Malformed(format!("record topics: {e}")))?;
        let fields: Value = serde_json::from_str(&r.fields)
            .map_err(|e| LeafError::Malformed(format!("record fields: {e}")))?;
        let non_negative = |v: i64, what: &str| {
            u64::try_from(v).map_err(|_| LeafError::Malformed(format!("negative {what}")))
        };
        Ok(Leaf::Record(RecordLeaf {
            v: LEAF_VERSION,
            index: 0,
            chain_id: non_negative(r.chain_id, "chain id")?,
            group: r.group_id.clone(),
            block: BlockEvidence {
                number: non_negative(r.block_number, "block number")?,
                hash: r.block_hash.clone(),
                timestamp: r.block_timestamp,
            },
            tx: TxEvidence {
                hash: r.tx_hash.clone(),
                index: non_negative(r.tx_index, "transaction index")?,
            },
            log: LogEvidence {
                index: non_negative(r.log_index, "log index")?,
                address: r.address.clone(),
                topics,
                data: r.data.clone(),
            },
            event: EventFields {
                kind: r.kind.clone(),
                category: r.category.clone(),
                fields,
            },
            manifest: r.manifest_hash.clone(),
            verdict,
        }))
    }

    /// A manifest version's leaf (its index set on append).
    pub fn manifest(m: &ManifestVersion, chain_id: u64) -> Leaf {
        Leaf::Manifest(ManifestLeaf {
            v: LEAF_VERSION,
            index: 0,
            chain_id,
            group: m.group_id.clone(),
            version: m.version.max(0) as u64,
            effective_block: m.effective_block,
            hash: m.hash.clone(),
            document: m.manifest.canonical_json(),
            ratification: m.ratification.clone(),
        })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Leaf::Record(_) => "record",
            Leaf::Manifest(_) => "manifest",
            Leaf::Retraction(_) => "retraction",
            Leaf::Statement(_) => "statement",
        }
    }

    pub fn index(&self) -> u64 {
        match self {
            Leaf::Record(l) => l.index,
            Leaf::Manifest(l) => l.index,
            Leaf::Retraction(l) => l.index,
            Leaf::Statement(l) => l.index,
        }
    }

    pub fn set_index(&mut self, index: u64) {
        match self {
            Leaf::Record(l) => l.index = index,
            Leaf::Manifest(l) => l.index = index,
            Leaf::Retraction(l) => l.index = index,
            Leaf::Statement(l) => l.index = index,
        }
    }

    pub fn chain_id(&self) -> u64 {
        match self {
            Leaf::Record(l) => l.chain_id,
            Leaf::Manifest(l) => l.chain_id,
            Leaf::Retraction(l) => l.chain_id,
            Leaf::Statement(l) => l.chain_id,
        }
    }

    pub fn group(&self) -> Option<&str> {
        match self {
            Leaf::Record(l) => Some(&l.group),
            Leaf::Manifest(l) => Some(&l.group),
            Leaf::Retraction(_) => None,
            Leaf::Statement(_) => None,
        }
    }

    /// The block the leaf is about: a record's block, a manifest's first block, a retraction's
    /// fork block.
    pub fn block(&self) -> i64 {
        match self {
            Leaf::Record(l) => l.block.number as i64,
            Leaf::Manifest(l) => l.effective_block,
            Leaf::Retraction(l) => l.fork_block,
            Leaf::Statement(l) => l.period.to_block as i64,
        }
    }

    pub fn position(&self) -> Position {
        match self {
            Leaf::Record(l) => Position {
                block: l.block.number as i64,
                tx_index: l.tx.index as i64,
                log_index: l.log.index as i64,
                group: l.group.clone(),
                version: 0,
            },
            Leaf::Manifest(l) => Position {
                block: l.effective_block,
                tx_index: -1,
                log_index: -1,
                group: l.group.clone(),
                version: l.version as i64,
            },
            Leaf::Retraction(l) => Position {
                block: l.fork_block,
                tx_index: i64::MAX,
                log_index: i64::MAX,
                group: String::new(),
                version: 0,
            },
            Leaf::Statement(l) => {
                Position::of_statement(&l.covenant.id, l.period.to_block, l.period.index)
            }
        }
    }

    /// The canonical bytes of the leaf.
    pub fn encode(&self) -> String {
        let mut out = Vec::with_capacity(1024);
        self.write_canonical(&mut out);
        String::from_utf8(out).expect("JSON text is UTF-8")
    }

    /// Appends the canonical bytes of the leaf to `out`, written field by field by
    /// [`Canonical`]: no intermediate JSON value, no allocation but `out`'s.
    pub fn write_canonical(&self, out: &mut Vec<u8>) {
        let mut w = Canonical(out);
        match self {
            Leaf::Record(r) => w.record(r),
            Leaf::Manifest(m) => w.manifest(m),
            Leaf::Retraction(r) => w.retraction(r),
            Leaf::Statement(_) => {
                let value = serde_json::to_value(self).expect("a leaf is plain JSON");
                let mut text = String::with_capacity(1024);
                write_canonical(&value, &mut text);
                w.raw(&text);
            }
        }
    }

    /// The canonical bytes through a JSON value: every key sorted at every level. The
    /// reference [`Leaf::encode`] is tested against.
    #[cfg(test)]
    fn encode_generic(&self) -> String {
        let value = serde_json::to_value(self).expect("a leaf is plain JSON");
        let mut out = String::with_capacity(512);
        write_canonical(&value, &mut out);
        out
    }

    /// The leaf's hash in the tree: SHA-256 over `0x00 || encode()`.
    pub fn hash(&self) -> Hash {
        merkle::leaf_hash(self.encode().as_bytes())
    }

    /// Reads a leaf and checks that the bytes are exactly its canonical encoding.
    pub fn decode(bytes: &str) -> Result<Leaf, LeafError> {
        // The common case, straight into the typed leaf. Whatever it does not accept (another
        // version, a malformed or non-canonical leaf) goes the slower way, through a JSON
        // value, which says precisely why.
        if let Ok(leaf) = serde_json::from_str::<Leaf>(bytes) {
            if leaf.version() == LEAF_VERSION {
                let mut again = Vec::with_capacity(bytes.len());
                leaf.write_canonical(&mut again);
                if again == bytes.as_bytes() {
                    return Ok(leaf);
                }
            }
        }
        Self::decode_via_value(bytes)
    }

    fn decode_via_value(bytes: &str) -> Result<Leaf, LeafError> {
        let value: Value =
            serde_json::from_str(bytes).map_err(|e| LeafError::Malformed(e.to_string()))?;
        let v = value.get("v").and_then(Value::as_u64).unwrap_or(0);
        if v != u64::from(LEAF_VERSION) {
            return Err(LeafError::Version(v.min(u64::from(u32::MAX)) as u32));
        }
        let leaf: Leaf =
            serde_json::from_value(value).map_err(|e| LeafError::Malformed(e.to_string()))?;
        if leaf.encode() != bytes {
            return Err(LeafError::NotCanonical);
        }
        Ok(leaf)
    }

    fn version(&self) -> u32 {
        match self {
            Leaf::Record(l) => l.v,
            Leaf::Manifest(l) => l.v,
            Leaf::Retraction(l) => l.v,
            Leaf::Statement(l) => l.v,
        }
    }
}

/// Canonical JSON: object keys sorted by UTF-8 bytes, no whitespace.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

/// The typed canonical writer: each leaf written field by field, every object's keys in UTF-8
/// byte order (`type` among them), strings escaped and numbers written by serde_json (as
/// `serde_json::to_string` would: integers exact whatever their size, floats shortest
/// round-trip). Decoded event `fields` are a serde_json value whose maps are ordered by key
/// already (serde_json's `BTreeMap`), so serde_json writes them canonically too. The output is
/// byte for byte the generic form ([`canonical_json`] of the leaf as a value): tests pin both.
struct Canonical<'a>(&'a mut Vec<u8>);

impl Canonical<'_> {
    fn raw(&mut self, s: &str) {
        self.0.extend_from_slice(s.as_bytes());
    }

    /// A value serde_json writes itself: a string (escaped), an integer or a JSON value.
    fn json<T: Serialize + ?Sized>(&mut self, v: &T) {
        serde_json::to_writer(&mut *self.0, v).expect("writing to a Vec cannot fail");
    }

    /// `"key":` after `prefix` (`{` or `,`): the keys are literals that need no escaping.
    fn key(&mut self, prefix: &str, key: &str) {
        self.raw(prefix);
        self.0.push(b'"');
        self.raw(key);
        self.raw("\":");
    }

    fn strings(&mut self, items: &[String]) {
        self.0.push(b'[');
        for (i, s) in items.iter().enumerate() {
            if i > 0 {
                self.0.push(b',');
            }
            self.json(s);
        }
        self.0.push(b']');
    }

    fn verdict_items(&mut self, items: &[VerdictItem]) {
        self.0.push(b'[');
        for (i, it) in items.iter().enumerate() {
            if i > 0 {
                self.0.push(b',');
            }
            self.key("{", "expected");
            self.json(&it.expected);
            self.key(",", "item");
            self.json(&it.item);
            self.key(",", "observed");
            self.json(&it.observed);
            self.key(",", "rule");
            self.json(&it.rule);
            self.key(",", "severity");
            self.json(&it.severity);
            self.key(",", "subject");
            self.json(&it.subject);
            self.0.push(b'}');
        }
        self.0.push(b']');
    }

    fn record(&mut self, r: &RecordLeaf) {
        self.key("{", "block");
        self.key("{", "hash");
        self.json(&r.block.hash);
        self.key(",", "number");
        self.json(&r.block.number);
        self.key(",", "timestamp");
        self.json(&r.block.timestamp);
        self.key("},", "chain_id");
        self.json(&r.chain_id);
        self.key(",", "event");
        self.key("{", "category");
        self.json(&r.event.category);
        self.key(",", "fields");
        self.json(&r.event.fields);
        self.key(",", "kind");
        self.json(&r.event.kind);
        self.key("},", "group");
        self.json(&r.group);
        self.key(",", "index");
        self.json(&r.index);
        self.key(",", "log");
        self.key("{", "address");
        self.json(&r.log.address);
        self.key(",", "data");
        self.json(&r.log.data);
        self.key(",", "index");
        self.json(&r.log.index);
        self.key(",", "topics");
        self.strings(&r.log.topics);
        self.key("},", "manifest");
        self.json(&r.manifest);
        self.key(",", "tx");
        self.key("{", "hash");
        self.json(&r.tx.hash);
        self.key(",", "index");
        self.json(&r.tx.index);
        self.key("},", "type");
        self.raw("\"record\"");
        self.key(",", "v");
        self.json(&r.v);
        self.key(",", "verdict");
        self.key("{", "opened");
        self.verdict_items(&r.verdict.opened);
        self.key(",", "resolved");
        self.verdict_items(&r.verdict.resolved);
        self.key(",", "status");
        self.json(&r.verdict.status);
        self.raw("}}");
    }

    fn manifest(&mut self, m: &ManifestLeaf) {
        self.key("{", "chain_id");
        self.json(&m.chain_id);
        self.key(",", "document");
        self.json(&m.document);
        self.key(",", "effective_block");
        self.json(&m.effective_block);
        self.key(",", "group");
        self.json(&m.group);
        self.key(",", "hash");
        self.json(&m.hash);
        self.key(",", "index");
        self.json(&m.index);
        if let Some(r) = &m.ratification {
            // Through a JSON value, whose maps serde_json keeps sorted by key.
            self.key(",", "ratification");
            self.json(&serde_json::to_value(r).expect("a ratification is plain JSON"));
        }
        self.key(",", "type");
        self.raw("\"manifest\"");
        self.key(",", "v");
        self.json(&m.v);
        self.key(",", "version");
        self.json(&m.version);
        self.0.push(b'}');
    }

    fn retraction(&mut self, r: &RetractionLeaf) {
        self.key("{", "chain_id");
        self.json(&r.chain_id);
        self.key(",", "fork_block");
        self.json(&r.fork_block);
        self.key(",", "fork_hash");
        self.json(&r.fork_hash);
        self.key(",", "index");
        self.json(&r.index);
        self.key(",", "reason");
        self.json(&r.reason);
        self.key(",", "type");
        self.raw("\"retraction\"");
        self.key(",", "v");
        self.json(&r.v);
        self.key(",", "voids");
        self.0.push(b'[');
        for (i, v) in r.voids.iter().enumerate() {
            if i > 0 {
                self.0.push(b',');
            }
            self.key("{", "block");
            self.json(&v.block);
            self.key(",", "block_hash");
            self.json(&v.block_hash);
            self.key(",", "index");
            self.json(&v.index);
            self.key(",", "leaf_hash");
            self.json(&v.leaf_hash);
            self.0.push(b'}');
        }
        self.raw("]}");
    }
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record_row() -> RecordRow {
        RecordRow {
            group_id: "acme".into(),
            chain_id: 31337,
            block_number: 12,
            block_hash: format!("0x{}", "ab".repeat(32)),
            block_timestamp: Some(1_700_000_000),
            tx_hash: format!("0x{}", "cd".repeat(32)),
            tx_index: 1,
            log_index: 3,
            address: "0x5FbDB2315678afecb367f032d93F642f64180aa3".into(),
            kind: "safe.execution_success".into(),
            category: "treasury".into(),
            fields: r#"{"tx_hash":"0x01","payment":"0"}"#.into(),
            topics: r#"["0x442e715f626346e8c54381002da614f62bee8d27386535b2521ec8540898556e"]"#
                .into(),
            data: "0x".into(),
            manifest_hash: Some(format!("0x{}", "ee".repeat(32))),
        }
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level_without_whitespace() {
        let v: Value =
            serde_json::from_str(r#"{"b": {"z": 1, "a": [ {"y":2,"x":"é\n"} ]}, "a": null}"#)
                .unwrap();
        assert_eq!(
            canonical_json(&v),
            r#"{"a":null,"b":{"a":[{"x":"é\n","y":2}],"z":1}}"#
        );
    }

    #[test]
    fn a_record_leaf_has_a_fixed_encoding() {
        let mut leaf = Leaf::record(&record_row(), Verdict::new(vec![], vec![])).unwrap();
        leaf.set_index(7);
        let bytes = leaf.encode();
        assert_eq!(
            bytes,
            format!(
                concat!(
                    r#"{{"block":{{"hash":"0x{ab}","number":12,"timestamp":1700000000}},"#,
                    r#""chain_id":31337,"event":{{"category":"treasury","fields":{{"payment":"0","tx_hash":"0x01"}},"#,
                    r#""kind":"safe.execution_success"}},"group":"acme","index":7,"#,
                    r#""log":{{"address":"0x5FbDB2315678afecb367f032d93F642f64180aa3","data":"0x","index":3,"#,
                    r#""topics":["0x442e715f626346e8c54381002da614f62bee8d27386535b2521ec8540898556e"]}},"#,
                    r#""manifest":"0x{ee}","tx":{{"hash":"0x{cd}","index":1}},"type":"record","v":1,"#,
                    r#""verdict":{{"opened":[],"resolved":[],"status":"consistent"}}}}"#
                ),
                ab = "ab".repeat(32),
                cd = "cd".repeat(32),
                ee = "ee".repeat(32)
            )
        );
        assert_eq!(Leaf::decode(&bytes).unwrap(), leaf);
        assert_eq!(leaf.hash(), merkle::leaf_hash(bytes.as_bytes()));
    }

    #[test]
    fn decode_refuses_non_canonical_bytes_unknown_fields_and_other_versions() {
        let leaf = Leaf::record(&record_row(), Verdict::new(vec![], vec![])).unwrap();
        let bytes = leaf.encode();
        let spaced = bytes.replacen(':', ": ", 1);
        assert!(matches!(
            Leaf::decode(&spaced),
            Err(LeafError::NotCanonical)
        ));
        let extra = bytes.replacen("{", r#"{"aaa":1,"#, 1);
        assert!(matches!(Leaf::decode(&extra), Err(LeafError::Malformed(_))));
        let v2 = bytes.replace(r#""v":1"#, r#""v":2"#);
        assert!(matches!(Leaf::decode(&v2), Err(LeafError::Version(2))));
        assert!(matches!(Leaf::decode("[1]"), Err(LeafError::Version(0))));
    }

    #[test]
    fn manifests_sort_before_records_of_their_block_and_retractions_after() {
        let record = Leaf::record(&record_row(), Verdict::new(vec![], vec![])).unwrap();
        let retraction = Leaf::Retraction(RetractionLeaf {
            v: LEAF_VERSION,
            index: 0,
            chain_id: 31337,
            fork_block: 12,
            fork_hash: None,
            voids: vec![],
            reason: String::new(),
        });
        let manifest_pos = Position {
            block: 12,
            tx_index: -1,
            log_index: -1,
            group: "zzz".into(),
            version: 3,
        };
        assert!(manifest_pos < record.position());
        assert!(record.position() < retraction.position());
    }

    #[test]
    fn verdict_status_and_order_do_not_depend_on_discovery_order() {
        let item = |rule: &str| VerdictItem {
            rule: rule.into(),
            severity: "high".into(),
            subject: "0x1".into(),
            item: String::new(),
            expected: "a".into(),
            observed: "b".into(),
        };
        let a = Verdict::new(vec![item("b.rule"), item("a.rule")], vec![]);
        let b = Verdict::new(vec![item("a.rule"), item("b.rule")], vec![]);
        assert_eq!(a, b);
        assert_eq!(a.status, "divergent");
        assert_eq!(Verdict::new(vec![], vec![item("x")]).status, "reconciled");
    }

    #[test]
    fn a_statement_leaf_is_canonical_and_sorts_after_its_last_block() {
        let mut leaf = Leaf::Statement(StatementLeaf {
            v: LEAF_VERSION,
            index: 0,
            chain_id: 31337,
            covenant: StatedCovenant {
                id: "river-x-lake".into(),
                version: 2,
                hash: "ab".repeat(32),
            },
            period: StatedPeriod {
                index: 0,
                from_block: 0,
                to_block: 12,
                from_time: 1_700_000_000,
                to_time: 1_700_000_144,
            },
            clauses: vec![StatedClause {
                index: 0,
                name: "min_owners".into(),
                sentence: "Safe 0x01 has at least 3 owners".into(),
                verdict: ClauseVerdict::AtRisk,
                findings: vec![Evidence {
                    opened_block: 3,
                    group: "river-guild".into(),
                    rule: "covenant.at_risk".into(),
                    opened_hash: "0x03".into(),
                    opened_tx: None,
                    resolved_block: Some(9),
                }],
            }],
            log: StatedLog {
                size: 4,
                root: "cd".repeat(32),
            },
        });
        leaf.set_index(4);
        let bytes = leaf.encode();
        assert_eq!(bytes, leaf.encode_generic());
        assert!(
            bytes.starts_with(
                r#"{"chain_id":31337,"clauses":[{"findings":[{"group":"river-guild","#
            ),
            "{bytes}"
        );
        assert!(
            bytes.contains(r#""verdict":"at_risk"}],"covenant":{"#),
            "{bytes}"
        );
        assert!(bytes.ends_with(r#""type":"statement","v":1}"#), "{bytes}");
        assert_eq!(Leaf::decode(&bytes).unwrap(), leaf);
        assert_eq!(
            (leaf.kind(), leaf.block(), leaf.group()),
            ("statement", 12, None)
        );
        let record = Leaf::record(&record_row(), Verdict::new(vec![], vec![])).unwrap();
        assert!(
            record.position() < leaf.position(),
            "after the records of block 12"
        );
        let retraction = Position {
            block: 12,
            tx_index: i64::MAX,
            log_index: i64::MAX,
            group: String::new(),
            version: 0,
        };
        assert!(leaf.position() < retraction);
    }

    /// The direct encoding of record leaves is byte for byte the generic canonical one.
    #[test]
    fn record_leaves_encode_as_the_generic_canonical_form() {
        let item = |n: u8| VerdictItem {
            rule: format!("safe.rule_{n}"),
            severity: "critical".into(),
            subject: "0x5FbDB2315678afecb367f032d93F642f64180aa3".into(),
            item: format!("it\"em\\{n}\u{e9}\u{1}"),
            expected: "a \"quoted\" <thing>".into(),
            observed: "line\nbreak\ttab".into(),
        };
        for n in 0..12u8 {
            let mut row = record_row();
            row.fields = match n % 4 {
                0 => r#"{"z":1,"a":{"y":[1,2,{"b":null,"a":"\u00e9"}],"x":-3},"M":true}"#.into(),
                1 => r#"{"event":"safe_received","value":"1000","sender":"0x01"}"#.into(),
                2 => r#"{}"#.into(),
                _ => r#"{"big":123456789012345678901234567890,"f":1.5e300,"s":"\ud83d\ude00"}"#
                    .into(),
            };
            if n % 3 == 0 {
                row.block_timestamp = None;
                row.manifest_hash = None;
            }
            row.topics = format!(
                "[{}]",
                (0..n % 5)
                    .map(|i| format!("\"0x{i:064x}\""))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            let opened: Vec<VerdictItem> = (0..n % 3).map(item).collect();
            let resolved: Vec<VerdictItem> = (0..n % 2).map(|i| item(i + 7)).collect();
            let mut leaf = Leaf::record(&row, Verdict::new(opened, resolved)).unwrap();
            leaf.set_index(u64::from(n) * 1_000_003);
            assert_eq!(leaf.encode(), leaf.encode_generic(), "record {n}");
            assert_eq!(Leaf::decode(&leaf.encode()).unwrap(), leaf);
        }
    }
}

#[cfg(test)]
mod pinned {
    use sha2::{Digest, Sha256};

    use super::*;

    /// Leaves of every type with the edge cases of the encoding: integers above 2^53 (in the
    /// leaf and in decoded event fields), integers wider than 64 bits, negative numbers,
    /// non-ASCII text, characters JSON must escape and characters it must not.
    pub(super) fn fixed_leaves() -> Vec<Leaf> {
        let item = |rule: &str| VerdictItem {
            rule: rule.into(),
            severity: "crítico".into(),
            subject: "0x5FbDB2315678afecb367f032d93F642f64180aa3".into(),
            item: "\"quoted\" \\ back\u{1}slash".into(),
            expected: "naïve ☃ \u{1F600}".into(),
            observed: "line\nbreak\ttab\u{7f}\u{2028}".into(),
        };
        let fields = r#"{"above_2_53":9007199254740993,"big":18446744073709551615,
            "neg":-9223372036854775808,"wider":123456789012345678901234567890,"f":1.5e300,
            "s":"\ud83d\ude00 naïve \u2028 \u0001 \u007f","é":"clé","":[true,null,{"b":0,"a":-0}]}"#;
        let record = Leaf::Record(RecordLeaf {
            v: LEAF_VERSION,
            index: (1 << 53) + 1,
            chain_id: u64::MAX,
            group: "café-ü".into(),
            block: BlockEvidence {
                number: (1 << 60) + 7,
                hash: format!("0x{}", "ab".repeat(32)),
                timestamp: Some(-1),
            },
            tx: TxEvidence {
                hash: format!("0x{}", "cd".repeat(32)),
                index: 9_007_199_254_740_995,
            },
            log: LogEvidence {
                index: u64::MAX - 1,
                address: "0x5FbDB2315678afecb367f032d93F642f64180aa3".into(),
                topics: vec![format!("0x{}", "01".repeat(32)), "ü".into()],
                data: "0x".into(),
            },
            event: EventFields {
                kind: "safe.execution_success".into(),
                category: "trésor".into(),
                fields: serde_json::from_str(fields).unwrap(),
            },
            manifest: None,
            verdict: Verdict::new(vec![item("b.rule"), item("a.rule")], vec![item("ä")]),
        });
        let manifest = Leaf::Manifest(ManifestLeaf {
            v: LEAF_VERSION,
            index: 9_007_199_254_740_993,
            chain_id: 1,
            group: "gruppe-ß".into(),
            version: u64::MAX,
            effective_block: i64::MIN,
            hash: format!("0x{}", "ee".repeat(32)),
            document: "{\"name\":\"Zürich \\\"Guild\\\"\",\"n\":18446744073709551615}\n".into(),
            ratification: None,
        });
        let ratified = {
            use crate::manifest::ratify::{Authority, Ratification, Scheme, Signed};
            use alloy::primitives::{Address, B256};
            let Leaf::Manifest(mut m) = manifest.clone() else {
                unreachable!()
            };
            m.ratification = Some(Ratification {
                chain_id: 31337,
                digest: B256::repeat_byte(0xdd),
                authority: Authority {
                    version: Some(1),
                    block: None,
                    safe: Address::repeat_byte(0x55),
                    owners: vec![Address::repeat_byte(1), Address::repeat_byte(2)],
                    threshold: 1,
                },
                signers: vec![Signed {
                    signer: Address::repeat_byte(1),
                    scheme: Scheme::Eip1271,
                    signature: vec![1, 2, 3].into(),
                }],
                governor: None,
            });
            Leaf::Manifest(m)
        };
        let retraction = Leaf::Retraction(RetractionLeaf {
            v: LEAF_VERSION,
            index: 9_007_199_254_740_997,
            chain_id: 31337,
            fork_block: -1,
            fork_hash: None,
            voids: vec![
                Voided {
                    index: 9_007_199_254_740_993,
                    leaf_hash: "ff".repeat(32),
                    block: 18_446_744_073_709_551_615,
                    block_hash: format!("0x{}", "12".repeat(32)),
                },
                Voided {
                    index: 0,
                    leaf_hash: String::new(),
                    block: 0,
                    block_hash: "é".into(),
                },
            ],
            reason: "reorg — depth 3 \u{0}".into(),
        });
        let retraction_with_hash = Leaf::Retraction(RetractionLeaf {
            v: LEAF_VERSION,
            index: 4,
            chain_id: 31337,
            fork_block: 12,
            fork_hash: Some(format!("0x{}", "34".repeat(32))),
            voids: vec![],
            reason: String::new(),
        });
        vec![record, manifest, retraction, retraction_with_hash, ratified]
    }

    /// The leaf bytes are the log's contract with every auditor: these are the bytes (their
    /// SHA-256) that this code wrote before leaves were written field by field, through a JSON
    /// value. Integers keep every digit whatever their size (an RFC 8785 encoder would write
    /// `18446744073709551615` as `18446744073709552000`, and `-0.0` as `0`); event fields wider
    /// than 64 bits are floats, as serde_json reads them.
    #[test]
    fn leaf_bytes_are_pinned() {
        let pinned = [
            "3219fc3cb8f2da3a42188be746e604941a5768ff8b63b32167e97b0b67469a44",
            "43599e51cc8a81dfd2628a62a2cfdcea6216a63fcea2d4091e9adbd6dfce7f77",
            "ae7d474f60bc107c42e62c6a5f773bb6c7fdb1184537e4af4b2d30dc7ff686a6",
            "a6e28dd2bdba65f67ff1ab28e3d96807df951d51511d002ad413cd2ff873ebcb",
            // A ratified manifest version (its ratification as a sorted JSON object).
            "f1f1e9db9fe89c00ee96d6026e690dc16e7ac9a8a4c724d0fc3f740495fa6e80",
        ];
        let leaves = fixed_leaves();
        for (leaf, pin) in leaves.iter().zip(pinned) {
            let bytes = leaf.encode();
            assert_eq!(bytes, leaf.encode_generic(), "{}", leaf.kind());
            assert_eq!(
                hex::encode(Sha256::digest(bytes.as_bytes())),
                pin,
                "{bytes}"
            );
            assert_eq!(&Leaf::decode(&bytes).unwrap(), leaf);
            assert_eq!(leaf.hash(), merkle::leaf_hash(bytes.as_bytes()));
        }
        let record = leaves[0].encode();
        for part in [
            r#""chain_id":18446744073709551615,"#,
            r#""index":9007199254740993,"#,
            r#""above_2_53":9007199254740993,"big":18446744073709551615,"f":1.5e+300,"#,
            r#""neg":-9223372036854775808,"#,
            r#""wider":1.2345678901234568e+29,"é":"clé""#,
            r#"{"a":-0.0,"b":0}"#,
            "\"s\":\"\u{1F600} naïve \u{2028} \\u0001 \u{7f}\"",
            r#""item":"\"quoted\" \\ back\u0001slash","observed":"line\nbreak\ttab"#,
            r#""group":"café-ü","#,
        ] {
            assert!(record.contains(part), "{part} in {record}");
        }
        assert_eq!(
            leaves[3].encode(),
            concat!(
                r#"{"chain_id":31337,"fork_block":12,"fork_hash":"0x"#,
                "3434343434343434343434343434343434343434343434343434343434343434",
                r#"","index":4,"reason":"","type":"retraction","v":1,"voids":[]}"#
            )
        );
    }
}
