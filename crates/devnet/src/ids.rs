//! Proposal and timelock operation ids as OpenZeppelin 5.x computes them onchain, so a test can
//! name the operation a proposal will be scheduled under without asking the chain. Computed
//! here with alloy on their own, independently of the daemon's copy: a test that compares the
//! two checks both against the contracts.

use alloy::primitives::{keccak256, Address, Bytes, B256, U256};
use alloy::sol_types::SolValue;

/// `keccak256(bytes(description))`: the `descriptionHash` of `queue`, `execute` and `cancel`.
pub fn description_hash(description: &str) -> B256 {
    keccak256(description)
}

/// `Governor.hashProposal(targets, values, calldatas, descriptionHash)`.
pub fn proposal_id(targets: &[Address], values: &[U256], calldatas: &[Bytes], dh: B256) -> U256 {
    let words = (targets, values, calldatas, dh).abi_encode_params();
    keccak256(words).into()
}

/// `bytes20(governor) ^ descriptionHash`: the salt `GovernorTimelockControl` queues with.
pub fn timelock_salt(governor: Address, dh: B256) -> B256 {
    let mut high = [0u8; 32];
    high[..20].copy_from_slice(governor.as_slice());
    B256::from(high) ^ dh
}

/// `TimelockController.hashOperationBatch(targets, values, payloads, predecessor, salt)`.
pub fn hash_operation_batch(
    targets: &[Address],
    values: &[U256],
    payloads: &[Bytes],
    predecessor: B256,
    salt: B256,
) -> B256 {
    keccak256((targets, values, payloads, predecessor, salt).abi_encode_params())
}

/// `TimelockController.hashOperation(target, value, data, predecessor, salt)`.
pub fn hash_operation(
    target: Address,
    value: U256,
    data: &Bytes,
    predecessor: B256,
    salt: B256,
) -> B256 {
    keccak256((target, value, data, predecessor, salt).abi_encode_params())
}

/// The id a governor's queued proposal gets in its timelock: a batch with no predecessor,
/// salted with [`timelock_salt`].
pub fn timelock_operation_id(
    governor: Address,
    targets: &[Address],
    values: &[U256],
    calldatas: &[Bytes],
    dh: B256,
) -> B256 {
    let salt = timelock_salt(governor, dh);
    hash_operation_batch(targets, values, calldatas, B256::ZERO, salt)
}
