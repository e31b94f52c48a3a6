//! From observations to divergences: reconcile a contract at a moment and open or resolve what
//! changed, the rules about single events (outflows, unexplained timelock calls), the periodic
//! re-reads, and the documentation's staleness.

use super::*;

/// Opens `documentation.stale` at the block where the oldest open structural divergence has
/// been open for the grace period, if that block is at or before `up_to`. Checked before every
/// evaluation and at the end of each batch, and always dated at that deadline block, so the
/// result does not depend on where batches begin and end.
pub(super) async fn check_stale(
    tx: &mut BatchTx,
    g: &GroupCtx,
    view: &BatchView<'_>,
    up_to: i64,
    stats: &mut BatchStats,
) -> Result<(), ApplyError> {
    let open = tx.open_group_divergences(&g.row.id).await?;
    let structural = |d: &&Divergence| Rule::parse(&d.rule).is_some_and(|r| r.is_structural());
    if open
        .iter()
        .any(|d| d.rule == Rule::DocumentationStale.as_str())
    {
        return Ok(());
    }
    let oldest = open.iter().filter(structural).map(|d| d.opened_block);
    let Some(deadline) = documentation_stale_at(oldest.clone(), view.chain.grace_blocks) else {
        return Ok(());
    };
    if deadline > up_to {
        return Ok(());
    }
    let since = oldest.min().unwrap_or(deadline);
    let m = Moment {
        block: deadline,
        block_hash: block_hash(view.chain.rpc, view.hashes, deadline).await?,
        tx_hash: None,
        log_index: None,
        by: "chain",
    };
    let version = g.version_at(deadline);
    let f = Finding {
        rule: Rule::DocumentationStale,
        subject: Address::ZERO,
        key: String::new(),
        expected: format!(
            "the manifest updated within {} blocks of a structural change",
            view.chain.grace_blocks
        ),
        observed: format!("structure disagrees with the manifest since block {since}"),
    };
    open_divergence(tx, g, version, f, &m, stats).await
}

/// Resolves `documentation.stale` once no structural divergence is open any more.
pub(super) async fn settle_stale(
    tx: &mut BatchTx,
    g: &GroupCtx,
    m: &Moment,
    stats: &mut BatchStats,
) -> Result<(), ApplyError> {
    let open = tx.open_group_divergences(&g.row.id).await?;
    let stale = open
        .iter()
        .find(|d| d.rule == Rule::DocumentationStale.as_str());
    let structural_left = open
        .iter()
        .any(|d| Rule::parse(&d.rule).is_some_and(|r| r.is_structural()));
    if let (Some(stale), false) = (stale, structural_left) {
        let r = m.resolution(g.version_at(m.block).hash.clone());
        tx.resolve_divergence(&g.row.id, stale.n, &r).await?;
        stats.resolved += 1;
    }
    Ok(())
}

/// Reconciles every contract a transaction changed, at the moment of its last change.
pub(super) async fn reconcile_changed(
    tx: &mut BatchTx,
    view: &BatchView<'_>,
    g: &GroupCtx,
    states: &BTreeMap<(Address, ContractKind), Observed>,
    changed: &mut BTreeMap<(Address, ContractKind), Moment>,
    stats: &mut BatchStats,
) -> Result<(), ApplyError> {
    for (key, moment) in std::mem::take(changed) {
        evaluate(tx, view, g, key.0, &states[&key], &moment, stats).await?;
    }
    Ok(())
}

/// Reads every contract again at block `at` (a multiple of the snapshot interval, after all
/// its events); what the calls show and the events did not is stored and reconciled at `at`.
pub(super) async fn refresh(
    tx: &mut BatchTx,
    view: &BatchView<'_>,
    g: &GroupCtx,
    states: &mut BTreeMap<(Address, ContractKind), Observed>,
    at: i64,
    stats: &mut BatchStats,
) -> Result<(), ApplyError> {
    /// After every log of the block in the state history.
    const AFTER_THE_BLOCK: i64 = 1 << 40;
    for ((contract, kind), state) in states.iter_mut() {
        let fresh = state
            .refreshed(view.chain.rpc, *contract, at as u64)
            .await?;
        if fresh == *state {
            continue;
        }
        tracing::warn!(group = %g.row.id, contract = %contract, kind = kind.as_str(), block = at,
            "a snapshot shows a change no event announced");
        let key = contract.to_checksum(None);
        tx.insert_state(
            &g.row.id,
            &key,
            kind.as_str(),
            at,
            AFTER_THE_BLOCK,
            "refresh",
            &fresh.to_json(),
        )
        .await?;
        *state = fresh;
        let moment = Moment {
            block: at,
            block_hash: block_hash(view.chain.rpc, view.hashes, at).await?,
            tx_hash: None,
            log_index: None,
            by: "chain",
        };
        evaluate(tx, view, g, *contract, state, &moment, stats).await?;
    }
    Ok(())
}

/// Timelock operations seen in a group's batch: those a declared governor's proposals explain,
/// and those already flagged.
#[derive(Default)]
pub(super) struct TimelockCalls {
    pub(super) loaded: bool,
    pub(super) explained: HashSet<B256>,
    pub(super) flagged: HashSet<B256>,
}

