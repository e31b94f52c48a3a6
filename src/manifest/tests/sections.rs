//! Tests of the sections `treasury.policy`, `governance` and `roles`: parsing, the canonical form,
//! and every rule's message.

use std::collections::BTreeMap;

use alloy::primitives::{keccak256, B256, U256};

use super::*;

const GOVERNANCE_YAML: &str = include_str!("../../../tests/fixtures/manifests/governance.yaml");

const TOKEN: &str = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";
const TIMELOCK: &str = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0";
const GOVERNOR: &str = "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9";
const OWNABLE: &str = "0xDc64a140Aa3E981100a9becA4E685f962f0cF6C9";
const RECIPIENT: &str = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65";
/// keccak256("MINTER_ROLE").
const MINTER_HASH: &str = "0x9f2df0fed2c77648de5860a4cc508cd0818c85b8b8a1ab4ceeef8d981c8956a6";

fn governor() -> Value {
    json!({
        "address": GOVERNOR,
        "timelock": TIMELOCK,
        "voting_delay": 1,
        "voting_period": 10,
        "proposal_threshold": "0",
        "quorum_numerator": 4
    })
}

fn timelock() -> Value {
    json!({
        "address": TIMELOCK,
        "min_delay": 2,
        "proposers": [GOVERNOR],
        "executors": [ZERO],
        "cancellers": [GOVERNOR]
    })
}

/// `base()` with a governor and its timelock.
fn with_governance(m: &mut Value) {
    m["governance"] = json!({ "governors": [governor()], "timelocks": [timelock()] });
}

fn governor0(m: &mut Value) -> &mut Value {
    &mut m["governance"]["governors"][0]
}

fn timelock0(m: &mut Value) -> &mut Value {
    &mut m["governance"]["timelocks"][0]
}

/// The problems of `base()` with the governor and timelock, after `change`.
fn governance_problems(change: impl FnOnce(&mut Value)) -> Vec<String> {
    problems(|m| {
        with_governance(m);
        change(m);
    })
}

fn policy_problems(policy: Value) -> Vec<String> {
    problems(|m| m["treasury"]["policy"] = policy)
}

fn roles_problems(roles: Value) -> Vec<String> {
    problems(|m| m["roles"] = roles)
}

fn u256(s: &str) -> U256 {
    s.parse().unwrap()
}

// ---- the fixture, the canonical form, the hash ------------------------------------------------

#[test]
fn governance_fixture_parses() {
    let m = Manifest::parse(GOVERNANCE_YAML).unwrap();

    let policy = &m.treasury.policy;
    assert_eq!(
        policy.max_outflow,
        BTreeMap::from([
            (Asset::Native, u256("10000000000000000000")),
            (Asset::Token(addr(TOKEN)), U256::from(5_000_000_000_000u64)),
        ])
    );
    assert_eq!(
        policy.limit(&Asset::Native),
        Some(u256("10000000000000000000"))
    );
    assert_eq!(policy.limit(&Asset::Token(addr(OTHER))), None);
    // Sorted by address bytes: 0x15d3…, 0x90F7….
    assert_eq!(
        policy.allowed_recipients,
        vec![addr(RECIPIENT), addr(OTHER)]
    );
    assert!(policy.allows_recipient(&addr(OTHER)));
    assert!(!policy.allows_recipient(&addr(OWNER_A)));

    let governor = m.governor(&addr(GOVERNOR)).unwrap();
    assert_eq!(
        *governor,
        GovernorDecl {
            address: addr(GOVERNOR),
            timelock: Some(addr(TIMELOCK)),
            voting_delay: 1,
            voting_period: 10,
            proposal_threshold: U256::ZERO,
            quorum_numerator: 4,
            deployed_at: None,
        }
    );
    let timelock = m.timelock(&addr(TIMELOCK)).unwrap();
    assert_eq!(
        *timelock,
        TimelockDecl {
            address: addr(TIMELOCK),
            min_delay: 2,
            proposers: vec![addr(GOVERNOR)],
            executors: vec![Address::ZERO],
            cancellers: vec![addr(GOVERNOR), addr(OWNER_A)],
            admins: vec![],
            deployed_at: None,
        }
    );
    assert!(timelock.anyone_can_execute());
    assert!(timelock.is_executor(&addr(OTHER)));
    assert!(timelock.is_proposer(&addr(GOVERNOR)));
    assert!(!timelock.is_proposer(&addr(OWNER_A)));
    assert!(timelock.is_canceller(&addr(OWNER_A)));
    assert!(!timelock.is_admin(&addr(OWNER_A)));
    assert!(m.governor(&addr(TIMELOCK)).is_none());
    assert!(m.timelock(&addr(GOVERNOR)).is_none());

    let token = m.role_contract(&addr(TOKEN)).unwrap();
    let minter = keccak256("MINTER_ROLE");
    let pauser = keccak256("PAUSER_ROLE");
    assert_eq!(
        *token,
        RoleDecl::AccessControl {
            contract: addr(TOKEN),
            members: BTreeMap::from([
                (
                    DEFAULT_ADMIN_ROLE,
                    RoleMembers {
                        name: "DEFAULT_ADMIN_ROLE".into(),
                        members: vec![addr(TIMELOCK)],
                    }
                ),
                (
                    minter,
                    RoleMembers {
                        name: "MINTER_ROLE".into(),
                        members: vec![addr(SAFE)],
                    }
                ),
                (
                    pauser,
                    RoleMembers {
                        name: "PAUSER_ROLE".into(),
                        members: vec![],
                    }
                ),
            ]),
            deployed_at: None,
        }
    );
    assert_eq!(token.contract(), addr(TOKEN));
    assert!(token.is_member(&minter, &addr(SAFE)));
    assert!(!token.is_member(&minter, &addr(TIMELOCK)));
    assert!(!token.is_member(&keccak256("BURNER_ROLE"), &addr(SAFE)));
    assert_eq!(
        token.role(&DEFAULT_ADMIN_ROLE).unwrap().name,
        "DEFAULT_ADMIN_ROLE"
    );
    assert_eq!(token.owner(), None);
    let ownable = m.role_contract(&addr(OWNABLE)).unwrap();
    assert_eq!(
        *ownable,
        RoleDecl::Ownable {
            contract: addr(OWNABLE),
            owner: addr(TIMELOCK),
            deployed_at: None,
        }
    );
    assert_eq!(ownable.owner(), Some(addr(TIMELOCK)));
    assert_eq!(ownable.role(&DEFAULT_ADMIN_ROLE), None);
    assert!(m.role_contract(&addr(SAFE)).is_none());

    assert_eq!(
        m.watched_addresses(),
        vec![
            addr(SAFE),
            addr(GOVERNOR),
            addr(TIMELOCK),
            addr(TOKEN),
            addr(OWNABLE)
        ]
    );
    assert_eq!(m.treasury_addresses(), vec![addr(SAFE), addr(TIMELOCK)]);
    // The treasury Safe itself is unchanged.
    assert_eq!(
        m.safe(&addr(SAFE)),
        Manifest::parse(VALID_YAML).unwrap().safe(&addr(SAFE))
    );
}

