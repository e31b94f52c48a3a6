//! The call catalog: what a Safe execution did, from its call data — the one call it made, the
//! calls of a `MultiSend` / `MultiSendCallOnly` batch it delegatecalled (nested batches
//! included), and the function of each call where the catalog knows it (ERC-20 / ERC-721 /
//! ERC-1155 transfers and approvals, module executions). The same decoding serves executed
//! Safe transactions, module executions and operations scheduled on a timelock or proposed to
//! a governor.
//!
//! Also the Safe libraries and singletons a Safe may legitimately delegatecall or run as, at
//! their canonical addresses (from the published Safe deployment lists, 1.3.0 and 1.4.1).

use alloy::primitives::{address, Address, Bytes, U256};
use alloy::sol;
use alloy::sol_types::SolCall;
use serde::Serialize;

use super::decimal;

sol! {
    /// Functions the call catalog decodes.
    interface ICalls {
        function transfer(address to, uint256 amount) returns (bool);
        function approve(address spender, uint256 amount) returns (bool);
        function increaseAllowance(address spender, uint256 addedValue) returns (bool);
        function transferFrom(address from, address to, uint256 amount) returns (bool);
        function safeTransferFrom(address from, address to, uint256 tokenId);
        function setApprovalForAll(address operator, bool approved);
        function multiSend(bytes transactions);
        function execTransactionFromModule(address to, uint256 value, bytes data, uint8 operation) returns (bool);
        function execTransactionFromModuleReturnData(address to, uint256 value, bytes data, uint8 operation) returns (bool, bytes);
    }
    /// `safeTransferFrom(address,address,uint256,bytes)` (ERC-721) and the ERC-1155 transfers.
    interface INftCalls {
        function safeTransferFrom(address from, address to, uint256 tokenId, bytes data);
    }
    interface IMultiTokenCalls {
        function safeTransferFrom(address from, address to, uint256 id, uint256 value, bytes data);
        function safeBatchTransferFrom(address from, address to, uint256[] ids, uint256[] values, bytes data);
    }
}

/// `CALL`.
pub const OPERATION_CALL: u8 = 0;
/// `DELEGATECALL`: the target's code runs as the Safe, with the Safe's storage.
pub const OPERATION_DELEGATECALL: u8 = 1;

/// Nested batches deeper than this are not unpacked (the Safe interface never nests at all).
const MAX_DEPTH: usize = 8;

/// A library the Safe project deploys for Safes to delegatecall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SafeLibrary {
    /// Runs a batch; items may be delegatecalls.
    MultiSend,
    /// Runs a batch of calls only (a delegatecall item reverts).
    MultiSendCallOnly,
    /// Marks a message as signed by the Safe.
    SignMessageLib,
    /// Deploys a contract from the Safe.
    CreateCall,
}

/// Safe 1.3.0 and 1.4.1 libraries at their canonical addresses (safe-deployments, `canonical`
/// and `eip155` deployments).
const LIBRARIES: &[(Address, SafeLibrary, &str)] = &[
    (
        address!("A238CBeb142c10Ef7Ad8442C6D1f9E89e07e7761"),
        SafeLibrary::MultiSend,
        "1.3.0",
    ),
    (
        address!("998739BFdAAdde7C933B942a68053933098f9EDa"),
        SafeLibrary::MultiSend,
        "1.3.0",
    ),
    (
        address!("40A2aCCbd92BCA938b02010E17A5b8929b49130D"),
        SafeLibrary::MultiSendCallOnly,
        "1.3.0",
    ),
    (
        address!("A1dabEF33b3B82c7814B6D82A79e50F4AC44102B"),
        SafeLibrary::MultiSendCallOnly,
        "1.3.0",
    ),
    (
        address!("A65387F16B013cf2Af4605Ad8aA5ec25a2cbA3a2"),
        SafeLibrary::SignMessageLib,
        "1.3.0",
    ),
    (
        address!("98FFBBF51bb33A056B08ddf711f289936AafF717"),
        SafeLibrary::SignMessageLib,
        "1.3.0",
    ),
    (
        address!("7cbB62EaA69F79e6873cD1ecB2392971036cFAa4"),
        SafeLibrary::CreateCall,
        "1.3.0",
    ),
    (
        address!("38869bf66a61cF6bDB996A6aE40D5853Fd43B526"),
        SafeLibrary::MultiSend,
        "1.4.1",
    ),
    (
        address!("9641d764fc13c8B624c04430C7356C1C7C8102e2"),
        SafeLibrary::MultiSendCallOnly,
        "1.4.1",
    ),
    (
        address!("d53cd0aB83D845Ac265BE939c57F53AD838012c9"),
        SafeLibrary::SignMessageLib,
        "1.4.1",
    ),
    (
        address!("9b35Af71d77eaf8d7e40252370304687390A1A52"),
        SafeLibrary::CreateCall,
        "1.4.1",
    ),
];

