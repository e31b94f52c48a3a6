//! Deploys the real Safe contracts (1.4.1 and 1.3.0, from the pinned npm build artifacts) at
//! their Ethereum mainnet addresses, through the deterministic deployers the Safe project used
//! (see [`crate::create2`]), and creates Safe proxies through their factories.
//!
//! Invariant: every address in [`SafeContracts`] holds the artifact's code on the devnet it was
//! deployed to (until that devnet is reverted past the deployment).

use std::{collections::HashSet, path::Path};

use alloy::{
    primitives::{address, Address, Bytes, TxHash, U256},
    rpc::types::{Log, TransactionInput, TransactionReceipt, TransactionRequest},
    sol_types::{SolCall, SolEvent},
};
use anyhow::{bail, ensure, Context, Result};
use futures::{StreamExt, TryStreamExt};

use super::{
    anvil::Devnet,
    bindings::{IMultiSendCallOnly, ISafe, ISafeProxyFactory},
    create2::{self, Create2Deployment, ARACHNID_DEPLOYER, SAFE_SINGLETON_FACTORY},
    fund::{multi_send, MAX_BATCH_GAS},
    install::{SAFE_130_ARTIFACTS, SAFE_141_ARTIFACTS},
    multisend::pack_raw,
    safe_tx::CALL,
};

/// Gas reserved per Safe created in a batch, plus per owner (`setup` stores each owner);
/// unused gas is refunded.
const GAS_PER_SAFE: u64 = 300_000;
const GAS_PER_OWNER: u64 = 30_000;
/// Gas reserved per batch transaction on top of its Safes.
const GAS_PER_BATCH: u64 = 100_000;

/// Receipts awaited at once when many transactions were sent in a row.
pub(crate) const RECEIPT_CONCURRENCY: usize = 32;

/// Which Safe singleton a proxy delegates to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SafeVersion {
    /// Safe 1.4.1 `Safe` (no per-transaction events).
    V141,
    /// Safe 1.4.1 `SafeL2` (emits `SafeMultiSigTransaction` / `SafeModuleTransaction`).
    V141L2,
    /// Safe 1.3.0 `GnosisSafe`.
    V130,
    /// Safe 1.3.0 `GnosisSafeL2`.
    V130L2,
}

impl SafeVersion {
    /// Every version, for tests that cover them all.
    pub const ALL: [SafeVersion; 4] = [Self::V141, Self::V141L2, Self::V130, Self::V130L2];

    /// The singleton's `VERSION()` string.
    pub fn version_string(self) -> &'static str {
        match self {
            Self::V141 | Self::V141L2 => "1.4.1",
            Self::V130 | Self::V130L2 => "1.3.0",
        }
    }

    /// Whether this is the L2 flavour, which emits an event per executed transaction.
    pub fn is_l2(self) -> bool {
        matches!(self, Self::V141L2 | Self::V130L2)
    }
}

/// Addresses of the Safe contracts deployed on a [`Devnet`]: except [`SafeContracts::guard`],
/// the addresses they have on Ethereum mainnet (see [`SafeContracts::deploy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SafeContracts {
    /// Safe 1.4.1 `Safe` singleton.
    pub safe_141: Address,
    /// Safe 1.4.1 `SafeL2` singleton.
    pub safe_l2_141: Address,
    /// `SafeProxyFactory` 1.4.1.
    pub proxy_factory_141: Address,
    /// `CompatibilityFallbackHandler` 1.4.1, set as every created Safe's fallback handler.
    pub fallback_handler: Address,
    /// `MultiSendCallOnly` 1.4.1.
    pub multi_send_call_only: Address,
    /// `MultiSend` 1.4.1.
    pub multi_send_141: Address,
    /// `SignMessageLib` 1.4.1.
    pub sign_message_lib_141: Address,
    /// Safe 1.3.0 `GnosisSafe` singleton.
    pub safe_130: Address,
    /// Safe 1.3.0 `GnosisSafeL2` singleton.
    pub safe_l2_130: Address,
    /// `GnosisSafeProxyFactory` 1.3.0.
    pub proxy_factory_130: Address,
    /// `MultiSend` 1.3.0.
    pub multi_send_130: Address,
    /// `MultiSendCallOnly` 1.3.0.
    pub multi_send_call_only_130: Address,
    /// `SignMessageLib` 1.3.0. The npm build of 1.3.0 does not reproduce the mainnet bytecode
    /// of this one library, so it is not at the mainnet address
    /// (`0xA65387F16B013cf2Af4605Ad8aA5ec25a2cbA3a2`), only at a deterministic one.
    pub sign_message_lib_130: Address,
    /// `CompatibilityFallbackHandler` 1.3.0.
    pub fallback_handler_130: Address,
    /// `ReentrancyTransactionGuard` 1.4.1 (an example guard without events), for `setGuard`
    /// tests. It has no mainnet deployment; it is deployed like the others, so its address is
    /// deterministic too.
    pub guard: Address,
}

