//! The fetch side: everything a batch needs from the chain, gathered before any database
//! transaction opens — the RPC client with retries and error classes ([`rpc`]), adaptive
//! `eth_getLogs` ranges ([`range`]) split as each provider's refusal says ([`refusals`]), the
//! HTTP transport that keeps a provider's `Retry-After` ([`transport`]), the range fetcher
//! ([`fetch`]), readers of contract state, creation blocks and role history ([`read`]), and token
//! metadata ([`token`]).
//!
//! Invariant: imports nothing above it (no store, no policy); what it returns is plain chain
//! data for the fold.

pub mod fetch;
pub mod range;
pub mod read;
pub mod refusals;
pub mod rpc;
pub mod token;
pub mod trace;
pub mod transport;
