//! Rules on single logs about what a treasury lets others take or what a declared contract
//! runs: an ERC-20 allowance or an NFT operator approval granted by a treasury, beyond the
//! declared `max_approval` (or any unlimited one when `unlimited_approvals: false`) or to a
//! spender the policy does not list; an NFT sent out of a treasury to a recipient the policy
//! does not allow; a declared contract's EIP-1967 proxy upgraded to an implementation the
//! manifest does not declare. Each finding is about one log and stays open until acknowledged.

use alloy::primitives::{Address, U256};

use super::{Finding, Rule};
use crate::decode::{GroupEvent, ProxyEvent, TokenEvent};
use crate::manifest::{Asset, Manifest};

/// The findings one log raises under `manifest`; `item` names the log (`tx:log_index`).
pub fn reconcile_asset_log(
    manifest: &Manifest,
    emitter: Address,
    event: &GroupEvent,
    item: &str,
) -> Vec<Finding> {
    let policy = &manifest.treasury.policy;
    let treasury = manifest.treasury_addresses();
    let mut out = Vec::new();
    let asset = Asset::Token(emitter);
    let mut spender_rules = |owner: Address, spender: Address, granted: String, over: bool| {
        if over {
            out.push(Finding {
                rule: Rule::TreasuryApprovalOverLimit,
                subject: owner,
                key: item.to_string(),
                expected: match policy.approval_limit(&asset) {
                    Some(limit) if policy.unlimited_approvals => {
                        format!("allowances of {asset} of at most {limit}")
                    }
                    Some(limit) => {
                        format!("allowances of {asset} of at most {limit}, none unlimited")
                    }
                    None => "no unlimited approvals".to_string(),
                },
                observed: format!("{granted} to {spender}"),
            });
        }
        if !policy.allows_spender(&spender) && !treasury.contains(&spender) {
            out.push(Finding {
                rule: Rule::TreasurySpenderNotAllowed,
                subject: owner,
                key: item.to_string(),
                expected: format!(
                    "spenders {}",
                    super::safe::list(policy.allowed_spenders.iter().copied())
                ),
                observed: format!("{granted} to {spender}"),
            });
        }
    };
    match event {
        GroupEvent::Token(TokenEvent::Approval {
            owner,
            spender,
            value,
        }) if treasury.contains(owner) && !value.is_zero() => {
            let granted = if *value == U256::MAX {
                format!("an unlimited allowance of {asset}")
            } else {
                format!("an allowance of {value} of {asset}")
            };
            spender_rules(
                *owner,
                *spender,
                granted,
                !policy.allows_approval(&asset, *value),
            );
        }
        GroupEvent::Token(TokenEvent::ApprovalForAll {
            owner,
            operator,
            approved: true,
        }) if treasury.contains(owner) => {
            spender_rules(
                *owner,
                *operator,
                format!("every token of {asset} (ApprovalForAll)"),
                !policy.allows_approval_for_all(true),
            );
        }
        GroupEvent::Token(TokenEvent::NftApproval {
            owner, approved, ..
        }) if treasury.contains(owner) && !approved.is_zero() => {
            spender_rules(*owner, *approved, format!("a token of {asset}"), false);
        }
        GroupEvent::Token(
            TokenEvent::NftTransfer { from, to, .. }
            | TokenEvent::TransferSingle { from, to, .. }
            | TokenEvent::TransferBatch { from, to, .. },
        ) if treasury.contains(from)
            && from != to
            && !policy.allows_recipient(to)
            && !treasury.contains(to) =>
        {
            out.push(Finding {
                rule: Rule::TreasuryRecipientNotAllowed,
                subject: *from,
                key: item.to_string(),
                expected: format!(
                    "recipients {}",
                    super::safe::list(policy.allowed_recipients.iter().copied())
                ),
                observed: format!("tokens of {asset} to {to}"),
            });
        }
        GroupEvent::Proxy(ProxyEvent::Upgraded { implementation })
            if manifest
                .declared_contracts()
                .iter()
                .any(|(a, _)| *a == emitter)
                && manifest.declared_implementation(&emitter) != Some(*implementation) =>
        {
            out.push(Finding {
                rule: Rule::ProxyUpgraded,
                subject: emitter,
                key: item.to_string(),
                expected: match manifest.declared_implementation(&emitter) {
                    Some(i) => format!("implementation {i}"),
                    None => "an implementation declared in the manifest".to_string(),
                },
                observed: format!("upgraded to {implementation}"),
            });
        }
        GroupEvent::Proxy(ProxyEvent::BeaconUpgraded { beacon })
            if manifest
                .declared_contracts()
                .iter()
                .any(|(a, _)| *a == emitter) =>
        {
            out.push(Finding {
                rule: Rule::ProxyUpgraded,
                subject: emitter,
                key: item.to_string(),
                expected: "an implementation declared in the manifest".to_string(),
                observed: format!("now takes its implementation from beacon {beacon}"),
            });
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAFE: Address = Address::repeat_byte(0x5a);
    const TOKEN: Address = Address::repeat_byte(0x70);

    fn manifest(policy: &str) -> Manifest {
        let yaml = format!(
            "id: g\nname: G\npurpose: P\nphase: coordination\nchain: local\ntreasury:\n  safes:\n    - address: \"{SAFE}\"\n      owners: [\"{}\"]\n      threshold: 1\n  policy:\n{policy}",
            Address::repeat_byte(0x01),
        );
        Manifest::parse(&yaml).unwrap()
    }

    fn rules(m: &Manifest, e: TokenEvent) -> Vec<Rule> {
        reconcile_asset_log(m, TOKEN, &GroupEvent::Token(e), "0x1:2")
            .into_iter()
            .map(|f| f.rule)
            .collect()
    }

    fn approve(spender: u8, value: U256) -> TokenEvent {
        TokenEvent::Approval {
            owner: SAFE,
            spender: Address::repeat_byte(spender),
            value,
        }
    }

    #[test]
    fn allowances_are_judged_by_amount_and_spender() {
        let m = manifest(&format!(
            "    max_approval: {{ \"{TOKEN}\": \"100\" }}\n    allowed_spenders: [\"{}\"]\n",
            Address::repeat_byte(0xaa)
        ));
        assert_eq!(rules(&m, approve(0xaa, U256::from(100))), vec![]);
        assert_eq!(
            rules(&m, approve(0xaa, U256::MAX)),
            vec![Rule::TreasuryApprovalOverLimit]
        );
        assert_eq!(
            rules(&m, approve(0xbb, U256::from(1))),
            vec![Rule::TreasurySpenderNotAllowed]
        );
        // Revoking an allowance grants nothing.
        assert_eq!(rules(&m, approve(0xbb, U256::ZERO)), vec![]);
        // With no approval policy, any allowance is fine.
        assert_eq!(
            rules(&manifest("    {}\n"), approve(0xbb, U256::MAX)),
            vec![]
        );
        let strict = manifest("    unlimited_approvals: false\n");
        assert_eq!(
            rules(&strict, approve(0xbb, U256::MAX)),
            vec![Rule::TreasuryApprovalOverLimit]
        );
        assert_eq!(
            rules(
                &strict,
                TokenEvent::ApprovalForAll {
                    owner: SAFE,
                    operator: Address::repeat_byte(0xbb),
                    approved: true
                }
            ),
            vec![Rule::TreasuryApprovalOverLimit]
        );
    }

    #[test]
    fn nfts_out_go_to_allowed_recipients_only() {
        let m = manifest(&format!(
            "    allowed_recipients: [\"{}\"]\n",
            Address::repeat_byte(0xaa)
        ));
        let send = |to: u8| TokenEvent::NftTransfer {
            from: SAFE,
            to: Address::repeat_byte(to),
            token_id: U256::from(7),
        };
        assert_eq!(rules(&m, send(0xaa)), vec![]);
        assert_eq!(
            rules(&m, send(0xbb)),
            vec![Rule::TreasuryRecipientNotAllowed]
        );
        let incoming = TokenEvent::TransferSingle {
            operator: Address::repeat_byte(0xbb),
            from: Address::repeat_byte(0xbb),
            to: SAFE,
            id: U256::from(1),
            value: U256::from(1),
        };
        assert_eq!(rules(&m, incoming), vec![]);
    }
}
