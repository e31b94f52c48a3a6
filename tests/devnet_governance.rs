//! The governance devnet against a real anvil: OpenZeppelin 5.x Governor, TimelockController,
//! ERC20Votes + AccessControl token and an Ownable2Step vault, compiled from the pinned sources
//! with solc-js; a proposal's whole life with every event, the Rust-computed ids against the
//! contracts' own, role changes, a two-step ownership transfer and a timelock call scheduled
//! outside the governor.

use std::time::Instant;

use alloy::{
    primitives::{keccak256, Address, Bytes, B256, U256},
    providers::Provider,
    rpc::types::Filter,
    sol_types::{SolCall, SolEvent},
};
use anyhow::{ensure, Context, Result};
use devnet::{
    self,
    governance::bindings::{
        IAccessControl, IGroupGovernor, IGroupToken, IOwnable2Step, IOwnedVault,
        ITimelockController,
    },
    Artifacts, Devnet, DevnetOptions, GovernanceContracts, GovernanceParams, OperationState,
    Proposal, ProposalState, VaultOwner, VoteSupport, CANCELLER_ROLE, DEFAULT_ADMIN_ROLE,
    EXECUTOR_ROLE, MINTER_ROLE, PROPOSER_ROLE,
};

const ETHER: u128 = 1_000_000_000_000_000_000;

fn ether(n: u128) -> U256 {
    U256::from(n * ETHER)
}

/// Every `E` event `address` emitted since `from_block`, decoded, in log order.
async fn events<E: SolEvent>(chain: &Devnet, address: Address, from_block: u64) -> Result<Vec<E>> {
    let filter = Filter::new()
        .address(address)
        .event_signature(E::SIGNATURE_HASH)
        .from_block(from_block);
    let logs = chain.http_provider().get_logs(&filter).await?;
    logs.iter()
        .map(|log| {
            log.log_decode::<E>()
                .map(|decoded| decoded.inner.data)
                .with_context(|| format!("decoding {} at {:?}", E::SIGNATURE, log.log_index))
        })
        .collect()
}

/// `eth_call` of a view on `to`, decoded.
async fn view<C: SolCall>(chain: &Devnet, to: Address, call: C) -> Result<C::Return> {
    let out = chain.call(to, call.abi_encode()).await?;
    C::abi_decode_returns(&out).with_context(|| format!("decoding {}", C::SIGNATURE))
}

/// The canonical type of an ABI JSON parameter (tuples expanded).
fn canonical_type(param: &serde_json::Value) -> String {
    let ty = param["type"].as_str().unwrap_or_default();
    match ty.strip_prefix("tuple") {
        Some(suffix) => {
            let inner: Vec<String> = param["components"]
                .as_array()
                .map(|c| c.iter().map(canonical_type).collect())
                .unwrap_or_default();
            format!("({}){suffix}", inner.join(","))
        }
        None => ty.to_string(),
    }
}