/// One Safe contract: its build artifact (root and path relative to the project directory), the
/// deterministic deployer its release used, and its address on Ethereum mainnet, if the npm
/// artifact reproduces it.
struct SafeArtifact {
    root: &'static str,
    file: &'static str,
    deployer: Address,
    mainnet: Option<Address>,
}

const fn v141(file: &'static str, mainnet: Option<Address>) -> SafeArtifact {
    SafeArtifact {
        root: SAFE_141_ARTIFACTS,
        file,
        deployer: SAFE_SINGLETON_FACTORY,
        mainnet,
    }
}

const fn v130(file: &'static str, mainnet: Option<Address>) -> SafeArtifact {
    SafeArtifact {
        root: SAFE_130_ARTIFACTS,
        file,
        deployer: ARACHNID_DEPLOYER,
        mainnet,
    }
}

/// Every Safe contract, in [`SafeContracts`] field order. The mainnet addresses are the
/// `canonical` deployments of safe-global/safe-deployments.
const ARTIFACTS: [SafeArtifact; 15] = [
    v141(
        "Safe.sol/Safe.json",
        Some(address!("41675C099F32341bf84BFc5382aF534df5C7461a")),
    ),
    v141(
        "SafeL2.sol/SafeL2.json",
        Some(address!("29fcB43b46531BcA003ddC8FCB67FFE91900C762")),
    ),
    v141(
        "proxies/SafeProxyFactory.sol/SafeProxyFactory.json",
        Some(address!("4e1DCf7AD4e460CfD30791CCC4F9c8a4f820ec67")),
    ),
    v141(
        "handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json",
        Some(address!("fd0732Dc9E303f09fCEf3a7388Ad10A83459Ec99")),
    ),
    v141(
        MULTI_SEND_CALL_ONLY_141,
        Some(address!("9641d764fc13c8B624c04430C7356C1C7C8102e2")),
    ),
    v141(
        "libraries/MultiSend.sol/MultiSend.json",
        Some(address!("38869bf66a61cF6bDB996A6aE40D5853Fd43B526")),
    ),
    v141(
        "libraries/SignMessageLib.sol/SignMessageLib.json",
        Some(address!("d53cd0aB83D845Ac265BE939c57F53AD838012c9")),
    ),
    v130(
        "GnosisSafe.sol/GnosisSafe.json",
        Some(address!("d9Db270c1B5E3Bd161E8c8503c55cEABeE709552")),
    ),
    v130(
        "GnosisSafeL2.sol/GnosisSafeL2.json",
        Some(address!("3E5c63644E683549055b9Be8653de26E0B4CD36E")),
    ),
    v130(
        "proxies/GnosisSafeProxyFactory.sol/GnosisSafeProxyFactory.json",
        Some(address!("a6B71E26C5e0845f74c812102Ca7114b6a896AB2")),
    ),
    v130(
        "libraries/MultiSend.sol/MultiSend.json",
        Some(address!("A238CBeb142c10Ef7Ad8442C6D1f9E89e07e7761")),
    ),
    v130(
        "libraries/MultiSendCallOnly.sol/MultiSendCallOnly.json",
        Some(address!("40A2aCCbd92BCA938b02010E17A5b8929b49130D")),
    ),
    // Mainnet has it at 0xA65387F16B013cf2Af4605Ad8aA5ec25a2cbA3a2, from other bytecode.
    v130(
        "examples/libraries/SignMessage.sol/SignMessageLib.json",
        None,
    ),
    v130(
        "handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json",
        Some(address!("f48f2B2d2a534e402487b3ee7C18c33Aec0Fe5e4")),
    ),
    v141(
        "examples/guards/ReentrancyTransactionGuard.sol/ReentrancyTransactionGuard.json",
        None,
    ),
];

/// The 1.4.1 `MultiSendCallOnly` artifact, which bulk funding also deploys on its own.
pub(crate) const MULTI_SEND_CALL_ONLY_141: &str =
    "libraries/MultiSendCallOnly.sol/MultiSendCallOnly.json";

