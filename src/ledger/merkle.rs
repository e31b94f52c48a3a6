//! The log's Merkle tree, as RFC 6962 and RFC 9162 §2.1 define it, independent of storage.
//!
//! Layout: node `(level, index)` is the root of the perfect subtree of `2^level` leaves that starts
//! at leaf `index * 2^level`. Appending leaf `n` completes node `(0, n)` and then every perfect
//! subtree that leaf closes above it; [`Frontier::append`] returns exactly those nodes, so a store
//! that writes them holds every complete subtree and never rewrites one. Everything else (a root,
//! a proof element over a ragged right edge) is composed from at most `log2(n)` stored nodes, so
//! each operation costs `O(log n)` reads: [`root`], [`inclusion_proof`], [`consistency_proof`].
//!
//! The readers go through [`NodeSource`]. A store that cannot read synchronously (sqlx is async)
//! asks [`inclusion_proof_nodes`] / [`consistency_proof_nodes`] / [`root_nodes`] which nodes a
//! computation needs, fetches them in one query into a `HashMap<NodeId, Hash>` (which is a
//! [`NodeSource`]), and runs the same function on the map.
//!
//! Invariant: a proof produced here is byte-for-byte the RFC 9162 `PATH` / `PROOF` of the tree
//! of that size, whatever larger tree the source holds; [`verify_inclusion`] and
//! [`verify_consistency`] are the RFC 9162 §2.1.3.2 / §2.1.4.2 algorithms.

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// A SHA-256 digest: a leaf hash, a node hash or a tree root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The 32 bytes of the digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hexadecimal, 64 characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// As its lower-case hexadecimal text (no `0x`, as transparency logs write hashes).
impl serde::Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl From<[u8; 32]> for Hash {
    fn from(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl FromStr for Hash {
    type Err = MerkleError;

    /// Parses 64 hexadecimal characters (either case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes).map_err(|source| MerkleError::InvalidHashHex {
            input: s.chars().take(80).collect(),
            source,
        })?;
        Ok(Self(bytes))
    }
}

/// `SHA-256(0x00 || data)`: the hash of one leaf (RFC 9162 §2.1.1).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(data);
    Hash(hasher.finalize().into())
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node (RFC 9162 §2.1.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left.0);
    hasher.update(right.0);
    Hash(hasher.finalize().into())
}

/// `SHA-256("")`: the root of the empty tree (RFC 9162 §2.1.1).
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([]).into())
}

/// A stored node: the root of the perfect subtree of `2^level` leaves starting at leaf
/// `index * 2^level`. Level 0 holds the leaf hashes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct NodeId {
    pub level: u32,
    pub index: u64,
}

impl NodeId {
    pub const fn new(level: u32, index: u64) -> Self {
        Self { level, index }
    }

    /// The node that holds the hash of leaf `index`.
    pub const fn leaf(index: u64) -> Self {
        Self { level: 0, index }
    }

    /// The leaves this node covers, `[first, end)`; `u128` so no level or index overflows.
    pub fn leaf_range(&self) -> (u128, u128) {
        let first = u128::from(self.index) << self.level;
        (first, first + (1u128 << self.level))
    }

    /// Whether the tree of `size` leaves contains this node complete. A store rolling the log
    /// back to `size` deletes exactly the nodes for which this is false.
    pub fn is_complete_in(&self, size: u64) -> bool {
        self.leaf_range().1 <= u128::from(size)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {})", self.level, self.index)
    }
}

/// Why a tree operation or a proof verification failed.
#[derive(Debug, thiserror::Error)]
pub enum MerkleError {
    #[error("leaf index {index} is outside a tree of {size} leaves")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("old tree size {old_size} exceeds new tree size {new_size}")]
    OldSizeExceedsNewSize { old_size: u64, new_size: u64 },
    #[error(
        "inclusion proof for leaf {index} in a tree of {size} leaves has {actual} hashes, \
         expected {expected}"
    )]
    InclusionProofLength {
        index: u64,
        size: u64,
        expected: usize,
        actual: usize,
    },
    #[error(
        "inclusion proof for leaf {index} in a tree of {size} leaves leads to root {computed}, \
         not {expected}"
    )]
    InclusionRootMismatch {
        index: u64,
        size: u64,
        expected: Hash,
        computed: Hash,
    },
    #[error(
        "consistency proof from {old_size} to {new_size} leaves has {actual} hashes, \
         expected {expected}"
    )]
    ConsistencyProofLength {
        old_size: u64,
        new_size: u64,
        expected: usize,
        actual: usize,
    },
    #[error(
        "consistency proof leads to old root {computed} for {old_size} leaves, not {expected}"
    )]
    OldRootMismatch {
        old_size: u64,
        expected: Hash,
        computed: Hash,
    },
    #[error(
        "consistency proof leads to new root {computed} for {new_size} leaves, not {expected}"
    )]
    NewRootMismatch {
        new_size: u64,
        expected: Hash,
        computed: Hash,
    },
    #[error("node {0} (level, index) is not in the source")]
    MissingNode(NodeId),
    #[error("not a 64-character hexadecimal hash: {input:?}")]
    InvalidHashHex {
        input: String,
        #[source]
        source: hex::FromHexError,
    },
}

/// Read access to the stored hashes of complete perfect subtrees.
///
/// The error type must absorb a [`MerkleError`] so that a bad argument (an index past the size)
/// and a failed read come back through one `Result`.
pub trait NodeSource {
    type Error: From<MerkleError>;

    /// The hash of node `id`, which the caller only asks for when it is complete in the tree
    /// being read.
    fn node(&self, id: NodeId) -> Result<Hash, Self::Error>;
}

/// A map of fetched nodes, e.g. those [`inclusion_proof_nodes`] listed and a store read in one
/// query.
impl<S: BuildHasher> NodeSource for HashMap<NodeId, Hash, S> {
    type Error = MerkleError;

    fn node(&self, id: NodeId) -> Result<Hash, MerkleError> {
        self.get(&id).copied().ok_or(MerkleError::MissingNode(id))
    }
}

