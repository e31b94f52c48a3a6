//! Token metadata by chain: written with the batch that first saw a token move in or out of a
//! treasury (read by the fetch phase beforehand), read back by the read side to show amounts in
//! token units. A token keeps the first metadata written for it.

use sqlx::{Any, Transaction};

use super::{Backend, Ctx, StoreError};

/// A token's symbol, decimals and name as its contract answered; `None` where it did not
/// answer, or answered something that is not one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct TokenRow {
    /// The token's checksummed address.
    pub address: String,
    pub symbol: Option<String>,
    pub decimals: Option<i64>,
    pub name: Option<String>,
}

pub(super) async fn insert_tokens(
    tx: &mut Transaction<'static, Any>,
    chain: &str,
    rows: &[TokenRow],
) -> Result<(), StoreError> {
    // Two fetches may both read a new token; the first write wins.
    let sql = "INSERT INTO tokens (chain, address, symbol, decimals, name) \
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT (chain, address) DO NOTHING";
    for t in rows {
        sqlx::query(sql)
            .bind(chain)
            .bind(&t.address)
            .bind(&t.symbol)
            .bind(t.decimals)
            .bind(&t.name)
            .execute(&mut **tx)
            .await
            .ctx("storing token metadata")?;
    }
    Ok(())
}

impl super::Store {
    /// Every token address of `chain` with stored metadata.
    pub async fn token_addresses(&self, chain: &str) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar("SELECT address FROM tokens WHERE chain = $1")
            .bind(chain)
            .fetch_all(&self.pool)
            .await
            .ctx("reading known tokens")
    }

    /// The stored metadata of every token of `chain`.
    pub async fn chain_tokens(&self, chain: &str) -> Result<Vec<TokenRow>, StoreError> {
        sqlx::query_as("SELECT address, symbol, decimals, name FROM tokens WHERE chain = $1")
            .bind(chain)
            .fetch_all(&self.pool)
            .await
            .ctx("reading token metadata")
    }

    /// The stored metadata of `addresses` on `chain` (those without any are left out).
    pub async fn tokens(
        &self,
        chain: &str,
        addresses: &[String],
    ) -> Result<Vec<TokenRow>, StoreError> {
        if addresses.is_empty() {
            return Ok(Vec::new());
        }
        let list = serde_json::Value::from(addresses.to_vec()).to_string();
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT address, symbol, decimals, name FROM tokens WHERE chain = $1 \
                 AND address IN (SELECT value FROM json_each($2))"
            }
            Backend::Postgres => {
                "SELECT address, symbol, decimals, name FROM tokens WHERE chain = $1 \
                 AND address IN (SELECT jsonb_array_elements_text($2::jsonb))"
            }
        };
        sqlx::query_as(sql)
            .bind(chain)
            .bind(list)
            .fetch_all(&self.pool)
            .await
            .ctx("reading token metadata")
    }
}
