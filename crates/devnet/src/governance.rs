//! A real OpenZeppelin 5.x governance stack on the devnet: an ERC20Votes token with
//! AccessControl roles, a TimelockController that holds the treasury, a Governor that proposes
//! to it, and an Ownable2Step vault; compiled at test time from the pinned sources
//! ([`solc`]) and driven from anvil's unlocked dev accounts.
//!
//! Invariant: the roles are wired as a group would wire them — the timelock's `PROPOSER_ROLE`
//! and `CANCELLER_ROLE` go to the governor (plus any declared extra proposers), `EXECUTOR_ROLE`
//! to the zero address (anyone executes), and the deployer keeps the timelock's admin role only
//! if [`GovernanceParams::keep_timelock_admin`] says so. Whatever a helper sends is an ordinary
//! transaction from an unlocked account, so every event is the contracts' own.
//!
//! - [`bindings`]: `sol!` signatures of the contracts and their events.
//! - [`ids`]: proposal ids and timelock operation ids computed as the contracts compute them.
//! - [`solc`]: compiling `devnet/contracts/*.sol` once per machine and loading the artifacts.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use alloy::primitives::{Address, Bytes, U256};
//! use devnet::{Devnet, DevnetOptions, GovernanceContracts, GovernanceParams, Proposal, VoteSupport};
//! let chain = Devnet::start(DevnetOptions::default()).await?;
//! let gov = GovernanceContracts::deploy(&chain, GovernanceParams::default()).await?;
//! let payee = Address::repeat_byte(0x42);
//! let pay = Proposal::single(payee, U256::from(10).pow(U256::from(18)), Bytes::new(), "Pay 1 ETH");
//! let deployer = chain.dev_account();
//! let id = gov.pass_proposal(&chain, deployer, &pay, &[(deployer, VoteSupport::For)]).await?;
//! # Ok(()) }
//! ```

pub mod bindings;
pub mod solc;

use alloy::{
    primitives::{b256, keccak256, Address, Bytes, B256, U256},
    providers::Provider,
    rpc::types::{BlockNumberOrTag, TransactionInput, TransactionReceipt, TransactionRequest},
    sol_types::{SolCall, SolValue},
};
use anyhow::{bail, ensure, Context, Result};

use self::{
    bindings::{
        IAccessControl, IGroupGovernor, IGroupToken, IOwnable2Step, IOwnedVault,
        ITimelockController,
    },
    solc::Artifacts,
};
use super::{anvil::Devnet, safe::view};
use crate::ids::{description_hash, hash_operation, proposal_id, timelock_operation_id};

/// The governor's artifact name in `devnet/contracts`.
pub const GOVERNOR_CONTRACT: &str = "GroupGovernor";
/// The token's artifact name.
pub const TOKEN_CONTRACT: &str = "GroupToken";
/// The timelock's artifact name.
pub const TIMELOCK_CONTRACT: &str = "GroupTimelock";
/// The Ownable2Step vault's artifact name.
pub const VAULT_CONTRACT: &str = "OwnedVault";

/// AccessControl's admin role: the zero hash.
pub const DEFAULT_ADMIN_ROLE: B256 = B256::ZERO;
/// `keccak256("MINTER_ROLE")`, the token's minting role.
pub const MINTER_ROLE: B256 =
    b256!("9f2df0fed2c77648de5860a4cc508cd0818c85b8b8a1ab4ceeef8d981c8956a6");
/// `keccak256("PROPOSER_ROLE")`, who may schedule on the timelock.
pub const PROPOSER_ROLE: B256 =
    b256!("b09aa5aeb3702cfd50b6b62bc4532604938f21248a27a1d5ca736082b6819cc1");
/// `keccak256("EXECUTOR_ROLE")`, who may execute on the timelock (the zero address: anyone).
pub const EXECUTOR_ROLE: B256 =
    b256!("d8aa0f3194971a2a116679f7c2090f6939c8d4e01a2a8d7e41d55e5351469e63");
/// `keccak256("CANCELLER_ROLE")`, who may cancel a scheduled timelock operation.
pub const CANCELLER_ROLE: B256 =
    b256!("fd643c72710c63c0180259aba6b2d05451e3591a24e58b62239378085726f783");

/// A role's identifier as Solidity computes it: `DEFAULT_ADMIN_ROLE` is zero, any other name
/// is `keccak256(name)`.
pub fn role_id(name: &str) -> B256 {
    if name == "DEFAULT_ADMIN_ROLE" {
        DEFAULT_ADMIN_ROLE
    } else {
        keccak256(name.as_bytes())
    }
}

/// One ether in wei.
const ETHER: u128 = 1_000_000_000_000_000_000;