/// The rules about single events: treasury outflows against the policy, and timelock
/// operations no proposal explains (a `Cancelled` one is resolved).
#[allow(clippy::too_many_arguments)]
pub(super) async fn event_rules(
    tx: &mut BatchTx,
    g: &GroupCtx,
    version: &ManifestVersion,
    d: &DecodedLog,
    event: &GroupEvent,
    m: &Moment,
    calls: &mut TimelockCalls,
    stats: &mut BatchStats,
) -> Result<(), ApplyError> {
    let manifest = &version.manifest;
    let item = format!("{}:{}", d.evidence.tx_hash, d.evidence.log_index);
    let mut findings = Vec::new();
    if let Some(out) = outflow(manifest, d.address, event) {
        findings.extend(reconcile_outflow(manifest, &out, &item));
    }
    match event {
        GroupEvent::Governance(GovernanceEvent::CallScheduled { id, .. })
            if manifest.timelock(&d.address).is_some() =>
        {
            if !calls.loaded {
                calls
                    .explained
                    .extend(tx.proposal_operation_ids(&g.row.id).await?);
                calls.loaded = true;
            }
            // A batch operation emits one CallScheduled per call: flag the operation once.
            if !calls.explained.contains(id) && calls.flagged.insert(*id) {
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
        }
        GroupEvent::Governance(GovernanceEvent::Cancelled { id }) => {
            let subject = d.address.to_checksum(None);
            for open in tx.open_divergences(&g.row.id, &subject).await? {
                if open.rule == Rule::TimelockUnexplainedCall.as_str()
                    && open.item == id.to_string()
                {
                    let r = m.resolution(version.hash.clone());
                    tx.resolve_divergence(&g.row.id, open.n, &r).await?;
                    stats.resolved += 1;
                }
            }
        }
        _ => {}
    }
    for f in findings {
        open_divergence(tx, g, version, f, m, stats).await?;
    }
    Ok(())
}

pub(super) async fn manifest_takes_effect(
    tx: &mut BatchTx,
    view: &BatchView<'_>,
    g: &GroupCtx,
    v: &ManifestVersion,
    states: &BTreeMap<(Address, ContractKind), Observed>,
    stats: &mut BatchStats,
) -> Result<(), ApplyError> {
    let moment = Moment {
        block: v.effective_block,
        block_hash: block_hash(view.chain.rpc, view.hashes, v.effective_block).await?,
        tx_hash: None,
        log_index: None,
        by: "manifest",
    };
    for ((contract, _), state) in states {
        evaluate(tx, view, g, *contract, state, &moment, stats).await?;
    }
    Ok(())
}

/// Reconciles one contract's structure of one kind against the manifest in force at the
/// moment, and opens or resolves that kind's divergences accordingly.
pub(super) async fn evaluate(
    tx: &mut BatchTx,
    view: &BatchView<'_>,
    g: &GroupCtx,
    contract: Address,
    state: &Observed,
    m: &Moment,
    stats: &mut BatchStats,
) -> Result<(), ApplyError> {
    check_stale(tx, g, view, m.block - 1, stats).await?;
    let version = g.version_at(m.block);
    let findings = reconcile(&version.manifest, contract, state);
    let subject = contract.to_checksum(None);
    let open = tx.open_divergences(&g.row.id, &subject).await?;
    let keyed: Vec<(i64, (Rule, Address, String))> = open
        .iter()
        .filter_map(|d| Rule::parse(&d.rule).map(|r| (d.n, (r, contract, d.item.clone()))))
        .filter(|(_, (r, _, _))| r.is_structural() && r.kind() == state.kind())
        .collect();
    let t = transition(&keyed, findings);
    for n in t.resolve {
        let r = m.resolution(version.hash.clone());
        tx.resolve_divergence(&g.row.id, n, &r).await?;
        stats.resolved += 1;
    }
    for f in t.open {
        open_divergence(tx, g, version, f, m, stats).await?;
    }
    settle_stale(tx, g, m, stats).await?;
    Ok(())
}

/// A record of `d`; `extra` adds derived fields (a proposal's timelock operation id, a Safe
/// execution's signers) to the decoded ones.
pub(super) async fn open_divergence(
    tx: &mut BatchTx,
    g: &GroupCtx,
    version: &ManifestVersion,
    f: Finding,
    m: &Moment,
    stats: &mut BatchStats,
) -> Result<(), ApplyError> {
    let subject = f.subject.to_checksum(None);
    tracing::warn!(group = %g.row.id, rule = %f.rule, subject = %subject, item = %f.key,
        block = m.block, "divergence opened");
    let d = NewDivergence {
        group_id: g.row.id.clone(),
        rule: f.rule,
        subject,
        item: f.key,
        expected: f.expected,
        observed: f.observed,
        block: m.block,
        block_hash: m.block_hash.clone(),
        tx_hash: m.tx_hash.clone(),
        log_index: m.log_index,
        manifest_hash: version.hash.clone(),
    };
    tx.open_divergence(&d).await?;
    stats.opened += 1;
    Ok(())
}
