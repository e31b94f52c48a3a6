//! The chain side: RPC access with retries ([`rpc`]) and the [`Follower`] that turns a chain
//! into committed batches — adaptive `eth_getLogs` backfill, live head, confirmations, reorg
//! detection by parent hash and roll-back.

pub mod follower;
pub mod rpc;

pub use follower::{Follower, FollowerError};
