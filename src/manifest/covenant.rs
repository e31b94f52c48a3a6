//! Covenants: documents between a group and its partners whose terms are clauses from a
//! catalog, checked against the parties' declared and observed structure.
//!
//! A covenant is parsed from YAML or JSON through the same tree and the same rules as a
//! manifest — every problem reported by path, unknown clauses and fields refused — and is
//! identified, like a manifest, by [`Covenant::hash`]: SHA-256 of its canonical JSON (keys in the
//! order of the struct fields, addresses checksummed, amounts as decimal strings, durations in
//! seconds, optional values left out when absent).
//!
//! ```yaml
//! id: river-x-lake
//! parties: [river-guild, lake-collective]        # registered groups, or outside partners:
//! #  - { id: lake-fund, signers: ["0x…"], threshold: 1 }
//! terms:
//!   - { clause: min_threshold, safe: "0x…", value: 2 }
//!   - { clause: max_outflow_unlisted, safe: "0x…", asset: native, per: month, amount: "50000000000000000000" }
//! notify: [lake-hook]                            # sinks ([[alerts.sinks]]) of the partner
//! statement_period: 7d                           # a compliance statement per period (default 7d)
//! ```
//!
//! A party ratifies a covenant version by EIP-712 signatures over its hash
//! ([`signing_hash`]), with the same domain as manifest ratifications.

use std::fmt;

use alloy::primitives::{Address, B256, U256};
use alloy::sol_types::SolStruct;
use serde::Serialize;

use super::address::one as address_one;
use super::error::ManifestError;
use super::hash::ManifestHash;
use super::node;
use super::ratify::domain;
use super::validate::covenant_from_node;
use super::Asset;

alloy::sol! {
    /// What a party's owner signs to ratify a covenant version.
    struct CovenantRatification {
        string covenantId;
        uint256 version;
        bytes32 covenantHash;
        string party;
    }
}

/// The statement period when a covenant names none: a week.
pub const DEFAULT_STATEMENT_PERIOD_SECS: u64 = 7 * 86_400;

/// Blocks of a chain whose blocks come every `block_time_ms` in `secs` seconds, rounded up, at
/// least one: how budgets, deadlines and statement periods, written in time, are counted in
/// blocks, the same for every indexer of the chain.
pub fn blocks_in(secs: u64, block_time_ms: u64) -> i64 {
    let ms = block_time_ms.max(1);
    let blocks = secs.saturating_mul(1000).div_ceil(ms).max(1);
    i64::try_from(blocks).unwrap_or(i64::MAX)
}

/// The longest duration a covenant may state — a statement period, a ratification deadline, a
/// timelock delay or an index lag: a century. Past it a duration stops being a term anyone can
/// hold to, and its count of blocks (at a millisecond per block) no longer fits the block
/// numbers it is added to.
pub const MAX_DURATION_SECS: u64 = 100 * 365 * 86_400;

/// A budget within this fraction of its amount (in percent) is at risk.
pub const AT_RISK_PERCENT: u64 = 80;

/// A ratification due within this many days is at risk.
pub const RATIFICATION_DUE_DAYS: u64 = 7;

/// A covenant, valid and normalised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Covenant {
    /// `[a-z0-9-]`, 1 to 64 characters, as a group id.
    pub id: String,
    /// What the covenant is about, in a sentence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// At least two, each once.
    pub parties: Vec<Party>,
    /// At least one.
    pub terms: Vec<Clause>,
    /// Sinks that hear of this covenant's findings (and of nothing else), by name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<String>,
    /// Seconds per compliance statement.
    pub statement_period: u64,
}

/// A party: a registered group, or an outside partner with the accounts that sign for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Party {
    Group(String),
    Outside(OutsideParty),
}

/// A partner that is not a registered group: who signs for it, and how many must.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutsideParty {
    pub id: String,
    #[serde(with = "super::address::many")]
    pub signers: Vec<Address>,
    pub threshold: u64,
}

impl Party {
    /// The party's id (a group id, or the partner's).
    pub fn id(&self) -> &str {
        match self {
            Party::Group(id) => id,
            Party::Outside(o) => &o.id,
        }
    }

