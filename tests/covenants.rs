//! Covenants judged end to end against anvil with the real Safe contracts, on SQLite and on
//! PostgreSQL: two groups with a Safe each (3 owners, threshold 2) and a covenant between them;
//! a breach by the chain (an owner removed below `min_owners`), a breach by the document (a
//! manifest version lowering the threshold below `min_threshold`), a budget for unlisted
//! recipients at risk past 80% and then broken by a MultiSend batch; and the partner's
//! webhook hearing of the covenant's findings only, signed with its own secret; deadlines and
//! budget windows in blocks of the chain's block time, and a new covenant version settling the
//! old one's findings.

mod support;

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use devnet::{
    Devnet, DevnetOptions, MultiSendDeployment, MultiSendItem, SafeContracts, SafeTx, SafeVersion,
    SignatureKind,
};
use groupstate::alert::Dispatcher;
use groupstate::chain::rpc::{RetryPolicy, Rpc};
use groupstate::manifest::covenant::Covenant;
use groupstate::manifest::ratify::OwnerSignature;
use groupstate::manifest::Manifest;
use groupstate::ratify::ChainAccess;
use groupstate::store::{Divergence, DivergenceStatus, Store};
use groupstate::sync::Follower;
use support::receiver::{
    alerts_config, assert_signed_with, dispatch_until, webhook_with, Receiver,
};

const BREACH: &str = "covenant.breach";
const AT_RISK: &str = "covenant.at_risk";

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64.pow(18))
}

struct World {
    devnet: Devnet,
    safes: SafeContracts,
    keys: Vec<PrivateKeySigner>,
    owners: Vec<Address>,
    river: Address,
    lake: Address,
    _db: support::TestDb,
    store: Store,
    f: Follower,
}

/// Two plain 1.4.1 Safes (owners 2 of 3, 100 ETH each) declared by `river-guild` and
/// `lake-collective`, and the covenant `river-x-lake` between them:
/// 0 `min_owners` 3 and 1 `min_threshold` 2 on the river Safe, 2 at most 10 ETH a month to
/// unlisted recipients from it, 3 the lake Safe keeps the first owner.
async fn world(backend: support::Backend) -> World {
    let devnet = Devnet::start(DevnetOptions::default()).await.unwrap();
    let safes = SafeContracts::deploy(&devnet).await.unwrap();
    let keys = devnet::signers(4);
    let owners: Vec<Address> = keys[..3].iter().map(|k| k.address()).collect();
    let mut made = Vec::new();
    for salt in [1, 2] {
        let safe = safes
            .create_safe(&devnet, SafeVersion::V141, &owners, 2, salt)
            .await
            .unwrap();
        devnet::fund(&devnet, safe, ether(100)).await.unwrap();
        made.push(safe);
    }
    let (river, lake) = (made[0], made[1]);
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    for (id, safe) in [("river-guild", river), ("lake-collective", lake)] {
        let m =
            Manifest::parse(&support::safe_manifest(id, 0, &[(safe, owners.clone(), 2)])).unwrap();
        store.add_group(&m).await.unwrap();
    }
    let covenant = Covenant::parse(&format!(
        "id: river-x-lake\nsummary: River keeps its treasury guarded while Lake funds it.\n\
         parties: [river-guild, lake-collective]\nterms:\n\
         \x20 - {{ clause: min_owners, safe: \"{river}\", value: 3 }}\n\
         \x20 - {{ clause: min_threshold, safe: \"{river}\", value: 2 }}\n\
         \x20 - {{ clause: max_outflow_unlisted, safe: \"{river}\", asset: native, per: month, amount: \"{}\" }}\n\
         \x20 - {{ clause: keeps_owner, safe: \"{lake}\", owner: \"{}\" }}\n\
         notify: [lake-hook]\n",
        ether(10),
        owners[0]
    ))
    .unwrap();
    store.add_covenant(&covenant).await.unwrap();
    let f = support::follower(&store, &devnet.rpc_url(), devnet.chain_id());
    support::sync(&f).await;
    World {
        devnet,
        safes,
        keys,
        owners,
        river,
        lake,
        _db: db,
        store,
        f,
    }
}