/// The right edge of the tree: the roots of the perfect subtrees that make up its `size` leaves,
/// one per set bit of `size`, largest (leftmost) first — at most 64 hashes, `log2(size)` in
/// practice. Enough to append and to compute the current root without reading anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the frontier of the tree of `size` leaves from a source (at most 64 reads): how a
    /// restarted or rolled-back log resumes appending.
    pub fn from_source<S: NodeSource + ?Sized>(source: &S, size: u64) -> Result<Self, S::Error> {
        let hashes = root_nodes(size)
            .into_iter()
            .map(|id| source.node(id))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { size, hashes })
    }

    /// The number of leaves appended.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The current root, `MTH` of all leaves; [`empty_root`] for the empty tree.
    pub fn root(&self) -> Hash {
        compose(&self.hashes)
    }

    /// The frontier's nodes with their ids, largest subtree first.
    pub fn nodes(&self) -> impl Iterator<Item = (NodeId, Hash)> + '_ {
        root_nodes(self.size)
            .into_iter()
            .zip(self.hashes.iter().copied())
    }

    /// Appends a leaf (its [`leaf_hash`]) and returns the nodes it completes, bottom-up: the leaf
    /// node `(0, n)` first, then one parent for each trailing one bit of `n`. Storing these for
    /// every append stores every complete subtree exactly once.
    pub fn append(&mut self, leaf_hash: Hash) -> Vec<(NodeId, Hash)> {
        let leaf_index = self.size;
        let mut completed = Vec::with_capacity(1 + leaf_index.trailing_ones() as usize);
        let mut id = NodeId::leaf(leaf_index);
        let mut hash = leaf_hash;
        completed.push((id, hash));
        // A node with an odd index is a right child: its left sibling is the smallest subtree on
        // the frontier, and together they complete the parent.
        while id.index & 1 == 1 {
            let left = self
                .hashes
                .pop()
                .expect("the frontier holds one subtree per set bit of its size");
            hash = node_hash(&left, &hash);
            id = NodeId::new(id.level + 1, id.index >> 1);
            completed.push((id, hash));
        }
        self.hashes.push(hash);
        self.size = leaf_index
            .checked_add(1)
            .expect("a log of 2^64 leaves cannot grow");
        completed
    }
}

/// The nodes whose composition is the root of the tree of `size` leaves (the frontier), largest
/// first; empty for the empty tree.
pub fn root_nodes(size: u64) -> Vec<NodeId> {
    span_nodes(Span {
        start: 0,
        end: size,
    })
    .collect()
}

/// The root of the tree of `size` leaves, from at most `popcount(size)` reads.
pub fn root<S: NodeSource + ?Sized>(source: &S, size: u64) -> Result<Hash, S::Error> {
    span_hash(
        source,
        Span {
            start: 0,
            end: size,
        },
    )
}