/// The `name(types)` signatures of every function and event in a compiled ABI.
fn abi_signatures(abi: &serde_json::Value) -> Vec<String> {
    abi.as_array()
        .into_iter()
        .flatten()
        .filter(|item| matches!(item["type"].as_str(), Some("function" | "event")))
        .map(|item| {
            let inputs: Vec<String> = item["inputs"]
                .as_array()
                .map(|i| i.iter().map(canonical_type).collect())
                .unwrap_or_default();
            format!(
                "{}({})",
                item["name"].as_str().unwrap_or_default(),
                inputs.join(",")
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contracts_compile_and_match_the_bindings() -> Result<()> {
    let project_dir = devnet::install::project_dir()?;
    let started = Instant::now();
    let path = devnet::compile_contracts(&project_dir).await?;
    eprintln!(
        "compile_contracts took {:?} (a fresh compile, or the cached artifact {})",
        started.elapsed(),
        path.file_name().unwrap_or_default().to_string_lossy()
    );
    // A second call in the same process is answered from memory.
    assert_eq!(devnet::compile_contracts(&project_dir).await?, path);

    let artifacts = Artifacts::load(&path)?;
    let mut names: Vec<&str> = artifacts.names().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "BrokenMetadataToken",
            "Bytes32Token",
            "GroupGovernor",
            "GroupTimelock",
            "GroupToken",
            "OwnedVault",
            "PayingModule",
            "SlotZeroWriter",
            "TestMultiToken",
            "TestNft",
            "TestToken"
        ]
    );
    let bindings: [(&str, &[&str]); 8] = [
        (
            "GroupGovernor",
            IGroupGovernor::IGroupGovernorCalls::SIGNATURES,
        ),
        (
            "GroupGovernor",
            IGroupGovernor::IGroupGovernorEvents::SIGNATURES,
        ),
        (
            "GroupTimelock",
            ITimelockController::ITimelockControllerCalls::SIGNATURES,
        ),
        (
            "GroupTimelock",
            ITimelockController::ITimelockControllerEvents::SIGNATURES,
        ),
        ("GroupToken", IGroupToken::IGroupTokenCalls::SIGNATURES),
        ("GroupToken", IGroupToken::IGroupTokenEvents::SIGNATURES),
        ("OwnedVault", IOwnedVault::IOwnedVaultCalls::SIGNATURES),
        ("OwnedVault", IOwnedVault::IOwnedVaultEvents::SIGNATURES),
    ];
    let shared: [(&[&str], &[&str]); 2] = [
        (
            &["GroupToken", "GroupTimelock"],
            IAccessControl::IAccessControlCalls::SIGNATURES,
        ),
        (
            &["OwnedVault"],
            IOwnable2Step::IOwnable2StepCalls::SIGNATURES,
        ),
    ];
    let mut checks: Vec<(&str, &str)> = bindings
        .iter()
        .flat_map(|(contract, sigs)| sigs.iter().map(move |sig| (*contract, *sig)))
        .collect();
    for (contracts, sigs) in shared {
        for contract in contracts {
            checks.extend(sigs.iter().map(|sig| (*contract, *sig)));
        }
    }
    for contract in ["GroupToken", "GroupTimelock"] {
        checks.extend(
            IAccessControl::IAccessControlEvents::SIGNATURES
                .iter()
                .map(|sig| (contract, *sig)),
        );
    }
    checks.extend(
        IOwnable2Step::IOwnable2StepEvents::SIGNATURES
            .iter()
            .map(|sig| ("OwnedVault", *sig)),
    );
    for (contract, sig) in checks {
        let abi = abi_signatures(artifacts.abi(contract)?);
        assert!(
            abi.iter().any(|s| s == sig),
            "{contract}'s ABI has no {sig}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proposal_pays_from_the_timelock() -> Result<()> {
    let chain = Devnet::start(DevnetOptions::default()).await?;
    let started = Instant::now();
    let gov = GovernanceContracts::deploy(&chain, GovernanceParams::default()).await?;
    eprintln!(
        "compile (or cache hit) and deploy took {:?}",
        started.elapsed()
    );
    let provider = chain.http_provider();
    let deployer = chain.dev_account();
    let accounts = chain.accounts();
    let voters = [accounts[1], accounts[2], accounts[3]];

    // The governor fits the code-size limit; the standard wiring is in place.
    let code = provider.get_code_at(gov.governor).await?;
    assert!(
        !code.is_empty() && code.len() <= 24_576,
        "{} bytes",
        code.len()
    );
    let t = gov.timelock;
    assert!(devnet::has_role(&chain, t, PROPOSER_ROLE, gov.governor).await?);
    assert!(devnet::has_role(&chain, t, CANCELLER_ROLE, gov.governor).await?);
    assert!(devnet::has_role(&chain, t, EXECUTOR_ROLE, Address::ZERO).await?);
    assert!(devnet::has_role(&chain, t, DEFAULT_ADMIN_ROLE, t).await?);
    assert!(!devnet::has_role(&chain, t, DEFAULT_ADMIN_ROLE, deployer).await?);
    assert!(devnet::has_role(&chain, gov.token, MINTER_ROLE, deployer).await?);
    assert!(devnet::has_role(&chain, gov.token, DEFAULT_ADMIN_ROLE, deployer).await?);
    let g = gov.governor;
    assert_eq!(
        view(&chain, g, IGroupGovernor::tokenCall {}).await?,
        gov.token
    );
    assert_eq!(view(&chain, g, IGroupGovernor::timelockCall {}).await?, t);
    assert_eq!(
        view(&chain, g, IGroupGovernor::votingDelayCall {}).await?,
        U256::from(1)
    );
    assert_eq!(
        view(&chain, g, IGroupGovernor::votingPeriodCall {}).await?,
        U256::from(10)
    );
    assert_eq!(
        view(&chain, g, IGroupGovernor::quorumNumeratorCall {}).await?,
        U256::from(4)
    );
    assert_eq!(gov.read_min_delay(&chain).await?, 2);
    assert_eq!(provider.get_balance(t).await?, ether(10));
    assert_eq!(gov.read_votes(&chain, deployer).await?, ether(1_000));

    for (voter, amount) in voters.iter().zip([100, 50, 30]) {
        gov.mint_and_delegate(&chain, *voter, ether(amount)).await?;
    }

    // Propose paying 1 ETH from the timelock; the ids computed in Rust are the contracts'.
    let recipient = Address::repeat_byte(0x77);
    let pay = Proposal::single(
        recipient,
        ether(1),
        Bytes::new(),
        "Pay 1 ETH to the river tooling maintainer",
    );
    let (targets, values, calldatas, dh) = (
        pay.targets.clone(),
        pay.values.clone(),
        pay.calldatas.clone(),
        pay.description_hash(),
    );
    let hashed = view(
        &chain,
        g,
        IGroupGovernor::hashProposalCall {
            targets: targets.clone(),
            values: values.clone(),
            calldatas: calldatas.clone(),
            descriptionHash: dh,
        },
    )
    .await?;
    let by_id = view(
        &chain,
        g,
        IGroupGovernor::getProposalIdCall {
            targets: targets.clone(),
            values: values.clone(),
            calldatas: calldatas.clone(),
            descriptionHash: dh,
        },
    )
    .await?;
    assert_eq!(pay.id(), hashed);
    assert_eq!(pay.id(), by_id);
    assert_eq!(
        devnet::proposal_id(&targets, &values, &calldatas, dh),
        hashed
    );

    let id = gov.propose(&chain, voters[0], &pay).await?;
    assert_eq!(id, pay.id());
    assert_eq!(gov.state(&chain, id).await?, ProposalState::Pending);
    gov.advance_to_voting(&chain, id).await?;
    assert_eq!(gov.state(&chain, id).await?, ProposalState::Active);
    gov.cast_vote(&chain, id, VoteSupport::For, voters[0])
        .await?;
    gov.cast_vote(&chain, id, VoteSupport::Against, voters[1])
        .await?;
    gov.cast_vote(&chain, id, VoteSupport::Abstain, voters[2])
        .await?;
    assert_eq!(
        gov.proposal_votes(&chain, id).await?,
        (ether(50), ether(100), ether(30))
    );
    gov.advance_past_deadline(&chain, id).await?;
    assert_eq!(gov.state(&chain, id).await?, ProposalState::Succeeded);

    gov.queue(&chain, &pay).await?;
    assert_eq!(gov.state(&chain, id).await?, ProposalState::Queued);
    let salt = devnet::timelock_salt(g, dh);
    let operation = pay.timelock_operation_id(g);
    let hashed_operation = view(
        &chain,
        t,
        ITimelockController::hashOperationBatchCall {
            targets: targets.clone(),
            values: values.clone(),
            payloads: calldatas.clone(),
            predecessor: B256::ZERO,
            salt,
        },
    )
    .await?;
    assert_eq!(operation, hashed_operation);
    // The daemon computes the id on its own; both agree with the timelock.
    assert_eq!(
        groupstate::reconcile::ids::timelock_operation_id(
            g,
            &pay.targets,
            &pay.values,
            &pay.calldatas,
            dh
        ),
        operation
    );
    assert_eq!(
        gov.operation_state(&chain, operation).await?,
        OperationState::Waiting
    );

    gov.advance_past_eta(&chain, id).await?;
    gov.execute(&chain, &pay).await?;
    assert_eq!(gov.state(&chain, id).await?, ProposalState::Executed);
    assert_eq!(
        gov.operation_state(&chain, operation).await?,
        OperationState::Done
    );
    assert_eq!(provider.get_balance(recipient).await?, ether(1));
    assert_eq!(provider.get_balance(t).await?, ether(9));

    // Every lifecycle event is in eth_getLogs.
    let from = gov.deploy_block;
    let created = events::<IGroupGovernor::ProposalCreated>(&chain, g, from).await?;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].proposalId, id);
    assert_eq!(created[0].proposer, voters[0]);
    assert_eq!(created[0].targets, targets);
    assert_eq!(created[0].values, values);
    assert_eq!(created[0].calldatas, calldatas);
    assert_eq!(created[0].description, pay.description);
    let votes = events::<IGroupGovernor::VoteCast>(&chain, g, from).await?;
    let cast: Vec<_> = votes
        .iter()
        .map(|v| (v.voter, v.proposalId, v.support, v.weight))
        .collect();
    assert_eq!(
        cast,
        vec![
            (voters[0], id, 1, ether(100)),
            (voters[1], id, 0, ether(50)),
            (voters[2], id, 2, ether(30)),
        ]
    );
    let queued = events::<IGroupGovernor::ProposalQueued>(&chain, g, from).await?;
    let eta = view(
        &chain,
        g,
        IGroupGovernor::proposalEtaCall { proposalId: id },
    )
    .await?;
    assert_eq!(
        queued
            .iter()
            .map(|q| (q.proposalId, q.etaSeconds))
            .collect::<Vec<_>>(),
        vec![(id, eta)]
    );
    let executed = events::<IGroupGovernor::ProposalExecuted>(&chain, g, from).await?;
    assert_eq!(
        executed.iter().map(|e| e.proposalId).collect::<Vec<_>>(),
        vec![id]
    );
    let scheduled = events::<ITimelockController::CallScheduled>(&chain, t, from).await?;
    assert_eq!(scheduled.len(), 1);
    let s = &scheduled[0];
    assert_eq!(
        (
            s.id,
            s.index,
            s.target,
            s.value,
            s.data.clone(),
            s.predecessor,
            s.delay
        ),
        (
            operation,
            U256::ZERO,
            recipient,
            ether(1),
            Bytes::new(),
            B256::ZERO,
            U256::from(2)
        )
    );
    let salts = events::<ITimelockController::CallSalt>(&chain, t, from).await?;
    assert_eq!(
        salts.iter().map(|s| (s.id, s.salt)).collect::<Vec<_>>(),
        vec![(operation, salt)]
    );
    let calls = events::<ITimelockController::CallExecuted>(&chain, t, from).await?;
    assert_eq!(
        calls
            .iter()
            .map(|c| (c.id, c.index, c.target, c.value))
            .collect::<Vec<_>>(),
        vec![(operation, U256::ZERO, recipient, ether(1))]
    );

    // A pending proposal cancelled by its proposer.
    let withdrawn = Proposal::single(recipient, ether(2), Bytes::new(), "Pay 2 ETH (withdrawn)");
    let withdrawn_id = gov.propose(&chain, voters[1], &withdrawn).await?;
    gov.cancel(&chain, voters[1], &withdrawn).await?;
    assert_eq!(
        gov.state(&chain, withdrawn_id).await?,
        ProposalState::Canceled
    );
    let canceled = events::<IGroupGovernor::ProposalCanceled>(&chain, g, from).await?;
    assert_eq!(
        canceled.iter().map(|c| c.proposalId).collect::<Vec<_>>(),
        vec![withdrawn_id]
    );

    // updateDelay is onlySelf: it goes through a proposal.
    gov.update_delay(&chain, 5).await?;
    assert_eq!(gov.read_min_delay(&chain).await?, 5);
    let changes = events::<ITimelockController::MinDelayChange>(&chain, t, from).await?;
    assert_eq!(
        changes
            .iter()
            .map(|c| (c.oldDuration, c.newDuration))
            .collect::<Vec<_>>(),
        vec![(U256::ZERO, U256::from(2)), (U256::from(2), U256::from(5))],
        "the constructor's change, then the proposal's"
    );

    // Tokens into the treasury, and out of it by a proposal (with the new 5 s delay).
    gov.transfer_tokens(&chain, deployer, t, ether(10)).await?;
    assert_eq!(gov.token_balance(&chain, t).await?, ether(10));
    let payout = gov
        .transfer_tokens_from_treasury(&chain, recipient, ether(4))
        .await?;
    assert_eq!(gov.state(&chain, payout).await?, ProposalState::Executed);
    assert_eq!(gov.token_balance(&chain, recipient).await?, ether(4));
    assert_eq!(gov.token_balance(&chain, t).await?, ether(6));
    let transfers = events::<IGroupToken::Transfer>(&chain, gov.token, from).await?;
    assert!(transfers
        .iter()
        .any(|x| (x.from, x.to, x.value) == (t, recipient, ether(4))));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_ownership_and_a_direct_timelock_call() -> Result<()> {
    let chain = Devnet::start(DevnetOptions::default()).await?;
    let accounts = chain.accounts().to_vec();
    ensure!(
        accounts.len() >= 9,
        "anvil has {} dev accounts",
        accounts.len()
    );
    let deployer = chain.dev_account();
    let (extra_proposer, minter, canceller, new_owner, stranger) = (
        accounts[4],
        accounts[5],
        accounts[6],
        accounts[7],
        accounts[8],
    );
    let gov = GovernanceContracts::deploy(
        &chain,
        GovernanceParams {
            extra_proposers: vec![extra_proposer],
            keep_timelock_admin: true,
            vault_owner: VaultOwner::Deployer,
            ..GovernanceParams::default()
        },
    )
    .await?;
    let (token, t, from) = (gov.token, gov.timelock, gov.deploy_block);
    assert!(devnet::has_role(&chain, t, PROPOSER_ROLE, extra_proposer).await?);
    assert!(!devnet::has_role(&chain, t, CANCELLER_ROLE, extra_proposer).await?);
    assert!(devnet::has_role(&chain, t, DEFAULT_ADMIN_ROLE, deployer).await?);

    // A MINTER_ROLE grant and revoke on the token.
    devnet::grant_role(&chain, token, MINTER_ROLE, minter, deployer).await?;
    assert!(devnet::has_role(&chain, token, MINTER_ROLE, minter).await?);
    devnet::send_call(
        &chain,
        minter,
        token,
        IGroupToken::mintCall {
            to: minter,
            amount: ether(5),
        },
    )
    .await?;
    devnet::revoke_role(&chain, token, MINTER_ROLE, minter, deployer).await?;
    assert!(!devnet::has_role(&chain, token, MINTER_ROLE, minter).await?);
    let refused = devnet::send_call(
        &chain,
        minter,
        token,
        IGroupToken::mintCall {
            to: minter,
            amount: ether(5),
        },
    )
    .await;
    assert!(refused.is_err(), "a revoked minter must not mint");
    assert_eq!(gov.token_balance(&chain, minter).await?, ether(5));
    let granted = events::<IAccessControl::RoleGranted>(&chain, token, from).await?;
    assert!(granted
        .iter()
        .any(|g| (g.role, g.account, g.sender) == (MINTER_ROLE, minter, deployer)));
    let revoked = events::<IAccessControl::RoleRevoked>(&chain, token, from).await?;
    assert_eq!(
        revoked
            .iter()
            .map(|r| (r.role, r.account, r.sender))
            .collect::<Vec<_>>(),
        vec![(MINTER_ROLE, minter, deployer)]
    );
    // The timelock's roles as the deployer wired them.
    let granted = events::<IAccessControl::RoleGranted>(&chain, t, from).await?;
    for expected in [
        (DEFAULT_ADMIN_ROLE, t),
        (DEFAULT_ADMIN_ROLE, deployer),
        (EXECUTOR_ROLE, Address::ZERO),
        (PROPOSER_ROLE, gov.governor),
        (CANCELLER_ROLE, gov.governor),
        (PROPOSER_ROLE, extra_proposer),
    ] {
        assert!(
            granted.iter().any(|g| (g.role, g.account) == expected),
            "no RoleGranted{expected:?} on the timelock"
        );
    }

    // A two-step ownership transfer of the vault, which then pays on its new owner's order.
    let vault = gov.vault;
    assert_eq!(devnet::read_owner(&chain, vault).await?, deployer);
    devnet::transfer_ownership(&chain, vault, deployer, new_owner).await?;
    assert_eq!(devnet::read_owner(&chain, vault).await?, deployer);
    assert_eq!(devnet::read_pending_owner(&chain, vault).await?, new_owner);
    devnet::accept_ownership(&chain, vault, new_owner).await?;
    assert_eq!(devnet::read_owner(&chain, vault).await?, new_owner);
    assert_eq!(
        devnet::read_pending_owner(&chain, vault).await?,
        Address::ZERO
    );
    let started = events::<IOwnable2Step::OwnershipTransferStarted>(&chain, vault, from).await?;
    assert_eq!(
        started
            .iter()
            .map(|s| (s.previousOwner, s.newOwner))
            .collect::<Vec<_>>(),
        vec![(deployer, new_owner)]
    );
    let transferred = events::<IOwnable2Step::OwnershipTransferred>(&chain, vault, from).await?;
    assert_eq!(
        transferred
            .iter()
            .map(|s| (s.previousOwner, s.newOwner))
            .collect::<Vec<_>>(),
        vec![(Address::ZERO, deployer), (deployer, new_owner)]
    );
    let payee = Address::repeat_byte(0x55);
    devnet::fund(&chain, vault, ether(1)).await?;
    assert!(gov
        .vault_pay(&chain, deployer, payee, ether(1))
        .await
        .is_err());
    gov.vault_pay(&chain, new_owner, payee, ether(1) / U256::from(4))
        .await?;
    assert_eq!(
        chain.http_provider().get_balance(payee).await?,
        ether(1) / U256::from(4)
    );
    gov.transfer_tokens(&chain, deployer, vault, ether(3))
        .await?;
    gov.vault_pay_token(&chain, new_owner, token, payee, ether(1))
        .await?;
    assert_eq!(gov.token_balance(&chain, payee).await?, ether(1));

    // Tokens into the treasury, and out of it through a timelock call the governor never saw.
    gov.transfer_tokens(&chain, deployer, t, ether(100)).await?;
    assert_eq!(gov.token_balance(&chain, t).await?, ether(100));
    let recipient = Address::repeat_byte(0x66);
    let data = devnet::token_transfer_calldata(recipient, ether(40));
    let salt = keccak256("unexplained");
    let operation = gov
        .schedule_directly(
            &chain,
            extra_proposer,
            token,
            U256::ZERO,
            data.clone(),
            salt,
        )
        .await?;
    assert_eq!(
        operation,
        devnet::hash_operation(token, U256::ZERO, &data, B256::ZERO, salt)
    );
    let hashed = view(
        &chain,
        t,
        ITimelockController::hashOperationCall {
            target: token,
            value: U256::ZERO,
            data: data.clone(),
            predecessor: B256::ZERO,
            salt,
        },
    )
    .await?;
    assert_eq!(operation, hashed);
    assert_eq!(
        gov.operation_state(&chain, operation).await?,
        OperationState::Waiting
    );
    gov.execute_directly(&chain, stranger, token, U256::ZERO, data.clone(), salt)
        .await?;
    assert_eq!(
        gov.operation_state(&chain, operation).await?,
        OperationState::Done
    );
    assert_eq!(gov.token_balance(&chain, recipient).await?, ether(40));
    assert_eq!(gov.token_balance(&chain, t).await?, ether(60));
    let scheduled = events::<ITimelockController::CallScheduled>(&chain, t, from).await?;
    assert_eq!(
        scheduled
            .iter()
            .map(|s| (s.id, s.target, s.data.clone()))
            .collect::<Vec<_>>(),
        vec![(operation, token, data.clone())]
    );
    let salts = events::<ITimelockController::CallSalt>(&chain, t, from).await?;
    assert_eq!(
        salts.iter().map(|s| (s.id, s.salt)).collect::<Vec<_>>(),
        vec![(operation, salt)]
    );
    let executed = events::<ITimelockController::CallExecuted>(&chain, t, from).await?;
    assert_eq!(
        executed.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![operation]
    );
    assert!(
        events::<IGroupGovernor::ProposalQueued>(&chain, gov.governor, from)
            .await?
            .is_empty(),
        "the direct call has no proposal behind it"
    );

    // The admin can name another canceller, who cancels the next direct call.
    devnet::grant_role(&chain, t, CANCELLER_ROLE, canceller, deployer).await?;
    let other_salt = keccak256("cancelled");
    let doomed = gov
        .schedule_directly(
            &chain,
            extra_proposer,
            token,
            U256::ZERO,
            data.clone(),
            other_salt,
        )
        .await?;
    gov.cancel_operation(&chain, canceller, doomed).await?;
    assert_eq!(
        gov.operation_state(&chain, doomed).await?,
        OperationState::Unset
    );
    let cancelled = events::<ITimelockController::Cancelled>(&chain, t, from).await?;
    assert_eq!(
        cancelled.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![doomed]
    );
    devnet::revoke_role(&chain, t, CANCELLER_ROLE, canceller, deployer).await?;
    assert!(!devnet::has_role(&chain, t, CANCELLER_ROLE, canceller).await?);
    Ok(())
}
