//! Deterministic deployment through the CREATE2 deployers the Safe project used, so that a
//! contract deployed on the devnet sits at the address it has on Ethereum mainnet: Arachnid's
//! deterministic-deployment-proxy for Safe 1.3.0, the Safe singleton factory for Safe 1.4.1.
//!
//! Both deployers run the same 69-byte program: called with `salt (32 bytes) || init code`, it
//! `CREATE2`s the init code with that salt and returns the new address (reverting if `CREATE2`
//! fails). The address is therefore `keccak256(0xff || deployer || salt || keccak256(init
//! code))[12..]`, whoever sends the transaction.
//!
//! Invariant: a deployment whose address already holds code is skipped, never sent, so deploying
//! twice on one devnet (or on a devnet restored from a state dump) succeeds and changes nothing.

use alloy::{
    primitives::{address, bytes, Address, Bytes, TxHash, B256},
    providers::Provider,
    rpc::types::{TransactionInput, TransactionRequest},
};
use anyhow::{bail, ensure, Context, Result};

use super::{anvil::Devnet, safe::wait_all};

/// Arachnid's deterministic-deployment-proxy, through which Safe 1.3.0 was deployed. anvil
/// installs it at genesis; on Hardhat it is installed by [`ensure_deployer`].
pub const ARACHNID_DEPLOYER: Address = address!("4e59b44847b379578588920ca78fbf26c0b4956c");
/// The Safe singleton factory, through which Safe 1.4.1 was deployed.
pub const SAFE_SINGLETON_FACTORY: Address = address!("914d7Fec6aaC8cd542e72Bca78B30650d45643d7");
/// The runtime code of both deployers: `CREATE2(value, calldata[32..], salt = calldata[..32])`,
/// returning the 20-byte address.
pub const DEPLOYER_RUNTIME_CODE: Bytes = bytes!(
    "7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe03601600081602082378035828234f58015156039578182fd5b8082525050506014600cf3"
);

/// The address `CREATE2` gives `init_code` deployed by `deployer` with `salt`.
pub fn create2_address(deployer: Address, salt: B256, init_code: &[u8]) -> Address {
    deployer.create2_from_code(salt, init_code)
}

/// Makes sure `deployer` holds [`DEPLOYER_RUNTIME_CODE`], installing it with [`Devnet::set_code`] if
/// the address is empty. Fails if it holds some other code, since addresses computed for it
/// would then be wrong.
pub async fn ensure_deployer(devnet: &Devnet, deployer: Address) -> Result<()> {
    let code = code_at(devnet, deployer).await?;
    if code.is_empty() {
        devnet
            .set_code(deployer, DEPLOYER_RUNTIME_CODE)
            .await
            .with_context(|| format!("installing the CREATE2 deployer at {deployer}"))?;
        return Ok(());
    }
    ensure!(
        code == DEPLOYER_RUNTIME_CODE,
        "{deployer} holds {} bytes of code that are not the deterministic deployer's",
        code.len()
    );
    Ok(())
}

/// The runtime code at `address` on the latest block (empty for an account without code).
pub(crate) async fn code_at(devnet: &Devnet, address: Address) -> Result<Bytes> {
    devnet
        .http_provider()
        .get_code_at(address)
        .await
        .with_context(|| format!("eth_getCode({address})"))
}

/// One contract to deploy deterministically.
#[derive(Debug, Clone)]
pub struct Create2Deployment {
    /// What the contract is, for messages (e.g. the artifact's path).
    pub name: String,
    /// [`ARACHNID_DEPLOYER`] or [`SAFE_SINGLETON_FACTORY`].
    pub deployer: Address,
    /// The `CREATE2` salt.
    pub salt: B256,
    /// Creation code, constructor arguments included.
    pub init_code: Bytes,
}

impl Create2Deployment {
    /// A deployment with salt zero, as the Safe contracts were deployed.
    pub fn salt_zero(name: impl Into<String>, deployer: Address, init_code: Bytes) -> Self {
        Self {
            name: name.into(),
            deployer,
            salt: B256::ZERO,
            init_code,
        }
    }

