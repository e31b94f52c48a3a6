//! What a manifest declares about the code that runs in a declared contract's name: the
//! implementation behind an EIP-1967 proxy (governors, timelocks, role and Ownable contracts),
//! and, for a Safe, the contracts it may delegatecall besides the known Safe libraries and its
//! fallback handler.
//!
//! Each is written in the contract's own entry (`implementation:` beside a governor's `address`,
//! `delegatecall_targets:` and `fallback_handler:` beside a Safe's `owners`) and kept in
//! [`super::Manifest::code`], keyed by the contract's address, so that the declarations of
//! structure stay as they were. An entry that declares none of them has no [`CodeDecl`], and the
//! canonical form writes each key only when declared, so a manifest without them keeps its hash.

use alloy::primitives::Address;
use serde::{Deserialize, Serialize};

use super::address;

/// The code a manifest declares for one contract. Default (nothing declared) for a contract that
/// declares none of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeDecl {
    /// The implementation the contract's EIP-1967 proxy is expected to point at (governors,
    /// timelocks, role and Ownable contracts; not Safes, whose proxies are not EIP-1967).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "address::optional"
    )]
    pub implementation: Option<Address>,
    /// For a Safe: the handler its fallback is expected to be set to.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "address::optional"
    )]
    pub fallback_handler: Option<Address>,
    /// For a Safe: the contracts it may delegatecall besides the known Safe libraries, sorted by
    /// address bytes, no duplicates.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "address::many")]
    pub delegatecall_targets: Vec<Address>,
}

impl CodeDecl {
    /// Whether nothing is declared.
    pub fn is_empty(&self) -> bool {
        *self == CodeDecl::default()
    }

    /// This declaration with its list sorted, as the canonical form has it.
    pub(crate) fn normalised(&self) -> CodeDecl {
        let mut code = self.clone();
        code.delegatecall_targets.sort();
        code
    }
}

/// A declared entry as the canonical form writes it: the entry's own keys, then the code it
/// declares (`implementation`, `fallback_handler`, `delegatecall_targets`, each only when
/// declared).
#[derive(Serialize)]
pub(crate) struct WithCode<T: Serialize> {
    #[serde(flatten)]
    pub(crate) decl: T,
    #[serde(flatten)]
    pub(crate) code: CodeDecl,
}
