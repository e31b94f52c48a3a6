//! The chain log decoder and the call-data decoders: what a node (or whoever answers as one)
//! sends the daemon.
//!
//! The input is structured with `arbitrary`: topics drawn from the catalog's topics or at
//! random, data as 32-byte words (small integers, offsets and lengths among them, so ABI
//! decoding gets past its heads) or raw bytes, and call data for the Safe `execTransaction`,
//! `multiSend` batch and module-call decoders.
//!
//! Properties: no panic; an RPC log without its chain position is refused by name and one with
//! it decodes exactly as its topics and data; no topic0 is `Anonymous`, one outside the catalog
//! is `UnknownTopic`, a layout error names its topic0; a decoded event has a kind, a category
//! and a JSON form; a `multiSend` payload unpacks to items that pack back to the same bytes,
//! and packed items unpack to themselves; a flattened call starts with the call itself, has
//! one unique path per call, expands only a delegatecalled batch and never nests past the
//! depth limit; `execTransaction` data decodes to the arguments it was encoded from; recovered
//! signers are one per required signature.
#![no_main]

use std::collections::HashSet;
use std::sync::OnceLock;

use alloy::primitives::{Address, Bytes, LogData, B256, U256};
use alloy::sol_types::SolCall;
use arbitrary::Arbitrary;
use groupstate::abi::v141::SafeL2;
use groupstate::decode::calls::{self, BatchItem};
use groupstate::decode::{self, DecodeError};
use groupstate::observe::signers;
use libfuzzer_sys::fuzz_target;

alloy::sol! {
    /// The calls the target builds call data for (the decoder's own bindings are private).
    interface IBuild {
        function multiSend(bytes transactions);
        function execTransactionFromModule(address to, uint256 value, bytes data, uint8 operation) returns (bool);
    }
}

/// Every topic0 the decoder knows, sorted: Safe, governance, token and proxy events.
fn known_topics() -> &'static [B256] {
    static TOPICS: OnceLock<Vec<B256>> = OnceLock::new();
    TOPICS.get_or_init(|| {
        let mut v: Vec<B256> = decode::safe::topics()
            .into_iter()
            .chain(decode::governance::topics())
            .chain(decode::token::topics())
            .chain(decode::proxy::topics())
            .chain(decode::catalog_topics())
            .chain(std::iter::once(decode::TRANSFER_TOPIC))
            .collect();
        v.sort();
        v.dedup();
        v
    })
}

#[derive(Arbitrary, Debug)]
enum Topic {
    /// One of the catalog's topics (index modulo their number).
    Known(u8),
    /// An address-shaped topic (indexed `address`), the common indexed parameter.
    Address([u8; 20]),
    /// A small integer (indexed `uint256` or `bool`).
    Small(u64),
    Random([u8; 32]),
}