/// A vote in `GovernorCountingSimple`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum VoteSupport {
    /// 0.
    Against = 0,
    /// 1.
    For = 1,
    /// 2; counts towards quorum, not towards the majority.
    Abstain = 2,
}

/// `IGovernor.ProposalState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProposalState {
    /// Created; voting has not started (`clock() <= snapshot`).
    Pending,
    /// Voting.
    Active,
    /// Cancelled by its proposer (or the timelock operation was).
    Canceled,
    /// Voting ended without quorum or majority.
    Defeated,
    /// Voting ended with quorum and majority; not yet queued.
    Succeeded,
    /// Scheduled on the timelock.
    Queued,
    /// Not executed in time (never for timelocked proposals).
    Expired,
    /// Executed.
    Executed,
}

impl TryFrom<u8> for ProposalState {
    type Error = anyhow::Error;

    fn try_from(value: u8) -> Result<Self> {
        Ok(match value {
            0 => Self::Pending,
            1 => Self::Active,
            2 => Self::Canceled,
            3 => Self::Defeated,
            4 => Self::Succeeded,
            5 => Self::Queued,
            6 => Self::Expired,
            7 => Self::Executed,
            other => bail!("unknown ProposalState {other}"),
        })
    }
}

/// `TimelockController.OperationState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationState {
    /// Not scheduled (or cancelled).
    Unset,
    /// Scheduled, delay not yet passed.
    Waiting,
    /// Scheduled and executable.
    Ready,
    /// Executed.
    Done,
}

impl TryFrom<u8> for OperationState {
    type Error = anyhow::Error;

    fn try_from(value: u8) -> Result<Self> {
        Ok(match value {
            0 => Self::Unset,
            1 => Self::Waiting,
            2 => Self::Ready,
            3 => Self::Done,
            other => bail!("unknown OperationState {other}"),
        })
    }
}

/// Who owns the [`GovernanceContracts::vault`] at deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VaultOwner {
    /// The dev account that deploys everything.
    #[default]
    Deployer,
    /// The timelock, so only proposals move its funds.
    Timelock,
    /// Any other address.
    Account(Address),
}

/// How to deploy and wire [`GovernanceContracts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GovernanceParams {
    /// Blocks between a proposal and the start of its vote (`uint48`).
    pub voting_delay: u64,
    /// Blocks the vote lasts (`uint32`, at least 1).
    pub voting_period: u64,
    /// Votes needed to propose.
    pub proposal_threshold: U256,
    /// Quorum as a percentage of the total supply at the snapshot (denominator 100).
    pub quorum_numerator: u64,
    /// The timelock's minimum delay in seconds.
    pub min_delay: u64,
    /// Accounts granted the timelock's `PROPOSER_ROLE` besides the governor (without
    /// `CANCELLER_ROLE`): a proposer outside the governor, for "unexplained call" tests.
    pub extra_proposers: Vec<Address>,
    /// Keep the deployer's `DEFAULT_ADMIN_ROLE` on the timelock; the standard wiring
    /// renounces it, leaving the timelock as its own only admin.
    pub keep_timelock_admin: bool,
    /// Tokens (18 decimals, in base units) minted to the deployer and self-delegated, so the
    /// deployer can pass proposals alone.
    pub initial_supply: U256,
    /// Wei sent to the timelock after deployment.
    pub timelock_funding: U256,
    /// The vault's first owner.
    pub vault_owner: VaultOwner,
    /// The token's name (also its EIP-712 domain name).
    pub token_name: String,
    /// The token's symbol.
    pub token_symbol: String,
}

impl Default for GovernanceParams {
    fn default() -> Self {
        Self {
            voting_delay: 1,
            voting_period: 10,
            proposal_threshold: U256::ZERO,
            quorum_numerator: 4,
            min_delay: 2,
            extra_proposers: Vec::new(),
            keep_timelock_admin: false,
            initial_supply: U256::from(1_000 * ETHER),
            timelock_funding: U256::from(10 * ETHER),
            vault_owner: VaultOwner::Deployer,
            token_name: "Group Token".into(),
            token_symbol: "GRP".into(),
        }
    }
}

/// The arguments of `propose` (and, with the description hashed, of `queue`, `execute` and
/// `cancel`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Proposal {
    /// Call targets.
    pub targets: Vec<Address>,
    /// Wei per call, paid from the timelock's balance.
    pub values: Vec<U256>,
    /// Call data per call.
    pub calldatas: Vec<Bytes>,
    /// The description; its hash makes the id unique, so reuse one only for the same proposal.
    pub description: String,
}

