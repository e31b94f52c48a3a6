//! Covenants inside one group's fold: each clause the group answers for is judged when what it
//! is about changes — a contract's structure (with the structural reconciliation), a manifest
//! version taking effect (the document side), a transaction's flows (budgets, delegatecalls) —
//! and at the end of the batch for what time alone changes (a budget's window rolling over, a
//! ratification falling due, the index's lag) or what was just registered. Findings are
//! divergences of the group (`covenant.breach`, `covenant.at_risk`) whose item names the
//! covenant, its version and the clause: `river-x-lake@1#0`, and for a budget its window
//! `river-x-lake@1#6/w12`.
//!
//! Time is counted in blocks of the chain (its block time), windows and deadlines aligned on
//! block numbers, so two indexers of the same chain date every finding at the same block.

use std::collections::BTreeSet;

use alloy::primitives::{Address, U256};

use super::group::{version_at, Fold, Moment, Resolver};
use crate::manifest::covenant::{Clause, CovenantItem, RATIFICATION_DUE_DAYS};
use crate::manifest::Asset;
use crate::model::Rule;
use crate::reconcile::covenant::{judge_budget, judge_structure, ratification_deadlines, Verdict};
use crate::reconcile::Finding;
use crate::store::{CovenantVersion, DivergenceStatus, ManifestVersion};

/// One clause of one covenant the group answers for.
#[derive(Debug, Clone, Copy)]
pub(super) struct TermRef {
    /// Into the group's covenants.
    pub(super) covenant: usize,
    /// Into the covenant's terms.
    pub(super) index: usize,
}

/// The clauses of the group's covenants it answers for: those about a contract one of its
/// manifest versions declares, a ratification clause naming it, and the index lag for the
/// first group among the parties.
pub(super) fn terms_of(
    group: &str,
    covenants: &[CovenantVersion],
    addresses: &BTreeSet<Address>,
) -> Vec<TermRef> {
    let mut out = Vec::new();
    for (ci, cv) in covenants.iter().enumerate() {
        let first_group = cv.covenant.groups().next() == Some(group);
        for (index, clause) in cv.covenant.terms.iter().enumerate() {
            let mine = match clause {
                Clause::ReratifiedWithin { group: g, .. } => g == group,
                Clause::MaxIndexLag { .. } => first_group,
                c => c.contract().is_some_and(|a| addresses.contains(&a)),
            };
            if mine {
                out.push(TermRef {
                    covenant: ci,
                    index,
                });
            }
        }
    }
    out
}

/// The clauses among `terms` a transaction's flows can move: budgets and delegatecalls.
pub(super) fn flow_terms(terms: &[TermRef], covenants: &[CovenantVersion]) -> Vec<TermRef> {
    terms
        .iter()
        .filter(|t| {
            matches!(
                covenants[t.covenant].covenant.terms[t.index],
                Clause::MaxOutflowUnlisted { .. } | Clause::NoUndeclaredDelegatecalls { .. }
            )
        })
        .copied()
        .collect()
}

/// Which clauses a judgement covers.
#[derive(Debug, Clone, Copy)]
pub(super) enum Scope {
    /// The structural clauses about this contract.
    Contract(Address),
    /// Budgets of these treasuries, and delegatecalls.
    Flows {
        /// Whether the transaction opened an undeclared delegatecall finding.
        delegatecalls: bool,
    },
    /// Everything the document decides: structure and ratification.
    Document,
}

impl Scope {
    fn covers(self, clause: &Clause, flows: &BTreeSet<Address>) -> bool {
        match (self, clause) {
            (Scope::Contract(a), c) => {
                c.contract() == Some(a)
                    && !matches!(
                        c,
                        Clause::MaxOutflowUnlisted { .. }
                            | Clause::NoUndeclaredDelegatecalls { .. }
                    )
            }
            (Scope::Flows { .. }, Clause::MaxOutflowUnlisted { safe, .. }) => flows.contains(safe),
            (Scope::Flows { delegatecalls }, Clause::NoUndeclaredDelegatecalls { .. }) => {
                delegatecalls
            }
            (Scope::Flows { .. }, _) => false,
            (Scope::Document, c) => !matches!(c, Clause::MaxIndexLag { .. }),
        }
    }
}

