//! The mixed governance workload several benchmarks index: OpenZeppelin Governor proposals
//! through their whole lifecycle, AccessControl role changes, ERC-20 transfers into and out of
//! the treasury, and Safe executions (SafeL2 and plain) paying out of two Safes.

use std::time::Instant;

use alloy::primitives::{keccak256, Address, U256};
use alloy::signers::local::PrivateKeySigner;
use devnet::{
    self, Devnet, DevnetOptions, GovernanceContracts, GovernanceParams, Proposal, SafeContracts,
    SafeVersion, VoteSupport, MINTER_ROLE,
};

/// The workload as built: the devnet, its contracts and what it holds.
pub struct Mixed {
    pub devnet: Devnet,
    pub keys: Vec<PrivateKeySigner>,
    pub owners: Vec<Address>,
    /// A SafeL2 and a plain Safe, both 1.4.1, owners 2 of 3.
    pub l2: Address,
    pub plain: Address,
    pub g: GovernanceContracts,
    pub head: u64,
    pub proposals: usize,
    pub role_changes: usize,
    pub transfers: usize,
    pub executions: usize,
}

/// Builds the workload at `scale` (1: 20 proposals, 200 role changes, 2,000 transfers, 400
/// Safe executions).
pub async fn mixed(scale: usize) -> Mixed {
    let (proposals, role_changes, transfers, executions) =
        (20 * scale, 200 * scale, 2000 * scale, 400 * scale);
    eprintln!("building the mixed workload…");
    let built = Instant::now();
    let devnet = Devnet::start(DevnetOptions::default())
        .await
        .expect("devnet");
    let safes_c = SafeContracts::deploy(&devnet).await.unwrap();
    let keys = devnet::signers(3);
    let owners: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let l2 = safes_c
        .create_safe(&devnet, SafeVersion::V141L2, &owners, 2, 1)
        .await
        .unwrap();
    let plain = safes_c
        .create_safe(&devnet, SafeVersion::V141, &owners, 2, 2)
        .await
        .unwrap();
    for s in [l2, plain] {
        devnet::fund(&devnet, s, U256::from(10u64).pow(U256::from(20)))
            .await
            .unwrap();
    }
    let g = GovernanceContracts::deploy(
        &devnet,
        GovernanceParams {
            keep_timelock_admin: true,
            ..GovernanceParams::default()
        },
    )
    .await
    .unwrap();
    let voters: Vec<Address> = devnet.accounts()[1..4].to_vec();
    for (i, v) in voters.iter().enumerate() {
        let w =
            U256::from(if i == 0 { 300u64 } else { 100 }) * U256::from(10u64).pow(U256::from(18));
        g.mint_and_delegate(&devnet, *v, w).await.unwrap();
    }
    for i in 0..proposals {
        let p = Proposal::single(
            Address::repeat_byte(0x42),
            U256::from(1),
            Vec::<u8>::new(),
            format!("Payment {i}"),
        );
        let votes = [
            (voters[0], VoteSupport::For),
            (voters[1], VoteSupport::Against),
            (voters[2], VoteSupport::Abstain),
        ];
        g.pass_proposal(&devnet, voters[0], &p, &votes)
            .await
            .unwrap();
    }
    for i in 0..role_changes {
        let who = Address::from_word(keccak256(i.to_be_bytes()));
        if i % 2 == 0 {
            devnet::grant_role(&devnet, g.token, MINTER_ROLE, who, g.deployer)
                .await
                .unwrap();
        } else {
            let prev = Address::from_word(keccak256((i - 1).to_be_bytes()));
            devnet::revoke_role(&devnet, g.token, MINTER_ROLE, prev, g.deployer)
                .await
                .unwrap();
        }
    }
    for i in 0..transfers {
        let to = [g.timelock, l2, plain][i % 3];
        // An explicit gas limit: anvil's estimate for an ERC20Votes transfer can fall short.
        let tx = alloy::rpc::types::TransactionRequest::default()
            .from(g.deployer)
            .to(g.token)
            .gas_limit(300_000)
            .input(alloy::rpc::types::TransactionInput::new(
                devnet::token_transfer_calldata(to, U256::from(1)),
            ));
        devnet.transact(tx).await.unwrap();
    }
    for i in 0..executions {
        let safe = if i % 2 == 0 { l2 } else { plain };
        devnet::exec_transaction(
            &devnet,
            safe,
            Address::repeat_byte(0x77),
            U256::from(1),
            Default::default(),
            0,
            &[&keys[0], &keys[1]],
        )
        .await
        .unwrap();
    }
    let head = devnet.head().await.unwrap();
    eprintln!(
        "built in {:.1} s, {head} blocks",
        built.elapsed().as_secs_f64()
    );
    Mixed {
        devnet,
        keys,
        owners,
        l2,
        plain,
        g,
        head,
        proposals,
        role_changes,
        transfers,
        executions,
    }
}

impl Mixed {
    /// The manifest of group `id` declaring everything the workload touches, as YAML.
    pub fn manifest_yaml(&self, id: &str) -> String {
        let (owners, g, l2, plain) = (&self.owners, &self.g, self.l2, self.plain);
        format!(
        "id: {id}\nname: Mixed\npurpose: Benchmark.\nphase: coordination\nchain: local\nstart_block: 0\ntreasury:\n  safes:\n    - address: \"{l2}\"\n      owners: [\"{o0}\", \"{o1}\", \"{o2}\"]\n      threshold: 2\n    - address: \"{plain}\"\n      owners: [\"{o0}\", \"{o1}\", \"{o2}\"]\n      threshold: 2\ngovernance:\n  governors:\n    - {{ address: \"{gov}\", timelock: \"{tl}\", voting_delay: 1, voting_period: 10, proposal_threshold: \"0\", quorum_numerator: 4 }}\n  timelocks:\n    - address: \"{tl}\"\n      min_delay: 2\n      proposers: [\"{gov}\"]\n      executors: [\"0x0000000000000000000000000000000000000000\"]\n      cancellers: [\"{gov}\"]\n      admins: [\"{dep}\"]\nroles:\n  - contract: \"{token}\"\n    members:\n      DEFAULT_ADMIN_ROLE: [\"{dep}\"]\n      MINTER_ROLE: [\"{dep}\"]\n",
        o0 = owners[0], o1 = owners[1], o2 = owners[2], gov = g.governor, tl = g.timelock,
        dep = g.deployer, token = g.token,
    )
    }
}
