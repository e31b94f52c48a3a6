//! Who holds power over the group's other contracts: the members of each OpenZeppelin
//! AccessControl role, or the owner of an Ownable contract.
//!
//! Roles are identified onchain by a 32-byte hash. A manifest names a role as Solidity does
//! (`MINTER_ROLE`, hashed with keccak256; `DEFAULT_ADMIN_ROLE` is the zero hash) or gives the hash
//! itself as 0x-hex. Roles are keyed by hash, so one role cannot be declared twice under two
//! spellings; the name is kept as written (hex in lowercase) for display and for the canonical
//! form.

use std::collections::BTreeMap;

use alloy::primitives::{keccak256, Address, B256};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::address::{self, Checksummed};

/// The role OpenZeppelin's AccessControl makes the admin of every other role: the zero hash.
pub const DEFAULT_ADMIN_ROLE: B256 = B256::ZERO;

/// The name [`DEFAULT_ADMIN_ROLE`] is written with.
pub const DEFAULT_ADMIN_ROLE_NAME: &str = "DEFAULT_ADMIN_ROLE";

/// A role written neither as an identifier of `A-Z`, `0-9` and `_` that does not start with a
/// digit (as a Solidity constant is named) nor as a 32-byte 0x-hex hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a role name such as MINTER_ROLE (A-Z, 0-9 and '_', not starting with a digit) or a 32-byte 0x-hex role hash, found {0:?}")]
pub struct ParseRoleError(pub String);

/// Reads a role as a manifest writes it: its hash, and its name as kept (an identifier as written,
/// a hex hash in lowercase).
pub fn parse_role(text: &str) -> Result<(B256, String), ParseRoleError> {
    let identifier = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_';
    if text.bytes().next().is_some_and(|b| !b.is_ascii_digit()) && text.bytes().all(identifier) {
        let hash = if text == DEFAULT_ADMIN_ROLE_NAME {
            DEFAULT_ADMIN_ROLE
        } else {
            keccak256(text.as_bytes())
        };
        return Ok((hash, text.to_owned()));
    }
    let mut bytes = [0u8; 32];
    match text.strip_prefix("0x") {
        Some(digits) if digits.len() == 64 && hex::decode_to_slice(digits, &mut bytes).is_ok() => {
            Ok((B256::from(bytes), format!("0x{}", hex::encode(bytes))))
        }
        _ => Err(ParseRoleError(text.to_owned())),
    }
}

/// The hash of a role as a manifest writes it (see [`parse_role`]).
pub fn role_hash(text: &str) -> Result<B256, ParseRoleError> {
    parse_role(text).map(|(hash, _)| hash)
}

/// The declared members of one role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleMembers {
    /// The role as the manifest names it: `MINTER_ROLE`, or its hash in lowercase 0x-hex.
    pub name: String,
    /// The accounts that hold it, sorted by address bytes, no duplicates; empty: nobody.
    #[serde(with = "address::many")]
    pub members: Vec<Address>,
}

/// A contract whose privileged accounts the group declares.
///
/// Serialised as the manifest writes it: `{"contract", "members": {name: [accounts]}}` for
/// AccessControl (roles in hash order), `{"contract", "owner"}` for Ownable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleDecl {
    /// An OpenZeppelin AccessControl contract: every declared role with its members. A role not
    /// declared is expected to have no members.
    AccessControl {
        contract: Address,
        /// Keyed by role hash.
        members: BTreeMap<B256, RoleMembers>,
        /// The contract's creation block, if declared.
        deployed_at: Option<u64>,
    },
    /// An OpenZeppelin Ownable contract and its owner.
    Ownable {
        contract: Address,
        owner: Address,
        /// The contract's creation block, if declared.
        deployed_at: Option<u64>,
    },
}

impl RoleDecl {
    /// The contract the entry is about.
    pub fn contract(&self) -> Address {
        match self {
            RoleDecl::AccessControl { contract, .. } | RoleDecl::Ownable { contract, .. } => {
                *contract
            }
        }
    }

