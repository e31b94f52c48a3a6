//! Pure reconciliation: from the declared structure (the manifest version in force) and the
//! observed one, the findings that disagree; and from the findings and the divergences already
//! open, which to open and which to resolve. No I/O here: the tests need no chain and no
//! database.

use std::fmt;

use alloy::primitives::Address;
use serde::{Deserialize, Serialize};

mod governance;
pub mod ids;
mod safe;
mod treasury;

pub use governance::{reconcile_governor, reconcile_ownable, reconcile_roles, reconcile_timelock};
pub use safe::{reconcile_safe, reconcile_signers};
pub use treasury::{outflow, reconcile_outflow, Outflow};

use crate::manifest::{Manifest, RoleDecl};
use crate::observe::Observed;

/// Compares one contract's observed structure with what `manifest` declares for it (nothing
/// declared of that kind at that address: no finding).
pub fn reconcile(manifest: &Manifest, contract: Address, observed: &Observed) -> Vec<Finding> {
    match observed {
        Observed::Safe(s) => manifest
            .safe(&contract)
            .map(|d| reconcile_safe(d, s))
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
                } if *c == contract => Some(reconcile_roles(contract, members, s)),
                _ => None,
            })
            .unwrap_or_default(),
        Observed::Ownable(s) => manifest
            .roles
            .iter()
            .find_map(|r| match r {
                RoleDecl::Ownable { contract: c, owner } if *c == contract => {
                    Some(reconcile_ownable(contract, *owner, s))
                }
                _ => None,
            })
            .unwrap_or_default(),
    }
}

/// How bad a divergence is; sinks and queries filter on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stable rule identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Rule {
    #[serde(rename = "safe.owner_undeclared")]
    SafeOwnerUndeclared,
    #[serde(rename = "safe.owner_missing")]
    SafeOwnerMissing,
    #[serde(rename = "safe.threshold_mismatch")]
    SafeThresholdMismatch,
    #[serde(rename = "safe.module_undeclared")]
    SafeModuleUndeclared,
    #[serde(rename = "safe.guard_changed")]
    SafeGuardChanged,
    #[serde(rename = "safe.not_a_safe")]
    SafeNotASafe,
    #[serde(rename = "governor.param_mismatch")]
    GovernorParamMismatch,
    #[serde(rename = "timelock.min_delay_mismatch")]
    TimelockMinDelayMismatch,
    #[serde(rename = "timelock.role_undeclared")]
    TimelockRoleUndeclared,
    #[serde(rename = "timelock.role_missing")]
    TimelockRoleMissing,
    #[serde(rename = "role.undeclared_member")]
    RoleUndeclaredMember,
    #[serde(rename = "role.missing_member")]
    RoleMissingMember,
    #[serde(rename = "role.admin_changed")]
    RoleAdminChanged,
    #[serde(rename = "ownership.undeclared_owner")]
    OwnershipUndeclaredOwner,
    #[serde(rename = "treasury.outflow_over_limit")]
    TreasuryOutflowOverLimit,
    #[serde(rename = "treasury.recipient_not_allowed")]
    TreasuryRecipientNotAllowed,
    #[serde(rename = "timelock.unexplained_call")]
    TimelockUnexplainedCall,
    #[serde(rename = "documentation.stale")]
    DocumentationStale,
    #[serde(rename = "safe.signer_undeclared")]
    SafeSignerUndeclared,
    /// A reorg removed blocks the verifiable log had already taken as final: the log keeps the
    /// voided leaves and appends a retraction.
    #[serde(rename = "log.finalized_reorg")]
    LogFinalizedReorg,
}