/// Safe singletons at their canonical addresses: what a Safe proxy's slot 0 may hold.
const SINGLETONS: &[(Address, &str)] = &[
    (
        address!("d9Db270c1B5E3Bd161E8c8503c55cEABeE709552"),
        "1.3.0",
    ),
    (
        address!("3E5c63644E683549055b9Be8653de26E0B4CD36E"),
        "1.3.0+L2",
    ),
    (
        address!("69f4D1788e39c87893C980c06EdF4b7f686e2938"),
        "1.3.0",
    ),
    (
        address!("fb1bffC9d739B8D520DaF37dF666da4C687191EA"),
        "1.3.0+L2",
    ),
    (
        address!("41675C099F32341bf84BFc5382aF534df5C7461a"),
        "1.4.1",
    ),
    (
        address!("29fcB43b46531BcA003ddC8FCB67FFE91900C762"),
        "1.4.1+L2",
    ),
];

/// Safe fallback handlers at their canonical addresses.
const FALLBACK_HANDLERS: &[(Address, &str)] = &[
    (
        address!("f48f2B2d2a534e402487b3ee7C18c33Aec0Fe5e4"),
        "1.3.0",
    ),
    (
        address!("017062a1dE2FE6b99BE3d9d37841FeD19F573804"),
        "1.3.0",
    ),
    (
        address!("fd0732Dc9E303f09fCEf3a7388Ad10A83459Ec99"),
        "1.4.1",
    ),
];

/// The Safe library deployed at `address`, if it is one.
pub fn safe_library(address: Address) -> Option<SafeLibrary> {
    LIBRARIES
        .iter()
        .find(|(a, _, _)| *a == address)
        .map(|(_, l, _)| *l)
}

/// The Safe libraries a chain has: the ones at the canonical addresses ([`safe_library`]) and
/// the batch libraries the chain's own deployment data names (a chain's configuration knows
/// them; this layer is only handed the addresses). Cheap to clone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SafeLibraries {
    chain: std::sync::Arc<Vec<(Address, SafeLibrary)>>,
}

impl SafeLibraries {
    /// The canonical libraries and the chain's `MultiSend` and `MultiSendCallOnly` deployments.
    pub fn new(
        multi_send: impl IntoIterator<Item = Address>,
        multi_send_call_only: impl IntoIterator<Item = Address>,
    ) -> SafeLibraries {
        let chain = multi_send
            .into_iter()
            .map(|a| (a, SafeLibrary::MultiSend))
            .chain(
                multi_send_call_only
                    .into_iter()
                    .map(|a| (a, SafeLibrary::MultiSendCallOnly)),
            )
            .collect();
        SafeLibraries {
            chain: std::sync::Arc::new(chain),
        }
    }

    /// The Safe library deployed at `address` on this chain, if it is one.
    pub fn get(&self, address: Address) -> Option<SafeLibrary> {
        self.chain
            .iter()
            .find(|(a, _)| *a == address)
            .map(|(_, l)| *l)
            .or_else(|| safe_library(address))
    }

    /// Whether `address` is a `MultiSend` or `MultiSendCallOnly` of this chain.
    pub fn is_batch(&self, address: Address) -> bool {
        matches!(
            self.get(address),
            Some(SafeLibrary::MultiSend | SafeLibrary::MultiSendCallOnly)
        )
    }
}

/// The Safe version of the singleton at `address`, if it is a known one.
pub fn known_singleton(address: Address) -> Option<&'static str> {
    SINGLETONS
        .iter()
        .find(|(a, _)| *a == address)
        .map(|(_, v)| *v)
}

/// Whether `address` is a known Safe fallback handler.
pub fn known_fallback_handler(address: Address) -> bool {
    FALLBACK_HANDLERS.iter().any(|(a, _)| *a == address)
}

