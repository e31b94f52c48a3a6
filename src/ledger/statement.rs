//! Compliance statements: at the end of each period of a covenant, what each of its clauses did
//! over the period becomes a leaf of the chain's log, and a note signed with the log's key.
//!
//! Periods are counted in blocks of the chain of the covenant's first party group: with
//! `P = ceil(statement_period / block_time)` blocks ([`Covenant::period_blocks`]), period `k`
//! covers blocks `k * P ..= (k + 1) * P - 1`. A period is stated once its last block is sealed —
//! final, and indexed by every group of the chain — in the seal that takes that block, right
//! after its leaves. The first period stated is the one holding the newest `start_block` of the
//! party groups on the chain (before it, some party was not followed at all); a period whose last
//! block was already in the log when the covenant was registered is not stated afterwards, since
//! its place in the log has passed. A period is stated for the covenant's newest version when
//! it is sealed, with that version's findings. Two indexers with the same covenant, groups and
//! chain, the covenant registered before their logs reach its first period, write the same
//! statements.
//!
//! Invariant: a statement says only what follows from the chain, the documents and the log —
//! blocks, their hashes and timestamps, findings by the blocks that opened and resolved them —
//! never a divergence number or a wall-clock time, so honest indexers agree byte for byte.

use std::collections::HashMap;

use super::leaf::{
    ClauseVerdict, Evidence, Leaf, StatedClause, StatedCovenant, StatedLog, StatedPeriod,
    StatementLeaf, LEAF_VERSION,
};
use super::merkle::Hash;
use super::note::{NoteError, SigningKey, Verifiers};
use super::LedgerError;
use crate::manifest::covenant::{Covenant, CovenantItem};
use crate::model::Rule;
use crate::store::{CovenantVersion, Divergence, SealGroup, Store};

/// At most this many periods are prepared (their block timestamps fetched) at a time.
const PERIODS_PER_ROUND: usize = 16;

/// Block timestamps (seconds) by block number, fetched before the seal's transaction.
pub type Stamps = HashMap<i64, i64>;

/// A period whose statement is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuePeriod {
    pub covenant_id: String,
    pub period: i64,
    pub from: i64,
    pub to: i64,
}

/// The groups of the chain party to `covenant`, when the covenant's chain is this one (its
/// first party group follows it); `None` otherwise.
pub fn parties_on_chain<'g>(
    covenant: &Covenant,
    groups: &'g [SealGroup],
) -> Option<Vec<&'g SealGroup>> {
    let first = covenant.groups().next()?;
    groups.iter().find(|g| g.id == first)?;
    Some(
        covenant
            .groups()
            .filter_map(|id| groups.iter().find(|g| g.id == id))
            .collect(),
    )
}

/// The periods of the chain's covenants that end in `after + 1 ..= upto` and are due: from the
/// first period stated onwards (see the module docs), after the last one stated (`stated`, by
/// covenant), oldest end first, covenants of one end by id.
pub fn due_periods(
    covenants: &[CovenantVersion],
    groups: &[SealGroup],
    block_time_ms: u64,
    stated: &HashMap<String, i64>,
    after: i64,
    upto: i64,
) -> Vec<DuePeriod> {
    let mut out = Vec::new();
    for cv in covenants {
        let Some(parties) = parties_on_chain(&cv.covenant, groups) else {
            continue;
        };
        let p = cv.covenant.period_blocks(block_time_ms);
        let first = parties
            .iter()
            .map(|g| g.start_block)
            .max()
            .unwrap_or(0)
            .max(0)
            / p;
        // The first period whose last block is above `after`.
        let unsealed = (after + 1).max(0) / p;
        let mut k = first.max(unsealed);
        if let Some(last) = stated.get(&cv.covenant_id) {
            k = k.max(last + 1);
        }
        while (k + 1) * p - 1 <= upto {
            out.push(DuePeriod {
                covenant_id: cv.covenant_id.clone(),
                period: k,
                from: k * p,
                to: (k + 1) * p - 1,
            });
            k += 1;
            if out.len() > 4 * PERIODS_PER_ROUND {
                break;
            }
        }
    }
    out.sort_by(|a, b| (a.to, &a.covenant_id).cmp(&(b.to, &b.covenant_id)));
    out
}

