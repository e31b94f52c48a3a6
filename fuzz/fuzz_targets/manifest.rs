//! The group manifest and covenant parsers: YAML or JSON text from an API client or a file.
//!
//! Properties: no panic; a document that parses and validates has a canonical JSON form that
//! parses (by every reader: the canonical reader, the YAML/JSON reader, serde) back to the same
//! value, with the same canonical bytes and hash; a manifest differs from itself in nothing. The
//! same for covenants, covenant finding items, and owner signature lists (no panic).
#![no_main]

use groupstate::manifest::covenant::{blocks_in, Clause, Covenant, CovenantItem};
use groupstate::manifest::{diff, ratify, Manifest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    if let Ok(m) = Manifest::parse(text) {
        let json = m.canonical_json();
        let again = Manifest::from_canonical_json(&json)
            .unwrap_or_else(|e| panic!("canonical JSON does not read back: {e}\n{json}"));
        assert_eq!(again, m, "canonical JSON reads back to another manifest");
        assert_eq!(again.canonical_json(), json, "canonical JSON is not stable");
        assert_eq!(again.hash(), m.hash());
        let reparsed = Manifest::parse(&json)
            .unwrap_or_else(|e| panic!("canonical JSON does not parse as a document: {e}\n{json}"));
        assert_eq!(
            reparsed, m,
            "the document reader reads canonical JSON differently"
        );
        let deserialized: Manifest = serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("canonical JSON does not deserialize: {e}\n{json}"));
        assert_eq!(deserialized, m, "serde reads canonical JSON differently");
        assert!(
            diff(&m, &again).is_empty(),
            "a manifest differs from itself"
        );
        // What the daemon asks of every valid manifest must not panic either.
        let _ = m.watched_addresses();
        let _ = m.declared_contracts();
        let _ = m.declared_implementations();
    }

    if let Ok(c) = Covenant::parse(text) {
        let json = c.canonical_json();
        let again = Covenant::parse(&json)
            .unwrap_or_else(|e| panic!("canonical JSON does not read back: {e}\n{json}"));
        assert_eq!(again, c, "canonical JSON reads back to another covenant");
        assert_eq!(again.canonical_json(), json, "canonical JSON is not stable");
        assert_eq!(again.hash(), c.hash());
        for clause in &c.terms {
            let _ = clause.to_string();
            // A deadline in days is counted in seconds, then in blocks, by the covenant checks.
            if let Clause::ReratifiedWithin { days, .. } = clause {
                let secs = days.checked_mul(86_400);
                assert!(
                    secs.is_some(),
                    "a deadline of {days} days overflows in seconds"
                );
                assert!(blocks_in(secs.unwrap_or(0), 1) >= 1);
            }
        }
        for block_time_ms in [1, 12_000] {
            assert!(
                c.period_blocks(block_time_ms) >= 1,
                "a statement period of {} s is {} blocks of {block_time_ms} ms",
                c.statement_period,
                c.period_blocks(block_time_ms)
            );
        }
    }

    if let Some(item) = CovenantItem::parse(text) {
        assert_eq!(
            CovenantItem::parse(&item.key()).as_ref(),
            Some(&item),
            "a covenant item does not read back from its key"
        );
    }

    if let Ok(signatures) = ratify::parse_signatures(text) {
        assert!(
            signatures.len() <= ratify::MAX_SIGNATURES,
            "more signatures than the limit"
        );
    }
});