impl Topic {
    fn value(&self) -> B256 {
        match self {
            Topic::Known(i) => {
                let known = known_topics();
                known[usize::from(*i) % known.len()]
            }
            Topic::Address(a) => Address::from(*a).into_word(),
            Topic::Small(n) => B256::from(U256::from(*n)),
            Topic::Random(b) => B256::from(*b),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Word {
    Small(u16),
    Address([u8; 20]),
    Full([u8; 32]),
}

#[derive(Arbitrary, Debug)]
enum Data {
    Words(Vec<Word>),
    Raw(Vec<u8>),
}

impl Data {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Data::Words(words) => words
                .iter()
                .flat_map(|w| match w {
                    Word::Small(n) => U256::from(*n).to_be_bytes::<32>(),
                    Word::Address(a) => Address::from(*a).into_word().0,
                    Word::Full(b) => *b,
                })
                .collect(),
            Data::Raw(b) => b.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct RpcLog {
    address: [u8; 20],
    topics: Vec<Topic>,
    data: Data,
    block_number: Option<u64>,
    block_hash: Option<[u8; 32]>,
    tx_hash: Option<[u8; 32]>,
    tx_index: Option<u64>,
    log_index: Option<u64>,
    block_timestamp: Option<u64>,
}

#[derive(Arbitrary, Debug)]
struct Item {
    delegatecall: bool,
    to: [u8; 20],
    value: u64,
    data: Data,
}

#[derive(Arbitrary, Debug)]
enum CallData {
    /// Arbitrary call data.
    Raw(Data),
    /// A `multiSend(bytes)` of the items, or of raw bytes as its payload.
    MultiSend(Vec<Item>),
    MultiSendRaw(Vec<u8>),
    /// A module's `execTransactionFromModule` of a call.
    Module(Item),
}

impl CallData {
    fn bytes(&self) -> Vec<u8> {
        match self {
            CallData::Raw(d) => d.bytes(),
            CallData::MultiSend(items) => {
                calls::multi_send_data(&items.iter().map(batch_item).collect::<Vec<_>>()).to_vec()
            }
            CallData::MultiSendRaw(payload) => IBuild::multiSendCall {
                transactions: payload.clone().into(),
            }
            .abi_encode(),
            CallData::Module(item) => IBuild::execTransactionFromModuleCall {
                to: item.to.into(),
                value: U256::from(item.value),
                data: item.data.bytes().into(),
                operation: u8::from(item.delegatecall),
            }
            .abi_encode(),
        }
    }
}

fn batch_item(item: &Item) -> BatchItem {
    BatchItem {
        operation: u8::from(item.delegatecall),
        to: item.to.into(),
        value: U256::from(item.value),
        data: item.data.bytes().into(),
    }
}

#[derive(Arbitrary, Debug)]
struct Exec {
    to: [u8; 20],
    value: [u8; 32],
    data: CallData,
    operation: u8,
    safe_tx_gas: u64,
    gas_token: [u8; 20],
    signatures: Vec<u8>,
    threshold: u8,
    safe_tx_hash: [u8; 32],
}

#[derive(Arbitrary, Debug)]
struct Input {
    log: RpcLog,
    exec: Exec,
    batch: Vec<Item>,
    payload: Vec<u8>,
}

fuzz_target!(|input: Input| {
    check_log(&input.log);
    check_batches(&input.batch, &input.payload);
    check_exec(&input.exec);
});

fn check_log(l: &RpcLog) {
    let topics: Vec<B256> = l.topics.iter().map(Topic::value).collect();
    let data = l.data.bytes();

    let event = decode::decode_event(&topics, &data);
    match (&event, topics.first()) {
        (Err(DecodeError::Anonymous), None) => {}
        (_, None) => panic!("a log without topics decoded as {event:?}"),
        (Err(DecodeError::UnknownTopic(t)), Some(t0)) => {
            assert_eq!(t, t0);
            assert!(
                known_topics().binary_search(t0).is_err(),
                "a catalog topic is unknown"
            );
        }
        (_, Some(t0)) => {
            assert!(
                known_topics().binary_search(t0).is_ok(),
                "{t0} is not in the catalog"
            );
            match &event {
                Ok(e) => {
                    let _ = (e.kind(), e.category(), e.parties());
                    serde_json::to_value(e).expect("a decoded event has a JSON form");
                }
                Err(DecodeError::BadLayout {
                    topic0,
                    topics: n,
                    data_len,
                    ..
                }) => {
                    assert_eq!((topic0, *n, *data_len), (t0, topics.len(), data.len()));
                }
                Err(e) => panic!("unexpected error for a catalog topic: {e}"),
            }
        }
    }

    // The same log as the RPC hands it over.
    let rpc = alloy::rpc::types::Log {
        inner: alloy::primitives::Log {
            address: l.address.into(),
            data: LogData::new_unchecked(topics.clone(), data.clone().into()),
        },
        block_hash: l.block_hash.map(B256::from),
        block_number: l.block_number,
        block_timestamp: l.block_timestamp,
        transaction_hash: l.tx_hash.map(B256::from),
        transaction_index: l.tx_index,
        log_index: l.log_index,
        removed: false,
    };
    let complete = l.block_number.is_some()
        && l.block_hash.is_some()
        && l.tx_hash.is_some()
        && l.tx_index.is_some()
        && l.log_index.is_some();
    match decode::decode_log(7, &rpc) {
        Ok(d) => {
            assert!(complete, "a log without its position decoded");
            assert_eq!(d.address, Address::from(l.address));
            assert_eq!(d.topics, topics);
            assert_eq!(d.data.as_ref(), data.as_slice());
            assert_eq!(d.event, event, "decode_log and decode_event disagree");
            assert_eq!(d.evidence.block_number, l.block_number.unwrap());
            assert_eq!(d.evidence.log_index, l.log_index.unwrap());
        }
        Err(DecodeError::MissingField { .. }) => assert!(!complete, "a complete log refused"),
        Err(e) => panic!("decode_log failed otherwise than by a missing field: {e}"),
    }
}

fn check_batches(batch: &[Item], payload: &[u8]) {
    // Items pack and unpack to themselves.
    let items: Vec<BatchItem> = batch.iter().map(batch_item).collect();
    let packed = calls::pack(&items);
    assert_eq!(
        calls::unpack(&packed).as_ref(),
        Ok(&items),
        "packed items do not unpack"
    );

    // A payload that unpacks packs back to the same bytes.
    if let Ok(unpacked) = calls::unpack(payload) {
        assert_eq!(
            calls::pack(&unpacked).as_ref(),
            payload,
            "unpacked items pack otherwise"
        );
    }
}

fn check_flatten(to: Address, value: U256, data: &[u8], operation: u8) {
    let flat = calls::flatten(to, value, data, operation);
    let first = flat.first().expect("a flattened call has the call itself");
    assert_eq!(
        (first.path.as_str(), first.to, first.value),
        ("0", to, value)
    );
    assert_eq!(first.operation, operation);
    let mut paths = HashSet::new();
    for call in &flat {
        assert!(paths.insert(call.path.as_str()), "path {} twice", call.path);
        // `0` and at most eight nested batches.
        assert!(
            call.path.split('.').count() <= 9,
            "nested too deep: {}",
            call.path
        );
        let _ = call.function.name();
    }
    if operation != calls::OPERATION_DELEGATECALL {
        assert_eq!(flat.len(), 1, "a plain call was expanded as a batch");
    }
    if let calls::Function::MultiSend { calls: n } = first.function {
        if operation == calls::OPERATION_DELEGATECALL {
            assert!(
                flat.len() > n,
                "a batch of {n} flattened to {} calls",
                flat.len()
            );
        }
    }
    let _ = calls::function(data);
    if let Some((to, value, data, operation)) = calls::module_call(data) {
        let _ = calls::flatten(to, value, &data, operation);
    }
}

fn check_exec(e: &Exec) {
    let data = e.data.bytes();
    check_flatten(
        e.to.into(),
        U256::from_be_bytes(e.value),
        &data,
        e.operation,
    );

    let call = SafeL2::execTransactionCall {
        to: e.to.into(),
        value: U256::from_be_bytes(e.value),
        data: data.clone().into(),
        operation: e.operation,
        safeTxGas: U256::from(e.safe_tx_gas),
        baseGas: U256::ZERO,
        gasPrice: U256::from(1),
        gasToken: e.gas_token.into(),
        refundReceiver: Address::ZERO,
        signatures: e.signatures.clone().into(),
    };
    let encoded = call.abi_encode();
    let decoded =
        signers::decode_exec_transaction(&encoded).expect("encoded execTransaction decodes");
    assert_eq!(decoded.to, Address::from(e.to));
    assert_eq!(decoded.data, Bytes::from(data.clone()));
    assert_eq!(decoded.operation, e.operation);
    assert_eq!(decoded.safe_tx_gas, U256::from(e.safe_tx_gas));
    assert_eq!(decoded.gas_token, Address::from(e.gas_token));
    assert_eq!(decoded.signatures.as_ref(), e.signatures.as_slice());
    // Raw bytes as call data: whatever decodes is an `execTransaction`.
    if let Some(d) = signers::decode_exec_transaction(&data) {
        assert_eq!(&data[..4], signers::EXEC_TRANSACTION_SELECTOR.as_slice());
        let _ = calls::flatten(d.to, d.value, &d.data, d.operation);
    }

    // At most a few signatures: each ECDSA part costs a recovery.
    let threshold = usize::from(e.threshold % 5);
    match signers::recover_signers(B256::from(e.safe_tx_hash), &e.signatures, threshold) {
        Ok(found) => assert_eq!(found.len(), threshold, "not one signer per signature"),
        Err(err) => {
            if let Some(i) = err.index() {
                assert!(i < threshold, "signature {i} blamed of {threshold}");
            }
            assert!(err.safe_code().starts_with("GS"));
        }
    }
}
