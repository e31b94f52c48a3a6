//! Treasury policy rules on outflows: every movement of value out of a declared Safe or
//! Timelock — a call a Safe execution or a module execution made (batched or not), a gas
//! refund, an executed timelock call, an ERC-20 `Transfer` from it — checked per transaction
//! against the declared limits (the transaction's total per asset) and allowed recipients, and
//! the Safe delegatecalls to contracts neither known nor declared. These are about events, not
//! structure: each finding is about one transaction and stays open until acknowledged.

use std::collections::BTreeMap;

use alloy::primitives::{Address, B256, U256};

use super::{Finding, Rule};
use crate::decode::calls::{safe_library, Call, SafeLibrary};
use crate::decode::{GovernanceEvent, GroupEvent, SafeEvent};
use crate::manifest::{Asset, Manifest};

/// A movement of value out of a treasury address. Its identity is (transaction, `locator`,
/// asset): whichever sources saw it, it is recorded and checked once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outflow {
    pub from: Address,
    pub to: Address,
    pub asset: Asset,
    pub value: U256,
    /// Where in the transaction: `"{log}/{path}"` for a call of the Safe execution logged at
    /// `log` (`path` as [`Call::path`], or `refund` for its gas refund); `"{log}"` for a
    /// movement only a log shows (an ERC-20 `Transfer`, a timelock's `CallExecuted`).
    pub locator: String,
}

impl Outflow {
    /// The divergence item naming this outflow: `"{tx}:{locator}"`.
    pub fn item(&self, tx: B256) -> String {
        format!("{tx}:{}", self.locator)
    }
}

/// The outflow a log shows by itself, if it is one out of a treasury address of `manifest`: an
/// ERC-20 `Transfer` from it, or a declared timelock's executed call with value.
pub fn outflow(
    manifest: &Manifest,
    emitter: Address,
    event: &GroupEvent,
    log_index: u64,
) -> Option<Outflow> {
    let (from, to, asset, value) = match event {
        GroupEvent::Governance(GovernanceEvent::Transfer { from, to, value }) => {
            (*from, *to, Asset::Token(emitter), *value)
        }
        GroupEvent::Governance(GovernanceEvent::CallExecuted { target, value, .. })
            if manifest.timelock(&emitter).is_some() =>
        {
            (emitter, *target, Asset::Native, *value)
        }
        _ => return None,
    };
    is_outflow(manifest, from, to, value).then(|| Outflow {
        from,
        to,
        asset,
        value,
        locator: log_index.to_string(),
    })
}

/// Whether `value` moving `from` → `to` leaves a treasury of `manifest` (zero and self moves
/// are none).
pub fn is_outflow(manifest: &Manifest, from: Address, to: Address, value: U256) -> bool {
    !value.is_zero() && from != to && manifest.treasury_addresses().contains(&from)
}

/// The native outflows the calls of one Safe execution made (logged at `log`): each `CALL`
/// with value. A delegatecall moves no value of its own (its code runs as the Safe; what it
/// sends shows as the calls of a batch, or in a trace).
pub fn call_outflows(safe: Address, log: u64, calls: &[Call]) -> Vec<Outflow> {
    calls
        .iter()
        .filter(|c| !c.is_delegatecall() && !c.value.is_zero() && c.to != safe)
        .map(|c| Outflow {
            from: safe,
            to: c.to,
            asset: Asset::Native,
            value: c.value,
            locator: format!("{log}/{}", c.path),
        })
        .collect()
}

