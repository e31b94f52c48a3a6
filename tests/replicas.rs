//! Replicas sharing the chains through leases in the database:
//!
//! - the fence: a holder whose lease was taken over can no longer write (a checkpoint, a log
//!   append), on both backends; a holder paused inside a transaction holds up its successor for
//!   no longer than the lease (PostgreSQL);
//! - SQLite's one writer: a second `groupstate run` on the same file refuses at start;
//! - three replicas over three chains on PostgreSQL: the chains spread one per replica, a
//!   fourth replica stands by ready while holding nothing, a holder killed with `kill -9` is
//!   taken over within 10 s of its last heartbeat, a holder stopped with SIGTERM hands over at
//!   once (within 2 s), `/metrics` and `status` name the holders, and the store ends equal to
//!   each chain followed alone.

mod support;

use std::time::{Duration, Instant};

use alloy::primitives::B256;
use groupstate::store::{Fence, Store, StoreError};
use support::nets::{
    add_undeclared_owner, free_port, indexed_alone, net, register, wait_synced, without_log, Net,
};

fn fence(chain: &str, holder: &str, epoch: i64, bound_ms: i64) -> Fence {
    Fence {
        chain: chain.into(),
        holder: holder.into(),
        epoch,
        bound_ms,
    }
}

async fn fenced_writes_stop_at_a_takeover(backend: support::Backend) {
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    let e1 = store
        .acquire_lease("alpha", "r1", 800, &[])
        .await
        .unwrap()
        .expect("a chain nobody held is free");
    assert_eq!(
        store.acquire_lease("alpha", "r2", 800, &[]).await.unwrap(),
        None,
        "a live lease is not taken"
    );
    let r1 = store.fenced(fence("alpha", "r1", e1, 1000));
    assert!(r1
        .insert_checkpoint("alpha", 1, &B256::repeat_byte(1), "one")
        .await
        .unwrap());

    // r1 stops renewing; r2 takes the chain over once the lease ran out.
    tokio::time::sleep(Duration::from_millis(900)).await;
    let e2 = store
        .acquire_lease("alpha", "r2", 800, &[])
        .await
        .unwrap()
        .expect("an expired lease is taken over");
    assert_eq!(e2, e1 + 1);
    match r1
        .insert_checkpoint("alpha", 2, &B256::repeat_byte(2), "two")
        .await
    {
        Err(StoreError::Fenced(m)) => assert!(m.contains("r2 holds it at epoch"), "{m}"),
        other => panic!("a write after the takeover must be refused: {other:?}"),
    }
    assert!(matches!(
        r1.begin_log("alpha").await,
        Err(StoreError::Fenced(_))
    ));
    assert_eq!(
        store
            .latest_checkpoint("alpha")
            .await
            .unwrap()
            .unwrap()
            .tree_size,
        1,
        "nothing of the fenced write is stored"
    );
    // Writes of other chains are not this fence's business.
    assert!(r1
        .insert_checkpoint("beta", 1, &B256::repeat_byte(3), "beta")
        .await
        .unwrap());
    let r2 = store.fenced(fence("alpha", "r2", e2, 1000));
    assert!(r2
        .insert_checkpoint("alpha", 2, &B256::repeat_byte(2), "two")
        .await
        .unwrap());

    // Renewal: r1 holds nothing now; r2 holds alpha at its epoch, not at an earlier one (a
    // process restarted under r2's id does not renew what the one before it held).
    let alpha = |e: i64| vec![("alpha".to_string(), e)];
    assert!(store
        .renew_leases("r1", &alpha(e1), 800)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .renew_leases("r2", &alpha(e1), 800)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.renew_leases("r2", &alpha(e2), 800).await.unwrap(),
        alpha(e2)
    );
    // Handed back: anyone takes it at once; a stale epoch cannot release it.
    assert!(!store.release_lease("alpha", "r2", e1).await.unwrap());
    assert!(store.release_lease("alpha", "r2", e2).await.unwrap());
    assert_eq!(
        store.acquire_lease("alpha", "r1", 800, &[]).await.unwrap(),
        Some(e2 + 1)
    );
    // A holder known to be dead loses a live lease.
    assert_eq!(
        store
            .acquire_lease("alpha", "r3", 800, &["r1".to_string()])
            .await
            .unwrap(),
        Some(e2 + 2)
    );
    let leases = store.leases().await.unwrap();
    assert_eq!(leases.len(), 1);
    assert_eq!((leases[0].holder.as_str(), leases[0].epoch), ("r3", e2 + 2));
    assert!(leases[0].is_held());
}
on_both_backends!(
    fencing_sqlite_and_postgres,
    fenced_writes_stop_at_a_takeover
);