impl Proposal {
    /// A proposal without calls yet; add them with [`Proposal::call`].
    pub fn new(description: impl Into<String>) -> Self {
        Self {
            description: description.into(),
            ..Self::default()
        }
    }

    /// A proposal of one call.
    pub fn single(
        target: Address,
        value: U256,
        calldata: impl Into<Bytes>,
        description: impl Into<String>,
    ) -> Self {
        Self::new(description).call(target, value, calldata)
    }

    /// Adds a call.
    pub fn call(mut self, target: Address, value: U256, calldata: impl Into<Bytes>) -> Self {
        self.targets.push(target);
        self.values.push(value);
        self.calldatas.push(calldata.into());
        self
    }

    /// `keccak256(bytes(description))`.
    pub fn description_hash(&self) -> B256 {
        description_hash(&self.description)
    }

    /// The proposal id, as `Governor.hashProposal` computes it.
    pub fn id(&self) -> U256 {
        proposal_id(
            &self.targets,
            &self.values,
            &self.calldatas,
            self.description_hash(),
        )
    }

    /// The timelock operation id `governor` schedules this proposal under when it is queued.
    pub fn timelock_operation_id(&self, governor: Address) -> B256 {
        timelock_operation_id(
            governor,
            &self.targets,
            &self.values,
            &self.calldatas,
            self.description_hash(),
        )
    }
}

/// The governance contracts deployed on a [`Devnet`], and the parameters they were deployed
/// with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GovernanceContracts {
    /// `GroupToken` (ERC20Votes + AccessControl).
    pub token: Address,
    /// `GroupTimelock` (TimelockController): the treasury and the governor's executor.
    pub timelock: Address,
    /// `GroupGovernor`.
    pub governor: Address,
    /// `OwnedVault` (Ownable2Step).
    pub vault: Address,
    /// The dev account that deployed everything (token admin and minter).
    pub deployer: Address,
    /// The block of the first deployment, a follower's natural `start_block`.
    pub deploy_block: u64,
    /// The parameters used.
    pub params: GovernanceParams,
}

impl GovernanceContracts {
    /// Compiles the contracts if needed, deploys token, timelock, governor and vault from the
    /// dev account, and wires them (see the module invariant): the deployer holds the token's
    /// admin and `MINTER_ROLE`, gets [`GovernanceParams::initial_supply`] self-delegated, and
    /// the timelock gets [`GovernanceParams::timelock_funding`].
    #[tracing::instrument(skip_all, fields(port = devnet.port()))]
    pub async fn deploy(devnet: &Devnet, params: GovernanceParams) -> Result<GovernanceContracts> {
        ensure!(
            params.voting_delay < 1 << 48,
            "voting_delay {} does not fit uint48",
            params.voting_delay
        );
        ensure!(
            (1..=u64::from(u32::MAX)).contains(&params.voting_period),
            "voting_period {} must be in 1..=2^32-1",
            params.voting_period
        );
        ensure!(
            params.quorum_numerator <= 100,
            "quorum_numerator {} exceeds the denominator 100",
            params.quorum_numerator
        );
        let artifacts = Artifacts::compile(devnet.project_dir()).await?;
        let deployer = devnet.dev_account();

        let token = deploy_contract(
            devnet,
            &artifacts,
            TOKEN_CONTRACT,
            (
                params.token_name.clone(),
                params.token_symbol.clone(),
                deployer,
                deployer,
            )
                .abi_encode_params(),
        )
        .await?;
        let deploy_block = devnet.head().await?;
        // Admin: the deployer, until the governor holds its roles; then kept or renounced.
        let timelock = deploy_contract(
            devnet,
            &artifacts,
            TIMELOCK_CONTRACT,
            (
                U256::from(params.min_delay),
                Vec::<Address>::new(),
                vec![Address::ZERO],
                deployer,
            )
                .abi_encode_params(),
        )
        .await?;
        let governor = deploy_contract(
            devnet,
            &artifacts,
            GOVERNOR_CONTRACT,
            (
                token,
                timelock,
                U256::from(params.voting_delay),
                U256::from(params.voting_period),
                params.proposal_threshold,
                U256::from(params.quorum_numerator),
            )
                .abi_encode_params(),
        )
        .await?;
        let vault_owner = match params.vault_owner {
            VaultOwner::Deployer => deployer,
            VaultOwner::Timelock => timelock,
            VaultOwner::Account(account) => account,
        };
        let vault = deploy_contract(
            devnet,
            &artifacts,
            VAULT_CONTRACT,
            (vault_owner,).abi_encode_params(),
        )
        .await?;

        let contracts = GovernanceContracts {
            token,
            timelock,
            governor,
            vault,
            deployer,
            deploy_block,
            params,
        };
        grant_role(devnet, timelock, PROPOSER_ROLE, governor, deployer).await?;
        grant_role(devnet, timelock, CANCELLER_ROLE, governor, deployer).await?;
        for proposer in &contracts.params.extra_proposers {
            grant_role(devnet, timelock, PROPOSER_ROLE, *proposer, deployer).await?;
        }
        if contracts.params.initial_supply > U256::ZERO {
            contracts
                .mint_and_delegate(devnet, deployer, contracts.params.initial_supply)
                .await?;
        }
        if contracts.params.timelock_funding > U256::ZERO {
            let tx = TransactionRequest::default()
                .to(timelock)
                .value(contracts.params.timelock_funding);
            devnet.transact(tx).await.context("funding the timelock")?;
        }
        if !contracts.params.keep_timelock_admin {
            renounce_role(devnet, timelock, DEFAULT_ADMIN_ROLE, deployer).await?;
        }
        tracing::debug!(%token, %timelock, %governor, %vault, "governance deployed");
        Ok(contracts)
    }

