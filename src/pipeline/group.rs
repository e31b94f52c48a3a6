//! One group's fold over one batch: seed the contracts seen for the first time, walk the
//! group's logs in chain order — records, structure, signers, the rules about single events —
//! with the periodic re-reads and the manifest versions taking effect at their blocks, and
//! reconcile each contract a transaction changed once, after its last event.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use alloy::primitives::{Address, B256};

use super::covenants::{flow_terms, terms_of, TermRef};
use super::flows::TxFlows;
use super::signers::{safe_execution, SafeExecutions};
use super::{ChainParams, Extras, GroupPrior, Needs, Prepared};
use crate::chain::read::{ReadRequest, ReadScope, Reading};
use crate::decode::{DecodedLog, GovernanceEvent, GroupEvent};
use crate::model::{AlertEvent, ContractKind};
use crate::observe::Observed;
use crate::reconcile::ids::{description_hash, timelock_operation_id};
use crate::reconcile::reconcile_signers;
use crate::store::{BalanceRow, Divergence, FlowRow, ManifestVersion, RecordRow, StateWrite};

/// What the fold of a batch has produced so far, across its groups.
#[derive(Debug, Default)]
pub(super) struct Out {
    pub(super) records: Vec<RecordRow>,
    pub(super) states: Vec<StateWrite>,
    /// Every divergence the batch opened or resolved, as it leaves them, by (group, number).
    pub(super) touched: BTreeMap<(String, i64), Divergence>,
    pub(super) events: Vec<(AlertEvent, Divergence)>,
    pub(super) flows: Vec<FlowRow>,
    pub(super) balances: Vec<BalanceRow>,
    pub(super) opened: usize,
    pub(super) resolved: usize,
}

/// Who brought a divergence's resolution: a change on the chain or a manifest version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Resolver {
    Chain,
    Manifest,
    /// A covenant's new version (or its removal) settled a finding of the old one.
    Covenant,
}

impl Resolver {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Resolver::Chain => "chain",
            Resolver::Manifest => "manifest",
            Resolver::Covenant => "covenant",
        }
    }
}

/// Where in the chain an evaluation happens, for the evidence it leaves.
#[derive(Debug, Clone, Copy)]
pub(super) struct Moment {
    pub(super) block: i64,
    pub(super) block_hash: B256,
    pub(super) tx_hash: Option<B256>,
    pub(super) log_index: Option<i64>,
    pub(super) by: Resolver,
}

impl Moment {
    /// The moment of a log, on the chain's word.
    pub(super) fn at(d: &DecodedLog) -> Moment {
        Moment {
            block: d.evidence.block_number as i64,
            block_hash: d.evidence.block_hash,
            tx_hash: Some(d.evidence.tx_hash),
            log_index: Some(d.evidence.log_index as i64),
            by: Resolver::Chain,
        }
    }
}

/// One group's fold: the batch, what was fetched for it, and where the effects go.
pub(super) struct Fold<'a> {
    pub(super) params: &'a ChainParams,
    pub(super) batch: &'a Prepared,
    pub(super) extras: &'a Extras,
    pub(super) needs: &'a mut Needs,
    pub(super) out: &'a mut Out,
    pub(super) g: &'a mut GroupPrior,
    /// Timelock operations already flagged in this batch (a batch operation emits one
    /// `CallScheduled` per call: it is flagged once).
    pub(super) flagged: HashSet<B256>,
    /// The covenant clauses the group answers for.
    pub(super) terms: Vec<TermRef>,
    /// Those among them a transaction's flows can move (budgets, delegatecalls).
    pub(super) flow_terms: std::sync::Arc<Vec<TermRef>>,
    /// Each budget counted in this batch — (treasury, asset, window start, manifest version) —
    /// with the flows counted so far and their sum.
    pub(super) budgets: std::collections::HashMap<
        (Address, crate::manifest::Asset, i64, i64),
        (usize, alloy::primitives::U256),
    >,
}

