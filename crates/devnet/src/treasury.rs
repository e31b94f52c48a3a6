//! Call-level treasury activity on the devnet: the token, NFT, module and attack contracts of
//! `contracts/` (compiled like the governance contracts, see [`crate::governance::solc`]), Safe
//! transactions that approve and move ERC-20, ERC-721 and ERC-1155 tokens, module executions
//! (from an EOA module and from [`IPayingModule`]), and raw balance and storage readers.
//!
//! Invariant: every helper here that sends a transaction fails if it reverted, and the module
//! helpers also fail if the Safe reports the module transaction as failed; nothing is mocked,
//! every event is the contracts' own.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use alloy::primitives::{Address, U256};
//! use devnet::{Devnet, DevnetOptions, SafeContracts, SafeTx, SafeVersion, TreasuryContracts};
//! let chain = Devnet::start(DevnetOptions::default()).await?;
//! let safes = SafeContracts::deploy(&chain).await?;
//! let owners = devnet::signers(1);
//! let safe = safes.create_safe(&chain, SafeVersion::V141, &[owners[0].address()], 1, 0).await?;
//! let t = TreasuryContracts::deploy(&chain).await?;
//! devnet::mint_nft(&chain, t.nft, safe, U256::from(1)).await?;
//! let thief = Address::repeat_byte(0x66);
//! SafeTx::erc721_transfer_from(t.nft, safe, thief, U256::from(1))
//!     .execute(&chain, safe, &[(&owners[0], devnet::SignatureKind::Ecdsa)])
//!     .await?;
//! # Ok(()) }
//! ```

use alloy::{
    primitives::{Address, Bytes, B256, U256},
    providers::Provider,
    rpc::types::{TransactionInput, TransactionReceipt, TransactionRequest},
    sol_types::{SolCall, SolEvent},
};
use anyhow::{bail, Context, Result};

use super::{
    anvil::Devnet,
    bindings::{IPayingModule, ISafe, ISlotZeroWriter, IERC1155, IERC20, IERC721},
    governance::{deploy_contract, send_call, solc::Artifacts},
    safe_tx::{SafeTx, CALL, DELEGATE_CALL},
};

/// The plain ERC-20's artifact name in `contracts/`.
pub const TEST_TOKEN_CONTRACT: &str = "TestToken";
/// The ERC-721 collection's artifact name.
pub const TEST_NFT_CONTRACT: &str = "TestNft";
/// The ERC-1155 multi-token's artifact name.
pub const TEST_MULTI_TOKEN_CONTRACT: &str = "TestMultiToken";
/// The contract module's artifact name.
pub const PAYING_MODULE_CONTRACT: &str = "PayingModule";
/// The slot-0 overwriter's artifact name.
pub const SLOT_ZERO_WRITER_CONTRACT: &str = "SlotZeroWriter";
/// An ERC-20 answering `symbol()` and `name()` as `bytes32`, as MKR does (mint like
/// `TestToken`).
pub const BYTES32_TOKEN_CONTRACT: &str = "Bytes32Token";
/// An ERC-20 whose `symbol()` and `name()` revert and whose `decimals()` is 232.
pub const BROKEN_METADATA_TOKEN_CONTRACT: &str = "BrokenMetadataToken";

/// The storage slot where a Safe proxy keeps its singleton's address.
pub const SINGLETON_SLOT: U256 = U256::ZERO;

/// The test contracts for treasury activity, deployed from the dev account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreasuryContracts {
    /// `TestToken`: an ERC-20 anyone may mint.
    pub token: Address,
    /// `TestNft`: an ERC-721 anyone may mint.
    pub nft: Address,
    /// `TestMultiToken`: an ERC-1155 anyone may mint.
    pub multi_token: Address,
    /// `PayingModule`: a contract module; a Safe must enable it before it can pay.
    pub paying_module: Address,
    /// `SlotZeroWriter`: delegatecalled by a Safe, replaces the Safe's singleton.
    pub slot_zero_writer: Address,
}