#[test]
fn governance_fixture_canonical_json_is_exact() {
    let m = Manifest::parse(GOVERNANCE_YAML).unwrap();
    let expected = concat!(
        r#"{"id":"river-guild","name":"River Guild","#,
        r#""purpose":"Fund maintenance of the river network's shared tooling.","#,
        r#""phase":"coordination","chain":"local","start_block":0,"#,
        r#""treasury":{"safes":[{"address":"0x5FbDB2315678afecb367f032d93F642f64180aa3","#,
        r#""owners":["0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC","#,
        r#""0x70997970C51812dc3A010C7d01b50e0d17dc79C8","#,
        r#""0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"],"threshold":2,"modules":[]}],"#,
        r#""policy":{"max_outflow":{"native":"10000000000000000000","#,
        r#""0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512":"5000000000000"},"#,
        r#""allowed_recipients":["0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65","#,
        r#""0x90F79bf6EB2c4f870365E785982E1f101E93b906"]}},"#,
        r#""governance":{"governors":[{"address":"0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9","#,
        r#""timelock":"0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0","voting_delay":1,"#,
        r#""voting_period":10,"proposal_threshold":"0","quorum_numerator":4}],"#,
        r#""timelocks":[{"address":"0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0","min_delay":2,"#,
        r#""proposers":["0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9"],"#,
        r#""executors":["0x0000000000000000000000000000000000000000"],"#,
        r#""cancellers":["0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9","#,
        r#""0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"],"admins":[]}]},"#,
        r#""roles":[{"contract":"0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512","#,
        r#""members":{"DEFAULT_ADMIN_ROLE":["0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"],"#,
        r#""PAUSER_ROLE":[],"MINTER_ROLE":["0x5FbDB2315678afecb367f032d93F642f64180aa3"]}},"#,
        r#"{"contract":"0xDc64a140Aa3E981100a9becA4E685f962f0cF6C9","#,
        r#""owner":"0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"}],"#,
        r#""agreements":[{"with":"delta-commons","#,
        r#""summary":"Share the cost of the river network's monitoring nodes.","#,
        r#""uri":"https://example.org/agreements/river-delta"}]}"#,
    );
    assert_eq!(m.canonical_json(), expected);
    assert_eq!(m.hash(), ManifestHash::of(expected.as_bytes()));
    let back = Manifest::from_canonical_json(expected).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.canonical_json(), expected);
}

#[test]
fn the_design_documents_example_parses() {
    let design_example = format!(
        r#"
id: river-guild
name: River Guild
purpose: Fund maintenance of the river network's shared tooling.
phase: coordination
chain: local
start_block: 0
treasury:
  safes:
    - address: "{SAFE}"
      owners: ["{OWNER_A}", "{OWNER_B}", "{OWNER_C}"]
      threshold: 2
      modules: []
  policy:
    max_outflow: {{ native: "10000000000000000000" }}
    allowed_recipients: []
governance:
  governors:
    - {{ address: "{GOVERNOR}", timelock: "{TIMELOCK}", voting_delay: 1, voting_period: 10, proposal_threshold: "0", quorum_numerator: 4 }}
  timelocks:
    - {{ address: "{TIMELOCK}", min_delay: 2, proposers: ["{GOVERNOR}"], executors: ["{ZERO}"], cancellers: ["{GOVERNOR}"] }}
roles:
  - contract: "{TOKEN}"
    members: {{ DEFAULT_ADMIN_ROLE: ["{TIMELOCK}"], MINTER_ROLE: ["{SAFE}"] }}
  - contract: "{OWNABLE}"
    owner: "{OWNER_A}"
agreements:
  - {{ with: "other-group", summary: "…", uri: "…" }}
"#
    );
    let m = Manifest::parse(&design_example).unwrap();
    assert_eq!(m.governance.governors.len(), 1);
    assert_eq!(m.governance.timelocks.len(), 1);
    assert_eq!(m.roles.len(), 2);
    assert_eq!(
        m.treasury.policy.limit(&Asset::Native),
        Some(u256("10000000000000000000"))
    );
    assert!(m.treasury.policy.allowed_recipients.is_empty());
}

#[test]
fn empty_sections_are_left_out_and_keep_the_hash() {
    let reference = parse_value(|_| {});
    let reference_json = reference.canonical_json();
    for change in [
        json!({ "policy": {} }),
        json!({ "policy": { "max_outflow": {}, "allowed_recipients": [] } }),
        json!({ "policy": null }),
        json!({ "governance": {} }),
        json!({ "governance": { "governors": [], "timelocks": [] } }),
        json!({ "governance": null }),
        json!({ "roles": [] }),
        json!({ "roles": null }),
    ] {
        let m = parse_value(|m| {
            for (key, value) in change.as_object().unwrap() {
                if key == "policy" {
                    m["treasury"]["policy"] = value.clone();
                } else {
                    m[key] = value.clone();
                }
            }
        });
        assert_eq!(m, reference, "{change}");
        assert_eq!(m.canonical_json(), reference_json, "{change}");
    }
    assert!(!reference_json.contains("policy"));
    assert!(!reference_json.contains("governance"));
    assert!(!reference_json.contains("roles"));
}

