//! Readers of contract state at a block: what `eth_getCode`, `eth_call` and `eth_getStorageAt`
//! say a declared contract looks like, returned as plain [`Reading`]s for `observe` to turn into
//! structure; the search for a contract's creation block; and a contract's role-event history
//! from that block, for AccessControl members, which no call lists.
//!
//! Invariant: reads only, at an explicit block; nothing here knows what the readings mean for
//! a group.

use alloy::primitives::{Address, B256, U256};
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::{SolCall, SolEvent};

use super::range::AdaptiveRange;
use super::rpc::{Rpc, RpcError, RpcErrorKind};
use crate::abi::gov::{IAccessControlEvents as AC, IGovernorEvents as GOV};
use crate::abi::gov::{IOwnableEvents as OWN, ITimelockEvents as TL};
use crate::abi::v141::SafeL2;
use crate::model::ContractKind;

/// `keccak256("guard_manager.guard.address")`, where Safe ≥ 1.3.0 keeps its guard.
pub const GUARD_STORAGE_SLOT: B256 =
    alloy::primitives::b256!("0x4a204f620c8c5ccdca3fd54d003badd85ba500436a431f0cbda4f558c93c34c8");
/// `keccak256("fallback_manager.handler.address")`.
pub const FALLBACK_HANDLER_STORAGE_SLOT: B256 =
    alloy::primitives::b256!("0x6c9a6c4a39284e37ed1cf53d337577d14212a4870fb976a4366c693b939918d5");
/// The head and tail marker of the Safe's owner and module linked lists.
pub const SENTINEL: Address = Address::with_last_byte(1);

/// Why a contract is read: to seed its structure when a group starts following it (role
/// members from their history included), or to read again what calls can tell, periodically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReadScope {
    /// `deployed_at`: the creation block the manifest declares, checked before it is used.
    Seed {
        deployed_at: Option<u64>,
    },
    Refresh,
    /// A Safe proxy's singleton (storage slot 0) only, after an execution that could have
    /// rewritten it.
    Singleton,
    /// The address's balance of the native currency (`None`) or of an ERC-20 token.
    Balance {
        token: Option<Address>,
    },
}

alloy::sol! {
    interface IERC20Balance {
        function balanceOf(address account) external view returns (uint256);
    }
}

alloy::sol! {
    interface IAccessControlEnumerable {
        function supportsInterface(bytes4 interfaceId) external view returns (bool);
        function getRoleMemberCount(bytes32 role) external view returns (uint256);
        function getRoleMember(bytes32 role, uint256 index) external view returns (address);
    }
}

/// The ERC-165 interface id of OpenZeppelin's `IAccessControlEnumerable`.
pub const ACCESS_CONTROL_ENUMERABLE_ID: [u8; 4] = [0x5a, 0x05, 0x18, 0x0f];

/// One contract to read at one block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReadRequest {
    pub address: Address,
    pub kind: ContractKind,
    pub block: u64,
    pub scope: ReadScope,
}

/// What the calls answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    Safe(SafeReading),
    Governor(GovernorReading),
    Timelock(TimelockReading),
    Roles(RolesReading),
    Ownable(OwnableReading),
    /// A Safe proxy's storage slot 0.
    Singleton(Address),
    /// A balance; `None` when the node no longer holds the state of that block (not an
    /// archive node) or the token does not answer `balanceOf`.
    Balance(Option<U256>),
}

/// A Safe at a block. `answers` is `Err` (with the reason) when the address has code that does
/// not answer `getOwners` / `getThreshold` as a Safe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeReading {
    pub code: bool,
    pub answers: Result<SafeAnswers, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SafeAnswers {
    pub owners: Vec<Address>,
    pub threshold: U256,
    pub modules: Vec<Address>,
    pub guard: Address,
    pub fallback_handler: Address,
    /// The singleton the proxy delegates to: storage slot 0.
    pub singleton: Address,
}