/// What the catalog makes of a call's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "function", rename_all = "snake_case")]
pub enum Function {
    /// No data: a plain transfer of native value.
    None,
    /// ERC-20 `transfer`.
    Transfer {
        #[serde(rename = "recipient")]
        to: Address,
        #[serde(serialize_with = "decimal")]
        amount: U256,
    },
    /// ERC-20 `transferFrom` or ERC-721 `transferFrom` (same selector: the logs tell which).
    TransferFrom {
        from: Address,
        #[serde(rename = "recipient")]
        to: Address,
        #[serde(serialize_with = "decimal")]
        amount: U256,
    },
    /// ERC-20 `approve` / `increaseAllowance` (the amount added, for the latter).
    Approve {
        spender: Address,
        #[serde(serialize_with = "decimal", rename = "allowance")]
        amount: U256,
        increase: bool,
    },
    /// ERC-721 `safeTransferFrom` (with or without data).
    NftTransfer {
        from: Address,
        #[serde(rename = "recipient")]
        to: Address,
        #[serde(serialize_with = "decimal")]
        token_id: U256,
    },
    /// ERC-1155 `safeTransferFrom` / `safeBatchTransferFrom`.
    MultiTokenTransfer {
        from: Address,
        #[serde(rename = "recipient")]
        to: Address,
        #[serde(serialize_with = "decimals")]
        ids: Vec<U256>,
        #[serde(serialize_with = "decimals")]
        amounts: Vec<U256>,
    },
    /// `setApprovalForAll` (ERC-721 and ERC-1155).
    SetApprovalForAll { operator: Address, approved: bool },
    /// A `multiSend(bytes)` batch; its calls follow as children.
    MultiSend { calls: usize },
    /// A module's `execTransactionFromModule[ReturnData]` on a Safe.
    ExecFromModule,
    /// A `multiSend(bytes)` whose payload does not unpack.
    MalformedBatch { reason: String },
    /// A selector the catalog does not know.
    Unknown { selector: String },
}

fn decimals<S: serde::Serializer>(v: &[U256], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|x| x.to_string()))
}

impl Function {
    /// A short name for tables and messages.
    pub fn name(&self) -> String {
        match self {
            Function::None => "—".into(),
            Function::Transfer { .. } => "transfer".into(),
            Function::TransferFrom { .. } => "transferFrom".into(),
            Function::Approve {
                increase: false, ..
            } => "approve".into(),
            Function::Approve { increase: true, .. } => "increaseAllowance".into(),
            Function::NftTransfer { .. } => "safeTransferFrom".into(),
            Function::MultiTokenTransfer { .. } => "safeTransferFrom (ERC-1155)".into(),
            Function::SetApprovalForAll { .. } => "setApprovalForAll".into(),
            Function::MultiSend { .. } => "multiSend".into(),
            Function::ExecFromModule => "execTransactionFromModule".into(),
            Function::MalformedBatch { .. } => "multiSend (malformed)".into(),
            Function::Unknown { selector } => selector.clone(),
        }
    }
}

/// One call a Safe made (or would make), flattened out of its batches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Call {
    /// Where the call sits: `0` is the execution's own call; `0.2` the third call of the batch
    /// it delegatecalled; `0.2.1` a call of a batch nested in that one.
    pub path: String,
    pub to: Address,
    #[serde(serialize_with = "decimal")]
    pub value: U256,
    pub operation: u8,
    #[serde(flatten)]
    pub function: Function,
}

impl Call {
    /// Whether the Safe runs the target's code as itself.
    pub fn is_delegatecall(&self) -> bool {
        self.operation == OPERATION_DELEGATECALL
    }

    /// Whether this call only unpacked a batch (its children are the calls that happened).
    pub fn is_batch(&self) -> bool {
        matches!(self.function, Function::MultiSend { .. })
    }
}

/// Flattens the call a Safe made — `to`, `value`, `data`, `operation` — into the calls that
/// happened as the Safe: the call itself and, when it delegatecalls a batch (a known
/// MultiSend deployment, or any contract whose data decodes as `multiSend(bytes)` with a
/// well-formed payload), every call of the batch, depth first, in order.
pub fn flatten(to: Address, value: U256, data: &[u8], operation: u8) -> Vec<Call> {
    let mut out = Vec::new();
    push_call(&mut out, "0".to_string(), to, value, data, operation, 0);
    out
}