impl TreasuryContracts {
    /// Compiles the contracts if needed and deploys one of each.
    #[tracing::instrument(skip_all, fields(port = devnet.port()))]
    pub async fn deploy(devnet: &Devnet) -> Result<TreasuryContracts> {
        let artifacts = Artifacts::compile(devnet.project_dir()).await?;
        let mut addresses = Vec::with_capacity(5);
        for contract in [
            TEST_TOKEN_CONTRACT,
            TEST_NFT_CONTRACT,
            TEST_MULTI_TOKEN_CONTRACT,
            PAYING_MODULE_CONTRACT,
            SLOT_ZERO_WRITER_CONTRACT,
        ] {
            addresses.push(deploy_contract(devnet, &artifacts, contract, Vec::new()).await?);
        }
        Ok(TreasuryContracts {
            token: addresses[0],
            nft: addresses[1],
            multi_token: addresses[2],
            paying_module: addresses[3],
            slot_zero_writer: addresses[4],
        })
    }
}

/// Compiles the contracts if needed and deploys one `contract` (one of the `*_CONTRACT` names
/// above; none takes constructor arguments) from the dev account.
pub async fn deploy_test_contract(devnet: &Devnet, contract: &str) -> Result<Address> {
    let artifacts = Artifacts::compile(devnet.project_dir()).await?;
    deploy_contract(devnet, &artifacts, contract, Vec::new()).await
}

/// Deploys a `TestNft` (ERC-721).
pub async fn deploy_test_nft(devnet: &Devnet) -> Result<Address> {
    deploy_test_contract(devnet, TEST_NFT_CONTRACT).await
}

/// Deploys a `TestMultiToken` (ERC-1155).
pub async fn deploy_test_multi_token(devnet: &Devnet) -> Result<Address> {
    deploy_test_contract(devnet, TEST_MULTI_TOKEN_CONTRACT).await
}

/// Mints `amount` of the `TestToken` at `token` to `to`.
pub async fn mint_tokens(
    devnet: &Devnet,
    token: Address,
    to: Address,
    amount: U256,
) -> Result<TransactionReceipt> {
    let call = IERC20::mintCall { to, amount };
    send_call(devnet, devnet.dev_account(), token, call).await
}

/// Mints ERC-721 `id` of the `TestNft` at `nft` to `to`.
pub async fn mint_nft(
    devnet: &Devnet,
    nft: Address,
    to: Address,
    id: U256,
) -> Result<TransactionReceipt> {
    send_call(
        devnet,
        devnet.dev_account(),
        nft,
        IERC721::mintCall { to, id },
    )
    .await
}

/// Mints `amount` of ERC-1155 `id` of the `TestMultiToken` at `token` to `to` (a Safe accepts
/// it through its fallback handler).
pub async fn mint_multi_token(
    devnet: &Devnet,
    token: Address,
    to: Address,
    id: U256,
    amount: U256,
) -> Result<TransactionReceipt> {
    let call = IERC1155::mintCall { to, id, amount };
    send_call(devnet, devnet.dev_account(), token, call).await
}

impl SafeTx {
    /// A `CALL` of `to` with an encoded Solidity call and no value.
    pub fn sol_call(to: Address, call: impl SolCall) -> Self {
        SafeTx::new(to, U256::ZERO, call.abi_encode())
    }

    /// ERC-20 `approve(spender, amount)` on `token`.
    pub fn erc20_approve(token: Address, spender: Address, amount: U256) -> Self {
        let call = IERC20::approveCall {
            spender,
            value: amount,
        };
        Self::sol_call(token, call)
    }

    /// ERC-20 `transfer(to, amount)` on `token`.
    pub fn erc20_transfer(token: Address, to: Address, amount: U256) -> Self {
        Self::sol_call(token, IERC20::transferCall { to, value: amount })
    }

