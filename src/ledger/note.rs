//! Signed checkpoints of the log, in the transparency-log signed-note format.
//!
//! A checkpoint ([`Checkpoint`]) commits to the log's tree size and root; the log signs it as a
//! note with an Ed25519 key, so any holder of the [`VerifierKey`] can check it and compare it with
//! later ones through consistency proofs. Formats, byte for byte as in Go's
//! `golang.org/x/mod/sumdb/note` and the C2SP specifications (`c2sp.org/signed-note`,
//! `c2sp.org/tlog-checkpoint`), so Go-ecosystem verifiers and witnesses accept our checkpoints:
//!
//! - signed note: the text (ending in a newline), a blank line, then one or more lines
//!   `— <key name> <base64(key id || signature)>` (U+2014 em dash, space), each ending in a newline;
//!   the signature is Ed25519 over the text bytes exactly;
//! - key id: the first four bytes, big-endian, of `SHA-256(name || "\n" || 0x01 || public key)`
//!   ([`key_id`]);
//! - verifier key `<name>+<hex id>+<base64(0x01 || public key)>`, signing key
//!   `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>` (Go's `note.GenerateKey`);
//! - checkpoint text: origin, decimal tree size, base64 root, then optional extension lines.
//!
//! Invariant: [`VerifierKey::open`] returns a note's text only if it carries at least one
//! signature by that key and every signature by that key verifies; signatures by other keys
//! (including keys sharing the name or the id, but not both) are ignored, as the spec requires.
//! Parsing is as strict as Go's `note.Open`: valid UTF-8 without control characters other than
//! newline, at most [`MAX_SIGNATURES`] well-formed signature lines, nothing else after the text.

use std::fmt;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _};
use sha2::{Digest, Sha256};

use crate::ledger::merkle::Hash;

/// The most signature lines [`VerifierKey::open`] reads before rejecting a note (as Go's
/// `note.Open`; the spec asks verifiers to accept at least 16).
pub const MAX_SIGNATURES: usize = 100;

/// The signature type byte of Ed25519 keys and signatures (C2SP signed-note).
const ALG_ED25519: u8 = 0x01;

/// The prefix of a signature line: U+2014 EM DASH and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// The prefix of an encoded signing key.
const PRIVATE_KEY_PREFIX: &str = "PRIVATE+KEY+";

/// Why a key, a note or a checkpoint was rejected.
#[derive(Debug, thiserror::Error)]
pub enum NoteError {
    /// The note (or the text to sign) breaks the signed-note syntax.
    #[error("malformed note: {0}")]
    MalformedNote(String),
    /// An encoded signing or verifier key is not well formed, names another id than its key
    /// hashes to, or uses another algorithm than Ed25519.
    #[error("malformed key: {0}")]
    MalformedKey(String),
    /// A key name is empty or contains a `+`, a Unicode space or a control character.
    #[error("invalid key name {name:?}: {reason}")]
    InvalidKeyName { name: String, reason: &'static str },
    /// The note is well formed but carries no signature by the expected key.
    #[error("note has no signature by key {name}+{id:08x} (signed only by: {signers})")]
    UnknownKey {
        name: String,
        id: u32,
        /// The `name+id` of the keys that did sign, comma-separated.
        signers: String,
    },
    /// The note is well formed but carries no signature by any of the trusted keys.
    #[error("note has no signature by any of the keys {keys} (signed only by: {signers})")]
    NoTrustedKey {
        /// The `name+id` of the trusted keys, comma-separated.
        keys: String,
        /// The `name+id` of the keys that did sign, comma-separated.
        signers: String,
    },
    /// A signature by the expected key does not verify: the note was altered or forged.
    #[error("invalid signature for key {name}+{id:08x}")]
    BadSignature { name: String, id: u32 },
    /// A checkpoint body breaks the tlog-checkpoint syntax; `line` is 1-based.
    #[error("bad checkpoint body, line {line}: {reason}")]
    BadCheckpoint { line: usize, reason: String },
    /// A stored key file belongs to another key name than the one asked for.
    #[error("key file {} holds a key named {found:?}, expected {expected:?}", path.display())]
    KeyNameMismatch {
        path: PathBuf,
        found: String,
        expected: String,
    },
    /// Reading or writing a key file failed (or its content is not a signing key).
    #[error("key file {}: {source}", path.display())]
    KeyFile {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

/// The key id of an Ed25519 key: the first four bytes (big-endian) of
/// `SHA-256(name || "\n" || 0x01 || public_key)`.
pub fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update(b"\n");
    hasher.update([ALG_ED25519]);
    hasher.update(public_key);
    let digest = hasher.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// Checks a key name: non-empty, no `+`, no Unicode space (Go's `unicode.IsSpace`, which is
/// Rust's `char::is_whitespace`), and no ASCII control character (a note cannot carry one).
fn check_name(name: &str) -> Result<(), NoteError> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.contains('+') {
        "it contains '+'"
    } else if name.chars().any(char::is_whitespace) {
        "it contains a space"
    } else if name.chars().any(|c| c < ' ') {
        "it contains a control character"
    } else {
        return Ok(());
    };
    Err(NoteError::InvalidKeyName {
        name: name.to_owned(),
        reason,
    })
}

/// The error for a malformed key; `what` is "signing key" or "verifier key".
fn malformed_key(what: &str, detail: impl fmt::Display) -> NoteError {
    NoteError::MalformedKey(format!("{what}: {detail}"))
}

/// The error for an encoded key whose id is not the one of its name and key.
fn id_mismatch(what: &str, id: u32, name: &str, expected: u32) -> NoteError {
    malformed_key(
        what,
        format!(
            "key id {id:08x} does not match the key, whose id for name {name:?} is {expected:08x}"
        ),
    )
}

/// Splits an encoded key after its name into the id and the key bytes, checking both syntaxes:
/// exactly 8 hexadecimal digits, then standard padded base64 of `0x01 || 32 bytes`.
fn parse_id_and_key(what: &str, rest: &str) -> Result<(u32, [u8; 32]), NoteError> {
    let (hex_id, key64) = rest
        .split_once('+')
        .ok_or_else(|| malformed_key(what, "expected <name>+<hex id>+<base64 key>"))?;
    if hex_id.len() != 8 || !hex_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(malformed_key(
            what,
            format!("key id {hex_id:?} is not 8 hexadecimal digits"),
        ));
    }
    let id = u32::from_str_radix(hex_id, 16).map_err(|e| malformed_key(what, e))?;
    let raw = BASE64
        .decode(key64)
        .map_err(|e| malformed_key(what, format!("key is not standard base64: {e}")))?;
    match raw.split_first() {
        None => Err(malformed_key(what, "key is empty")),
        Some((&ALG_ED25519, key)) => {
            let key: [u8; 32] = key.try_into().map_err(|_| {
                malformed_key(
                    what,
                    format!("Ed25519 key is {} bytes, expected 32", key.len()),
                )
            })?;
            Ok((id, key))
        }
        Some((alg, _)) => Err(malformed_key(
            what,
            format!("unknown key algorithm {alg:#04x} (only Ed25519, 0x01, is supported)"),
        )),
    }
}

/// `0x01 || key`, base64.
fn encode_key_bytes(key: &[u8; 32]) -> String {
    let mut raw = Vec::with_capacity(33);
    raw.push(ALG_ED25519);
    raw.extend_from_slice(key);
    BASE64.encode(raw)
}

/// Rejects text a signed note cannot carry: ASCII control characters other than newline.
fn check_note_chars(text: &str) -> Result<(), NoteError> {
    match text.char_indices().find(|&(_, c)| c < ' ' && c != '\n') {
        Some((at, c)) => Err(NoteError::MalformedNote(format!(
            "control character {:#04x} at byte {at}",
            u32::from(c)
        ))),
        None => Ok(()),
    }
}

/// A named Ed25519 signing key: the log's private key.
#[derive(Clone)]
pub struct SigningKey {
    name: String,
    id: u32,
    key: ed25519_dalek::SigningKey,
}

impl fmt::Debug for SigningKey {
    /// Shows the name and id only, never the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("name", &self.name)
            .field("id", &format_args!("{:08x}", self.id))
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    fn from_parts(name: &str, key: ed25519_dalek::SigningKey) -> Self {
        let id = key_id(name, key.verifying_key().as_bytes());
        Self {
            name: name.to_owned(),
            id,
            key,
        }
    }