/// Checks every outflow of one transaction against the treasury policy in force: each
/// treasury's total per asset against the per-transaction limit (the finding lists the
/// movements), then each movement's recipient.
pub fn reconcile_transaction(manifest: &Manifest, tx: B256, outflows: &[Outflow]) -> Vec<Finding> {
    let policy = &manifest.treasury.policy;
    let mut totals: BTreeMap<(Address, Asset), Vec<&Outflow>> = BTreeMap::new();
    for o in outflows {
        totals.entry((o.from, o.asset)).or_default().push(o);
    }
    let mut findings = Vec::new();
    for ((from, asset), moves) in &totals {
        let Some(limit) = policy.limit(asset) else {
            continue;
        };
        let total = moves
            .iter()
            .fold(U256::ZERO, |t, o| t.saturating_add(o.value));
        if total <= limit {
            continue;
        }
        let listed: Vec<String> = moves
            .iter()
            .map(|o| format!("{} to {} ({})", o.value, o.to, o.locator))
            .collect();
        findings.push(Finding {
            rule: Rule::TreasuryOutflowOverLimit,
            subject: *from,
            key: format!("{tx}:{asset}"),
            expected: format!("at most {limit} of {asset} per transaction"),
            observed: format!(
                "{total} of {asset} in {} movement{}: {}",
                moves.len(),
                if moves.len() == 1 { "" } else { "s" },
                listed.join(", ")
            ),
        });
    }
    // Moving funds between the group's own treasuries is not paying someone.
    let own = manifest.treasury_addresses();
    for o in outflows {
        if !policy.allows_recipient(&o.to) && !own.contains(&o.to) {
            findings.push(Finding {
                rule: Rule::TreasuryRecipientNotAllowed,
                subject: o.from,
                key: o.item(tx),
                expected: format!(
                    "recipients {}",
                    super::safe::list(policy.allowed_recipients.iter().copied())
                ),
                observed: format!("{} of {} to {}", o.value, o.asset, o.to),
            });
        }
    }
    findings
}

/// A Safe's delegatecall to a contract that is neither a Safe library (MultiSend,
/// MultiSendCallOnly, SignMessageLib, CreateCall) nor declared in the Safe's
/// `delegatecall_targets`: its code ran as the Safe, with the power to rewrite the Safe's
/// storage (owners, modules, the singleton in slot 0).
pub fn reconcile_delegatecall(
    manifest: &Manifest,
    safe: Address,
    call: &Call,
    item: String,
) -> Option<Finding> {
    if !call.is_delegatecall() || call.is_batch() {
        return None;
    }
    if let Some(lib) = safe_library(call.to) {
        // A batch library is only fine when it ran as a batch (its data unpacked).
        if !matches!(lib, SafeLibrary::MultiSend | SafeLibrary::MultiSendCallOnly) {
            return None;
        }
    }
    if manifest.delegatecall_targets(&safe).contains(&call.to) {
        return None;
    }
    Some(Finding {
        rule: Rule::SafeDelegatecallUndeclared,
        subject: safe,
        key: item,
        expected: format!(
            "delegatecalls to Safe libraries or declared targets {}",
            super::safe::list(manifest.delegatecall_targets(&safe).iter().copied())
        ),
        observed: format!("delegatecall to {} ({})", call.to, call.function.name()),
    })
}

/// The inflow a log shows by itself, if it is one into a treasury address of `manifest`: a
/// Safe's `SafeReceived`, or an ERC-20 `Transfer` to it.
pub fn inflow(
    manifest: &Manifest,
    emitter: Address,
    event: &GroupEvent,
    log_index: u64,
) -> Option<Outflow> {
    let treasury = manifest.treasury_addresses();
    let (from, to, asset, value) = match event {
        GroupEvent::Governance(GovernanceEvent::Transfer { from, to, value }) => {
            (*from, *to, Asset::Token(emitter), *value)
        }
        GroupEvent::Safe(SafeEvent::SafeReceived { sender, value }) => {
            (*sender, emitter, Asset::Native, *value)
        }
        _ => return None,
    };
    (!value.is_zero() && from != to && treasury.contains(&to)).then(|| Outflow {
        from,
        to,
        asset,
        value,
        locator: log_index.to_string(),
    })
}

/// A movement of value into or out of a treasury, as recorded: what the rolling limits and the
/// balance check add up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub treasury: Address,
    pub asset: Asset,
    /// Out of the treasury (else into it).
    pub out: bool,
    /// The recipient of an outflow, the sender of an inflow.
    pub counterparty: Address,
    pub amount: U256,
    pub block: i64,
    pub timestamp: Option<u64>,
    pub tx: B256,
    pub locator: String,
}