#[test]
fn order_case_and_number_form_do_not_change_the_hash() {
    let write = |reversed: bool| {
        parse_value(|m| {
            let (a, b) = if reversed {
                (OWNER_B.to_lowercase(), OWNER_A.to_string())
            } else {
                (OWNER_A.to_string(), OWNER_B.to_string())
            };
            m["treasury"]["policy"] = if reversed {
                json!({
                    "allowed_recipients": [b, a],
                    "max_outflow": { TOKEN.to_lowercase(): 5, "native": 10 }
                })
            } else {
                json!({ "max_outflow": { "native": "10", TOKEN: "5" }, "allowed_recipients": [a, b] })
            };
            let (a, b) = if reversed {
                (OWNER_B.to_lowercase(), OWNER_A.to_lowercase())
            } else {
                (OWNER_A.to_string(), OWNER_B.to_string())
            };
            with_governance(m);
            governor0(m)["proposal_threshold"] = if reversed { json!(7) } else { json!("7") };
            timelock0(m)["proposers"] = json!([a, b]);
            timelock0(m)["admins"] = json!([b, a]);
            let role = if reversed {
                MINTER_HASH.to_uppercase().replacen("0X", "0x", 1)
            } else {
                MINTER_HASH.to_string()
            };
            m["roles"] = json!([{ "contract": TOKEN, "members": { role: [a, b] } }]);
        })
    };
    let one = write(false);
    let two = write(true);
    assert_eq!(one, two);
    assert_eq!(one.hash(), two.hash());
    // A role hash written in hex is kept in lowercase.
    assert_eq!(
        one.roles[0]
            .role(&MINTER_HASH.parse().unwrap())
            .unwrap()
            .name,
        MINTER_HASH
    );
}

#[test]
fn a_change_in_a_new_section_changes_the_hash() {
    let reference = parse_value(with_governance).hash();
    let changed = |change: fn(&mut Value)| {
        parse_value(|m| {
            with_governance(m);
            change(m);
        })
        .hash()
    };
    assert_ne!(
        reference,
        changed(|m| governor0(m)["quorum_numerator"] = json!(5))
    );
    assert_ne!(
        reference,
        changed(|m| timelock0(m)["admins"] = json!([OWNER_A]))
    );
    assert_ne!(
        reference,
        changed(|m| m["treasury"]["policy"] = json!({ "max_outflow": { "native": 0 } }))
    );
    assert_ne!(
        reference,
        changed(|m| m["roles"] = json!([{ "contract": TOKEN, "owner": OWNER_A }]))
    );
    // The name a role is written with is part of the document, and of its hash.
    let by_name = changed(|m| {
        m["roles"] = json!([{ "contract": TOKEN, "members": { "MINTER_ROLE": [OWNER_A] } }])
    });
    let by_hash = changed(|m| {
        m["roles"] = json!([{ "contract": TOKEN, "members": { MINTER_HASH: [OWNER_A] } }])
    });
    assert_ne!(by_name, by_hash);
}

#[test]
fn canonical_json_sorts_the_new_lists_of_a_hand_built_manifest() {
    let mut m = Manifest::parse(GOVERNANCE_YAML).unwrap();
    let canonical = m.canonical_json();
    m.treasury.policy.allowed_recipients.reverse();
    m.governance.timelocks[0].cancellers.reverse();
    if let RoleDecl::AccessControl { members, .. } = &mut m.roles[0] {
        members
            .get_mut(&DEFAULT_ADMIN_ROLE)
            .unwrap()
            .members
            .push(addr(OWNER_A));
        members
            .get_mut(&DEFAULT_ADMIN_ROLE)
            .unwrap()
            .members
            .reverse();
    }
    let json = m.canonical_json();
    assert_ne!(json, canonical);
    assert!(json.contains(&format!(
        r#""DEFAULT_ADMIN_ROLE":["{TIMELOCK}","{OWNER_A}"]"#
    )));
    m.roles[0] = Manifest::parse(GOVERNANCE_YAML).unwrap().roles[0].clone();
    assert_eq!(m.canonical_json(), canonical);
}

#[test]
fn parts_serialise_and_deserialise() {
    let m = Manifest::parse(GOVERNANCE_YAML).unwrap();

    let policy = serde_json::to_value(&m.treasury.policy).unwrap();
    assert_eq!(
        policy["max_outflow"]["native"],
        json!("10000000000000000000")
    );
    assert_eq!(
        serde_json::from_value::<Policy>(policy).unwrap(),
        m.treasury.policy
    );
    let treasury = serde_json::to_value(&m.treasury).unwrap();
    assert_eq!(
        serde_json::from_value::<Treasury>(treasury).unwrap(),
        m.treasury
    );
    let treasury = serde_json::to_value(&Manifest::parse(VALID_YAML).unwrap().treasury).unwrap();
    assert!(treasury.get("policy").is_none());

    let governance = serde_json::to_value(&m.governance).unwrap();
    assert_eq!(governance["governors"][0]["proposal_threshold"], json!("0"));
    assert_eq!(
        serde_json::from_value::<Governance>(governance).unwrap(),
        m.governance
    );
    let governor: GovernorDecl = serde_json::from_value(json!({
        "address": GOVERNOR, "voting_delay": 0, "voting_period": 1,
        "proposal_threshold": 5, "quorum_numerator": 4
    }))
    .unwrap();
    assert_eq!(governor.timelock, None);
    assert_eq!(governor.proposal_threshold, U256::from(5));

    for role in &m.roles {
        let value = serde_json::to_value(role).unwrap();
        assert_eq!(&serde_json::from_value::<RoleDecl>(value).unwrap(), role);
    }
    assert_eq!(
        serde_json::to_value(&m.roles[1]).unwrap(),
        json!({ "contract": OWNABLE, "owner": TIMELOCK })
    );
    let both = json!({ "contract": TOKEN, "owner": OWNER_A, "members": {} });
    assert!(serde_json::from_value::<RoleDecl>(both).is_err());
    let neither = json!({ "contract": TOKEN });
    assert!(serde_json::from_value::<RoleDecl>(neither).is_err());
    let twice = json!({ "contract": TOKEN, "members": { "MINTER_ROLE": [], MINTER_HASH: [] } });
    assert!(serde_json::from_value::<RoleDecl>(twice).is_err());
    let bad_name = json!({ "contract": TOKEN, "members": { "minter": [] } });
    assert!(serde_json::from_value::<RoleDecl>(bad_name).is_err());
}

#[test]
fn assets() {
    assert!(Asset::Native < Asset::Token(Address::with_last_byte(1)));
    assert!(Asset::Token(addr(RECIPIENT)) < Asset::Token(addr(OTHER)));
    assert_eq!(Asset::Native.to_string(), "native");
    assert_eq!(Asset::Token(addr(TOKEN)).to_string(), TOKEN);
    assert_eq!("native".parse::<Asset>(), Ok(Asset::Native));
    assert_eq!(
        TOKEN.to_lowercase().parse::<Asset>(),
        Ok(Asset::Token(addr(TOKEN)))
    );
    for bad in ["NATIVE", "eth", ZERO, "0x12"] {
        assert_eq!(
            bad.parse::<Asset>(),
            Err(ParseAssetError(bad.into())),
            "{bad}"
        );
    }
    assert_eq!(
        ParseAssetError("eth".into()).to_string(),
        "expected \"native\" or an ERC-20 token address, found \"eth\""
    );
    assert_eq!(
        serde_json::to_value(Asset::Native).unwrap(),
        json!("native")
    );
    assert_eq!(
        serde_json::from_value::<Asset>(json!(TOKEN)).unwrap(),
        Asset::Token(addr(TOKEN))
    );
}

