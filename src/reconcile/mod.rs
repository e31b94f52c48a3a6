//! Pure reconciliation: from the declared structure (the manifest version in force) and the
//! observed one, the findings that disagree; and from the findings and the divergences already
//! open, which to open and which to resolve. No I/O here: the tests need no chain and no
//! database.

use alloy::primitives::Address;

mod assets;
pub mod covenant;
mod governance;
pub mod ids;
mod safe;
mod treasury;

pub use assets::reconcile_asset_log;
pub use governance::{
    reconcile_governor, reconcile_ownable, reconcile_roles, reconcile_timelock, timelock_roles,
};
pub use safe::{reconcile_safe, reconcile_safe_code, reconcile_signers};
pub use treasury::{
    call_outflows, inflow, is_outflow, outflow, reconcile_balance, reconcile_delegatecall,
    reconcile_transaction, reconcile_windows, Flow, Outflow,
};

pub use crate::model::{Rule, Severity};

use crate::manifest::{Manifest, RoleDecl};
use crate::observe::Observed;

/// Compares one contract's observed structure with what `manifest` declares for it (nothing
/// declared of that kind at that address: no finding).
pub fn reconcile(manifest: &Manifest, contract: Address, observed: &Observed) -> Vec<Finding> {
    match observed {
        Observed::Safe(s) => manifest
            .safe(&contract)
            .map(|d| {
                let mut found = reconcile_safe(d, s);
                found.extend(reconcile_safe_code(
                    contract,
                    manifest.fallback_handler(&contract),
                    s,
                ));
                found
            })
            .unwrap_or_default(),
        Observed::Governor(s) => manifest
            .governor(&contract)
            .map(|d| reconcile_governor(d, s))
            .unwrap_or_default(),
        Observed::Timelock(s) => manifest
            .timelock(&contract)
            .map(|d| reconcile_timelock(d, s))
            .unwrap_or_default(),
        Observed::Roles(s) => manifest
            .roles
            .iter()
            .find_map(|r| match r {
                RoleDecl::AccessControl {
                    contract: c,
                    members,
                    ..
                } if *c == contract => Some(reconcile_roles(contract, members, s)),
                _ => None,
            })
            .unwrap_or_default(),
        Observed::Ownable(s) => manifest
            .roles
            .iter()
            .find_map(|r| match r {
                RoleDecl::Ownable {
                    contract: c, owner, ..
                } if *c == contract => Some(reconcile_ownable(contract, *owner, s)),
                _ => None,
            })
            .unwrap_or_default(),
    }
}

/// One disagreement between declared and observed, identified by (rule, subject, key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: Rule,
    /// The contract the finding is about (the Safe).
    pub subject: Address,
    /// What distinguishes two findings of one rule on one subject (an owner, a module), or "".
    pub key: String,
    pub expected: String,
    pub observed: String,
}

impl Finding {
    pub fn identity(&self) -> (Rule, Address, &str) {
        (self.rule, self.subject, &self.key)
    }
}

/// When the documentation becomes stale: `grace` blocks after the oldest structural divergence
/// still open (given as the blocks they opened at) opened.
pub fn documentation_stale_at(
    open_structural: impl IntoIterator<Item = i64>,
    grace: u64,
) -> Option<i64> {
    open_structural
        .into_iter()
        .min()
        .map(|oldest| oldest.saturating_add(grace as i64))
}

/// What to do with the divergences of one subject after an evaluation.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Transition<K> {
    /// Findings with no open divergence yet: open one each.
    pub open: Vec<Finding>,
    /// Open divergences (their keys) that no finding supports any more: resolve them.
    pub resolve: Vec<K>,
}

/// Diffs the current findings against the open divergences, given as (handle, identity).
pub fn transition<K: Clone>(
    open: &[(K, (Rule, Address, String))],
    findings: Vec<Finding>,
) -> Transition<K> {
    let mut t = Transition {
        open: Vec::new(),
        resolve: Vec::new(),
    };
    for (handle, (rule, subject, key)) in open {
        if !findings
            .iter()
            .any(|f| f.identity() == (*rule, *subject, key.as_str()))
        {
            t.resolve.push(handle.clone());
        }
    }
    for f in findings {
        if !open
            .iter()
            .any(|(_, (r, s, k))| f.identity() == (*r, *s, k.as_str()))
        {
            t.open.push(f);
        }
    }
    t
}