impl Flow {
    /// The flow a movement is for its treasury: `out` of `m.from`, or into `m.to`.
    pub fn of(m: &Outflow, out: bool, tx: B256, block: i64, timestamp: Option<u64>) -> Flow {
        let (treasury, counterparty) = if out { (m.from, m.to) } else { (m.to, m.from) };
        Flow {
            treasury,
            asset: m.asset,
            out,
            counterparty,
            amount: m.value,
            block,
            timestamp,
            tx,
            locator: m.locator.clone(),
        }
    }
}

/// The rolling limits (`max_outflow_per_day`, `max_outflow_per_month`): a transaction whose
/// outflows, with every earlier outflow of the same treasury and asset in the window of block
/// time ending at it, exceed the limit. Without a block time nothing can be said.
pub fn reconcile_windows(
    manifest: &Manifest,
    tx: B256,
    timestamp: Option<u64>,
    outflows: &[Outflow],
    recent: &[Flow],
) -> Vec<Finding> {
    let policy = &manifest.treasury.policy;
    let Some(now) = timestamp else {
        return Vec::new();
    };
    let mut totals: BTreeMap<(Address, Asset), U256> = BTreeMap::new();
    for o in outflows {
        let t = totals.entry((o.from, o.asset)).or_default();
        *t = t.saturating_add(o.value);
    }
    let mut findings = Vec::new();
    for ((from, asset), total) in totals {
        for (name, limit, secs) in [
            (
                "day",
                policy.daily_limit(&asset),
                crate::manifest::Policy::DAY_SECONDS,
            ),
            (
                "month",
                policy.monthly_limit(&asset),
                crate::manifest::Policy::MONTH_SECONDS,
            ),
        ] {
            let Some(limit) = limit else { continue };
            let since = now.saturating_sub(secs);
            let before = recent
                .iter()
                .filter(|f| f.out && f.treasury == from && f.asset == asset && f.tx != tx)
                .filter(|f| f.timestamp.is_some_and(|t| t > since && t <= now))
                .fold(U256::ZERO, |s, f| s.saturating_add(f.amount));
            let window = before.saturating_add(total);
            if window > limit {
                findings.push(Finding {
                    rule: Rule::TreasuryOutflowOverLimit,
                    subject: from,
                    key: format!("{tx}:{asset}:{name}"),
                    expected: format!("at most {limit} of {asset} per {name} (rolling)"),
                    observed: format!(
                        "{window} of {asset} in the {name} up to this transaction ({total} in it)"
                    ),
                });
            }
        }
    }
    findings
}

