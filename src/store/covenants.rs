//! Covenants as stored: versions with their canonical documents, the groups party to each,
//! the parties' ratifications, and which sinks hear of which covenant.

use std::collections::BTreeMap;

use super::{now, Ctx, Store, StoreError};
use crate::manifest::covenant::Covenant;
use crate::manifest::ratify::Ratification;

/// One version of a covenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CovenantVersion {
    pub covenant_id: String,
    pub version: i64,
    pub hash: String,
    pub created_at: String,
    pub covenant: Covenant,
}

/// One party's ratification of one covenant version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CovenantRatificationRow {
    pub covenant_id: String,
    pub version: i64,
    pub party: String,
    pub ratification: Ratification,
    pub created_at: String,
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    covenant_id: String,
    version: i64,
    hash: String,
    document: String,
    created_at: String,
}

impl TryFrom<VersionRow> for CovenantVersion {
    type Error = StoreError;

    fn try_from(r: VersionRow) -> Result<CovenantVersion, StoreError> {
        let covenant = Covenant::parse(&r.document)
            .map_err(|e| StoreError::Corrupt(format!("stored covenant {}: {e}", r.covenant_id)))?;
        Ok(CovenantVersion {
            covenant_id: r.covenant_id,
            version: r.version,
            hash: r.hash,
            created_at: r.created_at,
            covenant,
        })
    }
}

fn read(rows: Vec<VersionRow>) -> Result<Vec<CovenantVersion>, StoreError> {
    rows.into_iter().map(CovenantVersion::try_from).collect()
}

/// The covenants as read at a fingerprint (how many versions there are, and the sum of their
/// numbers: any add or update changes it).
pub(super) type Cached = ((i64, i64), std::sync::Arc<Vec<CovenantVersion>>);

/// The newest version of each covenant, as a subquery's condition on `v`.
const NEWEST: &str = "v.version = (SELECT MAX(w.version) FROM covenant_versions w \
                      WHERE w.covenant_id = v.covenant_id)";

impl Store {
    /// Registers a covenant: version 1. Refused if its id is taken.
    pub async fn add_covenant(&self, c: &Covenant) -> Result<CovenantVersion, StoreError> {
        self.add_covenant_ratified(c, &[]).await
    }

    /// [`Store::add_covenant`], with the parties' ratifications of version 1 in the same
    /// transaction: all of it is stored, or none.
    pub async fn add_covenant_ratified(
        &self,
        c: &Covenant,
        ratifications: &[(String, Ratification)],
    ) -> Result<CovenantVersion, StoreError> {
        let ctx = "adding covenant";
        let mut tx = self.pool.begin().await.ctx(ctx)?;
        let exists: Option<i64> = sqlx::query_scalar(
            "SELECT version FROM covenant_versions WHERE covenant_id = $1 LIMIT 1",
        )
        .bind(&c.id)
        .fetch_optional(&mut *tx)
        .await
        .ctx(ctx)?;
        if exists.is_some() {
            return Err(StoreError::Conflict(format!(
                "covenant {} is already registered; use `covenant update`",
                c.id
            )));
        }
        let v = insert_version(&mut tx, c, 1).await?;
        for (party, r) in ratifications {
            insert_ratification(&mut tx, &v, party, r).await?;
        }
        tx.commit().await.ctx(ctx)?;
        Ok(v)
    }

    /// Stores a new version of a covenant, refused if it says what the newest says, or (with
    /// `expected_version`) if it would not become that version.
    pub async fn update_covenant(
        &self,
        c: &Covenant,
        expected_version: Option<i64>,
    ) -> Result<CovenantVersion, StoreError> {
        self.update_covenant_ratified(c, expected_version, &[])
            .await
    }

