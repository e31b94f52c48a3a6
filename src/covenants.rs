//! Covenants between groups and their partners, as the API and the command line admit and
//! show them: the checks a covenant passes before it is stored (its parties registered, the
//! Safes and timelocks its clauses name declared by a party, the sinks it notifies
//! configured), a party's ratification of a version, and the read side — each covenant's
//! standing (how many parties ratified its newest version) and each clause's verdict from the
//! open findings of the party groups, with the chain evidence.
//!
//! Invariant: the API, the status page and the command line read a covenant through
//! [`covenant_detail`] and [`covenant_list`] alone, so `covenant show --json` prints exactly
//! what `GET /v1/covenants/{id}` answers; both write through [`add`], [`update`] and
//! [`ratify`], so the same document is refused the same way wherever it is handed in.

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::Address;
use serde::Serialize;

use crate::manifest::covenant::{Clause, Covenant, CovenantItem, Party};
use crate::manifest::ratify::{OwnerSignature, Ratification, Signed};
use crate::manifest::{ManifestError, Problem};
use crate::model::Rule;
use crate::ratify::{ChainAccess, RatifyError};
use crate::store::{CovenantVersion, Divergence, Store, StoreError};

/// The findings a covenant's history lists, newest first.
pub const MAX_HISTORY: usize = 200;

/// Why a covenant, or a ratification of one, was not stored.
#[derive(Debug, thiserror::Error)]
pub enum CovenantError {
    /// The document is wrong, or names what is not here: every problem by path.
    #[error("the covenant is refused:\n{0}")]
    Invalid(ManifestError),
    /// The ratification is refused (or could not be checked).
    #[error(transparent)]
    Ratify(#[from] RatifyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Parses a covenant (YAML or JSON) and checks it against what is registered here and the
/// sinks configured (`sinks`); every problem by path.
pub async fn admit(store: &Store, text: &str, sinks: &[String]) -> Result<Covenant, CovenantError> {
    let c = Covenant::parse(text).map_err(CovenantError::Invalid)?;
    let problems = problems(store, &c, sinks).await?;
    if problems.is_empty() {
        Ok(c)
    } else {
        Err(CovenantError::Invalid(ManifestError { problems }))
    }
}

/// What a valid covenant names that is not here: a party group that is not registered, a Safe
/// or timelock that no party group's newest manifest declares, a sink that is not configured.
pub async fn problems(
    store: &Store,
    c: &Covenant,
    sinks: &[String],
) -> Result<Vec<Problem>, StoreError> {
    let mut problems = Vec::new();
    let mut safes = BTreeSet::new();
    let mut timelocks = BTreeSet::new();
    for (i, party) in c.parties.iter().enumerate() {
        let Some(group) = party.group() else { continue };
        let versions = store.manifest_versions(group).await?;
        let Some(newest) = versions.last() else {
            problems.push(Problem::new(
                format!("parties[{i}]"),
                format!("group {group:?} is not registered"),
            ));
            continue;
        };
        safes.extend(newest.manifest.treasury.safes.iter().map(|s| s.address));
        timelocks.extend(
            newest
                .manifest
                .governance
                .timelocks
                .iter()
                .map(|t| t.address),
        );
    }
    for (i, clause) in c.terms.iter().enumerate() {
        let Some(contract) = clause.contract() else {
            continue;
        };
        if matches!(clause, Clause::MinTimelockDelay { .. }) {
            if !timelocks.contains(&contract) {
                problems.push(Problem::new(
                    format!("terms[{i}].timelock"),
                    format!("no party declares timelock {contract}"),
                ));
            }
        } else if !safes.contains(&contract) {
            problems.push(Problem::new(
                format!("terms[{i}].safe"),
                format!("no party declares Safe {contract}"),
            ));
        }
    }
    for (i, sink) in c.notify.iter().enumerate() {
        if !sinks.contains(sink) {
            problems.push(Problem::new(
                format!("notify[{i}]"),
                format!("sink {sink:?} is not configured in [[alerts.sinks]]"),
            ));
        }
    }
    Ok(problems)
}

/// Parties' signatures handed in with a document, by party id.
pub type PartySignatures = BTreeMap<String, Vec<OwnerSignature>>;

/// Registers a covenant from its text after [`admit`]: version 1, with the ratifications the
/// `signatures` make, every one checked before anything is stored (`chains`: RPC access by
/// chain name, needed only with signatures).
#[tracing::instrument(skip_all)]
pub async fn add(
    store: &Store,
    chains: &BTreeMap<String, ChainAccess>,
    text: &str,
    sinks: &[String],
    signatures: &PartySignatures,
) -> Result<CovenantVersion, CovenantError> {
    let c = admit(store, text, sinks).await?;
    let ratifications = check_signatures(store, chains, &c, 1, signatures).await?;
    Ok(store.add_covenant_ratified(&c, &ratifications).await?)
}

/// Stores a new version of a covenant after [`admit`]; `id`, when given, must be the
/// document's (a mismatch is a problem at `id`). With `signatures`, they are checked for the
/// version the document becomes before it is stored, and stored with it in one transaction.
#[tracing::instrument(skip_all)]
pub async fn update(
    store: &Store,
    chains: &BTreeMap<String, ChainAccess>,
    text: &str,
    id: Option<&str>,
    expected_version: Option<i64>,
    sinks: &[String],
    signatures: &PartySignatures,
) -> Result<CovenantVersion, CovenantError> {
    let c = admit(store, text, sinks).await?;
    if let Some(id) = id.filter(|id| *id != c.id) {
        let id: String = id.chars().take(64).collect();
        return Err(CovenantError::Invalid(ManifestError {
            problems: vec![Problem::new(
                "id",
                format!("the document is covenant {}, not {id}", c.id),
            )],
        }));
    }
    let mut expected_version = expected_version;
    let mut ratifications = Vec::new();
    if !signatures.is_empty() {
        let next = version(store, &c.id, None).await?.version + 1;
        // The signatures sign the number the version takes: it must take that one.
        expected_version = expected_version.or(Some(next));
        ratifications = check_signatures(store, chains, &c, next, signatures).await?;
    }
    Ok(store
        .update_covenant_ratified(&c, expected_version, &ratifications)
        .await?)
}

/// The chain access for covenant `c`'s ratifications: its first party group's chain, or with
/// outside partners alone the one chain configured.
async fn access<'a>(
    store: &Store,
    chains: &'a BTreeMap<String, ChainAccess>,
    c: &Covenant,
) -> Result<Option<&'a ChainAccess>, StoreError> {
    Ok(match chain_of(store, c).await? {
        Some(name) => chains.get(&name),
        None if chains.len() == 1 => chains.values().next(),
        None => None,
    })
}

