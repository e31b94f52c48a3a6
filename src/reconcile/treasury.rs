//! Treasury policy rules on outflows: a payment out of a declared Safe or Timelock — native
//! value in a Safe execution or an executed timelock call, or an ERC-20 `Transfer` from it —
//! above the declared per-transaction limit, or to a recipient the policy does not allow.
//! These are about events, not structure: each finding is about one log and stays open until
//! acknowledged.

use alloy::primitives::{Address, U256};

use super::{Finding, Rule};
use crate::decode::{GovernanceEvent, GroupEvent, SafeEvent};
use crate::manifest::{Asset, Manifest};

/// A movement of funds out of a treasury address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outflow {
    pub from: Address,
    pub to: Address,
    pub asset: Asset,
    pub value: U256,
}

/// The outflow an event shows, if it is one out of a treasury address of `manifest`.
pub fn outflow(manifest: &Manifest, emitter: Address, event: &GroupEvent) -> Option<Outflow> {
    let treasury = manifest.treasury_addresses();
    let out = match event {
        GroupEvent::Governance(GovernanceEvent::Transfer { from, to, value }) => Outflow {
            from: *from,
            to: *to,
            asset: Asset::Token(emitter),
            value: *value,
        },
        GroupEvent::Safe(SafeEvent::SafeMultiSigTransaction {
            to,
            value,
            operation: 0,
            ..
        }) => Outflow {
            from: emitter,
            to: *to,
            asset: Asset::Native,
            value: *value,
        },
        GroupEvent::Governance(GovernanceEvent::CallExecuted { target, value, .. })
            if manifest.timelock(&emitter).is_some() =>
        {
            Outflow {
                from: emitter,
                to: *target,
                asset: Asset::Native,
                value: *value,
            }
        }
        _ => return None,
    };
    (treasury.contains(&out.from) && !out.value.is_zero() && out.from != out.to).then_some(out)
}

/// Checks an outflow against the treasury policy in force. `item` identifies the log
/// (`tx_hash:log_index`).
pub fn reconcile_outflow(manifest: &Manifest, out: &Outflow, item: &str) -> Vec<Finding> {
    let policy = &manifest.treasury.policy;
    let mut findings = Vec::new();
    if let Some(limit) = policy.limit(&out.asset) {
        if out.value > limit {
            findings.push(Finding {
                rule: Rule::TreasuryOutflowOverLimit,
                subject: out.from,
                key: item.to_string(),
                expected: format!("at most {limit} of {} per transaction", out.asset),
                observed: format!("{} of {} to {}", out.value, out.asset, out.to),
            });
        }
    }
    // Moving funds between the group's own treasuries is not paying someone.
    if !policy.allows_recipient(&out.to) && !manifest.treasury_addresses().contains(&out.to) {
        findings.push(Finding {
            rule: Rule::TreasuryRecipientNotAllowed,
            subject: out.from,
            key: item.to_string(),
            expected: format!(
                "recipients {}",
                super::safe::list(policy.allowed_recipients.iter().copied())
            ),
            observed: format!("{} of {} to {}", out.value, out.asset, out.to),
        });
    }
    findings
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

    #[test]
    fn payments_over_the_limit_or_to_strangers_are_findings() {
        let allowed = Address::repeat_byte(0xaa);
        let m = manifest(&format!(
            "    max_outflow: {{ native: \"100\" }}\n    allowed_recipients: [\"{allowed}\"]\n"
        ));
        let safe = Address::repeat_byte(0x5a);
        let pay = |to, value: u64| {
            GroupEvent::Safe(SafeEvent::SafeMultiSigTransaction {
                to,
                value: U256::from(value),
                data: Default::default(),
                operation: 0,
                safe_tx_gas: U256::ZERO,
                base_gas: U256::ZERO,
                gas_price: U256::ZERO,
                gas_token: Address::ZERO,
                refund_receiver: Address::ZERO,
                signatures: Default::default(),
                additional_info: Default::default(),
            })
        };
        let rules = |e: &GroupEvent| -> Vec<Rule> {
            let o = outflow(&m, safe, e).unwrap();
            reconcile_outflow(&m, &o, "0x1:0")
                .into_iter()
                .map(|f| f.rule)
                .collect()
        };
        assert_eq!(rules(&pay(allowed, 100)), vec![]);
        assert_eq!(
            rules(&pay(allowed, 101)),
            vec![Rule::TreasuryOutflowOverLimit]
        );
        assert_eq!(
            rules(&pay(Address::repeat_byte(0xbb), 101)),
            vec![
                Rule::TreasuryOutflowOverLimit,
                Rule::TreasuryRecipientNotAllowed
            ]
        );
        // Tokens without a declared limit: only the recipient is checked.
        let token = GroupEvent::Governance(GovernanceEvent::Transfer {
            from: safe,
            to: allowed,
            value: U256::from(10u64.pow(18)),
        });
        assert_eq!(rules(&token), vec![]);
        // Funds coming in are no outflow.
        let incoming = GroupEvent::Governance(GovernanceEvent::Transfer {
            from: allowed,
            to: safe,
            value: U256::from(1),
        });
        assert!(outflow(&m, Address::repeat_byte(0x70), &incoming).is_none());
    }
}