    /// The creation block declared for the contract, if any.
    pub fn deployed_at(&self) -> Option<u64> {
        match self {
            RoleDecl::AccessControl { deployed_at, .. } | RoleDecl::Ownable { deployed_at, .. } => {
                *deployed_at
            }
        }
    }

    /// The declared members of `role`, for an AccessControl entry that declares it.
    pub fn role(&self, role: &B256) -> Option<&RoleMembers> {
        match self {
            RoleDecl::AccessControl { members, .. } => members.get(role),
            RoleDecl::Ownable { .. } => None,
        }
    }

    /// Whether `account` is a declared member of `role` (AccessControl entries only).
    pub fn is_member(&self, role: &B256, account: &Address) -> bool {
        self.role(role).is_some_and(|r| r.members.contains(account))
    }

    /// The declared owner, for an Ownable entry.
    pub fn owner(&self) -> Option<Address> {
        match self {
            RoleDecl::Ownable { owner, .. } => Some(*owner),
            RoleDecl::AccessControl { .. } => None,
        }
    }

    /// This entry with every member list sorted, as the canonical form has them.
    pub(crate) fn normalised(&self) -> RoleDecl {
        let mut entry = self.clone();
        if let RoleDecl::AccessControl { members, .. } = &mut entry {
            for role in members.values_mut() {
                role.members.sort();
            }
        }
        entry
    }
}

/// Members by role name, in role-hash order.
struct MembersByName<'a>(&'a BTreeMap<B256, RoleMembers>);

impl Serialize for MembersByName<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(
            self.0
                .values()
                .map(|role| (&role.name, Accounts(&role.members))),
        )
    }
}

struct Accounts<'a>(&'a [Address]);

impl Serialize for Accounts<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().copied().map(Checksummed))
    }
}

impl Serialize for RoleDecl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match self {
            RoleDecl::AccessControl {
                contract, members, ..
            } => {
                map.serialize_entry("contract", &Checksummed(*contract))?;
                map.serialize_entry("members", &MembersByName(members))?;
            }
            RoleDecl::Ownable {
                contract, owner, ..
            } => {
                map.serialize_entry("contract", &Checksummed(*contract))?;
                map.serialize_entry("owner", &Checksummed(*owner))?;
            }
        }
        // Absent unless declared, so a manifest without it keeps its hash.
        if let Some(block) = self.deployed_at() {
            map.serialize_entry("deployed_at", &block)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for RoleDecl {
    /// Reads what [`Serialize`] writes. Only a whole [`super::Manifest`] is checked against every
    /// rule when deserialised; this checks the role names, and that the entry is one kind.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;

        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            #[serde(with = "address::one")]
            contract: Address,
            #[serde(default)]
            members: Option<BTreeMap<String, Vec<Checksummed>>>,
            #[serde(default, with = "address::optional")]
            owner: Option<Address>,
            #[serde(default)]
            deployed_at: Option<u64>,
        }

        let raw = Raw::deserialize(deserializer)?;
        match (raw.members, raw.owner) {
            (Some(roles), None) => {
                let mut members = BTreeMap::new();
                for (name, accounts) in roles {
                    let (hash, name) = parse_role(&name).map_err(D::Error::custom)?;
                    let role = RoleMembers {
                        name,
                        members: accounts.into_iter().map(|a| a.0).collect(),
                    };
                    if members.insert(hash, role).is_some() {
                        return Err(D::Error::custom(format!("duplicate role {hash}")));
                    }
                }
                Ok(RoleDecl::AccessControl {
                    contract: raw.contract,
                    members,
                    deployed_at: raw.deployed_at,
                })
            }
            (None, Some(owner)) => Ok(RoleDecl::Ownable {
                contract: raw.contract,
                owner,
                deployed_at: raw.deployed_at,
            }),
            _ => Err(D::Error::custom(
                "expected either members (AccessControl) or owner (Ownable)",
            )),
        }
    }
}