impl World {
    fn signers(&self) -> Vec<(&PrivateKeySigner, SignatureKind)> {
        self.keys[..2]
            .iter()
            .map(|k| (k, SignatureKind::Ecdsa))
            .collect()
    }

    async fn exec(&self, safe: Address, tx: SafeTx) -> TransactionReceipt {
        tx.execute(&self.devnet, safe, &self.signers())
            .await
            .unwrap()
    }

    /// The open covenant findings of a group: (rule, item).
    async fn open(&self, group: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .covenant_findings(group)
            .await
            .into_iter()
            .filter(|d| d.status == DivergenceStatus::Open.as_str())
            .map(|d| (d.rule, d.item))
            .collect();
        out.sort();
        out
    }

    /// Every covenant finding of a group, oldest first.
    async fn covenant_findings(&self, group: &str) -> Vec<Divergence> {
        self.store
            .divergences(group, None)
            .await
            .unwrap()
            .into_iter()
            .filter(|d| d.rule.starts_with("covenant."))
            .collect()
    }

    async fn finding(&self, group: &str, rule: &str, item: &str) -> Divergence {
        let all = self.covenant_findings(group).await;
        all.iter()
            .rev()
            .find(|d| d.rule == rule && d.item == item)
            .cloned()
            .unwrap_or_else(|| panic!("no {rule} {item} in {all:#?}"))
    }

    async fn sync(&self) {
        support::sync(&self.f).await;
    }
}

fn pair(rule: &str, item: &str) -> (String, String) {
    (rule.to_string(), item.to_string())
}

fn tx_of(r: &TransactionReceipt) -> String {
    B256::from(r.transaction_hash).to_string()
}

async fn breach_by_the_chain(backend: support::Backend) {
    let w = world(backend).await;
    assert_eq!(
        w.open("river-guild").await,
        vec![],
        "the setup keeps the covenant"
    );
    assert_eq!(w.open("lake-collective").await, vec![]);

    // River removes an owner (threshold stays 2): 2 owners, below the 3 agreed.
    let removed = devnet::remove_owner(
        &w.devnet,
        w.river,
        w.owners[2],
        2,
        &[&w.keys[0], &w.keys[1]],
    )
    .await
    .unwrap();
    w.sync().await;
    assert_eq!(
        w.open("river-guild").await,
        vec![pair(BREACH, "river-x-lake@1#0")]
    );
    let d = w.finding("river-guild", BREACH, "river-x-lake@1#0").await;
    assert_eq!(d.severity, "critical");
    assert_eq!(d.subject, w.river.to_checksum(None));
    assert_eq!(d.opened_tx_hash.as_deref(), Some(tx_of(&removed).as_str()));
    assert_eq!(d.opened_block, removed.block_number.unwrap() as i64);
    assert!(d.observed.contains("2 owners on chain"), "{}", d.observed);
    assert!(d.expected.contains("at least 3 owners"), "{}", d.expected);
    assert!(
        d.expected.contains("covenant river-x-lake version 1"),
        "{}",
        d.expected
    );
    // The lake's clause is its own: nothing there.
    assert_eq!(w.open("lake-collective").await, vec![]);

    // The owner comes back: resolved by the chain, with the transaction that did it.
    let back = devnet::add_owner_with_threshold(
        &w.devnet,
        w.river,
        w.owners[2],
        2,
        &[&w.keys[0], &w.keys[1]],
    )
    .await
    .unwrap();
    w.sync().await;
    assert_eq!(w.open("river-guild").await, vec![]);
    let d = w.finding("river-guild", BREACH, "river-x-lake@1#0").await;
    assert_eq!(d.status, "resolved");
    assert_eq!(d.resolution.as_deref(), Some("chain"));
    assert_eq!(d.resolved_tx_hash.as_deref(), Some(tx_of(&back).as_str()));

    // The lake drops the owner its clause keeps: the lake group's breach.
    devnet::swap_owner(
        &w.devnet,
        w.lake,
        w.owners[0],
        w.keys[3].address(),
        &[&w.keys[0], &w.keys[1]],
    )
    .await
    .unwrap();
    w.sync().await;
    assert_eq!(
        w.open("lake-collective").await,
        vec![pair(BREACH, "river-x-lake@1#3")]
    );
}
on_both_backends!(chain_breach, breach_by_the_chain);