impl Rule {
    pub const ALL: [Rule; 20] = [
        Rule::SafeOwnerUndeclared,
        Rule::SafeOwnerMissing,
        Rule::SafeThresholdMismatch,
        Rule::SafeModuleUndeclared,
        Rule::SafeGuardChanged,
        Rule::SafeNotASafe,
        Rule::GovernorParamMismatch,
        Rule::TimelockMinDelayMismatch,
        Rule::TimelockRoleUndeclared,
        Rule::TimelockRoleMissing,
        Rule::RoleUndeclaredMember,
        Rule::RoleMissingMember,
        Rule::RoleAdminChanged,
        Rule::OwnershipUndeclaredOwner,
        Rule::TreasuryOutflowOverLimit,
        Rule::TreasuryRecipientNotAllowed,
        Rule::TimelockUnexplainedCall,
        Rule::DocumentationStale,
        Rule::SafeSignerUndeclared,
        Rule::LogFinalizedReorg,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rule::SafeOwnerUndeclared => "safe.owner_undeclared",
            Rule::SafeOwnerMissing => "safe.owner_missing",
            Rule::SafeThresholdMismatch => "safe.threshold_mismatch",
            Rule::SafeModuleUndeclared => "safe.module_undeclared",
            Rule::SafeGuardChanged => "safe.guard_changed",
            Rule::SafeNotASafe => "safe.not_a_safe",
            Rule::GovernorParamMismatch => "governor.param_mismatch",
            Rule::TimelockMinDelayMismatch => "timelock.min_delay_mismatch",
            Rule::TimelockRoleUndeclared => "timelock.role_undeclared",
            Rule::TimelockRoleMissing => "timelock.role_missing",
            Rule::RoleUndeclaredMember => "role.undeclared_member",
            Rule::RoleMissingMember => "role.missing_member",
            Rule::RoleAdminChanged => "role.admin_changed",
            Rule::OwnershipUndeclaredOwner => "ownership.undeclared_owner",
            Rule::TreasuryOutflowOverLimit => "treasury.outflow_over_limit",
            Rule::TreasuryRecipientNotAllowed => "treasury.recipient_not_allowed",
            Rule::TimelockUnexplainedCall => "timelock.unexplained_call",
            Rule::DocumentationStale => "documentation.stale",
            Rule::SafeSignerUndeclared => "safe.signer_undeclared",
            Rule::LogFinalizedReorg => "log.finalized_reorg",
        }
    }

    pub fn parse(s: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether the rule is about one event (a payment, a scheduled call), which stays open
    /// until acknowledged, rather than about a structure the chain or the manifest can fix.
    pub fn is_about_an_event(self) -> bool {
        matches!(
            self,
            Rule::TreasuryOutflowOverLimit
                | Rule::TreasuryRecipientNotAllowed
                | Rule::TimelockUnexplainedCall
                | Rule::SafeSignerUndeclared
                | Rule::LogFinalizedReorg
        )
    }

    /// Whether the rule compares a contract's structure with the manifest (what documentation
    /// can fall behind on).
    pub fn is_structural(self) -> bool {
        !self.is_about_an_event() && self != Rule::DocumentationStale
    }

    /// The kind of contract whose structure the rule is about.
    pub fn kind(self) -> crate::observe::ContractKind {
        use crate::observe::ContractKind as K;
        match self.as_str().split('.').next() {
            Some("governor") => K::Governor,
            Some("timelock") => K::Timelock,
            Some("role") => K::Roles,
            Some("ownership") => K::Ownable,
            _ => K::Safe,
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            // Someone nobody documented can sign, propose, execute or administer, or code
            // nobody documented can move funds.
            Rule::SafeOwnerUndeclared
            | Rule::SafeModuleUndeclared
            | Rule::TimelockRoleUndeclared
            | Rule::RoleUndeclaredMember
            | Rule::OwnershipUndeclaredOwner
            | Rule::TimelockUnexplainedCall
            | Rule::SafeSignerUndeclared
            | Rule::LogFinalizedReorg => Severity::Critical,
            Rule::TreasuryOutflowOverLimit | Rule::TreasuryRecipientNotAllowed => Severity::High,
            Rule::SafeThresholdMismatch
            | Rule::SafeGuardChanged
            | Rule::SafeNotASafe
            | Rule::GovernorParamMismatch
            | Rule::TimelockMinDelayMismatch
            | Rule::RoleAdminChanged => Severity::High,
            Rule::SafeOwnerMissing
            | Rule::TimelockRoleMissing
            | Rule::RoleMissingMember
            | Rule::DocumentationStale => Severity::Medium,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
