//! Reorg detection as pure functions of block refs: does a fetched batch extend the
//! checkpoint, link by link, and do its logs belong to its blocks; and where, among the blocks
//! remembered within the reorg window, does the canonical chain fork from what was indexed.

use std::collections::HashMap;

use alloy::primitives::B256;

use crate::model::BlockRef;

/// Whether a batch of blocks `from..=to` extends `parent` (the checkpoint's hash, if any): its
/// refs, when it holds every block, link by parent hash, and every log's `(block number,
/// block hash)` is the hash of that block. A batch without its last block never does.
pub fn extends(
    from: u64,
    to: u64,
    blocks: &[BlockRef],
    logs: impl IntoIterator<Item = (u64, B256)>,
    parent: Option<B256>,
) -> bool {
    if blocks.last().map(|b| b.number) != Some(to) {
        return false;
    }
    let contiguous = blocks.len() as u64 == to - from + 1;
    if !contiguous {
        // Far from the head only the last block is fetched: nothing to link.
        return true;
    }
    let mut expected = parent;
    for b in blocks {
        if expected.is_some_and(|p| p != b.parent_hash) {
            return false;
        }
        expected = Some(b.hash);
    }
    logs.into_iter().all(|(number, hash)| {
        let i = number.wrapping_sub(from) as usize;
        blocks.get(i).map(|b| b.hash) == Some(hash)
    })
}

/// Where the search for a fork point stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fork {
    /// The newest remembered block that is still canonical.
    At(BlockRef),
    /// None of the remembered blocks is canonical; the oldest was this one.
    BeyondWindow { oldest: u64 },
    /// Nothing remembered at all.
    Unknown,
}

/// The newest of `remembered` (newest first) whose hash the canonical chain still has at its
/// number, given the canonical hashes looked up so far; `None` if a remembered block must be
/// looked up before the answer is known.
pub fn fork_point(remembered: &[BlockRef], canonical: &HashMap<u64, Option<B256>>) -> Option<Fork> {
    for b in remembered {
        match canonical.get(&b.number) {
            None => return None,
            Some(Some(h)) if *h == b.hash => return Some(Fork::At(*b)),
            Some(_) => {}
        }
    }
    Some(match remembered.last() {
        Some(oldest) => Fork::BeyondWindow {
            oldest: oldest.number,
        },
        None => Fork::Unknown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(fork: u8, from: u64, to: u64, parent: B256) -> Vec<BlockRef> {
        let mut out = Vec::new();
        let mut p = parent;
        for n in from..=to {
            let mut h = [fork; 32];
            h[..8].copy_from_slice(&n.to_be_bytes());
            let b = BlockRef {
                number: n,
                hash: B256::from(h),
                parent_hash: p,
            };
            p = b.hash;
            out.push(b);
        }
        out
    }

    #[test]
    fn a_batch_extends_its_parent_link_by_link() {
        let blocks = chain(1, 10, 14, B256::repeat_byte(9));
        let logs = vec![(12, blocks[2].hash)];
        assert!(extends(
            10,
            14,
            &blocks,
            logs.clone(),
            Some(B256::repeat_byte(9))
        ));
        assert!(extends(10, 14, &blocks, logs.clone(), None));
        assert!(
            !extends(10, 14, &blocks, logs, Some(B256::repeat_byte(8))),
            "wrong parent"
        );
        let other = chain(2, 10, 14, B256::repeat_byte(9));
        assert!(
            !extends(10, 14, &blocks, vec![(12, other[2].hash)], None),
            "a log of another fork"
        );
        let mut broken = blocks.clone();
        broken[3].parent_hash = B256::ZERO;
        assert!(
            !extends(10, 14, &broken, vec![], None),
            "a broken link inside"
        );
        assert!(
            !extends(10, 15, &blocks, vec![], None),
            "the last block is missing"
        );
        assert!(
            extends(10, 14, &blocks[4..], vec![], Some(B256::ZERO)),
            "far from the head only the last block is known"
        );
    }

    #[test]
    fn the_fork_is_the_newest_remembered_block_still_canonical() {
        let ours = chain(1, 0, 9, B256::ZERO);
        let remembered: Vec<BlockRef> = ours.iter().rev().copied().collect();
        let mut canonical = HashMap::new();
        assert_eq!(
            fork_point(&remembered, &canonical),
            None,
            "nothing looked up yet"
        );
        // Blocks 8 and 9 were replaced, 7 is still ours.
        canonical.insert(9, Some(B256::repeat_byte(0xee)));
        canonical.insert(8, None);
        assert_eq!(
            fork_point(&remembered, &canonical),
            None,
            "7 not looked up yet"
        );
        canonical.insert(7, Some(ours[7].hash));
        assert_eq!(fork_point(&remembered, &canonical), Some(Fork::At(ours[7])));
        let all_gone: HashMap<u64, Option<B256>> = (0..10).map(|n| (n, None)).collect();
        assert_eq!(
            fork_point(&remembered, &all_gone),
            Some(Fork::BeyondWindow { oldest: 0 })
        );
        assert_eq!(fork_point(&[], &all_gone), Some(Fork::Unknown));
    }
}
