//! Providers as they are: a group registered at block 20,000,000 behind a proxy that looks like
//! a hosted provider — result caps in its words with its hint, a block-range cap, 429s with
//! `Retry-After`, and a load balancer whose second backend lags — is caught up with the same
//! records and divergences as the same group followed on the devnet directly, with a bounded
//! number of `eth_getLogs` calls and without a single unwind.

mod support;

use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use devnet::{self, Devnet, DevnetOptions, SafeVersion};
use groupstate::chain::rpc::{RetryPolicy, Rpc};
use groupstate::manifest::Manifest;
use groupstate::store::Store;
use groupstate::sync::{Follower, FollowerError};
use support::provider_proxy::{
    ProviderPlan, ProviderProxy, RangeCapStyle, RateLimit, ResultCapStyle,
};

/// How tall the proxy makes the devnet look: a multiple of the snapshot and balance-check
/// intervals, so that periodic re-reads fall on the same blocks either way.
const OFFSET: u64 = 20_000_000;
/// How long a group may take to catch up.
const CATCH_UP: Duration = Duration::from_secs(60);
/// The proxy's block-range cap (QuickNode's words).
const MAX_BLOCKS: u64 = 8;
/// The proxy's result cap (reth's words, with its hint); above the logs of any one block.
const MAX_RESULTS: usize = 30;
/// The lagging backend's distance behind the other.
const LAG: u64 = 3;

struct Chain {
    devnet: Devnet,
    keys: Vec<alloy::signers::local::PrivateKeySigner>,
    safes: Vec<Address>,
    owners: Vec<Address>,
}

/// A devnet with two SafeL2s and a plain Safe (whose executions are read from their inputs),
/// a few hundred events over ~40 blocks and one undeclared owner.
async fn busy_chain() -> Chain {
    let devnet = Devnet::start(DevnetOptions::default()).await.unwrap();
    let devnet::workload::BusySafes {
        keys,
        owners,
        safes,
    } = devnet::workload::busy_safes(
        &devnet,
        &[SafeVersion::V141L2, SafeVersion::V141L2, SafeVersion::V141],
        30,
        10,
    )
    .await
    .unwrap();
    Chain {
        devnet,
        keys,
        safes,
        owners,
    }
}

fn manifest(chain: &Chain, start_block: u64) -> Manifest {
    let safes: Vec<_> = chain
        .safes
        .iter()
        .map(|s| (*s, chain.owners.clone(), 2))
        .collect();
    Manifest::parse(&support::safe_manifest("busy", start_block, &safes)).unwrap()
}

/// What the index holds, with every block number taken down by `offset`: two indexes of the
/// same chain seen at different heights compare equal. Manifest hashes (the manifests differ
/// by their start block) and the log's leaves (which commit to block numbers) are left out;
/// the log's size is kept.
async fn dump(store: &Store, offset: u64) -> Vec<String> {
    use sqlx::Row;
    let o = offset;
    let queries = [
        ("records", format!("SELECT chain_id || '|' || (block_number - {o}) || '|' || block_hash || '|' || tx_hash || '|' || tx_index || '|' || log_index || '|' || address || '|' || kind || '|' || category || '|' || fields || '|' || topics || '|' || data AS line FROM records ORDER BY block_number, log_index, kind")),
        ("states", format!("SELECT contract || '|' || kind || '|' || (block_number - {o}) || '|' || log_index || '|' || source || '|' || state AS line FROM observed_states ORDER BY contract, kind, block_number, log_index")),
        ("divergences", format!("SELECT n || '|' || rule || '|' || severity || '|' || subject || '|' || item || '|' || expected || '|' || observed || '|' || status || '|' || (opened_block - {o}) || '|' || opened_block_hash || '|' || COALESCE(opened_tx_hash, '') || '|' || COALESCE(CAST(opened_log_index AS TEXT), '') || '|' || COALESCE(CAST(resolved_block - {o} AS TEXT), '') || '|' || COALESCE(resolved_block_hash, '') || '|' || COALESCE(resolution, '') AS line FROM divergences ORDER BY n")),
        ("flows", format!("SELECT treasury || '|' || asset || '|' || direction || '|' || (block_number - {o}) || '|' || COALESCE(CAST(block_timestamp AS TEXT), '') || '|' || tx_hash || '|' || locator || '|' || counterparty || '|' || amount AS line FROM treasury_flows ORDER BY block_number, tx_hash, locator, asset, direction, treasury")),
        ("balances", format!("SELECT treasury || '|' || asset || '|' || (block_number - {o}) || '|' || balance AS line FROM treasury_balances ORDER BY treasury, asset, block_number")),
        ("groups", format!("SELECT id || '|' || (synced_to - {o}) AS line FROM groups ORDER BY id")),
        ("log", "SELECT CAST(COUNT(*) AS TEXT) AS line FROM log_entries".to_string()),
    ];
    let mut out = Vec::new();
    for (table, sql) in queries {
        for row in sqlx::query(&sql).fetch_all(store.pool()).await.unwrap() {
            let line: String = row.try_get("line").unwrap();
            out.push(format!("{table}: {line}"));
        }
    }
    out
}