async fn breach_by_the_document(backend: support::Backend) {
    let w = world(backend).await;
    // River declares threshold 1 — the chain still says 2: in breach before the chain changes.
    let v2 = Manifest::parse(&support::safe_manifest(
        "river-guild",
        0,
        &[(w.river, w.owners.clone(), 1)],
    ))
    .unwrap();
    let stored = w.store.update_group(&v2, None).await.unwrap();
    w.devnet.mine(1).await.unwrap();
    w.sync().await;
    let open = w.open("river-guild").await;
    assert!(open.contains(&pair(BREACH, "river-x-lake@1#1")), "{open:?}");
    let d = w.finding("river-guild", BREACH, "river-x-lake@1#1").await;
    assert_eq!(d.opened_block, stored.effective_block);
    assert_eq!(
        d.opened_tx_hash, None,
        "no transaction: the document did it"
    );
    assert_eq!(d.opened_manifest_hash, stored.hash);
    assert!(
        d.observed
            .contains("manifest version 2 declares threshold 1"),
        "{}",
        d.observed
    );

    // Version 3 restores the threshold: resolved by the manifest.
    let v3 = Manifest::parse(&support::safe_manifest(
        "river-guild",
        0,
        &[(w.river, w.owners.clone(), 2)],
    ))
    .unwrap();
    let stored = w.store.update_group(&v3, None).await.unwrap();
    w.devnet.mine(1).await.unwrap();
    w.sync().await;
    let d = w.finding("river-guild", BREACH, "river-x-lake@1#1").await;
    assert_eq!(d.status, "resolved");
    assert_eq!(d.resolution.as_deref(), Some("manifest"));
    assert_eq!(d.resolved_block, Some(stored.effective_block));
    assert!(!w
        .open("river-guild")
        .await
        .contains(&pair(BREACH, "river-x-lake@1#1")));
}
on_both_backends!(document_breach, breach_by_the_document);

async fn budget_at_risk_then_broken_by_a_batch(backend: support::Backend) {
    let w = world(backend).await;
    let payee = Address::repeat_byte(0x77);
    // 9 of the 10 ETH a month: at risk (past 80%).
    w.exec(w.river, SafeTx::new(payee, ether(9), Bytes::new()))
        .await;
    w.sync().await;
    let item = "river-x-lake@1#2/w0";
    assert_eq!(w.open("river-guild").await, vec![pair(AT_RISK, item)]);
    let risk = w.finding("river-guild", AT_RISK, item).await;
    assert_eq!(risk.severity, "medium");
    assert!(
        risk.observed.contains(&ether(9).to_string()),
        "{}",
        risk.observed
    );

    // A MultiSend batch of 1 + 1 ETH: 11 ETH, over the budget.
    let batch = w
        .exec(
            w.river,
            w.safes.multi_send_tx(
                MultiSendDeployment::V141CallOnly,
                &[
                    MultiSendItem::pay(payee, ether(1)),
                    MultiSendItem::pay(Address::repeat_byte(0x78), ether(1)),
                ],
            ),
        )
        .await;
    w.sync().await;
    assert_eq!(w.open("river-guild").await, vec![pair(BREACH, item)]);
    let breach = w.finding("river-guild", BREACH, item).await;
    assert_eq!(
        breach.opened_tx_hash.as_deref(),
        Some(tx_of(&batch).as_str())
    );
    assert!(
        breach.observed.contains(&ether(11).to_string()),
        "{}",
        breach.observed
    );
    let risk = w.finding("river-guild", AT_RISK, item).await;
    assert_eq!(risk.status, "resolved", "the breach supersedes the risk");
    assert_eq!(risk.resolved_tx_hash, breach.opened_tx_hash);
}
on_both_backends!(budget, budget_at_risk_then_broken_by_a_batch);

