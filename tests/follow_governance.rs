//! Governance followed end to end on anvil, on SQLite and PostgreSQL: a real OpenZeppelin
//! Governor with its TimelockController, an ERC20Votes token with AccessControl and an
//! Ownable2Step vault; a full proposal recorded; every governance rule raised (and the role
//! rule resolved) with evidence; and a group that starts after deployment, seeded by snapshots,
//! reaching the same verdicts as one that followed every event.

mod support;

use alloy::primitives::{Address, U256};
use devnet::{
    self, Devnet, DevnetOptions, GovernanceContracts, GovernanceParams, Proposal, SafeContracts,
    SafeVersion, VoteSupport, MINTER_ROLE, PROPOSER_ROLE,
};
use groupstate::manifest::Manifest;
use groupstate::store::{DivergenceStatus, RecordFilter, Store};

const RECIPIENT: Address = Address::repeat_byte(0x42);

fn manifest(
    id: &str,
    start: u64,
    safe: Address,
    owners: &[Address],
    g: &GovernanceContracts,
) -> String {
    let mut y = support::safe_manifest(id, start, &[(safe, owners.to_vec(), 2)]);
    // At most 10 ETH and 5 tokens per payment, and only to the river crew.
    y.push_str(&format!(
        "  policy:\n    max_outflow: {{ native: \"10000000000000000000\", \"{}\": \"5000000000000000000\" }}\n    allowed_recipients: [\"{RECIPIENT}\"]\n",
        g.token
    ));
    y.push_str(&format!(
        "governance:\n  governors:\n    - {{ address: \"{gov}\", timelock: \"{tl}\", voting_delay: 1, voting_period: 10, proposal_threshold: \"0\", quorum_numerator: 4 }}\n  timelocks:\n    - address: \"{tl}\"\n      min_delay: 2\n      proposers: [\"{gov}\"]\n      executors: [\"0x0000000000000000000000000000000000000000\"]\n      cancellers: [\"{gov}\"]\n      admins: [\"{dep}\"]\nroles:\n  - contract: \"{token}\"\n    members:\n      DEFAULT_ADMIN_ROLE: [\"{dep}\"]\n      MINTER_ROLE: [\"{dep}\"]\n  - contract: \"{vault}\"\n    owner: \"{dep}\"\n",
        gov = g.governor,
        tl = g.timelock,
        dep = g.deployer,
        token = g.token,
        vault = g.vault,
    ));
    y
}

async fn open(store: &Store, group: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = store
        .divergences(group, Some(DivergenceStatus::Open))
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.rule, d.item))
        .collect();
    v.sort();
    v
}