/// A holder paused with a write transaction open (SIGSTOP inside a commit) keeps its lease row
/// locked; the server ends its session once it has been idle for the fence's bound, so the
/// successor takes over within about a lease after the last renewal, and the paused
/// transaction's commit fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_paused_in_a_transaction_does_not_block_its_successor() {
    let db = support::TestDb::new(support::Backend::Postgres).await;
    let store = db.store().await;
    const LEASE: i64 = 1500;
    let e1 = store
        .acquire_lease("alpha", "r1", LEASE, &[])
        .await
        .unwrap()
        .unwrap();
    let renewed = Instant::now();
    let r1 = store.fenced(fence("alpha", "r1", e1, LEASE));
    let paused = r1.begin_log("alpha").await.unwrap();
    let taken = loop {
        if let Some(e) = store
            .acquire_lease("alpha", "r2", LEASE, &[])
            .await
            .unwrap()
        {
            break e;
        }
        assert!(
            renewed.elapsed() < Duration::from_secs(10),
            "the successor is still blocked"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let waited = renewed.elapsed();
    eprintln!(
        "taken over {waited:?} after the last renewal, the old holder paused in a transaction"
    );
    assert_eq!(taken, e1 + 1);
    assert!(
        waited < Duration::from_millis(2 * LEASE as u64 + 1500),
        "the paused holder blocked its successor for {waited:?}"
    );
    assert!(
        paused.commit().await.is_err(),
        "the paused transaction cannot commit"
    );
}

/// `groupstate run` on a SQLite file another `run` already writes exits at once with a clear
/// error; the first goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_one_sqlite_file_refuses() {
    let n = net("local", 31337, "pond").await;
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("gs.db").display());
    let store = Store::connect(&db_url, 2).await.unwrap();
    store.migrate().await.unwrap();
    register(&store, &n.manifest).await;
    let config = |name: &str, port: u16| {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &path,
            format!(
                "data_dir = \"{}\"\n[database]\nurl = \"{db_url}\"\n[api]\nbind = \"127.0.0.1:{port}\"\n\
                 [chains.local]\nrpc_url = \"{}\"\nchain_id = 31337\npoll_interval = \"100ms\"\n",
                dir.path().display(),
                n.devnet.rpc_url()
            ),
        )
        .unwrap();
        path
    };
    let first_log = dir.path().join("first.log");
    let mut first = support::nets::daemon(&config("first", free_port()), &first_log);
    let head = n.devnet.head().await.unwrap();
    wait_synced(&store, "pond", head, Duration::from_secs(60)).await;

    let second = tokio::process::Command::new(env!("CARGO_BIN_EXE_groupstate"))
        .args([
            "--config",
            config("second", free_port()).to_str().unwrap(),
            "run",
        ])
        .output();
    let second = tokio::time::timeout(Duration::from_secs(20), second)
        .await
        .expect("the second run exits at once")
        .unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success());
    assert!(
        err.contains("another `groupstate run` already writes") && err.contains("gs.db"),
        "{err}"
    );
    // The first still follows the chain.
    let block = add_undeclared_owner(&n).await;
    wait_synced(&store, "pond", block, Duration::from_secs(30)).await;
    assert!(first.try_wait().unwrap().is_none(), "the first run goes on");
    first.start_kill().unwrap();
    first.wait().await.unwrap();
    // Killed, it leaves no lock behind: a new run starts.
    let mut again = support::nets::daemon(&config("again", free_port()), &first_log);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        again.try_wait().unwrap().is_none(),
        "a run after a kill starts"
    );
    again.start_kill().unwrap();
    again.wait().await.unwrap();
}

struct Replica {
    id: String,
    api: String,
    config: std::path::PathBuf,
    log: std::path::PathBuf,
    child: Option<tokio::process::Child>,
}

