//! A Safe's observed structure — owners, threshold, modules, guard, fallback handler — from a
//! reading at the block before the group starts following it, then advanced by each structural
//! event.

use std::collections::BTreeSet;

use alloy::primitives::{Address, U256};
use serde::{Deserialize, Serialize};

use crate::chain::read::SafeReading;
use crate::decode::SafeEvent;

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
    /// The singleton the proxy delegates to (storage slot 0), once read; zero before.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub singleton: Address,
    /// The singleton and the fallback handler when the Safe was first seen deployed: what a
    /// change is measured against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_singleton: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_fallback_handler: Option<Address>,
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
                self.first_fallback_handler.get_or_insert(*fallback_handler);
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

fn is_zero(a: &Address) -> bool {
    a.is_zero()
}

fn saturate(v: U256) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

impl SafeState {
    /// A reading of the singleton (slot 0); returns whether it changed.
    pub fn read_singleton(&mut self, singleton: Address) -> bool {
        if singleton.is_zero() || singleton == self.singleton {
            return false;
        }
        self.singleton = singleton;
        self.first_singleton.get_or_insert(singleton);
        true
    }

    /// This state replaced by a later reading, the first-seen values kept.
    pub fn refreshed(&self, r: &SafeReading) -> SafeState {
        let mut fresh = SafeState::from_reading(r);
        if self.first_singleton.is_some() {
            fresh.first_singleton = self.first_singleton;
        }
        if self.first_fallback_handler.is_some() {
            fresh.first_fallback_handler = self.first_fallback_handler;
        }
        fresh
    }

    /// What a reading shows: nothing before the Safe has code, `not_a_safe` when its code does
    /// not answer as a Safe.
    pub fn from_reading(r: &SafeReading) -> SafeState {
        if !r.code {
            return SafeState::default();
        }
        match &r.answers {
            Ok(a) => SafeState {
                deployed: true,
                not_a_safe: false,
                owners: a.owners.iter().copied().collect(),
                threshold: saturate(a.threshold),
                modules: a.modules.iter().copied().collect(),
                guard: a.guard,
                fallback_handler: a.fallback_handler,
                singleton: a.singleton,
                first_singleton: Some(a.singleton).filter(|s| !s.is_zero()),
                first_fallback_handler: Some(a.fallback_handler),
            },
            Err(why) => {
                tracing::error!(error = %why, "declared Safe does not answer as a Safe");
                SafeState {
                    deployed: true,
                    not_a_safe: true,
                    ..SafeState::default()
                }
            }
        }
    }
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
