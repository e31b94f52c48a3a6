//! A real local chain for the demo, the tests and the benchmarks: an anvil (or Hardhat) process
//! with the Safe 1.4.1 and 1.3.0 contracts deployed from their published build artifacts, and
//! helpers to create Safes, execute owner-signed Safe transactions and pay many Safes at once.
//!
//! Nothing here is mocked: anvil, Hardhat and the contracts come from the npm packages pinned in
//! the project's `package.json`, installed by [`Devnet::start`] on first use.
//!
//! - [`anvil`]: [`Devnet`], the process, its dev accounts and raw test RPCs (mine, reorg,
//!   snapshot/revert, automine, balances, code, storage) on either [`NodeKind`].
//! - [`hardhat`]: how `hardhat node` is started, with the crate's `hardhat.config.js`.
//! - [`safe`]: [`SafeContracts`] (deployment at the Ethereum mainnet addresses, Safe
//!   creation) and `eth_call` readers.
//! - [`create2`]: deterministic deployment through the deployers the Safe project used.
//! - [`safe_tx`]: [`SafeTx`], signing (ECDSA or `eth_sign`) and `execTransaction`, and the owner,
//!   threshold, module, guard and fallback-handler changes built on it.
//! - [`multisend`]: MultiSend batches (packed encoding, nested batches) and the Safe transaction
//!   that delegatecalls a MultiSend deployment with one.
//! - [`treasury`]: token, NFT, module and attack contracts ([`TreasuryContracts`]), Safe
//!   transactions that approve and move tokens, module executions, balance and storage readers.
//! - [`fund`]: single and bulk (`MultiSendCallOnly`) payments.
//! - [`keys`]: deterministic owner keys.
//! - [`workload`]: a busy treasury history (Safes, rounds of payments, executions, an
//!   undeclared owner) shared by tests and benchmarks.
//! - [`proxy`]: a JSON-RPC proxy that makes the chain look taller (a 20,000,000-block chain
//!   without mining it), refuses wide `eth_getLogs` as hosted providers do, adds latency or
//!   stalls, and counts calls.
//! - [`governance`]: an OpenZeppelin 5.x Governor, TimelockController, ERC20Votes token with
//!   AccessControl and an Ownable2Step vault, compiled from `@openzeppelin/contracts` with
//!   solc-js (`contracts/`, `compile.js`), with the proposal lifecycle, role and
//!   ownership helpers; [`ids`]: the proposal and timelock operation ids computed as OpenZeppelin does.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use devnet::{self, Devnet, DevnetOptions, SafeContracts, SafeVersion};
//! let chain = Devnet::start(DevnetOptions::default()).await?;
//! let contracts = SafeContracts::deploy(&chain).await?;
//! let owners = devnet::signers(3);
//! let addresses: Vec<_> = owners.iter().map(|o| o.address()).collect();
//! let safe = contracts.create_safe(&chain, SafeVersion::V141L2, &addresses, 2, 0).await?;
//! devnet::add_owner_with_threshold(&chain, safe, devnet::signer(9).address(), 2, &[&owners[0], &owners[1]]).await?;
//! # Ok(()) }
//! ```

pub mod anvil;
pub mod bindings;
pub mod create2;
pub mod fund;
pub mod governance;
pub mod hardhat;
pub mod ids;
pub mod install;
pub mod keys;
pub mod multisend;
pub mod proxy;
pub mod safe;
pub mod safe_tx;
pub mod treasury;
pub mod workload;

pub use anvil::{Devnet, DevnetOptions, ForkPoint, NodeKind};
pub use fund::{fund, fund_many, FUND_CHUNK};
pub use governance::solc::{compile_contracts, load_bytecode, Artifacts};
pub use governance::{
    accept_ownership, advance_time_to, grant_role, has_role, increase_time, latest_timestamp,
    mine_past, read_owner, read_pending_owner, read_token_balance, renounce_role, revoke_role,
    role_id, send_call, token_transfer_calldata, transfer_ownership, transfer_tokens,
    GovernanceContracts, GovernanceParams, OperationState, Proposal, ProposalState, VaultOwner,
    VoteSupport, CANCELLER_ROLE, DEFAULT_ADMIN_ROLE, EXECUTOR_ROLE, MINTER_ROLE, PROPOSER_ROLE,
};
pub use ids::{
    description_hash, hash_operation, hash_operation_batch, proposal_id, timelock_operation_id,
    timelock_salt,
};
pub use keys::{signer, signers};
pub use multisend::{multi_send_calldata, MultiSendDeployment, MultiSendItem};
pub use proxy::{ProxyCounts, ProxyOptions, RpcProxy, StallRule};
pub use safe::{
    read_modules, read_nonce, read_owners, read_threshold, read_version, SafeContracts,
    SafeVersion, SENTINEL,
};
pub use safe_tx::{
    add_owner_with_threshold, change_threshold, disable_module, enable_module, exec_transaction,
    remove_owner, set_fallback_handler, set_guard, sign_safe_hash, swap_owner, SafeTx,
    SignatureKind, CALL, DELEGATE_CALL,
};
pub use treasury::{
    deploy_test_contract, deploy_test_multi_token, deploy_test_nft, exec_from_module,
    mint_multi_token, mint_nft, mint_tokens, module_pay, paying_module_exec, paying_module_pay,
    read_allowance, read_balance, read_multi_token_balance, read_nft_owner, read_singleton,
    read_storage, TreasuryContracts, BROKEN_METADATA_TOKEN_CONTRACT, BYTES32_TOKEN_CONTRACT,
    SINGLETON_SLOT,
};
