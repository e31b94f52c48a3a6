//! The HTTP API under load (issue 5): one group holding 1,000,000 records and 100,000
//! divergences, on SQLite and on PostgreSQL; the server runs in this process, the load comes
//! from a second process (this binary again, as a client) keeping `API_BENCH_CONCURRENCY`
//! requests in flight for `API_BENCH_SECONDS` per route. Prints p50, p99 and requests per
//! second for each route.
//!
//! `cargo bench --bench api`. Environment: `API_BENCH_RECORDS` (default 1000000),
//! `API_BENCH_DIVERGENCES` (100000), `API_BENCH_SECONDS` (10), `API_BENCH_CONCURRENCY` (16),
//! `BENCH_SKIP_PG`, `BENCH_PG` (the PostgreSQL admin URL).

mod common;

use std::time::{Duration, Instant};

use common::*;
use groupstate::api::ApiState;
use groupstate::manifest::Manifest;
use groupstate::store::{RecordRow, Store};
use tokio_util::sync::CancellationToken;

const CLIENT_ENV: &str = "GROUPSTATE_API_BENCH_CLIENT";
const SAFE: &str = "0x1111111111111111111111111111111111111111";

fn main() {
    if let Ok(spec) = std::env::var(CLIENT_ENV) {
        return client(&spec);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(server());
}

fn manifest() -> Manifest {
    Manifest::parse(&format!(
        "id: big\nname: A busy group\npurpose: Load.\nphase: coordination\nchain: local\n\
         start_block: 0\ntreasury:\n  safes:\n    - address: \"{SAFE}\"\n      owners:\n        \
         - \"0x000000000000000000000000000000000000000A\"\n      threshold: 1\n"
    ))
    .unwrap()
}

fn record(block: i64, log_index: i64) -> RecordRow {
    let (kind, category) = match log_index % 3 {
        0 => ("ExecutionSuccess", "transaction"),
        1 => ("ProposalCreated", "decision"),
        _ => ("AddedOwner", "structure"),
    };
    RecordRow {
        group_id: "big".into(),
        chain_id: 1,
        block_number: block,
        block_hash: format!("0x{block:064x}"),
        block_timestamp: Some(1_700_000_000 + block * 12),
        tx_hash: format!("0x{:064x}", block * 1000 + log_index),
        tx_index: log_index,
        log_index,
        address: SAFE.into(),
        kind: kind.into(),
        category: category.into(),
        fields: format!(
            r#"{{"txHash":"0x{:064x}","payment":"{}","to":"0x00000000000000000000000000000000000000{:02x}"}}"#,
            block,
            block * 7,
            log_index
        ),
        topics: format!(r#"["0x{:064x}"]"#, 7),
        data: format!("0x{:0128x}", block),
        manifest_hash: None,
    }
}

async fn seed(store: &Store, records: u64, divergences: u64) -> (Duration, Duration) {
    let t = Instant::now();
    let blocks = records.div_ceil(3) as i64;
    let per_txn = 7000i64;
    let mut b = 0i64;
    while b < blocks {
        let rows: Vec<RecordRow> = (b..(b + per_txn).min(blocks))
            .flat_map(|b| (0..3).map(move |l| record(b, l)))
            .collect();
        let write = groupstate::store::BatchWrite {
            chain: "local".into(),
            records: rows,
            ..Default::default()
        };
        store.commit_batch(&write).await.unwrap();
        b += per_txn;
    }
    let records_took = t.elapsed();
    let t = Instant::now();
    let rules = [
        ("safe.owner_undeclared", "high"),
        ("safe.threshold_mismatch", "critical"),
        ("treasury.outflow_over_limit", "high"),
        ("documentation.stale", "medium"),
    ];
    let mut n = 1u64;
    while n <= divergences {
        let values: Vec<String> = (n..(n + 1000).min(divergences + 1))
            .map(|i| {
                let (rule, severity) = rules[(i % 4) as usize];
                let block = (i as i64 * 3) % blocks;
                let status = if i % 5 == 0 { "open" } else { "resolved" };
                format!(
                    "('big', {i}, 'local', '{rule}', '{severity}', '{SAFE}', 'item{i}', 'declared', \
                     'observed', '{status}', {block}, '0x{block:064x}', 'm')"
                )
            })
            .collect();
        sqlx::query(&format!(
            "INSERT INTO divergences (group_id, n, chain, rule, severity, subject, item, expected, \
             observed, status, opened_block, opened_block_hash, opened_manifest_hash) VALUES {}",
            values.join(", ")
        ))
        .execute(store.pool())
        .await
        .unwrap();
        n += 1000;
    }
    // As autovacuum (PostgreSQL) or `PRAGMA optimize` (SQLite) would after a bulk load: the
    // planner needs statistics to choose between indexes.
    sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
    if store.backend() == groupstate::store::Backend::Sqlite {
        // And as the WAL's automatic checkpoints would, once the load stops.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(store.pool())
            .await
            .unwrap();
    }
    (records_took, t.elapsed())
}

/// One measured route: a name and a path (with query).
struct Route {
    name: &'static str,
    path: String,
}

async fn server() {
    let records = env_u64("API_BENCH_RECORDS", 1_000_000);
    let divergences = env_u64("API_BENCH_DIVERGENCES", 100_000);
    let seconds = env_u64("API_BENCH_SECONDS", 10);
    let concurrency = env_u64("API_BENCH_CONCURRENCY", 16);
    println!("# HTTP API under load\n");
    println!(
        "{records} records and {divergences} divergences in one group; {concurrency} requests in \
         flight from a second process for {seconds} s per route.\n"
    );
    let mut backends = vec![("SQLite", None)];
    if std::env::var("BENCH_SKIP_PG").is_err() {
        backends.push(("PostgreSQL", Some(pg_database(&pg_admin()).await)));
    }
    let dir = tempfile::tempdir().unwrap();
    for (backend, pg) in backends {
        let url = pg.unwrap_or_else(|| {
            format!("sqlite://{}?mode=rwc", dir.path().join("api.db").display())
        });
        let store = fresh_store(&url, &[manifest()]).await;
        let (rt, dt) = seed(&store, records, divergences).await;
        println!(
            "## {backend}\n\nseeded {records} records in {:.1} s, {divergences} divergences in {:.1} s\n",
            rt.as_secs_f64(),
            dt.as_secs_f64()
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cancel = CancellationToken::new();
        let state = ApiState::new(store.clone(), vec!["local".into()]);
        let server = tokio::spawn(groupstate::api::serve(listener, state, cancel.clone()));
        let http = reqwest::Client::new();
        let deep_block = (records / 3) as i64 * 9 / 10;
        let deep: serde_json::Value = http
            .get(format!(
                "http://{addr}/v1/groups/big/records?from_block={deep_block}&limit=1"
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let cursor = deep["next_cursor"].as_str().unwrap().to_string();
        let t0 = 1_700_000_000 + deep_block * 12;
        let routes = [
            Route {
                name: "records, first page",
                path: "/v1/groups/big/records?limit=100".into(),
            },
            Route {
                name: "records, page at 90% (cursor)",
                path: format!("/v1/groups/big/records?limit=100&cursor={cursor}"),
            },
            Route {
                name: "records, newest first",
                path: "/v1/groups/big/records?limit=100&order=desc".into(),
            },
            Route {
                name: "records, decisions in a time range",
                path: format!(
                    "/v1/groups/big/records?category=decision&from_time={t0}&to_time={}&limit=100",
                    t0 + 86_400
                ),
            },
            Route {
                name: "divergences, first page",
                path: "/v1/groups/big/divergences?limit=100".into(),
            },
            Route {
                name: "divergences, open and high, newest first",
                path: "/v1/groups/big/divergences?status=open&severity=high&order=desc&limit=100"
                    .into(),
            },
            Route {
                name: "status page",
                path: "/groups/big".into(),
            },
        ];
        println!("| route | p50 ms | p99 ms | requests/s | non-200 |");
        println!("| --- | ---: | ---: | ---: | ---: |");
        for route in &routes {
            let spec = format!("http://{addr}{}\n{concurrency}\n{seconds}", route.path);
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .env(CLIENT_ENV, spec)
                .output()
                .expect("the load process");
            let line = String::from_utf8_lossy(&out.stdout);
            let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap_or_else(|_| {
                panic!(
                    "the load process said: {line} {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
            let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
            println!(
                "| {} | {:.2} | {:.2} | {:.0} | {} |",
                route.name,
                f("p50_ms"),
                f("p99_ms"),
                f("rps"),
                v["errors"]
            );
        }
        println!();
        cancel.cancel();
        let _ = server.await;
        store.close().await;
    }
}

/// The second process: `concurrency` loops requesting one URL for `seconds`, then one JSON
/// line with the latency percentiles and throughput.
fn client(spec: &str) {
    let mut lines = spec.lines();
    let url = lines.next().unwrap().to_string();
    let concurrency: usize = lines.next().unwrap().parse().unwrap();
    let seconds: u64 = lines.next().unwrap().parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let http = reqwest::Client::new();
        // Warm up the connection pool and the database's caches.
        for _ in 0..20 {
            let _ = http.get(&url).send().await.unwrap().bytes().await;
        }
        let start = Instant::now();
        let deadline = start + Duration::from_secs(seconds);
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let http = http.clone();
            let url = url.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = 0u64;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let r = http.get(&url).send().await.unwrap();
                    let ok = r.status().as_u16() == 200;
                    let _ = r.bytes().await.unwrap();
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    if !ok {
                        errors += 1;
                    }
                }
                (lat, errors)
            }));
        }
        let mut all = Vec::new();
        let mut errors = 0;
        for t in tasks {
            let (l, e) = t.await.unwrap();
            all.extend(l);
            errors += e;
        }
        let elapsed = start.elapsed().as_secs_f64();
        all.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "{}",
            serde_json::json!({
                "p50_ms": percentile(&all, 0.5),
                "p99_ms": percentile(&all, 0.99),
                "rps": all.len() as f64 / elapsed,
                "errors": errors,
                "requests": all.len(),
            })
        );
    });
}
