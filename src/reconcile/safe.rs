//! Safe rules: owners, threshold, modules, guard, and whether the address is a Safe at all.

use alloy::primitives::Address;

use alloy::primitives::B256;

use super::{Finding, Rule};
use crate::decode::calls::{known_fallback_handler, known_singleton};
use crate::manifest::SafeDecl;
use crate::observe::signers::RecoveredSigner;
use crate::observe::SafeState;

/// Signers of one Safe execution (transaction `tx`) that the manifest does not list as owners.
pub fn reconcile_signers(
    declared: &SafeDecl,
    signers: &[RecoveredSigner],
    tx: B256,
) -> Vec<Finding> {
    signers
        .iter()
        .filter(|s| !declared.owners.contains(&s.signer))
        .map(|s| Finding {
            rule: Rule::SafeSignerUndeclared,
            subject: declared.address,
            key: format!("{tx}:{}", s.signer),
            expected: format!("signed by owners {}", list(declared.owners.iter().copied())),
            observed: format!("signed by {} ({})", s.signer, s.kind),
        })
        .collect()
}

pub(super) fn list(addrs: impl IntoIterator<Item = Address>) -> String {
    let v: Vec<String> = addrs.into_iter().map(|a| a.to_checksum(None)).collect();
    format!("[{}]", v.join(", "))
}

/// Compares a declared Safe with what the chain shows. A Safe not yet deployed has nothing to
/// compare, so it yields no finding until its setup is seen.
pub fn reconcile_safe(declared: &SafeDecl, observed: &SafeState) -> Vec<Finding> {
    let mut out = Vec::new();
    if !observed.deployed {
        return out;
    }
    let subject = declared.address;
    if observed.not_a_safe {
        out.push(Finding {
            rule: Rule::SafeNotASafe,
            subject,
            key: String::new(),
            expected: "a Safe at this address".to_string(),
            observed: "a contract that does not answer getOwners/getThreshold".to_string(),
        });
        return out;
    }
    let declared_owners: std::collections::BTreeSet<Address> =
        declared.owners.iter().copied().collect();
    for owner in observed.owners.difference(&declared_owners) {
        out.push(Finding {
            rule: Rule::SafeOwnerUndeclared,
            subject,
            key: owner.to_checksum(None),
            expected: format!("owners {}", list(declared_owners.iter().copied())),
            observed: format!("{} is an owner", owner.to_checksum(None)),
        });
    }
    for owner in declared_owners.difference(&observed.owners) {
        out.push(Finding {
            rule: Rule::SafeOwnerMissing,
            subject,
            key: owner.to_checksum(None),
            expected: format!("{} is an owner", owner.to_checksum(None)),
            observed: format!("owners {}", list(observed.owners.iter().copied())),
        });
    }
    if declared.threshold != observed.threshold {
        out.push(Finding {
            rule: Rule::SafeThresholdMismatch,
            subject,
            // Keyed by the observed value: a further change closes this one and opens another,
            // so every value the chain showed has its own evidence.
            key: observed.threshold.to_string(),
            expected: format!("threshold {}", declared.threshold),
            observed: format!("threshold {}", observed.threshold),
        });
    }
    for module in &observed.modules {
        if !declared.modules.contains(module) {
            out.push(Finding {
                rule: Rule::SafeModuleUndeclared,
                subject,
                key: module.to_checksum(None),
                expected: format!("modules {}", list(declared.modules.iter().copied())),
                observed: format!("module {} enabled", module.to_checksum(None)),
            });
        }
    }
    let declared_guard = declared.guard.unwrap_or(Address::ZERO);
    if observed.guard != declared_guard {
        out.push(Finding {
            rule: Rule::SafeGuardChanged,
            subject,
            key: observed.guard.to_checksum(None),
            expected: format!("guard {}", declared_guard.to_checksum(None)),
            observed: format!("guard {}", observed.guard.to_checksum(None)),
        });
    }
    out
}

/// What a Safe runs beside its owners' decisions: its singleton and its fallback handler,
/// against the handler the manifest declares for it (if any).
pub fn reconcile_safe_code(
    subject: Address,
    declared_handler: Option<Address>,
    observed: &SafeState,
) -> Vec<Finding> {
    if !observed.deployed || observed.not_a_safe {
        return Vec::new();
    }
    reconcile_singleton(subject, observed)
        .into_iter()
        .chain(reconcile_fallback_handler(
            subject,
            declared_handler,
            observed,
        ))
        .collect()
}