    /// Mints `amount` to `to` from the deployer (who holds `MINTER_ROLE`).
    pub async fn mint(&self, devnet: &Devnet, to: Address, amount: U256) -> Result<()> {
        send_call(
            devnet,
            self.deployer,
            self.token,
            IGroupToken::mintCall { to, amount },
        )
        .await?;
        Ok(())
    }

    /// `holder` delegates its votes to `delegatee`; `holder` must be an unlocked account.
    pub async fn delegate(
        &self,
        devnet: &Devnet,
        holder: Address,
        delegatee: Address,
    ) -> Result<()> {
        send_call(
            devnet,
            holder,
            self.token,
            IGroupToken::delegateCall { delegatee },
        )
        .await?;
        Ok(())
    }

    /// Mints `amount` to `voter` and has `voter` (an unlocked account) delegate to itself, so
    /// the tokens count as votes from the next block on.
    pub async fn mint_and_delegate(
        &self,
        devnet: &Devnet,
        voter: Address,
        amount: U256,
    ) -> Result<()> {
        self.mint(devnet, voter, amount).await?;
        self.delegate(devnet, voter, voter).await
    }

    /// `voter`'s current votes.
    pub async fn read_votes(&self, devnet: &Devnet, voter: Address) -> Result<U256> {
        view(
            devnet,
            self.token,
            IGroupToken::getVotesCall { account: voter },
        )
        .await
    }

    /// `proposer` (an unlocked account) proposes; returns the id from `ProposalCreated`.
    #[tracing::instrument(skip_all, fields(%proposer, description = %proposal.description))]
    pub async fn propose(
        &self,
        devnet: &Devnet,
        proposer: Address,
        proposal: &Proposal,
    ) -> Result<U256> {
        let receipt = send_call(
            devnet,
            proposer,
            self.governor,
            IGroupGovernor::proposeCall {
                targets: proposal.targets.clone(),
                values: proposal.values.clone(),
                calldatas: proposal.calldatas.clone(),
                description: proposal.description.clone(),
            },
        )
        .await?;
        let created = receipt
            .logs()
            .iter()
            .filter(|log| log.address() == self.governor)
            .find_map(|log| log.log_decode::<IGroupGovernor::ProposalCreated>().ok())
            .context("propose emitted no ProposalCreated")?;
        Ok(created.inner.data.proposalId)
    }

    /// `voter` (an unlocked account) votes on proposal `id`.
    pub async fn cast_vote(
        &self,
        devnet: &Devnet,
        id: U256,
        support: VoteSupport,
        voter: Address,
    ) -> Result<TransactionReceipt> {
        send_call(
            devnet,
            voter,
            self.governor,
            IGroupGovernor::castVoteCall {
                proposalId: id,
                support: support as u8,
            },
        )
        .await
    }

    /// Queues a succeeded proposal on the timelock (anyone may; the deployer sends it).
    pub async fn queue(&self, devnet: &Devnet, proposal: &Proposal) -> Result<TransactionReceipt> {
        send_call(
            devnet,
            self.deployer,
            self.governor,
            IGroupGovernor::queueCall {
                targets: proposal.targets.clone(),
                values: proposal.values.clone(),
                calldatas: proposal.calldatas.clone(),
                descriptionHash: proposal.description_hash(),
            },
        )
        .await
    }

    /// Executes a queued proposal whose delay has passed (anyone may; the deployer sends it).
    /// Values are paid from the timelock's balance.
    pub async fn execute(
        &self,
        devnet: &Devnet,
        proposal: &Proposal,
    ) -> Result<TransactionReceipt> {
        send_call(
            devnet,
            self.deployer,
            self.governor,
            IGroupGovernor::executeCall {
                targets: proposal.targets.clone(),
                values: proposal.values.clone(),
                calldatas: proposal.calldatas.clone(),
                descriptionHash: proposal.description_hash(),
            },
        )
        .await
    }

