//! The follower pipeline end to end against anvil with the real Safe contracts, on SQLite and
//! on PostgreSQL: backfill then live and the daemon loop over WebSocket (against Hardhat's node
//! too), every Safe rule raised and resolved, the 1.3.0 layouts, manifest updates resolving
//! divergences.

mod support;

use alloy::primitives::{Address, U256};
use devnet::{self, Devnet, DevnetOptions, NodeKind, SafeContracts, SafeVersion};
use groupstate::manifest::Manifest;
use groupstate::store::{DivergenceStatus, RecordFilter, Store};

struct World {
    devnet: Devnet,
    contracts: SafeContracts,
    _db: support::TestDb,
    store: Store,
}

impl World {
    /// A new Safe on the devnet.
    async fn safe(
        &self,
        version: SafeVersion,
        owners: &[Address],
        threshold: u64,
        salt: u64,
    ) -> Address {
        self.contracts
            .create_safe(&self.devnet, version, owners, threshold, salt)
            .await
            .unwrap()
    }

    /// Registers group `id` (from block 0) declaring these Safes: (address, owners, threshold).
    async fn declare(&self, id: &str, safes: &[(Address, Vec<Address>, u64)]) {
        register(&self.store, &support::safe_manifest(id, 0, safes)).await;
    }

    /// Every record of a group, in chain order.
    async fn records(&self, id: &str) -> Vec<groupstate::store::RecordRow> {
        self.store
            .records(id, &RecordFilter::default())
            .await
            .unwrap()
    }

    /// A follower of the devnet writing to the world's store, with the test settings.
    fn follower(&self) -> groupstate::sync::Follower {
        support::follower(&self.store, &self.devnet.rpc_url(), self.devnet.chain_id())
    }
}

async fn world(backend: support::Backend) -> World {
    world_on(NodeKind::Anvil, backend).await
}

async fn world_on(node: NodeKind, backend: support::Backend) -> World {
    let devnet = Devnet::start(DevnetOptions::on(node)).await.unwrap();
    let contracts = SafeContracts::deploy(&devnet).await.unwrap();
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    World {
        devnet,
        contracts,
        _db: db,
        store,
    }
}

fn addresses(signers: &[alloy::signers::local::PrivateKeySigner]) -> Vec<Address> {
    signers.iter().map(|s| s.address()).collect()
}

async fn register(store: &Store, yaml: &str) -> Manifest {
    let m = Manifest::parse(yaml).unwrap();
    store.add_group(&m).await.unwrap();
    m
}

/// A Safe of `owners` with threshold 2, declared as such in group `id` followed from block 0.
async fn safe_group(
    w: &World,
    id: &str,
    version: SafeVersion,
    salt: u64,
    owners: &[Address],
) -> Address {
    let safe = w.safe(version, owners, 2, salt).await;
    register(
        &w.store,
        &support::safe_manifest(id, 0, &[(safe, owners.to_vec(), 2)]),
    )
    .await;
    safe
}

/// A follower of the world's chain with some chain settings changed.
fn follower_with(
    w: &World,
    tune: impl FnOnce(&mut groupstate::config::ChainConfig),
) -> groupstate::sync::Follower {
    let mut chain = support::chain_config(&w.devnet.rpc_url(), w.devnet.chain_id());
    tune(&mut chain);
    groupstate::sync::Follower::new("local", chain, support::follower_config(), w.store.clone())
        .unwrap()
}

async fn open_rules(store: &Store, group: &str) -> Vec<(String, String)> {
    store
        .divergences(group, Some(DivergenceStatus::Open))
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.rule, d.item))
        .collect()
}

async fn backfill_then_live(node: NodeKind, backend: support::Backend) {
    let w = world_on(node, backend).await;
    let keys = devnet::signers(4);
    let owners = addresses(&keys[..3]);
    let safe = w.safe(SafeVersion::V141L2, &owners, 2, 1).await;
    devnet::fund(&w.devnet, safe, U256::from(10u64.pow(18)))
        .await
        .unwrap();
    let payee = Address::repeat_byte(0x77);
    let pay = devnet::exec_transaction(
        &w.devnet,
        safe,
        payee,
        U256::from(1000),
        Default::default(),
        0,
        &[&keys[0], &keys[1]],
    )
    .await
    .unwrap();

    w.declare("river-guild", &[(safe, owners.clone(), 2)]).await;
    let f = w.follower();
    support::sync(&f).await;

    let records = w.records("river-guild").await;
    let kinds: Vec<&str> = records.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "safe.setup",
            "safe.received",
            "safe.multisig_transaction",
            "safe.execution_success"
        ]
    );
    let exec = records.last().unwrap();
    assert_eq!(exec.tx_hash, pay.transaction_hash.to_string());
    assert_eq!(exec.block_number as u64, pay.block_number.unwrap());
    assert_eq!(exec.category, "decision");
    assert_eq!(open_rules(&w.store, "river-guild").await, vec![]);

    // Live: an owner nobody documented is added.
    let intruder = keys[3].address();
    let add = devnet::add_owner_with_threshold(&w.devnet, safe, intruder, 2, &[&keys[0], &keys[1]])
        .await
        .unwrap();
    support::sync(&f).await;
    let open = w
        .store
        .divergences("river-guild", Some(DivergenceStatus::Open))
        .await
        .unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    let d = &open[0];
    assert_eq!(d.rule, "safe.owner_undeclared");
    assert_eq!(d.severity, "critical");
    assert_eq!(d.item, intruder.to_checksum(None));
    assert_eq!(
        d.opened_tx_hash.as_deref(),
        Some(add.transaction_hash.to_string().as_str())
    );
    assert_eq!(d.opened_block as u64, add.block_number.unwrap());
    assert_eq!(d.opened_block_hash, add.block_hash.unwrap().to_string());

    // The manifest is updated to declare the new owner: resolved, by the manifest.
    let mut declared = owners.clone();
    declared.push(intruder);
    let v2 = Manifest::parse(&support::safe_manifest(
        "river-guild",
        0,
        &[(safe, declared, 2)],
    ))
    .unwrap();
    let version = w.store.update_group(&v2, None).await.unwrap();
    w.devnet.mine(1).await.unwrap();
    support::sync(&f).await;
    let all = w.store.divergences("river-guild", None).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].status, "resolved");
    assert_eq!(all[0].resolution.as_deref(), Some("manifest"));
    assert_eq!(
        all[0].resolved_manifest_hash.as_deref(),
        Some(version.hash.as_str())
    );
    assert_eq!(all[0].resolved_block, Some(version.effective_block));
}
on_both_nodes_and_backends!(backfill_then_live_sqlite_and_postgres, backfill_then_live);