async fn the_partner_hears_of_its_covenant_only(backend: support::Backend) {
    let w = world(backend).await;
    let ops = Receiver::start().await;
    let partner = Receiver::start().await;
    let d = Dispatcher::new(
        w.store.clone(),
        &alerts_config(vec![
            webhook_with("ops", &ops.url, "ops-secret"),
            webhook_with("lake-hook", &partner.url, "lake-secret"),
        ]),
    )
    .unwrap();
    // Something for the group only: an owner nobody declared (and 4 owners keep the covenant).
    devnet::add_owner_with_threshold(
        &w.devnet,
        w.river,
        w.keys[3].address(),
        2,
        &[&w.keys[0], &w.keys[1]],
    )
    .await
    .unwrap();
    // And a covenant breach: the threshold drops to 1.
    devnet::change_threshold(&w.devnet, w.river, 1, &[&w.keys[0], &w.keys[1]])
        .await
        .unwrap();
    w.sync().await;
    dispatch_until(&d, "the partner's alert", || !partner.requests().is_empty()).await;
    dispatch_until(&d, "the group's alerts", || ops.requests().len() >= 3).await;
    for _ in 0..5 {
        d.step(&tokio_util::sync::CancellationToken::new())
            .await
            .unwrap();
    }
    let got = partner.requests();
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_signed_with(&got[0], "lake-secret");
    let body = got[0].json();
    assert_eq!(body["divergence"]["rule"], BREACH);
    assert_eq!(body["divergence"]["item"], "river-x-lake@1#1");
    assert_eq!(body["covenant"]["id"], "river-x-lake");
    assert_eq!(body["covenant"]["clause"], 1);
    assert_eq!(body["group"], "river-guild");
    // The group's sink hears of everything, the covenant's breach included, with its secret.
    let rules: Vec<String> = ops
        .requests()
        .iter()
        .map(|r| {
            assert_signed_with(r, "ops-secret");
            r.json()["divergence"]["rule"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(
        rules.contains(&"safe.owner_undeclared".to_string()),
        "{rules:?}"
    );
    assert!(rules.contains(&BREACH.to_string()), "{rules:?}");
    assert_eq!(
        partner.requests().len(),
        1,
        "nothing meant for the group only reached the partner"
    );
}
on_both_backends!(partner_sink, the_partner_hears_of_its_covenant_only);

async fn agreements_name_registered_covenants_by_hash(backend: support::Backend) {
    let w = world(backend).await;
    let stored = w.store.covenant_versions("river-x-lake").await.unwrap();
    let base = support::safe_manifest("river-guild", 0, &[(w.river, w.owners.clone(), 2)]);
    let with = |hash: &str| {
        Manifest::parse(&format!(
            "{base}agreements:\n  - {{ with: lake-collective, summary: Funding., covenant: {{ id: river-x-lake, hash: \"{hash}\" }} }}\n"
        ))
        .unwrap()
    };
    // A hash no version has: refused, naming the path and the newest hash.
    let wrong = "ab".repeat(32);
    let e = groupstate::ratify::update(&w.store, None, &with(&wrong), None, &[])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("agreements[0].covenant: covenant river-x-lake has no version with hash"),
        "{e}"
    );
    assert!(e.contains(&stored[0].hash), "{e}");
    // The registered version's hash: stored, the agreement now checkable.
    let v = groupstate::ratify::update(&w.store, None, &with(&stored[0].hash), None, &[])
        .await
        .unwrap();
    assert_eq!(v.version, 2);
    assert_eq!(
        v.manifest.agreements[0].covenant.as_ref().unwrap().id,
        "river-x-lake"
    );
}
on_both_backends!(
    agreements_by_hash,
    agreements_name_registered_covenants_by_hash
);

/// A follower of the world's devnet whose chain makes one block a day, so that a budget's
/// week is 7 blocks and a ratification's 10 days are 10 blocks.
fn daily_follower(w: &World) -> Follower {
    let mut chain = support::chain_config(&w.devnet.rpc_url(), w.devnet.chain_id());
    chain.block_time = Some(std::time::Duration::from_secs(86_400));
    Follower::new("local", chain, support::follower_config(), w.store.clone()).unwrap()
}

async fn time_bound_clauses_and_a_new_version(backend: support::Backend) {
    let w = world(backend).await;
    let f = daily_follower(&w);
    let timed = |days: u64| {
        Covenant::parse(&format!(
            "id: river-time\nparties: [river-guild, lake-collective]\nterms:\n\
             \x20 - {{ clause: reratified_within, group: river-guild, days: {days} }}\n\
             \x20 - {{ clause: max_outflow_unlisted, safe: \"{}\", asset: native, per: week, amount: \"{}\" }}\n",
            w.river,
            ether(10)
        ))
        .unwrap()
    };
    w.store.add_covenant(&timed(10)).await.unwrap();
    w.devnet.mine(1).await.unwrap();
    support::sync(&f).await;
    // River's document was never ratified: due 10 days (blocks) after its first version took
    // effect at block 0, and dated there, whenever the indexer got to it.
    let due = w.finding("river-guild", BREACH, "river-time@1#0").await;
    assert_eq!(due.opened_block, 10);
    assert!(due.observed.contains("never ratified"), "{}", due.observed);

    // 11 ETH in one week: broken; settled where the week ends.
    let paid = w
        .exec(
            w.river,
            SafeTx::new(Address::repeat_byte(0x77), ether(11), Bytes::new()),
        )
        .await;
    support::sync(&f).await;
    let block = paid.block_number.unwrap() as i64;
    let item = format!("river-time@1#1/w{}", block / 7);
    let over = w.finding("river-guild", BREACH, &item).await;
    assert_eq!(over.opened_tx_hash.as_deref(), Some(tx_of(&paid).as_str()));
    w.devnet.mine(8).await.unwrap();
    support::sync(&f).await;
    let over = w.finding("river-guild", BREACH, &item).await;
    assert_eq!(over.status, "resolved");
    assert_eq!(over.resolution.as_deref(), Some("chain"));
    assert_eq!(over.resolved_block, Some((block / 7 + 1) * 7));

    // A new version of the covenant settles the old version's findings and is judged whole.
    w.store.update_covenant(&timed(20), Some(2)).await.unwrap();
    w.devnet.mine(1).await.unwrap();
    support::sync(&f).await;
    let old = w.finding("river-guild", BREACH, "river-time@1#0").await;
    assert_eq!(old.status, "resolved");
    assert_eq!(old.resolution.as_deref(), Some("covenant"));
    let again = w.finding("river-guild", BREACH, "river-time@2#0").await;
    assert_eq!(again.opened_block, 20);

    // River's owners ratify a new version: the ratification clause holds again, resolved by
    // the document at the block the version takes effect.
    let v2 = Manifest::parse(
        &support::safe_manifest("river-guild", 0, &[(w.river, w.owners.clone(), 2)])
            .replace("purpose: Testing.", "purpose: Testing, ratified."),
    )
    .unwrap();
    let digest = groupstate::manifest::ratify::signing_hash(
        "river-guild",
        2,
        &v2.hash(),
        w.devnet.chain_id(),
    );
    let signatures: Vec<OwnerSignature> = w.keys[..2]
        .iter()
        .map(|k| OwnerSignature {
            signer: k.address(),
            signature: k
                .sign_hash_sync(&digest)
                .unwrap()
                .as_bytes()
                .to_vec()
                .into(),
        })
        .collect();
    let chain = ChainAccess {
        rpc: Rpc::new(
            &w.devnet.rpc_url(),
            RetryPolicy::from(&support::follower_config()),
        )
        .unwrap(),
        chain_id: w.devnet.chain_id(),
    };
    let stored = groupstate::ratify::update(&w.store, Some(&chain), &v2, None, &signatures)
        .await
        .unwrap();
    assert!(stored.ratification.is_some());
    w.devnet.mine(1).await.unwrap();
    support::sync(&f).await;
    let again = w.finding("river-guild", BREACH, "river-time@2#0").await;
    assert_eq!(again.status, "resolved");
    assert_eq!(again.resolution.as_deref(), Some("manifest"));
    assert_eq!(again.resolved_block, Some(stored.effective_block));
}
on_both_backends!(time_bound, time_bound_clauses_and_a_new_version);
