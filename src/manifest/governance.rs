//! The group's onchain governance: OpenZeppelin Governor contracts and the TimelockControllers
//! that execute what they decide, with the parameters the group expects them to have.

use alloy::primitives::{Address, U256};
use serde::{Deserialize, Serialize};

use super::address;
use super::policy::amount;

/// The declared governors and timelocks. Empty (the default) when the manifest declares none; an
/// empty section is left out of the canonical form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Governance {
    /// Governor contracts, in declared order, no address twice.
    #[serde(default)]
    pub governors: Vec<GovernorDecl>,
    /// TimelockController contracts, in declared order, no address twice.
    #[serde(default)]
    pub timelocks: Vec<TimelockDecl>,
}

impl Governance {
    /// Whether the section declares nothing.
    pub fn is_empty(&self) -> bool {
        self.governors.is_empty() && self.timelocks.is_empty()
    }

    /// This section with every timelock's lists sorted, as the canonical form has them.
    pub(crate) fn normalised(&self) -> Governance {
        Governance {
            governors: self.governors.clone(),
            timelocks: self
                .timelocks
                .iter()
                .map(TimelockDecl::normalised)
                .collect(),
        }
    }
}

/// An OpenZeppelin Governor as the group declares it. Delays and periods are in the governor's
/// clock units (blocks, unless the token uses timestamps).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovernorDecl {
    /// The governor's address.
    #[serde(with = "address::one")]
    pub address: Address,
    /// The timelock that executes its proposals, one of the declared timelocks; `None`: the
    /// governor executes proposals itself.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "address::optional"
    )]
    pub timelock: Option<Address>,
    /// `votingDelay()`.
    pub voting_delay: u64,
    /// `votingPeriod()`, at least 1.
    pub voting_period: u64,
    /// `proposalThreshold()`, in votes (the token's smallest unit).
    #[serde(with = "amount::one")]
    pub proposal_threshold: U256,
    /// `quorumNumerator()`, out of OpenZeppelin's default denominator of 100.
    pub quorum_numerator: u64,
    /// The contract's creation block, if the group declares it: spares the search for it when
    /// role history is read (checked against the chain before it is used). Optional; absent
    /// from the canonical form when not declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployed_at: Option<u64>,
}

/// An OpenZeppelin TimelockController as the group declares it: its delay and who holds each role.
/// Every list is sorted by address bytes, with no duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelockDecl {
    /// The timelock's address.
    #[serde(with = "address::one")]
    pub address: Address,
    /// `getMinDelay()`, in seconds.
    pub min_delay: u64,
    /// Holders of `PROPOSER_ROLE`.
    #[serde(with = "address::many")]
    pub proposers: Vec<Address>,
    /// Holders of `EXECUTOR_ROLE`; the zero address means anyone may execute.
    #[serde(with = "address::many")]
    pub executors: Vec<Address>,
    /// Holders of `CANCELLER_ROLE`.
    #[serde(with = "address::many")]
    pub cancellers: Vec<Address>,
    /// Holders of the admin role (`DEFAULT_ADMIN_ROLE`; `TIMELOCK_ADMIN_ROLE` before
    /// OpenZeppelin 5) other than the timelock itself, which OpenZeppelin's constructor makes its
    /// own admin and need not be listed. Optional in a manifest; empty: no other admin (the
    /// recommended set-up, once the deployer has renounced the role).
    #[serde(default, with = "address::many")]
    pub admins: Vec<Address>,
    /// The contract's creation block, if the group declares it: spares the search for it when
    /// role history is read (checked against the chain before it is used). Optional; absent
    /// from the canonical form when not declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployed_at: Option<u64>,
}

impl TimelockDecl {
    /// Whether anyone may execute, as the zero address among the executors says.
    pub fn anyone_can_execute(&self) -> bool {
        self.executors.contains(&Address::ZERO)
    }

    /// Whether `account` is a declared proposer.
    pub fn is_proposer(&self, account: &Address) -> bool {
        self.proposers.contains(account)
    }

    /// Whether `account` may execute: a declared executor, or anyone when the zero address is one.
    pub fn is_executor(&self, account: &Address) -> bool {
        self.anyone_can_execute() || self.executors.contains(account)
    }

    /// Whether `account` is a declared canceller.
    pub fn is_canceller(&self, account: &Address) -> bool {
        self.cancellers.contains(account)
    }

    /// Whether `account` is a declared admin.
    pub fn is_admin(&self, account: &Address) -> bool {
        self.admins.contains(account)
    }

    /// This timelock with its lists sorted, as the canonical form has them.
    fn normalised(&self) -> TimelockDecl {
        let mut timelock = self.clone();
        timelock.proposers.sort();
        timelock.executors.sort();
        timelock.cancellers.sort();
        timelock.admins.sort();
        timelock
    }
}