async fn every_rule_raised_and_resolved(backend: support::Backend) {
    let w = world(backend).await;
    let keys = devnet::signers(4);
    let owners = addresses(&keys[..3]);
    let signers = [&keys[0], &keys[1]];
    let safe = safe_group(&w, "g", SafeVersion::V141, 2, &owners).await;
    let f = w.follower();
    support::sync(&f).await;
    assert!(open_rules(&w.store, "g").await.is_empty());

    let module = Address::repeat_byte(0x4d);
    let steps: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "threshold 1",
            vec![("safe.threshold_mismatch", "1".to_string())],
        ),
        ("threshold 2", vec![]),
        (
            "enable module",
            vec![("safe.module_undeclared", module.to_checksum(None))],
        ),
        ("disable module", vec![]),
        (
            "remove owner",
            vec![("safe.owner_missing", owners[2].to_checksum(None))],
        ),
        ("add owner back", vec![]),
    ];
    for (action, expected) in steps {
        match action {
            "threshold 1" => devnet::change_threshold(&w.devnet, safe, 1, &signers).await,
            "threshold 2" => devnet::change_threshold(&w.devnet, safe, 2, &[&keys[0]]).await,
            "enable module" => devnet::enable_module(&w.devnet, safe, module, &signers).await,
            "disable module" => devnet::disable_module(&w.devnet, safe, module, &signers).await,
            "remove owner" => devnet::remove_owner(&w.devnet, safe, owners[2], 2, &signers).await,
            "add owner back" => {
                devnet::add_owner_with_threshold(&w.devnet, safe, owners[2], 2, &signers).await
            }
            _ => unreachable!(),
        }
        .unwrap();
        support::sync(&f).await;
        let got = open_rules(&w.store, "g").await;
        let want: Vec<(String, String)> = expected
            .into_iter()
            .map(|(r, k)| (r.to_string(), k))
            .collect();
        assert_eq!(got, want, "after {action}");
        if action == "enable module" {
            // Acknowledged, a divergence stays open to the chain: disabling the module must
            // still resolve it.
            let open = w
                .store
                .divergences("g", Some(DivergenceStatus::Open))
                .await
                .unwrap();
            w.store
                .acknowledge_divergence(
                    "g",
                    open[0].n,
                    "under review",
                    Some(&open[0].opened_block_hash),
                )
                .await
                .unwrap();
        }
    }
    // Everything raised was resolved by the chain, with evidence.
    let all = w.store.divergences("g", None).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[1].ack_note.as_deref(), Some("under review"));
    for d in &all {
        assert_eq!(d.status, "resolved", "{d:?}");
        assert_eq!(d.resolution.as_deref(), Some("chain"));
        assert!(d.resolved_tx_hash.is_some());
        assert!(d.resolved_block.unwrap() > d.opened_block);
    }
}
on_both_backends!(
    every_rule_sqlite_and_postgres,
    every_rule_raised_and_resolved
);

/// A guard set on the Safe raises `safe.guard_changed`; removing it resolves it.
async fn guard_changes(backend: support::Backend) {
    let w = world(backend).await;
    let keys = devnet::signers(3);
    let owners = addresses(&keys);
    let safe = safe_group(&w, "g", SafeVersion::V141L2, 3, &owners).await;
    let f = w.follower();
    // The Safe repository's example ReentrancyTransactionGuard, deployed with the contracts.
    let guard = w.contracts.guard;
    devnet::set_guard(&w.devnet, safe, guard, &[&keys[0], &keys[1]])
        .await
        .unwrap();
    support::sync(&f).await;
    assert_eq!(
        open_rules(&w.store, "g").await,
        vec![("safe.guard_changed".to_string(), guard.to_checksum(None))]
    );
    devnet::set_guard(&w.devnet, safe, Address::ZERO, &[&keys[0], &keys[1]])
        .await
        .unwrap();
    support::sync(&f).await;
    assert!(open_rules(&w.store, "g").await.is_empty());
}
on_both_backends!(guard_sqlite_and_postgres, guard_changes);

