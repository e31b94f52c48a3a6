//! Tests of the keys added for approvals, rolling limits and declared code: `treasury.policy`'s
//! `max_outflow_per_day`, `max_outflow_per_month`, `max_approval`, `unlimited_approvals` and
//! `allowed_spenders`; a Safe's `fallback_handler` and `delegatecall_targets`; `implementation`
//! on governors, timelocks and role entries. Absent, they leave the canonical form (and the hash)
//! as it was; present, they are kept, normalised and checked by path.

use alloy::primitives::U256;

use super::*;

const TOKEN: &str = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";
const TOKEN_B: &str = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65";
const TIMELOCK: &str = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0";
const GOVERNOR: &str = "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9";
const OWNABLE: &str = "0xDc64a140Aa3E981100a9becA4E685f962f0cF6C9";
const IMPL_A: &str = "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc";
const IMPL_B: &str = "0x976EA74026E726554dB657fA54763abd0C3a0aa9";
const HANDLER: &str = "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955";
const LIBRARY: &str = "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f";

const GOVERNANCE_YAML: &str = include_str!("../../../tests/fixtures/manifests/governance.yaml");

/// `base()` with a governor, its timelock and an Ownable entry.
fn with_contracts(m: &mut Value) {
    m["governance"] = json!({
        "governors": [{
            "address": GOVERNOR, "timelock": TIMELOCK, "voting_delay": 1, "voting_period": 10,
            "proposal_threshold": "0", "quorum_numerator": 4
        }],
        "timelocks": [{
            "address": TIMELOCK, "min_delay": 2, "proposers": [GOVERNOR], "executors": [ZERO],
            "cancellers": [GOVERNOR]
        }]
    });
    m["roles"] = json!([{ "contract": OWNABLE, "owner": TIMELOCK }]);
}

fn policy_problems(policy: Value) -> Vec<String> {
    problems(|m| m["treasury"]["policy"] = policy)
}

fn policy_of(policy: Value) -> Policy {
    parse_value(|m| m["treasury"]["policy"] = policy)
        .treasury
        .policy
}

fn token(s: &str) -> Asset {
    Asset::Token(addr(s))
}

// ---- absent or default: the hash is kept --------------------------------------------------------