fn push_call(
    out: &mut Vec<Call>,
    path: String,
    to: Address,
    value: U256,
    data: &[u8],
    operation: u8,
    depth: usize,
) {
    // A batch runs as the Safe only when delegatecalled; a plain call to MultiSend runs its
    // calls as the MultiSend contract (it holds nothing of the Safe's).
    let batch = (operation == OPERATION_DELEGATECALL && depth < MAX_DEPTH)
        .then(|| ICalls::multiSendCall::abi_decode(data).ok())
        .flatten();
    let Some(batch) = batch else {
        out.push(Call {
            path,
            to,
            value,
            operation,
            function: function(data),
        });
        return;
    };
    match unpack(&batch.transactions) {
        Ok(items) => {
            out.push(Call {
                path: path.clone(),
                to,
                value,
                operation,
                function: Function::MultiSend { calls: items.len() },
            });
            for (i, item) in items.into_iter().enumerate() {
                push_call(
                    out,
                    format!("{path}.{i}"),
                    item.to,
                    item.value,
                    &item.data,
                    item.operation,
                    depth + 1,
                );
            }
        }
        Err(reason) => out.push(Call {
            path,
            to,
            value,
            operation,
            function: Function::MalformedBatch { reason },
        }),
    }
}

/// One item of a `multiSend` payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchItem {
    pub operation: u8,
    pub to: Address,
    pub value: U256,
    pub data: Bytes,
}

/// Unpacks a `multiSend` payload: each item is `uint8 operation, address to, uint256 value,
/// uint256 dataLength, bytes data`, packed (`abi.encodePacked`), back to back.
pub fn unpack(mut payload: &[u8]) -> Result<Vec<BatchItem>, String> {
    const HEAD: usize = 1 + 20 + 32 + 32;
    let mut items = Vec::new();
    while !payload.is_empty() {
        let n = items.len();
        if payload.len() < HEAD {
            return Err(format!(
                "item {n}: {} bytes left, a header needs {HEAD}",
                payload.len()
            ));
        }
        let operation = payload[0];
        if operation > OPERATION_DELEGATECALL {
            return Err(format!("item {n}: operation {operation}"));
        }
        let to = Address::from_slice(&payload[1..21]);
        let value = U256::from_be_slice(&payload[21..53]);
        let len = U256::from_be_slice(&payload[53..85]);
        let rest = &payload[HEAD..];
        let len = usize::try_from(len)
            .ok()
            .filter(|l| *l <= rest.len())
            .ok_or_else(|| {
                format!(
                    "item {n}: data length {len} past the payload's end ({} bytes left)",
                    rest.len()
                )
            })?;
        items.push(BatchItem {
            operation,
            to,
            value,
            data: Bytes::copy_from_slice(&rest[..len]),
        });
        payload = &rest[len..];
    }
    Ok(items)
}

/// Decodes a call's data by selector.
pub fn function(data: &[u8]) -> Function {
    if data.is_empty() {
        return Function::None;
    }
    let Some(selector) = data.get(..4) else {
        return Function::Unknown {
            selector: alloy::hex::encode_prefixed(data),
        };
    };
    let selector: [u8; 4] = selector.try_into().expect("four bytes");
    let decoded = match selector {
        ICalls::transferCall::SELECTOR => {
            ICalls::transferCall::abi_decode(data)
                .ok()
                .map(|c| Function::Transfer {
                    to: c.to,
                    amount: c.amount,
                })
        }
        ICalls::transferFromCall::SELECTOR => {
            ICalls::transferFromCall::abi_decode(data)
                .ok()
                .map(|c| Function::TransferFrom {
                    from: c.from,
                    to: c.to,
                    amount: c.amount,
                })
        }
        ICalls::approveCall::SELECTOR => {
            ICalls::approveCall::abi_decode(data)
                .ok()
                .map(|c| Function::Approve {
                    spender: c.spender,
                    amount: c.amount,
                    increase: false,
                })
        }
        ICalls::increaseAllowanceCall::SELECTOR => ICalls::increaseAllowanceCall::abi_decode(data)
            .ok()
            .map(|c| Function::Approve {
                spender: c.spender,
                amount: c.addedValue,
                increase: true,
            }),
        ICalls::safeTransferFromCall::SELECTOR => ICalls::safeTransferFromCall::abi_decode(data)
            .ok()
            .map(|c| Function::NftTransfer {
                from: c.from,
                to: c.to,
                token_id: c.tokenId,
            }),
        INftCalls::safeTransferFromCall::SELECTOR => {
            INftCalls::safeTransferFromCall::abi_decode(data)
                .ok()
                .map(|c| Function::NftTransfer {
                    from: c.from,
                    to: c.to,
                    token_id: c.tokenId,
                })
        }
        IMultiTokenCalls::safeTransferFromCall::SELECTOR => {
            IMultiTokenCalls::safeTransferFromCall::abi_decode(data)
                .ok()
                .map(|c| Function::MultiTokenTransfer {
                    from: c.from,
                    to: c.to,
                    ids: vec![c.id],
                    amounts: vec![c.value],
                })
        }
        IMultiTokenCalls::safeBatchTransferFromCall::SELECTOR => {
            IMultiTokenCalls::safeBatchTransferFromCall::abi_decode(data)
                .ok()
                .map(|c| Function::MultiTokenTransfer {
                    from: c.from,
                    to: c.to,
                    ids: c.ids,
                    amounts: c.values,
                })
        }
        ICalls::setApprovalForAllCall::SELECTOR => ICalls::setApprovalForAllCall::abi_decode(data)
            .ok()
            .map(|c| Function::SetApprovalForAll {
                operator: c.operator,
                approved: c.approved,
            }),
        ICalls::multiSendCall::SELECTOR => {
            ICalls::multiSendCall::abi_decode(data)
                .ok()
                .map(|c| match unpack(&c.transactions) {
                    Ok(items) => Function::MultiSend { calls: items.len() },
                    Err(reason) => Function::MalformedBatch { reason },
                })
        }
        ICalls::execTransactionFromModuleCall::SELECTOR
        | ICalls::execTransactionFromModuleReturnDataCall::SELECTOR => {
            module_call(data).map(|_| Function::ExecFromModule)
        }
        _ => None,
    };
    decoded.unwrap_or_else(|| Function::Unknown {
        selector: alloy::hex::encode_prefixed(selector),
    })
}