/// A Governor's settings; `None` where the contract lacks the call (no such extension).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GovernorReading {
    pub code: bool,
    pub voting_delay: Option<U256>,
    pub voting_period: Option<U256>,
    pub proposal_threshold: Option<U256>,
    pub quorum_numerator: Option<U256>,
    pub timelock: Option<Address>,
}

/// A TimelockController's minimum delay and, when seeding, its role history.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TimelockReading {
    pub code: bool,
    pub min_delay: Option<U256>,
    /// Every `RoleGranted` / `RoleRevoked` / `RoleAdminChanged` from the contract's creation
    /// block to the block read, in chain order.
    pub history: Option<Vec<Log>>,
}

/// An AccessControl contract: whether it has code and, when seeding, its role history.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RolesReading {
    pub code: bool,
    /// Every `RoleGranted` / `RoleRevoked` / `RoleAdminChanged` from the contract's creation
    /// block to the block read, in chain order.
    pub history: Option<Vec<Log>>,
}

/// An Ownable contract's owner.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwnableReading {
    pub owner: Option<Address>,
}

/// Reads one contract as `req` asks.
#[tracing::instrument(skip_all, fields(address = %req.address, kind = %req.kind, block = req.block))]
pub async fn read(rpc: &Rpc, range: &AdaptiveRange, req: ReadRequest) -> Result<Reading, RpcError> {
    let ReadRequest {
        address,
        kind,
        block,
        scope,
    } = req;
    let seed = match scope {
        ReadScope::Seed { deployed_at } => Some(deployed_at),
        ReadScope::Refresh => None,
        ReadScope::Singleton => {
            return Ok(Reading::Singleton(
                rpc.storage_address(address, B256::ZERO, block).await?,
            ))
        }
        ReadScope::Balance { token } => {
            let balance = match token {
                None => rpc.balance(address, block).await,
                Some(t) => {
                    rpc.call_decode(t, &IERC20Balance::balanceOfCall { account: address }, block)
                        .await
                }
            };
            return match balance {
                Ok(v) => Ok(Reading::Balance(Some(v))),
                // Pruned state, or a token that does not answer: the check skips the point.
                Err(e) if e.kind == RpcErrorKind::Fatal => {
                    tracing::warn!(%address, block, error = %e, "no balance to check");
                    Ok(Reading::Balance(None))
                }
                Err(e) => Err(e),
            };
        }
    };
    Ok(match kind {
        ContractKind::Safe => Reading::Safe(read_safe(rpc, address, block).await?),
        ContractKind::Governor => Reading::Governor(read_governor(rpc, address, block).await?),
        ContractKind::Timelock => {
            let code = has_code(rpc, address, block).await?;
            let mut t = TimelockReading {
                code,
                ..TimelockReading::default()
            };
            if code {
                t.min_delay = optional(rpc, address, &TL::getMinDelayCall {}, block).await?;
                if let Some(hint) = seed {
                    t.history = Some(role_history(rpc, range, address, block, hint).await?);
                }
            }
            Reading::Timelock(t)
        }
        ContractKind::Roles => {
            let code = match seed {
                Some(_) => has_code(rpc, address, block).await?,
                // A refresh reads nothing a call could tell about members.
                None => false,
            };
            let history = match seed {
                Some(hint) if code => Some(role_history(rpc, range, address, block, hint).await?),
                _ => None,
            };
            Reading::Roles(RolesReading { code, history })
        }
        ContractKind::Ownable => Reading::Ownable(OwnableReading {
            owner: optional(rpc, address, &OWN::ownerCall {}, block).await?,
        }),
    })
}

async fn has_code(rpc: &Rpc, address: Address, block: u64) -> Result<bool, RpcError> {
    Ok(!rpc.code_at(address, block).await?.is_empty())
}