/// Checks each party's signatures of version `version` of `c`, which is not stored yet.
async fn check_signatures(
    store: &Store,
    chains: &BTreeMap<String, ChainAccess>,
    c: &Covenant,
    version: i64,
    signatures: &PartySignatures,
) -> Result<Vec<(String, Ratification)>, CovenantError> {
    if signatures.is_empty() {
        return Ok(Vec::new());
    }
    let cv = CovenantVersion {
        covenant_id: c.id.clone(),
        version,
        hash: c.hash().to_string(),
        created_at: String::new(),
        covenant: c.clone(),
    };
    let chain = access(store, chains, c).await?;
    let mut out = Vec::new();
    for (party, sigs) in signatures {
        let r = crate::ratify::check_covenant_ratification(store, chain, &cv, party, sigs).await?;
        out.push((party.clone(), r));
    }
    Ok(out)
}

/// The chain a covenant's ratifications are signed on: the first party group's.
pub async fn chain_of(store: &Store, c: &Covenant) -> Result<Option<String>, StoreError> {
    for group in c.groups() {
        if let Some(g) = store.group(group).await? {
            return Ok(Some(g.chain));
        }
    }
    Ok(None)
}

/// Version `version` of covenant `id` (the newest without one).
pub async fn version(
    store: &Store,
    id: &str,
    version: Option<i64>,
) -> Result<CovenantVersion, StoreError> {
    let versions = store.covenant_versions(id).await?;
    let found = match version {
        Some(v) => versions.into_iter().find(|cv| cv.version == v),
        None => versions.into_iter().last(),
    };
    found.ok_or_else(|| {
        let id: String = id.chars().take(64).collect();
        match version {
            Some(v) => StoreError::NotFound(format!("version {v} of covenant {id}")),
            None => StoreError::NotFound(format!("covenant {id}")),
        }
    })
}