/// The balance check of one treasury and asset between two readings: what the balance should
/// be (`before` plus the recorded inflows minus the recorded outflows after block `from` up to
/// block `to`) against what it is. Money missing is `treasury.unexplained_outflow`, money
/// extra `treasury.unexplained_inflow`.
pub fn reconcile_balance(
    treasury: Address,
    asset: Asset,
    (from, before): (i64, U256),
    (to, now): (i64, U256),
    flows: &[Flow],
    tolerance: U256,
) -> Option<Finding> {
    let (mut inflows, mut outflows) = (U256::ZERO, U256::ZERO);
    for f in flows
        .iter()
        .filter(|f| f.treasury == treasury && f.asset == asset && f.block > from && f.block <= to)
    {
        if f.out {
            outflows = outflows.saturating_add(f.amount);
        } else {
            inflows = inflows.saturating_add(f.amount);
        }
    }
    // before + in - out, without going through a negative number.
    let credit = before.saturating_add(inflows);
    let (rule, amount) = if now.saturating_add(outflows) < credit {
        (
            Rule::TreasuryUnexplainedOutflow,
            credit - now.saturating_add(outflows),
        )
    } else if now.saturating_add(outflows) > credit {
        (
            Rule::TreasuryUnexplainedInflow,
            now.saturating_add(outflows) - credit,
        )
    } else {
        return None;
    };
    if amount <= tolerance {
        return None;
    }
    let direction = if rule == Rule::TreasuryUnexplainedOutflow {
        "left"
    } else {
        "arrived"
    };
    Some(Finding {
        rule,
        subject: treasury,
        key: format!("{asset}:{from}-{to}"),
        expected: format!(
            "balance {before} at block {from}, plus {inflows} in and minus {outflows} out recorded up to block {to}"
        ),
        observed: format!(
            "balance {now} at block {to}: {amount} of {asset} {direction} that no recorded movement explains"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(policy: &str) -> Manifest {
        let yaml = format!(
            "id: g\nname: G\npurpose: P\nphase: coordination\nchain: local\ntreasury:\n  safes:\n    - address: \"{}\"\n      owners: [\"{}\"]\n      threshold: 1\n  policy:\n{policy}",
            Address::repeat_byte(0x5a),
            Address::repeat_byte(0x01),
        );
        Manifest::parse(&yaml).unwrap()
    }

    fn pay(log: u64, path: &str, to: Address, value: u64) -> Outflow {
        Outflow {
            from: Address::repeat_byte(0x5a),
            to,
            asset: Asset::Native,
            value: U256::from(value),
            locator: format!("{log}/{path}"),
        }
    }

    fn rules(findings: &[Finding]) -> Vec<(Rule, String)> {
        findings.iter().map(|f| (f.rule, f.key.clone())).collect()
    }

    #[test]
    fn a_transaction_is_judged_by_its_total_per_asset_and_each_recipient() {
        let allowed = Address::repeat_byte(0xaa);
        let m = manifest(&format!(
            "    max_outflow: {{ native: \"100\" }}\n    allowed_recipients: [\"{allowed}\"]\n"
        ));
        let tx = B256::repeat_byte(1);
        assert_eq!(
            rules(&reconcile_transaction(&m, tx, &[pay(3, "0", allowed, 100)])),
            vec![]
        );
        // A batch of 60 + 60 breaks a limit of 100 that each call keeps.
        let batch = [pay(3, "0.0", allowed, 60), pay(3, "0.1", allowed, 60)];
        let found = reconcile_transaction(&m, tx, &batch);
        assert_eq!(
            rules(&found),
            vec![(Rule::TreasuryOutflowOverLimit, format!("{tx}:native"))]
        );
        assert!(found[0].observed.contains("120 of native in 2 movements"));
        assert!(found[0].observed.contains("(3/0.1)"));
        let stranger = Address::repeat_byte(0xbb);
        assert_eq!(
            rules(&reconcile_transaction(
                &m,
                tx,
                &[pay(3, "0", stranger, 101)]
            )),
            vec![
                (Rule::TreasuryOutflowOverLimit, format!("{tx}:native")),
                (Rule::TreasuryRecipientNotAllowed, format!("{tx}:3/0")),
            ]
        );
        // Tokens without a declared limit: only the recipient is checked.
        let token = Outflow {
            asset: Asset::Token(Address::repeat_byte(0x70)),
            ..pay(9, "0", allowed, 10u64.pow(18))
        };
        assert_eq!(rules(&reconcile_transaction(&m, tx, &[token])), vec![]);
    }

    #[test]
    fn logs_show_token_transfers_and_timelock_calls_out_only() {
        let m = manifest("");
        let safe = Address::repeat_byte(0x5a);
        let out = GroupEvent::Governance(GovernanceEvent::Transfer {
            from: safe,
            to: Address::repeat_byte(0xaa),
            value: U256::from(5),
        });
        let o = outflow(&m, Address::repeat_byte(0x70), &out, 4).unwrap();
        assert_eq!(o.locator, "4");
        assert_eq!(o.asset, Asset::Token(Address::repeat_byte(0x70)));
        let incoming = GroupEvent::Governance(GovernanceEvent::Transfer {
            from: Address::repeat_byte(0xaa),
            to: safe,
            value: U256::from(1),
        });
        assert!(outflow(&m, Address::repeat_byte(0x70), &incoming, 5).is_none());
    }

    #[test]
    fn delegatecalls_to_unknown_code_are_findings_batches_and_libraries_are_not() {
        use crate::decode::calls::{flatten, multi_send_data, BatchItem};
        let m = manifest("");
        let safe = Address::repeat_byte(0x5a);
        let evil = Address::repeat_byte(0xee);
        let call_only = alloy::primitives::address!("9641d764fc13c8B624c04430C7356C1C7C8102e2");
        let batch = multi_send_data(&[BatchItem {
            operation: 0,
            to: Address::repeat_byte(0xaa),
            value: U256::from(1),
            data: Default::default(),
        }]);
        let calls = flatten(call_only, U256::ZERO, &batch, 1);
        assert!(calls
            .iter()
            .all(|c| reconcile_delegatecall(&m, safe, c, "x".into()).is_none()));
        let calls = flatten(evil, U256::ZERO, &[0x12, 0x34, 0x56, 0x78], 1);
        let f = reconcile_delegatecall(&m, safe, &calls[0], "tx:3/0".into()).unwrap();
        assert_eq!(f.rule, Rule::SafeDelegatecallUndeclared);
        assert_eq!(f.key, "tx:3/0");
        // The same call made with CALL runs nothing as the Safe.
        let calls = flatten(evil, U256::ZERO, &[0x12, 0x34, 0x56, 0x78], 0);
        assert!(reconcile_delegatecall(&m, safe, &calls[0], "x".into()).is_none());
        // Native value of the calls a batch made, each its own movement.
        let outs = call_outflows(safe, 3, &flatten(call_only, U256::ZERO, &batch, 1));
        assert_eq!(outs.len(), 1);
        assert_eq!(outs[0].locator, "3/0.0");
    }

    #[test]
    fn the_balance_check_names_what_no_movement_explains() {
        let safe = Address::repeat_byte(0x5a);
        let flow = |block, out, amount: u64| Flow {
            treasury: safe,
            asset: Asset::Native,
            out,
            counterparty: Address::repeat_byte(0xaa),
            amount: U256::from(amount),
            block,
            timestamp: None,
            tx: B256::ZERO,
            locator: "0".into(),
        };
        let flows = [flow(5, true, 30), flow(6, false, 10), flow(20, true, 1000)];
        let check = |now: u64| {
            reconcile_balance(
                safe,
                Asset::Native,
                (0, U256::from(100)),
                (10, U256::from(now)),
                &flows,
                U256::ZERO,
            )
        };
        assert_eq!(check(80), None);
        let out = check(73).unwrap();
        assert_eq!(out.rule, Rule::TreasuryUnexplainedOutflow);
        assert_eq!(out.key, "native:0-10");
        assert!(out.observed.contains("7 of native left"));
        // Within a declared tolerance (a rebasing token), a drift is no finding.
        let drift = reconcile_balance(
            safe,
            Asset::Native,
            (0, U256::from(100)),
            (10, U256::from(73)),
            &flows,
            U256::from(7),
        );
        assert_eq!(drift, None);
        let inflow = check(81).unwrap();
        assert_eq!(inflow.rule, Rule::TreasuryUnexplainedInflow);
        assert!(inflow.observed.contains("1 of native arrived"));
    }

    #[test]
    fn rolling_windows_add_earlier_outflows_of_the_window() {
        let m = manifest("    max_outflow_per_day: { native: \"100\" }\n");
        let safe = Address::repeat_byte(0x5a);
        let earlier = |ts: u64| Flow {
            treasury: safe,
            asset: Asset::Native,
            out: true,
            counterparty: Address::repeat_byte(0xaa),
            amount: U256::from(60),
            block: 1,
            timestamp: Some(ts),
            tx: B256::repeat_byte(9),
            locator: "0".into(),
        };
        let now = 1_000_000;
        let tx = B256::repeat_byte(1);
        let pay = [pay(3, "0", Address::repeat_byte(0xaa), 50)];
        let found = reconcile_windows(&m, tx, Some(now), &pay, &[earlier(now - 3600)]);
        assert_eq!(
            rules(&found),
            vec![(Rule::TreasuryOutflowOverLimit, format!("{tx}:native:day"))]
        );
        // A day and a second earlier is out of the window.
        assert!(reconcile_windows(&m, tx, Some(now), &pay, &[earlier(now - 86_401)]).is_empty());
        assert!(reconcile_windows(&m, tx, None, &pay, &[earlier(now - 3600)]).is_empty());
    }
}