/// The blocks whose timestamps the next seal of `chain` needs for its statements: the first
/// and last block of the next periods due, oldest first (a few periods at a time).
pub async fn blocks_to_stamp(
    store: &Store,
    chain: &str,
    block_time_ms: u64,
    final_block: i64,
) -> Result<Vec<i64>, LedgerError> {
    let covenants = store.covenants_cached().await?;
    if covenants.is_empty() {
        return Ok(Vec::new());
    }
    let groups = store.seal_groups(chain).await?;
    let (Some(height), Some(after)) = (
        groups.iter().map(|g| g.synced_to.min(final_block)).min(),
        groups.iter().map(|g| g.sealed_to).min(),
    ) else {
        return Ok(Vec::new());
    };
    let stated = store.stated_periods(chain).await?;
    let mut blocks: Vec<i64> =
        due_periods(&covenants, &groups, block_time_ms, &stated, after, height)
            .into_iter()
            .take(PERIODS_PER_ROUND)
            .flat_map(|d| [d.from, d.to])
            .collect();
    blocks.sort_unstable();
    blocks.dedup();
    Ok(blocks)
}

/// The statement leaf of `period` of covenant version `cv` (its index set on append), from the
/// covenant findings open at some block of the period and the log right after the period's
/// last block (`size` leaves, `root`).
pub fn build(
    cv: &CovenantVersion,
    chain_id: u64,
    due: &DuePeriod,
    times: (i64, i64),
    findings: &[Divergence],
    size: u64,
    root: &Hash,
) -> Leaf {
    let clauses = cv
        .covenant
        .terms
        .iter()
        .enumerate()
        .map(|(index, clause)| {
            let (verdict, mut evidence) = if clause.is_local() {
                (ClauseVerdict::NotAttested, Vec::new())
            } else {
                let of_clause = |rule: Rule| -> Vec<Evidence> {
                    findings
                        .iter()
                        .filter(|d| d.rule == rule.as_str())
                        .filter(|d| {
                            CovenantItem::parse(&d.item).is_some_and(|i| {
                                i.covenant == cv.covenant_id
                                    && i.version == cv.version
                                    && i.clause == index
                            })
                        })
                        .map(|d| evidence(d, due.to))
                        .collect()
                };
                let breaches = of_clause(Rule::CovenantBreach);
                let risks = of_clause(Rule::CovenantAtRisk);
                if !breaches.is_empty() {
                    (ClauseVerdict::Breach, breaches)
                } else if !risks.is_empty() {
                    (ClauseVerdict::AtRisk, risks)
                } else {
                    (ClauseVerdict::Holds, Vec::new())
                }
            };
            evidence.sort();
            evidence.dedup();
            StatedClause {
                index: index as u64,
                name: clause.name().to_string(),
                sentence: clause.to_string(),
                verdict,
                findings: evidence,
            }
        })
        .collect();
    Leaf::Statement(StatementLeaf {
        v: LEAF_VERSION,
        index: 0,
        chain_id,
        covenant: StatedCovenant {
            id: cv.covenant_id.clone(),
            version: cv.version.max(0) as u64,
            hash: cv.hash.clone(),
        },
        period: StatedPeriod {
            index: due.period.max(0) as u64,
            from_block: due.from.max(0) as u64,
            to_block: due.to.max(0) as u64,
            from_time: times.0,
            to_time: times.1,
        },
        clauses,
        log: StatedLog {
            size,
            root: root.to_string(),
        },
    })
}

/// A finding as a statement shows it.
fn evidence(d: &Divergence, to: i64) -> Evidence {
    Evidence {
        opened_block: d.opened_block.max(0) as u64,
        group: d.group_id.clone(),
        rule: d.rule.clone(),
        opened_hash: d.opened_block_hash.clone(),
        opened_tx: d.opened_tx_hash.clone(),
        resolved_block: d
            .resolved_block
            .filter(|b| *b <= to)
            .map(|b| b.max(0) as u64),
    }
}

/// The first line of a statement's signed note: the log's origin, the covenant and the period.
pub fn note_origin(log_origin: &str, covenant_id: &str, period: i64) -> String {
    format!("{log_origin}/statement/{covenant_id}/{period}")
}

