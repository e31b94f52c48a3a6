//! The group state manifest: the document in which a group declares its structure (its treasury
//! Safes and spending policy, its governors and timelocks, and who holds the roles of its other
//! contracts), parsed from YAML or JSON, validated, normalised and hashed.
//!
//! Invariant: a [`Manifest`] obtained from [`Manifest::parse`], [`Manifest::from_file`],
//! [`Manifest::from_canonical_json`] or serde deserialisation has passed every rule, and is
//! normalised: strings trimmed, addresses parsed once (any case accepted, mixed case only with a
//! valid EIP-55 checksum), every list of accounts sorted by address bytes, amounts as `U256`, roles
//! keyed by hash. A manifest that breaks a rule is refused whole, with every problem listed by path
//! ([`ManifestError`]).
//!
//! Its identity is [`Manifest::hash`]: SHA-256 of [`Manifest::canonical_json`], which does not
//! depend on the source format, key order, the order of any list of accounts, address case, or
//! whether an amount is written as a number or a string. The sections `treasury.policy`,
//! `governance` and `roles` are left out of the canonical form when empty, and so is every key
//! added since (`deployed_at`, the policy's daily, monthly and approval limits, a contract's
//! `implementation`, a Safe's `fallback_handler` and `delegatecall_targets`) while it is absent
//! or has its default value, so a manifest without them has the hash it had before this version
//! read them. The store keeps the canonical JSON and
//! reads it back with [`Manifest::from_canonical_json`].

mod address;
mod code;
pub mod covenant;
mod diff;
mod error;
mod governance;
mod hash;
mod node;
mod policy;
pub mod ratify;
mod roles;
mod validate;
pub mod write;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use alloy::primitives::Address;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::ContractKind;

pub use address::{parse_address, AddressFormatError, SAFE_SENTINEL};
pub use code::CodeDecl;
pub use diff::{diff, Change};
pub use error::{ManifestError, Problem, DOCUMENT_PATH};
pub use governance::{Governance, GovernorDecl, TimelockDecl};
pub use hash::{ManifestHash, ParseManifestHashError};
pub use node::MAX_MANIFEST_BYTES;
pub use policy::{Asset, ParseAssetError, Policy};
pub use roles::{
    parse_role, role_hash, ParseRoleError, RoleDecl, RoleMembers, DEFAULT_ADMIN_ROLE,
    DEFAULT_ADMIN_ROLE_NAME,
};

/// A group's declared structure, valid and normalised (see the module docs).
///
/// Serialises to its canonical JSON form ([`Manifest::canonical_json`]); deserialises through the
/// same validation as [`Manifest::parse`], so a `Manifest` read with serde is valid too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The group's identifier: `[a-z0-9-]`, 1 to 64 characters, not starting or ending with '-'.
    pub id: String,
    /// Display name.
    pub name: String,
    /// What the group is for.
    pub purpose: String,
    /// Where the group is in its life.
    pub phase: Phase,
    /// A chain name from the configuration.
    pub chain: String,
    /// The block from which the group is followed.
    pub start_block: u64,
    /// The Safes that hold the group's funds, and the policy for spending them.
    pub treasury: Treasury,
    /// Governors and timelocks; empty when the manifest declares none.
    pub governance: Governance,
    /// Who holds the roles of the group's other contracts, in declared order, no contract twice;
    /// empty when the manifest declares none.
    pub roles: Vec<RoleDecl>,
    /// Agreements with other groups.
    pub agreements: Vec<Agreement>,
    /// The code each declared contract declares (its `implementation`; a Safe's
    /// `fallback_handler` and `delegatecall_targets`), written in the contract's own entry and
    /// kept here by its address; no entry for a contract that declares none of it. Read it
    /// through [`Manifest::declared_implementation`], [`Manifest::fallback_handler`] and
    /// [`Manifest::delegatecall_targets`].
    pub code: BTreeMap<Address, CodeDecl>,
    /// Whether every new version must be ratified by the authority in force before it (see
    /// [`ratify`]); an unratified update is then refused. Absent from the canonical form when
    /// false.
    pub require_ratification: bool,
}

/// A group's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Formation,
    Organization,
    Coordination,
    Completion,
}

impl Phase {
    /// Every phase, in life order.
    pub const ALL: [Phase; 4] = [
        Phase::Formation,
        Phase::Organization,
        Phase::Coordination,
        Phase::Completion,
    ];

    /// The name a manifest uses: `formation`, `organization`, `coordination` or `completion`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Formation => "formation",
            Phase::Organization => "organization",
            Phase::Coordination => "coordination",
            Phase::Completion => "completion",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the four phases.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected one of formation, organization, coordination, completion, found {0:?}")]
pub struct ParsePhaseError(pub String);

impl FromStr for Phase {
    type Err = ParsePhaseError;

