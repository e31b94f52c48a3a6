//! From observations to divergences, inside one group's fold: reconcile a contract at a moment
//! and open or resolve what changed, the rules about single events (outflows, unexplained
//! timelock calls), the periodic re-reads, manifest versions taking effect, and the
//! documentation's staleness. The open divergences are the group's, held in memory for the
//! whole batch; nothing is read from the database.

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::{Address, B256};

use super::covenants::Scope;
use super::flows::TxFlows;
use super::group::{version_at, Fold, Moment, Resolver};
use crate::chain::read::{ReadRequest, ReadScope, Reading};
use crate::decode::{DecodedLog, GovernanceEvent, GroupEvent};
use crate::manifest::Asset;
use crate::model::{AlertEvent, ContractKind, Rule, Severity};
use crate::observe::Observed;
use crate::reconcile::{
    documentation_stale_at, reconcile, reconcile_asset_log, reconcile_balance, transition, Finding,
    Flow,
};
use crate::store::{
    BalanceRow, Divergence, DivergenceStatus, FlowRow, ManifestVersion, FLOW_WINDOW_SECS,
};

/// After every log of the block in the state history.
const AFTER_THE_BLOCK: i64 = 1 << 40;

/// A flow as stored.
fn flow_row(group_id: &str, f: &Flow) -> FlowRow {
    FlowRow {
        group_id: group_id.to_string(),
        treasury: f.treasury.to_checksum(None),
        asset: f.asset.to_string(),
        direction: if f.out { "out" } else { "in" }.to_string(),
        block_number: f.block,
        block_timestamp: f.timestamp.map(|t| t as i64),
        tx_hash: f.tx.to_string(),
        locator: f.locator.clone(),
        counterparty: f.counterparty.to_checksum(None),
        amount: f.amount.to_string(),
    }
}

fn parsed_rule(d: &Divergence) -> Option<Rule> {
    Rule::parse(&d.rule)
}

/// Whether a divergence is about what a transaction or operation moves.
fn is_treasury_rule(d: &Divergence) -> bool {
    matches!(
        parsed_rule(d),
        Some(
            Rule::TreasuryOutflowOverLimit
                | Rule::TreasuryRecipientNotAllowed
                | Rule::TreasuryApprovalOverLimit
                | Rule::TreasurySpenderNotAllowed
                | Rule::SafeDelegatecallUndeclared
        )
    )
}