/// The inclusion proof `PATH(index, D[size])` of RFC 9162 §2.1.3.1, from `O(log size)` reads:
/// sibling hashes from the leaf up to the root.
pub fn inclusion_proof<S: NodeSource + ?Sized>(
    source: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, S::Error> {
    inclusion_spans(index, size)?
        .into_iter()
        .map(|span| span_hash(source, span))
        .collect()
}

/// The consistency proof `PROOF(old_size, D[new_size])` of RFC 9162 §2.1.4.1, from
/// `O(log new_size)` reads. Empty when `old_size` is 0 or equals `new_size`, where every tree
/// is consistent with the empty one and with itself.
pub fn consistency_proof<S: NodeSource + ?Sized>(
    source: &S,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, S::Error> {
    consistency_spans(old_size, new_size)?
        .into_iter()
        .map(|span| span_hash(source, span))
        .collect()
}

/// Every node [`inclusion_proof`] reads for `(index, size)`, each once.
pub fn inclusion_proof_nodes(index: u64, size: u64) -> Result<Vec<NodeId>, MerkleError> {
    Ok(inclusion_spans(index, size)?
        .into_iter()
        .flat_map(span_nodes)
        .collect())
}

/// Every node [`consistency_proof`] reads for `(old_size, new_size)`, each once.
pub fn consistency_proof_nodes(old_size: u64, new_size: u64) -> Result<Vec<NodeId>, MerkleError> {
    Ok(consistency_spans(old_size, new_size)?
        .into_iter()
        .flat_map(span_nodes)
        .collect())
}

/// Checks that `leaf_hash` is leaf `index` of the tree of `size` leaves whose root is `root`
/// (RFC 9162 §2.1.3.2).
///
/// `size` and `root` must come from the same (signed) checkpoint: the hash chain does not always
/// depend on the size — leaf 5's path has the same shape in trees of 7 and 8 leaves — so only
/// the pair binds the proof to one tree.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), MerkleError> {
    let computed = root_from_inclusion_proof(leaf_hash, index, size, proof)?;
    if computed != *root {
        return Err(MerkleError::InclusionRootMismatch {
            index,
            size,
            expected: *root,
            computed,
        });
    }
    Ok(())
}

/// The root that an inclusion proof leads to, by RFC 9162 §2.1.3.2 steps 1–4; the caller
/// compares it with a root it trusts.
pub fn root_from_inclusion_proof(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, MerkleError> {
    let expected = inclusion_spans(index, size)?.len();
    let wrong_length = || MerkleError::InclusionProofLength {
        index,
        size,
        expected,
        actual: proof.len(),
    };
    if proof.len() != expected {
        return Err(wrong_length());
    }
    let mut fnode = index;
    let mut snode = size - 1;
    let mut r = *leaf_hash;
    for p in proof {
        if snode == 0 {
            return Err(wrong_length());
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(wrong_length());
    }
    Ok(r)
}

/// Checks that the tree of `new_size` leaves with root `new_root` extends the tree of
/// `old_size` leaves with root `old_root` (RFC 9162 §2.1.4.2).
///
/// The cases the RFC leaves to the caller: `old_size == new_size` needs an empty proof and equal
/// roots; `old_size == 0` needs an empty proof and `old_root` equal to [`empty_root`].
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), MerkleError> {
    let expected = consistency_spans(old_size, new_size)?.len();
    let wrong_length = || MerkleError::ConsistencyProofLength {
        old_size,
        new_size,
        expected,
        actual: proof.len(),
    };
    if proof.len() != expected {
        return Err(wrong_length());
    }
    if old_size == 0 {
        let empty = empty_root();
        if *old_root != empty {
            return Err(MerkleError::OldRootMismatch {
                old_size,
                expected: *old_root,
                computed: empty,
            });
        }
        return Ok(());
    }
    if old_size == new_size {
        if old_root != new_root {
            return Err(MerkleError::NewRootMismatch {
                new_size,
                expected: *new_root,
                computed: *old_root,
            });
        }
        return Ok(());
    }

    // Step 2: when the old tree is a perfect subtree its root is the first element of the path.
    let (first, rest) = if old_size.is_power_of_two() {
        (*old_root, proof)
    } else {
        let (first, rest) = proof.split_first().ok_or_else(wrong_length)?;
        (*first, rest)
    };
    let mut fnode = old_size - 1;
    let mut snode = new_size - 1;
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let mut fr = first;
    let mut sr = first;
    for c in rest {
        if snode == 0 {
            return Err(wrong_length());
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(wrong_length());
    }
    if fr != *old_root {
        return Err(MerkleError::OldRootMismatch {
            old_size,
            expected: *old_root,
            computed: fr,
        });
    }
    if sr != *new_root {
        return Err(MerkleError::NewRootMismatch {
            new_size,
            expected: *new_root,
            computed: sr,
        });
    }
    Ok(())
}

/// A tree held in memory: the frontier plus every complete node, one `Vec` per level. For tests
/// and for `verify`, which recomputes the log from its leaves and compares.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    frontier: Frontier,
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    pub fn new() -> Self {
        Self::default()
    }

    /// The tree of these leaves' data, in order.
    pub fn from_leaves<I, D>(leaves: I) -> Self
    where
        I: IntoIterator<Item = D>,
        D: AsRef<[u8]>,
    {
        let mut tree = Self::new();
        for data in leaves {
            tree.append(leaf_hash(data.as_ref()));
        }
        tree
    }

    /// Appends a leaf (its [`leaf_hash`]) and returns its index.
    pub fn append(&mut self, leaf_hash: Hash) -> u64 {
        let index = self.frontier.size();
        for (id, hash) in self.frontier.append(leaf_hash) {
            let level = id.level as usize;
            if self.levels.len() <= level {
                self.levels.resize_with(level + 1, Vec::new);
            }
            debug_assert_eq!(self.levels[level].len() as u64, id.index);
            self.levels[level].push(hash);
        }
        index
    }

    /// Drops every leaf from `size` on, as a roll-back does; no-op if the tree is not larger.
    pub fn truncate(&mut self, size: u64) {
        if size >= self.size() {
            return;
        }
        for (level, nodes) in self.levels.iter_mut().enumerate() {
            // `size >> level` complete nodes remain at each level; `size` fits in usize here
            // because the tree held more leaves than that in memory.
            nodes.truncate((size >> level) as usize);
        }
        self.levels.retain(|nodes| !nodes.is_empty());
        self.frontier = Frontier::from_source(self, size)
            .expect("every node of a smaller tree is in the truncated levels");
    }

    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The current root.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    pub fn frontier(&self) -> &Frontier {
        &self.frontier
    }
}

impl NodeSource for MemoryTree {
    type Error = MerkleError;

    fn node(&self, id: NodeId) -> Result<Hash, MerkleError> {
        usize::try_from(id.index)
            .ok()
            .and_then(|index| self.levels.get(id.level as usize)?.get(index))
            .copied()
            .ok_or(MerkleError::MissingNode(id))
    }
}

/// The leaves `[start, end)` of a subtree in the RFC recursion: perfect, or the ragged right edge
/// of a tree, always starting at a multiple of the largest power of two not above its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    start: u64,
    end: u64,
}

/// The largest power of two smaller than `n` (the RFC's `k`), for `n >= 2`.
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The subtrees `PATH(index, D[size])` hashes, leaf level first. Walks down from the root,
/// recording the sibling of each subtree that holds the leaf, then reverses: the RFC's
/// recursion appends the outer sibling after the inner ones.
fn inclusion_spans(index: u64, size: u64) -> Result<Vec<Span>, MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let mut spans = Vec::with_capacity(64);
    let (mut start, mut end) = (0, size);
    while end - start > 1 {
        let k = split_point(end - start);
        if index < start + k {
            spans.push(Span {
                start: start + k,
                end,
            });
            end = start + k;
        } else {
            spans.push(Span {
                start,
                end: start + k,
            });
            start += k;
        }
    }
    spans.reverse();
    Ok(spans)
}

/// The subtrees `PROOF(old_size, D[new_size])` hashes, in proof order; the same walk as
/// [`inclusion_spans`] on the RFC's `SUBPROOF(m, D[n], b)`.
fn consistency_spans(old_size: u64, new_size: u64) -> Result<Vec<Span>, MerkleError> {
    if old_size > new_size {
        return Err(MerkleError::OldSizeExceedsNewSize { old_size, new_size });
    }
    if old_size == 0 || old_size == new_size {
        return Ok(Vec::new());
    }
    let mut spans = Vec::with_capacity(64);
    let (mut start, mut end) = (0, new_size);
    // The RFC's `b`: true while the subtree reached is the old tree itself, whose root the
    // verifier already has.
    let mut old_root_known = true;
    while old_size != end {
        let k = split_point(end - start);
        if old_size <= start + k {
            spans.push(Span {
                start: start + k,
                end,
            });
            end = start + k;
        } else {
            spans.push(Span {
                start,
                end: start + k,
            });
            start += k;
            old_root_known = false;
        }
    }
    if !old_root_known {
        spans.push(Span { start, end });
    }
    spans.reverse();
    Ok(spans)
}

/// The perfect subtrees that make up a span, left to right: one per set bit of its length,
/// largest first. Each is aligned because the span starts at a multiple of its largest one.
fn span_nodes(span: Span) -> impl Iterator<Item = NodeId> {
    let len = span.end - span.start;
    let mut next = span.start;
    (0..64u32)
        .rev()
        .filter(move |level| (len >> level) & 1 == 1)
        .map(move |level| {
            debug_assert_eq!(next % (1 << level), 0, "unaligned subtree in {span:?}");
            let id = NodeId::new(level, next >> level);
            next += 1 << level;
            id
        })
}