#[test]
fn role_names_are_hashed_as_solidity_does() {
    assert_eq!(role_hash("DEFAULT_ADMIN_ROLE"), Ok(B256::ZERO));
    assert_eq!(DEFAULT_ADMIN_ROLE, B256::ZERO);
    assert_eq!(
        role_hash("MINTER_ROLE"),
        Ok(MINTER_HASH.parse::<B256>().unwrap())
    );
    assert_eq!(role_hash("MINTER_ROLE"), Ok(keccak256("MINTER_ROLE")));
    assert_eq!(
        parse_role(&MINTER_HASH.to_uppercase().replacen("0X", "0x", 1)),
        Ok((keccak256("MINTER_ROLE"), MINTER_HASH.to_string()))
    );
    assert_eq!(
        parse_role(&format!("0x{}", "0".repeat(64))),
        Ok((B256::ZERO, format!("0x{}", "0".repeat(64))))
    );
    assert_eq!(role_hash("ROLE_2"), Ok(keccak256("ROLE_2")));
    for bad in [
        "",
        "minter",
        "Minter_Role",
        "MINTER-ROLE",
        "MINTER ROLE",
        "0x12",
        "2FA_ROLE",
        &format!("0X{}", &MINTER_HASH[2..]),
        &format!("{MINTER_HASH}00"),
        &format!("0x{}", "g".repeat(64)),
    ] {
        assert_eq!(role_hash(bad), Err(ParseRoleError(bad.into())), "{bad:?}");
    }
}

// ---- treasury.policy ---------------------------------------------------------------------------

#[test]
fn policy_rules() {
    assert_eq!(
        policy_problems(json!([])),
        ["treasury.policy: expected a mapping, found a list"]
    );
    assert_eq!(
        policy_problems(json!({ "max_outflows": {} })),
        ["treasury.policy.max_outflows: unknown field"]
    );
    assert_eq!(
        policy_problems(json!({ "max_outflow": [1] })),
        ["treasury.policy.max_outflow: expected a mapping of assets to amounts, found a list"]
    );
    // The policy is checked even when the Safes are wrong.
    assert_eq!(
        problems(|m| {
            m["treasury"]["safes"] = json!([]);
            m["treasury"]["policy"] = json!({ "max_outflow": { "native": -1 } });
        }),
        [
            "treasury.safes: must declare at least one Safe",
            "treasury.policy.max_outflow.native: expected a non-negative integer or a decimal string, found -1",
        ]
    );
}

#[test]
fn max_outflow_amounts() {
    let native = |v: Value| policy_problems(json!({ "max_outflow": { "native": v } }));
    let limit = |v: Value| {
        parse_value(|m| m["treasury"]["policy"] = json!({ "max_outflow": { "native": v } }))
            .treasury
            .policy
            .limit(&Asset::Native)
            .unwrap()
    };
    assert_eq!(limit(json!(0)), U256::ZERO);
    assert_eq!(limit(json!(u64::MAX)), U256::from(u64::MAX));
    assert_eq!(limit(json!("0")), U256::ZERO);
    assert_eq!(limit(json!("007")), U256::from(7));
    assert_eq!(limit(json!(U256::MAX.to_string())), U256::MAX);
    assert_eq!(
        native(json!(-1)),
        ["treasury.policy.max_outflow.native: expected a non-negative integer or a decimal string, found -1"]
    );
    for bad in ["", "-5", "+5", "1e18", "0x10", "1_000", " 5", "5 ether"] {
        assert_eq!(
            native(json!(bad)),
            [format!("treasury.policy.max_outflow.native: expected a non-negative integer or a decimal string, found {bad:?}")],
            "{bad:?}"
        );
    }
    assert_eq!(
        native(json!(1.5)),
        ["treasury.policy.max_outflow.native: expected a non-negative integer or a decimal string, found 1.5"]
    );
    assert_eq!(
        native(json!(true)),
        ["treasury.policy.max_outflow.native: expected a non-negative integer or a decimal string, found true"]
    );
    assert_eq!(
        native(Value::Null),
        ["treasury.policy.max_outflow.native: expected a non-negative integer or a decimal string, found null"]
    );
    assert_eq!(
        native(json!(format!("{}0", U256::MAX))),
        ["treasury.policy.max_outflow.native: must be at most 2^256 - 1 (the largest uint256), found \"1157920892373161954235709850086879078532699846656405640394575840079131296399350\""]
    );
    // A number beyond 128 bits is read by the parsers as floating point, with digits lost.
    let yaml = |amount: &str| {
        yaml_problems(&VALID_YAML.replace(
            "      modules: []\n",
            &format!("      modules: []\n  policy:\n    max_outflow:\n      native: {amount}\n"),
        ))
    };
    assert_eq!(
        yaml("1000000000000000000000000000000000000000000"),
        ["treasury.policy.max_outflow.native: expected a non-negative integer or a decimal string, found 1e42; write large amounts as decimal strings (\"…\")"]
    );
    // Up to 2^128 - 1 unquoted is exact.
    let m = Manifest::parse(&VALID_YAML.replace(
        "      modules: []\n",
        &format!(
            "      modules: []\n  policy:\n    max_outflow:\n      native: {}\n",
            u128::MAX
        ),
    ))
    .unwrap();
    assert_eq!(
        m.treasury.policy.limit(&Asset::Native),
        Some(U256::from(u128::MAX))
    );
}

