//! Groups, their manifest versions, and the follower's checkpoint per chain.

use super::{now, Ctx, Store, StoreError};
use crate::manifest::ratify::Ratification;
use crate::manifest::Manifest;
use crate::model::BlockRef;

/// A registered group and how far its records are complete.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct GroupRow {
    pub id: String,
    pub chain: String,
    pub start_block: i64,
    pub synced_to: i64,
    pub created_at: String,
    /// Bumped by every change to what a fold starts from — each batch committed, an unwind, a
    /// new manifest version, an acknowledgement — whoever makes it: a batch folded from an
    /// older revision is folded again, and a group held in memory at an older one is read
    /// again.
    #[serde(skip)]
    pub revision: i64,
}

/// One version of a group's manifest, in force from `effective_block` on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ManifestVersion {
    pub group_id: String,
    pub version: i64,
    pub hash: String,
    pub effective_block: i64,
    pub created_at: String,
    pub manifest: Manifest,
    /// Who ratified the version, if anyone did.
    pub ratification: Option<Ratification>,
}

impl ManifestVersion {
    /// The version in force at `block` among a group's `versions` (in version order): the
    /// newest that took effect at or before it, or the first for blocks before any did.
    pub fn in_force_at(versions: &[ManifestVersion], block: i64) -> Option<&ManifestVersion> {
        versions
            .iter()
            .rev()
            .find(|v| v.effective_block <= block)
            .or(versions.first())
    }
}

/// A manifest version as stored, its document still text.
#[derive(sqlx::FromRow)]
pub(super) struct VersionRow {
    group_id: String,
    version: i64,
    hash: String,
    effective_block: i64,
    created_at: String,
    document: String,
    ratification: Option<String>,
}

impl TryFrom<VersionRow> for ManifestVersion {
    type Error = StoreError;

    /// Reads the stored document back (it was validated when it was stored).
    fn try_from(r: VersionRow) -> Result<ManifestVersion, StoreError> {
        let manifest = Manifest::from_canonical_json(&r.document)
            .map_err(|e| StoreError::Corrupt(format!("stored manifest: {e}")))?;
        let ratification = r
            .ratification
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("stored ratification: {e}")))?;
        Ok(ManifestVersion {
            group_id: r.group_id,
            version: r.version,
            hash: r.hash,
            effective_block: r.effective_block,
            created_at: r.created_at,
            manifest,
            ratification,
        })
    }
}

/// Stored versions read back, in their order.
pub(super) fn versions(rows: Vec<VersionRow>) -> Result<Vec<ManifestVersion>, StoreError> {
    rows.into_iter().map(ManifestVersion::try_from).collect()
}

impl Store {
    /// Registers a new group; its first version is in force from its `start_block`.
    pub async fn add_group(&self, manifest: &Manifest) -> Result<ManifestVersion, StoreError> {
        self.add_group_ratified(manifest, None).await
    }

