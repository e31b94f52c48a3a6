//! The fold without a chain or a database: fixtures of fetched batches built from real event
//! encodings (`sol!` bindings), a group's prior state built in memory, and the effects checked.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use alloy::primitives::{Address, LogData, B256, U256};
use alloy::rpc::types::Log;
use alloy::sol_types::SolEvent;

use super::*;
use crate::abi::v141::SafeL2;
use crate::chain::read::{ReadScope, SafeAnswers, SafeReading};
use crate::manifest::Manifest;
use crate::model::Rule;

const CHAIN_ID: u64 = 31337;

fn a(n: u8) -> Address {
    Address::repeat_byte(n)
}

fn safe() -> Address {
    a(0x5a)
}

fn owners() -> Vec<Address> {
    vec![a(1), a(2), a(3)]
}

fn params(grace: u64, interval: u64) -> ChainParams {
    ChainParams {
        name: "local".into(),
        chain_id: CHAIN_ID,
        grace_blocks: grace,
        snapshot_interval: interval,
        reorg_window: 64,
        balance_check_interval: 0,
        safe_libraries: Default::default(),
        block_time_ms: 1000,
    }
}

fn manifest(owners: &[Address]) -> Manifest {
    let list: Vec<String> = owners.iter().map(|o| format!("\"{o}\"")).collect();
    Manifest::parse(&format!(
        "id: g\nname: G\npurpose: Testing.\nphase: coordination\nchain: local\nstart_block: 10\n\
         treasury:\n  safes:\n    - address: \"{}\"\n      owners: [{}]\n      threshold: 2\n",
        safe(),
        list.join(", ")
    ))
    .unwrap()
}

fn version(n: i64, m: Manifest, effective_block: i64) -> ManifestVersion {
    ManifestVersion {
        group_id: "g".into(),
        version: n,
        hash: m.hash().to_string(),
        effective_block,
        created_at: "0".into(),
        manifest: m,
        ratification: None,
    }
}

/// The group `g` registered from block 10, nothing observed yet.
fn prior(versions: Vec<ManifestVersion>) -> GroupPrior {
    GroupPrior {
        row: GroupRow {
            id: "g".into(),
            chain: "local".into(),
            start_block: 10,
            synced_to: 9,
            created_at: "0".into(),
            revision: 0,
        },
        versions: Arc::new(versions),
        states: BTreeMap::new(),
        open: Vec::new(),
        next_n: 1,
        explained: HashSet::new(),
        proposals: HashMap::new(),
        flows: Vec::new(),
        balances: BTreeMap::new(),
        covenants: Arc::new(Vec::new()),
        judged: Default::default(),
    }
}

fn hash(fork: u8, n: u64) -> B256 {
    let mut h = [fork; 32];
    h[..8].copy_from_slice(&n.to_be_bytes());
    B256::from(h)
}

/// A log of `event` emitted by the Safe at `block`, as the node returns it.
fn log(fork: u8, block: u64, index: u64, data: LogData) -> Log {
    Log {
        inner: alloy::primitives::Log {
            address: safe(),
            data,
        },
        block_hash: Some(hash(fork, block)),
        block_number: Some(block),
        block_timestamp: None,
        transaction_hash: Some(hash(0x70 + fork, block * 100 + index)),
        transaction_index: Some(0),
        log_index: Some(index),
        removed: false,
    }
}

fn added(owner: Address) -> LogData {
    SafeL2::AddedOwner { owner }.encode_log_data()
}

fn removed(owner: Address) -> LogData {
    SafeL2::RemovedOwner { owner }.encode_log_data()
}

/// Blocks `from..=to` of fork `fork` with `logs`, every block ref fetched.
fn batch(fork: u8, from: u64, to: u64, logs: Vec<Log>) -> Prepared {
    let blocks = (from..=to)
        .map(|n| BlockRef {
            number: n,
            hash: hash(fork, n),
            parent_hash: hash(fork, n.wrapping_sub(1)),
        })
        .collect();
    let raw = RawBatch {
        from,
        to,
        logs,
        blocks,
    };
    prepare(CHAIN_ID, raw, HashMap::new(), HashMap::new()).unwrap()
}