/// Asserts two dumps are equal, showing only the lines that differ. The balance check runs
/// at every multiple of its interval (10,000 blocks): block 20,000,000 is one, block 0 is not,
/// so the tall index alone checked the treasuries' balances at its first block — all zero,
/// nothing is deployed yet. Those lines are set aside.
fn same(tall: Vec<String>, direct: Vec<String>) {
    let tall: Vec<String> = tall
        .into_iter()
        .filter(|l| !(l.starts_with("balances: ") && l.ends_with("|native|0|0")))
        .collect();
    let only_tall: Vec<&String> = tall.iter().filter(|l| !direct.contains(l)).collect();
    let only_direct: Vec<&String> = direct.iter().filter(|l| !tall.contains(l)).collect();
    assert!(
        only_tall.is_empty() && only_direct.is_empty() && tall.len() == direct.len(),
        "only behind the provider: {only_tall:#?}\nonly direct: {only_direct:#?}"
    );
}

/// Steps until the group's records are complete up to `target` (in the follower's numbers),
/// retrying retryable failures like the daemon; returns the steps that did something and the
/// lag waits seen.
async fn sync_to(f: &Follower, store: &Store, target: i64) -> (u64, u64) {
    let deadline = Instant::now() + CATCH_UP;
    let (mut steps, mut waits) = (0, 0);
    let mut last_error = None;
    loop {
        let g = store.group("busy").await.unwrap().unwrap();
        if g.synced_to >= target {
            return (steps, waits);
        }
        assert!(
            Instant::now() < deadline,
            "not caught up: at {}; last retryable failure: {last_error:?}",
            g.synced_to
        );
        match f.step().await {
            Ok(o) => {
                assert!(!o.reorged, "a lagging backend made the follower unwind");
                if o.advanced > 0 || o.catching_up {
                    steps += 1;
                }
            }
            Err(FollowerError::NodeBehind { .. }) => {
                waits += 1;
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) if e.is_retryable() => {
                last_error = Some(e.to_string());
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => panic!("follower failed: {e}"),
        }
    }
}

/// The logs each of the follower's filters matches over `0..=head`, and the most one filter
/// matches in one block, read from the devnet directly.
async fn logs_per_filter(chain: &Chain, head: u64) -> (Vec<u64>, u64) {
    use alloy::rpc::types::Filter;
    use groupstate::chain::fetch::{LogQuery, TreasuryFilter};
    let m = manifest(chain, 0);
    let query = LogQuery {
        treasury: m
            .treasury_addresses()
            .iter()
            .map(|a| a.into_word())
            .collect(),
        by_treasury: groupstate::decode::treasury_topics()
            .into_iter()
            .map(|(position, events)| TreasuryFilter { position, events })
            .collect(),
        ..Default::default()
    };
    let mut filters = vec![Filter::new()
        .address(m.watched_addresses())
        .event_signature(groupstate::decode::catalog_topics())];
    filters.extend(query.treasury_filters());
    let rpc = Rpc::new(
        &chain.devnet.rpc_url(),
        RetryPolicy::from(&support::follower_config()),
    )
    .unwrap();
    let (mut counts, mut most) = (Vec::new(), 0);
    for f in filters {
        let logs = rpc.logs(&f.from_block(0).to_block(head)).await.unwrap();
        let mut per_block = std::collections::BTreeMap::<u64, u64>::new();
        for l in &logs {
            *per_block.entry(l.block_number.unwrap()).or_default() += 1;
        }
        most = most.max(per_block.values().copied().max().unwrap_or(0));
        counts.push(logs.len() as u64);
    }
    (counts, most)
}

async fn a_tall_chain_behind_a_provider(backend: support::Backend) {
    let chain = busy_chain().await;
    let head = chain.devnet.head().await.unwrap();

    // The reference: the group from block 0, on the devnet directly.
    let db = support::TestDb::new(backend).await;
    let direct = db.store().await;
    direct.add_group(&manifest(&chain, 0)).await.unwrap();
    let f = support::follower(&direct, &chain.devnet.rpc_url(), chain.devnet.chain_id());
    sync_to(&f, &direct, head as i64).await;

    // The same group from block 20,000,000, behind a provider.
    let proxy = ProviderProxy::start(
        &chain.devnet.rpc_url(),
        ProviderPlan {
            offset: OFFSET,
            result_cap: Some((ResultCapStyle::Reth, MAX_RESULTS)),
            range_cap: Some((RangeCapStyle::QuickNode, MAX_BLOCKS)),
            rate_limit: Some(RateLimit {
                every: 50,
                times: 3,
                retry_after: "1".into(),
            }),
            lag: Some(LAG),
            delay: Duration::ZERO,
        },
    )
    .await;
    let db2 = support::TestDb::new(backend).await;
    let tall = db2.store().await;
    tall.add_group(&manifest(&chain, OFFSET)).await.unwrap();
    let metrics = groupstate::metrics::Metrics::new();
    let chain_metrics = metrics.chain("local", 16);
    let f = support::follower(&tall, &proxy.url(), chain.devnet.chain_id())
        .with_metrics(chain_metrics.clone());
    let started = Instant::now();
    let (steps, _) = sync_to(&f, &tall, (head + OFFSET) as i64).await;
    let took = started.elapsed();
    let stats = proxy.stats();
    eprintln!("caught up in {took:?} over {steps} steps: {stats:?}");

    same(dump(&tall, OFFSET).await, dump(&direct, 0).await);
    assert!(
        stats.results_refused > 0 && stats.range_refused > 0,
        "{stats:?}"
    );
    assert_eq!(stats.rate_limited, 3, "{stats:?}");
    // Three 429s asking for a second each were waited for (perhaps side by side).
    assert!(took >= Duration::from_secs(1), "{took:?}");
    assert!(stats.lagging_answers > 0, "{stats:?}");
    assert_eq!(
        chain_metrics.reorgs(),
        0,
        "a lagging backend is not a reorg"
    );

    // The bound on `eth_getLogs`, from the span S, the range cap M (below `max_block_range`,
    // 1,000 blocks, which is wider than S), the result cap C and the history scans h.
    // - The follower asks Q = 4 filters per range (by emitter; three for transfers and
    //   approvals naming a treasury). h = 0: the group has Safes only (each AccessControl
    //   contract would add a sweep of its history, Q'·(⌈span/M⌉ + 1) requests more).
    // - Range refusals: the first range spans `max_block_range`; each filter is refused once
    //   there, and the refusal names M, which becomes the ceiling of every later range: Q.
    // - Result refusals: each names the widest prefix whose logs fit, so the piece it leaves
    //   holds at least C - P + 1 logs (P: the most logs of one filter in one block); the pieces
    //   are disjoint: R ≤ Σ_filters ⌊L_f / (C - P + 1)⌋ refusals (L_f: the filter's logs).
    // - Successful requests end at a multiple of M from their range's start, at the end of a
    //   range (at most `concurrency` ranges per step), or at a hint:
    //   Q·(⌈S/M⌉ + concurrency·steps) + R.
    // - Each 429 and each answer of the lagging backend costs at most one request more.
    let (per_filter_logs, most_in_a_block) = logs_per_filter(&chain, head).await;
    assert!(most_in_a_block < MAX_RESULTS as u64);
    let fit = MAX_RESULTS as u64 - most_in_a_block + 1;
    let r: u64 = per_filter_logs.iter().map(|l| l / fit).sum();
    let q = per_filter_logs.len() as u64;
    let span = head + 1;
    let concurrency = support::follower_config().concurrency as u64;
    let bound = q * (span.div_ceil(MAX_BLOCKS) + concurrency * steps)
        + q
        + 2 * r
        + stats.rate_limited
        + stats.lagging_answers;
    let calls = stats.calls("eth_getLogs");
    eprintln!(
        "eth_getLogs: {calls} calls, bound {bound} (span {span}, {steps} steps, logs per filter {per_filter_logs:?}, at most {most_in_a_block} in a block, {} result refusals ≤ {r})",
        stats.results_refused
    );
    assert!(stats.results_refused <= r, "{stats:?}");
    assert!(calls <= bound, "{calls} eth_getLogs calls > {bound}");

    // At the head, half the answers come from the backend three blocks behind: its head is
    // below the checkpoint, its blocks above its head are `null`. The follower waits; it never
    // unwinds, and new activity is followed as the direct index follows it.
    devnet::fund(&chain.devnet, chain.safes[0], U256::from(7))
        .await
        .unwrap();
    let head = chain.devnet.head().await.unwrap();
    let f_direct = support::follower(&direct, &chain.devnet.rpc_url(), chain.devnet.chain_id());
    sync_to(&f_direct, &direct, head as i64).await;
    let before = chain_metrics.node_behind_waits();
    for _ in 0..20 {
        match f.step().await {
            Ok(o) => assert!(!o.reorged),
            Err(e) => assert!(e.is_retryable(), "{e}"),
        }
    }
    sync_to(&f, &tall, (head + OFFSET) as i64).await;
    assert!(
        chain_metrics.node_behind_waits() > before,
        "the lagging backend was never behind the checkpoint"
    );
    assert_eq!(chain_metrics.reorgs(), 0);
    same(dump(&tall, OFFSET).await, dump(&direct, 0).await);
    let _ = &chain.keys;
}
on_both_backends!(
    tall_chain_sqlite_and_postgres,
    a_tall_chain_behind_a_provider
);

/// A 429 with `Retry-After` is waited for at least as long as asked (seconds, or an HTTP
/// date), though the backoff alone would retry within milliseconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured() {
    let devnet = Devnet::start(DevnetOptions::default()).await.unwrap();
    let policy = RetryPolicy {
        max_retries: 3,
        base: Duration::from_millis(10),
        timeout: Duration::from_secs(5),
    };
    for as_date in [false, true] {
        // A date has whole seconds: "in two seconds" is at least one second away.
        let (retry_after, at_least) = if as_date {
            let at = std::time::SystemTime::now() + Duration::from_secs(2);
            (httpdate::fmt_http_date(at), Duration::from_secs(1))
        } else {
            ("2".to_string(), Duration::from_secs(2))
        };
        let proxy = ProviderProxy::start(
            &devnet.rpc_url(),
            ProviderPlan {
                rate_limit: Some(RateLimit {
                    every: 1,
                    times: 1,
                    retry_after: retry_after.clone(),
                }),
                ..ProviderPlan::default()
            },
        )
        .await;
        let rpc = Rpc::new(&proxy.url(), policy.clone()).unwrap();
        let started = Instant::now();
        assert_eq!(rpc.chain_id().await.unwrap(), devnet.chain_id());
        let took = started.elapsed();
        assert!(
            took >= at_least,
            "Retry-After {retry_after}: retried after {took:?}"
        );
        assert!(took < at_least + Duration::from_secs(2), "{took:?}");
        assert_eq!(proxy.stats().rate_limited, 1);
        assert_eq!(proxy.stats().calls("eth_chainId"), 2);
    }
}