impl Replica {
    fn start(&mut self) {
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_groupstate"))
            .args(["--config", self.config.to_str().unwrap(), "run"])
            .env("RUST_LOG", "info")
            .env("GROUPSTATE__REPLICA__ID", &self.id)
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.log)
                    .unwrap(),
            )
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().unwrap().id().unwrap();
        assert!(std::process::Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .unwrap()
            .success());
    }

    async fn wait(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.wait().await.unwrap();
        }
    }
}

/// The holder of each chain, as the leases say now (expired ones left out).
async fn holders(store: &Store) -> std::collections::BTreeMap<String, String> {
    store
        .leases()
        .await
        .unwrap()
        .into_iter()
        .filter(|l| l.is_held())
        .map(|l| (l.chain, l.holder))
        .collect()
}

async fn wait_until<T>(
    what: &str,
    within: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> (T, Duration) {
    let started = Instant::now();
    loop {
        if let Some(v) = check().await {
            return (v, started.elapsed());
        }
        assert!(started.elapsed() < within, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The group a net's manifest declares.
fn group_of(n: &Net) -> &str {
    n.manifest
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("id: ")
}

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_spread_take_over_and_hand_over() {
    let nets: Vec<(&str, Net)> = vec![
        ("alpha", net("alpha", 31337, "river").await),
        ("beta", net("beta", 31338, "lake").await),
        ("gamma", net("gamma", 31339, "delta").await),
    ];
    let db = support::TestDb::new(support::Backend::Postgres).await;
    let store = db.store().await;
    for (_, n) in &nets {
        register(&store, &n.manifest).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let chains: String = nets
        .iter()
        .map(|(name, n)| {
            format!(
                "[chains.{name}]\nrpc_url = \"{}\"\nchain_id = {}\npoll_interval = \"100ms\"\nfinality_depth = 8\ntraces = \"off\"\n",
                n.devnet.rpc_url(),
                n.devnet.chain_id()
            )
        })
        .collect();
    // Call traces off (see tests/chaos.rs: anvil's tracing can deadlock with its mining under
    // load; what is tested here is who follows, not what traces show).
    let mut replicas: Vec<Replica> = (1..=4)
        .map(|i| {
            let api = format!("127.0.0.1:{}", free_port());
            let config = dir.path().join(format!("r{i}.toml"));
            std::fs::write(
                &config,
                format!(
                    "data_dir = \"{}\"\n[database]\nurl = \"{}\"\nmax_connections = 4\n\
                     [replica]\nlease = \"3s\"\nheartbeat = \"1s\"\n\
                     [follower]\nconcurrency = 2\nreorg_window = 64\n[api]\nbind = \"{api}\"\n{chains}",
                    dir.path().display(),
                    db.url,
                ),
            )
            .unwrap();
            Replica {
                id: format!("r{i}"),
                api,
                config,
                log: dir.path().join(format!("r{i}.log")),
                child: None,
            }
        })
        .collect();
    // One signing key for all: the first replica writes it to the shared data_dir at start,
    // the others read it. It takes every chain, then hands two over as the others join.
    replicas[0].start();
    wait_until(
        "the first replica to hold the chains",
        Duration::from_secs(30),
        async || (holders(&store).await.len() == 3).then_some(()),
    )
    .await;
    for r in replicas.iter_mut().take(3).skip(1) {
        r.start();
    }
    let (spread, took) = wait_until(
        "the chains to spread",
        Duration::from_secs(120),
        async || {
            let h = holders(&store).await;
            let distinct: std::collections::BTreeSet<&String> = h.values().collect();
            (h.len() == 3 && distinct.len() == 3).then_some(h)
        },
    )
    .await;
    eprintln!("spread one chain per replica in {took:?}: {spread:?}");
    for (_, n) in &nets {
        let head = n.devnet.head().await.unwrap();
        wait_synced(&store, group_of(n), head, Duration::from_secs(120)).await;
    }

    // A fourth replica stands by: ready, holding nothing, serving the API.
    replicas[3].start();
    let standby = replicas[3].api.clone();
    let (body, _) = wait_until(
        "the standby to be ready",
        Duration::from_secs(30),
        async || match reqwest::get(format!("http://{standby}/readyz")).await {
            Ok(r) if r.status() == 200 => Some(r.text().await.unwrap()),
            _ => None,
        },
    )
    .await;
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    for c in ready["chains"].as_array().unwrap() {
        assert_eq!(c["held_here"], false, "{body}");
        assert!(c["holder"].as_str().unwrap().starts_with('r'), "{body}");
    }
    let (status, groups) = get(&format!("http://{standby}/v1/groups")).await;
    assert_eq!(status, 200, "{groups}");
    let held_by_r1 = spread.iter().find(|(_, h)| *h == "r1").unwrap().0;
    let r1_api = replicas[0].api.clone();
    let (metrics, _) = wait_until(
        "r1 to see the standby",
        Duration::from_secs(10),
        async || {
            let text = get(&format!("http://{r1_api}/metrics")).await.1;
            text.contains("groupstate_replicas_live 4").then_some(text)
        },
    )
    .await;
    assert!(
        metrics.contains(&format!(
            "groupstate_chain_lease_held{{chain=\"{held_by_r1}\"}} 1"
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "groupstate_chain_holder{{chain=\"{held_by_r1}\",holder=\"r1\"}} 1"
        )),
        "{metrics}"
    );

    // kill -9 of r1: its chain is taken over within 10 s of its last heartbeat.
    let before = store.leases().await.unwrap();
    let last_renewal = before
        .iter()
        .find(|l| &l.chain == held_by_r1)
        .unwrap()
        .renewed_ms_ago;
    replicas[0].signal("-KILL");
    replicas[0].wait().await;
    let chain = held_by_r1.clone();
    let (successor, took) = wait_until("a takeover", Duration::from_secs(20), async || {
        holders(&store)
            .await
            .get(&chain)
            .filter(|h| *h != "r1")
            .cloned()
    })
    .await;
    let since_heartbeat = took + Duration::from_millis(last_renewal as u64);
    eprintln!("{chain} taken over by {successor} {took:?} after kill -9 ({since_heartbeat:?} after the last heartbeat)");
    assert!(
        since_heartbeat < Duration::from_secs(10),
        "{since_heartbeat:?}"
    );

    // SIGTERM of another holder: its chains are handed back and taken within 2 s.
    let h = holders(&store).await;
    let (term_chain, term_holder) = h
        .iter()
        .find(|(_, holder)| *holder != "r4" && **holder != successor)
        .or_else(|| h.iter().find(|(_, holder)| *holder != "r4"))
        .map(|(c, h)| (c.clone(), h.clone()))
        .unwrap();
    let index = replicas.iter().position(|r| r.id == term_holder).unwrap();
    replicas[index].signal("-TERM");
    let (next, took) = wait_until("a hand-over", Duration::from_secs(10), async || {
        holders(&store)
            .await
            .get(&term_chain)
            .filter(|h| **h != term_holder)
            .cloned()
    })
    .await;
    eprintln!("{term_chain} handed from {term_holder} to {next} {took:?} after SIGTERM");
    assert!(took < Duration::from_secs(2), "hand-over took {took:?}");
    replicas[index].wait().await;

    // New activity on every chain is followed by whoever holds it now.
    let mut blocks = Vec::new();
    for (_, n) in &nets {
        blocks.push(add_undeclared_owner(n).await);
    }
    for ((_, n), block) in nets.iter().zip(&blocks) {
        wait_synced(&store, group_of(n), *block, Duration::from_secs(120)).await;
    }

    // `status` names the holders.
    let survivor = replicas.iter().find(|r| r.child.is_some()).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_groupstate"))
        .args(["--config", survivor.config.to_str().unwrap(), "status"])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("HOLDER") && text.contains("(epoch "),
        "{text}"
    );

    for r in replicas.iter_mut() {
        if r.child.is_some() {
            r.signal("-TERM");
            r.wait().await;
        }
    }
    // The store equals each chain followed alone.
    let alone: Vec<(&str, &Net)> = nets.iter().map(|(name, n)| (*name, n)).collect();
    assert_eq!(
        without_log(support::dump(&store).await),
        indexed_alone(support::Backend::Postgres, &alone).await
    );
}
