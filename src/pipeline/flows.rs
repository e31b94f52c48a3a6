//! What one transaction did with the group's treasuries, gathered log by log inside the fold
//! and judged once the transaction's last log is seen: the calls of each Safe execution and
//! module execution (from the SafeL2 event, or the transaction's input), their native value,
//! their gas refunds, the ERC-20 transfers out (each matched to the call that made it, so one
//! movement is counted once), timelock calls with value, and the delegatecalls.
//!
//! The calls are known at the execution's own log: a Safe emits `ExecutionSuccess` /
//! `ExecutionFromModuleSuccess` after its calls ran, so every log the calls caused comes
//! before it in the transaction.

use std::collections::{BTreeMap, HashMap, HashSet};

use alloy::primitives::{Address, Bytes, B256, U256};
use serde_json::{json, Value};

use super::group::Moment;
use super::{Prepared, ProposalCalls};
use crate::chain::trace::TracedCall;
use crate::decode::calls::{self, Call, Function, SafeLibraries};
use crate::decode::{DecodedLog, GovernanceEvent, GroupEvent, SafeEvent};
use crate::manifest::{Asset, Manifest};
use crate::model::Rule;
use crate::observe::signers::decode_exec_transaction;
use crate::reconcile::{
    call_outflows, inflow, is_outflow, outflow, reconcile_delegatecall, reconcile_transaction,
    reconcile_windows, Finding, Flow, Outflow,
};

/// The call a Safe was asked to make, as a SafeL2 event announces it.
#[derive(Debug, Clone)]
pub(super) struct Announced {
    to: Address,
    value: U256,
    data: Bytes,
    operation: u8,
    /// Who a gas refund goes to and in what (zero: the sender, in the native currency).
    refund: (Address, Address),
    /// Who sent the execution, where the event or the input tells.
    sender: Option<Address>,
}

/// One Safe or module execution of the transaction, whose record gets its calls.
#[derive(Debug)]
struct Execution {
    /// The index of its record in the fold's output.
    record: usize,
    safe: Address,
    log: u64,
    calls: Vec<Call>,
    /// Why the calls are unknown, when they are.
    unknown: Option<String>,
    module: Option<Address>,
    caller: Option<Address>,
}

/// One transaction's treasury activity, for one group.
#[derive(Debug, Default)]
pub(super) struct TxFlows {
    tx: Option<B256>,
    /// SafeL2 `SafeMultiSigTransaction` / `SafeModuleTransaction` waiting for their execution.
    announced: Vec<(Address, Announced)>,
    executions: Vec<Execution>,
    outflows: Vec<Outflow>,
    /// Indices into `outflows` of ERC-20 transfers not yet matched to a call.
    token_logs: Vec<usize>,
    /// Value that came into a treasury (`to`), from `from`: `SafeReceived`, ERC-20 transfers
    /// in, and in a trace any call with value to a treasury.
    inflows: Vec<Outflow>,
    /// The block time of the transaction, when the node gives it.
    timestamp: Option<u64>,
    findings: Vec<Finding>,
    /// Operations the transaction scheduled on a timelock or proposed to a governor, by id:
    /// what they would move once executed.
    scheduled: BTreeMap<B256, Scheduled>,
    /// Safes set up in the transaction: their singleton is read once, as the baseline.
    setups: Vec<Address>,
    /// Safes a traced delegatecall (one no decoded call showed) ran foreign code in.
    traced_delegatecall: Vec<Address>,
    /// The moment of the transaction's last log of the group: where its findings are dated.
    last: Option<Moment>,
}

/// An operation not yet executed: what it would move, and when it may run.
#[derive(Debug, Default)]
struct Scheduled {
    outflows: Vec<Outflow>,
    findings: Vec<Finding>,
    when: String,
}

/// What a transaction's judgement leaves: findings to open and records to amend.
pub(super) struct Judged {
    pub(super) findings: Vec<Finding>,
    pub(super) moment: Moment,
    /// (record index, the `calls` value to add to its fields).
    pub(super) calls: Vec<(usize, Value)>,
    /// Safes whose singleton may have changed: to be read again.
    pub(super) suspects: Vec<Address>,
    /// Every movement into or out of a treasury the transaction made.
    pub(super) flows: Vec<Flow>,
}

