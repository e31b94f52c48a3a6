//! The treasury's spending policy: the most each transaction, and each rolling day and month,
//! may move out of the treasury, per asset, and to whom; and the ERC-20 allowances and NFT
//! operator approvals it may grant, and to whom. Amounts are `uint256` values written as decimal
//! strings (or integers) in a manifest, and always as decimal strings in the canonical form,
//! since JSON numbers lose precision beyond 2^53.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use alloy::primitives::{Address, U256};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::address::{self, parse_address};

/// What an outflow is counted in: the chain's native currency, or an ERC-20 token by address.
///
/// Ordered `Native` first, then tokens by address bytes, which is the order of
/// [`Policy::max_outflow`] and of the canonical form. Written `native` or as the token's
/// checksummed address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Asset {
    /// The chain's native currency (ether on mainnet), counted in wei.
    Native,
    /// An ERC-20 token, counted in its smallest unit.
    Token(Address),
}

impl Asset {
    /// The key a manifest uses for the native currency.
    pub const NATIVE: &'static str = "native";
}

impl fmt::Display for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Asset::Native => f.write_str(Asset::NATIVE),
            Asset::Token(token) => f.write_str(&token.to_checksum(None)),
        }
    }
}

/// A string that is neither `native` nor a non-zero token address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected \"native\" or an ERC-20 token address, found {0:?}")]
pub struct ParseAssetError(pub String);

impl FromStr for Asset {
    type Err = ParseAssetError;

    /// `native`, or a token address by [`parse_address`] other than the zero address.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == Asset::NATIVE {
            return Ok(Asset::Native);
        }
        match parse_address(s) {
            Ok(token) if !token.is_zero() => Ok(Asset::Token(token)),
            _ => Err(ParseAssetError(s.to_owned())),
        }
    }
}

impl Serialize for Asset {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Asset {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The treasury's spending policy. Empty (the default) when the manifest declares none; an empty
/// policy is left out of the canonical form, and so is each key added after `max_outflow` and
/// `allowed_recipients` while it has its default value, so a manifest that does not write it
/// keeps its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// The most one transaction may move out of a declared Safe, per asset (wei for
    /// [`Asset::Native`], the token's smallest unit otherwise). An asset not listed has no limit.
    #[serde(default, with = "amount::map")]
    pub max_outflow: BTreeMap<Asset, U256>,
    /// The only accounts funds may be sent to, sorted by address bytes, no duplicates; empty:
    /// any account.
    #[serde(default, with = "address::many")]
    pub allowed_recipients: Vec<Address>,
    /// The most the treasury may move out in any rolling [`Policy::DAY_SECONDS`] of block time,
    /// per asset. An asset not listed has no daily limit.
    #[serde(
        default,
        with = "amount::map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub max_outflow_per_day: BTreeMap<Asset, U256>,
    /// The most the treasury may move out in any rolling [`Policy::MONTH_SECONDS`] of block
    /// time, per asset. An asset not listed has no monthly limit.
    #[serde(
        default,
        with = "amount::map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub max_outflow_per_month: BTreeMap<Asset, U256>,
    /// The largest ERC-20 allowance the treasury may grant one spender, per token (never
    /// [`Asset::Native`], which has no allowance). A token not listed has no limit, unless
    /// `unlimited_approvals` is false.
    #[serde(
        default,
        with = "amount::map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub max_approval: BTreeMap<Asset, U256>,
    /// Whether the treasury may grant an unlimited allowance (2^256 - 1, which tokens never
    /// decrease) or an NFT operator approval (`ApprovalForAll(…, true)`). True by default; left
    /// out of the canonical form when true.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub unlimited_approvals: bool,
    /// The only accounts the treasury may grant an allowance or an NFT approval to, sorted by
    /// address bytes, no duplicates; empty: any account.
    #[serde(default, with = "address::many", skip_serializing_if = "Vec::is_empty")]
    pub allowed_spenders: Vec<Address>,
    /// How far a balance may drift from what the recorded flows explain before the balance
    /// check calls it unexplained, per asset: for tokens whose balance moves without transfers
    /// (rebasing like stETH, interest-bearing like Aave's aTokens, streamed like Superfluid's).
    #[serde(
        default,
        with = "amount::map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub balance_tolerance: BTreeMap<Asset, U256>,
    /// Tokens the balance check leaves out altogether, sorted, no duplicates.
    #[serde(default, with = "address::many", skip_serializing_if = "Vec::is_empty")]
    pub unchecked_balances: Vec<Address>,
}

fn yes() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

impl Default for Policy {
    /// No limit of any kind.
    fn default() -> Self {
        Policy {
            max_outflow: BTreeMap::new(),
            allowed_recipients: Vec::new(),
            max_outflow_per_day: BTreeMap::new(),
            max_outflow_per_month: BTreeMap::new(),
            max_approval: BTreeMap::new(),
            unlimited_approvals: true,
            allowed_spenders: Vec::new(),
            balance_tolerance: BTreeMap::new(),
            unchecked_balances: Vec::new(),
        }
    }
}

impl Policy {
    /// The length of the rolling window of [`Policy::max_outflow_per_day`]: 24 hours.
    pub const DAY_SECONDS: u64 = 24 * 60 * 60;
    /// The length of the rolling window of [`Policy::max_outflow_per_month`]: 30 days.
    pub const MONTH_SECONDS: u64 = 30 * Policy::DAY_SECONDS;

    /// Whether the policy declares nothing at all.
    pub fn is_empty(&self) -> bool {
        *self == Policy::default()
    }

    /// The per-transaction limit for `asset`, if one is declared.
    pub fn limit(&self, asset: &Asset) -> Option<U256> {
        self.max_outflow.get(asset).copied()
    }