/// Checks and stores `party`'s ratification of version `version` (default: the newest) of
/// covenant `id`, on the chain of the covenant's first party group (`chains`: RPC access by
/// chain name).
#[tracing::instrument(skip_all, fields(covenant = %id, party))]
pub async fn ratify(
    store: &Store,
    chains: &BTreeMap<String, ChainAccess>,
    id: &str,
    party: &str,
    version_n: Option<i64>,
    signatures: &[OwnerSignature],
) -> Result<Ratification, CovenantError> {
    let cv = version(store, id, version_n).await?;
    let chain = access(store, chains, &cv.covenant).await?;
    Ok(crate::ratify::ratify_covenant(store, chain, &cv, party, signatures).await?)
}

/// Whether the parties ratified a covenant's newest version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Standing {
    /// `unsigned`, `partially ratified (1 of 2 parties)` or `ratified by every party`.
    pub text: String,
    /// The parties whose ratification of the newest version is stored.
    pub ratified: usize,
    /// The parties the covenant names.
    pub parties: usize,
}

impl Standing {
    /// The standing of `ratified` parties out of `parties`.
    pub fn of(ratified: usize, parties: usize) -> Standing {
        let text = if ratified == 0 {
            "unsigned".to_string()
        } else if ratified >= parties {
            "ratified by every party".to_string()
        } else {
            format!("partially ratified ({ratified} of {parties} parties)")
        };
        Standing {
            text,
            ratified,
            parties,
        }
    }

    /// Every party ratified.
    pub fn complete(&self) -> bool {
        self.parties > 0 && self.ratified >= self.parties
    }
}

/// A covenant in the list: its newest version, standing and open findings.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CovenantSummary {
    /// The covenant's id.
    pub id: String,
    /// What the covenant is about, if it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The newest version.
    pub version: i64,
    /// Its hash (SHA-256 of the canonical JSON).
    pub hash: String,
    /// The parties' ids, in declared order.
    pub parties: Vec<String>,
    /// How many parties ratified the newest version, in words and in numbers.
    pub standing: Standing,
    /// Open `covenant.breach` findings of the newest version.
    pub open_breaches: usize,
    /// Open `covenant.at_risk` findings of the newest version.
    pub at_risk: usize,
}

/// Every covenant, as `GET /v1/covenants` answers and `covenant list --json` prints.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CovenantList {
    /// By id.
    pub covenants: Vec<CovenantSummary>,
}

/// One version of a covenant.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CovenantVersionEntry {
    /// From 1.
    pub version: i64,
    /// SHA-256 of the version's canonical JSON.
    pub hash: String,
    /// Unix seconds, as stored.
    pub created_at: String,
}

/// A party and its ratification of the newest version.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PartyStanding {
    /// The party's id: a group id, or an outside partner's.
    pub id: String,
    /// `group` (a registered group) or `outside` (a partner with its own signers).
    pub kind: String,
    /// Its ratification of the newest version, if stored.
    pub ratification: Option<PartyRatification>,
}

/// A party's ratification of a version.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PartyRatification {
    /// The version ratified.
    pub version: i64,
    /// Who signed, and how each signature was proved.
    pub signers: Vec<Signed>,
    /// The authority whose signatures ratify, in words: `owners of version 1`, …
    pub authority: String,
    /// One line: who ratified under which authority.
    pub summary: String,
    /// Unix seconds, as stored.
    pub created_at: String,
}

/// A clause's verdict now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// An open `covenant.breach` finding.
    Breach,
    /// An open `covenant.at_risk` finding, and no breach.
    AtRisk,
    /// A party group answers for the clause, and no finding is open.
    Holds,
    /// No party group answers for it: no party's manifests declare its contract.
    Unjudged,
}

impl Verdict {
    /// The verdict's name: `breach`, `at_risk`, `holds`, `unjudged`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Breach => "breach",
            Verdict::AtRisk => "at_risk",
            Verdict::Holds => "holds",
            Verdict::Unjudged => "unjudged",
        }
    }
}