    /// [`Store::update_covenant`], with the parties' ratifications of the new version in the
    /// same transaction.
    pub async fn update_covenant_ratified(
        &self,
        c: &Covenant,
        expected_version: Option<i64>,
        ratifications: &[(String, Ratification)],
    ) -> Result<CovenantVersion, StoreError> {
        let ctx = "updating covenant";
        let mut tx = self.pool.begin().await.ctx(ctx)?;
        let last: Option<(i64, String)> = sqlx::query_as(
            "SELECT version, hash FROM covenant_versions WHERE covenant_id = $1 \
             ORDER BY version DESC LIMIT 1",
        )
        .bind(&c.id)
        .fetch_optional(&mut *tx)
        .await
        .ctx(ctx)?;
        let Some((last, hash)) = last else {
            return Err(StoreError::NotFound(format!("covenant {}", c.id)));
        };
        if hash == c.hash().to_string() {
            return Err(StoreError::Conflict(format!(
                "covenant {}: this document is identical to version {last} ({hash})",
                c.id
            )));
        }
        if let Some(expected) = expected_version.filter(|e| *e != last + 1) {
            return Err(StoreError::Conflict(format!(
                "covenant {}: version {last} was stored meanwhile, so this one would be version {}, not {expected}",
                c.id,
                last + 1
            )));
        }
        // The groups that were parties hear of the change too (their findings of the old
        // version are settled by the next fold).
        bump_parties(&mut tx, &c.id).await?;
        sqlx::query("DELETE FROM covenant_parties WHERE covenant_id = $1")
            .bind(&c.id)
            .execute(&mut *tx)
            .await
            .ctx(ctx)?;
        let v = insert_version(&mut tx, c, last + 1).await?;
        for (party, r) in ratifications {
            insert_ratification(&mut tx, &v, party, r).await?;
        }
        tx.commit().await.ctx(ctx)?;
        Ok(v)
    }

    /// [`Store::covenants`], read again only when a covenant was added or updated since the
    /// last read (one small query otherwise): what the follower asks at every step.
    pub async fn covenants_cached(
        &self,
    ) -> Result<std::sync::Arc<Vec<CovenantVersion>>, StoreError> {
        let (n, sum): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(version), 0) AS BIGINT) FROM covenant_versions",
        )
        .fetch_one(&self.pool)
        .await
        .ctx("reading the covenants' fingerprint")?;
        if let Some((at, list)) = &*self.covenants.lock().expect("covenant cache lock") {
            if *at == (n, sum) {
                return Ok(list.clone());
            }
        }
        let list = std::sync::Arc::new(self.covenants().await?);
        *self.covenants.lock().expect("covenant cache lock") = Some(((n, sum), list.clone()));
        Ok(list)
    }

    /// The newest version of every covenant, by id.
    pub async fn covenants(&self) -> Result<Vec<CovenantVersion>, StoreError> {
        let rows = sqlx::query_as(&format!(
            "SELECT v.* FROM covenant_versions v WHERE {NEWEST} ORDER BY v.covenant_id"
        ))
        .fetch_all(&self.pool)
        .await
        .ctx("listing covenants")?;
        read(rows)
    }

    /// Every version of a covenant, oldest first (empty: no such covenant).
    pub async fn covenant_versions(&self, id: &str) -> Result<Vec<CovenantVersion>, StoreError> {
        let rows = sqlx::query_as(
            "SELECT * FROM covenant_versions WHERE covenant_id = $1 ORDER BY version",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .ctx("reading covenant")?;
        read(rows)
    }

    /// The newest version of every covenant group `group_id` is a party to, by id.
    pub async fn covenants_of_group(
        &self,
        group_id: &str,
    ) -> Result<Vec<CovenantVersion>, StoreError> {
        let mut conn = self.pool.acquire().await.ctx("reading covenants")?;
        covenants_of_group(&mut conn, group_id).await
    }

    /// Stores a party's ratification of a covenant version (replacing an earlier one of the
    /// same party and version).
    pub async fn add_covenant_ratification(
        &self,
        covenant_id: &str,
        version: i64,
        party: &str,
        ratification: &Ratification,
    ) -> Result<(), StoreError> {
        let ctx = "storing covenant ratification";
        let mut tx = self.pool.begin().await.ctx(ctx)?;
        let v = (covenant_id, version);
        replace_ratification(&mut tx, v, party, ratification).await?;
        tx.commit().await.ctx(ctx)?;
        Ok(())
    }

    /// Every party's ratification of every version of a covenant, by version then party.
    pub async fn covenant_ratifications(
        &self,
        covenant_id: &str,
    ) -> Result<Vec<CovenantRatificationRow>, StoreError> {
        let rows: Vec<(String, i64, String, String, String)> = sqlx::query_as(
            "SELECT covenant_id, version, party, ratification, created_at FROM covenant_ratifications \
             WHERE covenant_id = $1 ORDER BY version, party",
        )
        .bind(covenant_id)
        .fetch_all(&self.pool)
        .await
        .ctx("reading covenant ratifications")?;
        rows.into_iter()
            .map(|(covenant_id, version, party, text, created_at)| {
                let ratification = serde_json::from_str(&text).map_err(|e| {
                    StoreError::Corrupt(format!("stored covenant ratification: {e}"))
                })?;
                Ok(CovenantRatificationRow {
                    covenant_id,
                    version,
                    party,
                    ratification,
                    created_at,
                })
            })
            .collect()
    }

    /// The sinks each covenant's newest version names (`notify`), by covenant id; covenants
    /// naming none are left out.
    pub async fn covenant_sinks(&self) -> Result<BTreeMap<String, Vec<String>>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(&format!(
            "SELECT v.covenant_id, v.document FROM covenant_versions v WHERE {NEWEST}"
        ))
        .fetch_all(&self.pool)
        .await
        .ctx("reading covenant sinks")?;
        let mut out = BTreeMap::new();
        for (id, document) in rows {
            // Only `notify` is needed: the document was validated when it was stored.
            #[derive(serde::Deserialize)]
            struct Notify {
                #[serde(default)]
                notify: Vec<String>,
            }
            let n: Notify = serde_json::from_str(&document)
                .map_err(|e| StoreError::Corrupt(format!("stored covenant {id}: {e}")))?;
            if !n.notify.is_empty() {
                out.insert(id, n.notify);
            }
        }
        Ok(out)
    }
}