    /// A fresh key from the operating system's random source, named `name` (non-empty, without
    /// `+`, Unicode spaces or control characters).
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        check_name(name)?;
        let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        Ok(Self::from_parts(name, key))
    }

    /// Parses `PRIVATE+KEY+<name>+<hex8 id>+<base64(0x01 || 32-byte seed)>` (Go's
    /// `note.NewSigner`), checking that the id is the one of the derived public key.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        const WHAT: &str = "signing key";
        let rest = s.strip_prefix(PRIVATE_KEY_PREFIX).ok_or_else(|| {
            malformed_key(WHAT, "expected PRIVATE+KEY+<name>+<hex id>+<base64 key>")
        })?;
        let (name, rest) = rest
            .split_once('+')
            .ok_or_else(|| malformed_key(WHAT, "expected <name>+<hex id>+<base64 key>"))?;
        check_name(name)?;
        let (id, seed) = parse_id_and_key(WHAT, rest)?;
        let key = Self::from_parts(name, ed25519_dalek::SigningKey::from_bytes(&seed));
        if key.id != id {
            return Err(id_mismatch(WHAT, id, name, key.id));
        }
        Ok(key)
    }

    /// `PRIVATE+KEY+<name>+<hex8 id>+<base64(0x01 || seed)>`; [`SigningKey::parse`] reads it
    /// back. This is the secret: store it as such.
    pub fn encode(&self) -> String {
        format!(
            "{PRIVATE_KEY_PREFIX}{}+{:08x}+{}",
            self.name,
            self.id,
            encode_key_bytes(self.key.as_bytes())
        )
    }

    /// The key name, which signature lines carry.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public half, to hand to verifiers.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// Signs a note body, returning the full signed note text: `text`, a blank line and one
    /// signature line. The body must be non-empty, end with `'\n'` and contain no ASCII control
    /// character other than newline; it may contain blank lines, since the signatures start after
    /// the last one.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        if text.is_empty() {
            return Err(NoteError::MalformedNote("text is empty".into()));
        }
        if !text.ends_with('\n') {
            return Err(NoteError::MalformedNote(
                "text does not end with a newline".into(),
            ));
        }
        check_note_chars(text)?;
        let signature = self.key.sign(text.as_bytes());
        let mut blob = Vec::with_capacity(4 + 64);
        blob.extend_from_slice(&self.id.to_be_bytes());
        blob.extend_from_slice(&signature.to_bytes());
        Ok(format!(
            "{text}\n{SIG_PREFIX}{} {}\n",
            self.name,
            BASE64.encode(blob)
        ))
    }

    /// Signs a note body with every key of `keys`, in order: `text`, a blank line and one
    /// signature line per key (a signed note may carry several). Fails on an empty `keys`, and
    /// on a body [`SigningKey::sign`] refuses.
    pub fn sign_all(keys: &[&SigningKey], text: &str) -> Result<String, NoteError> {
        let (first, rest) = keys
            .split_first()
            .ok_or_else(|| NoteError::MalformedNote("no key to sign with".into()))?;
        let mut note = first.sign(text)?;
        for key in rest {
            // `sign` returns the text, a newline, then the signature line.
            note.push_str(&key.sign(text)?[text.len() + 1..]);
        }
        Ok(note)
    }

    /// Reads the key from `path`, or, if there is no file there, generates one named `name` and
    /// writes it there (parent directories created, the file created exclusively, mode 0600 on
    /// unix). Returns the key and whether it was generated. A stored key named otherwise than
    /// `name` is an error ([`NoteError::KeyNameMismatch`]), not silently used.
    pub fn load_or_generate(path: &Path, name: &str) -> Result<(Self, bool), NoteError> {
        match Self::load(path) {
            Ok(key) => return Self::expect_name(path, key, name).map(|key| (key, false)),
            Err(NoteError::KeyFile { source, .. })
                if source
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == ErrorKind::NotFound) => {}
            Err(e) => return Err(e),
        }

        let key = Self::generate(name)?;
        let io_err = |e: std::io::Error| NoteError::KeyFile {
            path: path.to_owned(),
            source: Box::new(e),
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io_err)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = match options.open(path) {
            Ok(file) => file,
            // Another process created it first: use theirs.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                let key = Self::load(path)?;
                return Self::expect_name(path, key, name).map(|key| (key, false));
            }
            Err(e) => return Err(io_err(e)),
        };
        let written = file
            .write_all(format!("{}\n", key.encode()).as_bytes())
            .and_then(|()| file.sync_all());
        if let Err(e) = written {
            drop(file);
            // Leave no half-written key behind to fail the next start.
            let _ = std::fs::remove_file(path);
            return Err(io_err(e));
        }
        Ok((key, true))
    }

    /// Reads and parses a key file (surrounding whitespace, such as a final newline, ignored).
    fn load(path: &Path) -> Result<Self, NoteError> {
        let wrap = |source: Box<dyn std::error::Error + Send + Sync>| NoteError::KeyFile {
            path: path.to_owned(),
            source,
        };
        let text = std::fs::read_to_string(path).map_err(|e| wrap(Box::new(e)))?;
        Self::parse(text.trim()).map_err(|e| wrap(Box::new(e)))
    }

    fn expect_name(path: &Path, key: Self, name: &str) -> Result<Self, NoteError> {
        if key.name == name {
            Ok(key)
        } else {
            Err(NoteError::KeyNameMismatch {
                path: path.to_owned(),
                found: key.name,
                expected: name.to_owned(),
            })
        }
    }
}