#[test]
fn max_outflow_assets() {
    let key = |k: &str| policy_problems(json!({ "max_outflow": { k: "1" } }));
    assert!(key(TOKEN).is_empty());
    assert!(key(&TOKEN.to_lowercase()).is_empty());
    assert_eq!(
        key("eth"),
        ["treasury.policy.max_outflow.eth: expected \"native\" or an ERC-20 token address, found \"eth\""]
    );
    assert_eq!(
        key("NATIVE"),
        ["treasury.policy.max_outflow.NATIVE: expected \"native\" or an ERC-20 token address, found \"NATIVE\""]
    );
    assert_eq!(
        key(ZERO),
        [format!(
            "treasury.policy.max_outflow.{ZERO}: must not be the zero address"
        )]
    );
    assert_eq!(
        key("0x12"),
        ["treasury.policy.max_outflow.0x12: expected a 0x-prefixed address of 40 hex digits, found \"0x12\""]
    );
    let bad_checksum = "0xE7f1725E7734CE288F8367e1Bb143E90bb3F0512";
    assert_eq!(
        key(bad_checksum),
        [format!("treasury.policy.max_outflow.{bad_checksum}: invalid EIP-55 checksum in mixed-case address \"{bad_checksum}\"; check it for typos")]
    );
    assert_eq!(
        policy_problems(json!({ "max_outflow": { TOKEN: "1", TOKEN.to_lowercase(): "2" } })),
        // serde_json sorts object keys: the checksummed key (with an uppercase 'E') comes first.
        [format!(
            "treasury.policy.max_outflow.{}: duplicate asset {TOKEN} (also at max_outflow.{TOKEN})",
            TOKEN.to_lowercase()
        )]
    );
    // A YAML key is not always a string.
    let policy = |text: &str| {
        yaml_problems(&VALID_YAML.replace(
            "      modules: []\n",
            &format!("      modules: []\n  policy:\n{text}"),
        ))
    };
    assert_eq!(
        policy("    max_outflow:\n      native: 1\n      native: 2\n"),
        ["treasury.policy.max_outflow.native: duplicate asset native (also at max_outflow.native)"]
    );
    assert_eq!(
        policy("    max_outflow:\n      0x0000000000000000000000000000000000000005: 1\n"),
        ["treasury.policy.max_outflow.5: expected an address string, found the number 5; quote addresses in YAML (\"0x…\")"]
    );
    assert_eq!(
        policy("    max_outflow:\n      true: 1\n"),
        ["treasury.policy.max_outflow.true: expected \"native\" or an ERC-20 token address, found true"]
    );
    // Every key and every amount is reported.
    assert_eq!(
        policy_problems(json!({ "max_outflow": { "eth": "x", "native": "1" } })),
        [
            "treasury.policy.max_outflow.eth: expected \"native\" or an ERC-20 token address, found \"eth\"",
            "treasury.policy.max_outflow.eth: expected a non-negative integer or a decimal string, found \"x\"",
        ]
    );
}

#[test]
fn allowed_recipients_rules() {
    let recipients = |v: Value| policy_problems(json!({ "allowed_recipients": v }));
    assert!(recipients(json!([OTHER, OWNER_A])).is_empty());
    assert!(recipients(json!([])).is_empty());
    assert_eq!(
        recipients(json!(OTHER)),
        ["treasury.policy.allowed_recipients: expected a list of addresses, found \"0x90F79bf6EB2c4f870365E785982E1f101E93b906\""]
    );
    assert_eq!(
        recipients(json!([OTHER, ZERO])),
        ["treasury.policy.allowed_recipients[1]: must not be the zero address"]
    );
    assert_eq!(
        recipients(json!([OTHER, OWNER_A, OTHER.to_lowercase()])),
        ["treasury.policy.allowed_recipients[2]: duplicate recipient 0x90F79bf6EB2c4f870365E785982E1f101E93b906 (also at allowed_recipients[0])"]
    );
    assert_eq!(
        recipients(json!(["somebody"])),
        ["treasury.policy.allowed_recipients[0]: expected a 0x-prefixed address of 40 hex digits, found \"somebody\""]
    );
    // The Safe sentinel is a Safe's business only.
    assert!(recipients(json!([SENTINEL])).is_empty());
    let m = parse_value(|m| m["treasury"]["policy"] = json!({ "allowed_recipients": [] }));
    assert!(m.treasury.policy.allows_recipient(&addr(OTHER)));
    assert!(m.treasury.policy.is_empty());
}

// ---- governance ---------------------------------------------------------------------------------

#[test]
fn the_governance_base_is_valid() {
    assert!(governance_problems(|_| {}).is_empty());
    let m = parse_value(with_governance);
    assert_eq!(
        m.watched_addresses(),
        vec![addr(SAFE), addr(GOVERNOR), addr(TIMELOCK)]
    );
}

#[test]
fn governance_section_rules() {
    assert_eq!(
        problems(|m| m["governance"] = json!([])),
        ["governance: expected a mapping, found a list"]
    );
    assert_eq!(
        problems(|m| m["governance"] = json!({ "governor": [] })),
        ["governance.governor: unknown field"]
    );
    assert_eq!(
        problems(|m| m["governance"] = json!({ "governors": {}, "timelocks": "x" })),
        [
            "governance.governors: expected a list of governors, found a mapping",
            "governance.timelocks: expected a list of timelocks, found \"x\"",
        ]
    );
    assert_eq!(
        problems(|m| m["governance"] = json!({ "governors": ["0x"] })),
        ["governance.governors[0]: expected a mapping, found \"0x\""]
    );
    // A governor needs no timelock, and timelocks need no governor.
    let m = parse_value(|m| {
        with_governance(m);
        governor0(m).as_object_mut().unwrap().remove("timelock");
        m["governance"]["timelocks"] = json!([]);
    });
    assert_eq!(m.governance.governors[0].timelock, None);
    assert!(problems(|m| m["governance"] = json!({ "timelocks": [timelock()] })).is_empty());
}

#[test]
fn governor_rules() {
    assert_eq!(
        governance_problems(|m| *governor0(m) = json!({})),
        [
            "governance.governors[0].address: required field is missing",
            "governance.governors[0].voting_delay: required field is missing",
            "governance.governors[0].voting_period: required field is missing",
            "governance.governors[0].proposal_threshold: required field is missing",
            "governance.governors[0].quorum_numerator: required field is missing",
        ]
    );
    assert_eq!(
        governance_problems(|m| governor0(m)["votingPeriod"] = json!(10)),
        ["governance.governors[0].votingPeriod: unknown field"]
    );
    assert_eq!(
        governance_problems(|m| governor0(m)["address"] = json!(ZERO)),
        ["governance.governors[0].address: must not be the zero address"]
    );
    assert_eq!(
        governance_problems(|m| governor0(m)["voting_period"] = json!(0)),
        ["governance.governors[0].voting_period: must be at least 1"]
    );
    assert_eq!(
        governance_problems(|m| governor0(m)["voting_period"] = json!("10")),
        ["governance.governors[0].voting_period: expected a non-negative integer, found \"10\""]
    );
    assert_eq!(
        governance_problems(|m| governor0(m)["voting_delay"] = json!(-1)),
        ["governance.governors[0].voting_delay: expected a non-negative integer, found -1"]
    );
    assert!(governance_problems(|m| governor0(m)["voting_delay"] = json!(0)).is_empty());
    assert_eq!(
        governance_problems(|m| governor0(m)["quorum_numerator"] = json!(101)),
        ["governance.governors[0].quorum_numerator: must be at most 100 (OpenZeppelin's quorum denominator), found 101"]
    );
    assert!(governance_problems(|m| governor0(m)["quorum_numerator"] = json!(100)).is_empty());
    assert!(governance_problems(|m| governor0(m)["quorum_numerator"] = json!(0)).is_empty());
    assert_eq!(
        governance_problems(|m| governor0(m)["quorum_numerator"] = json!(4.5)),
        ["governance.governors[0].quorum_numerator: expected a non-negative integer, found 4.5"]
    );
    assert_eq!(
        governance_problems(|m| governor0(m)["proposal_threshold"] = json!("-1")),
        ["governance.governors[0].proposal_threshold: expected a non-negative integer or a decimal string, found \"-1\""]
    );
    let threshold = parse_value(|m| {
        with_governance(m);
        governor0(m)["proposal_threshold"] = json!("1000000000000000000000");
    })
    .governance
    .governors[0]
        .proposal_threshold;
    assert_eq!(threshold, u256("1000000000000000000000"));
    assert_eq!(
        parse_value(|m| {
            with_governance(m);
            governor0(m)["proposal_threshold"] = json!(12);
        })
        .governance
        .governors[0]
            .proposal_threshold,
        U256::from(12)
    );
}