    /// [`Store::add_group`], the first version carrying `ratification`.
    pub async fn add_group_ratified(
        &self,
        manifest: &Manifest,
        ratification: Option<&Ratification>,
    ) -> Result<ManifestVersion, StoreError> {
        let mut tx = self.pool.begin().await.ctx("adding group")?;
        let exists = sqlx::query("SELECT id FROM groups WHERE id = $1")
            .bind(&manifest.id)
            .fetch_optional(&mut *tx)
            .await
            .ctx("adding group")?;
        if exists.is_some() {
            return Err(StoreError::Conflict(format!(
                "group {} is already registered; use `group update`",
                manifest.id
            )));
        }
        let start = manifest.start_block as i64;
        sqlx::query(
            "INSERT INTO groups (id, chain, start_block, synced_to, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&manifest.id)
        .bind(&manifest.chain)
        .bind(start)
        .bind(start - 1)
        .bind(now())
        .execute(&mut *tx)
        .await
        .ctx("adding group")?;
        let version = insert_version(&mut tx, manifest, 1, start, ratification).await?;
        tx.commit().await.ctx("adding group")?;
        Ok(version)
    }

    /// Stores a new manifest version, in force from `effective_block` (default: the block after
    /// the chain's checkpoint). A version can only take effect at a block not yet processed, so
    /// history is never reconciled against a document that did not exist then.
    pub async fn update_group(
        &self,
        manifest: &Manifest,
        effective_block: Option<u64>,
    ) -> Result<ManifestVersion, StoreError> {
        self.update_group_ratified(manifest, effective_block, None, None)
            .await
    }

    /// [`Store::update_group`], the version carrying `ratification`; refused unless it becomes
    /// version `expected_version` (when given), so what was checked against the version
    /// before it is still what it follows.
    pub async fn update_group_ratified(
        &self,
        manifest: &Manifest,
        effective_block: Option<u64>,
        ratification: Option<&Ratification>,
        expected_version: Option<i64>,
    ) -> Result<ManifestVersion, StoreError> {
        let mut tx = self.pool.begin().await.ctx("updating group")?;
        lock_group_row(&mut tx, &manifest.id).await?;
        let group: GroupRow = sqlx::query_as("SELECT * FROM groups WHERE id = $1")
            .bind(&manifest.id)
            .fetch_optional(&mut *tx)
            .await
            .ctx("updating group")?
            .ok_or_else(|| StoreError::NotFound(format!("group {}", manifest.id)))?;
        if group.chain != manifest.chain {
            return Err(StoreError::Conflict(format!(
                "group {} follows chain {}; a manifest cannot move it to {}",
                group.id, group.chain, manifest.chain
            )));
        }
        let last: VersionRow = sqlx::query_as(
            "SELECT * FROM manifest_versions WHERE group_id = $1 ORDER BY version DESC LIMIT 1",
        )
        .bind(&manifest.id)
        .fetch_one(&mut *tx)
        .await
        .ctx("updating group")?;
        let last = ManifestVersion::try_from(last)?;
        if last.hash == manifest.hash().to_string() {
            return Err(StoreError::Conflict(format!(
                "group {}: this manifest is identical to version {} ({})",
                group.id, last.version, last.hash
            )));
        }
        if let Some(expected) = expected_version.filter(|v| *v != last.version + 1) {
            return Err(StoreError::Conflict(format!(
                "group {}: version {} was stored meanwhile, so this one would be version {}, \
                 not {expected}; check it again",
                group.id,
                last.version,
                last.version + 1
            )));
        }
        let processed = group.synced_to.max(last.effective_block - 1);
        let earliest = processed + 1;
        let effective = match effective_block {
            Some(b) if (b as i64) < earliest => {
                return Err(StoreError::Conflict(format!(
                    "effective block {b} is before block {earliest}, the first one group {} has \
                     not processed yet; a version cannot rewrite what was already reconciled",
                    group.id
                )))
            }
            Some(b) => b as i64,
            None => earliest,
        };
        let version =
            insert_version(&mut tx, manifest, last.version + 1, effective, ratification).await?;
        tx.commit().await.ctx("updating group")?;
        Ok(version)
    }

    pub async fn groups(&self) -> Result<Vec<GroupRow>, StoreError> {
        sqlx::query_as("SELECT * FROM groups ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .ctx("listing groups")
    }

    pub async fn group(&self, id: &str) -> Result<Option<GroupRow>, StoreError> {
        sqlx::query_as("SELECT * FROM groups WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .ctx("reading group")
    }

    /// Every version of a group's manifest, oldest first.
    pub async fn manifest_versions(&self, id: &str) -> Result<Vec<ManifestVersion>, StoreError> {
        let rows =
            sqlx::query_as("SELECT * FROM manifest_versions WHERE group_id = $1 ORDER BY version")
                .bind(id)
                .fetch_all(&self.pool)
                .await
                .ctx("reading manifest versions")?;
        versions(rows)
    }

    /// The groups following `chain`, by id.
    pub async fn chain_group_rows(&self, chain: &str) -> Result<Vec<GroupRow>, StoreError> {
        sqlx::query_as("SELECT * FROM groups WHERE chain = $1 ORDER BY id")
            .bind(chain)
            .fetch_all(&self.pool)
            .await
            .ctx("reading groups")
    }

    /// The last block the follower of `chain` committed, if any.
    pub async fn cursor(&self, chain: &str) -> Result<Option<(i64, String)>, StoreError> {
        sqlx::query_as("SELECT block_number, block_hash FROM chain_cursor WHERE chain = $1")
            .bind(chain)
            .fetch_optional(&self.pool)
            .await
            .ctx("reading cursor")
    }

    /// Processed blocks kept for reorg detection, newest first.
    pub async fn recent_blocks(&self, chain: &str) -> Result<Vec<BlockRef>, StoreError> {
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT block_number, block_hash, parent_hash FROM chain_blocks \
             WHERE chain = $1 ORDER BY block_number DESC",
        )
        .bind(chain)
        .fetch_all(&self.pool)
        .await
        .ctx("reading blocks")?;
        rows.into_iter()
            .map(|(number, hash, parent)| {
                Ok(BlockRef {
                    number: number as u64,
                    hash: hash
                        .parse()
                        .map_err(|_| StoreError::Corrupt(hash.clone()))?,
                    parent_hash: parent.parse().map_err(|_| StoreError::Corrupt(parent))?,
                })
            })
            .collect()
    }
}

/// Takes the group's write lock for the rest of the transaction and bumps its revision, so a
/// batch folded before this change is folded again: the UPDATE locks the row on PostgreSQL and
/// the database on SQLite, where `SELECT … FOR UPDATE` does not exist.
pub(super) async fn lock_group_row(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    group_id: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE groups SET revision = revision + 1 WHERE id = $1")
        .bind(group_id)
        .execute(&mut **tx)
        .await
        .ctx("locking group")?;
    Ok(())
}

async fn insert_version(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    manifest: &Manifest,
    version: i64,
    effective_block: i64,
    ratification: Option<&Ratification>,
) -> Result<ManifestVersion, StoreError> {
    let created_at = now();
    let hash = manifest.hash().to_string();
    let ratification_json = ratification
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("ratification: {e}")))?;
    sqlx::query(
        "INSERT INTO manifest_versions \
         (group_id, version, hash, effective_block, document, created_at, ratification) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&manifest.id)
    .bind(version)
    .bind(&hash)
    .bind(effective_block)
    .bind(manifest.canonical_json())
    .bind(&created_at)
    .bind(ratification_json)
    .execute(&mut **tx)
    .await
    .ctx("storing manifest version")?;
    Ok(ManifestVersion {
        group_id: manifest.id.clone(),
        version,
        hash,
        effective_block,
        created_at,
        manifest: manifest.clone(),
        ratification: ratification.cloned(),
    })
}