/// `MTH` of a span, composed from its perfect subtrees.
fn span_hash<S: NodeSource + ?Sized>(source: &S, span: Span) -> Result<Hash, S::Error> {
    let hashes = span_nodes(span)
        .map(|id| source.node(id))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(compose(&hashes))
}

/// The root of adjacent perfect subtrees given largest first: the smaller ones to the right
/// always form the right child (RFC 9162's split at the largest power of two).
fn compose(hashes: &[Hash]) -> Hash {
    match hashes.split_last() {
        None => empty_root(),
        Some((last, rest)) => rest
            .iter()
            .rev()
            .fold(*last, |right, left| node_hash(left, &right)),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use super::*;

    fn h(hex: &str) -> Hash {
        hex.parse().expect("test vector is a hash")
    }

    // Known answers from transparency-dev/merkle (Apache-2.0), the continuation of Trillian's
    // `merkle/rfc6962` tests and of Certificate Transparency's reference tests:
    // `testonly/constants.go` (leaf inputs, node hashes, roots) and `proof/verify_test.go`
    // (inclusion and consistency proofs). Leaf indices there are 1-based; here 0-based.
    const LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];

    /// `NodeHashes()`: `[level][index]` of the complete subtrees of the 8-leaf tree.
    const NODE_HASHES: [&[&str]; 4] = [
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
            "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
        ],
        &[
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        ],
        &[
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
        &["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
    ];

    /// `RootHashes()`: the root for each size 0..=8.
    const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    /// `inclusionProofs` of `proof/verify_test.go`: (0-based index, size, proof).
    const INCLUSION_PROOFS: [(u64, u64, &[&str]); 5] = [
        (0, 1, &[]),
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];

    /// `consistencyProofs` of `proof/verify_test.go`: (old size, new size, proof).
    const CONSISTENCY_PROOFS: [(u64, u64, &[&str]); 5] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            6,
            7,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];

    fn hashes(hexes: &[&str]) -> Vec<Hash> {
        hexes.iter().map(|x| h(x)).collect()
    }

    fn vector_tree() -> MemoryTree {
        MemoryTree::from_leaves(LEAVES.iter().map(|x| hex::decode(x).unwrap()))
    }

    /// RFC 9162 §2.1 written as the recursive definitions, with `MTH` memoised so that checking
    /// every proof of a 1,000-leaf tree stays quick; the definitions themselves are literal.
    struct Reference {
        leaves: Vec<Hash>,
        memo: HashMap<(usize, usize), Hash>,
    }

    impl Reference {
        fn new(leaves: Vec<Hash>) -> Self {
            Self {
                leaves,
                memo: HashMap::new(),
            }
        }

        /// The largest power of two smaller than `n`.
        fn k(n: usize) -> usize {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            k
        }

        /// `MTH(D[a:b])`.
        fn mth(&mut self, a: usize, b: usize) -> Hash {
            let n = b - a;
            if n == 0 {
                return Hash(Sha256::digest([]).into());
            }
            if n == 1 {
                return self.leaves[a];
            }
            if let Some(hash) = self.memo.get(&(a, b)) {
                return *hash;
            }
            let k = Self::k(n);
            let left = self.mth(a, a + k);
            let right = self.mth(a + k, b);
            let mut bytes = vec![0x01];
            bytes.extend_from_slice(&left.0);
            bytes.extend_from_slice(&right.0);
            let hash = Hash(Sha256::digest(&bytes).into());
            self.memo.insert((a, b), hash);
            hash
        }

        /// `PATH(m, D[a:b])`, `m` relative to `a`.
        fn path(&mut self, m: usize, a: usize, b: usize) -> Vec<Hash> {
            let n = b - a;
            if n == 1 {
                return Vec::new();
            }
            let k = Self::k(n);
            if m < k {
                let mut path = self.path(m, a, a + k);
                path.push(self.mth(a + k, b));
                path
            } else {
                let mut path = self.path(m - k, a + k, b);
                path.push(self.mth(a, a + k));
                path
            }
        }

        /// `PROOF(m, D[n])`.
        fn proof(&mut self, m: usize, n: usize) -> Vec<Hash> {
            self.subproof(m, 0, n, true)
        }

        /// `SUBPROOF(m, D[a:b], known)`, `m` relative to `a`.
        fn subproof(&mut self, m: usize, a: usize, b: usize, known: bool) -> Vec<Hash> {
            let n = b - a;
            if m == n {
                return if known {
                    Vec::new()
                } else {
                    vec![self.mth(a, b)]
                };
            }
            let k = Self::k(n);
            if m <= k {
                let mut proof = self.subproof(m, a, a + k, known);
                proof.push(self.mth(a + k, b));
                proof
            } else {
                let mut proof = self.subproof(m - k, a + k, b, false);
                proof.push(self.mth(a, a + k));
                proof
            }
        }
    }

    /// Deterministic leaf data for the larger trees.
    fn leaf_data(i: u64) -> Vec<u8> {
        format!("record {i}").into_bytes()
    }

    #[test]
    fn hashing_matches_published_node_hashes() {
        assert_eq!(empty_root(), h(ROOTS[0]));
        let tree = vector_tree();
        for (level, row) in NODE_HASHES.iter().enumerate() {
            for (index, want) in row.iter().enumerate() {
                let id = NodeId::new(level as u32, index as u64);
                assert_eq!(tree.node(id).unwrap(), h(want), "node {id}");
            }
        }
        for (i, data) in LEAVES.iter().enumerate() {
            assert_eq!(leaf_hash(&hex::decode(data).unwrap()), h(NODE_HASHES[0][i]));
        }
        assert_eq!(
            node_hash(&h(NODE_HASHES[0][0]), &h(NODE_HASHES[0][1])),
            h(NODE_HASHES[1][0])
        );
    }

    #[test]
    fn roots_match_published_vectors() {
        let full = vector_tree();
        let mut frontier = Frontier::new();
        assert_eq!(frontier.root(), h(ROOTS[0]));
        for (size, want) in ROOTS.iter().enumerate() {
            let size = size as u64;
            assert_eq!(root(&full, size).unwrap(), h(want), "root of {size}");
            assert_eq!(
                Frontier::from_source(&full, size).unwrap().root(),
                h(want),
                "frontier root of {size}"
            );
            if size > 0 {
                frontier.append(leaf_hash(&hex::decode(LEAVES[size as usize - 1]).unwrap()));
                assert_eq!(frontier.root(), h(want), "appended root of {size}");
            }
        }
    }

    #[test]
    fn inclusion_proofs_match_published_vectors() {
        let tree = vector_tree();
        for (index, size, want) in INCLUSION_PROOFS {
            let want = hashes(want);
            assert_eq!(
                inclusion_proof(&tree, index, size).unwrap(),
                want,
                "PATH({index}, D[{size}])"
            );
            let leaf = h(NODE_HASHES[0][index as usize]);
            verify_inclusion(&leaf, index, size, &want, &h(ROOTS[size as usize])).unwrap();
        }
    }

    #[test]
    fn consistency_proofs_match_published_vectors() {
        let tree = vector_tree();
        for (old_size, new_size, want) in CONSISTENCY_PROOFS {
            let want = hashes(want);
            assert_eq!(
                consistency_proof(&tree, old_size, new_size).unwrap(),
                want,
                "PROOF({old_size}, D[{new_size}])"
            );
            let (old_root, new_root) = (h(ROOTS[old_size as usize]), h(ROOTS[new_size as usize]));
            verify_consistency(old_size, new_size, &old_root, &new_root, &want).unwrap();
        }
    }

    /// `(level, index)` of the nodes a proof reads.
    type LevelIndexPairs = &'static [(u32, u64)];

    /// The node ids transparency-dev/merkle's `proof/proof_test.go` (`TestInclusion`,
    /// `TestConsistency`) expects for the same layout; compared as sets, since it lists a
    /// ragged subtree's nodes right to left and this module left to right.
    #[test]
    fn proof_nodes_match_published_node_ids() {
        let set = |ids: &[(u32, u64)]| -> BTreeSet<NodeId> {
            ids.iter().map(|&(l, i)| NodeId::new(l, i)).collect()
        };
        let inclusion: &[(u64, u64, LevelIndexPairs)] = &[
            (0, 1, &[]),
            (0, 2, &[(0, 1)]),
            (1, 3, &[(0, 0), (0, 2)]),
            (0, 7, &[(0, 1), (1, 1), (0, 6), (1, 2)]),
            (3, 7, &[(0, 2), (1, 0), (0, 6), (1, 2)]),
            (4, 7, &[(0, 5), (0, 6), (2, 0)]),
            (6, 7, &[(1, 2), (2, 0)]),
            (3, 5, &[(0, 2), (1, 0), (0, 4)]),
            (10, 15, &[(0, 11), (1, 4), (0, 14), (1, 6), (3, 0)]),
            (
                24,
                31,
                &[(0, 25), (1, 13), (0, 30), (1, 14), (3, 2), (4, 0)],
            ),
            (
                81,
                95,
                &[
                    (0, 80),
                    (1, 41),
                    (2, 21),
                    (0, 94),
                    (1, 46),
                    (2, 22),
                    (4, 4),
                    (6, 0),
                ],
            ),
        ];
        for &(index, size, want) in inclusion {
            let got = inclusion_proof_nodes(index, size).unwrap();
            assert_eq!(got.len(), want.len(), "inclusion {index} in {size}");
            assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), set(want));
        }
        let consistency: &[(u64, u64, LevelIndexPairs)] = &[
            (1, 2, &[(0, 1)]),
            (1, 6, &[(0, 1), (1, 1), (1, 2)]),
            (2, 8, &[(1, 1), (2, 1)]),
            (3, 7, &[(0, 2), (0, 3), (1, 0), (0, 6), (1, 2)]),
            (4, 7, &[(0, 6), (1, 2)]),
            (5, 7, &[(0, 4), (0, 5), (0, 6), (2, 0)]),
            (7, 8, &[(0, 6), (0, 7), (1, 2), (2, 0)]),
            (3, 3, &[]),
            (10, 15, &[(1, 4), (1, 5), (0, 14), (1, 6), (3, 0)]),
            (24, 31, &[(3, 2), (0, 30), (1, 14), (2, 6), (4, 0)]),
            (
                81,
                95,
                &[
                    (0, 80),
                    (0, 81),
                    (1, 41),
                    (2, 21),
                    (0, 94),
                    (1, 46),
                    (2, 22),
                    (4, 4),
                    (6, 0),
                ],
            ),
        ];
        for &(old_size, new_size, want) in consistency {
            let got = consistency_proof_nodes(old_size, new_size).unwrap();
            assert_eq!(
                got.len(),
                want.len(),
                "consistency {old_size} to {new_size}"
            );
            assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), set(want));
        }
    }

    /// Appends 1..=1,000 leaves one at a time; after each append the nodes handed out, the roots,
    /// and the proofs (every one for small trees, a spread for larger ones) equal the RFC's
    /// recursive definitions, and every proof verifies.
    #[test]
    fn incremental_tree_matches_recursive_definitions() {
        const N: u64 = 1000;
        let leaves: Vec<Hash> = (0..N).map(|i| leaf_hash(&leaf_data(i))).collect();
        let mut reference = Reference::new(leaves.clone());
        let mut tree = MemoryTree::new();
        let mut stored: HashMap<NodeId, Hash> = HashMap::new();
        let mut roots = vec![empty_root()];

        for (i, leaf) in leaves.iter().enumerate() {
            let size = i as u64 + 1;
            let mut frontier = tree.frontier().clone();
            let completed = frontier.append(*leaf);
            assert_eq!(tree.append(*leaf), i as u64);
            assert_eq!(&frontier, tree.frontier());
            // Exactly the perfect subtrees that end at this leaf, each with its MTH.
            let expected_levels = 1 + (i as u64).trailing_ones();
            assert_eq!(completed.len() as u32, expected_levels, "append {i}");
            for (id, hash) in completed {
                let (first, end) = id.leaf_range();
                assert_eq!(end, u128::from(size), "node {id} ends at the new leaf");
                assert_eq!(hash, reference.mth(first as usize, end as usize));
                assert!(stored.insert(id, hash).is_none(), "node {id} stored twice");
            }

            let want_root = reference.mth(0, size as usize);
            assert_eq!(tree.root(), want_root, "frontier root {size}");
            assert_eq!(root(&tree, size).unwrap(), want_root, "stored root {size}");
            assert_eq!(root(&stored, size).unwrap(), want_root);
            roots.push(want_root);
        }

        // Every proof of every past size is read from the final (largest) tree.
        let sample = |size: u64| -> Vec<u64> {
            if size <= 80 {
                return (0..size).collect();
            }
            let mut picks = vec![0, 1, size / 3, size / 2, size - 2, size - 1];
            picks.extend((0..6).map(|j| (size * 7919 + j * 104_729) % size));
            picks.extend((0..10).map(|b| 1u64 << b).filter(|&p| p < size));
            picks.sort_unstable();
            picks.dedup();
            picks
        };
        for size in 1..=N {
            for index in sample(size) {
                let want = reference.path(index as usize, 0, size as usize);
                let got = inclusion_proof(&tree, index, size).unwrap();
                assert_eq!(got, want, "PATH({index}, D[{size}])");
                verify_inclusion(
                    &leaves[index as usize],
                    index,
                    size,
                    &got,
                    &roots[size as usize],
                )
                .unwrap();
            }
            for old_size in sample(size + 1) {
                let got = consistency_proof(&tree, old_size, size).unwrap();
                if old_size > 0 && old_size < size {
                    let want = reference.proof(old_size as usize, size as usize);
                    assert_eq!(got, want, "PROOF({old_size}, D[{size}])");
                } else {
                    assert!(got.is_empty());
                }
                let (old_root, new_root) = (roots[old_size as usize], roots[size as usize]);
                verify_consistency(old_size, size, &old_root, &new_root, &got).unwrap();
            }
        }
    }

    /// The listed nodes are all a proof reads (a map of only those suffices) and stay within
    /// `2 * log2(size)`.
    #[test]
    fn listed_nodes_suffice_and_are_logarithmic() {
        let tree = MemoryTree::from_leaves((0..300).map(leaf_data));
        let fetch = |ids: Vec<NodeId>| -> HashMap<NodeId, Hash> {
            ids.into_iter()
                .map(|id| (id, tree.node(id).unwrap()))
                .collect()
        };
        let bound = |size: u64| 2 * (64 - size.leading_zeros()) as usize;
        for size in 1..=300u64 {
            let map = fetch(root_nodes(size));
            assert_eq!(root(&map, size).unwrap(), root(&tree, size).unwrap());
            for index in 0..size {
                let ids = inclusion_proof_nodes(index, size).unwrap();
                assert!(ids.len() <= bound(size), "{} reads", ids.len());
                let map = fetch(ids);
                assert_eq!(
                    inclusion_proof(&map, index, size).unwrap(),
                    inclusion_proof(&tree, index, size).unwrap()
                );
            }
            for old_size in 0..=size {
                let ids = consistency_proof_nodes(old_size, size).unwrap();
                assert!(ids.len() <= bound(size), "{} reads", ids.len());
                let map = fetch(ids);
                assert_eq!(
                    consistency_proof(&map, old_size, size).unwrap(),
                    consistency_proof(&tree, old_size, size).unwrap()
                );
            }
        }
        // A node the plan did not fetch is reported, not invented.
        let empty: HashMap<NodeId, Hash> = HashMap::new();
        assert!(matches!(
            inclusion_proof(&empty, 3, 8),
            Err(MerkleError::MissingNode(_))
        ));
    }

    /// Restarting from stored nodes, or rolling back, resumes appending exactly as if the tree
    /// had never stopped.
    #[test]
    fn frontier_resumes_from_source_and_after_truncation() {
        let full = MemoryTree::from_leaves((0..200).map(leaf_data));
        for size in 0..=150u64 {
            let mut resumed = Frontier::from_source(&full, size).unwrap();
            assert_eq!(resumed.root(), root(&full, size).unwrap());
            let mut rebuilt = MemoryTree::from_leaves((0..size).map(leaf_data));
            assert_eq!(&resumed, rebuilt.frontier());
            for i in size..200 {
                let leaf = leaf_hash(&leaf_data(i));
                let completed = resumed.append(leaf);
                rebuilt.append(leaf);
                for (id, hash) in completed {
                    assert_eq!(full.node(id).unwrap(), hash);
                }
            }
            assert_eq!(resumed.root(), full.root());

            let mut truncated = full.clone();
            truncated.truncate(size);
            assert_eq!(truncated.size(), size);
            assert_eq!(truncated.root(), root(&full, size).unwrap());
            assert!(truncated.node(NodeId::leaf(size)).is_err());
            for i in size..200 {
                truncated.append(leaf_hash(&leaf_data(i)));
            }
            assert_eq!(truncated.root(), full.root());
        }
        assert!(NodeId::new(2, 1).is_complete_in(8));
        assert!(!NodeId::new(2, 1).is_complete_in(7));
        assert!(NodeId::new(63, 1).leaf_range().1 > u128::from(u64::MAX));
        let frontier = Frontier::from_source(&full, 7).unwrap();
        let ids: Vec<NodeId> = frontier.nodes().map(|(id, _)| id).collect();
        assert_eq!(
            ids,
            [NodeId::new(2, 0), NodeId::new(1, 2), NodeId::new(0, 6)]
        );
    }

    #[test]
    fn bad_arguments_are_refused() {
        let tree = vector_tree();
        for (index, size) in [(0, 0), (1, 0), (2, 1), (8, 7), (8, 8)] {
            assert!(
                matches!(
                    inclusion_proof(&tree, index, size),
                    Err(MerkleError::IndexOutOfRange { .. })
                ),
                "{index} in {size}"
            );
            assert!(matches!(
                verify_inclusion(&empty_root(), index, size, &[], &empty_root()),
                Err(MerkleError::IndexOutOfRange { .. })
            ));
        }
        for (old_size, new_size) in [(1, 0), (5, 0), (9, 8), (8, 7)] {
            assert!(matches!(
                consistency_proof(&tree, old_size, new_size),
                Err(MerkleError::OldSizeExceedsNewSize { .. })
            ));
            assert!(matches!(
                verify_consistency(old_size, new_size, &empty_root(), &empty_root(), &[]),
                Err(MerkleError::OldSizeExceedsNewSize { .. })
            ));
        }
        // A source that does not hold the requested tree says which node is missing.
        assert!(matches!(
            root(&tree, 9),
            Err(MerkleError::MissingNode(NodeId { level: 0, index: 8 }))
        ));
        assert!("abc".parse::<Hash>().is_err());
        assert!(ROOTS[3][..62].parse::<Hash>().is_err());
        let upper = ROOTS[3].to_uppercase();
        assert_eq!(upper.parse::<Hash>().unwrap().to_string(), ROOTS[3]);
    }

    fn flip_bit(proof: &[Hash], i: usize, mask: u8) -> Vec<Hash> {
        let mut proof = proof.to_vec();
        proof[i].0[0] ^= mask;
        proof
    }

    /// The arguments of one [`verify_inclusion`] call.
    #[derive(Clone)]
    struct InclusionCase {
        leaf: Hash,
        index: u64,
        size: u64,
        proof: Vec<Hash>,
        root: Hash,
    }

    /// The arguments of one [`verify_consistency`] call.
    #[derive(Clone)]
    struct ConsistencyCase {
        old_size: u64,
        new_size: u64,
        old_root: Hash,
        new_root: Hash,
        proof: Vec<Hash>,
    }

    /// One way to corrupt a verification's arguments.
    type Change<T> = Box<dyn Fn(&mut T)>;

    /// Copies of `good`, each changed one way, with a description.
    fn corrupt<T: Clone>(good: &T, changes: Vec<(String, Change<T>)>) -> Vec<(String, T)> {
        changes
            .into_iter()
            .map(|(desc, change)| {
                let mut case = good.clone();
                change(&mut case);
                (desc, case)
            })
            .collect()
    }

    /// Every inclusion proof of trees up to 40 leaves, corrupted the ways transparency-dev's
    /// `corruptInclusionProof` does, is rejected.
    #[test]
    fn corrupted_inclusion_proofs_are_rejected() {
        let some_hash = h("abacaba000000000000000000000000000000000000000000060061e00123456");
        let tree = MemoryTree::from_leaves((0..40).map(leaf_data));
        for size in 1..=40u64 {
            let root = root(&tree, size).unwrap();
            for index in 0..size {
                let good = InclusionCase {
                    leaf: leaf_hash(&leaf_data(index)),
                    index,
                    size,
                    proof: inclusion_proof(&tree, index, size).unwrap(),
                    root,
                };
                verify_inclusion(&good.leaf, index, size, &good.proof, &root).unwrap();

                let mut changes: Vec<(String, Change<InclusionCase>)> = vec![
                    (
                        "index - 1".into(),
                        Box::new(|c| c.index = c.index.wrapping_sub(1)),
                    ),
                    ("index + 1".into(), Box::new(|c| c.index += 1)),
                    ("index ^ 2".into(), Box::new(|c| c.index ^= 2)),
                    ("size * 2".into(), Box::new(|c| c.size *= 2)),
                    ("size / 2".into(), Box::new(|c| c.size /= 2)),
                    (
                        "tampered leaf".into(),
                        Box::new(|c| c.leaf = leaf_hash(b"WrongLeaf")),
                    ),
                    ("empty root".into(), Box::new(|c| c.root = empty_root())),
                    ("random root".into(), Box::new(move |c| c.root = some_hash)),
                    ("trailing root".into(), Box::new(|c| c.proof.push(c.root))),
                    (
                        "preceding root".into(),
                        Box::new(|c| c.proof.insert(0, c.root)),
                    ),
                ];
                for i in 0..good.proof.len() {
                    let flip: Change<InclusionCase> =
                        Box::new(move |c| c.proof = flip_bit(&c.proof, i, 8));
                    changes.push((format!("proof[{i}] bit 3"), flip));
                }
                if !good.proof.is_empty() {
                    changes.push((
                        "truncated".into(),
                        Box::new(|c| {
                            c.proof.pop();
                        }),
                    ));
                }
                if good.proof.len() > 1 {
                    let insert: Change<InclusionCase> =
                        Box::new(move |c| c.proof.insert(1, some_hash));
                    changes.push(("inserted".into(), insert));
                }
                for (desc, c) in corrupt(&good, changes) {
                    assert!(
                        verify_inclusion(&c.leaf, c.index, c.size, &c.proof, &c.root).is_err(),
                        "{desc} verified for leaf {index} in {size}"
                    );
                }
            }
        }
    }

    /// Every consistency proof between trees up to 40 leaves, corrupted the ways
    /// transparency-dev's `corruptConsistencyProof` does, is rejected.
    #[test]
    fn corrupted_consistency_proofs_are_rejected() {
        let tree = MemoryTree::from_leaves((0..40).map(leaf_data));
        let wrong = leaf_hash(b"WrongRoot");
        for new_size in 2..=40u64 {
            for old_size in 1..new_size {
                let good = ConsistencyCase {
                    old_size,
                    new_size,
                    old_root: root(&tree, old_size).unwrap(),
                    new_root: root(&tree, new_size).unwrap(),
                    proof: consistency_proof(&tree, old_size, new_size).unwrap(),
                };
                let verify = |c: &ConsistencyCase| {
                    verify_consistency(c.old_size, c.new_size, &c.old_root, &c.new_root, &c.proof)
                };
                verify(&good).unwrap();

                let mut changes: Vec<(String, Change<ConsistencyCase>)> = vec![
                    ("old - 1".into(), Box::new(|c| c.old_size -= 1)),
                    ("old + 1".into(), Box::new(|c| c.old_size += 1)),
                    ("old ^ 2".into(), Box::new(|c| c.old_size ^= 2)),
                    ("new * 2".into(), Box::new(|c| c.new_size *= 2)),
                    ("new / 2".into(), Box::new(|c| c.new_size /= 2)),
                    (
                        "wrong old root".into(),
                        Box::new(move |c| c.old_root = wrong),
                    ),
                    (
                        "wrong new root".into(),
                        Box::new(move |c| c.new_root = wrong),
                    ),
                    (
                        "swapped roots".into(),
                        Box::new(|c| std::mem::swap(&mut c.old_root, &mut c.new_root)),
                    ),
                    ("empty proof".into(), Box::new(|c| c.proof.clear())),
                    (
                        "trailing old root".into(),
                        Box::new(|c| c.proof.push(c.old_root)),
                    ),
                    (
                        "trailing new root".into(),
                        Box::new(|c| c.proof.push(c.new_root)),
                    ),
                    (
                        "preceding old root".into(),
                        Box::new(|c| c.proof.insert(0, c.old_root)),
                    ),
                    (
                        "preceding new root".into(),
                        Box::new(|c| c.proof.insert(0, c.new_root)),
                    ),
                    (
                        "preceding proof[0]".into(),
                        Box::new(|c| c.proof.insert(0, c.proof[0])),
                    ),
                    (
                        "truncated".into(),
                        Box::new(|c| {
                            c.proof.pop();
                        }),
                    ),
                ];
                for i in 0..good.proof.len() {
                    let flip: Change<ConsistencyCase> =
                        Box::new(move |c| c.proof = flip_bit(&c.proof, i, 16));
                    changes.push((format!("proof[{i}] bit 4"), flip));
                }
                for (desc, c) in corrupt(&good, changes) {
                    assert!(
                        verify(&c).is_err(),
                        "{desc} verified for {old_size} to {new_size}"
                    );
                }
            }
        }
    }

    /// The errors name what failed.
    #[test]
    fn verification_errors_name_the_failure() {
        let tree = vector_tree();
        let root8 = h(ROOTS[8]);
        let leaf5 = h(NODE_HASHES[0][5]);
        let proof = inclusion_proof(&tree, 5, 8).unwrap();

        let err = verify_inclusion(&leaf_hash(b"x"), 5, 8, &proof, &root8).unwrap_err();
        assert!(matches!(
            err,
            MerkleError::InclusionRootMismatch {
                index: 5,
                size: 8,
                ..
            }
        ));
        assert!(err.to_string().contains(ROOTS[8]), "{err}");

        let err = verify_inclusion(&leaf5, 4, 8, &proof, &root8).unwrap_err();
        assert!(matches!(
            err,
            MerkleError::InclusionRootMismatch { index: 4, .. }
        ));

        let err = verify_inclusion(&leaf5, 5, 8, &flip_bit(&proof, 1, 1), &root8).unwrap_err();
        assert!(matches!(err, MerkleError::InclusionRootMismatch { .. }));

        let err = verify_inclusion(&leaf5, 5, 8, &proof[..2], &root8).unwrap_err();
        assert!(matches!(
            err,
            MerkleError::InclusionProofLength {
                expected: 3,
                actual: 2,
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "inclusion proof for leaf 5 in a tree of 8 leaves has 2 hashes, expected 3"
        );

        // A wrong size with its own root fails. With the other tree's root it may not: the
        // path of leaf 5 has the same shape in trees of 7 and 8 leaves, so the proof for 8
        // verifies as `(5, 7)` against root 8. Size and root must come from one checkpoint.
        let err = verify_inclusion(&leaf5, 5, 7, &proof, &h(ROOTS[7])).unwrap_err();
        assert!(matches!(
            err,
            MerkleError::InclusionRootMismatch { size: 7, .. }
        ));
        verify_inclusion(&leaf5, 5, 7, &proof, &root8).unwrap();

        let err = verify_inclusion(&leaf5, 5, 16, &proof, &root8).unwrap_err();
        assert!(matches!(
            err,
            MerkleError::InclusionProofLength { size: 16, .. }
        ));

        let root6 = h(ROOTS[6]);
        let proof = consistency_proof(&tree, 6, 8).unwrap();
        let err = verify_consistency(6, 8, &root6, &root6, &proof).unwrap_err();
        assert!(matches!(
            err,
            MerkleError::NewRootMismatch { new_size: 8, .. }
        ));
        let err = verify_consistency(6, 8, &root8, &root8, &proof).unwrap_err();
        assert!(matches!(
            err,
            MerkleError::OldRootMismatch { old_size: 6, .. }
        ));
        let err = verify_consistency(6, 8, &root6, &root8, &proof[..2]).unwrap_err();
        assert!(matches!(
            err,
            MerkleError::ConsistencyProofLength {
                expected: 3,
                actual: 2,
                ..
            }
        ));
        let err = verify_consistency(8, 6, &root8, &root6, &proof).unwrap_err();
        assert_eq!(err.to_string(), "old tree size 8 exceeds new tree size 6");

        // The trivial cases the RFC leaves to the caller.
        verify_consistency(0, 8, &empty_root(), &root8, &[]).unwrap();
        verify_consistency(0, 0, &empty_root(), &empty_root(), &[]).unwrap();
        verify_consistency(8, 8, &root8, &root8, &[]).unwrap();
        assert!(matches!(
            verify_consistency(0, 8, &root6, &root8, &[]),
            Err(MerkleError::OldRootMismatch { old_size: 0, .. })
        ));
        assert!(matches!(
            verify_consistency(8, 8, &root6, &root8, &[]),
            Err(MerkleError::NewRootMismatch { .. })
        ));
        assert!(matches!(
            verify_consistency(8, 8, &root8, &root8, &[root8]),
            Err(MerkleError::ConsistencyProofLength { expected: 0, .. })
        ));
        assert!(matches!(
            verify_consistency(0, 8, &empty_root(), &root8, &[root8]),
            Err(MerkleError::ConsistencyProofLength { expected: 0, .. })
        ));
    }

    /// At a million leaves, proofs from the incremental tree still verify against its root.
    #[test]
    fn a_million_leaves_prove_and_verify() {
        const N: u64 = 1_000_000;
        let mut tree = MemoryTree::new();
        for i in 0..N {
            tree.append(leaf_hash(&i.to_be_bytes()));
        }
        let root = tree.root();
        let index = 765_432;
        let inclusion = inclusion_proof(&tree, index, N).unwrap();
        verify_inclusion(
            &leaf_hash(&index.to_be_bytes()),
            index,
            N,
            &inclusion,
            &root,
        )
        .unwrap();
        let old_size = 654_321;
        let consistency = consistency_proof(&tree, old_size, N).unwrap();
        let old_root = super::root(&tree, old_size).unwrap();
        verify_consistency(old_size, N, &old_root, &root, &consistency).unwrap();
    }
}
