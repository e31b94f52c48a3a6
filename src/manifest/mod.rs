//! The group state manifest: the document in which a group declares its structure (for this
//! version, its treasury Safes), parsed from YAML or JSON, validated, normalised and hashed.
//!
//! Invariant: a [`Manifest`] obtained from [`Manifest::parse`], [`Manifest::from_file`],
//! [`Manifest::from_canonical_json`] or serde deserialisation has passed every rule, and is
//! normalised: strings trimmed, addresses parsed once (any case accepted, mixed case only with a
//! valid EIP-55 checksum), owners and modules sorted by address bytes. A manifest that breaks a
//! rule is refused whole, with every problem listed by path ([`ManifestError`]).
//!
//! Its identity is [`Manifest::hash`]: SHA-256 of [`Manifest::canonical_json`], which does not
//! depend on the source format, key order, owner or module order, or address case. The store
//! keeps the canonical JSON and reads it back with [`Manifest::from_canonical_json`].
//!
//! Sections a later version will read (`governance`, `roles`, `treasury.policy`) are refused for
//! now with "not supported yet by this version (treasury only)", rather than ignored: a group must
//! not believe a section is being watched when it is not.

mod address;
mod error;
mod hash;
mod node;
mod validate;

#[cfg(test)]
mod tests;

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use alloy::primitives::Address;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use address::{parse_address, AddressFormatError, SAFE_SENTINEL};
pub use error::{ManifestError, Problem, DOCUMENT_PATH};
pub use hash::{ManifestHash, ParseManifestHashError};
pub use node::MAX_MANIFEST_BYTES;

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
    /// The Safes that hold the group's funds.
    pub treasury: Treasury,
    /// Agreements with other groups.
    pub agreements: Vec<Agreement>,
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

/// The group's treasury: the Safes it holds funds in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Treasury {
    /// At least one Safe, in declared order, no address twice.
    pub safes: Vec<SafeDecl>,
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
    /// `name`, `purpose`, `phase`, `chain`, `start_block`, `treasury`, `agreements`; per Safe
    /// `address`, `owners`, `threshold`, `modules`, `guard`; per agreement `with`, `summary`,
    /// `uri`); absent optional values (`guard`, `uri`) left out; addresses EIP-55 checksummed;
    /// owners and modules sorted ascending by address bytes; Safes and agreements in declared
    /// order.
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

    /// The addresses of every declared Safe, in declared order.
    pub fn watched_addresses(&self) -> Vec<Address> {
        self.treasury.safes.iter().map(|s| s.address).collect()
    }
}

impl FromStr for Manifest {
    type Err = ManifestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Manifest::parse(s)
    }
}

impl Serialize for Manifest {
    /// The canonical form (see [`Manifest::canonical_json`]), whatever order the owners and
    /// modules of this value are in.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Canonical<'a> {
            id: &'a str,
            name: &'a str,
            purpose: &'a str,
            phase: Phase,
            chain: &'a str,
            start_block: u64,
            treasury: Treasury,
            agreements: &'a [Agreement],
        }

        Canonical {
            id: &self.id,
            name: &self.name,
            purpose: &self.purpose,
            phase: self.phase,
            chain: &self.chain,
            start_block: self.start_block,
            treasury: Treasury {
                safes: self
                    .treasury
                    .safes
                    .iter()
                    .map(SafeDecl::normalised)
                    .collect(),
            },
            agreements: &self.agreements,
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