    /// Cancels a proposal; OpenZeppelin 5.x lets only its proposer, and only while it is
    /// `Pending`.
    pub async fn cancel(
        &self,
        devnet: &Devnet,
        proposer: Address,
        proposal: &Proposal,
    ) -> Result<TransactionReceipt> {
        send_call(
            devnet,
            proposer,
            self.governor,
            IGroupGovernor::cancelCall {
                targets: proposal.targets.clone(),
                values: proposal.values.clone(),
                calldatas: proposal.calldatas.clone(),
                descriptionHash: proposal.description_hash(),
            },
        )
        .await
    }

    /// The proposal's state.
    pub async fn state(&self, devnet: &Devnet, id: U256) -> Result<ProposalState> {
        let state = view(
            devnet,
            self.governor,
            IGroupGovernor::stateCall { proposalId: id },
        )
        .await?;
        ProposalState::try_from(state)
    }

    /// The proposal's `(against, for, abstain)` votes.
    pub async fn proposal_votes(&self, devnet: &Devnet, id: U256) -> Result<(U256, U256, U256)> {
        let votes = view(
            devnet,
            self.governor,
            IGroupGovernor::proposalVotesCall { proposalId: id },
        )
        .await?;
        Ok((votes.againstVotes, votes.forVotes, votes.abstainVotes))
    }

    /// Mines blocks until voting on `id` is open (the head is past its snapshot).
    pub async fn advance_to_voting(&self, devnet: &Devnet, id: U256) -> Result<()> {
        let snapshot = view(
            devnet,
            self.governor,
            IGroupGovernor::proposalSnapshotCall { proposalId: id },
        )
        .await?;
        mine_past(devnet, to_u64(snapshot, "proposal snapshot")?).await
    }

    /// Mines blocks until voting on `id` has closed (the head is past its deadline).
    pub async fn advance_past_deadline(&self, devnet: &Devnet, id: U256) -> Result<()> {
        let deadline = view(
            devnet,
            self.governor,
            IGroupGovernor::proposalDeadlineCall { proposalId: id },
        )
        .await?;
        mine_past(devnet, to_u64(deadline, "proposal deadline")?).await
    }

    /// Moves time forward until the queued proposal `id` is executable (its ETA has passed).
    pub async fn advance_past_eta(&self, devnet: &Devnet, id: U256) -> Result<()> {
        let eta = view(
            devnet,
            self.governor,
            IGroupGovernor::proposalEtaCall { proposalId: id },
        )
        .await?;
        ensure!(eta > U256::ZERO, "proposal {id} is not queued");
        advance_time_to(devnet, to_u64(eta, "proposal eta")?).await
    }

    /// Takes a proposal through its whole life: `proposer` proposes, each voter votes, then it
    /// is queued and executed once its delay has passed. Fails, naming the state and the
    /// votes, if it does not succeed. Returns its id.
    #[tracing::instrument(skip_all, fields(%proposer, description = %proposal.description))]
    pub async fn pass_proposal(
        &self,
        devnet: &Devnet,
        proposer: Address,
        proposal: &Proposal,
        votes: &[(Address, VoteSupport)],
    ) -> Result<U256> {
        let id = self.propose(devnet, proposer, proposal).await?;
        self.advance_to_voting(devnet, id).await?;
        for (voter, support) in votes {
            self.cast_vote(devnet, id, *support, *voter).await?;
        }
        self.advance_past_deadline(devnet, id).await?;
        let state = self.state(devnet, id).await?;
        if state != ProposalState::Succeeded {
            let (against, for_, abstain) = self.proposal_votes(devnet, id).await?;
            bail!(
                "proposal {:?} is {state:?} after voting (for {for_}, against {against}, abstain \
                 {abstain})",
                proposal.description
            );
        }
        self.queue(devnet, proposal).await?;
        self.advance_past_eta(devnet, id).await?;
        self.execute(devnet, proposal).await?;
        Ok(id)
    }

    /// Changes the timelock's minimum delay through a proposal (`updateDelay` may only be
    /// called by the timelock itself) that the deployer proposes and passes with its own
    /// votes. Returns the proposal id.
    pub async fn update_delay(&self, devnet: &Devnet, new_delay: u64) -> Result<U256> {
        let call = ITimelockController::updateDelayCall {
            newDelay: U256::from(new_delay),
        };
        // The head block keeps the description, hence the id, unique if the same delay is
        // set twice.
        let description = format!(
            "Set the timelock's minimum delay to {new_delay} s (proposed at block {})",
            devnet.head().await?
        );
        let proposal = Proposal::single(self.timelock, U256::ZERO, call.abi_encode(), description);
        self.pass_by_deployer(devnet, &proposal).await
    }