impl TxFlows {
    /// Takes in one log of the group (its record at `record`); `manifest` is the version in
    /// force at the log's block.
    pub(super) fn log(
        &mut self,
        manifest: &Manifest,
        batch: &Prepared,
        d: &DecodedLog,
        moment: Moment,
        record: usize,
        (explained, proposals): (&HashSet<B256>, &HashMap<U256, ProposalCalls>),
    ) {
        self.tx = Some(d.evidence.tx_hash);
        self.last = Some(moment);
        self.timestamp = d.evidence.block_timestamp.or(self.timestamp);
        let Ok(event) = &d.event else { return };
        let li = d.evidence.log_index;
        if let Some(i) = inflow(manifest, d.address, event, li) {
            self.inflows.push(i);
        }
        if let Some(o) = outflow(manifest, d.address, event, li) {
            if matches!(o.asset, Asset::Token(_)) {
                self.token_logs.push(self.outflows.len());
            }
            self.outflows.push(o);
            return;
        }
        if let GroupEvent::Governance(g) = event {
            self.schedule(manifest, d, g, explained, proposals);
            return;
        }
        let GroupEvent::Safe(e) = event else { return };
        let safe = d.address;
        if manifest.safe(&safe).is_none() {
            return;
        }
        match e {
            // A Safe created while followed has no singleton read yet: read its first.
            SafeEvent::SafeSetup { .. } => self.setups.push(safe),
            SafeEvent::SafeMultiSigTransaction {
                to,
                value,
                data,
                operation,
                gas_token,
                refund_receiver,
                additional_info,
                ..
            } => self.announced.push((
                safe,
                Announced {
                    to: *to,
                    value: *value,
                    data: data.clone(),
                    operation: *operation,
                    refund: (*gas_token, *refund_receiver),
                    // `additionalInfo` is abi.encode(nonce, msg.sender, threshold).
                    sender: additional_info.get(44..64).map(Address::from_slice),
                },
            )),
            SafeEvent::SafeModuleTransaction {
                to,
                value,
                data,
                operation,
                ..
            } => self.announced.push((
                safe,
                Announced {
                    to: *to,
                    value: *value,
                    data: data.clone(),
                    operation: *operation,
                    refund: (Address::ZERO, Address::ZERO),
                    sender: None,
                },
            )),
            SafeEvent::ExecutionSuccess { payment, .. }
            | SafeEvent::ExecutionFailure { payment, .. } => {
                let success = matches!(e, SafeEvent::ExecutionSuccess { .. });
                let input = batch.tx_inputs.get(&d.evidence.tx_hash);
                let exec = input
                    .filter(|tx| tx.to == Some(safe))
                    .and_then(|tx| decode_exec_transaction(&tx.input));
                let call = self.take_announced(safe).or_else(|| {
                    exec.as_ref().map(|x| Announced {
                        to: x.to,
                        value: x.value,
                        data: x.data.clone(),
                        operation: x.operation,
                        refund: (x.gas_token, x.refund_receiver),
                        sender: input.map(|tx| tx.from),
                    })
                });
                let (calls, unknown) = match &call {
                    Some(c) => (calls::flatten(c.to, c.value, &c.data, c.operation), None),
                    None => (
                        Vec::new(),
                        Some("executed through another contract: its calls need traces".into()),
                    ),
                };
                if !payment.is_zero() {
                    // The Safe pays the refund to `refundReceiver`, or to the transaction's
                    // sender when none is set, in `gasToken` (native when zero).
                    let (token, receiver) = call.as_ref().map(|c| c.refund).unwrap_or_default();
                    let receiver = if receiver.is_zero() {
                        input
                            .map(|tx| tx.from)
                            .or(call.as_ref().and_then(|c| c.sender))
                            .unwrap_or_default()
                    } else {
                        receiver
                    };
                    let asset = if token.is_zero() {
                        Asset::Native
                    } else {
                        Asset::Token(token)
                    };
                    self.movement(
                        manifest,
                        safe,
                        receiver,
                        asset,
                        *payment,
                        format!("{li}/refund"),
                    );
                }
                self.execution(
                    manifest, safe, li, record, calls, unknown, success, None, None,
                );
            }
            SafeEvent::ExecutionFromModuleSuccess { module }
            | SafeEvent::ExecutionFromModuleFailure { module } => {
                let success = matches!(e, SafeEvent::ExecutionFromModuleSuccess { .. });
                let input = batch.tx_inputs.get(&d.evidence.tx_hash);
                let direct = input
                    .filter(|tx| tx.to == Some(safe) && tx.from == *module)
                    .and_then(|tx| calls::module_call(&tx.input))
                    .map(|(to, value, data, operation)| Announced {
                        to,
                        value,
                        data,
                        operation,
                        refund: (Address::ZERO, Address::ZERO),
                        sender: Some(*module),
                    });
                let call = self.take_announced(safe).or(direct);
                let (calls, unknown) = match &call {
                    Some(c) => (calls::flatten(c.to, c.value, &c.data, c.operation), None),
                    None => (
                        Vec::new(),
                        Some("a module contract's call: its calls need traces".into()),
                    ),
                };
                let caller = input.map(|tx| tx.from);
                self.execution(
                    manifest,
                    safe,
                    li,
                    record,
                    calls,
                    unknown,
                    success,
                    Some(*module),
                    caller,
                );
            }
            _ => {}
        }
    }

