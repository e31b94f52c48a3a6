//! What covenants cost the write path: the mixed governance workload indexed for 100 groups
//! (each declaring the workload's Safes, governor, timelock and token roles), without
//! covenants and with 1,000 covenants between them (each group a party to 20, every clause of
//! the catalog on their Safes and timelock). Reported per batch: the whole step (fetch, fold,
//! commit) and the fold alone, from the follower's own timings; then the same over empty
//! blocks, where the clauses judged at every batch's end are all the fold does. And the time
//! sealing takes to state every covenant's period (1,000 statements per period, signed).
//!
//! `cargo bench --bench covenants` (env: BENCH_SCALE, default 1; BENCH_GROUPS, default 100;
//! BENCH_COVENANTS, default 1000; BENCH_EMPTY_BLOCKS, default 2000; BENCH_REPS, default 2:
//! each repetition indexes fresh stores, without then with the covenants; BENCH_SKIP_PG).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use groupstate::ledger::note::SigningKey;
use groupstate::ledger::seal::LogSigner;
use groupstate::manifest::covenant::Covenant;
use groupstate::manifest::Manifest;
use groupstate::metrics::Metrics;
use groupstate::store::Store;
use groupstate::sync::Follower;

/// One backfill's figures.
struct Run {
    seconds: f64,
    batches: u64,
    fold: Duration,
    seal: Duration,
}

/// Indexes from where the store is to the head, timing the steps, the folds and the seals;
/// with `signer`, checkpoints and statements are signed.
async fn index_timed(devnet: &devnet::Devnet, store: &Store, signer: Option<&SigningKey>) -> Run {
    let metrics = Metrics::new().chain("local", 0);
    let mut f = Follower::new(
        "local",
        chain_config(devnet, false, 1000),
        follower_config(),
        store.clone(),
    )
    .unwrap()
    .with_metrics(metrics.clone());
    if let Some(key) = signer {
        f = f.with_signer(Arc::new(LogSigner {
            origin: "bench/local".into(),
            key: key.clone(),
            cosigner: None,
        }));
    }
    let started = Instant::now();
    let mut batches = 0;
    loop {
        let o = f.step().await.expect("follower step");
        batches += o.advanced.div_ceil(RANGE);
        if o.advanced == 0 && !o.catching_up {
            break;
        }
    }
    let (_, fold) = metrics.fold_totals();
    let (_, seal) = metrics.seal_totals();
    Run {
        seconds: started.elapsed().as_secs_f64(),
        batches,
        fold,
        seal,
    }
}

/// Covenant `i` between groups `i % n` and `(i + 1) % n`: every clause of the catalog, stated
/// every `period`.
fn covenant(i: usize, groups: usize, w: &workload::Mixed, period: &str) -> Covenant {
    let (a, b) = (i % groups, (i + 1) % groups);
    let (l2, plain, tl, o0) = (w.l2, w.plain, w.g.timelock, w.owners[0]);
    Covenant::parse(&format!(
        "id: c{i:04}\nparties: [g{a:03}, g{b:03}]\nterms:\n\
         \x20 - {{ clause: min_threshold, safe: \"{l2}\", value: 2 }}\n\
         \x20 - {{ clause: min_owners, safe: \"{plain}\", value: 3 }}\n\
         \x20 - {{ clause: keeps_owner, safe: \"{l2}\", owner: \"{o0}\" }}\n\
         \x20 - {{ clause: no_undeclared_modules, safe: \"{plain}\" }}\n\
         \x20 - {{ clause: no_undeclared_delegatecalls, safe: \"{l2}\" }}\n\
         \x20 - {{ clause: min_timelock_delay, timelock: \"{tl}\", seconds: 1 }}\n\
         \x20 - {{ clause: max_outflow_unlisted, safe: \"{plain}\", asset: native, per: month, amount: \"1000000000000000000000\" }}\n\
         \x20 - {{ clause: reratified_within, group: g{a:03}, days: 3650 }}\n\
         \x20 - {{ clause: max_index_lag, seconds: 1000000000 }}\n\
         notify: [partner-{b:03}]\nstatement_period: {period}\n"
    ))
    .unwrap()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let scale = env_u64("BENCH_SCALE", 1) as usize;
    let groups = env_u64("BENCH_GROUPS", 100) as usize;
    let covenants = env_u64("BENCH_COVENANTS", 1000) as usize;
    let w = workload::mixed(scale).await;
    let manifests: Vec<Manifest> = (0..groups)
        .map(|i| Manifest::parse(&w.manifest_yaml(&format!("g{i:03}"))).unwrap())
        .collect();
    let all: Vec<Covenant> = (0..covenants)
        .map(|i| covenant(i, groups, &w, "7d"))
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let mut backends = vec![("SQLite", None)];
    if std::env::var("BENCH_SKIP_PG").is_err() {
        backends.push(("PostgreSQL", Some(())));
    }
    println!(
        "## Covenants on the write path ({groups} groups, mixed workload of {} blocks: {} proposals, {} role changes, {} transfers, {} Safe executions)\n",
        w.head, w.proposals, w.role_changes, w.transfers, w.executions
    );
    println!("| backend | covenants | phase | batches | step ms/batch | fold ms/batch | added per batch (step) | added per batch (fold) |");
    println!("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |");
    let empty = env_u64("BENCH_EMPTY_BLOCKS", 2000);
    let reps = env_u64("BENCH_REPS", 2);
    // Every store: each repetition, each backend, without and then with the covenants.
    let mut stores: Vec<(&str, usize, Store)> = Vec::new();
    for (rep, (name, pg)) in (0..reps).flat_map(|r| backends.iter().map(move |b| (r, *b))) {
        for (k, with) in [(0, false), (covenants, true)] {
            let url = match pg {
                None => format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join(format!("c{k}-{rep}.db")).display()
                ),
                Some(()) => pg_database(&pg_admin()).await,
            };
            let store = fresh_store(&url, &manifests).await;
            if with {
                for c in &all {
                    store.add_covenant(c).await.unwrap();
                }
            }
            stores.push((name, k, store));
        }
    }
    // The workload, each store from empty; then empty blocks after it, the same for each
    // (mined once every store has indexed the workload: the node forgets old traces).
    for phase in ["backfill".to_string(), format!("{empty} empty blocks")] {
        if phase != "backfill" {
            // Statements first: the node keeps the traces of recent blocks only, so every
            // backfill of the workload runs before the empty blocks are mined.
            statements(&w, &manifests, covenants, groups, &all, dir.path()).await;
            w.devnet.mine(empty).await.unwrap();
        }
        let mut base: Option<Run> = None;
        for (name, k, store) in &stores {
            let run = index_timed(&w.devnet, store, None).await;
            if *k == 0 {
                base = None;
            }
            print_row(name, *k, &phase, &run, base.as_ref());
            if base.is_none() {
                base = Some(run);
            }
        }
    }
    for (_, _, store) in &stores {
        let findings: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM divergences WHERE rule LIKE 'covenant.%'")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(findings, 0, "the workload keeps every covenant");
    }
}

