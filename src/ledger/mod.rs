//! The verifiable log: every finalized record becomes a leaf of an append-only Merkle tree with
//! RFC 6962 / RFC 9162 hashing, so that anyone holding a signed checkpoint (tree size and root)
//! can check that a record is in the log and that the log only ever grew.
//!
//! Invariant: the tree is append-only; a leaf, once covered by a checkpoint, never changes, and
//! every later root is provably an extension of every earlier one ([`merkle::consistency_proof`]).
//!
//! - [`merkle`]: the storage-agnostic tree: hashing, the append [`merkle::Frontier`], roots,
//!   inclusion and consistency proofs from stored subtrees, and their verification.
//! - [`leaf`]: the canonical, versioned leaf encoding of records, manifest versions,
//!   retractions and statements, and their order.
//! - [`seal`]: what has become final enters the log (appends extend the tree from its stored
//!   frontier); checkpoints are signed over it.
//! - [`retract`]: after a reorg below the finality depth, a retraction leaf voids what it took
//!   away, in the unwind's transaction.
//! - [`proofs`]: entries and inclusion / consistency proofs read back from the store.
//! - [`verify`]: the audit anyone can run: recompute the tree, check checkpoints, entries,
//!   stored nodes, records and statements (with their signed notes), and each record against
//!   the chain; export for offline audits.
//! - [`statement`]: covenant compliance statements, one per period: due periods, the leaf,
//!   and its signed note.
//! - [`note`]: signed checkpoints in the C2SP signed-note format: Ed25519 keys, signing, opening.
//! - [`keys`]: the one key replicas sign with, its rotation (the previous key cosigns), and the
//!   start check that the latest checkpoint of each log is signed by it.

pub mod keys;
pub mod leaf;
pub mod merkle;
pub mod note;
pub mod proofs;
pub mod retract;
pub mod seal;
pub mod statement;
pub mod verify;

pub use keys::{check_signing_key, LogKey};
pub use retract::{retract, Retraction};
pub use seal::{
    append, append_to_log, root_at, seal, seal_batch, seal_with, sign_checkpoint, Appended,
    BatchLeaves, LedgerError, LogSigner, Sealed, StatementInputs,
};
