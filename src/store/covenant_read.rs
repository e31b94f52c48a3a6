//! The covenants' findings as stored: the divergences of the party groups whose rule is a
//! covenant's verdict and whose item names the covenant (`id@version#clause[/wWINDOW]`).
//!
//! Invariant: every query is bounded by a `LIMIT` or by the open findings, which a fold keeps
//! to one per clause and window. No policy: which finding decides a clause's verdict is the
//! read side's business.

use super::{Ctx, Divergence, Store, StoreError};
use crate::model::Rule;

/// The rules of covenant findings.
const RULES: [Rule; 2] = [Rule::CovenantBreach, Rule::CovenantAtRisk];

impl Store {
    /// Every finding of covenant `id`, of any version and status, over every group, newest
    /// first (by opening block, then group and number); at most `limit`.
    pub async fn covenant_findings(
        &self,
        id: &str,
        limit: i64,
    ) -> Result<Vec<Divergence>, StoreError> {
        // Covenant ids are `[a-z0-9-]`: no `LIKE` wildcard can hide in one.
        sqlx::query_as(&format!(
            "SELECT * FROM divergences WHERE rule IN ($1, $2) AND item LIKE $3 \
             ORDER BY opened_block DESC, group_id, n DESC LIMIT {}",
            limit.max(0)
        ))
        .bind(RULES[0].as_str())
        .bind(RULES[1].as_str())
        .bind(format!("{id}@%"))
        .fetch_all(&self.pool)
        .await
        .ctx("reading a covenant's findings")
    }

    /// Every open (or acknowledged) covenant finding, of every covenant and group, by group
    /// and number.
    pub async fn open_covenant_findings(&self) -> Result<Vec<Divergence>, StoreError> {
        sqlx::query_as(
            "SELECT * FROM divergences WHERE rule IN ($1, $2) \
             AND status IN ('open', 'acknowledged') ORDER BY group_id, n",
        )
        .bind(RULES[0].as_str())
        .bind(RULES[1].as_str())
        .fetch_all(&self.pool)
        .await
        .ctx("reading open covenant findings")
    }
}

impl Store {
    /// Which party ratified which version of which covenant, over every covenant, as
    /// `(covenant, version, party)` in that order: what a list of covenants needs of the
    /// ratifications, in one query.
    pub async fn covenant_ratified_parties(
        &self,
    ) -> Result<Vec<(String, i64, String)>, StoreError> {
        sqlx::query_as(
            "SELECT covenant_id, version, party FROM covenant_ratifications \
             ORDER BY covenant_id, version, party",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("reading covenant ratifications")
    }
}