    /// The address the contract gets.
    pub fn address(&self) -> Address {
        create2_address(self.deployer, self.salt, &self.init_code)
    }

    /// The transaction that deploys it: `to = deployer, data = salt || init code`.
    pub fn request(&self) -> TransactionRequest {
        let data: Vec<u8> = [self.salt.as_slice(), &self.init_code].concat();
        TransactionRequest::default()
            .to(self.deployer)
            .input(TransactionInput::new(data.into()))
    }
}

/// Deploys every contract whose address has no code yet, installing the deployers they use
/// first. The transactions go out back to back from the dev account and their receipts are
/// awaited together; then every address must hold code. Returns the addresses in input order.
#[tracing::instrument(skip_all, fields(port = devnet.port(), contracts = deployments.len()))]
pub async fn deploy_all(
    devnet: &Devnet,
    deployments: &[Create2Deployment],
) -> Result<Vec<Address>> {
    let mut deployers: Vec<Address> = deployments.iter().map(|d| d.deployer).collect();
    deployers.sort();
    deployers.dedup();
    for deployer in deployers {
        ensure_deployer(devnet, deployer).await?;
    }
    let addresses: Vec<Address> = deployments.iter().map(Create2Deployment::address).collect();
    let mut sent: Vec<(TxHash, &Create2Deployment, TransactionRequest)> = Vec::new();
    for (deployment, address) in deployments.iter().zip(&addresses) {
        if !code_at(devnet, *address).await?.is_empty() {
            tracing::debug!(name = %deployment.name, %address, "already deployed");
            continue;
        }
        let tx = deployment.request();
        let hash = devnet
            .send(tx.clone())
            .await
            .with_context(|| format!("deploying {} with CREATE2", deployment.name))?;
        sent.push((hash, deployment, tx));
    }
    let hashes: Vec<TxHash> = sent.iter().map(|(hash, ..)| *hash).collect();
    let receipts = wait_all(devnet, &hashes).await?;
    for (receipt, (_, deployment, tx)) in receipts.iter().zip(sent) {
        if !receipt.status() {
            bail!(
                "deploying {} through {} reverted: {}",
                deployment.name,
                deployment.deployer,
                devnet.revert_reason(tx, receipt).await
            );
        }
    }
    for (deployment, address) in deployments.iter().zip(&addresses) {
        ensure!(
            !code_at(devnet, *address).await?.is_empty(),
            "{} has no code at its CREATE2 address {address}",
            deployment.name
        );
    }
    Ok(addresses)
}

/// Deploys one contract deterministically (skipped if its address already holds code) and
/// returns its address.
pub async fn deploy(devnet: &Devnet, deployment: Create2Deployment) -> Result<Address> {
    let addresses = deploy_all(devnet, std::slice::from_ref(&deployment)).await?;
    Ok(addresses[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create2_address_matches_eip_1014_example() {
        // EIP-1014 example 5: deployer 0x00000000000000000000000000000000deadbeef, salt
        // 0x00000000000000000000000000000000000000000000000000000000cafebabe, init code
        // 0xdeadbeef.
        let deployer = address!("00000000000000000000000000000000deadbeef");
        let salt = B256::left_padding_from(&[0xca, 0xfe, 0xba, 0xbe]);
        assert_eq!(
            create2_address(deployer, salt, &[0xde, 0xad, 0xbe, 0xef]),
            address!("60f3f640a8508fC6a86d45DF051962668E1e8AC7")
        );
    }

    #[test]
    fn request_is_salt_then_init_code() {
        let deployment = Create2Deployment::salt_zero(
            "x",
            SAFE_SINGLETON_FACTORY,
            Bytes::from_static(&[1, 2, 3]),
        );
        let tx = deployment.request();
        let data = tx.input.into_input().unwrap_or_default();
        assert_eq!(data.len(), 35);
        assert!(data[..32].iter().all(|b| *b == 0));
        assert_eq!(&data[32..], &[1, 2, 3]);
    }
}