impl Fold<'_> {
    /// Blocks of the chain in `secs` seconds, at least one.
    fn blocks_in(&self, secs: u64) -> i64 {
        crate::manifest::covenant::blocks_in(secs, self.params.block_time_ms)
    }

    /// Judges the clauses `scope` covers at moment `m` (`flows`: the treasuries a transaction
    /// moved value out of, for [`Scope::Flows`]).
    pub(super) fn judge_covenants(&mut self, m: &Moment, scope: Scope, flows: &BTreeSet<Address>) {
        if self.terms.is_empty() {
            return;
        }
        let covenants = self.g.covenants.clone();
        // Only the clauses a transaction's flows can move are looked at after each one.
        let flow_terms = matches!(scope, Scope::Flows { .. }).then(|| self.flow_terms.clone());
        let n = flow_terms.as_ref().map_or(self.terms.len(), |f| f.len());
        for i in 0..n {
            let t = match &flow_terms {
                Some(f) => f[i],
                None => self.terms[i],
            };
            let cv = &covenants[t.covenant];
            let clause = &cv.covenant.terms[t.index];
            if scope.covers(clause, flows) {
                self.judge_term(cv, t.index, clause, m);
            }
        }
    }

    /// Judges one clause at `m`, as far as it can be judged at a moment (time-bound clauses
    /// are judged in [`Fold::covenants_at_batch_end`]).
    fn judge_term(&mut self, cv: &CovenantVersion, index: usize, clause: &Clause, m: &Moment) {
        let versions = self.g.versions.clone();
        let version = version_at(&versions, m.block);
        let mut window = None;
        let verdict = match clause {
            Clause::NoUndeclaredDelegatecalls { .. }
                if !self.g.open.iter().any(|d| {
                    d.rule == Rule::SafeDelegatecallUndeclared.as_str()
                        && d.status == DivergenceStatus::Open.as_str()
                }) =>
            {
                Verdict::Holds
            }
            Clause::NoUndeclaredDelegatecalls { safe } => {
                let subject = safe.to_checksum(None);
                let found: Vec<String> = self
                    .g
                    .open
                    .iter()
                    .filter(|d| {
                        d.rule == Rule::SafeDelegatecallUndeclared.as_str()
                            && d.subject == subject
                            && d.status == DivergenceStatus::Open.as_str()
                    })
                    .map(|d| {
                        format!(
                            "{} (transaction {}, divergence #{})",
                            d.observed,
                            d.opened_tx_hash.as_deref().unwrap_or("?"),
                            d.n
                        )
                    })
                    .collect();
                if found.is_empty() {
                    Verdict::Holds
                } else {
                    Verdict::Breach(found.join("; "))
                }
            }
            Clause::MaxOutflowUnlisted {
                safe,
                asset,
                per,
                amount,
            } => {
                let len = self.blocks_in(per.seconds());
                let w = m.block.max(0) / len;
                window = Some(w);
                let (start, end) = (w * len, (w + 1) * len - 1);
                let spent = self.spent(*safe, *asset, start, version);
                judge_budget(spent, *amount, || {
                    format!("the {} of blocks {start}-{end}", per.as_str())
                })
            }
            Clause::ReratifiedWithin { days, .. } => self.ratification_verdict(*days, m.block).0,
            Clause::MaxIndexLag { .. } => return,
            structural => {
                match judge_structure(
                    structural,
                    &version.manifest,
                    version.version,
                    &self.g.states,
                ) {
                    Some(v) => v,
                    None => return,
                }
            }
        };
        self.settle_term(cv, index, window, clause, verdict, m);
    }

    /// What left `safe` in `asset` for recipients the version does not list (neither in its
    /// policy's `allowed_recipients` nor one of its treasuries), from block `start` to now:
    /// counted once per batch, then only over the flows added since (every flow the group
    /// holds is at or before the moment judged).
    fn spent(
        &mut self,
        safe: Address,
        asset: Asset,
        start: i64,
        version: &ManifestVersion,
    ) -> U256 {
        let key = (safe, asset, start, version.version);
        let (seen, mut sum) = self.budgets.get(&key).copied().unwrap_or((0, U256::ZERO));
        let flows = &self.g.flows;
        if seen < flows.len() {
            let listed: BTreeSet<Address> = version
                .manifest
                .treasury
                .policy
                .allowed_recipients
                .iter()
                .copied()
                .chain(version.manifest.treasury_addresses())
                .collect();
            for f in &flows[seen..] {
                if f.out
                    && f.treasury == safe
                    && f.asset == asset
                    && f.block >= start
                    && !listed.contains(&f.counterparty)
                {
                    sum = sum.saturating_add(f.amount);
                }
            }
            self.budgets.insert(key, (flows.len(), sum));
        }
        sum
    }

    /// The verdict of a ratification clause at `block`, with the block it turned (the
    /// deadline, or the start of the warning).
    fn ratification_verdict(&self, days: u64, block: i64) -> (Verdict, i64) {
        let since = self
            .g
            .versions
            .iter()
            .filter(|v| v.effective_block <= block && v.ratification.is_some())
            .map(|v| v.effective_block)
            .max();
        let first = self.g.versions.first().map_or(0, |v| v.effective_block);
        let (due, warn) = ratification_deadlines(
            since.unwrap_or(first),
            self.blocks_in(days * 86_400),
            self.blocks_in(RATIFICATION_DUE_DAYS * 86_400),
        );
        let what = match since {
            Some(b) => format!("last ratified at block {b}"),
            None => "never ratified".to_string(),
        };
        if block >= due {
            (
                Verdict::Breach(format!(
                    "the group state was due for ratification at block {due} ({what})"
                )),
                due,
            )
        } else if block >= warn {
            (
                Verdict::AtRisk(format!(
                    "the group state falls due for ratification at block {due} ({what})"
                )),
                warn,
            )
        } else {
            (Verdict::Holds, block)
        }
    }

    /// Opens what the verdict says and resolves what it no longer says, for one clause.
    fn settle_term(
        &mut self,
        cv: &CovenantVersion,
        index: usize,
        window: Option<i64>,
        clause: &Clause,
        verdict: Verdict,
        m: &Moment,
    ) {
        // The common case: the clause holds and the group has no covenant finding open.
        if verdict == Verdict::Holds
            && !self
                .g
                .open
                .iter()
                .any(|d| Rule::parse(&d.rule).is_some_and(Rule::is_covenant))
        {
            return;
        }
        let item = CovenantItem {
            covenant: cv.covenant_id.clone(),
            version: cv.version,
            clause: index,
            window,
        };
        let key = item.key();
        let wanted = match &verdict {
            Verdict::Holds => None,
            Verdict::AtRisk(why) => Some((Rule::CovenantAtRisk, why.clone())),
            Verdict::Breach(why) => Some((Rule::CovenantBreach, why.clone())),
        };
        let open: Vec<(i64, String)> = self
            .g
            .open
            .iter()
            .filter(|d| d.item == key && Rule::parse(&d.rule).is_some_and(Rule::is_covenant))
            .map(|d| (d.n, d.rule.clone()))
            .collect();
        let versions = self.g.versions.clone();
        let version = version_at(&versions, m.block);
        for (n, rule) in &open {
            if wanted.as_ref().is_none_or(|(r, _)| r.as_str() != rule) {
                self.resolve(*n, m, &version.hash);
            }
        }
        if let Some((rule, observed)) = wanted {
            if !open.iter().any(|(_, r)| r == rule.as_str()) {
                let finding = Finding {
                    rule,
                    subject: clause.contract().unwrap_or(Address::ZERO),
                    key,
                    expected: format!(
                        "{clause} (covenant {} version {}, clause {})",
                        cv.covenant_id, cv.version, item.clause
                    ),
                    observed,
                };
                self.open(version, finding, m);
            }
        }
    }

    /// At the end of a batch (`to`): budgets whose window rolled over are settled at the
    /// window's end, ratifications due are dated at their deadline, the index lag is judged
    /// at `to`, and every other clause is judged at `to`, which only finds something for a
    /// covenant registered or changed since the group's last batch; findings of covenant
    /// versions no longer in force are resolved.
    pub(super) fn covenants_at_batch_end(&mut self, to: i64) {
        let all_judged = self.g.judged.len() == self.g.covenants.len()
            && self
                .g
                .judged
                .iter()
                .zip(self.g.covenants.iter())
                .all(|((id, v), c)| *id == c.covenant_id && *v == c.version);
        let stale: Vec<(i64, Option<CovenantItem>)> = self
            .g
            .open
            .iter()
            .filter(|d| Rule::parse(&d.rule).is_some_and(Rule::is_covenant))
            .map(|d| (d.n, CovenantItem::parse(&d.item)))
            .collect();
        let covenants = self.g.covenants.clone();
        for (n, item) in stale {
            let gone = item.as_ref().is_none_or(|i| {
                !covenants
                    .iter()
                    .any(|c| c.covenant_id == i.covenant && c.version == i.version)
            });
            if gone {
                let m = self.moment(to, Resolver::Covenant);
                let hash = self.g.version_at(to).hash.clone();
                self.resolve(n, &m, &hash);
                continue;
            }
            // A budget's finding of a window that has ended is settled where it ended.
            let Some(item) = item else { continue };
            let (Some(w), Some(cv)) = (
                item.window,
                covenants.iter().find(|c| c.covenant_id == item.covenant),
            ) else {
                continue;
            };
            if let Some(Clause::MaxOutflowUnlisted { per, .. }) = cv.covenant.terms.get(item.clause)
            {
                let len = self.blocks_in(per.seconds());
                let end = (w + 1) * len;
                if end <= to {
                    let m = self.moment(end, Resolver::Chain);
                    let hash = self.g.version_at(end).hash.clone();
                    self.resolve(n, &m, &hash);
                }
            }
        }
        let terms = self.terms.clone();
        for t in terms {
            let cv = &covenants[t.covenant];
            let clause = &cv.covenant.terms[t.index];
            match clause {
                Clause::ReratifiedWithin { days, .. } => {
                    let (verdict, at) = self.ratification_verdict(*days, to);
                    let m = self.moment(at, Resolver::Chain);
                    self.settle_term(cv, t.index, None, clause, verdict, &m);
                }
                Clause::MaxIndexLag { seconds } => {
                    let Some(head) = self.batch.head else {
                        continue;
                    };
                    let behind = (head as i64 - to).max(0) as u64;
                    let lag = behind * self.params.block_time_ms / 1000;
                    let verdict = if lag > *seconds {
                        Verdict::Breach(format!(
                            "the index was {behind} blocks (about {lag} s) behind the head at block {head}"
                        ))
                    } else {
                        Verdict::Holds
                    };
                    let m = self.moment(to, Resolver::Chain);
                    self.settle_term(cv, t.index, None, clause, verdict, &m);
                }
                // Judged when what they are about changes; here only once per covenant
                // version, the first time the group folds with it.
                _ if self
                    .g
                    .judged
                    .contains(&(cv.covenant_id.clone(), cv.version)) => {}
                _ => {
                    let m = self.moment(to, Resolver::Chain);
                    self.judge_term(cv, t.index, clause, &m);
                }
            }
        }
        if !all_judged {
            self.g.judged = covenants
                .iter()
                .map(|c| (c.covenant_id.clone(), c.version))
                .collect();
        }
    }

    /// The first block of the oldest budget window any of the group's clauses is counting:
    /// flows from it on are kept.
    pub(super) fn budget_horizon(&self, to: i64) -> Option<i64> {
        self.terms
            .iter()
            .filter_map(
                |t| match &self.g.covenants[t.covenant].covenant.terms[t.index] {
                    Clause::MaxOutflowUnlisted { per, .. } => {
                        let len = self.blocks_in(per.seconds());
                        Some((to.max(0) / len) * len)
                    }
                    _ => None,
                },
            )
            .min()
    }
}