fn safe_reading(owners: &[Address]) -> Reading {
    Reading::Safe(SafeReading {
        code: true,
        answers: Ok(SafeAnswers {
            owners: owners.to_vec(),
            threshold: U256::from(2),
            ..SafeAnswers::default()
        }),
    })
}

/// The seed of the Safe at block 9, as the chain has it.
fn seed(owners: &[Address]) -> Extras {
    let req = ReadRequest {
        address: safe(),
        kind: ContractKind::Safe,
        block: 9,
        scope: ReadScope::Seed { deployed_at: None },
    };
    Extras {
        readings: BTreeMap::from([(req, safe_reading(owners))]),
        hashes: HashMap::from([(9, hash(1, 9))]),
    }
}

/// Folds, fetching what is asked for from `chain` (readings and hashes) as the driver does.
fn fold_fetching(
    p: &ChainParams,
    priors: &[GroupPrior],
    b: &Prepared,
    chain: &Extras,
) -> (Folded, usize) {
    let mut extras = Extras::default();
    for attempt in 1..=MAX_ATTEMPTS {
        match fold(p, priors, b, &extras, Some(Some(b.from as i64 - 1))) {
            Ok(f) => return (f, attempt),
            Err(needs) => {
                for r in needs.readings {
                    let reading = chain.readings.get(&r).unwrap_or_else(|| panic!("{r:?}"));
                    extras.readings.insert(r, reading.clone());
                }
                for h in needs.hashes {
                    extras.hashes.insert(h, chain.hashes[&h]);
                }
            }
        }
    }
    panic!("the fold kept asking");
}

const MAX_ATTEMPTS: usize = 4;

fn rules(events: &[(AlertEvent, Divergence)]) -> Vec<(AlertEvent, String, i64)> {
    events
        .iter()
        .map(|(e, d)| (*e, d.rule.clone(), d.n))
        .collect()
}

#[test]
fn a_contract_seen_first_is_seeded_from_a_reading_the_fold_asks_for() {
    let p = params(7200, 0);
    let priors = vec![prior(vec![version(1, manifest(&owners()), 10)])];
    let b = batch(1, 10, 19, vec![]);
    let needs = fold(&p, &priors, &b, &Extras::default(), None).unwrap_err();
    assert_eq!(needs.hashes, [9].into());
    assert_eq!(needs.readings.len(), 1);
    let (f, attempts) = fold_fetching(&p, &priors, &b, &seed(&owners()));
    assert_eq!(attempts, 2, "one fetch of what the first fold asked for");
    assert!(f.events.is_empty(), "{:?}", f.events);
    assert_eq!(f.write.states.len(), 1);
    assert_eq!(f.write.states[0].source, "snapshot");
    assert_eq!(f.write.states[0].block, 9);
    assert_eq!(
        f.write.progress,
        [GroupProgress {
            group_id: "g".into(),
            revision: 0,
            synced_to: 9,
            advance_to: 19
        }]
    );
    let cursor = f.write.cursor.as_ref().unwrap();
    assert_eq!((cursor.expected, cursor.head.number), (Some(9), 19));
    assert_eq!(f.groups[0].row.synced_to, 19);
    assert!(f.groups[0]
        .states
        .contains_key(&(safe(), ContractKind::Safe)));
}

#[test]
fn an_undeclared_owner_is_opened_then_resolved_by_the_chain_across_batches() {
    let p = params(7200, 0);
    let priors = vec![prior(vec![version(1, manifest(&owners()), 10)])];
    let intruder = a(9);
    let first = batch(1, 10, 19, vec![log(1, 12, 0, added(intruder))]);
    let (f1, _) = fold_fetching(&p, &priors, &first, &seed(&owners()));
    assert_eq!(
        rules(&f1.events),
        [(AlertEvent::Opened, "safe.owner_undeclared".into(), 1)]
    );
    assert_eq!(f1.write.records.len(), 1);
    assert_eq!(f1.write.records[0].kind, "safe.added_owner");
    let d = &f1.write.divergences[0];
    assert_eq!((d.opened_block, d.opened_log_index), (12, Some(0)));
    assert_eq!(d.opened_block_hash, hash(1, 12).to_string());

    // The next batch starts from the state the first left, with nothing more to fetch.
    let second = batch(1, 20, 29, vec![log(1, 25, 3, removed(intruder))]);
    let f2 = fold(&p, &f1.groups, &second, &Extras::default(), Some(Some(19))).unwrap();
    assert_eq!(
        rules(&f2.events),
        [(AlertEvent::Resolved, "safe.owner_undeclared".into(), 1)]
    );
    let d = &f2.write.divergences[0];
    assert_eq!(
        (d.status.as_str(), d.resolved_block, d.resolution.as_deref()),
        ("resolved", Some(25), Some("chain"))
    );
    assert!(f2.groups[0].open.is_empty());
    assert_eq!(f2.groups[0].next_n, 2);
}

