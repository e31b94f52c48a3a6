//! The verifiable log's Merkle tree in memory: append throughput at 1,000,000 leaves, and the
//! time to produce and verify an inclusion and a consistency proof at that size. (The stored
//! log, its checkpoints and `verify` come with the ledger's store; this measures the core.)
//!
//! `cargo bench --bench merkle`

use std::time::{Duration, Instant};

use groupstate::ledger::merkle::{
    consistency_proof, inclusion_proof, leaf_hash, root, verify_consistency, verify_inclusion,
    MemoryTree,
};

fn best_of<T>(n: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..n {
        let started = Instant::now();
        let v = f();
        best = best.min(started.elapsed());
        out = Some(v);
    }
    (best, out.expect("n >= 1"))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    const N: u64 = 1_000_000;
    let (append, tree) = best_of(3, || {
        let mut tree = MemoryTree::new();
        for i in 0..N {
            tree.append(leaf_hash(&i.to_be_bytes()));
        }
        tree
    });
    let tree_root = tree.root();
    let (index, old_size) = (765_432u64, 654_321u64);
    let reps = 10_000;
    let (incl, proof) = best_of(1, || {
        let mut p = Vec::new();
        for _ in 0..reps {
            p = inclusion_proof(&tree, index, N).unwrap();
        }
        p
    });
    let (cons, cproof) = best_of(1, || {
        let mut p = Vec::new();
        for _ in 0..reps {
            p = consistency_proof(&tree, old_size, N).unwrap();
        }
        p
    });
    let old_root = root(&tree, old_size).unwrap();
    let leaf = leaf_hash(&index.to_be_bytes());
    let (verify, ()) = best_of(1, || {
        for _ in 0..reps {
            verify_inclusion(&leaf, index, N, &proof, &tree_root).unwrap();
            verify_consistency(old_size, N, &old_root, &tree_root, &cproof).unwrap();
        }
    });
    let us = |d: Duration| d.as_secs_f64() * 1e6 / reps as f64;
    println!("## Merkle tree, in memory, {N} leaves\n");
    println!("| operation | time |");
    println!("| --- | ---: |");
    println!(
        "| append {N} leaves (best of 3) | {:.3} s ({:.0} leaves/s) |",
        append.as_secs_f64(),
        N as f64 / append.as_secs_f64()
    );
    println!(
        "| inclusion proof, leaf {index} ({} hashes) | {:.2} µs |",
        proof.len(),
        us(incl)
    );
    println!(
        "| consistency proof {old_size} → {N} ({} hashes) | {:.2} µs |",
        cproof.len(),
        us(cons)
    );
    println!("| verify both | {:.2} µs |", us(verify));
}
