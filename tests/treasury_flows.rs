//! Treasury flows end to end against anvil with the real Safe contracts, on SQLite and on
//! PostgreSQL: payments, MultiSend batches (flat and nested) and module executions checked
//! against the per-transaction limit, with each call and its verdict on the execution's record;
//! allowances and NFT transfers against the approval and recipient rules; a delegatecall that
//! rewrites a Safe's singleton; a payment scheduled on a timelock flagged before it runs; a
//! reorg retracting a finding; the rolling limits and the balance check; decisions listing the
//! calls.
//!
//! Unless a test says otherwise, the Safe is a plain 1.4.1 Safe with owners 2 of 3, one
//! declared EOA module, and the policy `max_outflow: { native: 5 ETH }`.

mod support;

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use devnet::bindings::{ISafe, IERC20, IERC721};
use devnet::{
    Devnet, DevnetOptions, GovernanceContracts, GovernanceParams, MultiSendDeployment,
    MultiSendItem, SafeContracts, SafeTx, SafeVersion, SignatureKind, TreasuryContracts,
    CANCELLER_ROLE,
};
use groupstate::config::{ChainConfig, TraceMode};
use groupstate::decisions::{Decision, SafeExecutionDecision};
use groupstate::manifest::Manifest;
use groupstate::store::{
    AlertFilter, Divergence, DivergenceStatus, RecordFilter, RecordRow, Store,
};
use groupstate::sync::Follower;
use serde_json::Value;

/// The per-transaction limit every test declares: 5 ETH.
const LIMIT: &str = "5000000000000000000";
const OVER: &str = "treasury.outflow_over_limit";
const RECIPIENT: &str = "treasury.recipient_not_allowed";

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64.pow(18))
}

fn wei(n: u64) -> String {
    ether(n).to_string()
}

struct World {
    devnet: Devnet,
    safes: SafeContracts,
    t: TreasuryContracts,
    keys: Vec<PrivateKeySigner>,
    owners: Vec<Address>,
    /// The EOA module every Safe enables (an unlocked dev account, so it can send).
    module: Address,
    _db: support::TestDb,
    store: Store,
}

async fn world(backend: support::Backend) -> World {
    let devnet = Devnet::start(DevnetOptions::default()).await.unwrap();
    let safes = SafeContracts::deploy(&devnet).await.unwrap();
    let t = TreasuryContracts::deploy(&devnet).await.unwrap();
    let keys = devnet::signers(3);
    let owners = keys.iter().map(|k| k.address()).collect();
    let module = devnet.accounts()[1];
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    World {
        devnet,
        safes,
        t,
        keys,
        owners,
        module,
        _db: db,
        store,
    }
}