    /// Pays `amount` of the group token from the timelock's treasury to `to` through a
    /// proposal the deployer proposes and passes with its own votes: the documented way funds
    /// leave. Returns the proposal id.
    pub async fn transfer_tokens_from_treasury(
        &self,
        devnet: &Devnet,
        to: Address,
        amount: U256,
    ) -> Result<U256> {
        let description = format!(
            "Pay {amount} GRP base units from the treasury to {to} (proposed at block {})",
            devnet.head().await?
        );
        let proposal = Proposal::single(
            self.token,
            U256::ZERO,
            token_transfer_calldata(to, amount),
            description,
        );
        self.pass_by_deployer(devnet, &proposal).await
    }

    /// [`GovernanceContracts::pass_proposal`] with the deployer as proposer and only voter.
    async fn pass_by_deployer(&self, devnet: &Devnet, proposal: &Proposal) -> Result<U256> {
        self.pass_proposal(
            devnet,
            self.deployer,
            proposal,
            &[(self.deployer, VoteSupport::For)],
        )
        .await
    }

    /// The timelock's current minimum delay in seconds.
    pub async fn read_min_delay(&self, devnet: &Devnet) -> Result<u64> {
        let delay = view(
            devnet,
            self.timelock,
            ITimelockController::getMinDelayCall {},
        )
        .await?;
        to_u64(delay, "timelock delay")
    }

    /// A timelock operation's state.
    pub async fn operation_state(&self, devnet: &Devnet, id: B256) -> Result<OperationState> {
        let state = view(
            devnet,
            self.timelock,
            ITimelockController::getOperationStateCall { id },
        )
        .await?;
        OperationState::try_from(state)
    }

    /// Schedules one call on the timelock directly (`schedule`, not through the governor), from
    /// `proposer`, an unlocked account holding `PROPOSER_ROLE`, with the current minimum
    /// delay and no predecessor: the "unexplained timelock call". Returns the operation id
    /// from `CallScheduled`.
    #[tracing::instrument(skip_all, fields(%proposer, %target))]
    pub async fn schedule_directly(
        &self,
        devnet: &Devnet,
        proposer: Address,
        target: Address,
        value: U256,
        data: Bytes,
        salt: B256,
    ) -> Result<B256> {
        let delay = self.read_min_delay(devnet).await?;
        let receipt = send_call(
            devnet,
            proposer,
            self.timelock,
            ITimelockController::scheduleCall {
                target,
                value,
                data,
                predecessor: B256::ZERO,
                salt,
                delay: U256::from(delay),
            },
        )
        .await?;
        let scheduled = receipt
            .logs()
            .iter()
            .filter(|log| log.address() == self.timelock)
            .find_map(|log| log.log_decode::<ITimelockController::CallScheduled>().ok())
            .context("schedule emitted no CallScheduled")?;
        Ok(scheduled.inner.data.id)
    }

    /// Executes an operation scheduled with [`GovernanceContracts::schedule_directly`] once
    /// its delay has passed (time is moved forward if needed), from `executor` (anyone, with
    /// the standard wiring).
    pub async fn execute_directly(
        &self,
        devnet: &Devnet,
        executor: Address,
        target: Address,
        value: U256,
        data: Bytes,
        salt: B256,
    ) -> Result<TransactionReceipt> {
        let id = hash_operation(target, value, &data, B256::ZERO, salt);
        let ready_at = view(
            devnet,
            self.timelock,
            ITimelockController::getTimestampCall { id },
        )
        .await?;
        ensure!(
            ready_at > U256::ONE,
            "timelock operation {id} is not pending"
        );
        advance_time_to(devnet, to_u64(ready_at, "operation timestamp")?).await?;
        send_call(
            devnet,
            executor,
            self.timelock,
            ITimelockController::executeCall {
                target,
                value,
                payload: data,
                predecessor: B256::ZERO,
                salt,
            },
        )
        .await
    }

    /// Cancels a pending timelock operation, from `canceller` (an unlocked account holding
    /// `CANCELLER_ROLE`).
    pub async fn cancel_operation(
        &self,
        devnet: &Devnet,
        canceller: Address,
        id: B256,
    ) -> Result<TransactionReceipt> {
        send_call(
            devnet,
            canceller,
            self.timelock,
            ITimelockController::cancelCall { id },
        )
        .await
    }