async fn governance_followed(backend: support::Backend) {
    let devnet = Devnet::start(DevnetOptions::default()).await.unwrap();
    let safes = SafeContracts::deploy(&devnet).await.unwrap();
    let keys = devnet::signers(3);
    let owners: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let safe = safes
        .create_safe(&devnet, SafeVersion::V141L2, &owners, 2, 1)
        .await
        .unwrap();
    let params = GovernanceParams {
        keep_timelock_admin: true,
        ..GovernanceParams::default()
    };
    let g = GovernanceContracts::deploy(&devnet, params).await.unwrap();
    let voters: Vec<Address> = devnet.accounts()[1..4].to_vec();
    // The first voter outweighs the second, so for beats against.
    for (i, v) in voters.iter().enumerate() {
        let weight =
            U256::from(if i == 0 { 300u64 } else { 100 }) * U256::from(10u64).pow(U256::from(18));
        g.mint_and_delegate(&devnet, *v, weight).await.unwrap();
    }
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    store
        .add_group(&Manifest::parse(&manifest("genesis", 0, safe, &owners, &g)).unwrap())
        .await
        .unwrap();
    let f = support::follower(&store, &devnet.rpc_url(), devnet.chain_id());
    support::sync(&f).await;
    assert_eq!(
        open(&store, "genesis").await,
        vec![],
        "the deployment agrees with the manifest"
    );

    // A full proposal: 1 ETH from the timelock's treasury to a recipient.
    let recipient = RECIPIENT;
    let proposal = Proposal::single(
        recipient,
        U256::from(10u64).pow(U256::from(18)),
        Vec::<u8>::new(),
        "Pay the river crew",
    );
    let votes = [
        (voters[0], VoteSupport::For),
        (voters[1], VoteSupport::Against),
        (voters[2], VoteSupport::Abstain),
    ];
    let id = g
        .pass_proposal(&devnet, voters[0], &proposal, &votes)
        .await
        .unwrap();
    support::sync(&f).await;
    let records = store
        .records("genesis", &RecordFilter::default())
        .await
        .unwrap();
    let about_it: Vec<&str> = records
        .iter()
        .filter(|r| r.fields.contains(&id.to_string()) || r.kind.starts_with("timelock.call"))
        .map(|r| r.kind.as_str())
        .collect();
    for kind in [
        "governor.proposal_created",
        "governor.vote_cast",
        "governor.proposal_queued",
        "timelock.call_scheduled",
        "timelock.call_salt",
        "governor.proposal_executed",
        "timelock.call_executed",
    ] {
        assert!(about_it.contains(&kind), "no {kind} in {about_it:?}");
    }
    assert_eq!(
        about_it
            .iter()
            .filter(|k| **k == "governor.vote_cast")
            .count(),
        3
    );
    assert_eq!(
        open(&store, "genesis").await,
        vec![],
        "a documented decision is no divergence"
    );

    // Authority changes nobody documented.
    let intruder = devnet.accounts()[5]; // unlocked, so it can accept the ownership
    devnet::grant_role(&devnet, g.token, MINTER_ROLE, intruder, g.deployer)
        .await
        .unwrap();
    devnet::grant_role(&devnet, g.timelock, PROPOSER_ROLE, intruder, g.deployer)
        .await
        .unwrap();
    devnet::transfer_ownership(&devnet, g.vault, g.deployer, intruder)
        .await
        .unwrap();
    devnet::accept_ownership(&devnet, g.vault, intruder)
        .await
        .unwrap();
    g.update_delay(&devnet, 5).await.unwrap();
    support::sync(&f).await;
    let expected = vec![
        (
            "ownership.undeclared_owner".to_string(),
            intruder.to_checksum(None),
        ),
        (
            "role.undeclared_member".to_string(),
            format!("MINTER_ROLE:{intruder}"),
        ),
        ("timelock.min_delay_mismatch".to_string(), "5".to_string()),
        (
            "timelock.role_undeclared".to_string(),
            format!("PROPOSER_ROLE:{intruder}"),
        ),
    ];
    assert_eq!(open(&store, "genesis").await, expected);
    let minted = store
        .divergences("genesis", Some(DivergenceStatus::Open))
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.rule == "role.undeclared_member")
        .unwrap();
    assert_eq!(minted.severity, "critical");
    assert!(minted.opened_tx_hash.is_some());

    // A group that starts now sees the same structure through its snapshots alone.
    let start = devnet.head().await.unwrap() + 1;
    store
        .add_group(&Manifest::parse(&manifest("late", start, safe, &owners, &g)).unwrap())
        .await
        .unwrap();
    devnet.mine(1).await.unwrap();
    support::sync(&f).await;
    assert_eq!(
        open(&store, "late").await,
        expected,
        "snapshots agree with the event history"
    );

    // Revoking the undeclared minter resolves that divergence, with evidence.
    let revoke = devnet::revoke_role(&devnet, g.token, MINTER_ROLE, intruder, g.deployer)
        .await
        .unwrap();
    support::sync(&f).await;
    let resolved = store
        .divergences("genesis", Some(DivergenceStatus::Resolved))
        .await
        .unwrap();
    // (The deployment's own transactions also opened and resolved a few divergences: the
    // timelock existed before its proposer was granted, and so on.)
    let by_revoke: Vec<_> = resolved
        .iter()
        .filter(|d| d.resolved_tx_hash == Some(revoke.transaction_hash.to_string()))
        .collect();
    assert_eq!(by_revoke.len(), 1, "{resolved:#?}");
    assert_eq!(by_revoke[0].rule, "role.undeclared_member");
    assert_eq!(by_revoke[0].resolution.as_deref(), Some("chain"));
    assert_eq!(open(&store, "genesis").await.len(), 3);
    assert_eq!(open(&store, "late").await.len(), 3);

    // The voting period lengthened by a proposal: a setting the manifest does not declare.
    use alloy::sol_types::SolCall;
    let set = devnet::governance::bindings::IGroupGovernor::setVotingPeriodCall {
        newVotingPeriod: 20,
    };
    let lengthen = Proposal::single(
        g.governor,
        U256::ZERO,
        set.abi_encode(),
        "Vote for 20 blocks",
    );
    g.pass_proposal(
        &devnet,
        voters[0],
        &lengthen,
        &[(voters[0], VoteSupport::For)],
    )
    .await
    .unwrap();
    support::sync(&f).await;
    assert!(open(&store, "genesis").await.contains(&(
        "governor.param_mismatch".to_string(),
        "voting_period=20".to_string()
    )));
    // The group documents both setting changes: one manifest update resolves them.
    let v2 = manifest("genesis", 0, safe, &owners, &g)
        .replace("voting_period: 10", "voting_period: 20")
        .replace("min_delay: 2", "min_delay: 5");
    let version = store
        .update_group(&Manifest::parse(&v2).unwrap(), None)
        .await
        .unwrap();
    devnet.mine(1).await.unwrap();
    support::sync(&f).await;
    let by_manifest: Vec<String> = store
        .divergences("genesis", Some(DivergenceStatus::Resolved))
        .await
        .unwrap()
        .into_iter()
        .filter(|d| {
            d.resolved_manifest_hash.as_deref() == Some(version.hash.as_str())
                && d.resolution.as_deref() == Some("manifest")
        })
        .map(|d| d.rule)
        .collect();
    assert_eq!(
        by_manifest,
        vec!["timelock.min_delay_mismatch", "governor.param_mismatch"]
    );

    // Funds: tokens into the treasury, then out through a proposal — over the 5-token limit
    // and to someone the policy does not name.
    let token = U256::from(10u64).pow(U256::from(18));
    g.transfer_tokens(&devnet, g.deployer, g.timelock, U256::from(10) * token)
        .await
        .unwrap();
    let stranger = Address::repeat_byte(0x77);
    g.transfer_tokens_from_treasury(&devnet, stranger, U256::from(6) * token)
        .await
        .unwrap();
    // An operation scheduled straight on the timelock by the undeclared proposer.
    let op = g
        .schedule_directly(
            &devnet,
            intruder,
            RECIPIENT,
            U256::ZERO,
            Default::default(),
            alloy::primitives::B256::repeat_byte(1),
        )
        .await
        .unwrap();
    support::sync(&f).await;
    let records = store
        .records("genesis", &RecordFilter::default())
        .await
        .unwrap();
    assert_eq!(
        records
            .iter()
            .filter(|r| r.kind == "token.transfer")
            .count(),
        2
    );
    let events: Vec<(String, String)> = store
        .divergences("genesis", Some(DivergenceStatus::Open))
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.rule.starts_with("treasury.") || d.rule == "timelock.unexplained_call")
        .map(|d| (d.rule, d.subject))
        .collect();
    let tl = g.timelock.to_checksum(None);
    // The proposal is judged when it is created (before the money moves: "not yet executed"),
    // and the payment again when the timelock executes it.
    assert_eq!(
        events,
        vec![
            ("treasury.outflow_over_limit".to_string(), tl.clone()),
            ("treasury.recipient_not_allowed".to_string(), tl.clone()),
            ("treasury.outflow_over_limit".to_string(), tl.clone()),
            ("treasury.recipient_not_allowed".to_string(), tl.clone()),
            ("timelock.unexplained_call".to_string(), tl.clone()),
        ]
    );
    let ahead: Vec<String> = store
        .divergences("genesis", Some(DivergenceStatus::Open))
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.rule.starts_with("treasury."))
        .map(|d| d.observed)
        .collect();
    assert!(ahead[0].contains("not yet executed") && ahead[1].contains("not yet executed"));
    assert!(!ahead[2].contains("not yet executed") && !ahead[3].contains("not yet executed"));
    let unexplained = store
        .divergences("genesis", Some(DivergenceStatus::Open))
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.rule == "timelock.unexplained_call")
        .unwrap();
    assert_eq!(unexplained.item, op.to_string());
    // The proposals' own operations were explained: exactly one unexplained call.

    // Undoing what was undocumented resolves it, by the chain: the extra proposer leaves, the
    // vault comes back to the deployer. A declared minter removed is a missing member until
    // granted again; a role handed to another admin role is flagged until handed back.
    devnet::revoke_role(&devnet, g.timelock, PROPOSER_ROLE, intruder, g.deployer)
        .await
        .unwrap();
    devnet::transfer_ownership(&devnet, g.vault, intruder, g.deployer)
        .await
        .unwrap();
    devnet::accept_ownership(&devnet, g.vault, g.deployer)
        .await
        .unwrap();
    devnet::revoke_role(&devnet, g.token, MINTER_ROLE, g.deployer, g.deployer)
        .await
        .unwrap();
    let handed = devnet::governance::bindings::IGroupToken::setRoleAdminCall {
        role: MINTER_ROLE,
        adminRole: PROPOSER_ROLE,
    };
    devnet::send_call(&devnet, g.deployer, g.token, handed)
        .await
        .unwrap();
    support::sync(&f).await;
    let now = open(&store, "genesis").await;
    let structural: Vec<&(String, String)> = now
        .iter()
        .filter(|(r, _)| !r.starts_with("treasury.") && r != "timelock.unexplained_call")
        .collect();
    assert_eq!(
        structural,
        vec![
            &(
                "role.admin_changed".to_string(),
                format!("MINTER_ROLE:{PROPOSER_ROLE}")
            ),
            &(
                "role.missing_member".to_string(),
                format!("MINTER_ROLE:{}", g.deployer)
            ),
        ]
    );
    let back = devnet::governance::bindings::IGroupToken::setRoleAdminCall {
        role: MINTER_ROLE,
        adminRole: alloy::primitives::B256::ZERO,
    };
    devnet::send_call(&devnet, g.deployer, g.token, back)
        .await
        .unwrap();
    devnet::grant_role(&devnet, g.token, MINTER_ROLE, g.deployer, g.deployer)
        .await
        .unwrap();
    support::sync(&f).await;
    let resolved: Vec<String> = store
        .divergences("genesis", Some(DivergenceStatus::Resolved))
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.resolution.as_deref() == Some("chain") && d.opened_block > 20)
        .map(|d| d.rule)
        .collect();
    for rule in [
        "timelock.role_undeclared",
        "ownership.undeclared_owner",
        "role.missing_member",
        "role.admin_changed",
        "role.undeclared_member",
    ] {
        assert!(
            resolved.iter().any(|r| r == rule),
            "{rule} not resolved by the chain: {resolved:?}"
        );
    }
}
on_both_backends!(governance_sqlite_and_postgres, governance_followed);