impl Fold<'_> {
    /// The hash of `block`: from the batch, or fetched on request (zero before genesis).
    pub(super) fn block_hash(&mut self, block: i64) -> B256 {
        if block < 0 {
            return B256::ZERO;
        }
        let n = block as u64;
        match self
            .batch
            .hashes
            .get(&n)
            .or_else(|| self.extras.hashes.get(&n))
        {
            Some(h) => *h,
            None => {
                self.needs.hashes.insert(n);
                B256::ZERO
            }
        }
    }

    /// A moment at a block boundary (no transaction), brought by `by`.
    pub(super) fn moment(&mut self, block: i64, by: Resolver) -> Moment {
        Moment {
            block,
            block_hash: self.block_hash(block),
            tx_hash: None,
            log_index: None,
            by,
        }
    }

    /// A reading fetched on request; `None` (and a need) until it is.
    pub(super) fn reading(&mut self, req: ReadRequest) -> Option<&Reading> {
        match self.extras.readings.get(&req) {
            Some(r) => Some(r),
            None => {
                self.needs.readings.insert(req);
                None
            }
        }
    }

    /// Stores a state of a contract.
    pub(super) fn store_state(
        &mut self,
        contract: Address,
        kind: ContractKind,
        block: i64,
        log_index: i64,
        source: &'static str,
    ) {
        let state = self.g.states[&(contract, kind)].to_json();
        self.out.states.push(StateWrite {
            group_id: self.g.row.id.clone(),
            contract: contract.to_checksum(None),
            kind,
            block,
            log_index,
            source,
            state,
        });
    }
}

/// The manifest's `deployed_at` for a contract, from the newest version that declares one.
fn deployed_at(g: &GroupPrior, contract: Address) -> Option<u64> {
    g.versions
        .iter()
        .rev()
        .find_map(|v| v.manifest.deployed_at(&contract))
}