#[test]
fn a_manifest_version_taking_effect_inside_a_batch_resolves_what_it_documents() {
    let p = params(7200, 0);
    let intruder = a(9);
    let mut with_intruder = owners();
    with_intruder.push(intruder);
    let versions = vec![
        version(1, manifest(&owners()), 10),
        version(2, manifest(&with_intruder), 15),
    ];
    let priors = vec![prior(versions.clone())];
    let b = batch(1, 10, 19, vec![log(1, 12, 0, added(intruder))]);
    let (f, _) = fold_fetching(&p, &priors, &b, &seed(&owners()));
    assert_eq!(
        rules(&f.events),
        [
            (AlertEvent::Opened, "safe.owner_undeclared".into(), 1),
            (AlertEvent::Resolved, "safe.owner_undeclared".into(), 1),
            // A critical divergence closed by changing the document is announced as such.
            (
                AlertEvent::ManifestResolvedCritical,
                "safe.owner_undeclared".into(),
                1
            ),
        ]
    );
    let d = &f.write.divergences[0];
    assert_eq!(
        (d.resolved_block, d.resolution.as_deref()),
        (Some(15), Some("manifest"))
    );
    assert_eq!(
        d.resolved_manifest_hash.as_deref(),
        Some(versions[1].hash.as_str())
    );
    assert_eq!(d.resolved_block_hash, Some(hash(1, 15).to_string()));
    // The record of block 12 names the version in force then.
    assert_eq!(
        f.write.records[0].manifest_hash.as_deref(),
        Some(versions[0].hash.as_str())
    );
}

#[test]
fn a_refresh_finds_what_no_event_announced() {
    let p = params(7200, 100);
    let mut priors = vec![prior(vec![version(1, manifest(&owners()), 10)])];
    let (seeded, _) = fold_fetching(&p, &priors, &batch(1, 10, 99, vec![]), &seed(&owners()));
    priors = seeded.groups;
    // At block 100 (a multiple of the interval) the Safe has an owner no event added (a
    // storage write by a delegatecall, an upgrade).
    let mut changed = owners();
    changed.push(a(9));
    let req = ReadRequest {
        address: safe(),
        kind: ContractKind::Safe,
        block: 100,
        scope: ReadScope::Refresh,
    };
    let chain = Extras {
        readings: BTreeMap::from([(req, safe_reading(&changed))]),
        hashes: HashMap::new(),
    };
    let b = batch(1, 100, 149, vec![]);
    let (f, attempts) = fold_fetching(&p, &priors, &b, &chain);
    assert_eq!(attempts, 2);
    assert_eq!(
        rules(&f.events),
        [(AlertEvent::Opened, "safe.owner_undeclared".into(), 1)]
    );
    let d = &f.write.divergences[0];
    assert_eq!((d.opened_block, d.opened_tx_hash.as_ref()), (100, None));
    assert_eq!(f.write.states.last().unwrap().source, "refresh");
    // A refresh that shows nothing new writes nothing.
    let again = Extras {
        readings: BTreeMap::from([(ReadRequest { block: 200, ..req }, safe_reading(&changed))]),
        hashes: HashMap::new(),
    };
    let (f, _) = fold_fetching(&p, &f.groups, &batch(1, 150, 249, vec![]), &again);
    assert!(f.events.is_empty() && f.write.states.is_empty());
}