/// A finding about a covenant's clause: a divergence of a party group, with its evidence.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CovenantFinding {
    /// The party group whose divergence it is, and its number there.
    pub group: String,
    /// The divergence's number in the group.
    pub n: i64,
    /// `covenant.breach` or `covenant.at_risk`.
    pub rule: String,
    /// `critical` for a breach, `medium` at risk.
    pub severity: String,
    /// `open`, `acknowledged` or `resolved`.
    pub status: String,
    /// The covenant version and clause (index into its terms) judged, and a budget's window.
    pub version: i64,
    /// Into the version's terms.
    pub clause: usize,
    /// A budget's window: the block number divided by the window's length in blocks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<i64>,
    /// The clause in words.
    pub expected: String,
    /// The evidence in words.
    pub observed: String,
    /// The block the finding opened at, its hash, and the transaction if one caused it.
    pub opened_block: i64,
    /// The hash of the opening block.
    pub opened_block_hash: String,
    /// The transaction that opened it, if one did.
    pub opened_tx_hash: Option<String>,
    /// The block it was resolved at, if it was.
    pub resolved_block: Option<i64>,
    /// The transaction that resolved it, if one did.
    pub resolved_tx_hash: Option<String>,
    /// The opening's transaction (or block) on the chain's explorer, if one is configured.
    pub explorer: Option<String>,
}

/// One clause with its verdict and the open findings behind it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ClauseState {
    /// Into the covenant's terms.
    pub index: usize,
    /// The catalog name (`min_threshold`, …).
    pub clause: String,
    /// The clause as a sentence.
    pub text: String,
    /// The contract it is about, if it is about one.
    pub contract: Option<String>,
    /// `breach`, `at_risk`, `holds` or `unjudged`.
    pub verdict: Verdict,
    /// Its open findings (open or acknowledged), with their evidence.
    pub findings: Vec<CovenantFinding>,
}

/// One covenant, as `GET /v1/covenants/{id}` answers and `covenant show --json` prints.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CovenantDetail {
    /// The covenant's id.
    pub id: String,
    /// The newest version.
    pub version: i64,
    /// Its hash (SHA-256 of the canonical JSON).
    pub hash: String,
    /// The newest document, as its canonical JSON object.
    #[schema(value_type = Object)]
    pub document: serde_json::Value,
    /// How many parties ratified the newest version.
    pub standing: Standing,
    /// Every version, oldest first.
    pub versions: Vec<CovenantVersionEntry>,
    /// Each party, in declared order, with its ratification of the newest version.
    pub parties: Vec<PartyStanding>,
    /// Each clause of the newest version, in order, with its verdict.
    pub clauses: Vec<ClauseState>,
    /// Every finding of any version, open and resolved, newest first; at most
    /// [`MAX_HISTORY`].
    pub history: Vec<CovenantFinding>,
    /// Whether there are findings beyond those listed.
    pub history_truncated: bool,
}

/// The parties (ids) that ratified version `version`, among `rows`.
fn ratified_by(
    rows: &[crate::store::CovenantRatificationRow],
    version: i64,
) -> BTreeMap<String, &crate::store::CovenantRatificationRow> {
    rows.iter()
        .filter(|r| r.version == version)
        .map(|r| (r.party.clone(), r))
        .collect()
}

/// What a list of covenants reads once, whatever its length: the open findings of every
/// covenant, and which parties ratified which version.
struct ListReads {
    open: Vec<Divergence>,
    ratified: BTreeSet<(String, i64, String)>,
}

impl ListReads {
    async fn read(store: &Store) -> Result<ListReads, StoreError> {
        let (open, ratified) = tokio::try_join!(
            store.open_covenant_findings(),
            store.covenant_ratified_parties()
        )?;
        Ok(ListReads {
            open,
            ratified: ratified.into_iter().collect(),
        })
    }