    /// Transfers `amount` of the group token from `from` (an unlocked account) to `to`, e.g.
    /// into the timelock's treasury.
    pub async fn transfer_tokens(
        &self,
        devnet: &Devnet,
        from: Address,
        to: Address,
        amount: U256,
    ) -> Result<TransactionReceipt> {
        transfer_tokens(devnet, self.token, from, to, amount).await
    }

    /// The group token balance of `holder`.
    pub async fn token_balance(&self, devnet: &Devnet, holder: Address) -> Result<U256> {
        read_token_balance(devnet, self.token, holder).await
    }

    /// The vault pays `amount` wei to `to`, on the order of its owner `owner` (an unlocked
    /// account).
    pub async fn vault_pay(
        &self,
        devnet: &Devnet,
        owner: Address,
        to: Address,
        amount: U256,
    ) -> Result<TransactionReceipt> {
        send_call(
            devnet,
            owner,
            self.vault,
            IOwnedVault::payCall { to, amount },
        )
        .await
    }

    /// The vault pays `amount` of `token` to `to`, on the order of its owner `owner`.
    pub async fn vault_pay_token(
        &self,
        devnet: &Devnet,
        owner: Address,
        token: Address,
        to: Address,
        amount: U256,
    ) -> Result<TransactionReceipt> {
        send_call(
            devnet,
            owner,
            self.vault,
            IOwnedVault::payTokenCall { token, to, amount },
        )
        .await
    }
}

/// Deploys `contract` from the compiled artifacts with ABI-encoded constructor arguments.
pub(crate) async fn deploy_contract(
    devnet: &Devnet,
    artifacts: &Artifacts,
    contract: &str,
    constructor_args: Vec<u8>,
) -> Result<Address> {
    let mut init_code = artifacts.bytecode(contract)?.to_vec();
    init_code.extend_from_slice(&constructor_args);
    devnet
        .deploy(init_code)
        .await
        .with_context(|| format!("deploying {contract}"))
}

/// Sends `call` to `to` from `from` (an unlocked dev account), waits, and fails if it reverted.
pub async fn send_call<C: SolCall>(
    devnet: &Devnet,
    from: Address,
    to: Address,
    call: C,
) -> Result<TransactionReceipt> {
    let tx = TransactionRequest::default()
        .from(from)
        .to(to)
        .input(TransactionInput::new(call.abi_encode().into()));
    devnet
        .transact(tx)
        .await
        .with_context(|| format!("{} on {to} from {from}", C::SIGNATURE))
}

/// `from` grants `role` on the AccessControl contract `contract` to `account`; `from` must
/// hold the role's admin role.
pub async fn grant_role(
    devnet: &Devnet,
    contract: Address,
    role: B256,
    account: Address,
    from: Address,
) -> Result<TransactionReceipt> {
    send_call(
        devnet,
        from,
        contract,
        IAccessControl::grantRoleCall { role, account },
    )
    .await
}

/// `from` revokes `role` on `contract` from `account`; `from` must hold the role's admin role.
pub async fn revoke_role(
    devnet: &Devnet,
    contract: Address,
    role: B256,
    account: Address,
    from: Address,
) -> Result<TransactionReceipt> {
    send_call(
        devnet,
        from,
        contract,
        IAccessControl::revokeRoleCall { role, account },
    )
    .await
}

/// `account` (an unlocked account) gives up its own `role` on `contract`.
pub async fn renounce_role(
    devnet: &Devnet,
    contract: Address,
    role: B256,
    account: Address,
) -> Result<TransactionReceipt> {
    send_call(
        devnet,
        account,
        contract,
        IAccessControl::renounceRoleCall {
            role,
            callerConfirmation: account,
        },
    )
    .await
}

/// Whether `account` holds `role` on the AccessControl contract `contract`.
pub async fn has_role(
    devnet: &Devnet,
    contract: Address,
    role: B256,
    account: Address,
) -> Result<bool> {
    view(
        devnet,
        contract,
        IAccessControl::hasRoleCall { role, account },
    )
    .await
}

/// Starts an Ownable2Step transfer: `owner` (an unlocked account) names `new_owner`, who
/// becomes `pendingOwner` until it accepts.
pub async fn transfer_ownership(
    devnet: &Devnet,
    contract: Address,
    owner: Address,
    new_owner: Address,
) -> Result<TransactionReceipt> {
    send_call(
        devnet,
        owner,
        contract,
        IOwnable2Step::transferOwnershipCall {
            newOwner: new_owner,
        },
    )
    .await
}