/// Signs a statement: a note whose text is its origin line and its canonical body, one line.
pub fn sign(
    keys: &[&SigningKey],
    log_origin: &str,
    covenant_id: &str,
    period: i64,
    body: &str,
) -> Result<String, NoteError> {
    SigningKey::sign_all(
        keys,
        &format!("{}\n{body}\n", note_origin(log_origin, covenant_id, period)),
    )
}

/// Opens a statement's signed note with `key` and checks that it signs `body` as the statement
/// of `period` of `covenant_id`; the error says what is wrong.
pub fn open(
    note: &str,
    key: &Verifiers,
    covenant_id: &str,
    period: i64,
    body: &str,
) -> Result<(), String> {
    let text = key.open(note).map_err(|e| format!("signed note: {e}"))?;
    let mut lines = text.lines();
    let origin = lines.next().unwrap_or_default();
    let suffix = format!("/statement/{covenant_id}/{period}");
    if !origin.ends_with(&suffix) {
        return Err(format!(
            "signed note: its origin {origin:?} does not name this covenant and period"
        ));
    }
    if lines.next() != Some(body) || lines.next().is_some() {
        return Err("signed note: it signs another body than the statement's".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covenant(period: &str) -> CovenantVersion {
        let c = Covenant::parse(&format!(
            "id: river-x-lake\nparties: [river-guild, lake-collective]\nterms:\n  - {{ clause: min_owners, safe: \"0x1111111111111111111111111111111111111111\", value: 2 }}\n  - {{ clause: max_index_lag, seconds: 60 }}\nstatement_period: {period}\n"
        ))
        .unwrap();
        CovenantVersion {
            covenant_id: c.id.clone(),
            version: 1,
            hash: c.hash().to_string(),
            created_at: String::new(),
            covenant: c,
        }
    }

    fn group(id: &str, start_block: i64) -> SealGroup {
        SealGroup {
            id: id.into(),
            start_block,
            synced_to: 1_000,
            sealed_to: start_block - 1,
        }
    }

    #[test]
    fn periods_start_with_the_newest_party_and_follow_what_is_stated() {
        let cvs = [covenant("1m")];
        let groups = [group("river-guild", 5), group("lake-collective", 40)];
        let none = HashMap::new();
        // 60 s at 2 s per block: 30 blocks; the newest party starts in period 1.
        let due = due_periods(&cvs, &groups, 2_000, &none, -1, 100);
        let ends: Vec<i64> = due.iter().map(|d| d.to).collect();
        assert_eq!(ends, vec![59, 89]);
        assert_eq!((due[0].period, due[0].from), (1, 30));
        // A period already in the log is not stated afterwards.
        assert_eq!(due_periods(&cvs, &groups, 2_000, &none, 60, 100).len(), 1);
        let stated = HashMap::from([("river-x-lake".to_string(), 2)]);
        assert!(due_periods(&cvs, &groups, 2_000, &stated, -1, 100).is_empty());
        // A covenant whose first party is on another chain has no periods here.
        assert!(due_periods(&cvs, &groups[1..], 2_000, &none, -1, 100).is_empty());
    }

    #[test]
    fn a_statement_note_signs_its_body_and_names_covenant_and_period() {
        let key = SigningKey::generate("groupstate").unwrap();
        let body = r#"{"type":"statement"}"#;
        let note = sign(&[&key], "groupstate/local", "river-x-lake", 3, body).unwrap();
        assert!(note.starts_with("groupstate/local/statement/river-x-lake/3\n"));
        let v = Verifiers::from(key.verifier());
        open(&note, &v, "river-x-lake", 3, body).unwrap();
        assert!(open(&note, &v, "river-x-lake", 4, body)
            .unwrap_err()
            .contains("origin"));
        assert!(open(&note, &v, "river-x-lake", 3, "{}")
            .unwrap_err()
            .contains("another body"));
        let other = SigningKey::generate("groupstate").unwrap();
        let other_only = Verifiers::from(other.verifier());
        assert!(open(&note, &other_only, "river-x-lake", 3, body).is_err());
        // Cosigned during a rotation: either key alone verifies it.
        let cosigned = sign(&[&other, &key], "groupstate/local", "river-x-lake", 3, body).unwrap();
        open(&cosigned, &v, "river-x-lake", 3, body).unwrap();
        open(&cosigned, &other_only, "river-x-lake", 3, body).unwrap();
    }
}