#[test]
fn the_new_keys_at_their_defaults_keep_the_canonical_form() {
    let reference = parse_value(with_contracts);
    let reference_json = reference.canonical_json();
    let with_defaults = parse_value(|m| {
        with_contracts(m);
        m["treasury"]["policy"] = json!({
            "max_outflow_per_day": {},
            "max_outflow_per_month": {},
            "max_approval": {},
            "unlimited_approvals": true,
            "allowed_spenders": [],
        });
        safe0(m)["delegatecall_targets"] = json!([]);
        safe0(m)["fallback_handler"] = Value::Null;
        m["governance"]["governors"][0]["implementation"] = Value::Null;
    });
    assert_eq!(with_defaults, reference);
    assert_eq!(with_defaults.canonical_json(), reference_json);
    assert!(reference.code.is_empty());
    assert!(reference.treasury.policy.is_empty());
    for key in [
        "max_approval",
        "unlimited_approvals",
        "allowed_spenders",
        "per_day",
        "per_month",
        "implementation",
        "fallback_handler",
        "delegatecall_targets",
    ] {
        assert!(!reference_json.contains(key), "{key}");
    }
    // A policy that declares only the older keys writes only them.
    let old = parse_value(|m| m["treasury"]["policy"] = json!({ "max_outflow": { "native": 1 } }));
    assert!(old
        .canonical_json()
        .contains(r#""policy":{"max_outflow":{"native":"1"},"allowed_recipients":[]}"#));
}

/// The fixtures' hashes, recorded before these keys existed.
#[test]
fn the_fixture_hashes_are_unchanged() {
    assert_eq!(
        Manifest::parse(VALID_YAML).unwrap().hash().to_string(),
        "2f1f1457f4e21d7602a81c5d14fcc6ad9e3b62b9159c7ebbfdc99567036c45c0"
    );
    assert_eq!(
        Manifest::parse(GOVERNANCE_YAML).unwrap().hash().to_string(),
        "b37084d507503e0ea6ff640073d9dd2983fd69b3e141f4cdfb4ff1dc35765282"
    );
}

// ---- treasury.policy ----------------------------------------------------------------------------

#[test]
fn rolling_limits_parse_like_max_outflow() {
    let policy = policy_of(json!({
        "max_outflow_per_day": { "native": "20000000000000000000", TOKEN: 7 },
        "max_outflow_per_month": { TOKEN.to_lowercase(): "100" },
    }));
    assert_eq!(
        policy.daily_limit(&Asset::Native),
        Some(U256::from(20_000_000_000_000_000_000u128))
    );
    assert_eq!(policy.daily_limit(&token(TOKEN)), Some(U256::from(7)));
    assert_eq!(policy.monthly_limit(&token(TOKEN)), Some(U256::from(100)));
    assert_eq!(policy.monthly_limit(&Asset::Native), None);
    assert_eq!(policy.limit(&Asset::Native), None);
    assert_eq!(Policy::DAY_SECONDS, 86_400);
    assert_eq!(Policy::MONTH_SECONDS, 30 * 86_400);

    assert_eq!(
        policy_problems(json!({ "max_outflow_per_day": { "native": -1 } })),
        ["treasury.policy.max_outflow_per_day.native: expected a non-negative integer or a decimal string, found -1"]
    );
    assert_eq!(
        policy_problems(json!({ "max_outflow_per_month": [] })),
        ["treasury.policy.max_outflow_per_month: expected a mapping of assets to amounts, found a list"]
    );
    let too_big = format!("{}0", U256::MAX);
    assert_eq!(
        policy_problems(json!({ "max_outflow_per_month": { TOKEN: too_big } })),
        [format!("treasury.policy.max_outflow_per_month.{TOKEN}: must be at most 2^256 - 1 (the largest uint256), found \"{too_big}\"")]
    );
    assert_eq!(
        policy_problems(json!({ "max_outflow_per_day": { "ether": 1 } })),
        ["treasury.policy.max_outflow_per_day.ether: expected \"native\" or an ERC-20 token address, found \"ether\""]
    );
}

#[test]
fn approval_limits_per_token() {
    let policy = policy_of(json!({
        "max_approval": { TOKEN: "5000", TOKEN_B: 0 },
        "allowed_spenders": [OWNER_B, OWNER_A],
    }));
    assert!(policy.unlimited_approvals);
    assert_eq!(policy.approval_limit(&token(TOKEN)), Some(U256::from(5000)));
    assert_eq!(policy.approval_limit(&token(TOKEN_B)), Some(U256::ZERO));
    assert_eq!(policy.approval_limit(&token(OTHER)), None);
    assert!(policy.allows_approval(&token(TOKEN), U256::from(5000)));
    assert!(!policy.allows_approval(&token(TOKEN), U256::from(5001)));
    assert!(policy.allows_approval(&token(OTHER), U256::MAX));
    assert!(policy.allows_approval_for_all(true));
    // Sorted by address bytes.
    assert_eq!(policy.allowed_spenders, vec![addr(OWNER_B), addr(OWNER_A)]);
    assert!(policy.allows_spender(&addr(OWNER_A)));
    assert!(!policy.allows_spender(&addr(OTHER)));
    assert!(Policy::default().allows_spender(&addr(OTHER)));
}

#[test]
fn without_unlimited_approvals_the_largest_allowance_is_always_over_the_limit() {
    let policy = policy_of(json!({
        "unlimited_approvals": false,
        "max_approval": { TOKEN: U256::MAX.to_string(), TOKEN_B: "10" },
    }));
    assert!(!policy.is_empty());
    let below_unlimited = U256::MAX - U256::from(1);
    assert_eq!(policy.approval_limit(&token(OTHER)), Some(below_unlimited));
    assert_eq!(policy.approval_limit(&token(TOKEN)), Some(below_unlimited));
    assert_eq!(policy.approval_limit(&token(TOKEN_B)), Some(U256::from(10)));
    assert!(!policy.allows_approval(&token(OTHER), U256::MAX));
    assert!(!policy.allows_approval(&token(TOKEN), U256::MAX));
    assert!(policy.allows_approval(&token(OTHER), below_unlimited));
    assert!(!policy.allows_approval_for_all(true));
    assert!(policy.allows_approval_for_all(false));
    // Only `false` is written.
    let m = parse_value(|m| m["treasury"]["policy"] = json!({ "unlimited_approvals": false }));
    assert!(m.canonical_json().contains(
        r#""policy":{"max_outflow":{},"allowed_recipients":[],"unlimited_approvals":false}"#
    ));
}

#[test]
fn approval_rules() {
    assert_eq!(
        policy_problems(json!({ "max_approval": { "native": 1 } })),
        ["treasury.policy.max_approval.native: the native currency has no allowance: max_approval limits ERC-20 allowances, keyed by token address (max_outflow limits native outflows)"]
    );
    assert_eq!(
        policy_problems(json!({ "max_approval": { TOKEN: "-5" } })),
        [format!("treasury.policy.max_approval.{TOKEN}: expected a non-negative integer or a decimal string, found \"-5\"")]
    );
    assert_eq!(
        policy_problems(json!({ "max_approval": { ZERO: 1 } })),
        [format!(
            "treasury.policy.max_approval.{ZERO}: must not be the zero address"
        )]
    );
    for (value, found) in [
        (json!("no"), "\"no\""),
        (json!("false"), "\"false\""),
        (json!(0), "0"),
    ] {
        assert_eq!(
            policy_problems(json!({ "unlimited_approvals": value })),
            [format!(
                "treasury.policy.unlimited_approvals: expected true or false, found {found}"
            )]
        );
    }
    assert_eq!(
        policy_problems(json!({ "allowed_spenders": [OWNER_A, OWNER_A.to_lowercase()] })),
        [format!(
            "treasury.policy.allowed_spenders[1]: duplicate spender {OWNER_A} (also at allowed_spenders[0])"
        )]
    );
    assert_eq!(
        policy_problems(json!({ "allowed_spenders": [ZERO] })),
        ["treasury.policy.allowed_spenders[0]: must not be the zero address"]
    );
    assert_eq!(
        policy_problems(json!({ "allowed_spender": [] })),
        ["treasury.policy.allowed_spender: unknown field"]
    );
    // Every problem at once.
    assert_eq!(
        policy_problems(json!({
            "max_approval": { "native": 1 },
            "unlimited_approvals": "yes",
            "max_outflow_per_day": { "native": 1.5 },
        }))
        .len(),
        3
    );
}

#[test]
fn the_new_policy_keys_are_written_in_order_and_read_back() {
    let m = parse_value(|m| {
        m["treasury"]["policy"] = json!({
            "allowed_spenders": [OWNER_A, OWNER_B],
            "unlimited_approvals": false,
            "max_approval": { TOKEN_B: 2, TOKEN: "1" },
            "max_outflow_per_month": { TOKEN: 4 },
            "max_outflow_per_day": { "native": 3 },
        })
    });
    let expected = format!(
        concat!(
            r#""policy":{{"max_outflow":{{}},"allowed_recipients":[],"#,
            r#""max_outflow_per_day":{{"native":"3"}},"#,
            r#""max_outflow_per_month":{{"{token}":"4"}},"#,
            r#""max_approval":{{"{token_b}":"2","{token}":"1"}},"#,
            r#""unlimited_approvals":false,"#,
            r#""allowed_spenders":["{b}","{a}"]}}"#
        ),
        token = TOKEN,
        token_b = TOKEN_B,
        a = OWNER_A,
        b = OWNER_B,
    );
    let json = m.canonical_json();
    assert!(json.contains(&expected), "{json}");
    let back = Manifest::from_canonical_json(&json).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.canonical_json(), json);
    // The policy's own serde form reads back too.
    let policy = serde_json::to_value(&m.treasury.policy).unwrap();
    assert_eq!(
        serde_json::from_value::<Policy>(policy).unwrap(),
        m.treasury.policy
    );
    let defaults: Policy = serde_json::from_value(json!({})).unwrap();
    assert_eq!(defaults, Policy::default());
    assert!(defaults.unlimited_approvals);
}

#[test]
fn each_new_policy_key_changes_the_hash_and_order_does_not() {
    let reference = parse_value(|_| {}).hash();
    let with = |policy: Value| parse_value(|m| m["treasury"]["policy"] = policy).hash();
    let mut hashes = vec![reference];
    for policy in [
        json!({ "max_outflow_per_day": { "native": 1 } }),
        json!({ "max_outflow_per_month": { "native": 1 } }),
        json!({ "max_approval": { TOKEN: 1 } }),
        json!({ "unlimited_approvals": false }),
        json!({ "allowed_spenders": [OWNER_A] }),
    ] {
        let hash = with(policy.clone());
        assert!(!hashes.contains(&hash), "{policy}");
        hashes.push(hash);
    }
    assert_eq!(
        with(json!({ "allowed_spenders": [OWNER_A, OWNER_B] })),
        with(json!({ "allowed_spenders": [OWNER_B.to_lowercase(), OWNER_A] }))
    );
    assert_eq!(
        with(json!({ "max_approval": { TOKEN: 1, TOKEN_B: "2" } })),
        with(json!({ "max_approval": { TOKEN_B.to_lowercase(): 2, TOKEN: "1" } }))
    );
}

// ---- declared code ------------------------------------------------------------------------------

#[test]
fn a_safe_declares_its_fallback_handler_and_delegatecall_targets() {
    let m = parse_value(|m| {
        safe0(m)["fallback_handler"] = json!(HANDLER);
        safe0(m)["delegatecall_targets"] = json!([LIBRARY, OTHER.to_lowercase()]);
    });
    let safe = addr(SAFE);
    assert_eq!(m.fallback_handler(&safe), Some(addr(HANDLER)));
    // Sorted by address bytes.
    assert_eq!(
        m.delegatecall_targets(&safe),
        &[addr(LIBRARY), addr(OTHER)][..]
    );
    assert!(m.allows_delegatecall(&safe, &addr(OTHER)));
    assert!(!m.allows_delegatecall(&safe, &addr(HANDLER)));
    assert_eq!(m.declared_implementation(&safe), None);
    assert!(m.delegatecall_targets(&addr(OTHER)).is_empty());
    assert_eq!(m.fallback_handler(&addr(OTHER)), None);
    // The Safe's own declaration is unchanged.
    assert_eq!(m.safe(&safe), parse_value(|_| {}).safe(&safe));

    let json = m.canonical_json();
    let expected = format!(
        r#""threshold":2,"modules":[],"fallback_handler":"{HANDLER}","delegatecall_targets":["{LIBRARY}","{OTHER}"]}}]"#
    );
    assert!(json.contains(&expected), "{json}");
    let back = Manifest::from_canonical_json(&json).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.canonical_json(), json);
    assert_ne!(m.hash(), parse_value(|_| {}).hash());
    // The order of the targets is not part of the hash.
    let reversed = parse_value(|m| {
        safe0(m)["fallback_handler"] = json!(HANDLER.to_lowercase());
        safe0(m)["delegatecall_targets"] = json!([OTHER, LIBRARY]);
    });
    assert_eq!(reversed.hash(), m.hash());
}