    /// ERC-721 `transferFrom(from, to, id)` on `nft`.
    pub fn erc721_transfer_from(nft: Address, from: Address, to: Address, id: U256) -> Self {
        let call = IERC721::transferFromCall {
            from,
            to,
            tokenId: id,
        };
        Self::sol_call(nft, call)
    }

    /// ERC-721 `safeTransferFrom(from, to, id)` on `nft` (the overload without data).
    pub fn erc721_safe_transfer_from(nft: Address, from: Address, to: Address, id: U256) -> Self {
        let call = IERC721::safeTransferFrom_0Call {
            from,
            to,
            tokenId: id,
        };
        Self::sol_call(nft, call)
    }

    /// ERC-721 `safeTransferFrom(from, to, id, data)` on `nft`.
    pub fn erc721_safe_transfer_from_with_data(
        nft: Address,
        from: Address,
        to: Address,
        id: U256,
        data: Bytes,
    ) -> Self {
        let call = IERC721::safeTransferFrom_1Call {
            from,
            to,
            tokenId: id,
            data,
        };
        Self::sol_call(nft, call)
    }

    /// ERC-1155 `safeTransferFrom(from, to, id, amount, data)` on `token`.
    pub fn erc1155_safe_transfer_from(
        token: Address,
        from: Address,
        to: Address,
        id: U256,
        amount: U256,
        data: Bytes,
    ) -> Self {
        let call = IERC1155::safeTransferFromCall {
            from,
            to,
            id,
            value: amount,
            data,
        };
        Self::sol_call(token, call)
    }

    /// ERC-1155 `safeBatchTransferFrom(from, to, ids, amounts, data)` on `token`.
    pub fn erc1155_safe_batch_transfer_from(
        token: Address,
        from: Address,
        to: Address,
        ids: Vec<U256>,
        amounts: Vec<U256>,
        data: Bytes,
    ) -> Self {
        let call = IERC1155::safeBatchTransferFromCall {
            from,
            to,
            ids,
            values: amounts,
            data,
        };
        Self::sol_call(token, call)
    }

    /// `setApprovalForAll(operator, approved)` on `token`: the same function on ERC-721 and
    /// ERC-1155.
    pub fn set_approval_for_all(token: Address, operator: Address, approved: bool) -> Self {
        let call = IERC721::setApprovalForAllCall { operator, approved };
        Self::sol_call(token, call)
    }

    /// A `DELEGATECALL` of [`ISlotZeroWriter`]`.overwrite(new_singleton)` at `writer`: the Safe
    /// then delegates everything to `new_singleton`.
    pub fn overwrite_singleton(writer: Address, new_singleton: Address) -> Self {
        let call = ISlotZeroWriter::overwriteCall {
            newSingleton: new_singleton,
        };
        Self::sol_call(writer, call).with_operation(DELEGATE_CALL)
    }
}

/// Executes a transaction from `safe` through the module `module`, an unlocked account (e.g.
/// one of [`Devnet::accounts`]) that the Safe has enabled (see [`crate::enable_module`]):
/// `module` calls `execTransactionFromModule(to, value, data, operation)` on the Safe
/// directly. Fails if the transaction reverts or the Safe emits `ExecutionFromModuleFailure`.
#[tracing::instrument(skip_all, fields(%module, %safe, %to, operation))]
pub async fn exec_from_module(
    devnet: &Devnet,
    module: Address,
    safe: Address,
    to: Address,
    value: U256,
    data: Bytes,
    operation: u8,
) -> Result<TransactionReceipt> {
    let call = ISafe::execTransactionFromModuleCall {
        to,
        value,
        data,
        operation,
    };
    let tx = TransactionRequest::default()
        .from(module)
        .to(safe)
        .input(TransactionInput::new(call.abi_encode().into()));
    let receipt = devnet
        .transact(tx)
        .await
        .with_context(|| format!("execTransactionFromModule on Safe {safe} from {module}"))?;
    let emitted = |topic: &B256| {
        receipt.logs().iter().any(|log| {
            log.address() == safe
                && log.topic0() == Some(topic)
                && log.topics().get(1) == Some(&module.into_word())
        })
    };
    if emitted(&ISafe::ExecutionFromModuleFailure::SIGNATURE_HASH) {
        bail!(
            "Safe {safe} emitted ExecutionFromModuleFailure for module {module} (tx {})",
            receipt.transaction_hash
        );
    }
    if !emitted(&ISafe::ExecutionFromModuleSuccess::SIGNATURE_HASH) {
        bail!(
            "Safe {safe} emitted no ExecutionFromModuleSuccess for module {module} (tx {})",
            receipt.transaction_hash
        );
    }
    Ok(receipt)
}