    /// The group id, for a registered group.
    pub fn group(&self) -> Option<&str> {
        match self {
            Party::Group(id) => Some(id),
            Party::Outside(_) => None,
        }
    }
}

/// The window a budget is counted over, in blocks of the chain translated from its block time
/// and aligned on block numbers, so that any two indexers count the same blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Per {
    Day,
    Week,
    Month,
}

impl Per {
    pub const ALL: [Per; 3] = [Per::Day, Per::Week, Per::Month];

    pub fn as_str(self) -> &'static str {
        match self {
            Per::Day => "day",
            Per::Week => "week",
            Per::Month => "month",
        }
    }

    /// The window's length: a month is 30 days.
    pub fn seconds(self) -> u64 {
        match self {
            Per::Day => 86_400,
            Per::Week => 7 * 86_400,
            Per::Month => 30 * 86_400,
        }
    }
}

/// One term of a covenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "clause", rename_all = "snake_case")]
pub enum Clause {
    /// The Safe's threshold, declared and observed, is at least `value`.
    MinThreshold {
        #[serde(with = "address_one")]
        safe: Address,
        value: u64,
    },
    /// The Safe has at least `value` owners, declared and observed.
    MinOwners {
        #[serde(with = "address_one")]
        safe: Address,
        value: u64,
    },
    /// `owner` stays an owner of the Safe, declared and observed.
    KeepsOwner {
        #[serde(with = "address_one")]
        safe: Address,
        #[serde(with = "address_one")]
        owner: Address,
    },
    /// Every module enabled on the Safe is declared.
    NoUndeclaredModules {
        #[serde(with = "address_one")]
        safe: Address,
    },
    /// The Safe delegatecalls nothing but known libraries and declared targets.
    NoUndeclaredDelegatecalls {
        #[serde(with = "address_one")]
        safe: Address,
    },
    /// The timelock's minimum delay, declared and observed, is at least `seconds`.
    MinTimelockDelay {
        #[serde(with = "address_one")]
        timelock: Address,
        seconds: u64,
    },
    /// What leaves the Safe in `asset` to recipients the policy does not list stays within
    /// `amount` per window.
    MaxOutflowUnlisted {
        #[serde(with = "address_one")]
        safe: Address,
        asset: Asset,
        per: Per,
        #[serde(serialize_with = "decimal")]
        amount: U256,
    },
    /// The group's document was ratified within the last `days` days.
    ReratifiedWithin { group: String, days: u64 },
    /// The index is never more than `seconds` behind the chain's head.
    MaxIndexLag { seconds: u64 },
}

fn decimal<S: serde::Serializer>(v: &U256, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

/// Every clause name, in catalog order.
pub const CLAUSES: &[&str] = &[
    "min_threshold",
    "min_owners",
    "keeps_owner",
    "no_undeclared_modules",
    "no_undeclared_delegatecalls",
    "min_timelock_delay",
    "max_outflow_unlisted",
    "reratified_within",
    "max_index_lag",
];

impl Clause {
    /// The clause's catalog name.
    pub fn name(&self) -> &'static str {
        match self {
            Clause::MinThreshold { .. } => "min_threshold",
            Clause::MinOwners { .. } => "min_owners",
            Clause::KeepsOwner { .. } => "keeps_owner",
            Clause::NoUndeclaredModules { .. } => "no_undeclared_modules",
            Clause::NoUndeclaredDelegatecalls { .. } => "no_undeclared_delegatecalls",
            Clause::MinTimelockDelay { .. } => "min_timelock_delay",
            Clause::MaxOutflowUnlisted { .. } => "max_outflow_unlisted",
            Clause::ReratifiedWithin { .. } => "reratified_within",
            Clause::MaxIndexLag { .. } => "max_index_lag",
        }
    }

    /// The contract the clause is about, if it is about one.
    pub fn contract(&self) -> Option<Address> {
        match self {
            Clause::MinThreshold { safe, .. }
            | Clause::MinOwners { safe, .. }
            | Clause::KeepsOwner { safe, .. }
            | Clause::NoUndeclaredModules { safe }
            | Clause::NoUndeclaredDelegatecalls { safe }
            | Clause::MaxOutflowUnlisted { safe, .. } => Some(*safe),
            Clause::MinTimelockDelay { timelock, .. } => Some(*timelock),
            Clause::ReratifiedWithin { .. } | Clause::MaxIndexLag { .. } => None,
        }
    }

    /// Whether its verdict depends on where one indexer stands rather than on the chain and
    /// the documents: such a clause is checked live but not attested in statements.
    pub fn is_local(&self) -> bool {
        matches!(self, Clause::MaxIndexLag { .. })
    }
}

