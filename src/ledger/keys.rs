//! The keys of the log: the one key every replica signs checkpoints with, the previous key that
//! cosigns while a rotation is under way, and the verifier keys of keys retired before.
//!
//! Invariant: a daemon starts only if the latest checkpoint of every configured chain's log was
//! signed by a key it signs with ([`check_signing_key`]), so replicas never sign one log with
//! keys a verifier cannot tell apart from a forger's. During a rotation every new note carries a
//! signature by the new key and one by the previous key, so a verifier holding either key
//! follows the hand-over.

use super::note::{NoteError, SigningKey, VerifierKey, Verifiers};
use super::LedgerError;
use crate::config::Settings;
use crate::store::Store;

/// The keys a daemon signs with, and those it still trusts.
#[derive(Clone, Debug)]
pub struct LogKey {
    /// `ledger.signing_key` (or the generated `ledger.key`): signs every note.
    pub current: SigningKey,
    /// `ledger.previous_signing_key`, during a rotation: cosigns every note.
    pub previous: Option<SigningKey>,
    /// `ledger.retired_verifier_keys`: trusted when verifying, never signing.
    pub retired: Vec<VerifierKey>,
}

impl LogKey {
    /// A single key, no rotation under way.
    pub fn single(current: SigningKey) -> LogKey {
        LogKey {
            current,
            previous: None,
            retired: Vec::new(),
        }
    }