impl Fold<'_> {
    /// Opens a divergence for `f` at moment `m`, under manifest version `version`.
    pub(super) fn open(&mut self, version: &ManifestVersion, f: Finding, m: &Moment) {
        let subject = f.subject.to_checksum(None);
        let n = self.g.next_n;
        self.g.next_n += 1;
        let d = Divergence {
            group_id: self.g.row.id.clone(),
            n,
            rule: f.rule.as_str().to_string(),
            severity: f.rule.severity().as_str().to_string(),
            subject,
            item: f.key,
            expected: f.expected,
            observed: f.observed,
            status: DivergenceStatus::Open.as_str().to_string(),
            opened_block: m.block,
            opened_block_hash: m.block_hash.to_string(),
            opened_tx_hash: m.tx_hash.map(|h| h.to_string()),
            opened_log_index: m.log_index,
            opened_manifest_hash: version.hash.clone(),
            ..Divergence::default()
        };
        self.g.open.push(d.clone());
        self.touch(AlertEvent::Opened, d);
        self.out.opened += 1;
    }

    /// Resolves open divergence `n` at moment `m`, under the manifest version `manifest_hash`.
    pub(super) fn resolve(&mut self, n: i64, m: &Moment, manifest_hash: &str) {
        let Some(i) = self.g.open.iter().position(|d| d.n == n) else {
            return;
        };
        let mut d = self.g.open.remove(i);
        d.status = DivergenceStatus::Resolved.as_str().to_string();
        d.resolved_block = Some(m.block);
        d.resolved_block_hash = Some(m.block_hash.to_string());
        d.resolved_tx_hash = m.tx_hash.map(|h| h.to_string());
        d.resolved_log_index = m.log_index;
        d.resolved_manifest_hash = Some(manifest_hash.to_string());
        d.resolution = Some(m.by.as_str().to_string());
        let critical_by_manifest =
            m.by == Resolver::Manifest && d.severity == Severity::Critical.as_str();
        self.touch(AlertEvent::Resolved, d.clone());
        if critical_by_manifest {
            // Changing the document to agree with the chain closed a critical divergence:
            // every sink of the group hears of it, and of who ratified the version.
            self.out
                .events
                .push((AlertEvent::ManifestResolvedCritical, d));
        }
        self.out.resolved += 1;
    }

    fn touch(&mut self, event: AlertEvent, d: Divergence) {
        self.out
            .touched
            .insert((d.group_id.clone(), d.n), d.clone());
        self.out.events.push((event, d));
    }

    /// Opens `documentation.stale` at the block where the oldest open structural divergence
    /// has been open for the grace period, if that block is at or before `up_to`. Checked
    /// before every evaluation and at the end of each batch, and always dated at that deadline
    /// block, so the result does not depend on where batches begin and end.
    pub(super) fn check_stale(&mut self, up_to: i64) {
        let open = &self.g.open;
        if open
            .iter()
            .any(|d| parsed_rule(d) == Some(Rule::DocumentationStale))
        {
            return;
        }
        let oldest: Vec<i64> = open
            .iter()
            .filter(|d| parsed_rule(d).is_some_and(Rule::is_structural))
            .map(|d| d.opened_block)
            .collect();
        let grace = self.params.grace_blocks;
        let Some(deadline) = documentation_stale_at(oldest.iter().copied(), grace) else {
            return;
        };
        if deadline > up_to {
            return;
        }
        let since = oldest.iter().min().copied().unwrap_or(deadline);
        let m = self.moment(deadline, Resolver::Chain);
        let versions = self.g.versions.clone();
        let version = version_at(&versions, deadline);
        let f = Finding {
            rule: Rule::DocumentationStale,
            subject: Address::ZERO,
            key: String::new(),
            expected: format!("the manifest updated within {grace} blocks of a structural change"),
            observed: format!("structure disagrees with the manifest since block {since}"),
        };
        self.open(version, f, &m);
    }

    /// Resolves `documentation.stale` once no structural divergence is open any more.
    fn settle_stale(&mut self, m: &Moment) {
        let stale = self
            .g
            .open
            .iter()
            .find(|d| parsed_rule(d) == Some(Rule::DocumentationStale))
            .map(|d| d.n);
        let structural_left = self
            .g
            .open
            .iter()
            .any(|d| parsed_rule(d).is_some_and(Rule::is_structural));
        if let (Some(n), false) = (stale, structural_left) {
            let hash = self.g.version_at(m.block).hash.clone();
            self.resolve(n, m, &hash);
        }
    }

    /// Reconciles every contract a transaction changed, at the moment of its last change.
    pub(super) fn reconcile_changed(
        &mut self,
        changed: &mut BTreeMap<(Address, ContractKind), Moment>,
    ) {
        for ((contract, kind), moment) in std::mem::take(changed) {
            self.evaluate(contract, kind, &moment);
        }
    }

    /// Reads every contract again at block `at` (a multiple of the snapshot interval, after
    /// all its events); what the calls show and the events did not is stored and reconciled
    /// at `at`.
    pub(super) fn refresh(&mut self, at: i64) {
        let keys: Vec<(Address, ContractKind)> = self.g.states.keys().copied().collect();
        for (contract, kind) in keys {
            if !Observed::refreshable(kind) {
                continue;
            }
            let req = ReadRequest {
                address: contract,
                kind,
                block: at as u64,
                scope: ReadScope::Refresh,
            };
            let Some(reading) = self.reading(req).cloned() else {
                continue;
            };
            let state = &self.g.states[&(contract, kind)];
            let fresh = state.refreshed(&reading);
            if fresh == *state {
                continue;
            }
            tracing::warn!(group = %self.g.row.id, contract = %contract, kind = %kind, block = at,
                "a re-read shows a change no event announced");
            self.g.states.insert((contract, kind), fresh);
            self.store_state(contract, kind, at, AFTER_THE_BLOCK, "refresh");
            let moment = self.moment(at, Resolver::Chain);
            self.evaluate(contract, kind, &moment);
        }
    }

    /// Judges what a transaction moved out of the treasuries once its last log is seen: opens
    /// its findings, adds each execution's calls to its record, and asks for the singleton of
    /// every Safe whose execution could have rewritten it.
    pub(super) fn judge_flows(&mut self, flows: &mut TxFlows) {
        if flows.is_empty() {
            *flows = TxFlows::default();
            return;
        }
        let versions = self.g.versions.clone();
        let (Some(block), Some(tx)) = (flows.block(), flows.tx()) else {
            return;
        };
        let version = version_at(&versions, block);
        let trace = self.batch.traces.get(&tx);
        let Some(judged) = flows.finish(
            &version.manifest,
            &self.params.safe_libraries,
            trace,
            &self.g.flows,
        ) else {
            return;
        };
        let mut spent_from = BTreeSet::new();
        for flow in judged.flows {
            if flow.out {
                spent_from.insert(flow.treasury);
            }
            self.out.flows.push(flow_row(&self.g.row.id, &flow));
            self.g.flows.push(flow);
        }
        for (i, calls) in judged.calls {
            let row = &mut self.out.records[i];
            let mut fields: serde_json::Value =
                serde_json::from_str(&row.fields).expect("record fields are JSON");
            if let (Some(obj), serde_json::Value::Object(add)) = (fields.as_object_mut(), calls) {
                obj.extend(add);
            }
            row.fields = fields.to_string();
        }
        let delegatecalls = judged
            .findings
            .iter()
            .any(|f| f.rule == Rule::SafeDelegatecallUndeclared);
        for f in judged.findings {
            // The same finding already open (an operation judged when proposed and again when
            // queued) is not opened twice.
            let subject = f.subject.to_checksum(None);
            let open = self
                .g
                .open
                .iter()
                .any(|o| o.rule == f.rule.as_str() && o.subject == subject && o.item == f.key);
            if !open {
                self.open(version, f, &judged.moment);
            }
        }
        self.judge_covenants(&judged.moment, Scope::Flows { delegatecalls }, &spent_from);
        for safe in judged.suspects {
            self.check_singleton(safe, &judged.moment);
        }
    }

    /// The balance check at block `at` (a multiple of the interval, after all its
    /// transactions): each treasury's native balance and its balance of every token it has
    /// moved, against the previous reading plus the flows recorded in between. The first
    /// reading of a (treasury, asset) is only remembered.
    pub(super) fn check_balances(&mut self, at: i64) {
        let versions = self.g.versions.clone();
        let version = version_at(&versions, at);
        let treasury = version.manifest.treasury_addresses();
        let mut pairs: BTreeSet<(Address, Asset)> =
            treasury.iter().map(|t| (*t, Asset::Native)).collect();
        pairs.extend(
            self.g
                .balances
                .keys()
                .filter(|(t, _)| treasury.contains(t))
                .copied(),
        );
        pairs.extend(
            self.g
                .flows
                .iter()
                .filter(|f| treasury.contains(&f.treasury))
                .map(|f| (f.treasury, f.asset)),
        );
        let policy = &version.manifest.treasury.policy;
        for (t, asset) in pairs {
            if !policy.checks_balance(&asset) {
                continue;
            }
            let token = match asset {
                Asset::Native => None,
                Asset::Token(a) => Some(a),
            };
            let req = ReadRequest {
                address: t,
                kind: ContractKind::Safe,
                block: at as u64,
                scope: ReadScope::Balance { token },
            };
            let Some(Reading::Balance(Some(now))) = self.reading(req).cloned() else {
                continue;
            };
            if let Some(&before) = self.g.balances.get(&(t, asset)) {
                if before.0 >= at {
                    continue;
                }
                let tolerance = policy.balance_tolerance(&asset);
                let flows = &self.g.flows;
                if let Some(f) = reconcile_balance(t, asset, before, (at, now), flows, tolerance) {
                    let m = self.moment(at, Resolver::Chain);
                    self.open(version, f, &m);
                }
            }
            self.g.balances.insert((t, asset), (at, now));
            self.out.balances.push(BalanceRow {
                group_id: self.g.row.id.clone(),
                treasury: t.to_checksum(None),
                asset: asset.to_string(),
                block_number: at,
                balance: now.to_string(),
            });
        }
    }

    /// Forgets the flows neither rolling window, nor the next balance check, nor a covenant's
    /// budget window at block `to` needs.
    pub(super) fn prune_flows(&mut self, to: i64) {
        let newest = self.g.flows.iter().filter_map(|f| f.timestamp).max();
        let oldest_check = self.g.balances.values().map(|(b, _)| *b).min();
        let budget = self.budget_horizon(to);
        let window = FLOW_WINDOW_SECS as u64;
        self.g.flows.retain(|f| {
            let recent = match (f.timestamp, newest) {
                (Some(t), Some(n)) => t + window >= n,
                _ => false,
            };
            recent
                || oldest_check.is_none_or(|b| f.block > b)
                || budget.is_some_and(|b| f.block >= b)
        });
    }

    /// Reads a Safe's singleton at the end of the block of `m` and reconciles the Safe if it
    /// changed.
    fn check_singleton(&mut self, safe: Address, m: &Moment) {
        let key = (safe, ContractKind::Safe);
        if !self.g.states.contains_key(&key) {
            return;
        }
        let req = ReadRequest {
            address: safe,
            kind: ContractKind::Safe,
            block: m.block as u64,
            scope: ReadScope::Singleton,
        };
        let Some(reading) = self.reading(req).cloned() else {
            return;
        };
        let state = &self.g.states[&key];
        let fresh = state.refreshed(&reading);
        if fresh == *state {
            return;
        }
        self.g.states.insert(key, fresh);
        // Read at the end of the block: after its logs, before a refresh of the same block.
        self.store_state(
            safe,
            ContractKind::Safe,
            m.block,
            AFTER_THE_BLOCK - 1,
            "singleton",
        );
        self.evaluate(safe, ContractKind::Safe, m);
    }

    /// The rules about single events: timelock operations no proposal explains (a `Cancelled`
    /// one is resolved). Treasury movements are judged per transaction
    /// ([`Fold::judge_flows`]).
    pub(super) fn event_rules(
        &mut self,
        version: &ManifestVersion,
        d: &DecodedLog,
        event: &GroupEvent,
        m: &Moment,
    ) {
        let manifest = &version.manifest;
        let item = format!("{}:{}", d.evidence.tx_hash, d.evidence.log_index);
        let mut findings = reconcile_asset_log(manifest, d.address, event, &item);
        match event {
            // A batch operation emits one CallScheduled per call: it is flagged once.
            GroupEvent::Governance(GovernanceEvent::CallScheduled { id, .. })
                if manifest.timelock(&d.address).is_some()
                    && !self.g.explained.contains(id)
                    && self.flagged.insert(*id) =>
            {
                findings.push(Finding {
                    rule: Rule::TimelockUnexplainedCall,
                    subject: d.address,
                    key: id.to_string(),
                    expected: "operations scheduled by a declared governor's queued proposals"
                        .to_string(),
                    observed: format!(
                        "operation {id} scheduled by transaction {}",
                        d.evidence.tx_hash
                    ),
                });
            }
            GroupEvent::Governance(GovernanceEvent::Cancelled { id }) => {
                let subject = d.address.to_checksum(None);
                let item = id.to_string();
                let prefix = format!("{id}:");
                let cancelled: Vec<i64> = self
                    .g
                    .open
                    .iter()
                    .filter(|o| {
                        (o.subject == subject
                            && o.item == item
                            && parsed_rule(o) == Some(Rule::TimelockUnexplainedCall))
                            || (o.item.starts_with(&prefix) && is_treasury_rule(o))
                    })
                    .map(|o| o.n)
                    .collect();
                for n in cancelled {
                    self.resolve(n, m, &version.hash);
                }
            }
            GroupEvent::Governance(GovernanceEvent::ProposalCanceled { proposal_id })
                if manifest.governor(&d.address).is_some() =>
            {
                // What the proposal would have paid will never be paid.
                let prefix = format!("{}:", B256::from(*proposal_id));
                let cancelled: Vec<i64> = self
                    .g
                    .open
                    .iter()
                    .filter(|o| o.item.starts_with(&prefix) && is_treasury_rule(o))
                    .map(|o| o.n)
                    .collect();
                for n in cancelled {
                    self.resolve(n, m, &version.hash);
                }
            }
            _ => {}
        }
        for f in findings {
            self.open(version, f, m);
        }
    }

    /// Evaluates every contract at the start of the block a manifest version takes effect.
    pub(super) fn manifest_takes_effect(&mut self, v: &ManifestVersion) {
        let moment = self.moment(v.effective_block, Resolver::Manifest);
        let keys: Vec<(Address, ContractKind)> = self.g.states.keys().copied().collect();
        for (contract, kind) in keys {
            self.evaluate(contract, kind, &moment);
        }
        // What the document alone decides, including the clauses about contracts the new
        // version no longer (or not yet) declares.
        self.judge_covenants(&moment, Scope::Document, &BTreeSet::new());
    }

    /// Reconciles one contract's structure of one kind against the manifest in force at the
    /// moment, and opens or resolves that kind's divergences accordingly.
    pub(super) fn evaluate(&mut self, contract: Address, kind: ContractKind, m: &Moment) {
        self.check_stale(m.block - 1);
        let versions = self.g.versions.clone();
        let version = version_at(&versions, m.block);
        let findings = reconcile(
            &version.manifest,
            contract,
            &self.g.states[&(contract, kind)],
        );
        let subject = contract.to_checksum(None);
        let keyed: Vec<(i64, (Rule, Address, String))> = self
            .g
            .open
            .iter()
            .filter(|d| d.subject == subject)
            .filter_map(|d| parsed_rule(d).map(|r| (d.n, (r, contract, d.item.clone()))))
            .filter(|(_, (r, _, _))| r.is_structural() && r.kind() == kind)
            .collect();
        let t = transition(&keyed, findings);
        for n in t.resolve {
            self.resolve(n, m, &version.hash);
        }
        for f in t.open {
            self.open(version, f, m);
        }
        self.settle_stale(m);
        self.judge_covenants(m, Scope::Contract(contract), &BTreeSet::new());
    }
}