impl fmt::Display for Clause {
    /// The clause as a sentence.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Clause::MinThreshold { safe, value } => {
                write!(f, "Safe {safe} requires at least {value} signatures")
            }
            Clause::MinOwners { safe, value } => {
                write!(f, "Safe {safe} has at least {value} owners")
            }
            Clause::KeepsOwner { safe, owner } => {
                write!(f, "{owner} remains an owner of Safe {safe}")
            }
            Clause::NoUndeclaredModules { safe } => {
                write!(
                    f,
                    "Safe {safe} enables no module its group does not declare"
                )
            }
            Clause::NoUndeclaredDelegatecalls { safe } => write!(
                f,
                "Safe {safe} delegatecalls only known libraries and declared targets"
            ),
            Clause::MinTimelockDelay { timelock, seconds } => write!(
                f,
                "timelock {timelock} delays operations at least {}",
                humantime::format_duration(std::time::Duration::from_secs(*seconds))
            ),
            Clause::MaxOutflowUnlisted {
                safe,
                asset,
                per,
                amount,
            } => write!(
                f,
                "at most {amount} of {asset} per {} leaves Safe {safe} for unlisted recipients",
                per.as_str()
            ),
            Clause::ReratifiedWithin { group, days } => {
                write!(
                    f,
                    "{group} ratifies its group state at least every {days} days"
                )
            }
            Clause::MaxIndexLag { seconds } => {
                write!(f, "the index stays within {seconds} s of the chain's head")
            }
        }
    }
}

impl Covenant {
    /// Parses and validates a covenant written in YAML or JSON; on failure the error lists
    /// every problem by path.
    pub fn parse(text: &str) -> Result<Covenant, ManifestError> {
        let node = node::parse_text(text)?;
        covenant_from_node(&node)
    }

    /// The canonical JSON form (see the module docs).
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).expect("a covenant has only strings, integers and lists")
    }

    /// SHA-256 of [`Covenant::canonical_json`].
    pub fn hash(&self) -> ManifestHash {
        ManifestHash::of(self.canonical_json().as_bytes())
    }

    /// The registered groups among the parties, in declared order.
    pub fn groups(&self) -> impl Iterator<Item = &str> {
        self.parties.iter().filter_map(Party::group)
    }

    /// The party with this id.
    pub fn party(&self, id: &str) -> Option<&Party> {
        self.parties.iter().find(|p| p.id() == id)
    }

    /// Blocks per statement period on a chain whose blocks come every `block_time_ms`: period
    /// `k` covers blocks `k * P ..= (k + 1) * P - 1`.
    pub fn period_blocks(&self, block_time_ms: u64) -> i64 {
        blocks_in(self.statement_period, block_time_ms)
    }
}

/// The EIP-712 hash a party's signer signs to ratify version `version` of covenant `id`, whose
/// document hashes to `hash`, for party `party`, on chain `chain_id`.
pub fn signing_hash(
    id: &str,
    version: u64,
    hash: &ManifestHash,
    party: &str,
    chain_id: u64,
) -> B256 {
    let message = CovenantRatification {
        covenantId: id.to_string(),
        version: U256::from(version),
        covenantHash: B256::from(*hash.as_bytes()),
        party: party.to_string(),
    };
    message.eip712_signing_hash(&domain(chain_id))
}

/// What a covenant finding's item (a divergence's `item`) says: covenant, version, clause, and a budget's window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CovenantItem {
    pub covenant: String,
    pub version: i64,
    pub clause: usize,
    pub window: Option<i64>,
}

impl CovenantItem {
    /// The item of a clause (`id@version#index`), with a budget's window (`/wN`).
    pub fn key(&self) -> String {
        let base = format!("{}@{}#{}", self.covenant, self.version, self.clause);
        match self.window {
            Some(w) => format!("{base}/w{w}"),
            None => base,
        }
    }