/// The call a module asked a Safe to make, from the module's call data to the Safe
/// (`execTransactionFromModule[ReturnData](to, value, data, operation)`).
pub fn module_call(data: &[u8]) -> Option<(Address, U256, Bytes, u8)> {
    if let Ok(c) = ICalls::execTransactionFromModuleCall::abi_decode(data) {
        return Some((c.to, c.value, c.data, c.operation));
    }
    ICalls::execTransactionFromModuleReturnDataCall::abi_decode(data)
        .ok()
        .map(|c| (c.to, c.value, c.data, c.operation))
}

/// Encodes a `multiSend` payload (the inverse of [`unpack`]), for tests and drafts.
pub fn pack(items: &[BatchItem]) -> Bytes {
    let mut out = Vec::new();
    for item in items {
        out.push(item.operation);
        out.extend_from_slice(item.to.as_slice());
        out.extend_from_slice(&item.value.to_be_bytes::<32>());
        out.extend_from_slice(&U256::from(item.data.len()).to_be_bytes::<32>());
        out.extend_from_slice(&item.data);
    }
    out.into()
}

/// `multiSend(payload)` call data.
pub fn multi_send_data(items: &[BatchItem]) -> Bytes {
    ICalls::multiSendCall {
        transactions: pack(items),
    }
    .abi_encode()
    .into()
}

/// ERC-20 `transfer(to, amount)` call data.
pub fn transfer_data(to: Address, amount: U256) -> Bytes {
    ICalls::transferCall { to, amount }.abi_encode().into()
}