/// Safe 1.3.0 indexes fewer parameters under the same topic0s; each event decodes all the same.
async fn safe_130_layouts(backend: support::Backend) {
    let w = world(backend).await;
    let keys = devnet::signers(4);
    let owners = addresses(&keys[..3]);
    let signers = [&keys[0], &keys[1]];
    let safe = safe_group(&w, "old", SafeVersion::V130L2, 4, &owners).await;
    let module = Address::repeat_byte(0x4d);
    devnet::fund(&w.devnet, safe, U256::from(5)).await.unwrap();
    devnet::add_owner_with_threshold(&w.devnet, safe, keys[3].address(), 3, &signers)
        .await
        .unwrap();
    devnet::remove_owner(
        &w.devnet,
        safe,
        keys[3].address(),
        2,
        &[&keys[0], &keys[1], &keys[2]],
    )
    .await
    .unwrap();
    devnet::enable_module(&w.devnet, safe, module, &signers)
        .await
        .unwrap();
    devnet::disable_module(&w.devnet, safe, module, &signers)
        .await
        .unwrap();
    devnet::set_fallback_handler(&w.devnet, safe, Address::repeat_byte(0xfb), &signers)
        .await
        .unwrap();
    let f = w.follower();
    support::sync(&f).await;
    let records = w.records("old").await;
    let structure: Vec<&str> = records
        .iter()
        .filter(|r| r.category == "structure")
        .map(|r| r.kind.as_str())
        .collect();
    assert_eq!(
        structure,
        vec![
            "safe.setup",
            "safe.added_owner",
            "safe.changed_threshold",
            "safe.removed_owner",
            "safe.changed_threshold",
            "safe.enabled_module",
            "safe.disabled_module",
            "safe.changed_fallback_handler",
        ]
    );
    // The 1.3.0 AddedOwner carries the owner in data, not in a topic.
    let added = records
        .iter()
        .find(|r| r.kind == "safe.added_owner")
        .unwrap();
    let topics: Vec<String> = serde_json::from_str(&added.topics).unwrap();
    assert_eq!(topics.len(), 1);
    assert!(added.fields.contains(&format!("{:x}", keys[3].address())));
    assert!(records.iter().all(|r| r.kind != "unknown"));
    // Every change to owners, threshold and modules happened and was undone; the divergences
    // opened on the way are resolved. The fallback handler stays one nobody declared.
    assert_eq!(
        open_rules(&w.store, "old").await,
        vec![(
            "safe.fallback_handler_changed".to_string(),
            Address::repeat_byte(0xfb).to_checksum(None)
        )]
    );
    assert!(!w.store.divergences("old", None).await.unwrap().is_empty());
}
on_both_backends!(safe_130_sqlite_and_postgres, safe_130_layouts);

/// A group registered with its start block behind the checkpoint is backfilled while the
/// others keep following, and ends with the same records as if it had been there from the start.
async fn late_group_is_backfilled(backend: support::Backend) {
    let w = world(backend).await;
    let keys = devnet::signers(3);
    let owners = addresses(&keys);
    let a = w.safe(SafeVersion::V141L2, &owners, 2, 5).await;
    let b = w.safe(SafeVersion::V141L2, &owners, 2, 6).await;
    devnet::fund_many(&w.devnet, &[a, b].repeat(50), U256::from(1))
        .await
        .unwrap();
    w.declare("first", &[(a, owners.clone(), 2)]).await;
    let f = w.follower();
    support::sync(&f).await;
    w.declare("late", &[(b, owners.clone(), 1)]).await;
    devnet::fund(&w.devnet, a, U256::from(2)).await.unwrap();
    // The first step after registration both catches the late group up and follows the head.
    let o = f.step().await.unwrap();
    assert!(o.catching_up);
    assert_eq!(o.advanced, 1);
    support::sync(&f).await;
    assert_eq!(w.store.count_records("first").await.unwrap(), 1 + 50 + 1);
    assert_eq!(w.store.count_records("late").await.unwrap(), 1 + 50);
    let head = w.devnet.head().await.unwrap() as i64;
    for g in w.store.groups().await.unwrap() {
        assert_eq!(g.synced_to, head, "{}", g.id);
    }
    assert_eq!(
        open_rules(&w.store, "late").await,
        vec![("safe.threshold_mismatch".to_string(), "2".to_string())]
    );
}
on_both_backends!(late_group_sqlite_and_postgres, late_group_is_backfilled);

