//! A group declaring a Safe, a governor, its timelock and a token's roles, and the observed
//! states the follower would store for them (integers in 0x-hex, roles by hash): what the
//! state view shows in the declared form. The governor's quorum differs (10 against 4) and
//! the timelock has a proposer nobody declared.

use alloy::primitives::{keccak256, Address, B256, U256};
use groupstate::model::ContractKind;
use groupstate::observe::{GovernorState, Observed, RolesState, TimelockState};
use groupstate::store::StateWrite;

pub const SAFE: Address = Address::repeat_byte(0x5a);
pub const GOVERNOR: Address = Address::repeat_byte(0x60);
pub const TIMELOCK: Address = Address::repeat_byte(0x71);
pub const TOKEN: Address = Address::repeat_byte(0x70);
pub const ADMIN: Address = Address::repeat_byte(0x0a);
/// Holds `PROPOSER_ROLE` on the timelock, undeclared.
pub const STRANGER: Address = Address::repeat_byte(0x0b);

/// A role neither the manifest nor the catalog names.
pub fn unknown_role() -> B256 {
    keccak256("UNHEARD_OF_ROLE")
}

pub fn manifest(id: &str) -> String {
    format!(
        "id: {id}\nname: Test {id}\npurpose: Testing.\nphase: coordination\nchain: local\nstart_block: 0\n\
         treasury:\n  safes:\n    - address: \"{SAFE}\"\n      owners: [\"{ADMIN}\"]\n      threshold: 1\n\
         governance:\n  governors:\n    - {{ address: \"{GOVERNOR}\", timelock: \"{TIMELOCK}\", voting_delay: 1, voting_period: 50400, proposal_threshold: \"0\", quorum_numerator: 4 }}\n\
         \x20 timelocks:\n    - {{ address: \"{TIMELOCK}\", min_delay: 172800, proposers: [\"{GOVERNOR}\"], executors: [\"{}\"], cancellers: [\"{GOVERNOR}\"] }}\n\
         roles:\n  - contract: \"{TOKEN}\"\n    members: {{ DEFAULT_ADMIN_ROLE: [\"{ADMIN}\"], MINTER_ROLE: [\"{ADMIN}\"] }}\n",
        Address::ZERO
    )
}

fn set(list: &[Address]) -> std::collections::BTreeSet<Address> {
    list.iter().copied().collect()
}

fn role(name: &str) -> B256 {
    if name == "DEFAULT_ADMIN_ROLE" {
        B256::ZERO
    } else {
        keccak256(name)
    }
}

/// The observed governor, timelock and token of `group` as the follower stores them.
pub fn observed_states(group: &str) -> Vec<StateWrite> {
    let governor = Observed::Governor(GovernorState {
        deployed: true,
        voting_delay: Some(U256::from(1)),
        voting_period: Some(U256::from(50_400)),
        proposal_threshold: Some(U256::ZERO),
        quorum_numerator: Some(U256::from(10)),
        timelock: Some(TIMELOCK),
    });
    let timelock = Observed::Timelock(TimelockState {
        deployed: true,
        min_delay: Some(U256::from(172_800)),
        roles: RolesState {
            deployed: true,
            members: [
                (role("PROPOSER_ROLE"), set(&[GOVERNOR, STRANGER])),
                (role("EXECUTOR_ROLE"), set(&[Address::ZERO])),
                (role("CANCELLER_ROLE"), set(&[GOVERNOR])),
                (role("DEFAULT_ADMIN_ROLE"), set(&[TIMELOCK])),
            ]
            .into(),
            admins: Default::default(),
        },
    });
    let token = Observed::Roles(RolesState {
        deployed: true,
        members: [
            (role("DEFAULT_ADMIN_ROLE"), set(&[ADMIN])),
            (role("MINTER_ROLE"), set(&[ADMIN])),
            (role("PAUSER_ROLE"), set(&[ADMIN])),
            (unknown_role(), set(&[STRANGER])),
        ]
        .into(),
        admins: Default::default(),
    });
    [
        (GOVERNOR, ContractKind::Governor, governor),
        (TIMELOCK, ContractKind::Timelock, timelock),
        (TOKEN, ContractKind::Roles, token),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (address, kind, state))| StateWrite {
        group_id: group.into(),
        contract: address.to_checksum(None),
        kind,
        block: 3,
        log_index: i as i64,
        source: "snapshot",
        state: state.to_json(),
    })
    .collect()
}