/// The proxy shifts every block number, and a follower's reads of a tall chain see the
/// devnet's blocks, logs, receipts and state at the shifted heights.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_height_shift_is_consistent() {
    let devnet = Devnet::start(DevnetOptions::default()).await.unwrap();
    let funded = devnet::fund(&devnet, Address::repeat_byte(0x42), U256::from(5))
        .await
        .unwrap();
    let proxy = ProviderProxy::start(
        &devnet.rpc_url(),
        ProviderPlan {
            offset: OFFSET,
            ..ProviderPlan::default()
        },
    )
    .await;
    let policy = RetryPolicy::from(&support::follower_config());
    let direct = Rpc::new(&devnet.rpc_url(), policy.clone()).unwrap();
    let tall = Rpc::new(&proxy.url(), policy).unwrap();
    let head = direct.head().await.unwrap();
    assert_eq!(tall.head().await.unwrap(), head + OFFSET);
    assert_eq!(tall.chain_id().await.unwrap(), devnet.chain_id());
    let (b, t) = direct.block(head).await.unwrap().unwrap();
    let (tb, tt) = tall.block(head + OFFSET).await.unwrap().unwrap();
    assert_eq!((tb.number, tb.hash, tt), (b.number + OFFSET, b.hash, t));
    let (before, _) = tall.block(OFFSET - 1).await.unwrap().unwrap();
    let (genesis, _) = tall.block(OFFSET).await.unwrap().unwrap();
    assert_eq!(
        genesis.parent_hash, before.hash,
        "the prehistory links to the genesis"
    );
    let receipt = tall
        .receipt(funded.transaction_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        receipt.block_number.to::<u64>(),
        funded.block_number.unwrap() + OFFSET
    );
    let who = Address::repeat_byte(0x42);
    assert_eq!(
        tall.balance(who, head + OFFSET).await.unwrap(),
        U256::from(5)
    );
    assert_eq!(tall.balance(who, OFFSET - 1).await.unwrap(), U256::ZERO);
    assert_eq!(proxy.stats().calls("eth_getBalance"), 2);
}