/// The same covenants stated every hour (300 blocks of 12 s) against every week (none due in
/// this span), both logs signed: the difference in sealing is the statements'.
async fn statements(
    w: &workload::Mixed,
    manifests: &[Manifest],
    covenants: usize,
    groups: usize,
    all: &[Covenant],
    dir: &std::path::Path,
) {
    let key = SigningKey::generate("bench").unwrap();
    let hourly: Vec<Covenant> = (0..covenants)
        .map(|i| covenant(i, groups, w, "1h"))
        .collect();
    println!("\n## Covenant statements ({covenants} covenants, SQLite, signed log)\n");
    println!("| statement period | periods stated | statements | sealing s (total) | sealing s per period | added per period |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let mut weekly_seal = None;
    for (label, list) in [("7 d (none due)", all), ("1 h (300 blocks)", &hourly)] {
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.join(format!("s{}.db", label.len())).display()
        );
        let store = fresh_store(&url, manifests).await;
        for c in list.iter() {
            store.add_covenant(c).await.unwrap();
        }
        let run = index_timed(&w.devnet, &store, Some(&key)).await;
        let statements: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM covenant_statements")
            .fetch_one(store.pool())
            .await
            .unwrap();
        let periods: i64 =
            sqlx::query_scalar("SELECT COUNT(DISTINCT period) FROM covenant_statements")
                .fetch_one(store.pool())
                .await
                .unwrap();
        let seal = run.seal.as_secs_f64();
        let per = |x: f64| {
            if periods > 0 {
                format!("{:.3}", x / periods as f64)
            } else {
                "—".into()
            }
        };
        let added = weekly_seal.map_or("—".to_string(), |w: f64| per(seal - w));
        println!(
            "| {label} | {periods} | {statements} | {seal:.2} | {} | {added} |",
            per(seal)
        );
        weekly_seal.get_or_insert(seal);
    }
}

fn print_row(backend: &str, covenants: usize, phase: &str, run: &Run, base: Option<&Run>) {
    let per = |x: f64| x * 1000.0 / run.batches.max(1) as f64;
    let step = per(run.seconds);
    let fold = per(run.fold.as_secs_f64());
    let added = |now: f64, before: f64| {
        if before > 0.0 {
            format!(
                "{:+.2} ms ({:+.1}%)",
                now - before,
                (now - before) * 100.0 / before
            )
        } else {
            "—".to_string()
        }
    };
    let (a_step, a_fold) = match base {
        Some(b) => {
            let bper = |x: f64| x * 1000.0 / b.batches.max(1) as f64;
            (
                added(step, bper(b.seconds)),
                added(fold, bper(b.fold.as_secs_f64())),
            )
        }
        None => ("—".to_string(), "—".to_string()),
    };
    println!(
        "| {backend} | {covenants} | {phase} | {} | {step:.2} | {fold:.2} | {a_step} | {a_fold} |",
        run.batches
    );
}