/// Every Safe event of the catalog that a Safe emits in normal life ends up as a typed record.
async fn every_event_kind_is_recorded(backend: support::Backend) {
    use alloy::rpc::types::{TransactionInput, TransactionRequest};
    use alloy::sol_types::SolCall;
    use devnet::{SafeTx, SignatureKind};
    use groupstate::decode::abi::v141::SafeL2;

    let w = world(backend).await;
    let keys = devnet::signers(3);
    let owners = addresses(&keys);
    let two = [&keys[0], &keys[1]];
    let safe = w.safe(SafeVersion::V141L2, &owners, 2, 9).await;
    devnet::fund(&w.devnet, safe, U256::from(1_000_000))
        .await
        .unwrap();
    // A failing inner call with safeTxGas set is mined as ExecutionFailure.
    SafeTx::self_call(
        safe,
        SafeL2::changeThresholdCall {
            _threshold: U256::from(10),
        },
    )
    .with_safe_tx_gas(U256::from(100_000))
    .execute_unchecked(
        &w.devnet,
        safe,
        &[
            (&keys[0], SignatureKind::Ecdsa),
            (&keys[1], SignatureKind::Ecdsa),
        ],
    )
    .await
    .unwrap();
    // An unlocked dev account as a module: its calls emit the module events.
    let module = w.devnet.accounts()[1];
    devnet::enable_module(&w.devnet, safe, module, &two)
        .await
        .unwrap();
    for data in [Vec::new(), vec![0xde, 0xad, 0xbe, 0xef]] {
        // An empty call to an EOA succeeds; an unknown selector on the Safe itself fails.
        let to = if data.is_empty() {
            Address::repeat_byte(0x55)
        } else {
            safe
        };
        let call = SafeL2::execTransactionFromModuleCall {
            to,
            value: U256::ZERO,
            data: data.into(),
            operation: 0,
        };
        w.devnet
            .transact(
                TransactionRequest::default()
                    .from(module)
                    .to(safe)
                    .input(TransactionInput::new(call.abi_encode().into())),
            )
            .await
            .unwrap();
    }
    devnet::disable_module(&w.devnet, safe, module, &two)
        .await
        .unwrap();
    devnet::set_guard(&w.devnet, safe, w.contracts.guard, &two)
        .await
        .unwrap();
    devnet::set_guard(&w.devnet, safe, Address::ZERO, &two)
        .await
        .unwrap();
    devnet::set_fallback_handler(&w.devnet, safe, Address::repeat_byte(0xfb), &two)
        .await
        .unwrap();
    devnet::swap_owner(&w.devnet, safe, owners[2], Address::repeat_byte(0x0e), &two)
        .await
        .unwrap();

    w.declare("all", &[(safe, owners.clone(), 2)]).await;
    let f = w.follower();
    support::sync(&f).await;
    let records = w.records("all").await;
    let kinds: std::collections::BTreeSet<&str> = records.iter().map(|r| r.kind.as_str()).collect();
    for kind in [
        "safe.setup",
        "safe.received",
        "safe.multisig_transaction",
        "safe.execution_success",
        "safe.execution_failure",
        "safe.enabled_module",
        "safe.module_transaction",
        "safe.module_execution_success",
        "safe.module_execution_failure",
        "safe.disabled_module",
        "safe.changed_guard",
        "safe.changed_fallback_handler",
        "safe.added_owner",
        "safe.removed_owner",
    ] {
        assert!(kinds.contains(kind), "no {kind} record in {kinds:?}");
    }
    // Every record points at its evidence; the fields are the decoded event.
    for r in &records {
        assert_eq!(r.chain_id as u64, w.devnet.chain_id());
        assert_eq!(
            Some(r.block_hash.parse().unwrap()),
            w.devnet.block_hash(r.block_number as u64).await.unwrap()
        );
        let fields: serde_json::Value = serde_json::from_str(&r.fields).unwrap();
        assert!(fields["event"].is_string(), "{}", r.fields);
    }
    // The swap left an owner nobody declared and one declared owner missing; the fallback
    // handler is now one neither declared nor known.
    let mut rules: Vec<String> = open_rules(&w.store, "all")
        .await
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    rules.sort();
    assert_eq!(
        rules,
        vec![
            "safe.fallback_handler_changed",
            "safe.owner_missing",
            "safe.owner_undeclared"
        ]
    );
}
on_both_backends!(
    every_event_kind_sqlite_and_postgres,
    every_event_kind_is_recorded
);

/// A group that starts following after the Safe changed: the `eth_call` snapshot at the block
/// before `start_block` shows what the events before it would have.
async fn snapshot_catches_history(backend: support::Backend) {
    let w = world(backend).await;
    let keys = devnet::signers(4);
    let owners = addresses(&keys[..3]);
    let safe = w.safe(SafeVersion::V141, &owners, 2, 10).await;
    devnet::add_owner_with_threshold(&w.devnet, safe, keys[3].address(), 3, &[&keys[0], &keys[1]])
        .await
        .unwrap();
    devnet::enable_module(
        &w.devnet,
        safe,
        Address::repeat_byte(0x4d),
        &[&keys[0], &keys[1], &keys[2]],
    )
    .await
    .unwrap();
    let start = w.devnet.head().await.unwrap() + 1;
    register(
        &w.store,
        &support::safe_manifest("late", start, &[(safe, owners.clone(), 2)]),
    )
    .await;
    let f = w.follower();
    w.devnet.mine(1).await.unwrap();
    support::sync(&f).await;
    assert_eq!(w.store.count_records("late").await.unwrap(), 0);
    let open = w
        .store
        .divergences("late", Some(DivergenceStatus::Open))
        .await
        .unwrap();
    let mut rules: Vec<&str> = open.iter().map(|d| d.rule.as_str()).collect();
    rules.sort();
    assert_eq!(
        rules,
        vec![
            "safe.module_undeclared",
            "safe.owner_undeclared",
            "safe.threshold_mismatch"
        ]
    );
    for d in &open {
        assert_eq!(
            d.opened_block as u64,
            start - 1,
            "evidence is the snapshot block"
        );
        assert!(d.opened_tx_hash.is_none());
    }
}
on_both_backends!(snapshot_sqlite_and_postgres, snapshot_catches_history);

