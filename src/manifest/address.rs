//! Addresses as a manifest writes them, parsed once at the edge.
//!
//! Accepted: `0x` followed by 40 hex digits, all lowercase or all uppercase, or mixed case with a
//! valid EIP-55 checksum (mixed case claims to be checksummed, so a wrong checksum is most likely
//! a typo). Always written back checksummed.

use std::fmt;

use alloy::primitives::Address;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The sentinel a Safe uses to head its owner and module linked lists; it can be neither.
pub const SAFE_SENTINEL: Address = Address::with_last_byte(1);

/// Why a string is not an address a manifest accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddressFormatError {
    /// Not `0x` followed by exactly 40 hex digits.
    #[error("expected a 0x-prefixed address of 40 hex digits")]
    Malformed,
    /// Mixed case, but not the EIP-55 checksum of these bytes.
    #[error("mixed-case address has an invalid EIP-55 checksum; check it for typos")]
    BadChecksum,
}

/// Parses an address by the manifest's rules (see the module docs). The zero address parses; the
/// callers decide where it is refused.
pub fn parse_address(text: &str) -> Result<Address, AddressFormatError> {
    let digits = text
        .strip_prefix("0x")
        .ok_or(AddressFormatError::Malformed)?;
    if digits.len() != 40 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AddressFormatError::Malformed);
    }
    let has_upper = digits.bytes().any(|b| b.is_ascii_uppercase());
    let has_lower = digits.bytes().any(|b| b.is_ascii_lowercase());
    if has_upper && has_lower {
        Address::parse_checksummed(text, None).map_err(|_| AddressFormatError::BadChecksum)
    } else {
        text.parse().map_err(|_| AddressFormatError::Malformed)
    }
}

/// An address that serialises EIP-55 checksummed and deserialises by [`parse_address`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Checksummed(pub(crate) Address);

impl fmt::Debug for Checksummed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_checksum(None))
    }
}

impl Serialize for Checksummed {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.to_checksum(None))
    }
}

impl<'de> Deserialize<'de> for Checksummed {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_address(&text)
            .map(Checksummed)
            .map_err(|e| serde::de::Error::custom(format!("{e}, found {text:?}")))
    }
}

/// `#[serde(with = ...)]` for an [`Address`] field.
pub(crate) mod one {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(address: &Address, s: S) -> Result<S::Ok, S::Error> {
        Checksummed(*address).serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Address, D::Error> {
        Checksummed::deserialize(d).map(|c| c.0)
    }
}

/// `#[serde(with = ...)]` for a `Vec<Address>` field.
pub(crate) mod many {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(addresses: &[Address], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(addresses.iter().copied().map(Checksummed))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Address>, D::Error> {
        Vec::<Checksummed>::deserialize(d).map(|v| v.into_iter().map(|c| c.0).collect())
    }
}

/// `#[serde(with = ...)]` for an `Option<Address>` field.
pub(crate) mod optional {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        address: &Option<Address>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        address.map(Checksummed).serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Address>, D::Error> {
        Option::<Checksummed>::deserialize(d).map(|o| o.map(|c| c.0))
    }
}