#[test]
fn a_governors_timelock_must_be_declared() {
    assert_eq!(
        governance_problems(|m| governor0(m)["timelock"] = json!(OTHER)),
        ["governance.governors[0].timelock: 0x90F79bf6EB2c4f870365E785982E1f101E93b906 is not a declared timelock"]
    );
    assert_eq!(
        governance_problems(|m| { m["governance"].as_object_mut().unwrap().remove("timelocks"); }),
        ["governance.governors[0].timelock: 0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0 is not a declared timelock"]
    );
    // A Safe is not a timelock.
    assert_eq!(
        governance_problems(|m| governor0(m)["timelock"] = json!(SAFE)),
        ["governance.governors[0].timelock: 0x5FbDB2315678afecb367f032d93F642f64180aa3 is not a declared timelock"]
    );
    assert_eq!(
        governance_problems(|m| governor0(m)["timelock"] = json!(ZERO)),
        ["governance.governors[0].timelock: must not be the zero address"]
    );
    // Any case names the same timelock.
    assert!(
        governance_problems(|m| governor0(m)["timelock"] = json!(TIMELOCK.to_lowercase()))
            .is_empty()
    );
    // When a timelock's address cannot be read, that is the only problem reported.
    assert_eq!(
        governance_problems(|m| timelock0(m)["address"] = json!("0x9fE4")),
        ["governance.timelocks[0].address: expected a 0x-prefixed address of 40 hex digits, found \"0x9fE4\""]
    );
    assert_eq!(
        governance_problems(|m| m["governance"]["timelocks"] = json!({})),
        ["governance.timelocks: expected a list of timelocks, found a mapping"]
    );
}

#[test]
fn timelock_rules() {
    assert_eq!(
        governance_problems(|m| {
            *timelock0(m) = json!({ "address": TIMELOCK });
        }),
        [
            "governance.timelocks[0].min_delay: required field is missing",
            "governance.timelocks[0].proposers: required field is missing",
            "governance.timelocks[0].executors: required field is missing",
            "governance.timelocks[0].cancellers: required field is missing",
        ]
    );
    assert_eq!(
        governance_problems(|m| timelock0(m)["min_delay"] = json!(-2)),
        ["governance.timelocks[0].min_delay: expected a non-negative integer, found -2"]
    );
    assert!(governance_problems(|m| timelock0(m)["min_delay"] = json!(0)).is_empty());
    assert_eq!(
        governance_problems(|m| timelock0(m)["delay"] = json!(2)),
        ["governance.timelocks[0].delay: unknown field"]
    );
    // Empty lists are declarations too: nobody holds the role.
    let m = parse_value(|m| {
        with_governance(m);
        timelock0(m)["proposers"] = json!([]);
        timelock0(m)["cancellers"] = json!([]);
        timelock0(m)["executors"] = json!([OWNER_A]);
    });
    let timelock = &m.governance.timelocks[0];
    assert!(timelock.proposers.is_empty());
    assert!(!timelock.anyone_can_execute());
    assert!(timelock.is_executor(&addr(OWNER_A)));
    assert!(!timelock.is_executor(&addr(OWNER_B)));
}

#[test]
fn the_zero_address_means_anyone_among_executors_only() {
    assert!(governance_problems(|m| timelock0(m)["executors"] = json!([OWNER_A, ZERO])).is_empty());
    for field in ["proposers", "cancellers", "admins"] {
        assert_eq!(
            governance_problems(|m| timelock0(m)[field] = json!([OWNER_A, ZERO])),
            [format!(
                "governance.timelocks[0].{field}[1]: must not be the zero address"
            )]
        );
    }
    assert_eq!(
        governance_problems(|m| timelock0(m)["executors"] = json!([ZERO, ZERO])),
        ["governance.timelocks[0].executors[1]: duplicate executor 0x0000000000000000000000000000000000000000 (also at executors[0])"]
    );
    assert_eq!(
        governance_problems(|m| timelock0(m)["executors"] = json!(["anyone"])),
        ["governance.timelocks[0].executors[0]: expected a 0x-prefixed address of 40 hex digits, found \"anyone\""]
    );
}

#[test]
fn timelock_lists_refuse_duplicates() {
    for (field, what) in [
        ("proposers", "proposer"),
        ("executors", "executor"),
        ("cancellers", "canceller"),
        ("admins", "admin"),
    ] {
        assert_eq!(
            governance_problems(|m| timelock0(m)[field] = json!([OWNER_A, OWNER_B, OWNER_A.to_lowercase()])),
            [format!("governance.timelocks[0].{field}[2]: duplicate {what} 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 (also at {field}[0])")]
        );
        assert_eq!(
            governance_problems(|m| timelock0(m)[field] = json!({})),
            [format!(
                "governance.timelocks[0].{field}: expected a list of addresses, found a mapping"
            )]
        );
    }
    let m = parse_value(|m| {
        with_governance(m);
        timelock0(m)["admins"] = json!([OWNER_B, OWNER_A]);
    });
    assert_eq!(
        m.governance.timelocks[0].admins,
        vec![addr(OWNER_B), addr(OWNER_A)]
    );
    assert!(m.governance.timelocks[0].is_admin(&addr(OWNER_A)));
    assert!(parse_value(|m| {
        with_governance(m);
        timelock0(m)["admins"] = Value::Null;
    })
    .governance
    .timelocks[0]
        .admins
        .is_empty());
}