/// ERC-20 `approve(spender, amount)` call data.
pub fn approve_data(spender: Address, amount: U256) -> Bytes {
    ICalls::approveCall { spender, amount }.abi_encode().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(operation: u8, to: u8, value: u64, data: Bytes) -> BatchItem {
        BatchItem {
            operation,
            to: Address::repeat_byte(to),
            value: U256::from(value),
            data,
        }
    }

    #[test]
    fn a_batch_flattens_into_its_calls_nested_batches_included() {
        let token = 0x70;
        let inner = multi_send_data(&[
            item(0, 0xb1, 1, Bytes::new()),
            item(
                0,
                token,
                0,
                transfer_data(Address::repeat_byte(0xb2), U256::from(5)),
            ),
        ]);
        let outer = multi_send_data(&[
            item(0, 0xa1, 6, Bytes::new()),
            item(1, 0x55, 0, inner),
            item(
                0,
                token,
                0,
                approve_data(Address::repeat_byte(0xee), U256::MAX),
            ),
        ]);
        let calls = flatten(Address::repeat_byte(0x55), U256::ZERO, &outer, 1);
        let paths: Vec<&str> = calls.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["0", "0.0", "0.1", "0.1.0", "0.1.1", "0.2"]);
        assert_eq!(calls[0].function, Function::MultiSend { calls: 3 });
        assert_eq!(calls[1].value, U256::from(6));
        assert_eq!(calls[2].function, Function::MultiSend { calls: 2 });
        assert_eq!(
            calls[4].function,
            Function::Transfer {
                to: Address::repeat_byte(0xb2),
                amount: U256::from(5)
            }
        );
        assert!(matches!(
            calls[5].function,
            Function::Approve { amount, increase: false, .. } if amount == U256::MAX
        ));
        // The same data sent with CALL is not the Safe's batch.
        let called = flatten(Address::repeat_byte(0x55), U256::ZERO, &outer, 0);
        assert_eq!(called.len(), 1);
        assert_eq!(called[0].function, Function::MultiSend { calls: 3 });
    }

    #[test]
    fn malformed_payloads_are_named_not_unpacked() {
        let good = pack(&[item(0, 0xa1, 6, Bytes::from(vec![1, 2, 3]))]);
        assert_eq!(unpack(&good).unwrap().len(), 1);
        assert!(unpack(&good[..good.len() - 1])
            .unwrap_err()
            .contains("past the payload's end"));
        assert!(unpack(&good[..10]).unwrap_err().contains("header"));
        let mut bad_op = good.to_vec();
        bad_op[0] = 2;
        assert!(unpack(&bad_op).unwrap_err().contains("operation 2"));
        let data = ICalls::multiSendCall {
            transactions: good[..good.len() - 1].to_vec().into(),
        }
        .abi_encode();
        let calls = flatten(Address::ZERO, U256::ZERO, &data, 1);
        assert_eq!(calls.len(), 1);
        assert!(matches!(calls[0].function, Function::MalformedBatch { .. }));
    }

    #[test]
    fn functions_decode_by_selector() {
        assert_eq!(function(&[]), Function::None);
        assert_eq!(
            function(&[0xde, 0xad]),
            Function::Unknown {
                selector: "0xdead".into()
            }
        );
        assert_eq!(
            function(&[0xde, 0xad, 0xbe, 0xef, 0]),
            Function::Unknown {
                selector: "0xdeadbeef".into()
            }
        );
        let nft = INftCalls::safeTransferFromCall {
            from: Address::repeat_byte(1),
            to: Address::repeat_byte(2),
            tokenId: U256::from(7),
            data: Bytes::new(),
        }
        .abi_encode();
        assert_eq!(
            function(&nft),
            Function::NftTransfer {
                from: Address::repeat_byte(1),
                to: Address::repeat_byte(2),
                token_id: U256::from(7)
            }
        );
        let module = ICalls::execTransactionFromModuleCall {
            to: Address::repeat_byte(3),
            value: U256::from(9),
            data: Bytes::new(),
            operation: 0,
        }
        .abi_encode();
        assert_eq!(function(&module), Function::ExecFromModule);
        assert_eq!(
            module_call(&module),
            Some((Address::repeat_byte(3), U256::from(9), Bytes::new(), 0))
        );
        // A truncated known call is unknown, never a panic.
        assert!(matches!(function(&module[..40]), Function::Unknown { .. }));
    }

    #[test]
    fn a_chains_own_batch_deployments_are_known_beside_the_canonical_ones() {
        let own = Address::repeat_byte(7);
        let libraries = SafeLibraries::new([own], []);
        assert_eq!(libraries.get(own), Some(SafeLibrary::MultiSend));
        assert!(libraries.is_batch(own));
        assert!(libraries.is_batch(address!("A238CBeb142c10Ef7Ad8442C6D1f9E89e07e7761")));
        assert!(!SafeLibraries::default().is_batch(own));
        assert_eq!(
            SafeLibraries::default().get(address!("7cbB62EaA69F79e6873cD1ecB2392971036cFAa4")),
            Some(SafeLibrary::CreateCall)
        );
    }

    #[test]
    fn canonical_deployments_are_known() {
        assert_eq!(
            safe_library(address!("9641d764fc13c8B624c04430C7356C1C7C8102e2")),
            Some(SafeLibrary::MultiSendCallOnly)
        );
        assert_eq!(safe_library(Address::repeat_byte(1)), None);
        assert_eq!(
            known_singleton(address!("41675C099F32341bf84BFc5382aF534df5C7461a")),
            Some("1.4.1")
        );
        assert!(known_fallback_handler(address!(
            "fd0732Dc9E303f09fCEf3a7388Ad10A83459Ec99"
        )));
    }
}