/// The newest version of every covenant a group is a party to.
pub(super) async fn covenants_of_group(
    conn: &mut sqlx::AnyConnection,
    group_id: &str,
) -> Result<Vec<CovenantVersion>, StoreError> {
    let rows = sqlx::query_as(&format!(
        "SELECT v.* FROM covenant_versions v JOIN covenant_parties p \
         ON p.covenant_id = v.covenant_id WHERE p.group_id = $1 AND {NEWEST} \
         ORDER BY v.covenant_id"
    ))
    .bind(group_id)
    .fetch_all(&mut *conn)
    .await
    .ctx("reading a group's covenants")?;
    read(rows)
}

/// Stores `party`'s ratification of version `v` (covenant id, version), replacing an earlier
/// one of the same party and version.
async fn replace_ratification(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    (covenant_id, version): (&str, i64),
    party: &str,
    ratification: &Ratification,
) -> Result<(), StoreError> {
    let ctx = "storing covenant ratification";
    let text = serde_json::to_string(ratification).expect("a ratification serialises");
    sqlx::query(
        "DELETE FROM covenant_ratifications WHERE covenant_id = $1 AND version = $2 AND party = $3",
    )
    .bind(covenant_id)
    .bind(version)
    .bind(party)
    .execute(&mut **tx)
    .await
    .ctx(ctx)?;
    sqlx::query(
        "INSERT INTO covenant_ratifications (covenant_id, version, party, ratification, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(covenant_id)
    .bind(version)
    .bind(party)
    .bind(text)
    .bind(now())
    .execute(&mut **tx)
    .await
    .ctx(ctx)?;
    Ok(())
}

/// [`replace_ratification`] of a version just inserted.
async fn insert_ratification(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    v: &CovenantVersion,
    party: &str,
    ratification: &Ratification,
) -> Result<(), StoreError> {
    replace_ratification(tx, (&v.covenant_id, v.version), party, ratification).await
}

/// Moves the revision of every group party to covenant `id` on, so that a follower folding
/// them starts again from what is stored now.
async fn bump_parties(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE groups SET revision = revision + 1 WHERE id IN \
         (SELECT group_id FROM covenant_parties WHERE covenant_id = $1)",
    )
    .bind(id)
    .execute(&mut **tx)
    .await
    .ctx("moving the parties of a covenant on")?;
    Ok(())
}

async fn insert_version(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    c: &Covenant,
    version: i64,
) -> Result<CovenantVersion, StoreError> {
    let ctx = "storing covenant version";
    let hash = c.hash().to_string();
    let created_at = now();
    sqlx::query(
        "INSERT INTO covenant_versions (covenant_id, version, hash, document, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&c.id)
    .bind(version)
    .bind(&hash)
    .bind(c.canonical_json())
    .bind(&created_at)
    .execute(&mut **tx)
    .await
    .ctx(ctx)?;
    for g in c.groups() {
        sqlx::query("INSERT INTO covenant_parties (covenant_id, group_id) VALUES ($1, $2)")
            .bind(&c.id)
            .bind(g)
            .execute(&mut **tx)
            .await
            .ctx(ctx)?;
    }
    bump_parties(tx, &c.id).await?;
    Ok(CovenantVersion {
        covenant_id: c.id.clone(),
        version,
        hash,
        created_at,
        covenant: c.clone(),
    })
}
