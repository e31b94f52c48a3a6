//! `groupstate` links a group's *declared* governance (its group state manifest) to what happens
//! on an EVM chain, and raises divergences when the two disagree.
//!
//! The data flows one way, one module per step:
//!
//! ```text
//! manifest ─► store (versions, hash, effective block)
//! chain::Follower ─► decode ─► observe ─► reconcile ─► store
//!  (getLogs backfill,  (typed    (Safe owners,  (pure: declared   (records, observed
//!   live head, reorgs)  events)   threshold…)    vs observed)      state, divergences,
//!                                                                  checkpoint — one txn)
//!                                        store ─► ledger (final rows ─► Merkle log ─► signed
//!                                                 checkpoints) ─► api (HTTP) + cli
//!                                        store ─► alert (outbox ─► dispatcher ─► sinks)
//! ```
//!
//! - [`config`]: layered settings (`config/default.toml`, `--config FILE`, `GROUPSTATE__…`).
//! - [`manifest`]: the group state document: parse, validate with every problem by path,
//!   normalise, hash.
//! - [`chain`]: RPC access with retries, and the [`chain::Follower`]: adaptive backfill, live
//!   head, confirmations, reorg detection and roll-back; [`daemon`] runs one per chain.
//! - [`decode`]: the event catalog (`abis/`), raw log → typed [`decode::GroupEvent`].
//! - [`observe`]: the observed structure of each watched contract (Safe, Governor, Timelock,
//!   AccessControl, Ownable), from events and `eth_call` snapshots; Safe signer recovery.
//! - [`reconcile`]: pure functions from (declared, observed) — or one event — to findings, and
//!   the diff against what is already open.
//! - [`pipeline`]: applies one fetched batch — decode, observe, reconcile, store — in one
//!   transaction with the progress it marks.
//! - [`store`]: sqlx persistence on SQLite or PostgreSQL; every derived row can be rolled back
//!   to a block.
//! - [`decisions`]: the read side that assembles proposals and Safe executions from records.
//! - [`query`]: the read side the API and the CLI share: parameters checked once, pages with
//!   position cursors, the JSON views; [`state`]: declared beside observed, per contract.
//! - [`metrics`]: what each follower publishes as it runs, for `/metrics` and `/readyz`.
//! - [`ledger`]: the verifiable log: canonical leaves of final records and manifest versions, an
//!   RFC 6962 / 9162 Merkle tree, retractions after a finalized reorg, signed-note checkpoints,
//!   proofs, and the audit anyone can run (`groupstate verify`).
//! - [`alert`]: the outbox written with every divergence change, and the dispatcher that
//!   delivers it at least once to webhooks (HMAC-signed), Slack, Discord and the log.
//! - [`api`]: the HTTP API (axum), its OpenAPI document, and the public status page.
//! - [`cli`]: the `groupstate` command; [`devnet`]: a local anvil chain with the real Safe and
//!   OpenZeppelin contracts, for the demo, the tests and the benchmarks.

pub mod abi;
pub mod alert;
pub mod api;
pub mod chain;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod decisions;
pub mod decode;
pub mod ledger;
pub mod manifest;
pub mod metrics;
pub mod model;
pub mod observe;
pub mod pipeline;
pub mod query;
pub mod reconcile;
pub mod state;
pub mod store;
pub mod sync;
pub mod telemetry;