/// The daemon loop: with a WebSocket head subscription a divergence is stored long before the
/// (here one-minute) poll interval; with confirmations it waits until the block is deep enough.
async fn websocket_and_confirmations(node: NodeKind, backend: support::Backend) {
    use std::time::Duration;
    use tokio_util::sync::CancellationToken;
    let w = world_on(node, backend).await;
    let keys = devnet::signers(4);
    let owners = addresses(&keys[..3]);
    let safe = safe_group(&w, "ws", SafeVersion::V141L2, 11, &owners).await;
    let mut chain = support::chain_config(&w.devnet.rpc_url(), w.devnet.chain_id());
    chain.ws_url = Some(w.devnet.ws_url().parse().expect("a ws URL"));
    chain.poll_interval_ms = 60_000;
    chain.confirmations = 2;
    let f = groupstate::sync::Follower::new(
        "local",
        chain,
        support::follower_config(),
        w.store.clone(),
    )
    .unwrap();
    let cancel = CancellationToken::new();
    let task = {
        let c = cancel.clone();
        tokio::spawn(async move { f.run(c).await })
    };
    let synced = |min: i64| {
        let store = w.store.clone();
        async move {
            for _ in 0..500 {
                if store.group("ws").await.unwrap().unwrap().synced_to >= min {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            false
        }
    };
    let add = devnet::add_owner_with_threshold(
        &w.devnet,
        safe,
        keys[3].address(),
        2,
        &[&keys[0], &keys[1]],
    )
    .await
    .unwrap();
    let block = add.block_number.unwrap() as i64;
    // Two blocks short of two confirmations: nothing about `block` yet.
    assert!(synced(block - 2).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(w.store.divergences("ws", None).await.unwrap().is_empty());
    assert_eq!(
        w.store.group("ws").await.unwrap().unwrap().synced_to,
        block - 2
    );
    w.devnet.mine(2).await.unwrap();
    assert!(
        synced(block).await,
        "the new heads arrive over WebSocket, not the 60 s poll"
    );
    let open = w
        .store
        .divergences("ws", Some(DivergenceStatus::Open))
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    cancel.cancel();
    task.await.unwrap().unwrap();
}
on_both_nodes_and_backends!(websocket_sqlite_and_postgres, websocket_and_confirmations);

/// A manifest update that declares a second Safe: its events are recorded from the block the
/// version is in force, reconciled against the new version, with the old ones untouched.
async fn an_update_adds_a_safe(backend: support::Backend) {
    let w = world(backend).await;
    let keys = devnet::signers(3);
    let owners = addresses(&keys);
    let a = w.safe(SafeVersion::V141L2, &owners, 2, 12).await;
    let b = w.safe(SafeVersion::V141L2, &owners, 1, 13).await;
    devnet::fund(&w.devnet, b, U256::from(1)).await.unwrap();
    w.declare("g", &[(a, owners.clone(), 2)]).await;
    let f = w.follower();
    support::sync(&f).await;
    let v2 = Manifest::parse(&support::safe_manifest(
        "g",
        0,
        &[(a, owners.clone(), 2), (b, owners.clone(), 2)],
    ))
    .unwrap();
    let version = w.store.update_group(&v2, None).await.unwrap();
    devnet::fund(&w.devnet, b, U256::from(2)).await.unwrap();
    support::sync(&f).await;
    let records = w.records("g").await;
    let of_b: Vec<_> = records
        .iter()
        .filter(|r| r.address == b.to_checksum(None))
        .collect();
    assert_eq!(
        of_b.len(),
        1,
        "only B's events from the effective block: {of_b:?}"
    );
    assert!(of_b[0].block_number >= version.effective_block);
    assert_eq!(
        of_b[0].manifest_hash.as_deref(),
        Some(version.hash.as_str())
    );
    // B's threshold of 1 disagrees with the 2 declared, from the snapshot before the version.
    let open = w
        .store
        .divergences("g", Some(DivergenceStatus::Open))
        .await
        .unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].rule, "safe.threshold_mismatch");
    assert_eq!(open[0].subject, b.to_checksum(None));
    assert_eq!(open[0].opened_manifest_hash, version.hash);
}
on_both_backends!(
    update_adds_a_safe_sqlite_and_postgres,
    an_update_adds_a_safe
);

/// A manifest that declares a contract which is not a Safe (a typo, a token): a divergence that
/// says so, and the follower carries on with the group's other Safes.
async fn a_declared_contract_that_is_not_a_safe(backend: support::Backend) {
    let w = world(backend).await;
    let keys = devnet::signers(3);
    let owners = addresses(&keys);
    let safe = w.safe(SafeVersion::V141L2, &owners, 2, 14).await;
    let not_a_safe = w.contracts.guard;
    w.devnet.mine(1).await.unwrap();
    let start = w.devnet.head().await.unwrap();
    register(
        &w.store,
        &support::safe_manifest(
            "typo",
            start,
            &[(safe, owners.clone(), 2), (not_a_safe, owners.clone(), 2)],
        ),
    )
    .await;
    let f = w.follower();
    support::sync(&f).await;
    devnet::fund(&w.devnet, safe, U256::from(3)).await.unwrap();
    support::sync(&f).await;
    let open = w
        .store
        .divergences("typo", Some(DivergenceStatus::Open))
        .await
        .unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].rule, "safe.not_a_safe");
    assert_eq!(open[0].subject, not_a_safe.to_checksum(None));
    assert_eq!(w.store.count_records("typo").await.unwrap(), 1);
}
on_both_backends!(
    not_a_safe_sqlite_and_postgres,
    a_declared_contract_that_is_not_a_safe
);