    /// A call scheduled on a declared timelock, or a proposal to a declared governor: its
    /// calls judged now, while the delay still lets partners act. A timelock operation a
    /// proposal already explains is the proposal's (judged when it was created).
    fn schedule(
        &mut self,
        manifest: &Manifest,
        d: &DecodedLog,
        event: &GovernanceEvent,
        explained: &HashSet<B256>,
        proposals: &HashMap<U256, ProposalCalls>,
    ) {
        let mut add = |id: B256, payer: Address, i: usize, to, value, data: &Bytes, when| {
            let entry = self.scheduled.entry(id).or_default();
            entry.when = when;
            for c in calls::flatten(to, value, data, calls::OPERATION_CALL) {
                let locator = format!("{i}/{}", c.path);
                if is_outflow(manifest, payer, c.to, c.value) {
                    entry.outflows.push(Outflow {
                        from: payer,
                        to: c.to,
                        asset: Asset::Native,
                        value: c.value,
                        locator: locator.clone(),
                    });
                }
                if let Function::Transfer { to, amount } = c.function {
                    if is_outflow(manifest, payer, to, amount) {
                        entry.outflows.push(Outflow {
                            from: payer,
                            to,
                            asset: Asset::Token(c.to),
                            value: amount,
                            locator,
                        });
                    }
                }
            }
        };
        match event {
            GovernanceEvent::CallScheduled {
                id,
                index,
                target,
                value,
                data,
                delay,
                ..
            } if manifest.timelock(&d.address).is_some() && !explained.contains(id) => {
                let ready = d
                    .evidence
                    .block_timestamp
                    .map(|t| U256::from(t).saturating_add(*delay).to_string())
                    .unwrap_or_else(|| {
                        format!("{delay} s after block {}", d.evidence.block_number)
                    });
                let when = format!("timelock operation {id}, executable from timestamp {ready}");
                let i = usize::try_from(*index).unwrap_or(usize::MAX);
                add(*id, d.address, i, *target, *value, data, when);
            }
            GovernanceEvent::ProposalCreated {
                proposal_id,
                targets,
                values,
                calldatas,
                vote_end,
                ..
            } => {
                let Some(governor) = manifest.governor(&d.address) else {
                    return;
                };
                let payer = governor.timelock.unwrap_or(d.address);
                let id = B256::from(*proposal_id);
                let when = format!(
                    "proposal {proposal_id} of governor {}, voting ends at {vote_end}, then queued                      for the timelock's delay",
                    d.address
                );
                for (i, ((to, value), data)) in
                    targets.iter().zip(values).zip(calldatas).enumerate()
                {
                    add(id, payer, i, *to, *value, data, when.clone());
                }
            }
            // Queued: judged again under the manifest in force now (a policy tightened since
            // the proposal was made); what is already open stays as it is.
            GovernanceEvent::ProposalQueued { proposal_id, eta } => {
                let (Some(governor), Some(calls)) =
                    (manifest.governor(&d.address), proposals.get(proposal_id))
                else {
                    return;
                };
                let payer = governor.timelock.unwrap_or(d.address);
                let id = B256::from(*proposal_id);
                let when = format!(
                    "proposal {proposal_id} of governor {}, queued, executable from {eta}",
                    d.address
                );
                for (i, (to, value, data)) in calls.iter().enumerate() {
                    add(id, payer, i, *to, *value, data, when.clone());
                }
            }
            _ => {}
        }
    }