    /// Exact lowercase names only, as in a manifest.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Phase::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| ParsePhaseError(s.to_owned()))
    }
}

/// The group's treasury: the Safes it holds funds in, and how they may be spent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Treasury {
    /// At least one Safe, in declared order, no address twice.
    pub safes: Vec<SafeDecl>,
    /// Limits on outflows from the Safes; empty (no limit) when the manifest declares none.
    #[serde(default, skip_serializing_if = "Policy::is_empty")]
    pub policy: Policy,
}

/// A Safe as the group declares it.
///
/// Its serde form writes addresses checksummed and reads them by [`parse_address`]; only a whole
/// [`Manifest`] is checked against every rule when deserialised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafeDecl {
    /// The Safe proxy's address.
    #[serde(with = "address::one")]
    pub address: Address,
    /// The declared owners, sorted by address bytes, no duplicates.
    #[serde(with = "address::many")]
    pub owners: Vec<Address>,
    /// Signatures required, 1 ..= owners.len().
    pub threshold: u64,
    /// Modules allowed to be enabled, sorted by address bytes; empty: none.
    #[serde(default, with = "address::many")]
    pub modules: Vec<Address>,
    /// The transaction guard expected to be set, if any.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "address::optional"
    )]
    pub guard: Option<Address>,
    /// The contract's creation block, if the group declares it: spares the search for it when
    /// role history is read (checked against the chain before it is used). Optional; absent
    /// from the canonical form when not declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployed_at: Option<u64>,
}

impl SafeDecl {
    /// Whether `address` is a declared owner.
    pub fn is_owner(&self, address: &Address) -> bool {
        self.owners.contains(address)
    }

    /// Whether `module` is declared as allowed to be enabled.
    pub fn allows_module(&self, module: &Address) -> bool {
        self.modules.contains(module)
    }

    /// This Safe with owners and modules sorted by address bytes, as the canonical form has them.
    fn normalised(&self) -> SafeDecl {
        let mut safe = self.clone();
        safe.owners.sort();
        safe.modules.sort();
        safe
    }
}

/// An agreement with another group or organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agreement {
    /// Who the agreement is with.
    pub with: String,
    /// What was agreed, in a sentence.
    pub summary: String,
    /// Where the full text lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// The covenant that makes the agreement checkable: its id and the hash of the version
    /// agreed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covenant: Option<covenant::CovenantRef>,
}