/// Every provider style the proxy speaks is split as its refusal says: a range cap that names
/// its maximum is learned from one refusal, one that does not is halved; a result cap's hint
/// is followed. The logs are the devnet's, at the shifted heights.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_style_is_split_as_it_says() {
    use alloy::rpc::types::Filter;
    use groupstate::chain::range::AdaptiveRange;
    let chain = busy_chain().await;
    let devnet = &chain.devnet;
    let head = devnet.head().await.unwrap();
    let policy = RetryPolicy::from(&support::follower_config());
    let direct = Rpc::new(&devnet.rpc_url(), policy.clone()).unwrap();
    let all = Filter::new().address(chain.safes.clone());
    let expected: Vec<(u64, u64)> = direct
        .logs(&all.clone().from_block(0).to_block(head))
        .await
        .unwrap()
        .iter()
        .map(|l| (l.block_number.unwrap(), l.log_index.unwrap()))
        .collect();
    assert!(expected.len() > 40, "{}", expected.len());
    let ranges = [
        (RangeCapStyle::QuickNode, true),
        (RangeCapStyle::Bsc, true),
        (RangeCapStyle::Reth, true),
        (RangeCapStyle::Chainstack, false),
        (RangeCapStyle::Ankr, false),
    ];
    let results = [
        ResultCapStyle::Alchemy,
        ResultCapStyle::Infura,
        ResultCapStyle::Reth,
        ResultCapStyle::Arbitrum,
    ];
    for (i, (range_style, names_max)) in ranges.into_iter().enumerate() {
        let result_style = results[i % results.len()];
        let proxy = ProviderProxy::start(
            &devnet.rpc_url(),
            ProviderPlan {
                offset: OFFSET,
                range_cap: Some((range_style, 5)),
                result_cap: Some((result_style, 20)),
                ..ProviderPlan::default()
            },
        )
        .await;
        let rpc = Rpc::new(&proxy.url(), policy.clone()).unwrap();
        let range = AdaptiveRange::new(1000);
        let logs = range.logs(&rpc, &all, OFFSET, OFFSET + head).await.unwrap();
        let got: Vec<(u64, u64)> = logs
            .iter()
            .map(|l| (l.block_number.unwrap() - OFFSET, l.log_index.unwrap()))
            .collect();
        assert_eq!(got, expected, "{range_style:?} / {result_style:?}");
        let stats = proxy.stats();
        if names_max {
            assert_eq!(stats.range_refused, 1, "{range_style:?}: {stats:?}");
            assert!(range.size() <= 5, "{range_style:?}: {}", range.size());
        } else {
            assert!(stats.range_refused > 1, "{range_style:?}: {stats:?}");
        }
        assert!(stats.results_refused > 0, "{result_style:?}: {stats:?}");
    }
}
