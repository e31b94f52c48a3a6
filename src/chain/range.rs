//! Adaptive `eth_getLogs` ranges, shared by the backfill and every history scan of one chain:
//! start as wide as configured, split a range the node refuses as its refusal says (the range
//! it suggests, else the most blocks it accepts, else in halves), and grow back by half after
//! each success, up to the configured maximum — and never past a block-range cap a provider
//! named.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use alloy::rpc::types::{Filter, Log};

use super::refusals::{Refusal, RefusalKind};
use super::rpc::{Rpc, RpcError, RpcErrorKind};

/// The current range size of one chain, shrunk on refusals and grown on successes. Cheap to
/// clone; clones share the size.
#[derive(Debug, Clone)]
pub struct AdaptiveRange {
    size: Arc<AtomicU64>,
    /// The most blocks a request may span: the configured maximum, or less once a provider
    /// named its block-range cap.
    ceiling: Arc<AtomicU64>,
}

impl AdaptiveRange {
    /// Starts at `max` blocks per request.
    pub fn new(max: u64) -> AdaptiveRange {
        let max = max.max(1);
        AdaptiveRange {
            size: Arc::new(AtomicU64::new(max)),
            ceiling: Arc::new(AtomicU64::new(max)),
        }
    }

    /// Blocks per request now.
    pub fn size(&self) -> u64 {
        self.size.load(Ordering::Relaxed).max(1)
    }

    fn grow(&self) {
        let cur = self.size.load(Ordering::Relaxed);
        let grown = (cur + cur / 2 + 1).min(self.ceiling.load(Ordering::Relaxed));
        let _ = self
            .size
            .compare_exchange(cur, grown, Ordering::Relaxed, Ordering::Relaxed);
    }

    fn shrink_to(&self, blocks: u64) {
        self.size.fetch_min(blocks.max(1), Ordering::Relaxed);
    }

    /// Remembers a provider's block-range cap: no request grows past it again.
    fn cap(&self, blocks: u64) {
        self.ceiling.fetch_min(blocks.max(1), Ordering::Relaxed);
        self.shrink_to(blocks);
    }

    /// `eth_getLogs` of `template` over `a..=b` as one request, split as the node's refusals
    /// say; the logs in chain order.
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
                    let pieces = split(x, y, e.refusal.as_deref());
                    let first = pieces[0].1 - pieces[0].0 + 1;
                    if let Some(max) = e
                        .refusal
                        .as_deref()
                        .filter(|r| r.kind == RefusalKind::TooManyBlocks)
                        .and_then(|r| r.max_blocks)
                    {
                        self.cap(max);
                    }
                    self.shrink_to(first);
                    tracing::debug!(
                        from = x,
                        to = y,
                        pieces = pieces.len(),
                        first,
                        source = e.refusal.as_deref().map(|r| r.source),
                        "range refused; splitting"
                    );
                    // Pushed last first, so the pieces are fetched in chain order.
                    stack.extend(pieces.into_iter().rev());
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

/// How to split a refused request `x..=y` (`x < y`), in chain order: at the end of the range
/// the provider suggested when it starts at `x` and is shorter (reth, Infura, Alchemy); else
/// into pieces of the most blocks the provider accepts when that is fewer; else in halves.
pub fn split(x: u64, y: u64, refusal: Option<&Refusal>) -> Vec<(u64, u64)> {
    let span = y - x + 1;
    if let Some(s) = refusal.and_then(|r| r.suggested) {
        // A suggestion that is not a strict prefix of the request (some reth versions suggest
        // the very range refused, paradigmxyz/reth#23810) says nothing: fall through.
        if s.from == x && s.to >= x && s.to < y {
            return vec![(x, s.to), (s.to + 1, y)];
        }
    }
    if let Some(max) = refusal.and_then(|r| r.max_blocks).filter(|&m| m < span) {
        let mut pieces = Vec::with_capacity(span.div_ceil(max) as usize);
        let mut from = x;
        loop {
            let to = y.min(from + (max - 1));
            pieces.push((from, to));
            if to == y {
                return pieces;
            }
            from = to + 1;
        }
    }
    let mid = x + (y - x) / 2;
    vec![(x, mid), (mid + 1, y)]
}

#[cfg(test)]
mod tests {
    use super::super::refusals::recognise;
    use super::*;

    fn refusal(message: &str) -> Refusal {
        recognise(-32602, message).unwrap()
    }

    #[test]
    fn a_suggested_range_is_taken_as_it_is() {
        let r = refusal("query exceeds max results 20000, retry with the range 100-149");
        assert_eq!(split(100, 999, Some(&r)), [(100, 149), (150, 999)]);
        let r = refusal(
            "query returned more than 10000 results. Try with this block range [0x64, 0x95].",
        );
        assert_eq!(split(100, 999, Some(&r)), [(100, 149), (150, 999)]);
        // A suggestion that does not start the request, or is the request itself: halves.
        let r = refusal("query exceeds max results 20000, retry with the range 100-999");
        assert_eq!(split(100, 999, Some(&r)), [(100, 549), (550, 999)]);
        let r = refusal("query exceeds max results 20000, retry with the range 5-50");
        assert_eq!(split(100, 999, Some(&r)), [(100, 549), (550, 999)]);
    }

    #[test]
    fn a_named_maximum_cuts_the_range_into_pieces_of_that_size() {
        let r = refusal("eth_getLogs is limited to a 300 range");
        assert_eq!(
            split(1, 1000, Some(&r)),
            [(1, 300), (301, 600), (601, 900), (901, 1000)]
        );
        // A maximum no smaller than the request says nothing more: halves.
        let r = refusal("exceed maximum block range: 5000");
        assert_eq!(split(1, 1000, Some(&r)), [(1, 500), (501, 1000)]);
    }

    #[test]
    fn anything_else_is_halved() {
        assert_eq!(split(10, 11, None), [(10, 10), (11, 11)]);
        let r = refusal("Block range limit exceeded.");
        assert_eq!(split(0, 9, Some(&r)), [(0, 4), (5, 9)]);
    }

    #[test]
    fn a_named_range_cap_is_never_grown_past() {
        let r = AdaptiveRange::new(1000);
        r.cap(300);
        assert_eq!(r.size(), 300);
        for _ in 0..30 {
            r.grow();
        }
        assert_eq!(r.size(), 300);
        r.shrink_to(10);
        for _ in 0..30 {
            r.grow();
        }
        assert_eq!(
            r.size(),
            300,
            "a result cap shrinks, then grows back to the cap"
        );
    }

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