/// The singleton a Safe proxy runs (slot 0) may change only to a known Safe singleton: any
/// other value was written by a delegatecall, and the Safe now runs code nobody audited.
fn reconcile_singleton(subject: Address, observed: &SafeState) -> Option<Finding> {
    let first = observed.first_singleton?;
    let now = observed.singleton;
    if now == first || known_singleton(now).is_some() {
        return None;
    }
    Some(Finding {
        rule: Rule::SafeSingletonChanged,
        subject,
        key: now.to_checksum(None),
        expected: format!(
            "singleton {} or a known Safe singleton",
            first.to_checksum(None)
        ),
        observed: format!("singleton {}", now.to_checksum(None)),
    })
}

/// A fallback handler answers every call the Safe does not know, as the Safe: a change to one
/// that is neither declared, nor the one first seen, nor a known Safe handler is a finding.
fn reconcile_fallback_handler(
    subject: Address,
    declared: Option<Address>,
    observed: &SafeState,
) -> Option<Finding> {
    let now = observed.fallback_handler;
    let fine = match declared {
        Some(h) => now == h,
        None => {
            now.is_zero()
                || Some(now) == observed.first_fallback_handler
                || known_fallback_handler(now)
        }
    };
    if fine {
        return None;
    }
    Some(Finding {
        rule: Rule::SafeFallbackHandlerChanged,
        subject,
        key: now.to_checksum(None),
        expected: match declared {
            Some(h) => format!("fallback handler {}", h.to_checksum(None)),
            None => "a known Safe fallback handler, or the one first seen".to_string(),
        },
        observed: format!("fallback handler {}", now.to_checksum(None)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::{transition, Transition};
    use std::collections::BTreeSet;

    fn a(n: u8) -> Address {
        Address::repeat_byte(n)
    }

    fn declared() -> SafeDecl {
        SafeDecl {
            address: a(0x5a),
            owners: vec![a(1), a(2), a(3)],
            threshold: 2,
            modules: vec![],
            guard: None,
            deployed_at: None,
        }
    }

    fn observed() -> SafeState {
        SafeState {
            deployed: true,
            owners: BTreeSet::from([a(1), a(2), a(3)]),
            threshold: 2,
            ..Default::default()
        }
    }

    #[test]
    fn agreement_yields_nothing() {
        assert!(reconcile_safe(&declared(), &observed()).is_empty());
        assert!(reconcile_safe(&declared(), &SafeState::default()).is_empty());
    }

    #[test]
    fn every_rule_fires() {
        let mut o = observed();
        o.owners.insert(a(9));
        o.owners.remove(&a(3));
        o.threshold = 1;
        o.modules.insert(a(7));
        o.guard = a(8);
        let rules: Vec<Rule> = reconcile_safe(&declared(), &o)
            .into_iter()
            .map(|f| f.rule)
            .collect();
        assert_eq!(
            rules,
            vec![
                Rule::SafeOwnerUndeclared,
                Rule::SafeOwnerMissing,
                Rule::SafeThresholdMismatch,
                Rule::SafeModuleUndeclared,
                Rule::SafeGuardChanged
            ]
        );
    }

    #[test]
    fn transition_opens_new_and_resolves_gone() {
        let mut o = observed();
        o.threshold = 1;
        let open = vec![(
            7u64,
            (Rule::SafeOwnerUndeclared, a(0x5a), a(9).to_checksum(None)),
        )];
        let t = transition(&open, reconcile_safe(&declared(), &o));
        assert_eq!(t.resolve, vec![7]);
        assert_eq!(t.open.len(), 1);
        assert_eq!(t.open[0].rule, Rule::SafeThresholdMismatch);
        // Same finding again: nothing to do.
        let open = vec![(
            8u64,
            (Rule::SafeThresholdMismatch, a(0x5a), "1".to_string()),
        )];
        assert_eq!(
            transition(&open, reconcile_safe(&declared(), &o)),
            Transition {
                open: vec![],
                resolve: vec![]
            }
        );
    }
}
