//! The content hash of a manifest: SHA-256 of its canonical JSON, shown as 64 lowercase hex digits.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// SHA-256 of a manifest's canonical JSON ([`super::Manifest::hash`]). Two manifests that say the
/// same thing, whatever their format, key order, owner order or address case, have the same hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ManifestHash(pub [u8; 32]);

impl ManifestHash {
    /// SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// The 32 digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for ManifestHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for ManifestHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ManifestHash({self})")
    }
}

/// A string that is not 64 hex digits, given where a [`ManifestHash`] was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a manifest hash of 64 hex digits, found {0:?}")]
pub struct ParseManifestHashError(pub String);

impl FromStr for ManifestHash {
    type Err = ParseManifestHashError;

    /// Accepts exactly 64 hex digits, in either case, without a `0x` prefix.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 32];
        if s.len() != 64 {
            return Err(ParseManifestHashError(s.to_owned()));
        }
        hex::decode_to_slice(s, &mut bytes).map_err(|_| ParseManifestHashError(s.to_owned()))?;
        Ok(Self(bytes))
    }
}

impl From<[u8; 32]> for ManifestHash {
    fn from(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl Serialize for ManifestHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ManifestHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