// ---- roles --------------------------------------------------------------------------------------

#[test]
fn role_section_rules() {
    assert_eq!(
        roles_problems(json!({ "contract": TOKEN })),
        ["roles: expected a list of role entries, found a mapping"]
    );
    assert_eq!(
        roles_problems(json!([TOKEN])),
        ["roles[0]: expected a mapping, found \"0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512\""]
    );
    assert_eq!(
        roles_problems(json!([{ "owner": OWNER_A }])),
        ["roles[0].contract: required field is missing"]
    );
    assert_eq!(
        roles_problems(json!([{ "contract": TOKEN, "owner": OWNER_A, "admin": OWNER_A }])),
        ["roles[0].admin: unknown field"]
    );
    assert_eq!(
        roles_problems(json!([{ "contract": ZERO, "owner": OWNER_A }])),
        ["roles[0].contract: must not be the zero address"]
    );
}

#[test]
fn an_entry_is_access_control_or_ownable() {
    assert_eq!(
        roles_problems(json!([{ "contract": TOKEN }])),
        ["roles[0]: must declare either members (AccessControl) or owner (Ownable)"]
    );
    assert_eq!(
        roles_problems(json!([{ "contract": TOKEN, "members": null, "owner": null }])),
        ["roles[0]: must declare either members (AccessControl) or owner (Ownable)"]
    );
    assert_eq!(
        roles_problems(json!([{ "contract": TOKEN, "owner": OWNER_A, "members": {} }])),
        ["roles[0]: declares both members (AccessControl) and owner (Ownable); an entry is one or the other"]
    );
    // Both are still checked.
    assert_eq!(
        roles_problems(json!([{ "contract": TOKEN, "owner": ZERO, "members": { "x": [] } }])),
        [
            "roles[0]: declares both members (AccessControl) and owner (Ownable); an entry is one or the other",
            "roles[0].members.x: expected a role name such as MINTER_ROLE (A-Z, 0-9 and '_', not starting with a digit) or a 32-byte 0x-hex role hash, found \"x\"",
            "roles[0].owner: must not be the zero address",
        ]
    );
}

#[test]
fn ownable_rules() {
    let m = parse_value(|m| {
        m["roles"] = json!([{ "contract": OWNABLE, "owner": OWNER_A.to_lowercase() }])
    });
    assert_eq!(
        m.roles,
        [RoleDecl::Ownable {
            contract: addr(OWNABLE),
            owner: addr(OWNER_A),
            deployed_at: None,
        }]
    );
    assert_eq!(m.watched_addresses(), vec![addr(SAFE), addr(OWNABLE)]);
    assert_eq!(
        roles_problems(json!([{ "contract": OWNABLE, "owner": ZERO }])),
        ["roles[0].owner: must not be the zero address"]
    );
    assert_eq!(
        roles_problems(json!([{ "contract": OWNABLE, "owner": [OWNER_A] }])),
        ["roles[0].owner: expected an address string, found a list"]
    );
}

#[test]
fn access_control_rules() {
    let members = |v: Value| roles_problems(json!([{ "contract": TOKEN, "members": v }]));
    assert!(members(json!({})).is_empty());
    assert!(members(json!({ "MINTER_ROLE": [], "DEFAULT_ADMIN_ROLE": [OWNER_A] })).is_empty());
    assert_eq!(
        members(json!([OWNER_A])),
        ["roles[0].members: expected a mapping of roles to lists of members, found a list"]
    );
    assert_eq!(
        members(json!({ "MINTER_ROLE": OWNER_A })),
        ["roles[0].members.MINTER_ROLE: expected a list of addresses, found \"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\""]
    );
    assert_eq!(
        members(json!({ "MINTER_ROLE": [OWNER_A, OWNER_B, OWNER_A.to_lowercase()] })),
        ["roles[0].members.MINTER_ROLE[2]: duplicate member 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 (also at MINTER_ROLE[0])"]
    );
    assert_eq!(
        members(json!({ "MINTER_ROLE": [ZERO] })),
        ["roles[0].members.MINTER_ROLE[0]: must not be the zero address"]
    );
    // The same member in two roles is fine.
    assert!(members(json!({ "MINTER_ROLE": [OWNER_A], "PAUSER_ROLE": [OWNER_A] })).is_empty());
}

#[test]
fn role_names_and_hashes() {
    let role =
        |name: &str| roles_problems(json!([{ "contract": TOKEN, "members": { name: [OWNER_A] } }]));
    let message = |name: &str| {
        format!("roles[0].members.{name}: expected a role name such as MINTER_ROLE (A-Z, 0-9 and '_', not starting with a digit) or a 32-byte 0x-hex role hash, found {name:?}")
    };
    for good in [
        "MINTER_ROLE",
        "ROLE2",
        "_",
        MINTER_HASH,
        &MINTER_HASH.to_uppercase().replacen("0X", "0x", 1),
    ] {
        assert!(role(good).is_empty(), "{good}");
    }
    for bad in [
        "minter",
        "Minter",
        "MINTER-ROLE",
        "MINTER ROLE",
        "",
        "0x9f2d",
        "0X9F2DF0FED2C77648DE5860A4CC508CD0818C85B8B8A1AB4CEEEF8D981C8956A6",
    ] {
        assert_eq!(role(bad), [message(bad)], "{bad:?}");
    }
    // Keyed by hash: one role written twice is refused, by name or by hash.
    let twice = |a: &str, b: &str| {
        roles_problems(json!([{ "contract": TOKEN, "members": { a: [OWNER_A], b: [OWNER_B] } }]))
    };
    // serde_json sorts object keys, so the key that sorts first comes first.
    assert_eq!(
        twice("MINTER_ROLE", MINTER_HASH),
        [format!(
            "roles[0].members.MINTER_ROLE: duplicate role (also at members.{MINTER_HASH})"
        )]
    );
    assert_eq!(
        twice("DEFAULT_ADMIN_ROLE", &format!("0x{}", "0".repeat(64))),
        ["roles[0].members.DEFAULT_ADMIN_ROLE: duplicate role (also at members.0x0000000000000000000000000000000000000000000000000000000000000000)"]
    );
    // In YAML, a key can be repeated, and an unquoted hex hash that fits in 128 bits is a number.
    let yaml = |members: &str| {
        yaml_problems(&format!(
            "{VALID_YAML}roles:\n  - contract: \"{TOKEN}\"\n    members:\n{members}"
        ))
    };
    assert_eq!(
        yaml("      MINTER_ROLE: []\n      MINTER_ROLE: []\n"),
        ["roles[0].members.MINTER_ROLE: duplicate role (also at members.MINTER_ROLE)"]
    );
    assert_eq!(
        yaml(&format!("      0x{}: []\n", "0".repeat(64))),
        ["roles[0].members.0: expected a role name or a 32-byte 0x-hex role hash, found the number 0; quote role hashes in YAML (\"0x…\")"]
    );
    assert_eq!(
        yaml("      [A]: []\n"),
        ["roles[0].members.a list: expected a role name such as MINTER_ROLE (A-Z, 0-9 and '_', not starting with a digit) or a 32-byte 0x-hex role hash, found a list"]
    );
    // Larger hashes stay strings and are accepted unquoted.
    let m = Manifest::parse(&format!(
        "{VALID_YAML}roles:\n  - contract: \"{TOKEN}\"\n    members:\n      {MINTER_HASH}: [\"{OWNER_A}\"]\n"
    ))
    .unwrap();
    assert!(m.roles[0].is_member(&keccak256("MINTER_ROLE"), &addr(OWNER_A)));
}

