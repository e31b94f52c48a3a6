//! Unwind: everything derived from blocks above a fork goes, in one transaction — the alerts
//! that say so (retracted, reopened), the ledger's retraction of what the log had taken as
//! final, and the store's removal of the rows and the checkpoint's move.

use crate::alert::NewAlert;
use crate::ledger::{self, LedgerError, Retraction};
use crate::model::{AlertEvent, BlockRef};
use crate::store::Store;

/// Rolls `chain` back to `fork` (`None`: before its first block) in one transaction: an alert
/// for every divergence opened (`retracted`) or resolved (`reopened`) above it, a retraction of
/// final log entries above it (with its `log.finalized_reorg` divergences and their alerts),
/// then every derived row above it removed. Returns the retraction, if one was appended.
#[tracing::instrument(skip_all, fields(chain, fork = ?fork.map(|f| f.number)))]
pub async fn unwind(
    store: &Store,
    chain: &str,
    fork: Option<BlockRef>,
) -> Result<Option<Retraction>, LedgerError> {
    let n = fork.map(|f| f.number as i64).unwrap_or(-1);
    let mut tx = store.begin_unwind(chain).await?;
    let mut alerts: Vec<NewAlert> = tx
        .divergences_above(n)
        .await?
        .iter()
        .map(|d| {
            let event = if d.opened_block > n {
                AlertEvent::Retracted
            } else {
                AlertEvent::Reopened
            };
            NewAlert::new(chain, event, d)
        })
        .collect();
    let retraction = ledger::retract(&mut tx, fork).await?;
    if let Some(r) = &retraction {
        alerts.extend(
            r.opened
                .iter()
                .map(|d| NewAlert::new(chain, AlertEvent::Opened, d)),
        );
    }
    tx.write_alerts(&alerts).await?;
    tx.delete_above(fork).await?;
    tx.commit().await?;
    Ok(retraction)
}