/// Reads the creation bytecode from a Hardhat build artifact.
pub(crate) fn artifact_bytecode(project_dir: &Path, root: &str, file: &str) -> Result<Bytes> {
    let path = project_dir.join(root).join(file);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let hex_code = json["bytecode"]
        .as_str()
        .with_context(|| format!("{} has no bytecode", path.display()))?;
    let code: Bytes = hex_code
        .parse()
        .with_context(|| format!("decoding the bytecode of {}", path.display()))?;
    ensure!(!code.is_empty(), "{} has empty bytecode", path.display());
    Ok(code)
}

/// The `CREATE2` deployment of one Safe artifact with salt zero through its release's deployer.
pub(crate) fn safe_deployment(
    project_dir: &Path,
    root: &str,
    file: &str,
) -> Result<Create2Deployment> {
    let deployer = if root == SAFE_130_ARTIFACTS {
        ARACHNID_DEPLOYER
    } else {
        SAFE_SINGLETON_FACTORY
    };
    let code = artifact_bytecode(project_dir, root, file)?;
    Ok(Create2Deployment::salt_zero(file, deployer, code))
}

impl SafeContracts {
    /// Deploys every Safe contract as the Safe project deployed them: `CREATE2` with salt zero
    /// from the npm build artifacts, Safe 1.3.0 through Arachnid's deterministic-deployment
    /// proxy and Safe 1.4.1 through the Safe singleton factory (installed with
    /// [`Devnet::set_code`] where missing). So the singletons, factories, MultiSends, SignMessageLib
    /// 1.4.1 and fallback handlers sit at their Ethereum mainnet addresses; only
    /// SignMessageLib 1.3.0 (whose npm bytecode differs from mainnet's) and the example guard
    /// get addresses of their own. A contract whose address already holds code is skipped, so a
    /// second `deploy` on the same devnet returns the same addresses.
    ///
    /// The transactions are sent back to back and their receipts awaited together, so this
    /// costs about one block time with interval mining.
    #[tracing::instrument(skip_all, fields(port = devnet.port()))]
    pub async fn deploy(devnet: &Devnet) -> Result<SafeContracts> {
        let deployments = ARTIFACTS
            .iter()
            .map(|artifact| {
                let code = artifact_bytecode(devnet.project_dir(), artifact.root, artifact.file)?;
                let deployment =
                    Create2Deployment::salt_zero(artifact.file, artifact.deployer, code);
                if let Some(mainnet) = artifact.mainnet {
                    let address = deployment.address();
                    if address != mainnet {
                        tracing::warn!(
                            file = artifact.file,
                            %address,
                            %mainnet,
                            "the npm artifact does not reproduce the mainnet address"
                        );
                    }
                }
                Ok(deployment)
            })
            .collect::<Result<Vec<_>>>()?;
        let a = create2::deploy_all(devnet, &deployments).await?;
        let contracts = SafeContracts {
            safe_141: a[0],
            safe_l2_141: a[1],
            proxy_factory_141: a[2],
            fallback_handler: a[3],
            multi_send_call_only: a[4],
            multi_send_141: a[5],
            sign_message_lib_141: a[6],
            safe_130: a[7],
            safe_l2_130: a[8],
            proxy_factory_130: a[9],
            multi_send_130: a[10],
            multi_send_call_only_130: a[11],
            sign_message_lib_130: a[12],
            fallback_handler_130: a[13],
            guard: a[14],
        };
        devnet
            .remember_multi_send(contracts.multi_send_call_only)
            .await;
        Ok(contracts)
    }

    /// The singleton a proxy of `version` delegates to.
    pub fn singleton(&self, version: SafeVersion) -> Address {
        match version {
            SafeVersion::V141 => self.safe_141,
            SafeVersion::V141L2 => self.safe_l2_141,
            SafeVersion::V130 => self.safe_130,
            SafeVersion::V130L2 => self.safe_l2_130,
        }
    }

    /// The proxy factory of `version`'s release.
    pub fn proxy_factory(&self, version: SafeVersion) -> Address {
        match version {
            SafeVersion::V141 | SafeVersion::V141L2 => self.proxy_factory_141,
            SafeVersion::V130 | SafeVersion::V130L2 => self.proxy_factory_130,
        }
    }