    /// The summary of the newest version `cv`.
    fn summary(&self, cv: &CovenantVersion) -> CovenantSummary {
        let mine: Vec<&Divergence> = self
            .open
            .iter()
            .filter(|d| {
                CovenantItem::parse(&d.item)
                    .is_some_and(|i| i.covenant == cv.covenant_id && i.version == cv.version)
            })
            .collect();
        let parties = &cv.covenant.parties;
        let ratified = parties
            .iter()
            .filter(|p| {
                self.ratified
                    .contains(&(cv.covenant_id.clone(), cv.version, p.id().to_string()))
            })
            .count();
        CovenantSummary {
            id: cv.covenant_id.clone(),
            summary: cv.covenant.summary.clone(),
            version: cv.version,
            hash: cv.hash.clone(),
            parties: parties.iter().map(|p| p.id().to_string()).collect(),
            standing: Standing::of(ratified, parties.len()),
            open_breaches: mine.iter().filter(|d| is_breach(d)).count(),
            at_risk: mine.iter().filter(|d| !is_breach(d)).count(),
        }
    }
}

/// Whether `d` is a breach (else: at risk).
fn is_breach(d: &Divergence) -> bool {
    Rule::parse(&d.rule) == Some(Rule::CovenantBreach)
}

/// Every covenant, by id (three queries, however many there are).
pub async fn covenant_list(store: &Store) -> Result<CovenantList, StoreError> {
    let (covenants, reads) = tokio::try_join!(store.covenants(), ListReads::read(store))?;
    Ok(CovenantList {
        covenants: covenants.iter().map(|cv| reads.summary(cv)).collect(),
    })
}

/// The covenants group `group_id` is a party to, by id (three queries, however many there
/// are).
pub async fn covenants_of_group(
    store: &Store,
    group_id: &str,
) -> Result<Vec<CovenantSummary>, StoreError> {
    let (covenants, reads) =
        tokio::try_join!(store.covenants_of_group(group_id), ListReads::read(store))?;
    Ok(covenants.iter().map(|cv| reads.summary(cv)).collect())
}

/// A finding as listed, its explorer link from the group's chain's explorer (`explorers`:
/// base URLs by chain name; `chains`: each group's chain).
fn finding(
    d: &Divergence,
    chains: &BTreeMap<String, String>,
    explorers: &BTreeMap<String, String>,
) -> Option<CovenantFinding> {
    let item = CovenantItem::parse(&d.item)?;
    let explorer = chains
        .get(&d.group_id)
        .and_then(|chain| explorers.get(chain))
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .map(|base| {
            let base = base.trim_end_matches('/');
            match &d.opened_tx_hash {
                Some(tx) => format!("{base}/tx/{tx}"),
                None => format!("{base}/block/{}", d.opened_block),
            }
        });
    Some(CovenantFinding {
        group: d.group_id.clone(),
        n: d.n,
        rule: d.rule.clone(),
        severity: d.severity.clone(),
        status: d.status.clone(),
        version: item.version,
        clause: item.clause,
        window: item.window,
        expected: d.expected.clone(),
        observed: d.observed.clone(),
        opened_block: d.opened_block,
        opened_block_hash: d.opened_block_hash.clone(),
        opened_tx_hash: d.opened_tx_hash.clone(),
        resolved_block: d.resolved_block,
        resolved_tx_hash: d.resolved_tx_hash.clone(),
        explorer,
    })
}

/// Whether some party group answers for `clause`: a contract clause when one of the party
/// groups' manifest versions declares its contract (`declared`), a ratification clause when
/// its group is a party, the index lag when any group is.
fn answered(clause: &Clause, c: &Covenant, declared: &BTreeSet<Address>) -> bool {
    match clause {
        Clause::ReratifiedWithin { group, .. } => c.groups().any(|g| g == group),
        Clause::MaxIndexLag { .. } => c.groups().next().is_some(),
        other => other.contract().is_some_and(|a| declared.contains(&a)),
    }
}

