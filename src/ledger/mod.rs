//! The verifiable log: every finalized record becomes a leaf of an append-only Merkle tree with
//! RFC 6962 / RFC 9162 hashing, so that anyone holding a signed checkpoint (tree size and root)
//! can check that a record is in the log and that the log only ever grew.
//!
//! Invariant: the tree is append-only; a leaf, once covered by a checkpoint, never changes, and
//! every later root is provably an extension of every earlier one ([`merkle::consistency_proof`]).
//!
//! - [`merkle`]: the storage-agnostic tree: hashing, the append [`merkle::Frontier`], roots,
//!   inclusion and consistency proofs from stored subtrees, and their verification.

pub mod merkle;
