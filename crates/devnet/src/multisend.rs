//! MultiSend batches: the packed encoding `multiSend(bytes)` takes, the Safe transaction that
//! delegatecalls a MultiSend deployment with it, and nested batches.
//!
//! Invariant: [`pack`] writes exactly what Safe's `MultiSend` and `MultiSendCallOnly` (1.3.0 and
//! 1.4.1, which agree) read: per item `uint8 operation || address to || uint256 value || uint256
//! dataLength || bytes data`, with no padding between items.

use alloy::{
    primitives::{Address, Bytes, U256},
    sol_types::SolCall,
};

use super::{
    bindings::IMultiSend,
    safe::SafeContracts,
    safe_tx::{SafeTx, CALL, DELEGATE_CALL},
};

/// One transaction in a MultiSend batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiSendItem {
    /// [`CALL`] or [`DELEGATE_CALL`] (`MultiSendCallOnly` reverts on the latter).
    pub operation: u8,
    /// Target.
    pub to: Address,
    /// Wei sent with the call (taken from the Safe's balance).
    pub value: U256,
    /// Call data.
    pub data: Bytes,
}

impl MultiSendItem {
    /// A `CALL` of `to` with `value` and `data`.
    pub fn call(to: Address, value: U256, data: impl Into<Bytes>) -> Self {
        Self {
            operation: CALL,
            to,
            value,
            data: data.into(),
        }
    }

    /// A plain payment of `value` wei to `to`.
    pub fn pay(to: Address, value: U256) -> Self {
        Self::call(to, value, Bytes::new())
    }

    /// A `CALL` of `to` with an encoded Solidity call.
    pub fn sol_call(to: Address, call: impl SolCall) -> Self {
        Self::call(to, U256::ZERO, call.abi_encode())
    }

    /// A `DELEGATECALL` of `to` with `data`.
    pub fn delegate_call(to: Address, data: impl Into<Bytes>) -> Self {
        Self {
            operation: DELEGATE_CALL,
            to,
            value: U256::ZERO,
            data: data.into(),
        }
    }

    /// A nested batch: a `DELEGATECALL` of the MultiSend at `multi_send` with `items`. Only a
    /// full `MultiSend` (not `MultiSendCallOnly`) accepts this item; the nested batch runs in
    /// the Safe's context, like the outer one.
    pub fn nested(multi_send: Address, items: &[MultiSendItem]) -> Self {
        Self::delegate_call(multi_send, multi_send_calldata(items))
    }
}

/// The packed `transactions` argument of `multiSend(bytes)`.
pub fn pack(items: &[MultiSendItem]) -> Vec<u8> {
    pack_raw(
        items
            .iter()
            .map(|item| (item.operation, item.to, item.value, &item.data[..])),
    )
}

/// [`pack`] over borrowed parts, so bulk callers need not build an item per call.
pub(crate) fn pack_raw<'a>(
    items: impl IntoIterator<Item = (u8, Address, U256, &'a [u8])>,
) -> Vec<u8> {
    let mut packed = Vec::new();
    for (operation, to, value, data) in items {
        packed.push(operation);
        packed.extend_from_slice(to.as_slice());
        packed.extend_from_slice(&value.to_be_bytes::<32>());
        packed.extend_from_slice(&U256::from(data.len()).to_be_bytes::<32>());
        packed.extend_from_slice(data);
    }
    packed
}

/// `multiSend(pack(items))` call data.
pub fn multi_send_calldata(items: &[MultiSendItem]) -> Bytes {
    IMultiSend::multiSendCall {
        transactions: pack(items).into(),
    }
    .abi_encode()
    .into()
}

/// Which MultiSend deployment a batch goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MultiSendDeployment {
    /// Safe 1.4.1 `MultiSend` (calls and delegatecalls).
    V141,
    /// Safe 1.4.1 `MultiSendCallOnly` (calls only).
    V141CallOnly,
    /// Safe 1.3.0 `MultiSend`.
    V130,
    /// Safe 1.3.0 `MultiSendCallOnly`.
    V130CallOnly,
}

impl MultiSendDeployment {
    /// Every deployment, for tests that cover them all.
    pub const ALL: [MultiSendDeployment; 4] = [
        Self::V141,
        Self::V141CallOnly,
        Self::V130,
        Self::V130CallOnly,
    ];

    /// Whether this deployment refuses delegatecall items (and so nested batches).
    pub fn is_call_only(self) -> bool {
        matches!(self, Self::V141CallOnly | Self::V130CallOnly)
    }
}

impl SafeContracts {
    /// The address of a MultiSend deployment.
    pub fn multi_send(&self, deployment: MultiSendDeployment) -> Address {
        match deployment {
            MultiSendDeployment::V141 => self.multi_send_141,
            MultiSendDeployment::V141CallOnly => self.multi_send_call_only,
            MultiSendDeployment::V130 => self.multi_send_130,
            MultiSendDeployment::V130CallOnly => self.multi_send_call_only_130,
        }
    }

    /// A Safe transaction that delegatecalls `deployment` with the batch `items`, as the Safe
    /// apps' transaction builder does. Sign and execute it like any [`SafeTx`].
    pub fn multi_send_tx(
        &self,
        deployment: MultiSendDeployment,
        items: &[MultiSendItem],
    ) -> SafeTx {
        SafeTx::multi_send(self.multi_send(deployment), items)
    }
}

impl SafeTx {
    /// A delegatecall of the MultiSend (or MultiSendCallOnly) at `multi_send` with `items`.
    pub fn multi_send(multi_send: Address, items: &[MultiSendItem]) -> Self {
        SafeTx::new(multi_send, U256::ZERO, multi_send_calldata(items))
            .with_operation(DELEGATE_CALL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_items_without_padding() {
        let to = Address::repeat_byte(0xab);
        let items = [
            MultiSendItem::pay(to, U256::from(7)),
            MultiSendItem::delegate_call(to, vec![0xde, 0xad]),
        ];
        let packed = pack(&items);
        assert_eq!(packed.len(), 85 + 87);
        assert_eq!(packed[0], CALL);
        assert_eq!(&packed[1..21], to.as_slice());
        assert_eq!(packed[52], 7);
        assert!(packed[53..85].iter().all(|b| *b == 0));
        assert_eq!(packed[85], DELEGATE_CALL);
        assert_eq!(packed[85 + 84], 2);
        assert_eq!(&packed[85 + 85..], &[0xde, 0xad]);
    }

    #[test]
    fn nested_batch_round_trips() {
        let inner = [MultiSendItem::pay(Address::repeat_byte(1), U256::from(1))];
        let multi_send = Address::repeat_byte(0x55);
        let outer = MultiSendItem::nested(multi_send, &inner);
        assert_eq!(outer.operation, DELEGATE_CALL);
        assert_eq!(outer.to, multi_send);
        let decoded = IMultiSend::multiSendCall::abi_decode(&outer.data).expect("decodes");
        assert_eq!(decoded.transactions.to_vec(), pack(&inner));
    }
}