impl Manifest {
    /// Parses and validates a manifest written in YAML or JSON. On failure the error lists every
    /// problem by path, or the line and column of a syntax error.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let node = node::parse_text(text)?;
        validate::manifest_from_node(&node)
    }

    /// Reads, parses and validates the manifest file at `path`. A read failure names the file.
    pub fn from_file(path: &Path) -> Result<Manifest, ManifestError> {
        let mut text = String::new();
        std::fs::File::open(path)
            // One byte past the limit is enough to know the file is too large.
            .and_then(|file| {
                file.take(MAX_MANIFEST_BYTES as u64 + 1)
                    .read_to_string(&mut text)
            })
            .map_err(|e| ManifestError::io(path, &e))?;
        Self::parse(&text)
    }

    /// The canonical JSON form: no whitespace; keys in the order of the struct fields (`id`,
    /// `name`, `purpose`, `phase`, `chain`, `start_block`, `treasury`, `governance`, `roles`,
    /// `agreements`; `treasury`: `safes`, `policy`; per Safe `address`, `owners`, `threshold`,
    /// `modules`, `guard`, `deployed_at`, `fallback_handler`, `delegatecall_targets`; `policy`:
    /// `max_outflow`, `allowed_recipients`, `max_outflow_per_day`, `max_outflow_per_month`,
    /// `max_approval`, `unlimited_approvals`, `allowed_spenders`; `governance`: `governors`,
    /// `timelocks`; per governor `address`, `timelock`, `voting_delay`, `voting_period`,
    /// `proposal_threshold`, `quorum_numerator`, `deployed_at`, `implementation`; per timelock
    /// `address`, `min_delay`, `proposers`, `executors`, `cancellers`, `admins`, `deployed_at`,
    /// `implementation`; per role entry `contract` then `members` or `owner`, then
    /// `deployed_at`, `implementation`; per agreement `with`, `summary`, `uri`; then
    /// `require_ratification`, only when true); absent optional
    /// values (`guard`, a governor's `timelock`, `uri`, `deployed_at`, `implementation`,
    /// `fallback_handler`), policy keys after `allowed_recipients` at their default (empty, or
    /// `unlimited_approvals: true`), empty `delegatecall_targets` and empty sections (`policy`,
    /// `governance`, `roles`) left out; addresses EIP-55 checksummed; every list of accounts
    /// sorted ascending by address bytes; amounts (limits, `proposal_threshold`) as decimal
    /// strings; maps of limits keyed `native` first, then tokens by address bytes; roles keyed by
    /// name in role-hash order; Safes, governors, timelocks, role entries and agreements in
    /// declared order.
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).expect("a manifest has only strings, integers and lists")
    }

    /// SHA-256 of [`Manifest::canonical_json`].
    pub fn hash(&self) -> ManifestHash {
        ManifestHash::of(self.canonical_json().as_bytes())
    }

    /// Reads back what [`Manifest::canonical_json`] wrote (JSON only), checking every rule again.
    pub fn from_canonical_json(s: &str) -> Result<Manifest, ManifestError> {
        let node = node::parse_json(s)?;
        validate::manifest_from_node(&node)
    }

    /// The declared Safe at `address`, if any.
    pub fn safe(&self, address: &Address) -> Option<&SafeDecl> {
        self.treasury.safes.iter().find(|s| s.address == *address)
    }

    /// The declared governor at `address`, if any.
    pub fn governor(&self, address: &Address) -> Option<&GovernorDecl> {
        self.governance
            .governors
            .iter()
            .find(|g| g.address == *address)
    }

    /// The declared timelock at `address`, if any.
    pub fn timelock(&self, address: &Address) -> Option<&TimelockDecl> {
        self.governance
            .timelocks
            .iter()
            .find(|t| t.address == *address)
    }

    /// The role entry (AccessControl or Ownable) for the contract at `address`, if any.
    pub fn role_contract(&self, address: &Address) -> Option<&RoleDecl> {
        self.roles.iter().find(|r| r.contract() == *address)
    }

    /// The implementation the EIP-1967 proxy at `contract` is declared to point at, if the
    /// contract's entry declares one.
    pub fn declared_implementation(&self, contract: &Address) -> Option<Address> {
        self.code.get(contract).and_then(|c| c.implementation)
    }

    /// Every declared contract that declares an implementation, with it, in address order: the
    /// proxies whose EIP-1967 slot is worth reading.
    pub fn declared_implementations(&self) -> Vec<(Address, Address)> {
        self.code
            .iter()
            .filter_map(|(contract, code)| code.implementation.map(|i| (*contract, i)))
            .collect()
    }

    /// The contracts the Safe at `safe` is declared to be allowed to delegatecall besides the
    /// known Safe libraries, sorted by address bytes; empty when none is declared (or `safe`
    /// is not a declared Safe).
    pub fn delegatecall_targets(&self, safe: &Address) -> &[Address] {
        self.code
            .get(safe)
            .map_or(&[], |c| c.delegatecall_targets.as_slice())
    }

    /// Whether the Safe at `safe` is declared to be allowed to delegatecall `target` (the known
    /// Safe libraries aside, which the caller knows).
    pub fn allows_delegatecall(&self, safe: &Address, target: &Address) -> bool {
        self.delegatecall_targets(safe).contains(target)
    }

    /// The fallback handler declared for the Safe at `safe`, if any.
    pub fn fallback_handler(&self, safe: &Address) -> Option<Address> {
        self.code.get(safe).and_then(|c| c.fallback_handler)
    }

    /// The addresses that hold the group's funds: every declared Safe, then every declared
    /// timelock (which holds what a governor's proposals spend), each in declared order.
    pub fn treasury_addresses(&self) -> Vec<Address> {
        let safes = self.treasury.safes.iter().map(|s| s.address);
        let timelocks = self.governance.timelocks.iter().map(|t| t.address);
        unique(safes.chain(timelocks))
    }

    /// Every declared contract with the kind of structure observed at it: Safes, governors,
    /// timelocks, then AccessControl and Ownable entries, each in declared order.
    pub fn declared_contracts(&self) -> Vec<(Address, ContractKind)> {
        let safes = self
            .treasury
            .safes
            .iter()
            .map(|s| (s.address, ContractKind::Safe));
        let governors = self
            .governance
            .governors
            .iter()
            .map(|g| (g.address, ContractKind::Governor));
        let timelocks = self
            .governance
            .timelocks
            .iter()
            .map(|t| (t.address, ContractKind::Timelock));
        let roles = self.roles.iter().map(|r| match r {
            RoleDecl::AccessControl { contract, .. } => (*contract, ContractKind::Roles),
            RoleDecl::Ownable { contract, .. } => (*contract, ContractKind::Ownable),
        });
        safes
            .chain(governors)
            .chain(timelocks)
            .chain(roles)
            .collect()
    }

    /// The creation block declared for the contract at `address`, if any.
    pub fn deployed_at(&self, address: &Address) -> Option<u64> {
        let safes = self
            .treasury
            .safes
            .iter()
            .map(|s| (s.address, s.deployed_at));
        let governors = self
            .governance
            .governors
            .iter()
            .map(|g| (g.address, g.deployed_at));
        let timelocks = self
            .governance
            .timelocks
            .iter()
            .map(|t| (t.address, t.deployed_at));
        let roles = self.roles.iter().map(|r| (r.contract(), r.deployed_at()));
        safes
            .chain(governors)
            .chain(timelocks)
            .chain(roles)
            .filter(|(a, _)| a == address)
            .find_map(|(_, d)| d)
    }

    /// The addresses of every declared contract: Safes first, then governors, timelocks and role
    /// contracts, each in declared order.
    pub fn watched_addresses(&self) -> Vec<Address> {
        let safes = self.treasury.safes.iter().map(|s| s.address);
        let governors = self.governance.governors.iter().map(|g| g.address);
        let timelocks = self.governance.timelocks.iter().map(|t| t.address);
        let roles = self.roles.iter().map(RoleDecl::contract);
        unique(safes.chain(governors).chain(timelocks).chain(roles))
    }
}