/// An `eth_call` that may revert (the contract lacks the function) or answer undecodably:
/// `None` then.
pub(crate) async fn optional<C: SolCall>(
    rpc: &Rpc,
    to: Address,
    call: &C,
    block: u64,
) -> Result<Option<C::Return>, RpcError> {
    match rpc.call_decode(to, call, block).await {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind == RpcErrorKind::Fatal => Ok(None),
        Err(e) => Err(e),
    }
}

/// A Safe's owners, threshold, modules, guard and fallback handler at `block`.
pub async fn read_safe(rpc: &Rpc, safe: Address, block: u64) -> Result<SafeReading, RpcError> {
    if !has_code(rpc, safe, block).await? {
        return Ok(SafeReading {
            code: false,
            answers: Ok(SafeAnswers::default()),
        });
    }
    let owners = rpc
        .call_decode(safe, &SafeL2::getOwnersCall {}, block)
        .await;
    let threshold = rpc
        .call_decode(safe, &SafeL2::getThresholdCall {}, block)
        .await;
    let (owners, threshold) = match (owners, threshold) {
        (Ok(o), Ok(t)) => (o, t),
        // A revert or an answer that does not decode, from a contract: not a Safe. Transient
        // failures (already retried) still fail the read, to be tried again.
        (Err(e), _) | (_, Err(e)) if e.kind == RpcErrorKind::Fatal => {
            return Ok(SafeReading {
                code: true,
                answers: Err(e.to_string()),
            });
        }
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let mut modules = Vec::new();
    let mut start = SENTINEL;
    // A page at a time; the Safe returns the next cursor, the sentinel (or zero) at the end.
    for _ in 0..100 {
        let call = SafeL2::getModulesPaginatedCall {
            start,
            pageSize: U256::from(50),
        };
        let page = rpc.call_decode(safe, &call, block).await?;
        modules.extend(page.array.iter().copied());
        if page.next == SENTINEL || page.next == Address::ZERO || page.array.is_empty() {
            break;
        }
        start = page.next;
    }
    let guard = rpc.storage_address(safe, GUARD_STORAGE_SLOT, block).await?;
    let fallback_handler = rpc
        .storage_address(safe, FALLBACK_HANDLER_STORAGE_SLOT, block)
        .await?;
    let singleton = rpc.storage_address(safe, B256::ZERO, block).await?;
    Ok(SafeReading {
        code: true,
        answers: Ok(SafeAnswers {
            owners,
            threshold,
            modules,
            guard,
            fallback_handler,
            singleton,
        }),
    })
}

/// A Governor's settings at `block`.
pub async fn read_governor(
    rpc: &Rpc,
    governor: Address,
    block: u64,
) -> Result<GovernorReading, RpcError> {
    if !has_code(rpc, governor, block).await? {
        return Ok(GovernorReading::default());
    }
    Ok(GovernorReading {
        code: true,
        voting_delay: optional(rpc, governor, &GOV::votingDelayCall {}, block).await?,
        voting_period: optional(rpc, governor, &GOV::votingPeriodCall {}, block).await?,
        proposal_threshold: optional(rpc, governor, &GOV::proposalThresholdCall {}, block).await?,
        quorum_numerator: optional(rpc, governor, &GOV::quorumNumeratorCall {}, block).await?,
        timelock: optional(rpc, governor, &GOV::timelockCall {}, block).await?,
    })
}

/// The block `address` was created in, given that it has code at `at`: the declared
/// `deployed_at` if the chain agrees (code there, none the block before), else found by binary
/// search on `eth_getCode` (O(log at) calls). `None` if it has no code at `at`.
#[tracing::instrument(skip_all, fields(%address, at, ?deployed_at))]
pub async fn creation_block(
    rpc: &Rpc,
    address: Address,
    at: u64,
    deployed_at: Option<u64>,
) -> Result<Option<u64>, RpcError> {
    if !has_code(rpc, address, at).await? {
        return Ok(None);
    }
    if let Some(d) = deployed_at.filter(|d| *d <= at) {
        let before = match d.checked_sub(1) {
            Some(b) => has_code(rpc, address, b).await?,
            None => false,
        };
        if !before && has_code(rpc, address, d).await? {
            return Ok(Some(d));
        }
        tracing::warn!(%address, deployed_at = d,
            "the manifest's deployed_at is not the contract's creation block; searching for it");
    }
    // Invariant: no code at `lo - 1` (or lo is 0), code at `hi`.
    let (mut lo, mut hi) = (0u64, at);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if has_code(rpc, address, mid).await? {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Ok(Some(hi))
}

/// The role events of `contract` from its creation block to `block`, in chain order, with the
/// adaptive ranges of the backfill.
pub async fn role_history(
    rpc: &Rpc,
    range: &AdaptiveRange,
    contract: Address,
    block: u64,
    deployed_at: Option<u64>,
) -> Result<Vec<Log>, RpcError> {
    let Some(created_at) = creation_block(rpc, contract, block, deployed_at).await? else {
        return Ok(Vec::new());
    };
    let filter = Filter::new().address(contract).event_signature(vec![
        AC::RoleGranted::SIGNATURE_HASH,
        AC::RoleRevoked::SIGNATURE_HASH,
        AC::RoleAdminChanged::SIGNATURE_HASH,
    ]);
    let mut logs = range.sweep(rpc, &filter, created_at, block).await?;
    logs.sort_by_key(|l| (l.block_number, l.log_index));
    Ok(logs)
}

/// One role and the members a contract lists for it.
pub type RoleMembersListed = (B256, Vec<Address>);

/// The members of each of `roles` at `block`, listed by the contract itself when it is an
/// `AccessControlEnumerable` (it says so through ERC-165); `None` when it is not, and its
/// members can only be rebuilt from its role history ([`role_history`]).
#[tracing::instrument(skip_all, fields(%contract, block))]
pub async fn enumerate_role_members(
    rpc: &Rpc,
    contract: Address,
    roles: &[B256],
    block: u64,
) -> Result<Option<Vec<RoleMembersListed>>, RpcError> {
    let supports = IAccessControlEnumerable::supportsInterfaceCall {
        interfaceId: ACCESS_CONTROL_ENUMERABLE_ID.into(),
    };
    if optional(rpc, contract, &supports, block).await? != Some(true) {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(roles.len());
    for role in roles {
        let count = IAccessControlEnumerable::getRoleMemberCountCall { role: *role };
        let count = rpc.call_decode(contract, &count, block).await?;
        let count = u64::try_from(count).unwrap_or(u64::MAX).min(10_000);
        let mut members = Vec::new();
        for index in 0..count {
            let call = IAccessControlEnumerable::getRoleMemberCall {
                role: *role,
                index: U256::from(index),
            };
            members.push(rpc.call_decode(contract, &call, block).await?);
        }
        out.push((*role, members));
    }
    Ok(Some(out))
}

alloy::sol! {
    interface IERC1271 {
        function isValidSignature(bytes32 hash, bytes signature) external view returns (bytes4);
    }
}

/// The value `isValidSignature` returns for a valid signature (EIP-1271).
pub const EIP1271_MAGIC: [u8; 4] = [0x16, 0x26, 0xba, 0x7e];

/// Whether the contract at `signer` answers `isValidSignature(hash, signature)` with the
/// EIP-1271 magic value at `block`; a revert, another answer or no code is `false`.
pub async fn is_valid_signature(
    rpc: &Rpc,
    signer: Address,
    hash: B256,
    signature: &[u8],
    block: u64,
) -> Result<bool, RpcError> {
    if !has_code(rpc, signer, block).await? {
        return Ok(false);
    }
    let call = IERC1271::isValidSignatureCall {
        hash,
        signature: signature.to_vec().into(),
    };
    Ok(optional(rpc, signer, &call, block)
        .await?
        .is_some_and(|magic| magic.0 == EIP1271_MAGIC))
}
