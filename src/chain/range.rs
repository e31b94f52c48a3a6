//! Adaptive `eth_getLogs` ranges, shared by the backfill and every history scan of one chain:
//! start as wide as configured, halve a range the node refuses (too many blocks or results),
//! and grow back by half after each success, up to the configured maximum.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use alloy::rpc::types::{Filter, Log};

use super::rpc::{Rpc, RpcError, RpcErrorKind};

/// The current range size of one chain, shrunk on refusals and grown on successes. Cheap to
/// clone; clones share the size.
#[derive(Debug, Clone)]
pub struct AdaptiveRange {
    size: Arc<AtomicU64>,
    max: u64,
}

impl AdaptiveRange {
    /// Starts at `max` blocks per request.
    pub fn new(max: u64) -> AdaptiveRange {
        let max = max.max(1);
        AdaptiveRange {
            size: Arc::new(AtomicU64::new(max)),
            max,
        }
    }

    /// Blocks per request now.
    pub fn size(&self) -> u64 {
        self.size.load(Ordering::Relaxed).max(1)
    }

    fn grow(&self) {
        let cur = self.size.load(Ordering::Relaxed);
        let grown = (cur + cur / 2 + 1).min(self.max);
        let _ = self
            .size
            .compare_exchange(cur, grown, Ordering::Relaxed, Ordering::Relaxed);
    }

    fn shrink_to(&self, blocks: u64) {
        self.size.fetch_min(blocks.max(1), Ordering::Relaxed);
    }

    /// `eth_getLogs` of `template` over `a..=b` as one request, halved while the node refuses
    /// it; the logs in chain order.
    pub async fn logs(
        &self,
        rpc: &Rpc,
        template: &Filter,
        a: u64,
        b: u64,
    ) -> Result<Vec<Log>, RpcError> {
        let mut out = Vec::new();
        let mut stack = vec![(a, b)];
        while let Some((x, y)) = stack.pop() {
            let filter = template.clone().from_block(x).to_block(y);
            match rpc.logs(&filter).await {
                Ok(mut logs) => {
                    out.append(&mut logs);
                    self.grow();
                }
                Err(e) if e.kind == RpcErrorKind::RangeTooLarge && y > x => {
                    let mid = x + (y - x) / 2;
                    self.shrink_to((y - x) / 2);
                    tracing::debug!(from = x, to = y, "range refused; splitting");
                    // Push the upper half first so the lower half is fetched first.
                    stack.push((mid + 1, y));
                    stack.push((x, mid));
                }
                Err(e) => return Err(e),
            }
        }
        out.sort_by_key(|l| (l.block_number, l.log_index));
        Ok(out)
    }

    /// `eth_getLogs` of `template` over a long span `a..=b`, one request of the current size
    /// after another (each split as the node demands), for history scans.
    pub async fn sweep(
        &self,
        rpc: &Rpc,
        template: &Filter,
        a: u64,
        b: u64,
    ) -> Result<Vec<Log>, RpcError> {
        let mut out = Vec::new();
        let mut from = a;
        while from <= b {
            let to = b.min(from.saturating_add(self.size() - 1));
            out.extend(self.logs(rpc, template, from, to).await?);
            if to == u64::MAX {
                break;
            }
            from = to + 1;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_shrinks_on_refusal_and_grows_back_to_the_maximum() {
        let r = AdaptiveRange::new(1000);
        assert_eq!(r.size(), 1000);
        r.shrink_to(10);
        assert_eq!(r.size(), 10);
        r.shrink_to(500);
        assert_eq!(r.size(), 10, "shrinking never grows");
        for _ in 0..30 {
            r.grow();
        }
        assert_eq!(r.size(), 1000);
        let shared = r.clone();
        shared.shrink_to(0);
        assert_eq!(r.size(), 1, "clones share the size; never below one block");
    }
}