/// A structural divergence left open past the grace period marks the documentation stale, dated
/// at the deadline block; updating the manifest resolves both.
async fn documentation_goes_stale(backend: support::Backend) {
    let w = world(backend).await;
    let keys = devnet::signers(4);
    let owners = addresses(&keys[..3]);
    let safe = safe_group(&w, "docs", SafeVersion::V141L2, 15, &owners).await;
    let f = follower_with(&w, |c| c.documentation_grace_blocks = 3);
    let add = devnet::add_owner_with_threshold(
        &w.devnet,
        safe,
        keys[3].address(),
        2,
        &[&keys[0], &keys[1]],
    )
    .await
    .unwrap();
    let opened = add.block_number.unwrap() as i64;
    w.devnet.mine(1).await.unwrap();
    support::sync(&f).await;
    assert_eq!(open_rules(&w.store, "docs").await.len(), 1, "not stale yet");
    w.devnet.mine(5).await.unwrap();
    support::sync(&f).await;
    let open = w
        .store
        .divergences("docs", Some(DivergenceStatus::Open))
        .await
        .unwrap();
    let stale = open
        .iter()
        .find(|d| d.rule == "documentation.stale")
        .expect("stale");
    assert_eq!(
        stale.opened_block,
        opened + 3,
        "dated at the deadline, not when noticed"
    );
    let mut declared = owners.clone();
    declared.push(keys[3].address());
    let v2 = Manifest::parse(&support::safe_manifest("docs", 0, &[(safe, declared, 2)])).unwrap();
    let version = w.store.update_group(&v2, None).await.unwrap();
    w.devnet.mine(1).await.unwrap();
    support::sync(&f).await;
    assert!(open_rules(&w.store, "docs").await.is_empty());
    let all = w.store.divergences("docs", None).await.unwrap();
    assert!(
        all.iter()
            .all(|d| d.resolved_block == Some(version.effective_block)),
        "{all:?}"
    );
}
on_both_backends!(
    documentation_stale_sqlite_and_postgres,
    documentation_goes_stale
);

