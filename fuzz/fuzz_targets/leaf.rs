//! The verifiable log's leaf decoder: the bytes of an entry, as an auditor reads them from
//! `log export` or `GET /v1/log/entries`.
//!
//! Properties: no panic; a leaf that decodes is exactly its canonical encoding (the decoder
//! refuses every other form), which equals the reference encoding through a JSON value with
//! sorted keys, and hashes as those bytes; any leaf serde can read, in whatever form, encodes
//! to bytes that decode back to the same leaf (or are refused for their version alone).
#![no_main]

use groupstate::ledger::leaf::{canonical_json, Leaf, LeafError, LEAF_VERSION};
use groupstate::ledger::merkle;
use libfuzzer_sys::fuzz_target;

fn check_encoding(leaf: &Leaf) -> String {
    let bytes = leaf.encode();
    let value = serde_json::to_value(leaf).expect("a leaf has a JSON value");
    assert_eq!(
        bytes,
        canonical_json(&value),
        "the encoder differs from the reference"
    );
    assert_eq!(leaf.hash(), merkle::leaf_hash(bytes.as_bytes()));
    let _ = (
        leaf.kind(),
        leaf.index(),
        leaf.chain_id(),
        leaf.group(),
        leaf.block(),
    );
    let _ = leaf.position();
    bytes
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    match Leaf::decode(text) {
        Ok(leaf) => {
            let bytes = check_encoding(&leaf);
            assert_eq!(bytes, text, "a decoded leaf is not its canonical bytes");
        }
        Err(LeafError::Version(v)) => assert_ne!(v, LEAF_VERSION),
        Err(LeafError::Malformed(_) | LeafError::NotCanonical) => {}
    }

    if let Ok(leaf) = serde_json::from_str::<Leaf>(text) {
        let bytes = check_encoding(&leaf);
        match Leaf::decode(&bytes) {
            Ok(again) => assert_eq!(again, leaf, "an encoded leaf decodes to another"),
            Err(LeafError::Version(v)) => assert_ne!(v, LEAF_VERSION),
            Err(e) => panic!("an encoded leaf does not decode: {e}\n{bytes}"),
        }
    }
});