/// Folds `batch` into one group.
pub(super) fn fold_group(
    params: &ChainParams,
    g: &mut GroupPrior,
    batch: &Prepared,
    extras: &Extras,
    needs: &mut Needs,
    out: &mut Out,
) {
    // Blocks at or below synced_to are already complete for this group, and blocks before
    // its start_block are none of its business (a roll-back may reset synced_to below it).
    let first = (batch.from as i64)
        .max(g.row.synced_to + 1)
        .max(g.row.start_block);
    let to = batch.to as i64;
    if first > to {
        return;
    }
    let contracts = g.contracts();
    let addresses: BTreeSet<Address> = contracts.iter().map(|(a, _)| *a).collect();
    let treasury = g.treasury();
    let versions = g.versions.clone();
    let terms = terms_of(&g.row.id, &g.covenants, &addresses);
    let flow_terms = std::sync::Arc::new(flow_terms(&terms, &g.covenants));
    let mut f = Fold {
        params,
        batch,
        extras,
        needs,
        out,
        g,
        flagged: HashSet::new(),
        terms,
        flow_terms,
        budgets: Default::default(),
    };

    // Seed each contract seen for the first time with a reading of the block before.
    for &(contract, kind) in &contracts {
        if f.g.states.contains_key(&(contract, kind)) {
            continue;
        }
        let at = first - 1;
        let s = if at < 0 {
            Observed::empty(kind)
        } else {
            let req = ReadRequest {
                address: contract,
                kind,
                block: at as u64,
                scope: ReadScope::Seed {
                    deployed_at: deployed_at(f.g, contract),
                },
            };
            f.reading(req)
                .map(Observed::seed)
                .unwrap_or_else(|| Observed::empty(kind))
        };
        f.g.states.insert((contract, kind), s);
        f.store_state(contract, kind, at, -1, "snapshot");
        let moment = f.moment(at, Resolver::Chain);
        f.evaluate(contract, kind, &moment);
    }

    // Manifest versions taking effect inside the batch, evaluated at the start of their block.
    let mut effective: Vec<_> = versions
        .iter()
        .filter(|v| v.version > 1 && v.effective_block >= first && v.effective_block <= to)
        .collect();
    effective.sort_by_key(|v| v.effective_block);
    let mut pending = effective.into_iter().peekable();

    // A transaction is atomic: the states between its events never exist onchain, so each
    // contract it changed is reconciled once, after its last event (the evidence).
    let mut changed: BTreeMap<(Address, ContractKind), Moment> = BTreeMap::new();
    let mut current_tx = None;
    let mut executions = SafeExecutions::default();
    let mut flows = TxFlows::default();
    let interval = params.snapshot_interval as i64;
    // The first multiple of the interval at or after `first` (never block 0).
    let mut next_refresh =
        (interval > 0).then(|| ((first.max(1) + interval - 1) / interval) * interval);
    // Balance checks at multiples of their interval, aligned on block numbers so that any two
    // indexers check at the same blocks whatever their batches.
    let check = params.balance_check_interval as i64;
    let mut next_check = (check > 0).then(|| ((first.max(1) + check - 1) / check) * check);
    for d in &batch.logs {
        let block = d.evidence.block_number as i64;
        if block < first || block > to || !belongs(d, &addresses, &treasury) {
            continue;
        }
        if current_tx != Some(d.evidence.tx_hash) {
            f.judge_flows(&mut flows);
            f.reconcile_changed(&mut changed);
            current_tx = Some(d.evidence.tx_hash);
            executions = SafeExecutions::default();
        }
        while let Some(at) = next_refresh.filter(|at| *at < block) {
            f.refresh(at);
            next_refresh = Some(at + interval);
        }
        while let Some(at) = next_check.filter(|at| *at < block) {
            f.check_balances(at);
            next_check = Some(at + check);
        }
        while let Some(v) = pending.next_if(|v| v.effective_block <= block) {
            f.manifest_takes_effect(v);
        }
        let version = version_at(&versions, block);
        let mut extra = serde_json::Map::new();
        if let Ok(GroupEvent::Governance(GovernanceEvent::ProposalCreated {
            targets,
            values,
            calldatas,
            description,
            ..
        })) = &d.event
        {
            // The id GovernorTimelockControl will schedule this proposal under, to tell an
            // explained timelock call from an unexplained one.
            let op = timelock_operation_id(
                d.address,
                targets,
                values,
                calldatas,
                description_hash(description),
            );
            extra.insert("timelock_operation_id".into(), op.to_string().into());
            f.g.explained.insert(op);
        }
        if let Ok(GroupEvent::Governance(GovernanceEvent::ProposalCreated {
            proposal_id,
            targets,
            values,
            calldatas,
            ..
        })) = &d.event
        {
            let calls = targets
                .iter()
                .zip(values)
                .zip(calldatas)
                .map(|((t, v), c)| (*t, *v, c.clone()))
                .collect();
            f.g.proposals.insert(*proposal_id, calls);
        }
        let mut signer_findings = Vec::new();
        if let Some(Observed::Safe(safe)) = f.g.states.get(&(d.address, ContractKind::Safe)) {
            let threshold = safe.threshold;
            if let Some(recovered) = safe_execution(batch, d, &mut executions, threshold) {
                match recovered {
                    Ok(signers) => {
                        if let Some(decl) = version.manifest.safe(&d.address) {
                            signer_findings = reconcile_signers(decl, &signers, d.evidence.tx_hash);
                        }
                        extra.insert(
                            "signers".into(),
                            serde_json::to_value(&signers).expect("signers serialise"),
                        );
                    }
                    Err(why) => {
                        extra.insert("signers_error".into(), why.into());
                    }
                }
            }
        }
        f.out
            .records
            .push(record_row(&f.g.row.id, d, &version.hash, extra));
        let moment = Moment::at(d);
        flows.log(
            &version.manifest,
            batch,
            d,
            moment,
            f.out.records.len() - 1,
            (&f.g.explained, &f.g.proposals),
        );
        for finding in signer_findings {
            f.open(version, finding, &moment);
        }
        let Ok(event) = &d.event else { continue };
        f.event_rules(version, d, event, &moment);
        let log_index = d.evidence.log_index as i64;
        let kinds: Vec<ContractKind> =
            f.g.states
                .range((d.address, ContractKind::Safe)..)
                .take_while(|((c, _), _)| *c == d.address)
                .map(|((_, k), _)| *k)
                .collect();
        for kind in kinds {
            let state =
                f.g.states
                    .get_mut(&(d.address, kind))
                    .expect("listed above");
            if let Observed::Safe(safe) = state {
                // The threshold the Safe checked signatures against is the one before this
                // transaction changed anything.
                executions
                    .threshold_before
                    .entry(d.address)
                    .or_insert(safe.threshold);
            }
            if state.apply(event) {
                f.store_state(d.address, kind, block, log_index, "event");
                changed.insert((d.address, kind), moment);
            }
        }
    }
    f.judge_flows(&mut flows);
    f.reconcile_changed(&mut changed);
    while let Some(at) = next_refresh.filter(|at| *at <= to) {
        f.refresh(at);
        next_refresh = Some(at + interval);
    }
    while let Some(at) = next_check.filter(|at| *at <= to) {
        f.check_balances(at);
        next_check = Some(at + check);
    }
    for v in pending {
        f.manifest_takes_effect(v);
    }
    f.covenants_at_batch_end(to);
    f.prune_flows(to);
    f.check_stale(to);
}