    /// The `createProxyWithNonce` transaction for one Safe:
    /// `setup(owners, threshold, 0x0, 0x, fallbackHandler, 0x0, 0, 0x0)`.
    pub fn create_safe_request(
        &self,
        version: SafeVersion,
        owners: &[Address],
        threshold: u64,
        salt: u64,
    ) -> TransactionRequest {
        let initializer = ISafe::setupCall {
            _owners: owners.to_vec(),
            _threshold: U256::from(threshold),
            to: Address::ZERO,
            data: Bytes::new(),
            fallbackHandler: self.fallback_handler,
            paymentToken: Address::ZERO,
            payment: U256::ZERO,
            paymentReceiver: Address::ZERO,
        }
        .abi_encode();
        let call = ISafeProxyFactory::createProxyWithNonceCall {
            _singleton: self.singleton(version),
            initializer: initializer.into(),
            saltNonce: U256::from(salt),
        };
        TransactionRequest::default()
            .to(self.proxy_factory(version))
            .input(TransactionInput::new(call.abi_encode().into()))
    }

    /// Creates a Safe proxy of `version` with the given owners and threshold, and returns its
    /// address (from the factory's `ProxyCreation` event).
    #[tracing::instrument(skip_all, fields(?version, owners = owners.len(), threshold, salt))]
    pub async fn create_safe(
        &self,
        devnet: &Devnet,
        version: SafeVersion,
        owners: &[Address],
        threshold: u64,
        salt: u64,
    ) -> Result<Address> {
        let tx = self.create_safe_request(version, owners, threshold, salt);
        let receipt = devnet
            .transact(tx)
            .await
            .with_context(|| format!("creating a {version:?} Safe with salt {salt}"))?;
        self.created_safe(version, &receipt)
    }

    /// Creates one Safe per salt, all with the same owners and threshold, many per transaction:
    /// the `createProxyWithNonce` calls are batched through `MultiSendCallOnly` (so the
    /// transactions go to it, not to the factory; the factory's and the Safes' events are the
    /// same), sent back to back, and their receipts awaited together. Much faster than
    /// [`SafeContracts::create_safe`] in a loop. Addresses come back in `salts` order.
    #[tracing::instrument(skip_all, fields(?version, owners = owners.len(), threshold))]
    pub async fn create_safes(
        &self,
        devnet: &Devnet,
        version: SafeVersion,
        owners: &[Address],
        threshold: u64,
        salts: impl IntoIterator<Item = u64>,
    ) -> Result<Vec<Address>> {
        let salts: Vec<u64> = salts.into_iter().collect();
        let multi_send = multi_send(devnet).await?;
        let factory = self.proxy_factory(version);
        let gas_per_safe = GAS_PER_SAFE + GAS_PER_OWNER * owners.len() as u64;
        let per_tx = (MAX_BATCH_GAS.saturating_sub(GAS_PER_BATCH) / gas_per_safe).max(1) as usize;
        let mut sent = Vec::with_capacity(salts.len().div_ceil(per_tx));
        for group in salts.chunks(per_tx) {
            let calls: Vec<Bytes> = group
                .iter()
                .map(|salt| {
                    self.create_safe_request(version, owners, threshold, *salt)
                        .input
                        .into_input()
                        .unwrap_or_default()
                })
                .collect();
            let packed = pack_raw(calls.iter().map(|c| (CALL, factory, U256::ZERO, &c[..])));
            let call = IMultiSendCallOnly::multiSendCall {
                transactions: packed.into(),
            };
            let tx = TransactionRequest::default()
                .to(multi_send)
                .gas_limit(GAS_PER_BATCH + gas_per_safe * group.len() as u64)
                .input(TransactionInput::new(call.abi_encode().into()));
            let hash = devnet
                .send(tx.clone())
                .await
                .with_context(|| format!("creating {version:?} Safes with salts {group:?}"))?;
            sent.push((hash, tx, group));
        }
        let hashes: Vec<TxHash> = sent.iter().map(|(hash, _, _)| *hash).collect();
        let receipts = wait_all(devnet, &hashes).await?;
        let mut safes = Vec::with_capacity(salts.len());
        for (receipt, (_, tx, group)) in receipts.iter().zip(sent) {
            if !receipt.status() {
                bail!(
                    "creating {version:?} Safes with salts {}..={} reverted: {}",
                    group[0],
                    group[group.len() - 1],
                    devnet.revert_reason(tx, receipt).await
                );
            }
            let created = self.created_safes(version, receipt)?;
            ensure!(
                created.len() == group.len(),
                "tx {} created {} Safes, expected {}",
                receipt.transaction_hash,
                created.len(),
                group.len()
            );
            safes.extend(created);
        }
        Ok(safes)
    }