/// Covenant `id` in full: `None` if it is not registered. `explorers`: block explorer base
/// URLs by chain name, for links to evidence.
#[tracing::instrument(skip_all, fields(covenant = %id))]
pub async fn covenant_detail(
    store: &Store,
    id: &str,
    explorers: &BTreeMap<String, String>,
) -> Result<Option<CovenantDetail>, StoreError> {
    let versions = store.covenant_versions(id).await?;
    let Some(newest) = versions.last() else {
        return Ok(None);
    };
    let c = &newest.covenant;
    let rows = store.covenant_ratifications(id).await?;
    let ratified = ratified_by(&rows, newest.version);
    let parties: Vec<PartyStanding> = c
        .parties
        .iter()
        .map(|p| PartyStanding {
            id: p.id().to_string(),
            kind: match p {
                Party::Group(_) => "group".into(),
                Party::Outside(_) => "outside".into(),
            },
            ratification: ratified.get(p.id()).map(|r| PartyRatification {
                version: r.version,
                signers: r.ratification.signers.clone(),
                authority: r.ratification.authority.to_string(),
                summary: r.ratification.summary(),
                created_at: r.created_at.clone(),
            }),
        })
        .collect();
    let standing = Standing::of(
        parties.iter().filter(|p| p.ratification.is_some()).count(),
        parties.len(),
    );

    // What the party groups declare (every version: a group answers for a contract any of its
    // versions declared), and each group's chain for the explorer links.
    let mut declared = BTreeSet::new();
    let mut chains = BTreeMap::new();
    for group in c.groups() {
        if let Some(g) = store.group(group).await? {
            chains.insert(g.id.clone(), g.chain.clone());
        }
        for v in store.manifest_versions(group).await? {
            declared.extend(v.manifest.declared_contracts().into_iter().map(|(a, _)| a));
        }
    }

    let mut all = store.covenant_findings(id, MAX_HISTORY as i64 + 1).await?;
    let history_truncated = all.len() > MAX_HISTORY;
    all.truncate(MAX_HISTORY);
    // The open findings are never cut off by the history's bound.
    let open: Vec<Divergence> = store
        .open_covenant_findings()
        .await?
        .into_iter()
        .filter(|d| CovenantItem::parse(&d.item).is_some_and(|i| i.covenant == id))
        .collect();

    let clauses = c
        .terms
        .iter()
        .enumerate()
        .map(|(index, clause)| {
            let findings: Vec<&Divergence> = open
                .iter()
                .filter(|d| {
                    CovenantItem::parse(&d.item)
                        .is_some_and(|i| i.version == newest.version && i.clause == index)
                })
                .collect();
            let verdict = if findings.iter().any(|d| is_breach(d)) {
                Verdict::Breach
            } else if !findings.is_empty() {
                Verdict::AtRisk
            } else if answered(clause, c, &declared) {
                Verdict::Holds
            } else {
                Verdict::Unjudged
            };
            ClauseState {
                index,
                clause: clause.name().to_string(),
                text: clause.to_string(),
                contract: clause.contract().map(|a| a.to_string()),
                verdict,
                findings: findings
                    .into_iter()
                    .filter_map(|d| finding(d, &chains, explorers))
                    .collect(),
            }
        })
        .collect();

    Ok(Some(CovenantDetail {
        id: newest.covenant_id.clone(),
        version: newest.version,
        hash: newest.hash.clone(),
        document: serde_json::to_value(c).expect("a covenant serialises"),
        standing,
        versions: versions
            .iter()
            .map(|v| CovenantVersionEntry {
                version: v.version,
                hash: v.hash.clone(),
                created_at: v.created_at.clone(),
            })
            .collect(),
        parties,
        clauses,
        history: all
            .iter()
            .filter_map(|d| finding(d, &chains, explorers))
            .collect(),
        history_truncated,
    }))
}

/// Open breaches and at-risk findings of a summary, in words: `2 breaches, 1 at risk`, or
/// `every clause holds`.
pub fn findings_in_words(s: &CovenantSummary) -> String {
    match (s.open_breaches, s.at_risk) {
        (0, 0) => "no open finding".to_string(),
        (b, 0) => format!("{b} breach{}", if b == 1 { "" } else { "es" }),
        (0, r) => format!("{r} at risk"),
        (b, r) => format!("{b} breach{}, {r} at risk", if b == 1 { "" } else { "es" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standing_reads_in_words() {
        assert_eq!(Standing::of(0, 2).text, "unsigned");
        assert_eq!(
            Standing::of(1, 2).text,
            "partially ratified (1 of 2 parties)"
        );
        assert_eq!(Standing::of(2, 2).text, "ratified by every party");
        assert!(Standing::of(2, 2).complete());
        assert!(!Standing::of(1, 2).complete());
    }
}
