//! The signed-note and checkpoint parsers: a checkpoint as a witness or an auditor fetches it,
//! keys from configuration, and the signed note of a covenant's compliance statement.
//!
//! Properties: no panic; a checkpoint body, a verifier key or a signing key that parses
//! re-serialises to the same bytes; a note opened with a key returns its text, a prefix of the
//! note ending in a newline; any text the key signs opens to that same text (and, as a
//! checkpoint, to the checkpoint its body parses to), while the same note under another key is
//! refused; a statement note signed for a covenant and period opens for them and not for
//! another period.
#![no_main]

use std::sync::OnceLock;

use groupstate::ledger::note::{Checkpoint, NoteError, SigningKey, VerifierKey};
use groupstate::ledger::statement;
use libfuzzer_sys::fuzz_target;

/// The signing key of Go's `golang.org/x/mod/sumdb/note` tests (public test vectors), so the
/// seeds can carry notes it signed.
const SIGNING_KEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
/// Another key, under which nothing the target signs may open.
const OTHER_KEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";

fn keys() -> &'static (SigningKey, VerifierKey, VerifierKey) {
    static KEYS: OnceLock<(SigningKey, VerifierKey, VerifierKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let signer = SigningKey::parse(SIGNING_KEY).expect("the test signing key parses");
        let verifier = signer.verifier();
        let other = VerifierKey::parse(OTHER_KEY).expect("the other test key parses");
        (signer, verifier, other)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (signer, verifier, other) = keys();

    if let Ok(c) = Checkpoint::parse_body(text) {
        assert_eq!(
            c.to_body(),
            text,
            "a checkpoint body re-serialises otherwise"
        );
    }
    if let Ok(k) = VerifierKey::parse(text) {
        assert_eq!(k.encode(), text, "a verifier key re-serialises otherwise");
    }
    if let Ok(k) = SigningKey::parse(text) {
        assert_eq!(k.encode(), text, "a signing key re-serialises otherwise");
        assert_eq!(
            VerifierKey::parse(&k.verifier().encode()).ok(),
            Some(k.verifier())
        );
    }

    // The input as a note.
    for key in [verifier, other] {
        match key.open(text) {
            Ok(body) => {
                assert!(text.starts_with(&body), "the opened text is not the note's");
                assert!(body.ends_with('\n'));
                assert_eq!(text.as_bytes().get(body.len()), Some(&b'\n'));
                if let Ok(c) = Checkpoint::open(text, key) {
                    assert_eq!(c.to_body(), body);
                }
            }
            Err(NoteError::BadSignature { name, id } | NoteError::UnknownKey { name, id, .. }) => {
                assert_eq!((name.as_str(), id), (key.name(), key.id()));
            }
            Err(_) => {}
        }
    }

    // The input as text to sign.
    if let Ok(note) = signer.sign(text) {
        assert_eq!(
            verifier.open(&note).ok().as_deref(),
            Some(text),
            "a signed text does not open"
        );
        assert!(matches!(
            other.open(&note),
            Err(NoteError::UnknownKey { .. })
        ));
        match (
            Checkpoint::parse_body(text),
            Checkpoint::open(&note, verifier),
        ) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a, b);
                assert_eq!(a.sign(signer).ok().as_deref(), Some(note.as_str()));
            }
            (Err(_), Err(_)) => {}
            (a, b) => panic!("parse_body {a:?} but open {b:?}"),
        }
    }

    // The input as a statement: `origin|covenant|body`.
    let mut parts = text.splitn(3, '|');
    if let (Some(origin), Some(covenant), Some(body)) = (parts.next(), parts.next(), parts.next()) {
        let period = i64::from(text.len() as u16);
        if let Ok(note) = statement::sign(signer, origin, covenant, period, body) {
            // Covenant ids and bodies are single lines (ids are `[a-z0-9-]`, bodies canonical
            // JSON); a newline in them makes another note, refused as such.
            if ![origin, covenant, body].iter().any(|s| s.contains('\n')) {
                if let Err(e) = statement::open(&note, verifier, covenant, period, body) {
                    panic!("a signed statement does not open: {e}");
                }
            }
            assert!(statement::open(&note, verifier, covenant, period + 1, body).is_err());
            assert!(statement::open(&note, other, covenant, period, body).is_err());
        }
    }
});