/// The manifest version in force at a block.
pub(super) fn version_at(versions: &[ManifestVersion], block: i64) -> &ManifestVersion {
    ManifestVersion::in_force_at(versions, block)
        .expect("a loaded group has at least one manifest version")
}

/// Whether a log is the group's: emitted by a contract it declares, or a transfer or approval
/// one of its treasuries is a party to (ERC-20, ERC-721, ERC-1155). A log the catalog could not
/// decode is the group's when a treasury address is in one of its topics: a filter by
/// treasury returned it, and it is kept as an unknown record, never dropped.
fn belongs(d: &DecodedLog, addresses: &BTreeSet<Address>, treasury: &BTreeSet<Address>) -> bool {
    if addresses.contains(&d.address) {
        return true;
    }
    match &d.event {
        Ok(e) => e
            .parties()
            .is_some_and(|(a, b)| treasury.contains(&a) || treasury.contains(&b)),
        Err(_) => d
            .topics
            .iter()
            .skip(1)
            .any(|t| t[..12] == [0u8; 12] && treasury.contains(&Address::from_word(*t))),
    }
}

/// A record of `d`; `extra` adds derived fields (a proposal's timelock operation id, a Safe
/// execution's signers) to the decoded ones.
fn record_row(
    group_id: &str,
    d: &DecodedLog,
    manifest_hash: &str,
    extra: serde_json::Map<String, serde_json::Value>,
) -> RecordRow {
    let (kind, category, fields) = match &d.event {
        Ok(e) => {
            // Straight to text unless there is something to add (the common case is hot).
            let fields = if extra.is_empty() {
                serde_json::to_string(e).expect("events always serialise")
            } else {
                let mut v = serde_json::to_value(e).expect("events always serialise");
                if let Some(obj) = v.as_object_mut() {
                    obj.extend(extra);
                }
                v.to_string()
            };
            (e.kind(), e.category(), fields)
        }
        Err(err) => (
            crate::model::RecordKind::Unknown,
            crate::model::Category::Unknown,
            serde_json::json!({ "error": err.to_string() }).to_string(),
        ),
    };
    let topics: Vec<String> = d.topics.iter().map(|t| t.to_string()).collect();
    RecordRow {
        group_id: group_id.to_string(),
        chain_id: d.evidence.chain_id as i64,
        block_number: d.evidence.block_number as i64,
        block_hash: d.evidence.block_hash.to_string(),
        block_timestamp: d.evidence.block_timestamp.map(|t| t as i64),
        tx_hash: d.evidence.tx_hash.to_string(),
        tx_index: d.evidence.tx_index as i64,
        log_index: d.evidence.log_index as i64,
        address: d.address.to_checksum(None),
        kind: kind.as_str().to_string(),
        category: category.as_str().to_string(),
        fields,
        topics: serde_json::to_string(&topics).expect("strings serialise"),
        data: d.data.to_string(),
        manifest_hash: Some(manifest_hash.to_string()),
    }
}