    /// Reads an item back; `None` for anything else.
    pub fn parse(item: &str) -> Option<CovenantItem> {
        let (covenant, rest) = item.split_once('@')?;
        let (version, rest) = rest.split_once('#')?;
        let (clause, window) = match rest.split_once("/w") {
            Some((c, w)) => (c, Some(w.parse().ok()?)),
            None => (rest, None),
        };
        Some(CovenantItem {
            covenant: covenant.to_string(),
            version: version.parse().ok()?,
            clause: clause.parse().ok()?,
            window,
        })
    }
}

/// A manifest's reference to a covenant: its id and the hash of the version agreed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CovenantRef {
    pub id: String,
    pub hash: ManifestHash,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAFE: &str = "0x1111111111111111111111111111111111111111";

    fn doc(terms: &str) -> String {
        format!("id: river-x-lake\nparties: [river-guild, lake-collective]\nterms:\n{terms}\nnotify: [lake-hook]\n")
    }

    #[test]
    fn a_covenant_parses_normalises_and_hashes_whatever_its_format() {
        let yaml = doc(&format!(
            "  - {{ clause: min_threshold, safe: \"{SAFE}\", value: 2 }}\n  - {{ clause: max_outflow_unlisted, safe: \"{SAFE}\", asset: native, per: month, amount: \"50000000000000000000\" }}\n  - {{ clause: reratified_within, group: river-guild, days: 90 }}\n  - {{ clause: max_index_lag, seconds: 600 }}"
        ));
        let c = Covenant::parse(&yaml).unwrap();
        assert_eq!(c.terms.len(), 4);
        assert_eq!(c.statement_period, DEFAULT_STATEMENT_PERIOD_SECS);
        let json = c.canonical_json();
        assert!(json.starts_with("{\"id\":\"river-x-lake\",\"parties\":[\"river-guild\",\"lake-collective\"],\"terms\":[{\"clause\":\"min_threshold\""), "{json}");
        let again = Covenant::parse(&json).unwrap();
        assert_eq!(again, c);
        assert_eq!(again.hash(), c.hash());
        assert_eq!(c.terms[1].to_string(), format!("at most 50000000000000000000 of native per month leaves Safe {} for unlisted recipients", SAFE.parse::<Address>().unwrap()));
    }

    #[test]
    fn unknown_clauses_and_fields_are_refused_by_path() {
        let yaml = doc(&format!(
            "  - {{ clause: min_thresold, safe: \"{SAFE}\", value: 2 }}\n  - {{ clause: min_owners, safe: \"{SAFE}\", value: 3, colour: red }}\n  - {{ clause: max_outflow_unlisted, safe: \"0x12\", asset: native, per: year, amount: -1 }}"
        )) + "extra: 1\n";
        let e = Covenant::parse(&yaml).unwrap_err();
        let lines = e.lines();
        let text = lines.join("\n");
        assert!(text.contains("extra: unknown field"), "{text}");
        assert!(
            text.contains("terms[0].clause: expected one of min_threshold"),
            "{text}"
        );
        assert!(text.contains("terms[1].colour: unknown field"), "{text}");
        assert!(text.contains("terms[2].safe:"), "{text}");
        assert!(
            text.contains("terms[2].per: expected one of day, week, month"),
            "{text}"
        );
        assert!(text.contains("terms[2].amount:"), "{text}");
    }

    #[test]
    fn parties_are_two_or_more_and_distinct_and_outside_partners_name_their_signers() {
        let e = Covenant::parse(
            "id: a\nparties: [river-guild, river-guild]\nterms: [{ clause: max_index_lag, seconds: 60 }]\n",
        )
        .unwrap_err();
        assert!(
            e.lines().join("\n").contains("parties[1]: duplicate"),
            "{:?}",
            e.lines()
        );
        let e = Covenant::parse("id: a\nparties: [river-guild]\nterms: []\n").unwrap_err();
        let text = e.lines().join("\n");
        assert!(text.contains("parties: at least two parties"), "{text}");
        assert!(text.contains("terms: at least one term"), "{text}");
        let c = Covenant::parse(&format!(
            "id: a\nparties: [river-guild, {{ id: lake-fund, signers: [\"{SAFE}\"], threshold: 1 }}]\nterms: [{{ clause: reratified_within, group: river-guild, days: 30 }}]\nstatement_period: 1d\n"
        ))
        .unwrap();
        assert_eq!(c.groups().collect::<Vec<_>>(), vec!["river-guild"]);
        assert_eq!(c.statement_period, 86_400);
        let e = Covenant::parse(
            "id: a\nparties: [river-guild, lake]\nterms: [{ clause: reratified_within, group: sea, days: 30 }]\n",
        )
        .unwrap_err();
        assert!(e
            .lines()
            .join("\n")
            .contains("terms[0].group: \"sea\" is not one of the parties"));
    }

    #[test]
    fn the_signing_hash_binds_covenant_version_hash_party_and_chain() {
        let c = Covenant::parse(&doc("  - { clause: max_index_lag, seconds: 60 }")).unwrap();
        let h = c.hash();
        let base = signing_hash("river-x-lake", 1, &h, "river-guild", 1);
        assert_ne!(base, signing_hash("river-x-lake", 2, &h, "river-guild", 1));
        assert_ne!(
            base,
            signing_hash("river-x-lake", 1, &h, "lake-collective", 1)
        );
        assert_ne!(base, signing_hash("river-x-lake", 1, &h, "river-guild", 2));
    }

    #[test]
    fn items_name_covenant_version_clause_and_window() {
        let i = CovenantItem {
            covenant: "river-x-lake".into(),
            version: 2,
            clause: 6,
            window: Some(12),
        };
        assert_eq!(i.key(), "river-x-lake@2#6/w12");
        assert_eq!(CovenantItem::parse(&i.key()), Some(i.clone()));
        let plain = CovenantItem { window: None, ..i };
        assert_eq!(plain.key(), "river-x-lake@2#6");
        assert_eq!(CovenantItem::parse("river-x-lake@2#6"), Some(plain));
        assert_eq!(CovenantItem::parse("0xabc"), None);
        assert_eq!(CovenantItem::parse("a@b#c"), None);
    }

    /// Found while writing the `manifest` fuzz target: a covenant could state a duration of
    /// any size. A statement period of `i64::MAX` seconds was `-1` blocks long (the statement
    /// schedule then ran backwards), and a ratification deadline of 2^48 days overflowed when
    /// counted in seconds (a panic in a debug build). Durations are now at most a century.
    #[test]
    fn durations_past_a_century_are_refused_and_periods_are_positive_block_counts() {
        let lag = "  - { clause: max_index_lag, seconds: 600 }";
        let with_period =
            |terms: &str, period: &str| format!("{}statement_period: {period}\n", doc(terms));
        for (text, path) in [
            (with_period(lag, "9223372036854775807"), "statement_period:"),
            (with_period(lag, "\"600000000y\""), "statement_period:"),
            (
                with_period(lag, "18446744073709551615"),
                "statement_period:",
            ),
            (
                doc("  - { clause: reratified_within, group: river-guild, days: 281474976710656 }"),
                "terms[0].days:",
            ),
            (
                doc("  - { clause: max_index_lag, seconds: 18446744073709551615 }"),
                "terms[0].seconds:",
            ),
            (
                doc(&format!(
                    "  - {{ clause: min_timelock_delay, timelock: \"{SAFE}\", seconds: 3153600001 }}"
                )),
                "terms[0].seconds:",
            ),
        ] {
            let e = Covenant::parse(&text).expect_err(&text);
            let lines = e.lines().join("\n");
            assert!(lines.contains(path), "{path} in {lines}");
            assert!(lines.contains("a century"), "{lines}");
        }

        // A century is accepted, and its length in blocks is positive even at 1 ms a block.
        let c = Covenant::parse(&with_period(
            "  - { clause: reratified_within, group: river-guild, days: 36500 }",
            "3153600000",
        ))
        .unwrap();
        assert_eq!(c.statement_period, MAX_DURATION_SECS);
        assert_eq!(c.period_blocks(1), 3_153_600_000_000);
        assert_eq!(blocks_in(u64::MAX, 1), i64::MAX);
    }
}
