//! Proposal and timelock operation identifiers, computed exactly as OpenZeppelin 5.x computes
//! them onchain, so a test (or the daemon) can link a `ProposalCreated` to the timelock's
//! `CallScheduled`/`CallExecuted` without asking the chain.
//!
//! - `Governor.hashProposal`: `uint256(keccak256(abi.encode(targets, values, calldatas,
//!   descriptionHash)))`.
//! - `GovernorTimelockControl._timelockSalt`: `bytes20(address(governor)) ^ descriptionHash`.
//! - `TimelockController.hashOperationBatch`: `keccak256(abi.encode(targets, values, payloads,
//!   predecessor, salt))`; `hashOperation` is the same over single values.
//!
//! Pure functions: no I/O.

use alloy::{
    primitives::{keccak256, Address, Bytes, B256, U256},
    sol_types::SolValue,
};

/// `keccak256(bytes(description))`, the `descriptionHash` that `queue`, `execute` and `cancel`
/// take.
pub fn description_hash(description: &str) -> B256 {
    keccak256(description.as_bytes())
}

/// `Governor.hashProposal(targets, values, calldatas, descriptionHash)`, which is also
/// `getProposalId` for governors without sequential ids.
pub fn proposal_id(
    targets: &[Address],
    values: &[U256],
    calldatas: &[Bytes],
    description_hash: B256,
) -> U256 {
    let encoded = (
        targets.to_vec(),
        values.to_vec(),
        calldatas.to_vec(),
        description_hash,
    )
        .abi_encode_params();
    U256::from_be_bytes(keccak256(encoded).0)
}

/// The salt `GovernorTimelockControl` schedules a proposal's batch with:
/// `bytes20(governor) ^ descriptionHash` (the address fills the high 20 bytes).
pub fn timelock_salt(governor: Address, description_hash: B256) -> B256 {
    let mut salt = description_hash;
    for (byte, g) in salt.0.iter_mut().zip(governor.0 .0.iter()) {
        *byte ^= g;
    }
    salt
}

/// `TimelockController.hashOperationBatch(targets, values, payloads, predecessor, salt)`.
pub fn hash_operation_batch(
    targets: &[Address],
    values: &[U256],
    payloads: &[Bytes],
    predecessor: B256,
    salt: B256,
) -> B256 {
    keccak256(
        (
            targets.to_vec(),
            values.to_vec(),
            payloads.to_vec(),
            predecessor,
            salt,
        )
            .abi_encode_params(),
    )
}

/// `TimelockController.hashOperation(target, value, data, predecessor, salt)`, the id of an
/// operation scheduled with `schedule` (not `scheduleBatch`).
pub fn hash_operation(
    target: Address,
    value: U256,
    data: &Bytes,
    predecessor: B256,
    salt: B256,
) -> B256 {
    keccak256((target, value, data.clone(), predecessor, salt).abi_encode_params())
}

/// The timelock operation id `GovernorTimelockControl` gives a queued proposal:
/// `hashOperationBatch(targets, values, calldatas, 0, bytes20(governor) ^ descriptionHash)`.
pub fn timelock_operation_id(
    governor: Address,
    targets: &[Address],
    values: &[U256],
    calldatas: &[Bytes],
    description_hash: B256,
) -> B256 {
    hash_operation_batch(
        targets,
        values,
        calldatas,
        B256::ZERO,
        timelock_salt(governor, description_hash),
    )
}

#[cfg(test)]
mod tests {
    use alloy::primitives::{address, b256};

    use super::*;

    #[test]
    fn salt_xors_the_governor_into_the_high_bytes() {
        let governor = address!("00112233445566778899aabbccddeeff00112233");
        let hash = b256!("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
        assert_eq!(
            timelock_salt(governor, hash),
            b256!("ffeeddccbbaa99887766554433221100ffeeddcc000000000000000000000000")
                ^ b256!("0000000000000000000000000000000000000000ffffffffffffffffffffffff")
        );
        assert_eq!(timelock_salt(Address::ZERO, hash), hash);
    }

    #[test]
    fn single_operation_is_not_a_batch_of_one() {
        let data = Bytes::from_static(&[1, 2, 3]);
        let (target, value) = (Address::repeat_byte(7), U256::from(5));
        assert_ne!(
            hash_operation(target, value, &data, B256::ZERO, B256::ZERO),
            hash_operation_batch(&[target], &[value], &[data], B256::ZERO, B256::ZERO)
        );
    }
}