fn quoted(addresses: &[Address]) -> String {
    addresses
        .iter()
        .map(|a| format!("\"{a}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

impl World {
    fn signers(&self) -> Vec<(&PrivateKeySigner, SignatureKind)> {
        self.keys[..2]
            .iter()
            .map(|k| (k, SignatureKind::Ecdsa))
            .collect()
    }

    /// A new Safe of the owners (2 of 3) holding 100 ETH, with the EOA module enabled.
    async fn safe(&self, version: SafeVersion, salt: u64) -> Address {
        let safe = self
            .safes
            .create_safe(&self.devnet, version, &self.owners, 2, salt)
            .await
            .unwrap();
        devnet::fund(&self.devnet, safe, ether(100)).await.unwrap();
        self.enable(safe, self.module).await;
        safe
    }

    /// A new 1.4.1 Safe (as [`safe`](Self::safe)) that also enables the contract module
    /// PayingModule, declared as group `g` with both modules.
    async fn safe_with_paying_module(&self) -> Address {
        let safe = self.safe(SafeVersion::V141, 1).await;
        self.enable(safe, self.t.paying_module).await;
        self.declare("g", safe, &[self.module, self.t.paying_module], "", "", "")
            .await;
        safe
    }

    async fn enable(&self, safe: Address, module: Address) {
        devnet::enable_module(&self.devnet, safe, module, &[&self.keys[0], &self.keys[1]])
            .await
            .unwrap();
    }

    /// Signs `tx` with two owners and executes it on `safe`.
    async fn exec(&self, safe: Address, tx: SafeTx) -> TransactionReceipt {
        tx.execute(&self.devnet, safe, &self.signers())
            .await
            .unwrap()
    }

    /// The owners pay `value` to `to` from `safe`.
    async fn pay(&self, safe: Address, to: Address, value: U256) -> TransactionReceipt {
        self.exec(safe, SafeTx::new(to, value, Bytes::new())).await
    }

    /// The owners run a batch through `deployment`.
    async fn batch(
        &self,
        safe: Address,
        deployment: MultiSendDeployment,
        items: &[MultiSendItem],
    ) -> TransactionReceipt {
        self.exec(safe, self.safes.multi_send_tx(deployment, items))
            .await
    }

    /// Registers group `id` (from block 0) declaring `safe` with the owners (2 of 3), the
    /// `modules`, and the policy `max_outflow: { native: 5 ETH }` plus `policy` (lines indented
    /// four spaces); `safe_extra` adds lines to the Safe (indented six spaces), `tail` adds
    /// top-level sections.
    async fn declare(
        &self,
        id: &str,
        safe: Address,
        modules: &[Address],
        policy: &str,
        safe_extra: &str,
        tail: &str,
    ) {
        let m = self.manifest(id, safe, modules, policy, safe_extra, tail, LIMIT);
        self.store.add_group(&m).await.unwrap();
    }

    /// The manifest [`declare`](Self::declare) registers, with `limit` as `max_outflow`.
    #[allow(clippy::too_many_arguments)]
    fn manifest(
        &self,
        id: &str,
        safe: Address,
        modules: &[Address],
        policy: &str,
        safe_extra: &str,
        tail: &str,
        limit: &str,
    ) -> Manifest {
        let yaml = format!(
            "id: {id}\nname: Test {id}\npurpose: Testing.\nphase: coordination\nchain: local\nstart_block: 0\ntreasury:\n  safes:\n    - address: \"{safe}\"\n      owners: [{owners}]\n      threshold: 2\n      modules: [{modules}]\n{safe_extra}  policy:\n    max_outflow: {{ native: \"{limit}\" }}\n{policy}{tail}",
            owners = quoted(&self.owners),
            modules = quoted(modules),
        );
        Manifest::parse(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
    }

    /// A follower with the test settings: `traces = "auto"`, which finds anvil's
    /// `debug_traceTransaction` (see [`traces_are_detected_on_anvil`]).
    fn follower(&self) -> Follower {
        support::follower(&self.store, &self.devnet.rpc_url(), self.devnet.chain_id())
    }

    /// A [`follower`](Self::follower) that has caught up with the chain.
    async fn synced(&self) -> Follower {
        let f = self.follower();
        support::sync(&f).await;
        f
    }

    /// A [`synced`](Self::synced) follower, after checking that group `g` has nothing open.
    async fn quiet(&self) -> Follower {
        let f = self.synced().await;
        assert_eq!(
            self.open("g").await,
            vec![],
            "nothing is open before the test acts"
        );
        f
    }

    fn follower_with(&self, tune: impl FnOnce(&mut ChainConfig)) -> Follower {
        let mut chain = support::chain_config(&self.devnet.rpc_url(), self.devnet.chain_id());
        tune(&mut chain);
        Follower::new(
            "local",
            chain,
            support::follower_config(),
            self.store.clone(),
        )
        .unwrap()
    }

    async fn divergences(&self, id: &str, status: Option<DivergenceStatus>) -> Vec<Divergence> {
        self.store.divergences(id, status).await.unwrap()
    }

    /// The open divergences of a group as (rule, item), sorted.
    async fn open(&self, id: &str) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .divergences(id, Some(DivergenceStatus::Open))
            .await
            .into_iter()
            .map(|d| (d.rule, d.item))
            .collect();
        v.sort();
        v
    }

    /// The open divergence of `rule` about `item`, or a panic listing what is open.
    async fn finding(&self, id: &str, rule: &str, item: &str) -> Divergence {
        let open = self.divergences(id, Some(DivergenceStatus::Open)).await;
        open.iter()
            .find(|d| d.rule == rule && d.item == item)
            .cloned()
            .unwrap_or_else(|| panic!("no open {rule} {item} in {open:#?}"))
    }

    async fn records(&self, id: &str) -> Vec<RecordRow> {
        self.store
            .records(id, &RecordFilter::default())
            .await
            .unwrap()
    }

    /// The decision of the Safe execution in transaction `tx`.
    async fn safe_decision(&self, id: &str, tx: B256) -> SafeExecutionDecision {
        let decisions = groupstate::decisions::decisions(&self.store, id)
            .await
            .unwrap();
        decisions
            .iter()
            .find_map(|d| match d {
                Decision::SafeExecution(x) if x.evidence.tx_hash == tx.to_string() => {
                    Some(x.as_ref().clone())
                }
                _ => None,
            })
            .unwrap_or_else(|| panic!("no decision for {tx}: {decisions:#?}"))
    }

    /// The record of `kind` in transaction `tx`.
    async fn record(&self, id: &str, kind: &str, tx: B256) -> RecordRow {
        let records = self.records(id).await;
        records
            .iter()
            .find(|r| r.kind == kind && r.tx_hash == tx.to_string())
            .cloned()
            .unwrap_or_else(|| {
                let kinds: Vec<(&str, &str)> = records
                    .iter()
                    .map(|r| (r.kind.as_str(), r.tx_hash.as_str()))
                    .collect();
                panic!("no {kind} record in {tx}: {kinds:?}")
            })
    }
}

/// The log index of `safe`'s execution event (`ExecutionSuccess` or
/// `ExecutionFromModuleSuccess`) in a receipt.
fn exec_log(receipt: &TransactionReceipt, safe: Address) -> u64 {
    receipt
        .logs()
        .iter()
        .find(|l| {
            l.address() == safe
                && (l.topic0() == Some(&ISafe::ExecutionSuccess::SIGNATURE_HASH)
                    || l.topic0() == Some(&ISafe::ExecutionFromModuleSuccess::SIGNATURE_HASH))
        })
        .and_then(|l| l.log_index)
        .expect("an execution event")
}

/// The log index of the first log `emitter` wrote with `topic0`.
fn log_of(receipt: &TransactionReceipt, emitter: Address, topic0: B256) -> u64 {
    receipt
        .logs()
        .iter()
        .find(|l| l.address() == emitter && l.topic0() == Some(&topic0))
        .and_then(|l| l.log_index)
        .expect("the log")
}

fn tx_of(receipt: &TransactionReceipt) -> B256 {
    receipt.transaction_hash
}

fn fields(r: &RecordRow) -> Value {
    serde_json::from_str(&r.fields).unwrap()
}

/// One call as its execution's record shows it: (path, function, amount moved, verdict).
type CallView = (String, String, Option<String>, Vec<String>);

fn calls(fields: &Value) -> Vec<CallView> {
    fields["calls"]
        .as_array()
        .unwrap_or_else(|| panic!("no calls in {fields}"))
        .iter()
        .map(|c| {
            (
                c["path"].as_str().unwrap_or("?").to_string(),
                c["function"].as_str().unwrap_or("?").to_string(),
                // `amount` is also an argument of some functions (`approve`): the movement's
                // amount is the one that comes with its `asset`.
                if c["asset"].is_null() {
                    None
                } else {
                    c["amount"].as_str().map(String::from)
                },
                c["verdict"]
                    .as_array()
                    .unwrap_or_else(|| panic!("no verdict in {c}"))
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

fn call(path: &str, function: &str, amount: Option<U256>, verdict: &[&str]) -> CallView {
    (
        path.to_string(),
        function.to_string(),
        amount.map(|a| a.to_string()),
        verdict.iter().map(|v| v.to_string()).collect(),
    )
}

/// `d`'s observed text contains `part`; the text is shown when it does not.
fn assert_observed(d: &Divergence, part: &str) {
    assert!(d.observed.contains(part), "{}", d.observed);
}

/// `d` counts one movement of `n` ETH to `payee`, at a locator that starts with `locator`.
fn assert_one_movement(d: &Divergence, n: u64, payee: Address, locator: &str) {
    assert_observed(
        d,
        &format!(
            "{} of native in 1 movement: {} to {payee} ({locator}",
            wei(n),
            wei(n)
        ),
    );
}

fn pair(rule: &str, item: impl Into<String>) -> (String, String) {
    (rule.to_string(), item.into())
}

fn sorted(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.sort();
    v
}

fn as_address(v: &Value) -> Option<Address> {
    v.as_str().and_then(|s| s.parse().ok())
}

/// The flow rows stored for transaction `tx` (`treasury_flows`, via the store dump).
async fn flow_lines(store: &Store, tx: B256) -> Vec<String> {
    support::dump(store)
        .await
        .into_iter()
        .filter(|l| l.starts_with("flows: ") && l.contains(&tx.to_string()))
        .collect()
}

/// Rows 1, 2, 6 and 10: direct payments and MultiSendCallOnly batches on one Safe version.
async fn payments_and_batches(backend: support::Backend, version: SafeVersion) {
    let w = world(backend).await;
    let safe = w.safe(version, 1).await;
    w.declare("g", safe, &[w.module], "", "", "").await;
    let f = w.synced().await;
    assert_eq!(w.open("g").await, vec![], "the setup breaks no rule");

    // 6 ETH in one payment: over the 5 ETH limit.
    let payee = Address::repeat_byte(0x77);
    let six = w.pay(safe, payee, ether(6)).await;
    support::sync(&f).await;
    let item = format!("{}:native", tx_of(&six));
    assert_eq!(w.open("g").await, vec![pair(OVER, item.clone())]);
    let d = w.finding("g", OVER, &item).await;
    assert_eq!(d.severity, "high");
    assert_eq!(d.subject, safe.to_checksum(None));
    let log = exec_log(&six, safe);
    assert_one_movement(&d, 6, payee, &format!("{log}/0)"));
    // Seen by the input, the trace and (on SafeL2) the event: one movement, one flow.
    assert_eq!(
        flow_lines(&w.store, tx_of(&six)).await.len(),
        1,
        "{:#?}",
        flow_lines(&w.store, tx_of(&six)).await
    );
    let exec = w.record("g", "safe.execution_success", tx_of(&six)).await;
    assert_eq!(
        calls(&fields(&exec)),
        vec![call("0", "none", Some(ether(6)), &[OVER])]
    );

    // 4 ETH: within the limit, nothing new.
    let four = w.pay(safe, payee, ether(4)).await;
    support::sync(&f).await;
    assert_eq!(w.open("g").await, vec![pair(OVER, item.clone())]);
    let exec = w.record("g", "safe.execution_success", tx_of(&four)).await;
    assert_eq!(
        calls(&fields(&exec)),
        vec![call("0", "none", Some(ether(4)), &[])]
    );

    // A batch of 6 + 1 ETH, and one of 3 + 3: each call within the limit or not, the
    // transaction's total over it.
    let call_only = match version {
        SafeVersion::V130 | SafeVersion::V130L2 => MultiSendDeployment::V130CallOnly,
        _ => MultiSendDeployment::V141CallOnly,
    };
    let (r1, r2) = (Address::repeat_byte(0xa1), Address::repeat_byte(0xa2));
    let amounts = [(6, 1), (3, 3)];
    let mut batches = Vec::new();
    for (a, b) in amounts {
        let pays = [
            MultiSendItem::pay(r1, ether(a)),
            MultiSendItem::pay(r2, ether(b)),
        ];
        batches.push(w.batch(safe, call_only, &pays).await);
    }
    support::sync(&f).await;
    let items: Vec<String> = batches
        .iter()
        .map(|r| format!("{}:native", tx_of(r)))
        .collect();
    let mut expected = vec![pair(OVER, item.clone())];
    expected.extend(items.iter().map(|i| pair(OVER, i.clone())));
    assert_eq!(w.open("g").await, sorted(expected));
    for ((receipt, (a, b)), i) in batches.iter().zip(amounts).zip(&items) {
        let log = exec_log(receipt, safe);
        let d = w.finding("g", OVER, i).await;
        assert_observed(
            &d,
            &format!(
                "{} of native in 2 movements: {} to {r1} ({log}/0.0), {} to {r2} ({log}/0.1)",
                wei(a + b),
                wei(a),
                wei(b)
            ),
        );
        let exec = w
            .record("g", "safe.execution_success", tx_of(receipt))
            .await;
        let fields = fields(&exec);
        assert_eq!(
            calls(&fields),
            vec![
                call("0", "multi_send", None, &[]),
                call("0.0", "none", Some(ether(a)), &[OVER]),
                call("0.1", "none", Some(ether(b)), &[OVER]),
            ],
            "{fields}"
        );
        let to: Vec<Option<Address>> = fields["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| as_address(&c["to"]))
            .collect();
        assert_eq!(
            to,
            vec![Some(w.safes.multi_send(call_only)), Some(r1), Some(r2)]
        );
        assert_eq!(flow_lines(&w.store, tx_of(receipt)).await.len(), 2);
    }
    // No batch library delegatecall is a finding.
    assert!(w
        .divergences("g", None)
        .await
        .iter()
        .all(|d| d.rule == OVER));
}

/// [`payments_and_batches`] on each Safe version: `test, scenario: version;`, each test on
/// both backends.
macro_rules! payments_on {
    ($($test:ident, $scenario:ident: $version:ident;)*) => {$(
        async fn $scenario(backend: support::Backend) {
            payments_and_batches(backend, SafeVersion::$version).await
        }
        on_both_backends!($test, $scenario);
    )*};
}
payments_on! {
    payments_safe_141, payments_141: V141;
    payments_safe_130, payments_130: V130;
    payments_safe_l2_141, payments_141_l2: V141L2;
    payments_safe_l2_130, payments_130_l2: V130L2;
}

/// The EOA module pays 7 ETH from `safe` (group `g`, nothing open yet) to `payee`: one
/// over-limit finding naming the one movement, and an execution record naming the module with
/// that call over the limit. Returns the receipt, the finding's item and the record's fields.
async fn eoa_module_pays_seven(
    w: &World,
    f: &Follower,
    safe: Address,
    payee: Address,
) -> (TransactionReceipt, String, Value) {
    let paid = devnet::module_pay(&w.devnet, w.module, safe, payee, ether(7))
        .await
        .unwrap();
    support::sync(f).await;
    let item = format!("{}:native", tx_of(&paid));
    assert_eq!(w.open("g").await, vec![pair(OVER, item.clone())]);
    let d = w.finding("g", OVER, &item).await;
    let log = exec_log(&paid, safe);
    assert_one_movement(&d, 7, payee, &format!("{log}/0)"));
    let x = fields(
        &w.record("g", "safe.module_execution_success", tx_of(&paid))
            .await,
    );
    assert_eq!(as_address(&x["module"]), Some(w.module), "{x}");
    assert_eq!(calls(&x), vec![call("0", "none", Some(ether(7)), &[OVER])]);
    (paid, item, x)
}

/// Rows 3 and 8: the EOA module pays 7 ETH with no owner signature; a contract module
/// (PayingModule) pays 7 ETH, seen through the call trace.
async fn module_payments(backend: support::Backend) {
    let w = world(backend).await;
    let safe = w.safe_with_paying_module().await;
    let f = w.quiet().await;

    let payee = Address::repeat_byte(0x77);
    let (_, item, x) = eoa_module_pays_seven(&w, &f, safe, payee).await;
    assert_eq!(as_address(&x["caller"]), Some(w.module), "{x}");
    assert!(x["calls_unknown"].is_null(), "{x}");

    // The contract module: its call is not in the transaction's input, only in the trace.
    let by_contract =
        devnet::paying_module_pay(&w.devnet, w.t.paying_module, safe, payee, ether(7))
            .await
            .unwrap();
    support::sync(&f).await;
    let item2 = format!("{}:native", tx_of(&by_contract));
    assert_eq!(
        w.open("g").await,
        sorted(vec![pair(OVER, item), pair(OVER, item2.clone())])
    );
    let d = w.finding("g", OVER, &item2).await;
    assert_one_movement(&d, 7, payee, "trace/");
    let exec = w
        .record("g", "safe.module_execution_success", tx_of(&by_contract))
        .await;
    let x = fields(&exec);
    assert_eq!(as_address(&x["module"]), Some(w.t.paying_module), "{x}");
    assert_eq!(
        as_address(&x["caller"]),
        Some(w.devnet.dev_account()),
        "{x}"
    );
    assert_eq!(flow_lines(&w.store, tx_of(&by_contract)).await.len(), 1);
}
on_both_backends!(module_payments_both, module_payments);

/// Row 4: allowances against `max_approval`, `unlimited_approvals: false` and
/// `allowed_spenders`.
async fn approvals(backend: support::Backend) {
    let w = world(backend).await;
    let safe = w.safe(SafeVersion::V141, 1).await;
    let token = w.t.token;
    let friend = Address::repeat_byte(0xf1);
    let outsider = Address::repeat_byte(0x66);
    let policy = format!(
        "    max_approval: {{ \"{token}\": \"{}\" }}\n    unlimited_approvals: false\n    allowed_spenders: [\"{friend}\"]\n",
        wei(100)
    );
    w.declare("g", safe, &[w.module], &policy, "", "").await;
    devnet::mint_tokens(&w.devnet, token, safe, ether(1000))
        .await
        .unwrap();
    let f = w.quiet().await;

    let approval = IERC20::Approval::SIGNATURE_HASH;
    let item = |r: &TransactionReceipt| format!("{}:{}", tx_of(r), log_of(r, token, approval));
    // An unlimited allowance to an outsider: over the limit and to an unlisted spender.
    let unlimited = w
        .exec(safe, SafeTx::erc20_approve(token, outsider, U256::MAX))
        .await;
    // Within max_approval, to the listed spender: fine.
    let within = w
        .exec(safe, SafeTx::erc20_approve(token, friend, ether(50)))
        .await;
    // Unlimited to the listed spender: over the limit only.
    let friend_unlimited = w
        .exec(safe, SafeTx::erc20_approve(token, friend, U256::MAX))
        .await;
    // Within the limit, to an outsider: an unlisted spender only.
    let outsider_within = w
        .exec(safe, SafeTx::erc20_approve(token, outsider, ether(10)))
        .await;
    support::sync(&f).await;
    assert_eq!(
        w.open("g").await,
        sorted(vec![
            pair("treasury.approval_over_limit", item(&unlimited)),
            pair("treasury.spender_not_allowed", item(&unlimited)),
            pair("treasury.approval_over_limit", item(&friend_unlimited)),
            pair("treasury.spender_not_allowed", item(&outsider_within)),
        ])
    );
    for d in w.divergences("g", None).await {
        assert_eq!(d.severity, "high", "{d:?}");
        assert_eq!(d.subject, safe.to_checksum(None));
    }
    let approvals: Vec<String> = w
        .records("g")
        .await
        .into_iter()
        .filter(|r| r.kind == "token.approval")
        .map(|r| r.tx_hash)
        .collect();
    assert_eq!(
        approvals,
        [&unlimited, &within, &friend_unlimited, &outsider_within]
            .iter()
            .map(|r| tx_of(r).to_string())
            .collect::<Vec<_>>()
    );
    let exec = w
        .record("g", "safe.execution_success", tx_of(&within))
        .await;
    let x = fields(&exec);
    assert_eq!(calls(&x), vec![call("0", "approve", None, &[])], "{x}");
    assert!(
        x["calls"][0]["asset"].is_null(),
        "an approval moves nothing: {x}"
    );
    // The decision of an approval lists its call and no outflow.
    let approved = w.safe_decision("g", tx_of(&within)).await;
    assert_eq!(approved.calls.as_array().map(Vec::len), Some(1));
    assert!(
        approved.outflows.is_empty(),
        "an approval is no outflow: {:?}",
        approved.outflows
    );
}
on_both_backends!(approvals_both, approvals);

/// Row 9: an ERC-20 payment with no token limit and an allowance within `max_approval` are
/// fine; an ERC-721 sent to an unlisted recipient is an `nft.transfer` and a finding.
async fn tokens_and_nfts(backend: support::Backend) {
    let w = world(backend).await;
    let safe = w.safe(SafeVersion::V141, 1).await;
    let (token, nft) = (w.t.token, w.t.nft);
    let friend = Address::repeat_byte(0xf1);
    let stranger = Address::repeat_byte(0x66);
    let policy = format!(
        "    allowed_recipients: [\"{friend}\"]\n    max_approval: {{ \"{token}\": \"{}\" }}\n    unlimited_approvals: false\n",
        wei(100)
    );
    w.declare("g", safe, &[w.module], &policy, "", "").await;
    devnet::mint_tokens(&w.devnet, token, safe, ether(1000))
        .await
        .unwrap();
    devnet::mint_nft(&w.devnet, nft, safe, U256::from(1))
        .await
        .unwrap();
    let f = w.quiet().await;

    let paid = w
        .exec(safe, SafeTx::erc20_transfer(token, friend, ether(500)))
        .await;
    w.exec(safe, SafeTx::erc20_approve(token, friend, ether(50)))
        .await;
    support::sync(&f).await;
    assert_eq!(
        w.open("g").await,
        vec![],
        "no token limit, allowance within"
    );
    let exec = w.record("g", "safe.execution_success", tx_of(&paid)).await;
    let x = fields(&exec);
    let token_word = token.to_checksum(None);
    assert_eq!(
        x["calls"][0]["asset"].as_str(),
        Some(token_word.as_str()),
        "{x}"
    );
    assert_eq!(
        calls(&x),
        vec![call("0", "transfer", Some(ether(500)), &[])]
    );
    assert_eq!(flow_lines(&w.store, tx_of(&paid)).await.len(), 1);

    let sent = w
        .exec(
            safe,
            SafeTx::erc721_transfer_from(nft, safe, stranger, U256::from(1)),
        )
        .await;
    support::sync(&f).await;
    let log = log_of(&sent, nft, IERC721::Transfer::SIGNATURE_HASH);
    let item = format!("{}:{log}", tx_of(&sent));
    assert_eq!(w.open("g").await, vec![pair(RECIPIENT, item.clone())]);
    let d = w.finding("g", RECIPIENT, &item).await;
    assert_eq!(d.severity, "high");
    let records = w.records("g").await;
    let moved = records
        .iter()
        .find(|r| r.tx_hash == tx_of(&sent).to_string() && r.log_index == log as i64)
        .expect("the NFT transfer's record");
    assert_eq!(moved.kind, "nft.transfer");
    let unknown: Vec<&RecordRow> = records.iter().filter(|r| r.kind == "unknown").collect();
    assert!(unknown.is_empty(), "{unknown:#?}");
}
on_both_backends!(tokens_and_nfts_both, tokens_and_nfts);

/// The owners sign a delegatecall to SlotZeroWriter that sets `safe`'s singleton to an
/// attacker's address; the follower catches up. Returns the receipt and that address.
async fn overwrite_singleton(
    w: &World,
    f: &Follower,
    safe: Address,
) -> (TransactionReceipt, Address) {
    let attacker = Address::repeat_byte(0xba);
    let hit = w
        .exec(
            safe,
            SafeTx::overwrite_singleton(w.t.slot_zero_writer, attacker),
        )
        .await;
    support::sync(f).await;
    (hit, attacker)
}

/// Row 5: the owners sign a delegatecall to SlotZeroWriter, which replaces the singleton.
async fn delegatecall_rewrites_the_singleton(backend: support::Backend) {
    let w = world(backend).await;
    let safe = w.safe(SafeVersion::V141, 1).await;
    w.declare("g", safe, &[w.module], "", "", "").await;
    let f = w.quiet().await;

    let (hit, attacker) = overwrite_singleton(&w, &f, safe).await;
    assert_eq!(
        devnet::read_singleton(&w.devnet, safe).await.unwrap(),
        attacker
    );
    let log = exec_log(&hit, safe);
    let item = format!("{}:{log}/0", tx_of(&hit));
    // The record first: the call, its operation and its verdict.
    let exec = w.record("g", "safe.execution_success", tx_of(&hit)).await;
    let x = fields(&exec);
    let c = calls(&x);
    assert_eq!(c.len(), 1, "{x}");
    assert_eq!(c[0].0, "0");
    assert_eq!(
        c[0].3,
        vec!["safe.delegatecall_undeclared".to_string()],
        "{x}"
    );
    assert_eq!(x["calls"][0]["operation"], 1, "{x}");
    assert_eq!(as_address(&x["calls"][0]["to"]), Some(w.t.slot_zero_writer));
    let open = w.open("g").await;
    assert!(
        open.contains(&pair("safe.delegatecall_undeclared", item.clone())),
        "{open:?}"
    );
    for rule in ["safe.delegatecall_undeclared", "safe.singleton_changed"] {
        let d = w
            .divergences("g", Some(DivergenceStatus::Open))
            .await
            .into_iter()
            .find(|d| d.rule == rule)
            .unwrap_or_else(|| panic!("no open {rule}; open: {open:?}"));
        assert_eq!(d.severity, "critical", "{d:?}");
        assert_eq!(d.subject, safe.to_checksum(None));
        assert_eq!(d.opened_tx_hash, Some(tx_of(&hit).to_string()), "{d:?}");
    }
    assert_eq!(
        open,
        sorted(vec![
            pair("safe.delegatecall_undeclared", item),
            pair("safe.singleton_changed", attacker.to_checksum(None)),
        ]),
        "nothing else"
    );
}
on_both_backends!(delegatecall_both, delegatecall_rewrites_the_singleton);

/// Rows 7 and 13: a 1.4.1 MultiSend batch delegatecalling the 1.3.0 MultiSend with an inner
/// batch; every inner call counts, and the decision lists every call.
async fn nested_batch(backend: support::Backend) {
    let w = world(backend).await;
    let safe = w.safe(SafeVersion::V141, 1).await;
    w.declare("g", safe, &[w.module], "", "", "").await;
    let f = w.synced().await;

    let (r1, r2, r3) = (
        Address::repeat_byte(0xc1),
        Address::repeat_byte(0xc2),
        Address::repeat_byte(0xc3),
    );
    let inner = [
        MultiSendItem::pay(r2, ether(2)),
        MultiSendItem::pay(r3, ether(2)),
    ];
    let outer = [
        MultiSendItem::pay(r1, ether(2)),
        MultiSendItem::nested(w.safes.multi_send(MultiSendDeployment::V130), &inner),
    ];
    let b = w.batch(safe, MultiSendDeployment::V141, &outer).await;
    support::sync(&f).await;
    let tx = tx_of(&b);
    let item = format!("{tx}:native");
    assert_eq!(w.open("g").await, vec![pair(OVER, item.clone())]);
    let log = exec_log(&b, safe);
    let d = w.finding("g", OVER, &item).await;
    assert_observed(&d, &format!(
            "{} of native in 3 movements: {} to {r1} ({log}/0.0), {} to {r2} ({log}/0.1.0), {} to {r3} ({log}/0.1.1)",
            wei(6),
            wei(2),
            wei(2),
            wei(2)
        ));
    let exec = w.record("g", "safe.execution_success", tx).await;
    let expected_calls = vec![
        call("0", "multi_send", None, &[]),
        call("0.0", "none", Some(ether(2)), &[OVER]),
        call("0.1", "multi_send", None, &[]),
        call("0.1.0", "none", Some(ether(2)), &[OVER]),
        call("0.1.1", "none", Some(ether(2)), &[OVER]),
    ];
    assert_eq!(calls(&fields(&exec)), expected_calls);
    assert_eq!(flow_lines(&w.store, tx).await.len(), 3);

    // The decision of that execution lists the same calls and its three outflows.
    let x = w.safe_decision("g", tx).await;
    assert_eq!(x.safe.parse::<Address>().ok(), Some(safe));
    assert!(x.success);
    assert_eq!(
        calls(&serde_json::json!({ "calls": x.calls })),
        expected_calls
    );
    assert_eq!(x.module, None);
    let outflows: Vec<(Option<Address>, Option<String>, Option<String>)> = x
        .outflows
        .iter()
        .map(|o| {
            (
                as_address(&o["to"]),
                o["value"].as_str().map(String::from),
                o["path"].as_str().map(String::from),
            )
        })
        .collect();
    assert_eq!(
        outflows,
        vec![
            (Some(r1), Some(wei(2)), Some("0.0".to_string())),
            (Some(r2), Some(wei(2)), Some("0.1.0".to_string())),
            (Some(r3), Some(wei(2)), Some("0.1.1".to_string())),
        ]
    );
    // The module execution's decision names the module.
    let by_module = devnet::module_pay(&w.devnet, w.module, safe, r1, ether(1))
        .await
        .unwrap();
    support::sync(&f).await;
    let m = w.safe_decision("g", tx_of(&by_module)).await;
    assert_eq!(
        m.module.as_deref().and_then(|s| s.parse::<Address>().ok()),
        Some(w.module)
    );
    assert_eq!(
        calls(&serde_json::json!({ "calls": m.calls })),
        vec![call("0", "none", Some(ether(1)), &[])]
    );
}
on_both_backends!(nested_batch_both, nested_batch);

/// `d` is about a payment of 6 ETH that `timelock` has not yet executed.
fn assert_pending_six(d: &Divergence, timelock: Address) {
    assert_eq!(d.subject, timelock.to_checksum(None));
    assert_observed(d, "not yet executed");
    assert_observed(d, &wei(6));
}

/// `d` was resolved by the transaction of `receipt`.
fn assert_resolved_by(d: &Divergence, receipt: &TransactionReceipt) {
    assert_eq!(d.status, "resolved", "{d:?}");
    assert_eq!(
        d.resolved_tx_hash.as_deref(),
        Some(tx_of(receipt).to_string().as_str())
    );
}

/// Row 11: a payment of 6 ETH scheduled straight on a declared timelock is flagged when it
/// is scheduled, and resolved when it is cancelled.
async fn timelock_schedule(backend: support::Backend) {
    let w = world(backend).await;
    let safe = w.safe(SafeVersion::V141, 1).await;
    let proposer = w.devnet.accounts()[6];
    let params = GovernanceParams {
        keep_timelock_admin: true,
        extra_proposers: vec![proposer],
        timelock_funding: ether(10),
        ..GovernanceParams::default()
    };
    let g = GovernanceContracts::deploy(&w.devnet, params)
        .await
        .unwrap();
    devnet::grant_role(&w.devnet, g.timelock, CANCELLER_ROLE, proposer, g.deployer)
        .await
        .unwrap();
    let mut proposers = vec![g.governor, proposer];
    proposers.sort();
    let tail = format!(
        "governance:\n  timelocks:\n    - address: \"{tl}\"\n      min_delay: 2\n      proposers: [{p}]\n      executors: [\"0x0000000000000000000000000000000000000000\"]\n      cancellers: [{p}]\n      admins: [\"{dep}\"]\n",
        tl = g.timelock,
        p = quoted(&proposers),
        dep = g.deployer,
    );
    w.declare("g", safe, &[w.module], "", "", &tail).await;
    let f = w.synced().await;
    let treasury_rules = |open: Vec<(String, String)>| -> Vec<(String, String)> {
        open.into_iter()
            .filter(|(r, _)| r.starts_with("treasury."))
            .collect()
    };
    assert_eq!(w.open("g").await, vec![], "the deployment agrees");

    let payee = Address::repeat_byte(0x77);
    let op = g
        .schedule_directly(
            &w.devnet,
            proposer,
            payee,
            ether(6),
            Bytes::new(),
            B256::repeat_byte(1),
        )
        .await
        .unwrap();
    support::sync(&f).await;
    let item = format!("{op}:native");
    assert_eq!(
        treasury_rules(w.open("g").await),
        vec![pair(OVER, item.clone())]
    );
    let d = w.finding("g", OVER, &item).await;
    assert_pending_six(&d, g.timelock);
    assert_observed(&d, "executable from timestamp");
    // The direct schedule is also an unexplained timelock call.
    assert_eq!(
        w.open("g").await,
        sorted(vec![
            pair(OVER, item.clone()),
            pair("timelock.unexplained_call", op.to_string()),
        ])
    );

    let cancel = g.cancel_operation(&w.devnet, proposer, op).await.unwrap();
    support::sync(&f).await;
    assert_eq!(treasury_rules(w.open("g").await), vec![]);
    let all = w.divergences("g", None).await;
    let over = all
        .iter()
        .find(|d| d.rule == OVER && d.item == item)
        .unwrap();
    assert_resolved_by(over, &cancel);
}
on_both_backends!(timelock_schedule_both, timelock_schedule);

/// Row 12: a reorg that removes an over-limit batch removes its divergence, and the outbox
/// carries the retraction.
async fn reorg_retracts(backend: support::Backend) {
    let w = world(backend).await;
    let safe = w.safe(SafeVersion::V141, 1).await;
    w.declare("g", safe, &[w.module], "", "", "").await;
    let f = w.synced().await;
    let snapshot = w.devnet.snapshot().await.unwrap();
    let b = w
        .batch(
            safe,
            MultiSendDeployment::V141CallOnly,
            &[
                MultiSendItem::pay(Address::repeat_byte(0xa1), ether(6)),
                MultiSendItem::pay(Address::repeat_byte(0xa2), ether(1)),
            ],
        )
        .await;
    support::sync(&f).await;
    let item = format!("{}:native", tx_of(&b));
    assert_eq!(w.open("g").await, vec![pair(OVER, item.clone())]);
    let n = w.finding("g", OVER, &item).await.n;

    assert!(w.devnet.revert(snapshot).await.unwrap());
    w.devnet.mine(3).await.unwrap();
    support::sync(&f).await;
    let left = w.divergences("g", None).await;
    let batch_tx = tx_of(&b).to_string();
    assert!(
        left.iter()
            .all(|d| d.opened_tx_hash.as_deref() != Some(batch_tx.as_str())
                && !d.item.contains(&batch_tx)),
        "the divergence is gone: {left:#?}"
    );
    assert!(left.is_empty(), "nothing else was ever open: {left:#?}");
    assert!(flow_lines(&w.store, tx_of(&b)).await.is_empty());
    assert!(w
        .records("g")
        .await
        .iter()
        .all(|r| r.tx_hash != tx_of(&b).to_string()));
    let alerts: Vec<(i64, String, String, i64)> = w
        .store
        .alerts(&AlertFilter {
            group: Some("g".into()),
            ..AlertFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .rev()
        .filter(|a| a.rule == OVER)
        .map(|a| (a.divergence_n, a.event, a.rule, a.block_number))
        .collect();
    let block = b.block_number.unwrap() as i64;
    assert_eq!(
        alerts,
        vec![
            (n, "opened".to_string(), OVER.to_string(), block),
            (n, "retracted".to_string(), OVER.to_string(), block),
        ]
    );
}
on_both_backends!(reorg_retracts_both, reorg_retracts);

/// Blocks between two balance readings.
const P: u64 = 10;

/// A balance reading at the next multiple of [`P`], PayingModule paying 7 ETH from `safe` in
/// the block after it, then the chain mined to the next reading; a follower with `traces` and
/// a reading every `P` blocks, caught up. Returns the payment, the first reading's block and
/// the follower.
async fn module_pays_between_readings(
    w: &World,
    safe: Address,
    traces: TraceMode,
) -> (TransactionReceipt, u64, Follower) {
    let head = w.devnet.head().await.unwrap();
    let before = (head / P + 1) * P;
    w.devnet.mine(before - head).await.unwrap();
    let paid = devnet::paying_module_pay(
        &w.devnet,
        w.t.paying_module,
        safe,
        Address::repeat_byte(0x77),
        ether(7),
    )
    .await
    .unwrap();
    let at = paid.block_number.unwrap();
    assert_eq!(at, before + 1);
    w.devnet.mine(before + P - at).await.unwrap();
    let f = w.follower_with(|c| {
        c.traces = traces;
        c.balance_check_interval_blocks = P;
    });
    support::sync(&f).await;
    (paid, before, f)
}

/// With traces off, a contract module's payment is invisible to the calls; the balance check
/// finds the money missing.
async fn balance_check_without_traces(backend: support::Backend) {
    let w = world(backend).await;
    let safe = w.safe_with_paying_module().await;
    let (paid, before, f) = module_pays_between_readings(&w, safe, TraceMode::Off).await;
    let after = before + P;
    let item = format!("native:{before}-{after}");
    assert_eq!(
        w.open("g").await,
        vec![pair("treasury.unexplained_outflow", item.clone())],
        "the calls cannot show the payment; the balance can"
    );
    let d = w.finding("g", "treasury.unexplained_outflow", &item).await;
    assert_eq!(d.severity, "critical");
    assert_eq!(d.subject, safe.to_checksum(None));
    assert_observed(&d, &format!("{} of native left", wei(7)));
    let exec = w
        .record("g", "safe.module_execution_success", tx_of(&paid))
        .await;
    let x = fields(&exec);
    assert!(x["calls_unknown"].is_string(), "{x}");
    assert_eq!(as_address(&x["module"]), Some(w.t.paying_module));

    // Money that arrives with no transaction behind it: an unexplained inflow.
    let balance = devnet::read_balance(&w.devnet, safe).await.unwrap();
    w.devnet
        .set_balance(safe, balance + ether(1))
        .await
        .unwrap();
    let head = w.devnet.head().await.unwrap();
    let next = after + P;
    w.devnet.mine(next - head).await.unwrap();
    support::sync(&f).await;
    let inflow = format!("native:{after}-{next}");
    assert_eq!(
        w.open("g").await,
        sorted(vec![
            pair("treasury.unexplained_outflow", item),
            pair("treasury.unexplained_inflow", inflow.clone()),
        ])
    );
    let d = w.finding("g", "treasury.unexplained_inflow", &inflow).await;
    assert_eq!(d.severity, "low");
    assert_observed(&d, &format!("{} of native arrived", wei(1)));
}
on_both_backends!(balance_check_both, balance_check_without_traces);

/// The rolling limits: `max_outflow_per_day` 8 ETH and `max_outflow_per_month` 9 ETH.
async fn rolling_limits(backend: support::Backend) {
    let w = world(backend).await;
    let safe = w.safe(SafeVersion::V141, 1).await;
    let policy = format!(
        "    max_outflow_per_day: {{ native: \"{}\" }}\n    max_outflow_per_month: {{ native: \"{}\" }}\n",
        wei(8),
        wei(9)
    );
    w.declare("g", safe, &[w.module], &policy, "", "").await;
    let f = w.synced().await;
    let payee = Address::repeat_byte(0x77);
    w.pay(safe, payee, ether(4)).await;
    w.pay(safe, payee, ether(4)).await;
    support::sync(&f).await;
    assert_eq!(w.open("g").await, vec![], "8 ETH in a day is the limit");
    let third = w.pay(safe, payee, ether(1)).await;
    support::sync(&f).await;
    let day = format!("{}:native:day", tx_of(&third));
    assert_eq!(w.open("g").await, vec![pair(OVER, day.clone())]);
    let d = w.finding("g", OVER, &day).await;
    assert_eq!(d.severity, "high");
    assert_observed(&d, &format!("{} of native in the day", wei(9)));
    // Two days later the day is clear, the month is not: 10 ETH in it.
    devnet::increase_time(&w.devnet, 2 * 24 * 60 * 60)
        .await
        .unwrap();
    let fourth = w.pay(safe, payee, ether(1)).await;
    support::sync(&f).await;
    let month = format!("{}:native:month", tx_of(&fourth));
    assert_eq!(
        w.open("g").await,
        sorted(vec![pair(OVER, day), pair(OVER, month.clone())])
    );
    let d = w.finding("g", OVER, &month).await;
    assert_observed(&d, &format!("{} of native in the month", wei(10)));
}
on_both_backends!(rolling_limits_both, rolling_limits);

/// `traces = "auto"` (the default) detects the trace API by asking for the trace of the zero
/// hash; anvil answers that with an empty struct-logger result (`{"failed":false,"gas":0,
/// "returnValue":"0x","structLogs":[]}`), which is no call frame but is no refusal either: the
/// API is there, and the follower must start.
async fn traces_are_detected_on_anvil(backend: support::Backend) {
    let w = world(backend).await;
    let safe = w.safe_with_paying_module().await;
    let payee = Address::repeat_byte(0x77);
    let paid = devnet::paying_module_pay(&w.devnet, w.t.paying_module, safe, payee, ether(7))
        .await
        .unwrap();
    let f = support::follower(&w.store, &w.devnet.rpc_url(), w.devnet.chain_id());
    let first = f.step().await;
    assert!(
        first.is_ok(),
        "the first step with traces = auto failed: {}",
        first.err().map(|e| e.to_string()).unwrap_or_default()
    );
    support::sync(&f).await;
    // With the default settings the contract module's payment is seen in the trace.
    assert_eq!(
        w.open("g").await,
        vec![pair(OVER, format!("{}:native", tx_of(&paid)))]
    );
}
on_both_backends!(trace_detection_both, traces_are_detected_on_anvil);

/// The EOA module's payment on a SafeL2 1.4.1: the call comes from `SafeModuleTransaction`,
/// the input and the trace at once, and counts once.
async fn module_payment_on_safe_l2(backend: support::Backend) {
    let w = world(backend).await;
    let safe = w.safe(SafeVersion::V141L2, 1).await;
    w.declare("g", safe, &[w.module], "", "", "").await;
    let f = w.quiet().await;
    let (paid, _, _) = eoa_module_pays_seven(&w, &f, safe, Address::repeat_byte(0x77)).await;
    assert_eq!(flow_lines(&w.store, tx_of(&paid)).await.len(), 1);
}
on_both_backends!(module_payment_l2_both, module_payment_on_safe_l2);

/// ERC-1155 transfers out and operator approvals (`ApprovalForAll`) under
/// `allowed_recipients`, `unlimited_approvals: false` and `allowed_spenders`.
async fn multi_tokens_and_operators(backend: support::Backend) {
    let w = world(backend).await;
    let safe = w.safe(SafeVersion::V141, 1).await;
    let (nft, multi) = (w.t.nft, w.t.multi_token);
    let friend = Address::repeat_byte(0xf1);
    let stranger = Address::repeat_byte(0x66);
    let policy = format!(
        "    allowed_recipients: [\"{friend}\"]\n    unlimited_approvals: false\n    allowed_spenders: [\"{friend}\"]\n"
    );
    w.declare("g", safe, &[w.module], &policy, "", "").await;
    for id in [7u64, 8] {
        devnet::mint_multi_token(&w.devnet, multi, safe, U256::from(id), U256::from(10))
            .await
            .unwrap();
    }
    let f = w.quiet().await;

    let single = w
        .exec(
            safe,
            SafeTx::erc1155_safe_transfer_from(
                multi,
                safe,
                stranger,
                U256::from(7),
                U256::from(3),
                Bytes::new(),
            ),
        )
        .await;
    let batch = w
        .exec(
            safe,
            SafeTx::erc1155_safe_batch_transfer_from(
                multi,
                safe,
                friend,
                vec![U256::from(7), U256::from(8)],
                vec![U256::from(1), U256::from(2)],
                Bytes::new(),
            ),
        )
        .await;
    let to_friend = w
        .exec(safe, SafeTx::set_approval_for_all(nft, friend, true))
        .await;
    let to_stranger = w
        .exec(safe, SafeTx::set_approval_for_all(multi, stranger, true))
        .await;
    support::sync(&f).await;
    let single_log = log_of(
        &single,
        multi,
        devnet::bindings::IERC1155::TransferSingle::SIGNATURE_HASH,
    );
    let batch_log = log_of(
        &batch,
        multi,
        devnet::bindings::IERC1155::TransferBatch::SIGNATURE_HASH,
    );
    let friend_log = log_of(&to_friend, nft, IERC721::ApprovalForAll::SIGNATURE_HASH);
    let stranger_log = log_of(
        &to_stranger,
        multi,
        devnet::bindings::IERC1155::ApprovalForAll::SIGNATURE_HASH,
    );
    let at = |r: &TransactionReceipt, log: u64| format!("{}:{log}", tx_of(r));
    assert_eq!(
        w.open("g").await,
        sorted(vec![
            pair(RECIPIENT, at(&single, single_log)),
            pair("treasury.approval_over_limit", at(&to_friend, friend_log)),
            pair(
                "treasury.approval_over_limit",
                at(&to_stranger, stranger_log)
            ),
            pair(
                "treasury.spender_not_allowed",
                at(&to_stranger, stranger_log)
            ),
        ])
    );
    let records = w.records("g").await;
    let kind_at = |r: &TransactionReceipt, log: u64| {
        records
            .iter()
            .find(|x| x.tx_hash == tx_of(r).to_string() && x.log_index == log as i64)
            .map(|x| x.kind.clone())
    };
    assert_eq!(
        kind_at(&single, single_log).as_deref(),
        Some("nft.transfer_single")
    );
    assert_eq!(
        kind_at(&batch, batch_log).as_deref(),
        Some("nft.transfer_batch")
    );
    assert_eq!(
        kind_at(&to_friend, friend_log).as_deref(),
        Some("nft.approval_for_all")
    );
    assert_eq!(
        kind_at(&to_stranger, stranger_log).as_deref(),
        Some("nft.approval_for_all")
    );
    assert!(records.iter().all(|r| r.kind != "unknown"));
}
on_both_backends!(multi_tokens_both, multi_tokens_and_operators);

/// A fallback handler changed to one neither declared nor known opens
/// `safe.fallback_handler_changed`, resolved when it is set back; a declared handler is fine.
async fn fallback_handler_changes(backend: support::Backend) {
    let w = world(backend).await;
    let safe = w.safe(SafeVersion::V141, 1).await;
    let declared = w.safe(SafeVersion::V141, 2).await;
    let handler = Address::repeat_byte(0xfb);
    w.declare("g", safe, &[w.module], "", "", "").await;
    w.declare(
        "h",
        declared,
        &[w.module],
        "",
        &format!("      fallback_handler: \"{handler}\"\n"),
        "",
    )
    .await;
    let signers = [&w.keys[0], &w.keys[1]];
    let f = w.follower();
    devnet::set_fallback_handler(&w.devnet, declared, handler, &signers)
        .await
        .unwrap();
    support::sync(&f).await;
    assert_eq!(w.open("h").await, vec![], "the declared handler");
    assert_eq!(w.open("g").await, vec![]);

    devnet::set_fallback_handler(&w.devnet, safe, handler, &signers)
        .await
        .unwrap();
    support::sync(&f).await;
    let item = handler.to_checksum(None);
    assert_eq!(
        w.open("g").await,
        vec![pair("safe.fallback_handler_changed", item.clone())]
    );
    let d = w.finding("g", "safe.fallback_handler_changed", &item).await;
    assert_eq!(d.severity, "high");
    devnet::set_fallback_handler(&w.devnet, safe, w.safes.fallback_handler, &signers)
        .await
        .unwrap();
    support::sync(&f).await;
    assert_eq!(w.open("g").await, vec![]);
    let all = w.divergences("g", None).await;
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0].status, "resolved");
}
on_both_backends!(fallback_handler_both, fallback_handler_changes);

/// A delegatecall to a target the Safe declares in `delegatecall_targets` is no
/// `safe.delegatecall_undeclared`; the singleton it writes is still `safe.singleton_changed`.
async fn declared_delegatecall_target(backend: support::Backend) {
    let w = world(backend).await;
    let safe = w.safe(SafeVersion::V141, 1).await;
    w.declare(
        "g",
        safe,
        &[w.module],
        "",
        &format!(
            "      delegatecall_targets: [\"{}\"]\n",
            w.t.slot_zero_writer
        ),
        "",
    )
    .await;
    let f = w.quiet().await;
    let (hit, attacker) = overwrite_singleton(&w, &f, safe).await;
    assert_eq!(
        w.open("g").await,
        vec![pair("safe.singleton_changed", attacker.to_checksum(None))]
    );
    let x = fields(&w.record("g", "safe.execution_success", tx_of(&hit)).await);
    assert_eq!(calls(&x)[0].3, Vec::<String>::new(), "{x}");
}
on_both_backends!(declared_target_both, declared_delegatecall_target);

/// A governor proposal that would pay 6 ETH from its timelock is flagged when it is created,
/// and resolved when it is cancelled.
/// A Governor and its funded Timelock, and the manifest lines that declare them.
async fn governed(w: &World) -> (GovernanceContracts, String) {
    let params = GovernanceParams {
        keep_timelock_admin: true,
        timelock_funding: ether(10),
        ..GovernanceParams::default()
    };
    let g = GovernanceContracts::deploy(&w.devnet, params)
        .await
        .unwrap();
    let tail = format!(
        "governance:\n  governors:\n    - {{ address: \"{gov}\", timelock: \"{tl}\", voting_delay: 1, voting_period: 10, proposal_threshold: \"0\", quorum_numerator: 4 }}\n  timelocks:\n    - address: \"{tl}\"\n      min_delay: 2\n      proposers: [\"{gov}\"]\n      executors: [\"0x0000000000000000000000000000000000000000\"]\n      cancellers: [\"{gov}\"]\n      admins: [\"{dep}\"]\n",
        gov = g.governor,
        tl = g.timelock,
        dep = g.deployer,
    );
    (g, tail)
}

async fn governor_proposal(backend: support::Backend) {
    let w = world(backend).await;
    let safe = w.safe(SafeVersion::V141, 1).await;
    let (g, tail) = governed(&w).await;
    w.declare("g", safe, &[w.module], "", "", &tail).await;
    let f = w.synced().await;
    assert_eq!(w.open("g").await, vec![], "the deployment agrees");

    let payee = Address::repeat_byte(0x77);
    let proposal = devnet::Proposal::single(payee, ether(6), Vec::<u8>::new(), "Pay six");
    let id = g.propose(&w.devnet, g.deployer, &proposal).await.unwrap();
    support::sync(&f).await;
    let item = format!("{}:native", B256::from(id));
    assert_eq!(w.open("g").await, vec![pair(OVER, item.clone())]);
    let d = w.finding("g", OVER, &item).await;
    assert_pending_six(&d, g.timelock);

    let cancel = g.cancel(&w.devnet, g.deployer, &proposal).await.unwrap();
    support::sync(&f).await;
    assert_eq!(w.open("g").await, vec![]);
    // (The deployment's role grants, made one by one, opened and resolved role divergences
    // on the way; only the proposal's finding is looked at here.)
    let all: Vec<Divergence> = w
        .divergences("g", None)
        .await
        .into_iter()
        .filter(|d| d.rule.starts_with("treasury."))
        .collect();
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0].item, item);
    assert_resolved_by(&all[0], &cancel);
}
on_both_backends!(governor_proposal_both, governor_proposal);

/// A proposal within the limit when made is judged again when queued, under the manifest in
/// force then: a limit lowered in between flags it before the money moves.
async fn proposal_judged_again_when_queued(backend: support::Backend) {
    let w = world(backend).await;
    let safe = w.safe(SafeVersion::V141, 1).await;
    let (g, tail) = governed(&w).await;
    w.declare("g", safe, &[w.module], "", "", &tail).await;
    let f = w.synced().await;
    let proposal = devnet::Proposal::single(
        Address::repeat_byte(0x77),
        ether(4),
        Vec::<u8>::new(),
        "Pay four",
    );
    let id = g.propose(&w.devnet, g.deployer, &proposal).await.unwrap();
    support::sync(&f).await;
    assert_eq!(w.open("g").await, vec![], "4 ETH is within 5 ETH");

    let lowered = w.manifest("g", safe, &[w.module], "", "", &tail, &wei(3));
    w.store.update_group(&lowered, None).await.unwrap();
    g.advance_to_voting(&w.devnet, id).await.unwrap();
    g.cast_vote(&w.devnet, id, devnet::VoteSupport::For, g.deployer)
        .await
        .unwrap();
    g.advance_past_deadline(&w.devnet, id).await.unwrap();
    g.queue(&w.devnet, &proposal).await.unwrap();
    support::sync(&f).await;
    let item = format!("{}:native", B256::from(id));
    assert_eq!(w.open("g").await, vec![pair(OVER, item.clone())]);
    let d = w.finding("g", OVER, &item).await;
    assert!(d.observed.contains("queued"), "{}", d.observed);
    assert!(d.expected.contains(&wei(3)), "{}", d.expected);
}
on_both_backends!(
    proposal_judged_again_when_queued_both,
    proposal_judged_again_when_queued
);

/// With traces on, the contract module's payment is a recorded flow: the balance check finds
/// nothing missing.
async fn balance_check_with_traces(backend: support::Backend) {
    let w = world(backend).await;
    let safe = w.safe_with_paying_module().await;
    let (paid, before, _f) = module_pays_between_readings(&w, safe, TraceMode::Debug).await;
    assert_eq!(
        w.open("g").await,
        vec![pair(OVER, format!("{}:native", tx_of(&paid)))],
        "the trace explains the balance"
    );
    let balances: Vec<String> = support::dump(&w.store)
        .await
        .into_iter()
        .filter(|l| l.starts_with("balances: ") && l.contains(&safe.to_checksum(None)))
        .collect();
    assert!(
        balances
            .iter()
            .any(|l| l.ends_with(&format!("|{}|{}", before + P, ether(93)))),
        "{balances:#?}"
    );
}
on_both_backends!(balance_check_traced_both, balance_check_with_traces);