    fn take_announced(&mut self, safe: Address) -> Option<Announced> {
        let i = self.announced.iter().position(|(s, _)| *s == safe)?;
        Some(self.announced.remove(i).1)
    }

    /// A movement a call or a refund shows: matched to an ERC-20 transfer log already seen
    /// when it is one (the log's movement takes the call's locator), else a movement of its
    /// own.
    fn movement(
        &mut self,
        manifest: &Manifest,
        from: Address,
        to: Address,
        asset: Asset,
        value: U256,
        locator: String,
    ) {
        if !is_outflow(manifest, from, to, value) {
            return;
        }
        if let Asset::Token(_) = asset {
            let matched = self.token_logs.iter().position(|&i| {
                let o = &self.outflows[i];
                o.from == from && o.to == to && o.asset == asset && o.value == value
            });
            if let Some(k) = matched {
                let i = self.token_logs.remove(k);
                self.outflows[i].locator = locator;
            }
            // A token call no log confirms moved nothing (the log is the token's own word).
            return;
        }
        self.outflows.push(Outflow {
            from,
            to,
            asset,
            value,
            locator,
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn execution(
        &mut self,
        manifest: &Manifest,
        safe: Address,
        log: u64,
        record: usize,
        calls: Vec<Call>,
        unknown: Option<String>,
        success: bool,
        module: Option<Address>,
        caller: Option<Address>,
    ) {
        if success {
            for o in call_outflows(safe, log, &calls) {
                self.outflows.push(o);
            }
            for c in &calls {
                let (token_from, to, amount) = match &c.function {
                    Function::Transfer { to, amount } if c.operation == 0 => (safe, *to, *amount),
                    Function::TransferFrom { from, to, amount } if c.operation == 0 => {
                        (*from, *to, *amount)
                    }
                    _ => continue,
                };
                self.movement(
                    manifest,
                    token_from,
                    to,
                    Asset::Token(c.to),
                    amount,
                    format!("{log}/{}", c.path),
                );
            }
            let tx = self.tx.unwrap_or_default();
            for c in &calls {
                if let Some(f) =
                    reconcile_delegatecall(manifest, safe, c, format!("{tx}:{log}/{}", c.path))
                {
                    self.findings.push(f);
                }
            }
        }
        self.executions.push(Execution {
            record,
            safe,
            log,
            calls,
            unknown,
            module,
            caller,
        });
    }

    /// The transaction, once a log of it was taken in.
    pub(super) fn tx(&self) -> Option<B256> {
        self.tx
    }

    /// The block of the transaction, once a log of it was taken in.
    pub(super) fn block(&self) -> Option<i64> {
        self.last.map(|m| m.block)
    }

    /// Whether the transaction so far holds anything to judge.
    pub(super) fn is_empty(&self) -> bool {
        self.outflows.is_empty()
            && self.inflows.is_empty()
            && self.executions.is_empty()
            && self.findings.is_empty()
            && self.scheduled.is_empty()
            && self.setups.is_empty()
    }

    /// The Safes whose executions this transaction ran a delegatecall other than a batch
    /// library in, or whose calls are unknown: the ones whose singleton may have changed; and
    /// the Safes set up in it, whose singleton is the baseline.
    fn singleton_suspects(&self) -> Vec<Address> {
        let mut out: Vec<Address> = self
            .executions
            .iter()
            .filter(|x| {
                x.unknown.is_some()
                    || x.calls.iter().any(|c| {
                        c.is_delegatecall()
                            && !c.is_batch()
                            && calls::safe_library(c.to) != Some(calls::SafeLibrary::SignMessageLib)
                    })
            })
            .map(|x| x.safe)
            .chain(self.traced_delegatecall.iter().copied())
            .chain(self.setups.iter().copied())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Adds what the transaction's call trace shows: native value any call moved out of a
    /// treasury (a module contract's payment, a timelock's call, a refund), each matched to the
    /// movement a decoded call or event already showed, else a movement of its own (`trace/…`);
    /// and the delegatecalls a treasury Safe made that no decoded call showed.
    fn add_trace(&mut self, manifest: &Manifest, libraries: &SafeLibraries, trace: &[TracedCall]) {
        let treasury = manifest.treasury_addresses();
        let mut unmatched: Vec<usize> = (0..self.outflows.len())
            .filter(|&i| self.outflows[i].asset == Asset::Native)
            .collect();
        let tx = self.tx.unwrap_or_default();
        for t in trace {
            // A call into a Safe proxy forwards to its singleton with a delegatecall: that hop
            // is the proxy at work, not the Safe delegatecalling (which happens inside it).
            let proxy_hop = t.path.split_last().is_some_and(|(_, up)| {
                trace
                    .iter()
                    .any(|p| p.path == up && p.to == t.from && p.kind != "DELEGATECALL")
            });
            if t.kind == "DELEGATECALL" && !proxy_hop && manifest.safe(&t.from).is_some() {
                let decoded = self.executions.iter().any(|x| {
                    x.safe == t.from && x.calls.iter().any(|c| c.is_delegatecall() && c.to == t.to)
                });
                // A trace frame carries no decoded input: a delegatecall to a batch library is
                // taken for the batch it is (its calls show in the trace as the Safe's own).
                let function = if libraries.is_batch(t.to) {
                    Function::MultiSend { calls: 0 }
                } else {
                    Function::Unknown {
                        selector: "traced".into(),
                    }
                };
                let call = Call {
                    path: format!("trace/{}", t.path_text()),
                    to: t.to,
                    value: U256::ZERO,
                    operation: calls::OPERATION_DELEGATECALL,
                    function,
                };
                if !decoded {
                    if let Some(f) = reconcile_delegatecall(
                        manifest,
                        t.from,
                        &call,
                        format!("{tx}:{}", call.path),
                    ) {
                        self.findings.push(f);
                        self.traced_delegatecall.push(t.from);
                    }
                }
            }
            if t.moves_value() && treasury.contains(&t.to) && t.from != t.to {
                // Value in: a Safe's `SafeReceived` already says so; a timelock's receive()
                // does not, nor does a payable function.
                let seen = self.inflows.iter().any(|i| {
                    i.asset == Asset::Native
                        && i.from == t.from
                        && i.to == t.to
                        && i.value == t.value
                });
                if !seen {
                    self.inflows.push(Outflow {
                        from: t.from,
                        to: t.to,
                        asset: Asset::Native,
                        value: t.value,
                        locator: format!("trace/{}", t.path_text()),
                    });
                }
            }
            if !t.moves_value() || !treasury.contains(&t.from) || t.from == t.to {
                continue;
            }
            let matched = unmatched.iter().position(|&i| {
                let o = &self.outflows[i];
                o.from == t.from && o.to == t.to && o.value == t.value
            });
            match matched {
                Some(k) => {
                    unmatched.remove(k);
                }
                None => self.outflows.push(Outflow {
                    from: t.from,
                    to: t.to,
                    asset: Asset::Native,
                    value: t.value,
                    locator: format!("trace/{}", t.path_text()),
                }),
            }
        }
    }

    /// Judges the transaction against the policy in force and empties the accumulator; `trace`
    /// is the transaction's call trace, when the node gave one, and `libraries` the chain's Safe
    /// libraries it is read with.
    pub(super) fn finish(
        &mut self,
        manifest: &Manifest,
        libraries: &SafeLibraries,
        trace: Option<&Vec<TracedCall>>,
        recent: &[Flow],
    ) -> Option<Judged> {
        if let Some(trace) = trace {
            self.add_trace(manifest, libraries, trace);
        }
        let suspects = self.singleton_suspects();
        let taken = std::mem::take(self);
        let (tx, moment) = (taken.tx?, taken.last?);
        let mut findings = reconcile_transaction(manifest, tx, &taken.outflows);
        findings.extend(taken.findings);
        findings.extend(reconcile_windows(
            manifest,
            tx,
            taken.timestamp,
            &taken.outflows,
            recent,
        ));
        for (id, op) in taken.scheduled {
            for mut f in reconcile_transaction(manifest, id, &op.outflows)
                .into_iter()
                .chain(op.findings)
            {
                f.observed = format!("{} — not yet executed: {}", f.observed, op.when);
                findings.push(f);
            }
        }
        let calls = taken
            .executions
            .iter()
            .map(|x| (x.record, describe(x, &taken.outflows, &findings, tx)))
            .collect();
        let flows = taken
            .outflows
            .iter()
            .map(|o| Flow::of(o, true, tx, moment.block, taken.timestamp))
            .chain(
                taken
                    .inflows
                    .iter()
                    .map(|i| Flow::of(i, false, tx, moment.block, taken.timestamp)),
            )
            .collect();
        Some(Judged {
            findings,
            moment,
            calls,
            suspects,
            flows,
        })
    }
}

/// An execution as its record shows it: each call (to, value, operation, function, the
/// movement it made) with the policy's verdict on it, and who acted.
fn describe(x: &Execution, outflows: &[Outflow], findings: &[Finding], tx: B256) -> Value {
    let calls: Vec<Value> = x
        .calls
        .iter()
        .map(|c| {
            let locator = format!("{}/{}", x.log, c.path);
            let item = format!("{tx}:{locator}");
            let moved: Vec<&Outflow> = outflows.iter().filter(|o| o.locator == locator).collect();
            let mut verdict: Vec<&'static str> = findings
                .iter()
                .filter(|f| {
                    f.key == item
                        || (f.rule == Rule::TreasuryOutflowOverLimit
                            && moved.iter().any(|o| f.key == format!("{tx}:{}", o.asset)))
                })
                .map(|f| f.rule.as_str())
                .collect();
            verdict.sort();
            verdict.dedup();
            let mut v = serde_json::to_value(c).expect("calls serialise");
            let obj = v.as_object_mut().expect("a call is an object");
            if let Some(o) = moved.first() {
                obj.insert("asset".into(), o.asset.to_string().into());
                obj.insert("amount".into(), o.value.to_string().into());
            }
            obj.insert("verdict".into(), json!(verdict));
            v
        })
        .collect();
    let refund: Option<Value> = outflows
        .iter()
        .find(|o| o.locator == format!("{}/refund", x.log))
        .map(
            |o| json!({ "to": o.to, "asset": o.asset.to_string(), "amount": o.value.to_string() }),
        );
    let mut out = json!({ "calls": calls });
    let obj = out.as_object_mut().expect("an object");
    if let Some(why) = &x.unknown {
        obj.insert("calls_unknown".into(), why.clone().into());
    }
    if let Some(m) = x.module {
        obj.insert("module".into(), json!(m));
    }
    if let Some(c) = x.caller {
        obj.insert("caller".into(), json!(c));
    }
    if let Some(r) = refund {
        obj.insert("refund".into(), r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A traced delegatecall of a treasury Safe to a batch library of its chain is the batch
    /// it runs; to anything else, a finding.
    #[test]
    fn a_traced_delegatecall_to_the_chains_own_multisend_is_a_batch() {
        let safe = Address::repeat_byte(0x5a);
        let manifest = Manifest::parse(&format!(
            "id: g\nname: G\npurpose: Testing.\nphase: coordination\nchain: local\n\
             start_block: 10\ntreasury:\n  safes:\n    - address: \"{safe}\"\n      \
             owners: [\"{}\"]\n      threshold: 1\n",
            Address::repeat_byte(1)
        ))
        .unwrap();
        let own = Address::repeat_byte(0x77);
        let trace = [TracedCall {
            path: vec![0],
            kind: "DELEGATECALL".into(),
            from: safe,
            to: own,
            value: U256::ZERO,
        }];
        let findings = |libraries: &SafeLibraries| {
            let mut flows = TxFlows::default();
            flows.add_trace(&manifest, libraries, &trace);
            flows.findings.iter().map(|f| f.rule).collect::<Vec<Rule>>()
        };
        assert_eq!(findings(&SafeLibraries::new([], [own])), []);
        assert_eq!(
            findings(&SafeLibraries::default()),
            [Rule::SafeDelegatecallUndeclared]
        );
    }
}