// ---- contracts across sections ------------------------------------------------------------------

#[test]
fn a_contract_is_declared_once_across_sections() {
    let already = |address: &str, at: &str| {
        format!("duplicate contract {address} (already declared at {at})")
    };
    assert_eq!(
        governance_problems(|m| governor0(m)["address"] = json!(SAFE.to_lowercase())),
        [format!(
            "governance.governors[0].address: {}",
            already(SAFE, "treasury.safes[0]")
        )]
    );
    assert_eq!(
        governance_problems(|m| timelock0(m)["address"] = json!(GOVERNOR)),
        [
            // The governor's timelock is no longer declared: both are reported.
            format!("governance.governors[0].timelock: {TIMELOCK} is not a declared timelock"),
            format!(
                "governance.timelocks[0].address: {}",
                already(GOVERNOR, "governance.governors[0]")
            ),
        ]
    );
    assert_eq!(
        governance_problems(|m| {
            let second = governor0(m).clone();
            m["governance"]["governors"]
                .as_array_mut()
                .unwrap()
                .push(second);
        }),
        [format!(
            "governance.governors[1].address: {}",
            already(GOVERNOR, "governance.governors[0]")
        )]
    );
    assert_eq!(
        governance_problems(|m| {
            let second = timelock0(m).clone();
            m["governance"]["timelocks"]
                .as_array_mut()
                .unwrap()
                .push(second);
        }),
        [format!(
            "governance.timelocks[1].address: {}",
            already(TIMELOCK, "governance.timelocks[0]")
        )]
    );
    assert_eq!(
        governance_problems(|m| m["roles"] = json!([{ "contract": TIMELOCK, "members": {} }])),
        [format!(
            "roles[0].contract: {}",
            already(TIMELOCK, "governance.timelocks[0]")
        )]
    );
    assert_eq!(
        roles_problems(json!([
            { "contract": TOKEN, "members": {} },
            { "contract": TOKEN.to_lowercase(), "owner": OWNER_A },
        ])),
        [format!("roles[1].contract: {}", already(TOKEN, "roles[0]"))]
    );
    assert_eq!(
        roles_problems(json!([{ "contract": SAFE, "owner": OWNER_A }])),
        [format!(
            "roles[0].contract: {}",
            already(SAFE, "treasury.safes[0]")
        )]
    );
    // Accounts and tokens are not contracts the manifest declares: they may repeat anywhere.
    assert!(governance_problems(|m| {
        m["treasury"]["policy"] =
            json!({ "max_outflow": { TOKEN: 1 }, "allowed_recipients": [TIMELOCK] });
        m["roles"] = json!([{ "contract": TOKEN, "members": { "MINTER_ROLE": [SAFE, TIMELOCK] } }]);
        timelock0(m)["admins"] = json!([SAFE]);
    })
    .is_empty());
}

#[test]
fn watched_and_treasury_addresses_of_a_hand_built_manifest_have_no_repeats() {
    let mut m = Manifest::parse(GOVERNANCE_YAML).unwrap();
    m.roles.push(RoleDecl::Ownable {
        contract: addr(SAFE),
        owner: addr(OWNER_A),
        deployed_at: None,
    });
    m.governance
        .timelocks
        .push(m.governance.timelocks[0].clone());
    assert_eq!(
        m.watched_addresses(),
        vec![
            addr(SAFE),
            addr(GOVERNOR),
            addr(TIMELOCK),
            addr(TOKEN),
            addr(OWNABLE)
        ]
    );
    assert_eq!(m.treasury_addresses(), vec![addr(SAFE), addr(TIMELOCK)]);
}

/// `deployed_at` is optional on every contract: absent, the canonical form and the hash are
/// what they were before it existed; present, it is kept (and changes the hash); wrong, it is
/// refused by path.
#[test]
fn deployed_at_is_optional_kept_and_checked() {
    let before = Manifest::parse(GOVERNANCE_YAML).unwrap();
    assert_eq!(
        before.hash().to_string(),
        "b37084d507503e0ea6ff640073d9dd2983fd69b3e141f4cdfb4ff1dc35765282",
        "the hash recorded before deployed_at existed"
    );
    assert!(!before.canonical_json().contains("deployed_at"));
    let with = GOVERNANCE_YAML
        .replacen(
            "      threshold: 2\n",
            "      threshold: 2\n      deployed_at: 5\n",
            1,
        )
        .replacen(
            "      min_delay: 2\n",
            "      min_delay: 2\n      deployed_at: 6\n",
            1,
        )
        .replacen(
            "  - contract: \"0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512\"",
            "  - deployed_at: 7\n    contract: \"0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512\"",
            1,
        );
    let m = Manifest::parse(&with).unwrap();
    assert_eq!(m.deployed_at(&addr(SAFE)), Some(5));
    assert_eq!(m.deployed_at(&addr(TIMELOCK)), Some(6));
    assert_eq!(m.deployed_at(&addr(TOKEN)), Some(7));
    assert_eq!(m.deployed_at(&addr(GOVERNOR)), None);
    assert_ne!(m.hash(), before.hash());
    // The canonical form reads back to the same manifest.
    assert_eq!(
        Manifest::from_canonical_json(&m.canonical_json()).unwrap(),
        m
    );
    let bad = with.replacen("deployed_at: 6", "deployed_at: -6", 1);
    let err = Manifest::parse(&bad).unwrap_err().to_string();
    assert!(err.contains("governance.timelocks[0].deployed_at"), "{err}");
}