/// Safe executions are decisions with their signers recovered — from SafeL2's event or from the
/// transaction input of a plain Safe — and a signature by an owner the manifest does not list
/// is `safe.signer_undeclared`.
async fn signers_are_recovered(backend: support::Backend) {
    use devnet::{SafeTx, SignatureKind};
    let w = world(backend).await;
    let keys = devnet::signers(4);
    let owners = addresses(&keys[..3]);
    let l2 = w.safe(SafeVersion::V141L2, &owners, 2, 16).await;
    let plain = w.safe(SafeVersion::V141, &owners, 2, 17).await;
    for safe in [l2, plain] {
        devnet::fund(&w.devnet, safe, U256::from(1000))
            .await
            .unwrap();
    }
    register(
        &w.store,
        &support::safe_manifest(
            "sig",
            0,
            &[(l2, owners.clone(), 2), (plain, owners.clone(), 2)],
        ),
    )
    .await;
    let payee = Address::repeat_byte(0x77);
    let mixed = [
        (&keys[0], SignatureKind::EthSign),
        (&keys[2], SignatureKind::Ecdsa),
    ];
    for safe in [l2, plain] {
        SafeTx::new(payee, U256::from(1), Vec::<u8>::new())
            .execute(&w.devnet, safe, &mixed)
            .await
            .unwrap();
    }
    // An owner nobody declared joins the plain Safe and signs a payment.
    devnet::add_owner_with_threshold(
        &w.devnet,
        plain,
        keys[3].address(),
        2,
        &[&keys[0], &keys[1]],
    )
    .await
    .unwrap();
    let signed = devnet::exec_transaction(
        &w.devnet,
        plain,
        payee,
        U256::from(2),
        Default::default(),
        0,
        &[&keys[3], &keys[1]],
    )
    .await
    .unwrap();
    let f = w.follower();
    support::sync(&f).await;

    let decisions = groupstate::decisions::decisions(&w.store, "sig")
        .await
        .unwrap();
    let executions: Vec<_> = decisions
        .iter()
        .filter_map(|d| match d {
            groupstate::decisions::Decision::SafeExecution(e) => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(executions.len(), 4);
    let signers_of = |i: usize| -> Vec<(String, String)> {
        executions[i]
            .signers
            .as_array()
            .unwrap_or_else(|| panic!("{:?}", executions[i]))
            .iter()
            .map(|s| {
                (
                    s["signer"].as_str().unwrap().to_lowercase(),
                    s["kind"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let mut expected = vec![
        (format!("{:#x}", keys[0].address()), "eth_sign".to_string()),
        (format!("{:#x}", keys[2].address()), "ecdsa".to_string()),
    ];
    expected.sort();
    for i in 0..2 {
        let mut got = signers_of(i);
        got.sort();
        assert_eq!(got, expected, "execution {i}");
    }
    assert!(
        executions[0].transaction.is_some(),
        "SafeL2 carries the transaction"
    );
    let undeclared = w
        .store
        .divergences("sig", Some(DivergenceStatus::Open))
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.rule == "safe.signer_undeclared")
        .collect::<Vec<_>>();
    assert_eq!(undeclared.len(), 1, "{undeclared:?}");
    assert_eq!(undeclared[0].subject, plain.to_checksum(None));
    assert_eq!(
        undeclared[0].opened_tx_hash,
        Some(signed.transaction_hash.to_string())
    );
    assert!(undeclared[0]
        .item
        .ends_with(&keys[3].address().to_checksum(None)));
}
on_both_backends!(signers_sqlite_and_postgres, signers_are_recovered);

/// A change no event announces (here a storage write) is caught by the periodic snapshot at the
/// next multiple of `snapshot_interval_blocks`, dated at that block.
async fn periodic_snapshots_catch_silent_changes(backend: support::Backend) {
    let w = world(backend).await;
    let keys = devnet::signers(3);
    let owners = addresses(&keys);
    let safe = safe_group(&w, "silent", SafeVersion::V141, 18, &owners).await;
    let f = follower_with(&w, |c| c.snapshot_interval_blocks = 5);
    support::sync(&f).await;
    assert!(open_rules(&w.store, "silent").await.is_empty());
    // The threshold lives in storage slot 4 of a Safe; write 1 there without any event.
    w.devnet
        .set_storage_at(
            safe,
            U256::from(4),
            alloy::primitives::B256::with_last_byte(1),
        )
        .await
        .unwrap();
    let written = w.devnet.head().await.unwrap() as i64;
    w.devnet.mine(10).await.unwrap();
    support::sync(&f).await;
    let open = w
        .store
        .divergences("silent", Some(DivergenceStatus::Open))
        .await
        .unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].rule, "safe.threshold_mismatch");
    assert_eq!(open[0].opened_block % 5, 0);
    assert!(open[0].opened_block > written && open[0].opened_block <= written + 5);
    assert!(open[0].opened_tx_hash.is_none());
}
on_both_backends!(
    periodic_snapshot_sqlite_and_postgres,
    periodic_snapshots_catch_silent_changes
);

/// The API of a daemon whose follower has indexed a Safe, on a real socket.
async fn serve_api(
    store: &Store,
    metrics: std::sync::Arc<groupstate::metrics::Metrics>,
) -> (String, tokio_util::sync::CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let cancel = tokio_util::sync::CancellationToken::new();
    let state = groupstate::api::ApiState {
        metrics,
        ..groupstate::api::ApiState::new(store.clone(), vec!["local".into()])
    };
    tokio::spawn(groupstate::api::serve(listener, state, cancel.clone()));
    (base, cancel)
}

/// `/metrics` after a follower has indexed a Safe's payment, read by a Prometheus parser: the
/// chain's figures agree with the node, and batch commits, the node's calls by method and the
/// API's requests by route template are histograms with their own buckets and counts.
///
/// Two daemons run in this process (and other tests beside them): each [`Metrics`] owns its
/// own recorder rather than the process-wide one, so each daemon's figures are its own and the
/// counts below are exact rather than deltas — the second daemon, which follows nothing, shows
/// none of the first one's.
///
/// [`Metrics`]: groupstate::metrics::Metrics
async fn metrics_are_histograms_per_daemon(backend: support::Backend) {
    use support::prom::Exposition;
    let w = world(backend).await;
    let keys = devnet::signers(3);
    let owners = addresses(&keys);
    let safe = safe_group(&w, "guild", SafeVersion::V141L2, 1, &owners).await;
    devnet::fund(&w.devnet, safe, U256::from(10u64.pow(18)))
        .await
        .unwrap();
    devnet::exec_transaction(
        &w.devnet,
        safe,
        Address::repeat_byte(0x77),
        U256::from(1000),
        Default::default(),
        0,
        &[&keys[0], &keys[1]],
    )
    .await
    .unwrap();
    let metrics = groupstate::metrics::Metrics::new();
    let f = w.follower().with_metrics(metrics.chain("local", 10));
    support::sync(&f).await;
    let head = w.devnet.head().await.unwrap() as f64;

    let (base, _stop) = serve_api(&w.store, metrics).await;
    let (other, _stop_other) = serve_api(&w.store, groupstate::metrics::Metrics::new()).await;
    let http = reqwest::Client::new();
    let get = |url: String| {
        let http = http.clone();
        async move {
            let r = http.get(url).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    assert_eq!(get(format!("{base}/readyz")).await.0, 200);
    assert_eq!(get(format!("{base}/v1/groups/guild")).await.0, 200);
    assert_eq!(get(format!("{base}/v1/groups/guild/records")).await.0, 200);
    assert_eq!(get(format!("{base}/v1/groups/nobody")).await.0, 404);
    assert_eq!(get(format!("{base}/no/such/route")).await.0, 404);
    let (status, text) = get(format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    let m = Exposition::parse(&text);

    // The follower's figures, as `/readyz` reads them.
    let local = [("chain", "local")];
    assert_eq!(m.value("groupstate_chain_head_block", &local), Some(head));
    assert_eq!(
        m.value("groupstate_chain_indexed_block", &local),
        Some(head)
    );
    assert_eq!(m.value("groupstate_chain_lag_blocks", &local), Some(0.0));
    assert_eq!(
        m.value("groupstate_chain_max_lag_blocks", &local),
        Some(10.0)
    );
    assert_eq!(m.value("groupstate_ready", &local), Some(1.0));
    assert!(m.has_type("groupstate_events_total", "counter"));
    assert!(m.value("groupstate_events_total", &local).unwrap() > 0.0);
    assert!(m.value("groupstate_records_total", &local).unwrap() > 0.0);
    let log_size = w.store.log_size("local").await.unwrap() as f64;
    assert_eq!(m.value("groupstate_log_entries", &local), Some(log_size));
    for severity in ["low", "medium", "high", "critical"] {
        assert_eq!(
            m.value("groupstate_divergences_open", &[("severity", severity)]),
            Some(0.0)
        );
    }
    assert_eq!(
        m.value("groupstate_alert_deliveries", &[("status", "pending")]),
        Some(0.0)
    );

    // Histograms, not summaries, each with its buckets.
    for name in [
        "groupstate_batch_commit_seconds",
        "groupstate_rpc_call_seconds",
        "groupstate_api_request_seconds",
    ] {
        assert!(m.has_type(name, "histogram"), "{name}:\n{text}");
    }
    let commits = m
        .histogram("groupstate_batch_commit_seconds", &local)
        .expect("batch commits are timed");
    commits.assert_sound();
    assert!(commits.count > 0.0 && commits.sum > 0.0, "{commits:?}");
    assert_eq!(
        commits.bounds(),
        [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]
    );
    let logs = m
        .histogram(
            "groupstate_rpc_call_seconds",
            &[
                ("chain", "local"),
                ("method", "eth_getLogs"),
                ("outcome", "ok"),
            ],
        )
        .expect("eth_getLogs is timed");
    logs.assert_sound();
    assert!(logs.count > 0.0, "{logs:?}");
    assert_eq!(
        logs.bounds(),
        [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]
    );
    let heads = m
        .histogram(
            "groupstate_rpc_call_seconds",
            &[("method", "eth_blockNumber"), ("outcome", "ok")],
        )
        .expect("eth_blockNumber is timed");
    assert!(heads.count >= 1.0, "{heads:?}");

    // Requests by the route's template, never the raw path; this scrape is not in it yet.
    let route = |route: &str, status: &str| {
        m.histogram(
            "groupstate_api_request_seconds",
            &[("route", route), ("method", "GET"), ("status", status)],
        )
        .map(|h| {
            h.assert_sound();
            h.count
        })
    };
    assert_eq!(route("/readyz", "200"), Some(1.0));
    assert_eq!(route("/v1/groups/{id}", "200"), Some(1.0));
    assert_eq!(route("/v1/groups/{id}", "404"), Some(1.0));
    assert_eq!(route("/v1/groups/{id}/records", "200"), Some(1.0));
    assert_eq!(route("unmatched", "404"), Some(1.0));
    assert_eq!(route("/metrics", "200"), None);
    let api = m
        .histogram("groupstate_api_request_seconds", &[("route", "/readyz")])
        .unwrap();
    assert_eq!(
        api.bounds(),
        [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]
    );
    assert!(
        !text.contains("guild") && !text.contains("nobody") && !text.contains("no/such"),
        "no raw path in a label:\n{text}"
    );
    let (_, again) = get(format!("{base}/metrics")).await;
    let again = Exposition::parse(&again);
    let scrapes = again.histogram(
        "groupstate_api_request_seconds",
        &[("route", "/metrics"), ("status", "200")],
    );
    assert_eq!(scrapes.map(|h| h.count), Some(1.0));

    // The other daemon has figures of its own only: no chain, no commit, no call.
    let (_, text) = get(format!("{other}/metrics")).await;
    let o = Exposition::parse(&text);
    for name in [
        "groupstate_chain_head_block",
        "groupstate_batch_commit_seconds",
        "groupstate_rpc_call_seconds",
        "groupstate_api_request_seconds",
    ] {
        assert_eq!(o.samples(name, &[]).count(), 0, "{name}:\n{text}");
    }
    assert_eq!(o.value("groupstate_log_entries", &local), Some(log_size));
}
on_both_backends!(
    metrics_sqlite_and_postgres,
    metrics_are_histograms_per_daemon
);

/// A follower configured from a preset refuses a node of another chain at start, naming the
/// node, both chain ids, the chain the node serves and the preset that expected another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_of_another_chain_is_refused_naming_the_preset() {
    let devnet = Devnet::start(DevnetOptions::default()).await.unwrap();
    let db = support::TestDb::new(support::Backend::Sqlite).await;
    let store = db.store().await;
    let base = groupstate::config::presets::preset("base").unwrap();
    let chain = groupstate::config::ChainConfig {
        preset: Some(base),
        ..support::chain_config(&devnet.rpc_url(), base.chain_id)
    };
    let url: url::Url = devnet.rpc_url().parse().unwrap();
    let f =
        groupstate::sync::Follower::new("base", chain, support::follower_config(), store).unwrap();
    let err = f
        .run(tokio_util::sync::CancellationToken::new())
        .await
        .unwrap_err();
    assert!(!err.is_retryable());
    assert_eq!(
        err.to_string(),
        format!(
            "chain base: the node at {}:{} reports chain id {} (local), the preset base expects 8453",
            url.host_str().unwrap(),
            url.port().unwrap(),
            devnet.chain_id()
        )
    );
}