#[test]
fn stale_documentation_is_dated_at_its_deadline_whose_hash_is_fetched() {
    let p = params(10, 0);
    let priors = vec![prior(vec![version(1, manifest(&owners()), 10)])];
    let b = batch(1, 10, 19, vec![log(1, 12, 0, added(a(9)))]);
    let (f1, _) = fold_fetching(&p, &priors, &b, &seed(&owners()));
    assert_eq!(f1.events.len(), 1, "12 + 10 is past this batch");
    // Far from the head only the last block ref is fetched: the deadline's hash is asked for.
    let mut far = batch(1, 20, 40, vec![]);
    far.blocks.retain(|r| r.number == 40);
    far.hashes.retain(|n, _| *n == 40);
    let needs = fold(&p, &f1.groups, &far, &Extras::default(), None).unwrap_err();
    assert_eq!(needs.hashes, [22].into());
    let chain = Extras {
        readings: BTreeMap::new(),
        hashes: HashMap::from([(22, hash(1, 22))]),
    };
    let (f2, _) = fold_fetching(&p, &f1.groups, &far, &chain);
    assert_eq!(
        rules(&f2.events),
        [(AlertEvent::Opened, "documentation.stale".into(), 2)]
    );
    assert_eq!(f2.write.divergences[0].opened_block, 22);
    assert_eq!(
        f2.write.divergences[0].opened_block_hash,
        hash(1, 22).to_string()
    );
}

#[test]
fn a_fold_has_no_hidden_state_so_a_reorged_batch_folds_as_if_fresh() {
    let p = params(7200, 0);
    let priors = vec![prior(vec![version(1, manifest(&owners()), 10)])];
    let chain = seed(&owners());
    let old = batch(1, 10, 19, vec![log(1, 12, 0, added(a(9)))]);
    let new = batch(2, 10, 19, vec![log(2, 14, 0, added(a(8)))]);
    let (on_old, _) = fold_fetching(&p, &priors, &old, &chain);
    // The replacement chain's blocks do not extend what was folded: the driver unwinds and
    // folds again from the prior state, which the first fold left untouched.
    let logs = new
        .logs
        .iter()
        .map(|d| (d.evidence.block_number, d.evidence.block_hash));
    assert!(!crate::sync::reorg::extends(
        20,
        29,
        &batch(2, 20, 29, vec![]).blocks,
        std::iter::empty(),
        on_old.write.cursor.as_ref().map(|c| c.head.hash)
    ));
    assert!(crate::sync::reorg::extends(10, 19, &new.blocks, logs, None));
    let (on_new, _) = fold_fetching(&p, &priors, &new, &chain);
    let (fresh, _) = fold_fetching(&p, &priors, &new, &chain);
    assert_eq!(rules(&on_new.events), rules(&fresh.events));
    assert_eq!(on_new.write.divergences, fresh.write.divergences);
    assert_eq!(on_new.write.divergences[0].item, a(8).to_checksum(None));
    assert_eq!(on_new.write.divergences[0].n, 1, "the number is free again");
    assert_eq!(priors[0].next_n, 1);
    assert_eq!(on_old.write.divergences[0].item, a(9).to_checksum(None));
}

#[test]
fn a_catch_up_lane_moves_no_checkpoint_and_skips_blocks_a_group_already_has() {
    let p = params(7200, 0);
    let mut g = prior(vec![version(1, manifest(&owners()), 10)]);
    let (f, _) = fold_fetching(
        &p,
        std::slice::from_ref(&g),
        &batch(1, 10, 19, vec![]),
        &seed(&owners()),
    );
    g = f.groups[0].clone();
    let b = batch(
        1,
        15,
        24,
        vec![log(1, 16, 0, added(a(9))), log(1, 21, 0, added(a(8)))],
    );
    let f = fold(&p, &[g], &b, &Extras::default(), None).unwrap();
    assert!(f.write.cursor.is_none());
    assert_eq!(f.write.records.len(), 1, "block 16 was already complete");
    assert_eq!(f.write.records[0].block_number, 21);
    assert_eq!(f.write.progress[0].synced_to, 19);
    assert_eq!(
        f.events
            .iter()
            .filter(|(_, d)| d.rule == Rule::SafeOwnerUndeclared.as_str())
            .count(),
        1
    );
}
