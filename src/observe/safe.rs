//! A Safe's observed structure — owners, threshold, modules, guard, fallback handler — seeded by
//! an `eth_call` snapshot at the block before the group starts following it, then advanced by
//! each structural event.

use std::collections::BTreeSet;

use alloy::primitives::{b256, Address, B256, U256};
use serde::{Deserialize, Serialize};

use crate::chain::rpc::{Rpc, RpcError, RpcErrorKind};
use crate::decode::abi::v141::SafeL2;
use crate::decode::SafeEvent;

/// `keccak256("guard_manager.guard.address")`, where Safe ≥ 1.3.0 keeps its guard.
pub const GUARD_STORAGE_SLOT: B256 =
    b256!("0x4a204f620c8c5ccdca3fd54d003badd85ba500436a431f0cbda4f558c93c34c8");
/// `keccak256("fallback_manager.handler.address")`.
pub const FALLBACK_HANDLER_STORAGE_SLOT: B256 =
    b256!("0x6c9a6c4a39284e37ed1cf53d337577d14212a4870fb976a4366c693b939918d5");
/// The head and tail marker of the Safe's owner and module linked lists.
pub const SENTINEL: Address = Address::with_last_byte(1);

/// What the chain says a Safe looks like at some block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafeState {
    /// False until the Safe has code (or its `SafeSetup` was seen).
    pub deployed: bool,
    pub owners: BTreeSet<Address>,
    pub threshold: u64,
    pub modules: BTreeSet<Address>,
    pub guard: Address,
    pub fallback_handler: Address,
    /// The address has code that does not answer as a Safe (a typo in the manifest, or a
    /// contract of another kind): nothing else here can be trusted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_a_safe: bool,
}

impl SafeState {
    /// Applies one event; returns whether the structure changed (and so must be reconciled).
    pub fn apply(&mut self, event: &SafeEvent) -> bool {
        let before = self.clone();
        match event {
            SafeEvent::SafeSetup {
                owners,
                threshold,
                fallback_handler,
                ..
            } => {
                // Modules and guard stay: `setup` runs its initializer (which may enable
                // modules) before it emits SafeSetup, so their events come first.
                self.deployed = true;
                self.owners = owners.iter().copied().collect();
                self.threshold = saturate(*threshold);
                self.fallback_handler = *fallback_handler;
            }
            SafeEvent::AddedOwner { owner } => {
                self.owners.insert(*owner);
            }
            SafeEvent::RemovedOwner { owner } => {
                self.owners.remove(owner);
            }
            SafeEvent::ChangedThreshold { threshold } => self.threshold = saturate(*threshold),
            SafeEvent::EnabledModule { module } => {
                self.modules.insert(*module);
            }
            SafeEvent::DisabledModule { module } => {
                self.modules.remove(module);
            }
            SafeEvent::ChangedGuard { guard } => self.guard = *guard,
            SafeEvent::ChangedFallbackHandler { handler } => self.fallback_handler = *handler,
            _ => {}
        }
        *self != before
    }
}

fn saturate(v: U256) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// Reads a Safe's structure with `eth_call`s at `block`; a Safe without code yet is
/// `deployed: false` (its `SafeSetup` event will fill it in).
#[tracing::instrument(skip_all, fields(%safe, block))]
pub async fn snapshot_safe(rpc: &Rpc, safe: Address, block: u64) -> Result<SafeState, RpcError> {
    if rpc.code_at(safe, block).await?.is_empty() {
        return Ok(SafeState::default());
    }
    let owners = rpc
        .call_decode::<SafeL2::getOwnersCall>(safe, &SafeL2::getOwnersCall {}, block)
        .await;
    let threshold = rpc
        .call_decode::<SafeL2::getThresholdCall>(safe, &SafeL2::getThresholdCall {}, block)
        .await;
    let (owners, threshold) = match (owners, threshold) {
        (Ok(o), Ok(t)) => (o, t),
        // A revert or an answer that does not decode, from a contract: not a Safe. Transient
        // failures (already retried) still fail the batch, to be tried again.
        (Err(e), _) | (_, Err(e)) if e.kind == RpcErrorKind::Fatal => {
            tracing::error!(%safe, block, error = %e, "declared Safe does not answer as a Safe");
            return Ok(SafeState {
                deployed: true,
                not_a_safe: true,
                ..SafeState::default()
            });
        }
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let mut modules = BTreeSet::new();
    let mut start = SENTINEL;
    // A page at a time; the Safe returns the next cursor, the sentinel (or zero) at the end.
    for _ in 0..100 {
        let call = SafeL2::getModulesPaginatedCall {
            start,
            pageSize: U256::from(50),
        };
        let page = rpc
            .call_decode::<SafeL2::getModulesPaginatedCall>(safe, &call, block)
            .await?;
        modules.extend(page.array.iter().copied());
        if page.next == SENTINEL || page.next == Address::ZERO || page.array.is_empty() {
            break;
        }
        start = page.next;
    }
    let guard = rpc.storage_address(safe, GUARD_STORAGE_SLOT, block).await?;
    let fallback_handler = rpc
        .storage_address(safe, FALLBACK_HANDLER_STORAGE_SLOT, block)
        .await?;
    Ok(SafeState {
        deployed: true,
        not_a_safe: false,
        owners: owners.into_iter().collect(),
        threshold: saturate(threshold),
        modules,
        guard,
        fallback_handler,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_enabled_by_the_setup_initializer_survives_safe_setup() {
        let m = Address::repeat_byte(0x4d);
        let mut s = SafeState::default();
        s.apply(&SafeEvent::EnabledModule { module: m });
        s.apply(&SafeEvent::SafeSetup {
            initiator: Address::ZERO,
            owners: vec![Address::repeat_byte(1)],
            threshold: U256::from(1),
            initializer: Address::ZERO,
            fallback_handler: Address::ZERO,
        });
        assert_eq!(s.modules, BTreeSet::from([m]));
    }

    #[test]
    fn events_advance_the_state_and_report_changes() {
        let a = Address::repeat_byte(0xa);
        let b = Address::repeat_byte(0xb);
        let mut s = SafeState::default();
        assert!(s.apply(&SafeEvent::SafeSetup {
            initiator: a,
            owners: vec![a, b],
            threshold: U256::from(2),
            initializer: Address::ZERO,
            fallback_handler: Address::ZERO,
        }));
        assert!(s.deployed);
        assert!(!s.apply(&SafeEvent::SafeReceived {
            sender: a,
            value: U256::from(1)
        }));
        assert!(s.apply(&SafeEvent::RemovedOwner { owner: b }));
        assert!(s.apply(&SafeEvent::ChangedThreshold {
            threshold: U256::from(1)
        }));
        assert_eq!(s.owners, BTreeSet::from([a]));
        assert_eq!(s.threshold, 1);
    }
}