#[test]
fn safe_code_rules() {
    let safe_problems = |key: &str, value: Value| {
        problems(|m| {
            safe0(m)[key] = value;
        })
    };
    assert_eq!(
        safe_problems("fallback_handler", json!(SAFE)),
        ["treasury.safes[0].fallback_handler: a Safe cannot be its own fallback handler"]
    );
    assert_eq!(
        safe_problems("fallback_handler", json!(ZERO)),
        ["treasury.safes[0].fallback_handler: must not be the zero address"]
    );
    assert_eq!(
        safe_problems("fallback_handler", json!([HANDLER])),
        ["treasury.safes[0].fallback_handler: expected an address string, found a list"]
    );
    assert_eq!(
        safe_problems("delegatecall_targets", json!([LIBRARY, LIBRARY])),
        [format!("treasury.safes[0].delegatecall_targets[1]: duplicate delegatecall target {LIBRARY} (also at delegatecall_targets[0])")]
    );
    assert_eq!(
        safe_problems("delegatecall_targets", json!(LIBRARY)),
        [format!("treasury.safes[0].delegatecall_targets: expected a list of addresses, found \"{LIBRARY}\"")]
    );
    // A Safe is not an EIP-1967 proxy.
    assert_eq!(
        safe_problems("implementation", json!(IMPL_A)),
        ["treasury.safes[0].implementation: unknown field"]
    );
}

