//! The history of a group's document, for the API, the CLI and the status page: each manifest
//! version with whether and by whom it was ratified, what changed from the version before it
//! ([`crate::manifest::diff`]), and the divergences it resolved (those whose resolution names
//! it). Read side only.

use serde::Serialize;

use crate::manifest::ratify::Ratification;
use crate::manifest::{diff, Change};
use crate::store::{Divergence, ManifestVersion, Store, StoreError};

/// One version of the document and what it did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VersionHistory {
    pub version: i64,
    pub hash: String,
    /// The first block the version is in force at.
    pub effective_block: i64,
    pub created_at: String,
    /// `ratified by 0xA…, 0xB… (2 of 3 owners of version 1, threshold 2)`, or `unratified`.
    pub ratified: String,
    #[schema(value_type = Option<Object>)]
    pub ratification: Option<Ratification>,
    /// What changed from the version before (empty for the first).
    pub changes: Vec<Change>,
    /// The divergences this version resolved, by the manifest coming into agreement.
    pub resolved: Vec<ResolvedByVersion>,
}

/// A divergence a version resolved.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ResolvedByVersion {
    pub n: i64,
    pub rule: String,
    pub severity: String,
    pub subject: String,
    pub item: String,
    pub resolved_block: i64,
}

/// The ratification of `v` in one line, or `unratified`.
pub fn ratified(v: &ManifestVersion) -> String {
    v.ratification
        .as_ref()
        .map_or_else(|| "unratified".to_string(), Ratification::summary)
}

/// The history of `versions` (in version order), given the group's divergences (pure).
pub fn history(versions: &[ManifestVersion], divergences: &[Divergence]) -> Vec<VersionHistory> {
    versions
        .iter()
        .enumerate()
        .map(|(i, v)| VersionHistory {
            version: v.version,
            hash: v.hash.clone(),
            effective_block: v.effective_block,
            created_at: v.created_at.clone(),
            ratified: ratified(v),
            ratification: v.ratification.clone(),
            changes: match i.checked_sub(1) {
                Some(p) => diff(&versions[p].manifest, &v.manifest),
                None => Vec::new(),
            },
            resolved: divergences
                .iter()
                .filter(|d| resolved_by(versions, d).is_some_and(|r| r.version == v.version))
                .map(|d| ResolvedByVersion {
                    n: d.n,
                    rule: d.rule.clone(),
                    severity: d.severity.clone(),
                    subject: d.subject.clone(),
                    item: d.item.clone(),
                    resolved_block: d.resolved_block.unwrap_or_default(),
                })
                .collect(),
        })
        .collect()
}

/// The version whose coming into force resolved `d`, if a manifest version resolved it: the
/// one in force at the resolving block, with the hash the resolution names.
pub fn resolved_by<'a>(
    versions: &'a [ManifestVersion],
    d: &Divergence,
) -> Option<&'a ManifestVersion> {
    if d.resolution.as_deref() != Some("manifest") {
        return None;
    }
    let hash = d.resolved_manifest_hash.as_deref()?;
    let block = d.resolved_block?;
    versions
        .iter()
        .rev()
        .filter(|v| v.effective_block <= block)
        .find(|v| v.hash == hash)
}

/// A group's history read from the store.
pub async fn group_history(
    store: &Store,
    group_id: &str,
) -> Result<Vec<VersionHistory>, StoreError> {
    let versions = store.manifest_versions(group_id).await?;
    let divergences = store
        .divergences(group_id, Some(crate::store::DivergenceStatus::Resolved))
        .await?;
    Ok(history(&versions, &divergences))
}