/// The EOA module `module` pays `value` wei from `safe` to `to` (see [`exec_from_module`]).
pub async fn module_pay(
    devnet: &Devnet,
    module: Address,
    safe: Address,
    to: Address,
    value: U256,
) -> Result<TransactionReceipt> {
    exec_from_module(devnet, module, safe, to, value, Bytes::new(), CALL).await
}

/// The `PayingModule` at `module`, enabled on `safe`, pays `value` wei from `safe` to `to`
/// (the dev account calls `pay`; the module checks no caller).
pub async fn paying_module_pay(
    devnet: &Devnet,
    module: Address,
    safe: Address,
    to: Address,
    value: U256,
) -> Result<TransactionReceipt> {
    let call = IPayingModule::payCall { safe, to, value };
    send_call(devnet, devnet.dev_account(), module, call).await
}

/// The `PayingModule` at `module`, enabled on `safe`, makes `safe` call ([`CALL`]) or
/// delegatecall ([`DELEGATE_CALL`]) `to` with `value` and `data`; the module reverts if the
/// Safe reports failure.
pub async fn paying_module_exec(
    devnet: &Devnet,
    module: Address,
    safe: Address,
    to: Address,
    value: U256,
    data: Bytes,
    operation: u8,
) -> Result<TransactionReceipt> {
    let call = IPayingModule::execCall {
        safe,
        to,
        value,
        data,
        operation,
    };
    send_call(devnet, devnet.dev_account(), module, call).await
}

/// The word at storage `slot` of `address` on the latest block.
pub async fn read_storage(devnet: &Devnet, address: Address, slot: U256) -> Result<B256> {
    let word = devnet
        .http_provider()
        .get_storage_at(address, slot)
        .await
        .with_context(|| format!("eth_getStorageAt({address}, {slot})"))?;
    Ok(B256::from(word.to_be_bytes::<32>()))
}

/// The ether balance of `address` on the latest block, in wei.
pub async fn read_balance(devnet: &Devnet, address: Address) -> Result<U256> {
    devnet
        .http_provider()
        .get_balance(address)
        .await
        .with_context(|| format!("eth_getBalance({address})"))
}

/// The singleton a Safe proxy delegates to: the address in its storage slot 0.
pub async fn read_singleton(devnet: &Devnet, safe: Address) -> Result<Address> {
    let word = read_storage(devnet, safe, SINGLETON_SLOT).await?;
    Ok(Address::from_word(word))
}

/// The ERC-20 allowance `owner` gave `spender` on `token`.
pub async fn read_allowance(
    devnet: &Devnet,
    token: Address,
    owner: Address,
    spender: Address,
) -> Result<U256> {
    crate::safe::view(devnet, token, IERC20::allowanceCall { owner, spender }).await
}

/// The ERC-721 owner of `id` in `nft`.
pub async fn read_nft_owner(devnet: &Devnet, nft: Address, id: U256) -> Result<Address> {
    crate::safe::view(devnet, nft, IERC721::ownerOfCall { tokenId: id }).await
}

/// The ERC-1155 balance of `holder` for `id` in `token`.
pub async fn read_multi_token_balance(
    devnet: &Devnet,
    token: Address,
    holder: Address,
    id: U256,
) -> Result<U256> {
    let call = IERC1155::balanceOfCall {
        account: holder,
        id,
    };
    crate::safe::view(devnet, token, call).await
}