#[test]
fn governors_timelocks_and_role_entries_declare_an_implementation() {
    let m = parse_value(|m| {
        with_contracts(m);
        m["governance"]["governors"][0]["implementation"] = json!(IMPL_A);
        m["governance"]["timelocks"][0]["implementation"] = json!(IMPL_B.to_lowercase());
        m["roles"][0]["implementation"] = json!(IMPL_A);
    });
    assert_eq!(
        m.declared_implementation(&addr(GOVERNOR)),
        Some(addr(IMPL_A))
    );
    assert_eq!(
        m.declared_implementation(&addr(TIMELOCK)),
        Some(addr(IMPL_B))
    );
    assert_eq!(
        m.declared_implementation(&addr(OWNABLE)),
        Some(addr(IMPL_A))
    );
    assert_eq!(m.declared_implementation(&addr(SAFE)), None);
    let mut expected = vec![
        (addr(GOVERNOR), addr(IMPL_A)),
        (addr(TIMELOCK), addr(IMPL_B)),
        (addr(OWNABLE), addr(IMPL_A)),
    ];
    expected.sort();
    assert_eq!(m.declared_implementations(), expected);

    let json = m.canonical_json();
    for fragment in [
        format!(r#""quorum_numerator":4,"implementation":"{IMPL_A}"}}"#),
        format!(r#""admins":[],"implementation":"{IMPL_B}"}}"#),
        format!(r#""owner":"{TIMELOCK}","implementation":"{IMPL_A}"}}"#),
    ] {
        assert!(json.contains(&fragment), "{fragment} in {json}");
    }
    let back = Manifest::from_canonical_json(&json).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.canonical_json(), json);
    assert_ne!(m.hash(), parse_value(with_contracts).hash());

    // With deployed_at, the implementation comes after it.
    let both = parse_value(|m| {
        with_contracts(m);
        m["roles"][0]["deployed_at"] = json!(3);
        m["roles"][0]["implementation"] = json!(IMPL_A);
    });
    assert!(both
        .canonical_json()
        .contains(&format!(r#""deployed_at":3,"implementation":"{IMPL_A}"}}"#)));
    assert_eq!(both.deployed_at(&addr(OWNABLE)), Some(3));
}

#[test]
fn implementation_rules() {
    let contract_problems = |change: fn(&mut Value)| {
        problems(|m| {
            with_contracts(m);
            change(m);
        })
    };
    assert_eq!(
        contract_problems(|m| m["governance"]["governors"][0]["implementation"] = json!(GOVERNOR)),
        ["governance.governors[0].implementation: a proxy cannot be its own implementation"]
    );
    assert_eq!(
        contract_problems(|m| m["governance"]["timelocks"][0]["implementation"] = json!(ZERO)),
        ["governance.timelocks[0].implementation: must not be the zero address"]
    );
    assert_eq!(
        contract_problems(|m| m["roles"][0]["implementation"] = json!("0x1234")),
        ["roles[0].implementation: expected a 0x-prefixed address of 40 hex digits, found \"0x1234\""]
    );
    // Reported with the entry's other problems.
    assert_eq!(
        contract_problems(|m| {
            m["roles"][0]["implementation"] = json!(OWNABLE);
            m["roles"][0]["owner"] = json!(ZERO);
        }),
        [
            "roles[0].owner: must not be the zero address",
            "roles[0].implementation: a proxy cannot be its own implementation",
        ]
    );
}

#[test]
fn canonical_json_sorts_the_targets_of_a_hand_built_manifest() {
    let mut m = parse_value(|m| {
        safe0(m)["delegatecall_targets"] = json!([LIBRARY, OTHER]);
    });
    let canonical = m.canonical_json();
    m.code
        .get_mut(&addr(SAFE))
        .unwrap()
        .delegatecall_targets
        .reverse();
    assert_eq!(m.canonical_json(), canonical);
    // An empty declaration writes nothing.
    let mut plain = parse_value(|_| {});
    let reference = plain.canonical_json();
    plain.code.insert(addr(SAFE), CodeDecl::default());
    assert_eq!(plain.canonical_json(), reference);
}

#[test]
fn the_balance_check_takes_tolerances_and_leaves_tokens_out() {
    let policy = policy_of(json!({
        "balance_tolerance": { TOKEN: "1000", "native": 1 },
        "unchecked_balances": [TOKEN_B],
    }));
    assert_eq!(policy.balance_tolerance(&token(TOKEN)), U256::from(1000));
    assert_eq!(policy.balance_tolerance(&Asset::Native), U256::from(1));
    assert_eq!(policy.balance_tolerance(&token(OTHER)), U256::ZERO);
    assert!(!policy.checks_balance(&token(TOKEN_B)));
    assert!(policy.checks_balance(&token(TOKEN)));
    assert!(policy.checks_balance(&Asset::Native));
    assert!(Policy::default().checks_balance(&token(TOKEN_B)));
    let problems = policy_problems(json!({
        "balance_tolerance": { "gold": "1" },
        "unchecked_balances": ["0x12"],
    }));
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("treasury.policy.balance_tolerance")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("treasury.policy.unchecked_balances[0]")),
        "{problems:?}"
    );
}
