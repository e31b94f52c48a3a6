//! `groupstate` links a group's *declared* governance (its group state manifest) to what happens
//! on an EVM chain, and raises divergences when the two disagree.
//!
//! The write path runs in three phases — fetch, fold, commit — so that no network call happens
//! while a database transaction is open; the data flows one way, one module per step:
//!
//! ```text
//! manifest ─► store (versions, hash, effective block)
//!
//! sync::Follower (the driver: lanes, confirmations, reorgs, unwind, sealing)
//!   ├─ 1 fetch   chain     logs (adaptive ranges), block refs, tx inputs, contract readings,
//!   │                      role history from the creation block          (async, no txn open)
//!   ├─ 2 fold    pipeline  decode ─► observe ─► reconcile ─► effects     (pure; asks for what
//!   │                      it lacks, and is folded again)
//!   └─ 3 commit  store     effects + progress in one transaction, after a revision check
//!                  ├─► ledger  final rows ─► Merkle log ─► signed checkpoints; retraction
//!                  ├─► alert   outbox ─► dispatcher ─► sinks
//!                  └─► api + cli (the read side: query, state, decisions)
//! ```
//!
//! Lower layers import nothing above them: `model`, `config`, `retry`, `manifest` and `abi` are
//! the vocabulary; `chain` and `store` know no policy; `decode`, `observe`, `reconcile` and
//! `pipeline` are pure.
//!
//! - [`model`]: the shared vocabulary — block refs, contract and record kinds, rules,
//!   severities, alert events — as enums with one table of names.
//! - [`config`]: layered settings (`config/default.toml`, `--config FILE`, `GROUPSTATE__…`):
//!   durations as people write them (`"30s"`), secrets that never print, URLs parsed at load.
//! - [`retry`]: the one retry policy (exponential backoff with jitter, `backon`) of RPC calls,
//!   follower steps and alert deliveries.
//! - [`manifest`]: the group state document: parse, validate with every problem by path,
//!   normalise, hash.
//! - [`abi`]: the contract interfaces (`sol!` bindings from `abis/`).
//! - [`chain`]: fetch — the RPC client with retries, adaptive `eth_getLogs` ranges, the range
//!   fetcher, readers of contract state, creation blocks and role history.
//! - [`decode`]: the event catalog, raw log → typed [`decode::GroupEvent`].
//! - [`observe`]: the observed structure of each watched contract (Safe, Governor, Timelock,
//!   AccessControl, Ownable) from readings and events; Safe signer recovery.
//! - [`reconcile`]: pure functions from (declared, observed) — or one event — to findings, and
//!   the diff against what is already open.
//! - [`pipeline`]: the fold — a fetched batch and the groups' prior state to the batch's
//!   effects, pure and synchronous.
//! - [`sync`]: the driver — one [`sync::Follower`] per chain, new heads over WebSocket with
//!   resubscription and polling beside it; [`daemon`] runs them, each chain supervised and
//!   restarted alone when it fails.
//! - [`replica`]: which chains this replica follows — per-chain leases in the database with a
//!   fencing epoch every chain write is checked against, least-loaded spreading, takeover of a
//!   dead holder's chains, hand-back on shutdown.
//! - [`store`]: sqlx persistence on SQLite or PostgreSQL; writes effects, reads views, unwinds
//!   to a block; no policy.
//! - [`ledger`]: the verifiable log: canonical leaves of final records and manifest versions, an
//!   RFC 6962 / 9162 Merkle tree, retractions after a finalized reorg, signed-note checkpoints,
//!   proofs, and the audit anyone can run (`groupstate verify`).
//! - [`alert`]: the outbox rows written with every divergence change, and the dispatcher that
//!   delivers them at least once to webhooks (HMAC-signed), Slack, Discord and the log.
//! - [`draft`], [`dao`]: a manifest drafted from what the chain shows; a group as EIP-4824
//!   daoURI documents, and a manifest skeleton from one.
//! - [`ratify`]: a manifest version with the ratification of the authority in force before it
//!   (owners' EIP-712 signatures, EIP-1271, or an executed governor proposal), checked before
//!   it is stored; unratified versions refused where a group requires ratification.
//! - [`covenants`]: covenants as the API and the CLI admit and show them — the checks against
//!   what is registered and configured, a party's ratification, each covenant's standing and
//!   each clause's verdict from the party groups' findings.
//! - [`history`]: a group's document version by version — ratified or not, what changed,
//!   which divergences each version resolved.
//! - [`decisions`], [`query`], [`state`]: the read side — decisions assembled from records,
//!   parameters checked once with position cursors, declared beside observed per contract
//!   (the observed side in the declared form, rows for people shared by the page and the CLI).
//! - [`roles_catalog`]: the names of well-known AccessControl roles by hash.
//! - [`holdings`]: the read side of the treasuries — balances, 30-day totals, the largest
//!   outflows with their decisions, a balance history, and the accounting export of flows.
//! - [`metrics`]: the daemon's figures (followers, timings, what the database counts) for
//!   `/metrics` (Prometheus, through the `metrics` facade) and `/readyz`.
//! - [`progress`]: catch-up progress per chain and per group, as log lines or progress bars.
//! - [`api`]: the HTTP API (axum), its OpenAPI document, and the public status page.
//! - [`cli`]: the `groupstate` command. The local devnet (anvil and the real contracts) used by
//!   `demo`, the tests and the benchmarks is the workspace crate `devnet`, outside this library.

pub mod abi;
pub mod alert;
pub mod api;
pub mod chain;
pub mod cli;
pub mod config;
pub mod covenants;
pub mod daemon;
pub mod dao;
pub mod decisions;
pub mod decode;
pub mod draft;
pub mod history;
pub mod holdings;
pub mod ledger;
pub mod manifest;
pub mod metrics;
pub mod model;
pub mod observe;
pub mod pipeline;
pub mod progress;
pub mod query;
pub mod ratify;
pub mod reconcile;
pub mod replica;
pub mod retry;
pub mod roles_catalog;
pub mod state;
pub mod store;
pub mod sync;
pub mod telemetry;
