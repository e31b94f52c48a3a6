//! The observed structure of each watched contract, as the chain says: seeded by an `eth_call`
//! snapshot at the block before the group starts following it, then advanced by each structural
//! event. Safes in [`safe`]; governors, timelocks, AccessControl roles and Ownable owners in
//! [`governance`].

pub mod governance;
pub mod safe;

pub use governance::{GovernorState, OwnableState, RolesState, TimelockState};
pub use safe::{
    snapshot_safe, SafeState, FALLBACK_HANDLER_STORAGE_SLOT, GUARD_STORAGE_SLOT, SENTINEL,
};
