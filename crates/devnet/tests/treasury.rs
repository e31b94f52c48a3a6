//! The devnet's treasury side against a real anvil: the Safe contracts at their Ethereum mainnet
//! addresses, with mainnet's code; MultiSend batches (flat and nested) from a Safe; module
//! executions from an EOA module and from `PayingModule`; token approvals and NFT transfers;
//! and a delegatecall that overwrites a Safe's singleton.

use alloy::{
    primitives::{address, b256, keccak256, Address, Bytes, B256, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use anyhow::Result;
use devnet::{
    bindings::{IPayingModule, ISlotZeroWriter, IERC1155, IERC20, IERC721},
    create2::{ARACHNID_DEPLOYER, DEPLOYER_RUNTIME_CODE, SAFE_SINGLETON_FACTORY},
    Devnet, DevnetOptions, MultiSendDeployment, MultiSendItem, SafeContracts, SafeTx, SafeVersion,
    SignatureKind, TreasuryContracts, DELEGATE_CALL,
};

const ETHER: u64 = 1_000_000_000_000_000_000;

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(ETHER)
}

/// The `canonical` deployments of safe-global/safe-deployments (`src/assets/v1.x.x/*.json`):
/// address and `codeHash` (keccak256 of the runtime code) of each contract on Ethereum mainnet.
fn mainnet_deployments(c: &SafeContracts) -> Vec<(&'static str, Address, Address, B256)> {
    vec![
        (
            "Safe 1.4.1",
            c.safe_141,
            address!("41675C099F32341bf84BFc5382aF534df5C7461a"),
            b256!("1fe2df852ba3299d6534ef416eefa406e56ced995bca886ab7a553e6d0c5e1c4"),
        ),
        (
            "SafeL2 1.4.1",
            c.safe_l2_141,
            address!("29fcB43b46531BcA003ddC8FCB67FFE91900C762"),
            b256!("b1f926978a0f44a2c0ec8fe822418ae969bd8c3f18d61e5103100339894f81ff"),
        ),
        (
            "SafeProxyFactory 1.4.1",
            c.proxy_factory_141,
            address!("4e1DCf7AD4e460CfD30791CCC4F9c8a4f820ec67"),
            b256!("50c3cdc4074750a7a974204a716c999edd37482f907608d960b2b025ee0b3317"),
        ),
        (
            "MultiSend 1.4.1",
            c.multi_send_141,
            address!("38869bf66a61cF6bDB996A6aE40D5853Fd43B526"),
            b256!("0e4f7fc66550a322d1e7688e181b75e217e662a4f3f4d6a29b22bc61217c4b77"),
        ),
        (
            "MultiSendCallOnly 1.4.1",
            c.multi_send_call_only,
            address!("9641d764fc13c8B624c04430C7356C1C7C8102e2"),
            b256!("ecd5bd14a08c5d2122379900b2f272bdf107a7e92423c10dd5fe3254386c9939"),
        ),
        (
            "SignMessageLib 1.4.1",
            c.sign_message_lib_141,
            address!("d53cd0aB83D845Ac265BE939c57F53AD838012c9"),
            b256!("525c754a46b79e05543a59bb61e8de3c9eee0d955a59352409cbe67ea1077528"),
        ),
        (
            "CompatibilityFallbackHandler 1.4.1",
            c.fallback_handler,
            address!("fd0732Dc9E303f09fCEf3a7388Ad10A83459Ec99"),
            b256!("7c6007a5d711cea8dfd5d91f5940ec29c7f200fe511eb1fc1397b367af3c42f9"),
        ),
        (
            "GnosisSafe 1.3.0",
            c.safe_130,
            address!("d9Db270c1B5E3Bd161E8c8503c55cEABeE709552"),
            b256!("bba688fbdb21ad2bb58bc320638b43d94e7d100f6f3ebaab0a4e4de6304b1c2e"),
        ),
        (
            "GnosisSafeL2 1.3.0",
            c.safe_l2_130,
            address!("3E5c63644E683549055b9Be8653de26E0B4CD36E"),
            b256!("21842597390c4c6e3c1239e434a682b054bd9548eee5e9b1d6a4482731023c0f"),
        ),
        (
            "GnosisSafeProxyFactory 1.3.0",
            c.proxy_factory_130,
            address!("a6B71E26C5e0845f74c812102Ca7114b6a896AB2"),
            b256!("337d7f54be11b6ed55fef7b667ea5488db53db8320a05d1146aa4bd169a39a9b"),
        ),
        (
            "MultiSend 1.3.0",
            c.multi_send_130,
            address!("A238CBeb142c10Ef7Ad8442C6D1f9E89e07e7761"),
            b256!("0208282bd262360d0320862c5ac70f375f5ed3b9d89a83a615b4d398415bdc83"),
        ),
        (
            "MultiSendCallOnly 1.3.0",
            c.multi_send_call_only_130,
            address!("40A2aCCbd92BCA938b02010E17A5b8929b49130D"),
            b256!("a9865ac2d9c7a1591619b188c4d88167b50df6cc0c5327fcbd1c8c75f7c066ad"),
        ),
        (
            "CompatibilityFallbackHandler 1.3.0",
            c.fallback_handler_130,
            address!("f48f2B2d2a534e402487b3ee7C18c33Aec0Fe5e4"),
            b256!("03e69f7ce809e81687c69b19a7d7cca45b6d551ffdec73d9bb87178476de1abf"),
        ),
    ]
}

/// SignMessageLib 1.3.0 from the npm build: `CREATE2` through Arachnid's proxy with salt zero.
/// Mainnet's (0xA65387F16B013cf2Af4605Ad8aA5ec25a2cbA3a2) was built from other bytecode.
const SIGN_MESSAGE_LIB_130_DEVNET: Address = address!("Eb4b222B3B89Ce6dbE14012432a223D2Faa31D06");

async fn code_hash(chain: &Devnet, at: Address) -> Result<B256> {
    Ok(keccak256(chain.http_provider().get_code_at(at).await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn safe_contracts_sit_at_their_mainnet_addresses() -> Result<()> {
    let chain = Devnet::start(DevnetOptions::default()).await?;
    let contracts = SafeContracts::deploy(&chain).await?;
    for (name, deployed, mainnet, mainnet_code_hash) in mainnet_deployments(&contracts) {
        assert_eq!(deployed, mainnet, "{name} is not at its mainnet address");
        assert_eq!(
            code_hash(&chain, deployed).await?,
            mainnet_code_hash,
            "{name} does not hold mainnet's runtime code"
        );
    }
    assert_eq!(contracts.sign_message_lib_130, SIGN_MESSAGE_LIB_130_DEVNET);
    for at in [contracts.sign_message_lib_130, contracts.guard] {
        assert!(!chain.http_provider().get_code_at(at).await?.is_empty());
    }

    // A second deployment on the same chain finds everything in place and sends nothing.
    let head = chain.head().await?;
    assert_eq!(SafeContracts::deploy(&chain).await?, contracts);
    assert_eq!(chain.head().await?, head);

    // Safes of every version still come out of the (now canonical) factories.
    let owners = devnet::signers(1);
    for (salt, version) in SafeVersion::ALL.into_iter().enumerate() {
        let safe = contracts
            .create_safe(&chain, version, &[owners[0].address()], 1, salt as u64)
            .await?;
        assert_eq!(
            devnet::read_singleton(&chain, safe).await?,
            contracts.singleton(version)
        );
        assert_eq!(
            devnet::read_version(&chain, safe).await?,
            version.version_string()
        );
    }

    // Bulk funding goes through the canonical MultiSendCallOnly.
    let targets = [Address::repeat_byte(0x71), Address::repeat_byte(0x72)];
    devnet::fund_many(&chain, &targets, U256::from(5)).await?;
    for target in targets {
        assert_eq!(devnet::read_balance(&chain, target).await?, U256::from(5));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_deployers_are_installed() -> Result<()> {
    let chain = Devnet::start(DevnetOptions {
        extra_args: vec!["--disable-default-create2-deployer".into()],
        ..DevnetOptions::default()
    })
    .await?;
    let provider = chain.http_provider();
    assert!(provider.get_code_at(ARACHNID_DEPLOYER).await?.is_empty());
    assert!(provider
        .get_code_at(SAFE_SINGLETON_FACTORY)
        .await?
        .is_empty());

    // Bulk funding before any Safe deployment puts its MultiSendCallOnly where
    // SafeContracts::deploy will find it.
    let target = Address::repeat_byte(0x73);
    devnet::fund_many(&chain, &[target], U256::from(9)).await?;
    assert_eq!(devnet::read_balance(&chain, target).await?, U256::from(9));
    let multi_send_call_only = address!("9641d764fc13c8B624c04430C7356C1C7C8102e2");
    assert!(!provider.get_code_at(multi_send_call_only).await?.is_empty());

    let contracts = SafeContracts::deploy(&chain).await?;
    for deployer in [ARACHNID_DEPLOYER, SAFE_SINGLETON_FACTORY] {
        assert_eq!(provider.get_code_at(deployer).await?, DEPLOYER_RUNTIME_CODE);
    }
    for (name, deployed, mainnet, _) in mainnet_deployments(&contracts) {
        assert_eq!(deployed, mainnet, "{name} is not at its mainnet address");
    }
    Ok(())
}

fn ecdsa(keys: &[PrivateKeySigner]) -> Vec<(&PrivateKeySigner, SignatureKind)> {
    keys.iter().map(|k| (k, SignatureKind::Ecdsa)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn treasury_calls_move_funds_on_a_real_chain() -> Result<()> {
    let chain = Devnet::start(DevnetOptions::default()).await?;
    let contracts = SafeContracts::deploy(&chain).await?;
    let t = TreasuryContracts::deploy(&chain).await?;
    let keys = devnet::signers(3);
    let owners: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let signers = ecdsa(&keys[..2]);
    let safe = contracts
        .create_safe(&chain, SafeVersion::V141, &owners, 2, 1)
        .await?;
    devnet::fund(&chain, safe, ether(100)).await?;
    let balance = |at| devnet::read_balance(&chain, at);

    // A MultiSendCallOnly 1.4.1 batch pays two recipients.
    let (r1, r2) = (Address::repeat_byte(0xa1), Address::repeat_byte(0xa2));
    contracts
        .multi_send_tx(
            MultiSendDeployment::V141CallOnly,
            &[
                MultiSendItem::pay(r1, ether(1)),
                MultiSendItem::pay(r2, ether(2)),
            ],
        )
        .execute(&chain, safe, &signers)
        .await?;
    assert_eq!(balance(r1).await?, ether(1));
    assert_eq!(balance(r2).await?, ether(2));
    assert_eq!(balance(safe).await?, ether(97));

    // Every MultiSend deployment runs a batch for the Safe.
    for (i, deployment) in MultiSendDeployment::ALL.into_iter().enumerate() {
        let to = Address::repeat_byte(0xb0 + i as u8);
        contracts
            .multi_send_tx(deployment, &[MultiSendItem::pay(to, U256::from(10))])
            .execute(&chain, safe, &signers)
            .await?;
        assert_eq!(balance(to).await?, U256::from(10), "{deployment:?}");
    }

    // A nested batch: the 1.4.1 MultiSend delegatecalls the 1.3.0 MultiSend with an inner
    // batch, in the Safe's context.
    let (r3, r4, r5) = (
        Address::repeat_byte(0xc3),
        Address::repeat_byte(0xc4),
        Address::repeat_byte(0xc5),
    );
    let inner = [
        MultiSendItem::pay(r4, U256::from(4)),
        MultiSendItem::pay(r5, U256::from(5)),
    ];
    let outer = [
        MultiSendItem::pay(r3, U256::from(3)),
        MultiSendItem::nested(contracts.multi_send(MultiSendDeployment::V130), &inner),
    ];
    contracts
        .multi_send_tx(MultiSendDeployment::V141, &outer)
        .execute(&chain, safe, &signers)
        .await?;
    for (to, wei) in [(r3, 3u64), (r4, 4), (r5, 5)] {
        assert_eq!(balance(to).await?, U256::from(wei));
    }
    // MultiSendCallOnly refuses the same nested batch (the Safe transaction fails).
    assert!(contracts
        .multi_send_tx(MultiSendDeployment::V141CallOnly, &outer)
        .execute(&chain, safe, &signers)
        .await
        .is_err());

    // An EOA module pays without owner signatures.
    let eoa_module = chain.accounts()[1];
    devnet::enable_module(&chain, safe, eoa_module, &[&keys[0], &keys[1]]).await?;
    let r6 = Address::repeat_byte(0xd6);
    devnet::module_pay(&chain, eoa_module, safe, r6, ether(3)).await?;
    assert_eq!(balance(r6).await?, ether(3));
    // A module transaction whose inner call fails is reported, not swallowed.
    let failing = IERC20::transferCall {
        to: r6,
        value: U256::from(1),
    };
    assert!(devnet::exec_from_module(
        &chain,
        eoa_module,
        safe,
        t.token,
        U256::ZERO,
        failing.abi_encode().into(),
        devnet::CALL,
    )
    .await
    .is_err());

    // So does the PayingModule contract.
    devnet::enable_module(&chain, safe, t.paying_module, &[&keys[0], &keys[1]]).await?;
    let r7 = Address::repeat_byte(0xd7);
    devnet::paying_module_pay(&chain, t.paying_module, safe, r7, ether(4)).await?;
    assert_eq!(balance(r7).await?, ether(4));
    assert!(
        devnet::paying_module_pay(&chain, t.paying_module, safe, r7, ether(1_000))
            .await
            .is_err(),
        "PayingModule must revert when the Safe cannot pay"
    );

    // ERC-20 approval from the Safe.
    let spender = Address::repeat_byte(0xe1);
    devnet::mint_tokens(&chain, t.token, safe, ether(50)).await?;
    SafeTx::erc20_approve(t.token, spender, ether(20))
        .execute(&chain, safe, &signers)
        .await?;
    assert_eq!(
        devnet::read_allowance(&chain, t.token, safe, spender).await?,
        ether(20)
    );

    // ERC-721: mint two to the Safe, move one with transferFrom and one with safeTransferFrom.
    let collector = Address::repeat_byte(0xe2);
    for id in [1u64, 2] {
        devnet::mint_nft(&chain, t.nft, safe, U256::from(id)).await?;
    }
    SafeTx::erc721_transfer_from(t.nft, safe, collector, U256::from(1))
        .execute(&chain, safe, &signers)
        .await?;
    SafeTx::erc721_safe_transfer_from(t.nft, safe, collector, U256::from(2))
        .execute(&chain, safe, &signers)
        .await?;
    for id in [1u64, 2] {
        assert_eq!(
            devnet::read_nft_owner(&chain, t.nft, U256::from(id)).await?,
            collector
        );
    }
    SafeTx::set_approval_for_all(t.nft, spender, true)
        .execute(&chain, safe, &signers)
        .await?;

    // ERC-1155: the Safe accepts a mint through its fallback handler, then moves single and
    // batch amounts out.
    let multi = t.multi_token;
    devnet::mint_multi_token(&chain, multi, safe, U256::from(7), U256::from(10)).await?;
    devnet::mint_multi_token(&chain, multi, safe, U256::from(8), U256::from(10)).await?;
    SafeTx::erc1155_safe_transfer_from(
        multi,
        safe,
        collector,
        U256::from(7),
        U256::from(3),
        Bytes::new(),
    )
    .execute(&chain, safe, &signers)
    .await?;
    SafeTx::erc1155_safe_batch_transfer_from(
        multi,
        safe,
        collector,
        vec![U256::from(7), U256::from(8)],
        vec![U256::from(1), U256::from(2)],
        Bytes::new(),
    )
    .execute(&chain, safe, &signers)
    .await?;
    SafeTx::set_approval_for_all(multi, spender, true)
        .execute(&chain, safe, &signers)
        .await?;
    let read =
        |holder, id: u64| devnet::read_multi_token_balance(&chain, multi, holder, U256::from(id));
    assert_eq!(read(collector, 7).await?, U256::from(4));
    assert_eq!(read(collector, 8).await?, U256::from(2));
    assert_eq!(read(safe, 7).await?, U256::from(6));
    assert_eq!(read(safe, 8).await?, U256::from(8));

    // The Bybit shape: an owner-signed delegatecall to SlotZeroWriter replaces the singleton.
    let attacker_impl = Address::repeat_byte(0xba);
    assert_eq!(
        devnet::read_singleton(&chain, safe).await?,
        contracts.safe_141
    );
    SafeTx::overwrite_singleton(t.slot_zero_writer, attacker_impl)
        .execute(&chain, safe, &signers)
        .await?;
    assert_eq!(
        devnet::read_storage(&chain, safe, devnet::SINGLETON_SLOT).await?,
        attacker_impl.into_word()
    );

    // The same through the PayingModule, on a 1.3.0 Safe with a single owner.
    let other = contracts
        .create_safe(&chain, SafeVersion::V130, &owners[..1], 1, 2)
        .await?;
    devnet::enable_module(&chain, other, t.paying_module, &[&keys[0]]).await?;
    let overwrite = ISlotZeroWriter::overwriteCall {
        newSingleton: attacker_impl,
    };
    devnet::paying_module_exec(
        &chain,
        t.paying_module,
        other,
        t.slot_zero_writer,
        U256::ZERO,
        overwrite.abi_encode().into(),
        DELEGATE_CALL,
    )
    .await?;
    assert_eq!(devnet::read_singleton(&chain, other).await?, attacker_impl);
    Ok(())
}

/// The `name(types)` signatures of every function, event and error in a compiled ABI.
fn abi_signatures(abi: &serde_json::Value) -> Vec<String> {
    abi.as_array()
        .into_iter()
        .flatten()
        .filter(|item| matches!(item["type"].as_str(), Some("function" | "event" | "error")))
        .map(|item| {
            let inputs: Vec<&str> = item["inputs"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|input| input["type"].as_str().unwrap_or_default())
                .collect();
            format!(
                "{}({})",
                item["name"].as_str().unwrap_or_default(),
                inputs.join(",")
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn treasury_bindings_match_the_compiled_contracts() -> Result<()> {
    let project_dir = devnet::install::project_dir()?;
    let artifacts = devnet::Artifacts::compile(&project_dir).await?;
    let mut checks: Vec<(&str, &str)> = Vec::new();
    checks.extend(
        [
            IERC20::balanceOfCall::SIGNATURE,
            IERC20::allowanceCall::SIGNATURE,
            IERC20::approveCall::SIGNATURE,
            IERC20::transferCall::SIGNATURE,
            IERC20::transferFromCall::SIGNATURE,
            IERC20::mintCall::SIGNATURE,
        ]
        .map(|sig| ("TestToken", sig)),
    );
    checks.extend(
        IERC721::IERC721Calls::SIGNATURES
            .iter()
            .chain(IERC721::IERC721Events::SIGNATURES)
            .map(|sig| ("TestNft", *sig)),
    );
    checks.extend(
        IERC1155::IERC1155Calls::SIGNATURES
            .iter()
            .chain(IERC1155::IERC1155Events::SIGNATURES)
            .map(|sig| ("TestMultiToken", *sig)),
    );
    checks.extend(
        IPayingModule::IPayingModuleCalls::SIGNATURES
            .iter()
            .chain(IPayingModule::IPayingModuleErrors::SIGNATURES)
            .map(|sig| ("PayingModule", *sig)),
    );
    checks.extend(
        ISlotZeroWriter::ISlotZeroWriterCalls::SIGNATURES
            .iter()
            .map(|sig| ("SlotZeroWriter", *sig)),
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