/// `addresses` in order without repeats. A validated manifest declares no contract twice; this
/// keeps the lists right for a hand-built one.
fn unique(addresses: impl Iterator<Item = Address>) -> Vec<Address> {
    let mut out: Vec<Address> = Vec::new();
    for address in addresses {
        if !out.contains(&address) {
            out.push(address);
        }
    }
    out
}

impl FromStr for Manifest {
    type Err = ManifestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Manifest::parse(s)
    }
}

impl Serialize for Manifest {
    /// The canonical form (see [`Manifest::canonical_json`]), whatever order the lists of
    /// accounts of this value are in.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use code::WithCode;

        #[derive(Serialize)]
        struct Canonical<'a> {
            id: &'a str,
            name: &'a str,
            purpose: &'a str,
            phase: Phase,
            chain: &'a str,
            start_block: u64,
            treasury: CanonicalTreasury,
            #[serde(skip_serializing_if = "Option::is_none")]
            governance: Option<CanonicalGovernance>,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            roles: Vec<WithCode<RoleDecl>>,
            agreements: &'a [Agreement],
            #[serde(skip_serializing_if = "std::ops::Not::not")]
            require_ratification: bool,
        }

        #[derive(Serialize)]
        struct CanonicalTreasury {
            safes: Vec<WithCode<SafeDecl>>,
            #[serde(skip_serializing_if = "Policy::is_empty")]
            policy: Policy,
        }

        #[derive(Serialize)]
        struct CanonicalGovernance {
            governors: Vec<WithCode<GovernorDecl>>,
            timelocks: Vec<WithCode<TimelockDecl>>,
        }

        // Each entry with the code it declares, in the entry's own object.
        let with_code = |address: Address| {
            self.code
                .get(&address)
                .map(CodeDecl::normalised)
                .unwrap_or_default()
        };
        let governance = self.governance.normalised();
        Canonical {
            id: &self.id,
            name: &self.name,
            purpose: &self.purpose,
            phase: self.phase,
            chain: &self.chain,
            start_block: self.start_block,
            treasury: CanonicalTreasury {
                safes: self
                    .treasury
                    .safes
                    .iter()
                    .map(|s| WithCode {
                        decl: s.normalised(),
                        code: with_code(s.address),
                    })
                    .collect(),
                policy: self.treasury.policy.normalised(),
            },
            governance: (!governance.is_empty()).then(|| CanonicalGovernance {
                governors: governance
                    .governors
                    .into_iter()
                    .map(|g| WithCode {
                        code: with_code(g.address),
                        decl: g,
                    })
                    .collect(),
                timelocks: governance
                    .timelocks
                    .into_iter()
                    .map(|t| WithCode {
                        code: with_code(t.address),
                        decl: t,
                    })
                    .collect(),
            }),
            roles: self
                .roles
                .iter()
                .map(|r| WithCode {
                    decl: r.normalised(),
                    code: with_code(r.contract()),
                })
                .collect(),
            agreements: &self.agreements,
            require_ratification: self.require_ratification,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Manifest {
    /// Accepts what [`Manifest::parse`] accepts from the same data, and refuses with the same
    /// problems, joined into one message.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let node = node::Node::deserialize(deserializer)?;
        validate::manifest_from_node(&node).map_err(serde::de::Error::custom)
    }
}