/// Completes an Ownable2Step transfer: the pending owner (an unlocked account) accepts.
pub async fn accept_ownership(
    devnet: &Devnet,
    contract: Address,
    new_owner: Address,
) -> Result<TransactionReceipt> {
    send_call(
        devnet,
        new_owner,
        contract,
        IOwnable2Step::acceptOwnershipCall {},
    )
    .await
}

/// An Ownable contract's owner.
pub async fn read_owner(devnet: &Devnet, contract: Address) -> Result<Address> {
    view(devnet, contract, IOwnable2Step::ownerCall {}).await
}

/// An Ownable2Step contract's pending owner (zero if none).
pub async fn read_pending_owner(devnet: &Devnet, contract: Address) -> Result<Address> {
    view(devnet, contract, IOwnable2Step::pendingOwnerCall {}).await
}

/// `from` (an unlocked account) transfers `amount` of the ERC-20 `token` to `to`.
pub async fn transfer_tokens(
    devnet: &Devnet,
    token: Address,
    from: Address,
    to: Address,
    amount: U256,
) -> Result<TransactionReceipt> {
    send_call(
        devnet,
        from,
        token,
        IGroupToken::transferCall { to, value: amount },
    )
    .await
}

/// `transfer(to, amount)` call data, for a proposal or timelock operation that moves tokens
/// out of the treasury.
pub fn token_transfer_calldata(to: Address, amount: U256) -> Bytes {
    IGroupToken::transferCall { to, value: amount }
        .abi_encode()
        .into()
}

/// The ERC-20 `token` balance of `holder`.
pub async fn read_token_balance(devnet: &Devnet, token: Address, holder: Address) -> Result<U256> {
    view(
        devnet,
        token,
        IGroupToken::balanceOfCall { account: holder },
    )
    .await
}

/// Mines blocks until the head is past `block` (so a view or a transaction sees
/// `block.number > block`); does nothing if it already is.
pub async fn mine_past(devnet: &Devnet, block: u64) -> Result<()> {
    let head = devnet.head().await?;
    if head <= block {
        devnet.mine(block - head + 1).await?;
    }
    Ok(())
}

/// Moves the chain's clock forward by `seconds` (`evm_increaseTime`) and mines a block that
/// carries the new time.
pub async fn increase_time(devnet: &Devnet, seconds: u64) -> Result<()> {
    let _: serde_json::Value = devnet
        .raw("evm_increaseTime", (U256::from(seconds),))
        .await?;
    devnet.mine(1).await
}

/// The latest block's timestamp.
pub async fn latest_timestamp(devnet: &Devnet) -> Result<u64> {
    let block = devnet
        .http_provider()
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .context("eth_getBlockByNumber(latest) on the devnet")?
        .context("the devnet has no latest block")?;
    Ok(block.header.timestamp)
}

/// Moves time forward until the latest block's timestamp is at least `timestamp`.
pub async fn advance_time_to(devnet: &Devnet, timestamp: u64) -> Result<()> {
    // anvil stamps a block with wall-clock time plus the offset, never less than its parent,
    // so one increase nearly always suffices; the loop covers a second boundary in between.
    for _ in 0..5 {
        let now = latest_timestamp(devnet).await?;
        if now >= timestamp {
            return Ok(());
        }
        increase_time(devnet, timestamp - now).await?;
    }
    bail!("the devnet's clock did not reach {timestamp}")
}

fn to_u64(value: U256, what: &str) -> Result<u64> {
    u64::try_from(value).with_context(|| format!("{what} {value} does not fit u64"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_constants_are_the_hashed_names() {
        for (name, id) in [
            ("DEFAULT_ADMIN_ROLE", DEFAULT_ADMIN_ROLE),
            ("MINTER_ROLE", MINTER_ROLE),
            ("PROPOSER_ROLE", PROPOSER_ROLE),
            ("EXECUTOR_ROLE", EXECUTOR_ROLE),
            ("CANCELLER_ROLE", CANCELLER_ROLE),
        ] {
            assert_eq!(role_id(name), id, "{name}");
        }
    }

    #[test]
    fn proposal_builder_keeps_calls_aligned() {
        let p = Proposal::new("two calls")
            .call(Address::repeat_byte(1), U256::from(1), Bytes::new())
            .call(
                Address::repeat_byte(2),
                U256::ZERO,
                Bytes::from_static(&[0xab]),
            );
        assert_eq!(p.targets.len(), 2);
        assert_eq!(p.values.len(), 2);
        assert_eq!(p.calldatas.len(), 2);
        assert_eq!(p.description_hash(), keccak256("two calls"));
        assert_ne!(
            p.id(),
            Proposal::new("other")
                .call(p.targets[0], p.values[0], Bytes::new())
                .id()
        );
    }
}