/// A named Ed25519 public key: what verifiers of the log's checkpoints are configured with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: u32,
    key: ed25519_dalek::VerifyingKey,
}

impl VerifierKey {
    /// Parses `<name>+<hex8 id>+<base64(0x01 || 32-byte public key)>` (Go's `note.NewVerifier`),
    /// checking the id. Also rejects public keys that are not a canonical encoding of a curve
    /// point, or of small order: no honest key is either.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        const WHAT: &str = "verifier key";
        let (name, rest) = s
            .split_once('+')
            .ok_or_else(|| malformed_key(WHAT, "expected <name>+<hex id>+<base64 key>"))?;
        check_name(name)?;
        let (id, public) = parse_id_and_key(WHAT, rest)?;
        let expected = key_id(name, &public);
        if id != expected {
            return Err(id_mismatch(WHAT, id, name, expected));
        }
        let key = ed25519_dalek::VerifyingKey::from_bytes(&public)
            .map_err(|_| malformed_key(WHAT, "public key is not an Ed25519 curve point"))?;
        if key.to_edwards().compress().to_bytes() != public {
            return Err(malformed_key(WHAT, "public key is not canonically encoded"));
        }
        if key.is_weak() {
            return Err(malformed_key(WHAT, "public key is of small order"));
        }
        Ok(Self {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// `<name>+<hex8 id>+<base64(0x01 || public key)>`; [`VerifierKey::parse`] reads it back.
    pub fn encode(&self) -> String {
        format!(
            "{}+{:08x}+{}",
            self.name,
            self.id,
            encode_key_bytes(self.key.as_bytes())
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id ([`key_id`] of the name and public key).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Checks that `note` carries a valid signature by this key; returns the note body (the
    /// text before the blank line and the signatures, final newline included). Signatures by
    /// other keys are ignored (they are still parsed strictly); no signature by this key is
    /// [`NoteError::UnknownKey`], and any failing one is [`NoteError::BadSignature`].
    pub fn open(&self, note: &str) -> Result<String, NoteError> {
        check_note_chars(note)?;
        let split = note.rfind("\n\n").ok_or_else(|| {
            NoteError::MalformedNote("no blank line between text and signatures".into())
        })?;
        let (text, sigs) = (&note[..split + 1], &note[split + 2..]);
        let Some(sigs) = sigs.strip_suffix('\n') else {
            return Err(NoteError::MalformedNote(if sigs.is_empty() {
                "no signature lines".into()
            } else {
                "last signature line does not end with a newline".into()
            }));
        };

        let mut verified = 0usize;
        let mut others: Vec<String> = Vec::new();
        for (n, line) in sigs.split('\n').enumerate() {
            let n = n + 1;
            if n > MAX_SIGNATURES {
                return Err(NoteError::MalformedNote(format!(
                    "more than {MAX_SIGNATURES} signatures"
                )));
            }
            let malformed =
                |what: &str| NoteError::MalformedNote(format!("signature line {n}: {what}"));
            let body = line
                .strip_prefix(SIG_PREFIX)
                .ok_or_else(|| malformed("does not start with an em dash and a space"))?;
            let (name, b64) = body.split_once(' ').unwrap_or((body, ""));
            check_name(name).map_err(|e| malformed(&e.to_string()))?;
            if b64.is_empty() {
                return Err(malformed("no signature"));
            }
            let blob = BASE64
                .decode(b64)
                .map_err(|e| malformed(&format!("signature is not standard base64: {e}")))?;
            if blob.len() < 5 {
                return Err(malformed("signature is shorter than a key id and one byte"));
            }
            let id = u32::from_be_bytes([blob[0], blob[1], blob[2], blob[3]]);
            if name != self.name || id != self.id {
                let signer = format!("{name}+{id:08x}");
                if !others.contains(&signer) {
                    others.push(signer);
                }
                continue;
            }
            // Unlike Go, which checks only the first, every signature by this key must verify.
            let bad = || NoteError::BadSignature {
                name: self.name.clone(),
                id: self.id,
            };
            let signature = Signature::from_slice(&blob[4..]).map_err(|_| bad())?;
            self.key
                .verify_strict(text.as_bytes(), &signature)
                .map_err(|_| bad())?;
            verified += 1;
        }
        if verified == 0 {
            return Err(NoteError::UnknownKey {
                name: self.name.clone(),
                id: self.id,
                signers: others.join(", "),
            });
        }
        Ok(text.to_owned())
    }
}

/// The keys a verifier trusts for one log, the first being the key that signs now; during a
/// rotation the previous key follows, then keys retired earlier (C2SP signed notes may carry
/// several signatures, and a verifier accepts a note signed by any key it trusts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verifiers(Vec<VerifierKey>);

impl Verifiers {
    /// The set of `keys`, duplicates dropped; `current` first.
    pub fn new(current: VerifierKey, others: impl IntoIterator<Item = VerifierKey>) -> Verifiers {
        let mut keys = vec![current];
        for k in others {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        Verifiers(keys)
    }

    /// The key that signs now.
    pub fn current(&self) -> &VerifierKey {
        &self.0[0]
    }

    /// Every key, the current one first.
    pub fn keys(&self) -> &[VerifierKey] {
        &self.0
    }

    /// `name+id` of every key, comma-separated.
    pub fn names(&self) -> String {
        self.0
            .iter()
            .map(|k| format!("{}+{:08x}", k.name, k.id))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Checks that `note` carries a valid signature by at least one of these keys and that
    /// every signature by any of them verifies; returns the note body ([`VerifierKey::open`]).
    /// With a single key, its own error is returned as is.
    pub fn open(&self, note: &str) -> Result<String, NoteError> {
        if let [only] = self.0.as_slice() {
            return only.open(note);
        }
        let mut text = None;
        let mut signers = String::new();
        for key in &self.0 {
            match key.open(note) {
                Ok(t) => text = Some(t),
                Err(NoteError::UnknownKey { signers: s, .. }) => signers = s,
                Err(e) => return Err(e),
            }
        }
        text.ok_or_else(|| NoteError::NoTrustedKey {
            keys: self.names(),
            signers,
        })
    }
}

impl From<VerifierKey> for Verifiers {
    fn from(key: VerifierKey) -> Verifiers {
        Verifiers(vec![key])
    }
}

/// A checkpoint: the log named `origin` has `size` leaves and Merkle root `root`
/// (C2SP tlog-checkpoint).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity, the first line; conventionally a schema-less URL and the key name.
    pub origin: String,
    /// The tree size.
    pub size: u64,
    /// The root of the tree of `size` leaves.
    pub root: Hash,
    /// Optional opaque extra lines, each non-empty (the spec does not recommend any).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// `<origin>\n<size in decimal>\n<base64 root>\n`, then each extension line and a newline.
    /// [`Checkpoint::sign`] checks that the result parses back to `self`.
    pub fn to_body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root.as_bytes())
        );
        for extension in &self.extensions {
            body.push_str(extension);
            body.push('\n');
        }
        body
    }

    /// Parses a checkpoint body strictly: at least three newline-terminated lines, a non-empty
    /// origin, a decimal size without sign or leading zeros (except `0` itself), a standard
    /// padded base64 root of exactly 32 bytes, and non-empty extension lines; no ASCII control
    /// characters other than the newlines.
    pub fn parse_body(body: &str) -> Result<Self, NoteError> {
        let bad = |line: usize, reason: String| NoteError::BadCheckpoint { line, reason };
        let Some(content) = body.strip_suffix('\n') else {
            let line = body.split('\n').count();
            return Err(bad(line, "body does not end with a newline".into()));
        };
        let lines: Vec<&str> = content.split('\n').collect();
        for (i, line) in lines.iter().enumerate() {
            if let Some(c) = line.chars().find(|&c| c < ' ') {
                return Err(bad(
                    i + 1,
                    format!("control character {:#04x}", u32::from(c)),
                ));
            }
        }
        if lines.len() < 3 {
            return Err(bad(
                lines.len() + 1,
                format!(
                    "body has {} lines, expected origin, tree size and root hash",
                    lines.len()
                ),
            ));
        }

        let origin = lines[0];
        if origin.is_empty() {
            return Err(bad(1, "origin is empty".into()));
        }

        let size_text = lines[1];
        if size_text.is_empty() || !size_text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(
                2,
                format!("tree size {size_text:?} is not a decimal number"),
            ));
        }
        if size_text.len() > 1 && size_text.starts_with('0') {
            return Err(bad(
                2,
                format!("tree size {size_text:?} has a leading zero"),
            ));
        }
        let size: u64 = size_text
            .parse()
            .map_err(|e| bad(2, format!("tree size {size_text:?}: {e}")))?;

        let root_text = lines[2];
        let root = BASE64.decode(root_text).map_err(|e| {
            bad(
                3,
                format!("root hash {root_text:?} is not standard base64: {e}"),
            )
        })?;
        let root: [u8; 32] = root
            .as_slice()
            .try_into()
            .map_err(|_| bad(3, format!("root hash is {} bytes, expected 32", root.len())))?;

        let mut extensions = Vec::with_capacity(lines.len() - 3);
        for (i, line) in lines.iter().enumerate().skip(3) {
            if line.is_empty() {
                return Err(bad(i + 1, "extension line is empty".into()));
            }
            extensions.push((*line).to_owned());
        }

        Ok(Self {
            origin: origin.to_owned(),
            size,
            root: Hash::from(root),
            extensions,
        })
    }

    /// The signed note of this checkpoint. Fails if the body would not parse back to `self`
    /// (an empty origin, an origin or extension with a newline or control character, an empty
    /// extension line).
    pub fn sign(&self, key: &SigningKey) -> Result<String, NoteError> {
        self.sign_all(&[key])
    }

    /// [`Checkpoint::sign`] with every key of `keys`: one signature line each.
    pub fn sign_all(&self, keys: &[&SigningKey]) -> Result<String, NoteError> {
        let body = self.to_body();
        if Self::parse_body(&body)? != *self {
            return Err(NoteError::BadCheckpoint {
                line: 1,
                reason: "checkpoint does not survive encoding: a field contains a newline".into(),
            });
        }
        SigningKey::sign_all(keys, &body)
    }

    /// Verifies `note`'s signature by `key` ([`VerifierKey::open`]), then parses the body.
    pub fn open(note: &str, key: &VerifierKey) -> Result<Self, NoteError> {
        Self::parse_body(&key.open(note)?)
    }

    /// Verifies `note`'s signature by any of `keys` ([`Verifiers::open`]), then parses the body.
    pub fn open_any(note: &str, keys: &Verifiers) -> Result<Self, NoteError> {
        Self::parse_body(&keys.open(note)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::merkle::{empty_root, leaf_hash};

    // Known answers from Go's golang.org/x/mod/sumdb/note/note_test.go (BSD-3-Clause):
    // TestNewVerifier, TestNewSigner, TestSign, TestOpen.
    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                        then you don't know what your problem is.\n";
    const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    fn peter() -> VerifierKey {
        VerifierKey::parse(PETER_VKEY).expect("Go's verifier key parses")
    }

    fn is_malformed_note(r: Result<String, NoteError>) -> bool {
        matches!(r, Err(NoteError::MalformedNote(_)))
    }

    #[test]
    fn go_keys_parse_and_reencode() {
        let skey = SigningKey::parse(PETER_SKEY).unwrap();
        assert_eq!(skey.name(), "PeterNeumann");
        assert_eq!(skey.encode(), PETER_SKEY);
        let vkey = peter();
        assert_eq!(vkey.name(), "PeterNeumann");
        assert_eq!(vkey.id(), 0xc74f20a3);
        assert_eq!(vkey.encode(), PETER_VKEY);
        assert_eq!(skey.verifier(), vkey);
        assert_eq!(key_id("PeterNeumann", vkey.key.as_bytes()), 0xc74f20a3);
        assert_eq!(VerifierKey::parse(ENOCH_VKEY).unwrap().id(), 0xaf0cfe78);
        assert!(
            !format!("{skey:?}").contains("AYEK"),
            "Debug leaks the seed"
        );
    }

    #[test]
    fn go_signature_is_reproduced_byte_for_byte() {
        let skey = SigningKey::parse(PETER_SKEY).unwrap();
        assert_eq!(skey.sign(TEXT).unwrap(), format!("{TEXT}\n{PETER_SIG}"));
    }

    #[test]
    fn go_manglings_of_keys_are_rejected() {
        // Go's TestNewVerifier / TestNewSigner: every proper substring and every single-byte
        // increment of the encoded keys must fail to parse.
        fn vkey_ok(s: &str) -> bool {
            VerifierKey::parse(s).is_ok()
        }
        fn skey_ok(s: &str) -> bool {
            SigningKey::parse(s).is_ok()
        }
        for (key, parse) in [
            (PETER_VKEY, vkey_ok as fn(&str) -> bool),
            (PETER_SKEY, skey_ok),
        ] {
            assert!(parse(key));
            let b = key.as_bytes();
            for i in 0..=b.len() {
                for j in i + 1..=b.len() {
                    if i != 0 || j != b.len() {
                        assert!(!parse(&key[i..j]), "accepted {:?}", &key[i..j]);
                    }
                }
            }
            for i in 0..b.len() {
                let mut m = b.to_vec();
                m[i] += 1;
                let m = String::from_utf8(m).unwrap();
                assert!(!parse(&m), "accepted {m:?}");
            }
        }
        // Wrong key length and unknown algorithm, each with the id adjusted to match.
        let e = VerifierKey::parse(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        )
        .unwrap_err();
        // (Go's decoder ignores the non-zero trailing bits of that base64 and then finds the wrong
        // length; ours already rejects the base64.)
        assert!(matches!(e, NoteError::MalformedKey(_)), "{e}");
        let short = format!("PeterNeumann+c74f20a3+{}", BASE64.encode([ALG_ED25519; 32]));
        let e = VerifierKey::parse(&short).unwrap_err();
        assert!(e.to_string().contains("31 bytes, expected 32"), "{e}");
        let e = VerifierKey::parse(
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown key algorithm"), "{e}");
    }

    #[test]
    fn key_id_mismatch_is_rejected() {
        let e = VerifierKey::parse(&PETER_VKEY.replace("c74f20a3", "c74f20a4")).unwrap_err();
        assert!(
            matches!(&e, NoteError::MalformedKey(m) if m.contains("does not match")),
            "{e}"
        );
        let e = SigningKey::parse(&PETER_SKEY.replace("c74f20a3", "00000000")).unwrap_err();
        assert!(e.to_string().contains("does not match"), "{e}");
        // The id is bound to the name too.
        let e = VerifierKey::parse(&PETER_VKEY.replace("PeterNeumann", "PeterNeuman")).unwrap_err();
        assert!(e.to_string().contains("does not match"), "{e}");
    }

    #[test]
    fn go_note_opens() {
        let vkey = peter();
        assert_eq!(vkey.open(&format!("{TEXT}\n{PETER_SIG}")).unwrap(), TEXT);
        // A signature by another key is ignored; Enoch's Go signature verifies with Enoch's key.
        let both = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
        assert_eq!(vkey.open(&both).unwrap(), TEXT);
        let enoch = VerifierKey::parse(ENOCH_VKEY).unwrap();
        assert_eq!(enoch.open(&both).unwrap(), TEXT);
        // Repeated valid signatures are fine.
        assert_eq!(
            vkey.open(&format!(
                "{TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}"
            ))
            .unwrap(),
            TEXT
        );
        // Only Enoch signed.
        let e = vkey.open(&format!("{TEXT}\n{ENOCH_SIG}")).unwrap_err();
        assert!(matches!(e, NoteError::UnknownKey { .. }), "{e}");
        assert_eq!(
            e.to_string(),
            "note has no signature by key PeterNeumann+c74f20a3 (signed only by: EnochRoot+af0cfe78)"
        );
    }

    #[test]
    fn go_bad_notes_are_rejected() {
        let vkey = peter();
        // Go's TestOpen: too many signatures (100 is still accepted).
        assert!(vkey
            .open(&format!("{TEXT}\n{}", PETER_SIG.repeat(MAX_SIGNATURES)))
            .is_ok());
        assert!(is_malformed_note(vkey.open(&format!(
            "{TEXT}\n{}",
            PETER_SIG.repeat(MAX_SIGNATURES + 1)
        ))));
        // Invalid signature: four base64 characters inserted.
        let mangled = format!("{TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
        let e = vkey.open(&mangled).unwrap_err();
        assert!(matches!(e, NoteError::BadSignature { .. }), "{e}");
        assert_eq!(
            e.to_string(),
            "invalid signature for key PeterNeumann+c74f20a3"
        );
        // Invalid encoded message syntax.
        let bad_msgs = [
            TEXT.to_owned(),
            format!("{TEXT}\n"),
            format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
            format!("\x01{TEXT}\n{PETER_SIG}"),
            format!("{TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="),
            format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
            // And a few more: en dash, no space after the dash, empty or short signature.
            format!("{TEXT}\n{}", PETER_SIG.replace('\u{2014}', "\u{2013}")),
            format!("{TEXT}\n{}", PETER_SIG.replace("\u{2014} ", "\u{2014}")),
            format!("{TEXT}\n\u{2014} PeterNeumann\n"),
            format!("{TEXT}\n\u{2014} PeterNeumann \n"),
            format!("{TEXT}\n\u{2014} PeterNeumann x08g\n"),
            format!("{TEXT}\n{PETER_SIG}").replace('\n', "\r\n"),
        ];
        for msg in bad_msgs {
            assert!(is_malformed_note(vkey.open(&msg)), "accepted {msg:?}");
        }
    }

    #[test]
    fn tampered_body_is_rejected() {
        let note = format!("{TEXT}\n{PETER_SIG}").replace("cryptography", "cryptographY");
        let e = peter().open(&note).unwrap_err();
        assert!(matches!(e, NoteError::BadSignature { .. }), "{e}");
    }

    #[test]
    fn generated_keys_round_trip() {
        let key = SigningKey::generate("example.com/log").unwrap();
        assert_eq!(key.name(), "example.com/log");
        let again = SigningKey::parse(&key.encode()).unwrap();
        assert_eq!(again.encode(), key.encode());
        assert_eq!(again.verifier(), key.verifier());
        let vkey = VerifierKey::parse(&key.verifier().encode()).unwrap();
        assert_eq!(vkey, key.verifier());
        assert_eq!(vkey.id(), key_id(vkey.name(), vkey.key.as_bytes()));

        // Blank lines inside the text are fine: the signatures follow the last one.
        for text in [
            "hello\n",
            "a\n\nb\n",
            "a\n\n",
            "\n",
            "\u{2014} x y\n\n\u{2014} z\n",
        ] {
            let note = key.sign(text).unwrap();
            assert_eq!(vkey.open(&note).unwrap(), text);
        }
    }

    #[test]
    fn invalid_text_is_not_signed() {
        let key = SigningKey::parse(PETER_SKEY).unwrap();
        for text in ["", "abc", "abc\n\x01\n", "abc\r\n"] {
            assert!(
                matches!(key.sign(text), Err(NoteError::MalformedNote(_))),
                "signed {text:?}"
            );
        }
    }

    #[test]
    fn invalid_names_are_rejected() {
        for name in [
            "",
            "a+b",
            "a b",
            "a\tb",
            "a\nb",
            "a\u{a0}b",
            "a\u{85}b",
            "a\u{2028}b",
            "a\u{3000}b",
            "a\x01b",
        ] {
            assert!(
                matches!(
                    SigningKey::generate(name),
                    Err(NoteError::InvalidKeyName { .. })
                ),
                "accepted {name:?}"
            );
        }
        assert!(SigningKey::generate("example.com/log\u{e9}").is_ok());
    }

    #[test]
    fn signature_by_another_key_with_the_same_name_is_rejected() {
        let ours = SigningKey::generate("example.com/log").unwrap();
        let theirs = SigningKey::generate("example.com/log").unwrap();
        let note = theirs.sign("hello\n").unwrap();
        // Their id differs: the signature is ignored, and none of ours remains.
        let e = ours.verifier().open(&note).unwrap_err();
        assert!(matches!(e, NoteError::UnknownKey { .. }), "{e}");

        // Their signature relabelled with our id (a key id collision) must fail to verify.
        let line = note.strip_prefix("hello\n\n").unwrap();
        let b64 = line
            .trim_end()
            .strip_prefix("\u{2014} example.com/log ")
            .unwrap();
        let mut blob = BASE64.decode(b64).unwrap();
        blob[..4].copy_from_slice(&ours.verifier().id().to_be_bytes());
        let forged = format!(
            "hello\n\n\u{2014} example.com/log {}\n",
            BASE64.encode(&blob)
        );
        let e = ours.verifier().open(&forged).unwrap_err();
        assert!(matches!(e, NoteError::BadSignature { .. }), "{e}");
        // Even next to a valid signature of ours.
        let both = format!("{}{}", ours.sign("hello\n").unwrap(), line_of(&forged));
        assert!(matches!(
            ours.verifier().open(&both),
            Err(NoteError::BadSignature { .. })
        ));
    }

    fn line_of(note: &str) -> &str {
        &note[note.rfind("\n\n").unwrap() + 2..]
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "example.com/log".into(),
            size: 3,
            root: leaf_hash(b"root"),
            extensions: vec![],
        }
    }

    #[test]
    fn checkpoint_body_round_trips() {
        // The example of c2sp.org/tlog-checkpoint.
        let body =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let cp = Checkpoint::parse_body(body).unwrap();
        assert_eq!(cp.origin, "example.com/behind-the-sofa");
        assert_eq!(cp.size, 20852163);
        assert_eq!(
            cp.root.to_hex(),
            "0ac5186a91863e8e1d90c808014aa89bf5da8e3ee1d9f07630f0378f68f1ab62"
        );
        assert!(cp.extensions.is_empty());
        assert_eq!(cp.to_body(), body);

        let mut cp = checkpoint();
        cp.extensions = vec!["ext one".into(), "— two".into()];
        assert_eq!(Checkpoint::parse_body(&cp.to_body()).unwrap(), cp);
        let empty = Checkpoint {
            size: 0,
            root: empty_root(),
            ..checkpoint()
        };
        let body = empty.to_body();
        assert_eq!(
            body,
            "example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
        );
        assert_eq!(Checkpoint::parse_body(&body).unwrap(), empty);
        let max = Checkpoint {
            size: u64::MAX,
            ..checkpoint()
        };
        assert_eq!(Checkpoint::parse_body(&max.to_body()).unwrap(), max);
    }

    #[test]
    fn checkpoint_parse_is_strict() {
        let root = BASE64.encode([7u8; 32]);
        let cases: [(String, usize); 19] = [
            (format!("o\n1\n{root}"), 3),
            (String::new(), 1),
            ("o\n1\n".into(), 3),
            (format!("\n1\n{root}\n"), 1),
            (format!("o\n\n{root}\n"), 2),
            (format!("o\n01\n{root}\n"), 2),
            (format!("o\n00\n{root}\n"), 2),
            (format!("o\n+1\n{root}\n"), 2),
            (format!("o\n-1\n{root}\n"), 2),
            (format!("o\n 1\n{root}\n"), 2),
            (format!("o\n1 \n{root}\n"), 2),
            (format!("o\n18446744073709551616\n{root}\n"), 2),
            (format!("o\n1\n{}\n", BASE64.encode([7u8; 31])), 3),
            (format!("o\n1\n{}\n", BASE64.encode([7u8; 33])), 3),
            (format!("o\n1\n{}\n", root.trim_end_matches('=')), 3),
            (format!("o\n1\n{}\n", hex::encode([7u8; 32])), 3),
            (format!("o\n1\n{root}\next\n\n"), 5),
            (format!("o\n1\n{root}\r\n"), 3),
            (format!("o\x01\n1\n{root}\n"), 1),
        ];
        for (body, line) in cases {
            match Checkpoint::parse_body(&body) {
                Err(NoteError::BadCheckpoint { line: got, reason }) => {
                    assert_eq!(got, line, "{body:?}: {reason}")
                }
                other => panic!("{body:?}: {other:?}"),
            }
        }
        // A root with non-zero padding bits is not canonical base64.
        // 32 bytes take 43 characters and one '=': the last character carries two unused bits.
        const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let last = ALPHABET.find(&root[42..43]).unwrap();
        assert_eq!(last % 4, 0);
        let noncanonical = format!("{}{}=", &root[..42], &ALPHABET[last + 1..last + 2]);
        assert!(Checkpoint::parse_body(&format!("o\n1\n{noncanonical}\n")).is_err());
        let e = Checkpoint::parse_body(&format!("o\n007\n{root}\n")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad checkpoint body, line 2: tree size \"007\" has a leading zero"
        );
    }

    #[test]
    fn checkpoints_sign_and_open() {
        let key = SigningKey::generate("example.com/log").unwrap();
        let cp = checkpoint();
        let note = cp.sign(&key).unwrap();
        assert!(note.starts_with(&format!("{}\n\u{2014} example.com/log ", cp.to_body())));
        assert_eq!(Checkpoint::open(&note, &key.verifier()).unwrap(), cp);

        let other = SigningKey::generate("example.com/log").unwrap();
        assert!(Checkpoint::open(&note, &other.verifier()).is_err());
        let tampered = note.replacen("\n3\n", "\n4\n", 1);
        assert!(matches!(
            Checkpoint::open(&tampered, &key.verifier()),
            Err(NoteError::BadSignature { .. })
        ));
        // A signed note whose body is not a checkpoint.
        let e = Checkpoint::open(&key.sign("just text\n").unwrap(), &key.verifier()).unwrap_err();
        assert!(matches!(e, NoteError::BadCheckpoint { .. }), "{e}");

        for bad in [
            Checkpoint {
                origin: String::new(),
                ..checkpoint()
            },
            Checkpoint {
                origin: "a\nb".into(),
                ..checkpoint()
            },
            Checkpoint {
                extensions: vec![String::new()],
                ..checkpoint()
            },
            Checkpoint {
                extensions: vec!["a\nb".into()],
                ..checkpoint()
            },
        ] {
            assert!(
                matches!(bad.sign(&key), Err(NoteError::BadCheckpoint { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn load_or_generate_keeps_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("log.key");
        let (first, generated) = SigningKey::load_or_generate(&path, "example.com/log").unwrap();
        assert!(generated);
        let (second, generated) = SigningKey::load_or_generate(&path, "example.com/log").unwrap();
        assert!(!generated);
        assert_eq!(first.encode(), second.encode());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", first.encode())
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        let e = SigningKey::load_or_generate(&path, "example.com/other").unwrap_err();
        assert!(matches!(e, NoteError::KeyNameMismatch { .. }), "{e}");

        let bad = dir.path().join("bad.key");
        std::fs::write(&bad, "not a key\n").unwrap();
        let e = SigningKey::load_or_generate(&bad, "example.com/log").unwrap_err();
        assert!(matches!(e, NoteError::KeyFile { .. }), "{e}");
        assert_eq!(std::fs::read_to_string(&bad).unwrap(), "not a key\n");

        let e = SigningKey::load_or_generate(&dir.path().join("x.key"), "bad name").unwrap_err();
        assert!(matches!(e, NoteError::InvalidKeyName { .. }), "{e}");
        assert!(!dir.path().join("x.key").exists());
    }

    #[test]
    fn a_cosigned_note_opens_with_either_key_and_a_key_set_needs_one_of_its_keys() {
        let old = SigningKey::generate("groupstate").unwrap();
        let new = SigningKey::generate("groupstate").unwrap();
        let stranger = SigningKey::generate("groupstate").unwrap();
        let cosigned = SigningKey::sign_all(&[&new, &old], TEXT).unwrap();
        assert_eq!(cosigned.matches('\u{2014}').count(), 2, "{cosigned}");
        assert_eq!(new.verifier().open(&cosigned).unwrap(), TEXT);
        assert_eq!(old.verifier().open(&cosigned).unwrap(), TEXT);
        assert!(cosigned.starts_with(&new.sign(TEXT).unwrap()));

        let both = Verifiers::new(new.verifier(), [old.verifier(), new.verifier()]);
        assert_eq!(both.keys().len(), 2, "duplicates dropped");
        assert_eq!(both.current(), &new.verifier());
        for note in [
            old.sign(TEXT).unwrap(),
            new.sign(TEXT).unwrap(),
            cosigned.clone(),
        ] {
            assert_eq!(both.open(&note).unwrap(), TEXT);
        }
        let foreign = stranger.sign(TEXT).unwrap();
        let e = both.open(&foreign).unwrap_err();
        assert!(matches!(e, NoteError::NoTrustedKey { .. }), "{e}");
        assert!(
            e.to_string()
                .contains(&format!("{:08x}", stranger.verifier().id())),
            "{e}"
        );
        // A forged signature by a trusted key fails even beside a good one.
        let old_line = &old.sign(TEXT).unwrap()[TEXT.len() + 1..];
        let stranger_line = &foreign[TEXT.len() + 1..];
        let mut blob = BASE64
            .decode(stranger_line.trim_end().rsplit(' ').next().unwrap())
            .unwrap();
        blob[..4].copy_from_slice(&old.verifier().id().to_be_bytes());
        let forged = cosigned.replace(
            old_line,
            &format!("\u{2014} groupstate {}\n", BASE64.encode(blob)),
        );
        assert_ne!(forged, cosigned);
        assert!(matches!(
            both.open(&forged),
            Err(NoteError::BadSignature { .. })
        ));
        assert!(SigningKey::sign_all(&[], TEXT).is_err());

        let checkpoint = Checkpoint {
            origin: "groupstate/local".into(),
            size: 3,
            root: leaf_hash(b"x"),
            extensions: vec![],
        };
        let note = checkpoint.sign_all(&[&new, &old]).unwrap();
        assert_eq!(Checkpoint::open_any(&note, &both).unwrap(), checkpoint);
        assert_eq!(
            Checkpoint::open(&note, &old.verifier()).unwrap(),
            checkpoint
        );
    }
}