    /// The most `asset` that may leave the treasury in any rolling day of block time, if a
    /// limit is declared.
    pub fn daily_limit(&self, asset: &Asset) -> Option<U256> {
        self.max_outflow_per_day.get(asset).copied()
    }

    /// The most `asset` that may leave the treasury in any rolling 30 days of block time, if a
    /// limit is declared.
    pub fn monthly_limit(&self, asset: &Asset) -> Option<U256> {
        self.max_outflow_per_month.get(asset).copied()
    }

    /// Whether funds may be sent to `recipient`: always when no recipient is listed.
    pub fn allows_recipient(&self, recipient: &Address) -> bool {
        self.allowed_recipients.is_empty() || self.allowed_recipients.contains(recipient)
    }

    /// The largest allowance of `asset` the treasury may grant; `None`: no limit. An allowance
    /// above it is over the limit. With `unlimited_approvals: false` there is always a limit,
    /// at most 2^256 - 2, so that an unlimited allowance (2^256 - 1) is over it.
    pub fn approval_limit(&self, asset: &Asset) -> Option<U256> {
        let declared = self.max_approval.get(asset).copied();
        if self.unlimited_approvals {
            declared
        } else {
            let below_unlimited = U256::MAX - U256::from(1);
            Some(declared.map_or(below_unlimited, |limit| limit.min(below_unlimited)))
        }
    }

    /// Whether the treasury may set an allowance of `value` of `asset`: not above
    /// [`Policy::approval_limit`]. (Whether the spender is allowed is
    /// [`Policy::allows_spender`].)
    pub fn allows_approval(&self, asset: &Asset, value: U256) -> bool {
        self.approval_limit(asset)
            .is_none_or(|limit| value <= limit)
    }

    /// Whether the treasury may make an account an operator of all its NFTs of a collection
    /// (`ApprovalForAll(…, true)`): only while `unlimited_approvals` is true. Revoking
    /// (`false`) is always allowed.
    pub fn allows_approval_for_all(&self, approved: bool) -> bool {
        !approved || self.unlimited_approvals
    }

    /// Whether the treasury may grant an allowance or an NFT approval to `spender`: always when
    /// no spender is listed. (A revocation — a zero allowance, `ApprovalForAll(…, false)`, an
    /// ERC-721 approval of the zero address — grants nothing, whoever it names.)
    /// How far the balance check lets `asset` drift unexplained (zero unless declared).
    pub fn balance_tolerance(&self, asset: &Asset) -> U256 {
        self.balance_tolerance
            .get(asset)
            .copied()
            .unwrap_or_default()
    }

    /// Whether the balance check reads `asset` at all.
    pub fn checks_balance(&self, asset: &Asset) -> bool {
        match asset {
            Asset::Native => true,
            Asset::Token(t) => !self.unchecked_balances.contains(t),
        }
    }

    pub fn allows_spender(&self, spender: &Address) -> bool {
        self.allowed_spenders.is_empty() || self.allowed_spenders.contains(spender)
    }

    /// This policy with its lists sorted, as the canonical form has them.
    pub(crate) fn normalised(&self) -> Policy {
        let mut policy = self.clone();
        policy.allowed_recipients.sort();
        policy.allowed_spenders.sort();
        policy.unchecked_balances.sort();
        policy
    }
}

/// `uint256` amounts in serde: written as decimal strings, read from decimal strings or
/// non-negative integers.
pub(crate) mod amount {
    use super::*;

    /// An amount that serialises as a decimal string.
    pub(crate) struct Decimal(pub(crate) U256);

    impl Serialize for Decimal {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_str(&self.0)
        }
    }

    impl<'de> Deserialize<'de> for Decimal {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(DecimalVisitor)
        }
    }

    struct DecimalVisitor;

    impl serde::de::Visitor<'_> for DecimalVisitor {
        type Value = Decimal;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a non-negative integer or a decimal string")
        }

        fn visit_u64<E>(self, v: u64) -> Result<Decimal, E> {
            Ok(Decimal(U256::from(v)))
        }

        fn visit_u128<E>(self, v: u128) -> Result<Decimal, E> {
            Ok(Decimal(U256::from(v)))
        }

        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Decimal, E> {
            u64::try_from(v)
                .map(|v| Decimal(U256::from(v)))
                .map_err(|_| E::custom(format!("expected a non-negative integer, found {v}")))
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Decimal, E> {
            parse_decimal(v).map(Decimal).ok_or_else(|| {
                E::custom(format!(
                    "expected a decimal string of a uint256 value, found {v:?}"
                ))
            })
        }
    }

    /// Digits `0-9` only (no sign, no `0x`, no separators), at most 2^256 - 1.
    pub(crate) fn parse_decimal(text: &str) -> Option<U256> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        U256::from_str_radix(text, 10).ok()
    }

    /// `#[serde(with = ...)]` for a `U256` field.
    pub(crate) mod one {
        use super::*;

        pub(crate) fn serialize<S: Serializer>(value: &U256, s: S) -> Result<S::Ok, S::Error> {
            Decimal(*value).serialize(s)
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<U256, D::Error> {
            Decimal::deserialize(d).map(|v| v.0)
        }
    }

    /// `#[serde(with = ...)]` for a map of assets to amounts.
    pub(crate) mod map {
        use super::*;

        pub(crate) fn serialize<S: Serializer>(
            amounts: &BTreeMap<Asset, U256>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            s.collect_map(amounts.iter().map(|(asset, v)| (asset, Decimal(*v))))
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<BTreeMap<Asset, U256>, D::Error> {
            BTreeMap::<Asset, Decimal>::deserialize(d)
                .map(|m| m.into_iter().map(|(asset, v)| (asset, v.0)).collect())
        }
    }
}
