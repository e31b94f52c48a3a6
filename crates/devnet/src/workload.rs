//! A busy treasury history, shared by tests and benchmarks: Safes of the given versions (two of
//! three owners), rounds of payments into every one, executions out of some, and one
//! undeclared owner added at the end.

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use anyhow::Result;

use crate::{Devnet, SafeContracts, SafeVersion};

/// What [`busy_safes`] built.
pub struct BusySafes {
    /// Owner keys: the first three own every Safe; the fourth is the undeclared owner added
    /// to the second Safe at the end.
    pub keys: Vec<PrivateKeySigner>,
    /// The three declared owners.
    pub owners: Vec<Address>,
    pub safes: Vec<Address>,
}

/// Creates one Safe per entry of `versions`, then `rounds` rounds of four payments into each
/// (round `r` pays `r + 1` wei), with one execution of 1 wei out of the first and the last
/// Safe every `execute_every` rounds (at round `execute_every / 2`, then every
/// `execute_every`), and finally adds the fourth key as an owner of the second Safe (or the
/// first, when there is one).
pub async fn busy_safes(
    devnet: &Devnet,
    versions: &[SafeVersion],
    rounds: u64,
    execute_every: u64,
) -> Result<BusySafes> {
    let contracts = SafeContracts::deploy(devnet).await?;
    let keys = crate::signers(4);
    let owners: Vec<Address> = keys[..3].iter().map(|k| k.address()).collect();
    let mut safes = Vec::new();
    for (salt, version) in versions.iter().enumerate() {
        safes.push(
            contracts
                .create_safe(devnet, *version, &owners, 2, salt as u64)
                .await?,
        );
    }
    let executing = [safes[0], safes[safes.len() - 1]];
    let every = execute_every.max(1);
    for round in 0..rounds {
        crate::fund_many(devnet, &safes.repeat(4), U256::from(round + 1)).await?;
        if round % every == every / 2 {
            for safe in executing {
                crate::exec_transaction(
                    devnet,
                    safe,
                    Address::repeat_byte(0x99),
                    U256::from(1),
                    Default::default(),
                    0,
                    &[&keys[0], &keys[1]],
                )
                .await?;
            }
        }
    }
    crate::add_owner_with_threshold(
        devnet,
        safes[1.min(safes.len() - 1)],
        keys[3].address(),
        2,
        &[&keys[0], &keys[1]],
    )
    .await?;
    Ok(BusySafes {
        keys,
        owners,
        safes,
    })
}