    /// The previous and retired keys of `settings` beside `current`.
    pub fn with_settings(current: SigningKey, settings: &Settings) -> Result<LogKey, LedgerError> {
        let ledger = &settings.ledger;
        // Errors name the setting and describe the key's form, never its secret bytes.
        let previous = match ledger.previous_signing_key.expose().trim() {
            "" => None,
            text => Some(SigningKey::parse(text).map_err(|e| {
                LedgerError::Range(format!(
                    "configuration key `ledger.previous_signing_key`: {e}"
                ))
            })?),
        };
        let retired = ledger
            .retired_verifier_keys
            .iter()
            .enumerate()
            .map(|(n, k)| {
                VerifierKey::parse(k.trim()).map_err(|e| {
                    LedgerError::Range(format!(
                        "configuration key `ledger.retired_verifier_keys[{n}]`: {e}"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LogKey {
            current,
            previous,
            retired,
        }
        .without_current_as_previous())
    }

    /// A previous key equal to the current one is no rotation: it is dropped.
    fn without_current_as_previous(mut self) -> LogKey {
        if self
            .previous
            .as_ref()
            .is_some_and(|p| p.verifier() == self.current.verifier())
        {
            self.previous = None;
        }
        self
    }

    /// The current key's name.
    pub fn name(&self) -> &str {
        self.current.name()
    }

    /// The keys that sign: the current one, then the previous one during a rotation.
    pub fn signers(&self) -> Vec<&SigningKey> {
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .collect()
    }

    /// The keys a signing replica accepts as the signer of a log's latest checkpoint: the
    /// current and the previous one.
    pub fn signing_verifiers(&self) -> Verifiers {
        Verifiers::new(
            self.current.verifier(),
            self.previous.iter().map(SigningKey::verifier),
        )
    }

    /// Every key whose signatures verify: current, previous, retired, in that order.
    pub fn verifier(&self) -> Verifiers {
        Verifiers::new(
            self.current.verifier(),
            self.previous
                .iter()
                .map(SigningKey::verifier)
                .chain(self.retired.iter().cloned()),
        )
    }
}

/// Refuses to go on when the latest checkpoint of one of `chains`' logs was not signed by a key
/// of `key` that signs (the current one, or the previous one during a rotation): another
/// replica signs with another key, or the key was changed without a rotation. The error names
/// the chain, the keys configured and the keys that signed. A log without checkpoints passes.
pub async fn check_signing_key<'a>(
    store: &Store,
    key: &LogKey,
    chains: impl IntoIterator<Item = &'a String>,
) -> Result<(), LedgerError> {
    let trusted = key.signing_verifiers();
    for chain in chains {
        let Some(latest) = store.latest_checkpoint(chain).await? else {
            continue;
        };
        match trusted.open(&latest.note) {
            Ok(_) => {}
            Err(
                NoteError::UnknownKey { signers, .. } | NoteError::NoTrustedKey { signers, .. },
            ) => {
                return Err(LedgerError::ForeignKey {
                    chain: chain.clone(),
                    size: latest.tree_size,
                    configured: trusted.names(),
                    signers,
                })
            }
            Err(e) => {
                return Err(LedgerError::Inconsistent(format!(
                    "the latest checkpoint of the {chain} log (tree size {}) does not open: {e}",
                    latest.tree_size
                )))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use alloy::primitives::B256;

    use super::*;
    use crate::ledger::merkle::leaf_hash;
    use crate::ledger::note::Checkpoint;

    fn checkpoint(size: u64) -> Checkpoint {
        Checkpoint {
            origin: "groupstate/local".into(),
            size,
            root: leaf_hash(&size.to_be_bytes()),
            extensions: vec![],
        }
    }

    async fn store_with(notes: &[(u64, String)]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("keys.db").display());
        let store = Store::connect(&url, 1).await.unwrap();
        store.migrate().await.unwrap();
        for (size, note) in notes {
            store
                .insert_checkpoint("local", *size, &B256::ZERO, note)
                .await
                .unwrap();
        }
        (dir, store)
    }

    fn chains() -> Vec<String> {
        vec!["local".to_string(), "other".to_string()]
    }

    #[tokio::test]
    async fn a_log_signed_by_another_key_is_refused_naming_the_chain_and_both_keys() {
        let old = SigningKey::generate("groupstate").unwrap();
        let new = SigningKey::generate("groupstate").unwrap();
        let (_dir, store) = store_with(&[
            (1, checkpoint(1).sign(&new).unwrap()),
            (2, checkpoint(2).sign(&old).unwrap()),
        ])
        .await;
        let e = check_signing_key(&store, &LogKey::single(new.clone()), &chains())
            .await
            .unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, LedgerError::ForeignKey { size: 2, .. }), "{e}");
        for needle in [
            "the local log".to_string(),
            format!("groupstate+{:08x}", old.verifier().id()),
            format!("groupstate+{:08x}", new.verifier().id()),
        ] {
            assert!(text.contains(&needle), "{needle} in {text}");
        }
        // Retired keys verify, they do not sign: still refused.
        let retired = LogKey {
            retired: vec![old.verifier()],
            ..LogKey::single(new.clone())
        };
        assert!(check_signing_key(&store, &retired, &chains())
            .await
            .is_err());
        // The same key, as before.
        check_signing_key(&store, &LogKey::single(old.clone()), &chains())
            .await
            .unwrap();
        // A rotation: the old key is the previous one.
        let rotating = LogKey {
            previous: Some(old.clone()),
            ..LogKey::single(new.clone())
        };
        check_signing_key(&store, &rotating, &chains())
            .await
            .unwrap();
        assert_eq!(rotating.signers().len(), 2);
        assert_eq!(rotating.verifier().keys().len(), 2);
    }

    #[tokio::test]
    async fn a_cosigned_checkpoint_lets_either_key_start_and_an_empty_log_passes() {
        let old = SigningKey::generate("groupstate").unwrap();
        let new = SigningKey::generate("groupstate").unwrap();
        let (_dir, store) =
            store_with(&[(3, checkpoint(3).sign_all(&[&new, &old]).unwrap())]).await;
        for key in [&old, &new] {
            check_signing_key(&store, &LogKey::single(key.clone()), &chains())
                .await
                .unwrap();
        }
        let stranger = SigningKey::generate("groupstate").unwrap();
        assert!(
            check_signing_key(&store, &LogKey::single(stranger.clone()), &chains())
                .await
                .is_err()
        );
        let (_empty_dir, empty) = store_with(&[]).await;
        check_signing_key(&empty, &LogKey::single(stranger), &chains())
            .await
            .unwrap();
    }

    #[test]
    fn a_previous_key_equal_to_the_current_one_is_no_rotation() {
        let key = SigningKey::generate("groupstate").unwrap();
        let same = LogKey {
            previous: Some(key.clone()),
            ..LogKey::single(key)
        }
        .without_current_as_previous();
        assert!(same.previous.is_none());
        assert_eq!(same.signers().len(), 1);
    }

    #[test]
    fn a_malformed_previous_or_retired_key_names_its_setting() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keys.toml");
        let current = SigningKey::generate("groupstate").unwrap();
        for (toml, key) in [
            (
                "[ledger]\nsigning_key = \"x\"\nprevious_signing_key = \"PRIVATE+KEY+a+00\"\n",
                "ledger.previous_signing_key",
            ),
            (
                "[ledger]\nretired_verifier_keys = [\"groupstate+00000000+AAAA\"]\n",
                "ledger.retired_verifier_keys[0]",
            ),
        ] {
            std::fs::write(&file, toml).unwrap();
            let settings = Settings::load(Some(&file)).unwrap();
            let err = LogKey::with_settings(current.clone(), &settings)
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(&format!("configuration key `{key}`")),
                "{err}"
            );
        }
    }
}