    /// The proxy address from a successful `createProxyWithNonce` receipt, after checking the
    /// new Safe ran `setup`.
    fn created_safe(&self, version: SafeVersion, receipt: &TransactionReceipt) -> Result<Address> {
        match self.created_safes(version, receipt)?[..] {
            [proxy] => Ok(proxy),
            ref other => bail!("expected one ProxyCreation, found {}", other.len()),
        }
    }

    /// Every proxy `version`'s factory created in a receipt, in log order, after checking each
    /// ran `setup`.
    fn created_safes(
        &self,
        version: SafeVersion,
        receipt: &TransactionReceipt,
    ) -> Result<Vec<Address>> {
        let factory = self.proxy_factory(version);
        let logs = receipt.logs();
        let set_up: HashSet<Address> = logs
            .iter()
            .filter(|log| log.topic0() == Some(&ISafe::SafeSetup::SIGNATURE_HASH))
            .map(|log| log.address())
            .collect();
        logs.iter()
            .filter(|log| {
                log.address() == factory
                    && log.topic0() == Some(&ISafeProxyFactory::ProxyCreation::SIGNATURE_HASH)
            })
            .map(|log| {
                let proxy = proxy_from_creation_log(log)?;
                ensure!(set_up.contains(&proxy), "Safe {proxy} emitted no SafeSetup");
                Ok(proxy)
            })
            .collect()
    }
}

/// `ProxyCreation(proxy, singleton)`: 1.4.1 indexes `proxy` (it is `topics[1]`), 1.3.0 does
/// not (it is the first data word).
fn proxy_from_creation_log(log: &Log) -> Result<Address> {
    match log.topics() {
        [_, proxy, ..] => Ok(Address::from_word(*proxy)),
        [_] => {
            let data = &log.data().data;
            if data.len() < 64 {
                bail!("ProxyCreation data is {} bytes, expected 64", data.len());
            }
            Ok(Address::from_slice(&data[12..32]))
        }
        [] => bail!("ProxyCreation log without topics"),
    }
}

/// Waits for many receipts at once; results are in `hashes` order.
pub(crate) async fn wait_all(
    devnet: &Devnet,
    hashes: &[TxHash],
) -> Result<Vec<TransactionReceipt>> {
    futures::stream::iter(hashes.iter().map(|hash| devnet.wait_receipt(*hash)))
        .buffered(RECEIPT_CONCURRENCY)
        .try_collect()
        .await
}

/// `eth_call`s a view function on a Safe and decodes its return value.
pub(crate) async fn view<C: SolCall>(devnet: &Devnet, safe: Address, call: C) -> Result<C::Return> {
    let out = devnet.call(safe, call.abi_encode()).await?;
    C::abi_decode_returns(&out).with_context(|| format!("decoding {} from {safe}", C::SIGNATURE))
}

/// The Safe's owners, in its linked-list order.
pub async fn read_owners(devnet: &Devnet, safe: Address) -> Result<Vec<Address>> {
    view(devnet, safe, ISafe::getOwnersCall {}).await
}

/// The Safe's signature threshold.
pub async fn read_threshold(devnet: &Devnet, safe: Address) -> Result<u64> {
    let threshold = view(devnet, safe, ISafe::getThresholdCall {}).await?;
    u64::try_from(threshold).context("threshold does not fit u64")
}

/// The Safe's enabled modules (first 100), in its linked-list order.
pub async fn read_modules(devnet: &Devnet, safe: Address) -> Result<Vec<Address>> {
    let page = view(
        devnet,
        safe,
        ISafe::getModulesPaginatedCall {
            start: SENTINEL,
            pageSize: U256::from(100),
        },
    )
    .await?;
    Ok(page.array)
}

/// The Safe's next transaction nonce.
pub async fn read_nonce(devnet: &Devnet, safe: Address) -> Result<U256> {
    view(devnet, safe, ISafe::nonceCall {}).await
}

/// The Safe's `VERSION()` string, e.g. `"1.4.1"`.
pub async fn read_version(devnet: &Devnet, safe: Address) -> Result<String> {
    view(devnet, safe, ISafe::VERSIONCall {}).await
}

/// The head of the Safe's owner and module linked lists.
pub const SENTINEL: Address =
    Address::new([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
