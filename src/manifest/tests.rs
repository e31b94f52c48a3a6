//! Tests of the manifest module: formats, normalisation, hashing and every rule's message.

use std::path::Path;

use alloy::primitives::Address;
use serde_json::{json, Value};

use super::*;

mod limits_and_code;
mod ratification;
mod sections;

const VALID_YAML: &str = include_str!("../../tests/fixtures/manifests/valid.yaml");
const VALID_JSON: &str = include_str!("../../tests/fixtures/manifests/valid.json");
const INVALID_YAML: &str = include_str!("../../tests/fixtures/manifests/invalid.yaml");

const SAFE: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const OWNER_A: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const OWNER_B: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const OWNER_C: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
const OTHER: &str = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";
const ZERO: &str = "0x0000000000000000000000000000000000000000";
const SENTINEL: &str = "0x0000000000000000000000000000000000000001";

fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

/// A valid manifest as a JSON value, for tests to break one thing at a time.
fn base() -> Value {
    json!({
        "id": "river-guild",
        "name": "River Guild",
        "purpose": "Fund maintenance of the river network's shared tooling.",
        "phase": "coordination",
        "chain": "local",
        "start_block": 0,
        "treasury": {
            "safes": [{
                "address": SAFE,
                "owners": [OWNER_A, OWNER_B, OWNER_C],
                "threshold": 2,
                "modules": []
            }]
        }
    })
}

/// Parses `base()` after `change`, through both the JSON and the YAML text of the value, and
/// returns the problem lines (which must be the same for both).
fn problems(change: impl FnOnce(&mut Value)) -> Vec<String> {
    let mut value = base();
    change(&mut value);
    let from_json = Manifest::parse(&serde_json::to_string_pretty(&value).unwrap());
    let from_yaml = Manifest::parse(&serde_yaml::to_string(&value).unwrap());
    assert_eq!(from_json, from_yaml, "JSON and YAML disagree");
    match from_json {
        Ok(_) => Vec::new(),
        Err(e) => e.lines(),
    }
}

fn parse_value(change: impl FnOnce(&mut Value)) -> Manifest {
    let mut value = base();
    change(&mut value);
    Manifest::parse(&serde_json::to_string(&value).unwrap()).expect("valid manifest")
}

fn yaml_problems(text: &str) -> Vec<String> {
    Manifest::parse(text)
        .expect_err("should be refused")
        .lines()
}

fn safe0(value: &mut Value) -> &mut Value {
    &mut value["treasury"]["safes"][0]
}

fn remove(value: &mut Value, key: &str) {
    value.as_object_mut().unwrap().remove(key);
}

// ---- formats, normalisation, hash ----------------------------------------------------------

#[test]
fn valid_fixture_parses() {
    let m = Manifest::parse(VALID_YAML).unwrap();
    assert_eq!(m.id, "river-guild");
    assert_eq!(m.name, "River Guild");
    assert_eq!(m.phase, Phase::Coordination);
    assert_eq!(m.chain, "local");
    assert_eq!(m.start_block, 0);
    assert_eq!(m.watched_addresses(), vec![addr(SAFE)]);
    let safe = m.safe(&addr(SAFE)).unwrap();
    assert_eq!(safe.threshold, 2);
    // Sorted by address bytes: 0x3C44…, 0x7099…, 0xf39F….
    assert_eq!(
        safe.owners,
        vec![addr(OWNER_C), addr(OWNER_B), addr(OWNER_A)]
    );
    assert!(safe.is_owner(&addr(OWNER_A)));
    assert!(!safe.is_owner(&addr(OTHER)));
    assert!(safe.modules.is_empty());
    assert_eq!(safe.guard, None);
    assert_eq!(m.agreements.len(), 1);
    assert_eq!(m.agreements[0].with, "delta-commons");
    assert!(m.safe(&addr(OTHER)).is_none());
}

/// The hash of valid.yaml before this version read `treasury.policy`, `governance` and `roles`:
/// a manifest without those sections must keep the hash the store recorded for it.
#[test]
fn the_hash_of_a_manifest_without_the_later_sections_is_stable() {
    let m = Manifest::parse(VALID_YAML).unwrap();
    assert_eq!(
        m.hash().to_string(),
        "2f1f1457f4e21d7602a81c5d14fcc6ad9e3b62b9159c7ebbfdc99567036c45c0"
    );
    assert!(m.treasury.policy.is_empty());
    assert!(m.governance.is_empty());
    assert!(m.roles.is_empty());
}

#[test]
fn valid_yaml_and_json_fixtures_give_the_same_manifest_and_hash() {
    let yaml = Manifest::parse(VALID_YAML).unwrap();
    let json = Manifest::parse(VALID_JSON).unwrap();
    assert_eq!(yaml, json);
    assert_eq!(yaml.hash(), json.hash());
    assert_eq!(yaml.canonical_json(), json.canonical_json());
}

#[test]
fn canonical_json_is_exact() {
    let m = Manifest::parse(VALID_YAML).unwrap();
    let expected = concat!(
        r#"{"id":"river-guild","name":"River Guild","#,
        r#""purpose":"Fund maintenance of the river network's shared tooling.","#,
        r#""phase":"coordination","chain":"local","start_block":0,"#,
        r#""treasury":{"safes":[{"address":"0x5FbDB2315678afecb367f032d93F642f64180aa3","#,
        r#""owners":["0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC","#,
        r#""0x70997970C51812dc3A010C7d01b50e0d17dc79C8","#,
        r#""0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"],"threshold":2,"modules":[]}]},"#,
        r#""agreements":[{"with":"delta-commons","#,
        r#""summary":"Share the cost of the river network's monitoring nodes.","#,
        r#""uri":"https://example.org/agreements/river-delta"}]}"#,
    );
    assert_eq!(m.canonical_json(), expected);
    assert_eq!(m.hash(), ManifestHash::of(expected.as_bytes()));
    // Serde serialisation is the canonical form too.
    assert_eq!(serde_json::to_string(&m).unwrap(), expected);
}

#[test]
fn owner_order_and_case_do_not_change_the_hash() {
    let reference = parse_value(|_| {});
    let reordered = parse_value(|m| {
        safe0(m)["owners"] = json!([
            OWNER_C.to_lowercase(),
            OWNER_A.to_uppercase().replacen("0X", "0x", 1),
            OWNER_B
        ]);
        safe0(m)["address"] = json!(SAFE.to_lowercase());
    });
    assert_eq!(reference, reordered);
    assert_eq!(reference.hash(), reordered.hash());
}

#[test]
fn module_order_does_not_change_the_hash() {
    let one = parse_value(|m| safe0(m)["modules"] = json!([OTHER, OWNER_A]));
    let two = parse_value(|m| safe0(m)["modules"] = json!([OWNER_A.to_lowercase(), OTHER]));
    assert_eq!(one.hash(), two.hash());
}

#[test]
fn key_order_and_whitespace_do_not_change_the_hash() {
    let reordered = format!(
        "treasury:\n  safes:\n  - threshold: 2\n    owners: [\"{OWNER_B}\", \"{OWNER_A}\", \"{OWNER_C}\"]\n    address: \"{SAFE}\"\nchain: local\nphase: coordination\npurpose: \"  Fund maintenance of the river network's shared tooling.\\n\"\nname: River Guild\nid: river-guild\n"
    );
    let m = Manifest::parse(&reordered).unwrap();
    assert_eq!(m.hash(), parse_value(|_| {}).hash());
}

#[test]
fn a_change_in_meaning_changes_the_hash() {
    let reference = parse_value(|_| {}).hash();
    assert_ne!(
        reference,
        parse_value(|m| safe0(m)["threshold"] = json!(3)).hash()
    );
    assert_ne!(
        reference,
        parse_value(|m| m["start_block"] = json!(1)).hash()
    );
    assert_ne!(
        reference,
        parse_value(|m| m["phase"] = json!("completion")).hash()
    );
}

#[test]
fn canonical_json_round_trips() {
    for text in [VALID_YAML, VALID_JSON] {
        let m = Manifest::parse(text).unwrap();
        let canonical = m.canonical_json();
        let back = Manifest::from_canonical_json(&canonical).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.canonical_json(), canonical);
        assert_eq!(back.hash(), m.hash());
    }
    let with_guard = parse_value(|m| {
        safe0(m)["guard"] = json!(OTHER);
        safe0(m)["modules"] = json!([OWNER_A]);
        m["start_block"] = json!(u64::MAX);
        m["agreements"] = json!([{ "with": "x", "summary": "y" }]);
    });
    let back = Manifest::from_canonical_json(&with_guard.canonical_json()).unwrap();
    assert_eq!(back, with_guard);
    assert!(with_guard
        .canonical_json()
        .contains(r#""guard":"0x90F79bf6EB2c4f870365E785982E1f101E93b906""#));
    assert!(!with_guard.canonical_json().contains("uri"));
}

#[test]
fn from_canonical_json_validates_and_reads_json_only() {
    let err = Manifest::from_canonical_json("id: river-guild").unwrap_err();
    assert_eq!(err.problems.len(), 1);
    assert!(err.problems[0].message.starts_with("invalid JSON"), "{err}");
    let mut value = base();
    safe0(&mut value)["threshold"] = json!(0);
    let err = Manifest::from_canonical_json(&value.to_string()).unwrap_err();
    assert_eq!(
        err.lines(),
        ["treasury.safes[0].threshold: must be at least 1"]
    );
}

#[test]
fn canonical_json_sorts_a_hand_built_manifest() {
    let mut m = Manifest::parse(VALID_YAML).unwrap();
    let canonical = m.canonical_json();
    m.treasury.safes[0].owners.reverse();
    assert_eq!(m.canonical_json(), canonical);
}

#[test]
fn serde_deserialisation_validates() {
    let m: Manifest = serde_json::from_str(VALID_JSON).unwrap();
    assert_eq!(m, Manifest::parse(VALID_YAML).unwrap());
    let m: Manifest = serde_yaml::from_str(VALID_YAML).unwrap();
    assert_eq!(m.id, "river-guild");
    let mut value = base();
    safe0(&mut value)["threshold"] = json!(4);
    let err = serde_json::from_value::<Manifest>(value).unwrap_err();
    assert!(
        err.to_string()
            .contains("treasury.safes[0].threshold: 4 exceeds the 3 owners"),
        "{err}"
    );
}

#[test]
fn parts_serialise_with_checksummed_addresses() {
    let m = Manifest::parse(VALID_JSON).unwrap();
    let safe = serde_json::to_value(&m.treasury.safes[0]).unwrap();
    assert_eq!(safe["address"], json!(SAFE));
    let back: SafeDecl = serde_json::from_value(safe).unwrap();
    assert_eq!(back, m.treasury.safes[0]);
    let bad = json!({ "address": "0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "owners": [], "threshold": 1 });
    assert!(serde_json::from_value::<SafeDecl>(bad).is_err());
}

#[test]
fn manifest_hash_display_and_from_str() {
    let hash = Manifest::parse(VALID_YAML).unwrap().hash();
    let text = hash.to_string();
    assert_eq!(text.len(), 64);
    assert!(text
        .chars()
        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
    assert_eq!(text.parse::<ManifestHash>().unwrap(), hash);
    assert_eq!(text.to_uppercase().parse::<ManifestHash>().unwrap(), hash);
    assert_eq!(format!("{hash:?}"), format!("ManifestHash({text})"));
    assert!("abc".parse::<ManifestHash>().is_err());
    assert!(format!("0x{}", &text[2..]).parse::<ManifestHash>().is_err());
    assert!(format!("{}zz", &text[2..]).parse::<ManifestHash>().is_err());
    let json = serde_json::to_string(&hash).unwrap();
    assert_eq!(json, format!("\"{text}\""));
    assert_eq!(serde_json::from_str::<ManifestHash>(&json).unwrap(), hash);
    // SHA-256 of the empty string, as a known answer.
    assert_eq!(
        ManifestHash::of(b"").to_string(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn phase_names() {
    for phase in Phase::ALL {
        assert_eq!(phase.as_str().parse::<Phase>().unwrap(), phase);
        assert_eq!(serde_json::to_value(phase).unwrap(), json!(phase.as_str()));
    }
    assert!("Coordination".parse::<Phase>().is_err());
}

// ---- files ----------------------------------------------------------------------------------

#[test]
fn from_file_reads_yaml_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("river.yaml");
    let json = dir.path().join("river.json");
    std::fs::write(&yaml, VALID_YAML).unwrap();
    std::fs::write(&json, VALID_JSON).unwrap();
    assert_eq!(
        Manifest::from_file(&yaml).unwrap(),
        Manifest::from_file(&json).unwrap()
    );
}

#[test]
fn from_file_names_the_file_it_cannot_read() {
    let path = Path::new("/nonexistent/groups/river-guild.yaml");
    let err = Manifest::from_file(path).unwrap_err();
    assert_eq!(err.problems.len(), 1);
    assert_eq!(err.problems[0].path, "/nonexistent/groups/river-guild.yaml");
    assert!(
        err.to_string()
            .starts_with("/nonexistent/groups/river-guild.yaml: cannot read the manifest: "),
        "{err}"
    );
}

#[test]
fn from_file_refuses_a_huge_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.yaml");
    std::fs::write(&path, "#".repeat(MAX_MANIFEST_BYTES + 10)).unwrap();
    let err = Manifest::from_file(&path).unwrap_err();
    assert_eq!(err.problems[0].path, DOCUMENT_PATH);
    assert!(err.problems[0].message.contains("at most 1048576"), "{err}");
}

// ---- syntax ---------------------------------------------------------------------------------

#[test]
fn yaml_syntax_error_names_line_and_column() {
    let err = Manifest::parse("id: river-guild\nname: [River Guild\nchain: local\n").unwrap_err();
    assert_eq!(err.problems.len(), 1);
    let problem = &err.problems[0];
    assert!(problem.path.starts_with("line "), "{err}");
    assert!(problem.path.contains(", column "), "{err}");
    assert!(problem.message.starts_with("invalid YAML: "), "{err}");
    assert!(!problem
        .message
        .contains(&format!(" at {}", problem.path.replace(',', ""))));

    let err = Manifest::parse("id: a\n  name: b\n").unwrap_err();
    assert_eq!(err.problems[0].path, "line 2, column 7", "{err}");
    assert_eq!(
        err.problems[0].message,
        "invalid YAML: mapping values are not allowed in this context"
    );
}

#[test]
fn json_syntax_error_names_line_and_column() {
    let err = Manifest::parse("{\n  \"id\": \"river-guild\",\n  \"name\": [1, 2\n}\n").unwrap_err();
    assert_eq!(
        err.lines(),
        ["line 4, column 1: invalid JSON: expected `,` or `]`"]
    );
    let err = Manifest::parse("{\"id\": \"river-guild\" \"name\": 1}").unwrap_err();
    assert_eq!(
        err.lines(),
        ["line 1, column 22: invalid JSON: expected `,` or `}`"]
    );
}

#[test]
fn json_that_is_only_valid_as_yaml_is_read_as_yaml() {
    // A trailing comma is not JSON but is a YAML flow mapping with the same meaning.
    let text = VALID_JSON.replace("\"modules\": []", "\"modules\": [],");
    assert_ne!(text, VALID_JSON);
    assert_eq!(
        Manifest::parse(&text).unwrap(),
        Manifest::parse(VALID_JSON).unwrap()
    );
}

#[test]
fn flow_style_yaml_that_is_not_json_still_parses() {
    let text = format!(
        "{{id: river-guild, name: River Guild, purpose: p, phase: formation, chain: local,\n treasury: {{safes: [{{address: '{SAFE}', owners: ['{OWNER_A}'], threshold: 1}}]}}}}"
    );
    let m = Manifest::parse(&text).unwrap();
    assert_eq!(m.phase, Phase::Formation);
    assert_eq!(m.treasury.safes[0].owners, vec![addr(OWNER_A)]);
}

#[test]
fn byte_order_mark_is_ignored() {
    let with_bom = format!("\u{feff}{VALID_JSON}");
    assert_eq!(
        Manifest::parse(&with_bom).unwrap(),
        Manifest::parse(VALID_JSON).unwrap()
    );
}

#[test]
fn empty_and_non_mapping_documents() {
    for text in ["", "   \n", "# only a comment\n", "---\n", "null"] {
        assert_eq!(
            yaml_problems(text),
            ["(document): the manifest is empty"],
            "{text:?}"
        );
    }
    assert_eq!(
        yaml_problems("- a\n- b\n"),
        ["(document): expected a mapping of manifest fields, found a list"]
    );
    assert_eq!(
        yaml_problems("[1, 2]"),
        ["(document): expected a mapping of manifest fields, found a list"]
    );
    assert_eq!(
        yaml_problems("just text"),
        ["(document): expected a mapping of manifest fields, found \"just text\""]
    );
}

#[test]
fn multiple_yaml_documents_are_refused() {
    let err = Manifest::parse("id: a\n---\nid: b\n").unwrap_err();
    assert_eq!(err.problems.len(), 1);
    assert!(
        err.problems[0].message.starts_with("invalid YAML: "),
        "{err}"
    );
}

#[test]
fn yaml_tags_are_refused() {
    let err =
        Manifest::parse(&VALID_YAML.replace("chain: local", "chain: !env CHAIN")).unwrap_err();
    assert_eq!(err.problems.len(), 1);
    assert!(
        err.problems[0]
            .message
            .contains("YAML tags such as `!env` are not supported"),
        "{err}"
    );
}

#[test]
fn yaml_anchors_and_aliases_work() {
    let text = format!(
        "id: river-guild\nname: &n River Guild\npurpose: *n\nphase: formation\nchain: local\ntreasury:\n  safes:\n    - address: '{SAFE}'\n      owners: &owners ['{OWNER_A}']\n      threshold: 1\n      modules: *owners\n"
    );
    let m = Manifest::parse(&text).unwrap();
    assert_eq!(m.purpose, "River Guild");
    assert_eq!(m.treasury.safes[0].modules, vec![addr(OWNER_A)]);
}

#[test]
fn too_large_text_is_refused() {
    let text = format!("{VALID_YAML}#{}", "x".repeat(MAX_MANIFEST_BYTES));
    let err = Manifest::parse(&text).unwrap_err();
    assert_eq!(err.problems.len(), 1);
    assert_eq!(err.problems[0].path, "(document)");
}

// ---- rules, each with its exact message -------------------------------------------------------

#[test]
fn the_base_manifest_is_valid() {
    assert_eq!(problems(|_| {}), Vec::<String>::new());
}

#[test]
fn id_rules() {
    let id = |v: Value| problems(|m| m["id"] = v);
    assert_eq!(
        problems(|m| remove(m, "id")),
        ["id: required field is missing"]
    );
    assert_eq!(id(json!("")), ["id: must not be empty"]);
    assert_eq!(
        id(json!("River Guild")),
        ["id: may contain only lowercase letters a-z, digits 0-9 and '-', found 'R' in \"River Guild\""]
    );
    assert_eq!(
        id(json!("river_guild")),
        ["id: may contain only lowercase letters a-z, digits 0-9 and '-', found '_' in \"river_guild\""]
    );
    assert_eq!(
        id(json!("-river")),
        ["id: must not start or end with '-', found \"-river\""]
    );
    assert_eq!(
        id(json!("river-")),
        ["id: must not start or end with '-', found \"river-\""]
    );
    assert_eq!(
        id(json!("a".repeat(65))),
        ["id: must be at most 64 characters, found 65"]
    );
    assert_eq!(id(json!(42)), ["id: expected a string, found 42"]);
    assert!(id(json!("a".repeat(64))).is_empty());
    assert!(id(json!("a")).is_empty());
    assert!(id(json!("0-river-9")).is_empty());
}

#[test]
fn name_purpose_and_chain_rules() {
    for key in ["name", "purpose", "chain"] {
        assert_eq!(
            problems(|m| remove(m, key)),
            [format!("{key}: required field is missing")]
        );
        assert_eq!(
            problems(|m| m[key] = json!("   ")),
            [format!("{key}: must not be empty")]
        );
        assert_eq!(
            problems(|m| m[key] = json!(["a"])),
            [format!("{key}: expected a string, found a list")]
        );
        assert_eq!(
            problems(|m| m[key] = Value::Null),
            [format!("{key}: required field is missing")]
        );
    }
    let m = parse_value(|m| m["name"] = json!("  River Guild \n"));
    assert_eq!(m.name, "River Guild");
}

#[test]
fn phase_rules() {
    assert_eq!(
        problems(|m| remove(m, "phase")),
        ["phase: required field is missing"]
    );
    assert_eq!(
        problems(|m| m["phase"] = json!("active")),
        ["phase: expected one of formation, organization, coordination, completion, found \"active\""]
    );
    assert_eq!(
        problems(|m| m["phase"] = json!("Coordination")),
        ["phase: expected one of formation, organization, coordination, completion, found \"Coordination\""]
    );
    assert_eq!(
        problems(|m| m["phase"] = json!(3)),
        ["phase: expected one of formation, organization, coordination, completion, found 3"]
    );
    for phase in ["formation", "organization", "coordination", "completion"] {
        assert_eq!(
            parse_value(|m| m["phase"] = json!(phase)).phase.as_str(),
            phase
        );
    }
}

#[test]
fn start_block_rules() {
    assert_eq!(parse_value(|m| remove(m, "start_block")).start_block, 0);
    assert_eq!(
        parse_value(|m| m["start_block"] = json!(123)).start_block,
        123
    );
    assert_eq!(
        problems(|m| m["start_block"] = json!("abc")),
        ["start_block: expected a non-negative integer, found \"abc\""]
    );
    assert_eq!(
        problems(|m| m["start_block"] = json!(-1)),
        ["start_block: expected a non-negative integer, found -1"]
    );
    assert_eq!(
        problems(|m| m["start_block"] = json!(1.5)),
        ["start_block: expected a non-negative integer, found 1.5"]
    );
    assert_eq!(
        problems(|m| m["start_block"] = json!("12")),
        ["start_block: expected a non-negative integer, found \"12\""]
    );
    assert_eq!(
        yaml_problems(&VALID_YAML.replace("start_block: 0", "start_block: 18446744073709551616")),
        ["start_block: must be at most 18446744073709551615, found 18446744073709551616"]
    );
}

#[test]
fn treasury_rules() {
    assert_eq!(
        problems(|m| remove(m, "treasury")),
        ["treasury: required field is missing"]
    );
    assert_eq!(
        problems(|m| m["treasury"] = json!([])),
        ["treasury: expected a mapping, found a list"]
    );
    assert_eq!(
        problems(|m| m["treasury"] = json!({})),
        ["treasury.safes: required field is missing"]
    );
    assert_eq!(
        problems(|m| m["treasury"]["safes"] = json!([])),
        ["treasury.safes: must declare at least one Safe"]
    );
    assert_eq!(
        problems(|m| m["treasury"]["safes"] = json!({ "a": 1 })),
        ["treasury.safes: expected a list of Safes, found a mapping"]
    );
    assert_eq!(
        problems(|m| m["treasury"]["safes"] = json!(["0x00"])),
        ["treasury.safes[0]: expected a mapping, found \"0x00\""]
    );
}

#[test]
fn safe_address_rules() {
    let address = |v: Value| problems(|m| safe0(m)["address"] = v);
    assert_eq!(
        problems(|m| {
            safe0(m).as_object_mut().unwrap().remove("address");
        }),
        ["treasury.safes[0].address: required field is missing"]
    );
    assert_eq!(
        address(json!("0x5FbDB2315678afecb367f032d93F642f64180aa")),
        ["treasury.safes[0].address: expected a 0x-prefixed address of 40 hex digits, found \"0x5FbDB2315678afecb367f032d93F642f64180aa\""]
    );
    assert_eq!(
        address(json!("5FbDB2315678afecb367f032d93F642f64180aa3")),
        ["treasury.safes[0].address: expected a 0x-prefixed address of 40 hex digits, found \"5FbDB2315678afecb367f032d93F642f64180aa3\""]
    );
    assert_eq!(
        address(json!("0xZZbDB2315678afecb367f032d93F642f64180aa3")),
        ["treasury.safes[0].address: expected a 0x-prefixed address of 40 hex digits, found \"0xZZbDB2315678afecb367f032d93F642f64180aa3\""]
    );
    assert_eq!(
        address(json!("0x5fbDB2315678afecb367f032d93F642f64180aa3")),
        ["treasury.safes[0].address: invalid EIP-55 checksum in mixed-case address \"0x5fbDB2315678afecb367f032d93F642f64180aa3\"; check it for typos"]
    );
    assert_eq!(
        address(json!(ZERO)),
        ["treasury.safes[0].address: must not be the zero address"]
    );
    assert_eq!(
        address(json!(true)),
        ["treasury.safes[0].address: expected an address string, found true"]
    );
    // Single-case addresses need no checksum.
    assert!(address(json!(SAFE.to_lowercase())).is_empty());
    assert!(address(json!(SAFE.to_uppercase().replacen("0X", "0x", 1))).is_empty());
}

#[test]
fn duplicate_safes_are_named() {
    assert_eq!(
        problems(|m| {
            let mut second = safe0(m).clone();
            second["address"] = json!(SAFE.to_lowercase());
            m["treasury"]["safes"].as_array_mut().unwrap().push(second);
        }),
        ["treasury.safes[1].address: duplicate Safe 0x5FbDB2315678afecb367f032d93F642f64180aa3 (already declared at treasury.safes[0])"]
    );
}

#[test]
fn two_safes_are_watched_in_declared_order() {
    let m = parse_value(|m| {
        let mut second = safe0(m).clone();
        second["address"] = json!(OTHER);
        m["treasury"]["safes"].as_array_mut().unwrap().push(second);
    });
    assert_eq!(m.watched_addresses(), vec![addr(SAFE), addr(OTHER)]);
    assert_eq!(m.safe(&addr(OTHER)).unwrap().address, addr(OTHER));
}

#[test]
fn unquoted_yaml_address_read_as_a_number_is_explained() {
    // YAML reads 0x… as a hex integer when it fits in 128 bits, as the sentinel does.
    let text = VALID_YAML.replace(
        "modules: []",
        "modules: [0x0000000000000000000000000000000000000002]",
    );
    assert_eq!(
        yaml_problems(&text),
        ["treasury.safes[0].modules[0]: expected an address string, found the number 2; quote addresses in YAML (\"0x…\")"]
    );
    // Larger ones stay strings and are accepted unquoted.
    let text = VALID_YAML.replace(&format!("\"{SAFE}\""), SAFE);
    assert_eq!(
        Manifest::parse(&text).unwrap(),
        Manifest::parse(VALID_YAML).unwrap()
    );
}

#[test]
fn owner_rules() {
    let owners = |v: Value| problems(|m| safe0(m)["owners"] = v);
    assert_eq!(
        problems(|m| {
            safe0(m).as_object_mut().unwrap().remove("owners");
        }),
        ["treasury.safes[0].owners: required field is missing"]
    );
    assert_eq!(
        owners(json!([])),
        ["treasury.safes[0].owners: must list at least one owner"]
    );
    assert_eq!(
        owners(json!(OWNER_A)),
        ["treasury.safes[0].owners: expected a list of addresses, found \"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\""]
    );
    assert_eq!(
        owners(json!([OWNER_A, OWNER_B, OWNER_A.to_lowercase()])),
        [
            "treasury.safes[0].owners[2]: duplicate owner 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 (also at owners[0])",
        ]
    );
    assert_eq!(
        owners(json!([OWNER_A, ZERO, OWNER_C])),
        ["treasury.safes[0].owners[1]: must not be the zero address"]
    );
    assert_eq!(
        owners(json!([OWNER_A, OWNER_B, SENTINEL])),
        ["treasury.safes[0].owners[2]: must not be the Safe sentinel address 0x0000000000000000000000000000000000000001"]
    );
    assert_eq!(
        owners(json!([OWNER_A, OWNER_B, SAFE])),
        ["treasury.safes[0].owners[2]: a Safe cannot be its own owner"]
    );
    assert_eq!(
        owners(json!([OWNER_A, "0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "nope"])),
        [
            "treasury.safes[0].owners[1]: invalid EIP-55 checksum in mixed-case address \"0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266\"; check it for typos",
            "treasury.safes[0].owners[2]: expected a 0x-prefixed address of 40 hex digits, found \"nope\"",
        ]
    );
}

#[test]
fn threshold_rules() {
    let threshold = |v: Value| problems(|m| safe0(m)["threshold"] = v);
    assert_eq!(
        threshold(json!(4)),
        ["treasury.safes[0].threshold: 4 exceeds the 3 owners"]
    );
    assert_eq!(
        threshold(json!(0)),
        ["treasury.safes[0].threshold: must be at least 1"]
    );
    assert_eq!(
        threshold(json!(-2)),
        ["treasury.safes[0].threshold: must be at least 1"]
    );
    assert_eq!(
        threshold(json!("2")),
        ["treasury.safes[0].threshold: expected a positive integer, found \"2\""]
    );
    assert_eq!(
        threshold(json!(2.0)),
        ["treasury.safes[0].threshold: expected a positive integer, found 2.0"]
    );
    assert_eq!(
        problems(|m| {
            safe0(m).as_object_mut().unwrap().remove("threshold");
        }),
        ["treasury.safes[0].threshold: required field is missing"]
    );
    assert_eq!(
        problems(|m| safe0(m)["owners"] = json!([OWNER_A])),
        ["treasury.safes[0].threshold: 2 exceeds the 1 owner"]
    );
    assert!(threshold(json!(1)).is_empty());
    assert!(threshold(json!(3)).is_empty());
    // A duplicate does not count as another owner.
    assert_eq!(
        problems(|m| {
            safe0(m)["owners"] = json!([OWNER_A, OWNER_B, OWNER_B]);
            safe0(m)["threshold"] = json!(3);
        }),
        [
            "treasury.safes[0].owners[2]: duplicate owner 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 (also at owners[1])",
            "treasury.safes[0].threshold: 3 exceeds the 2 owners",
        ]
    );
}

#[test]
fn module_rules() {
    let modules = |v: Value| problems(|m| safe0(m)["modules"] = v);
    assert!(parse_value(|m| {
        safe0(m).as_object_mut().unwrap().remove("modules");
    })
    .treasury
    .safes[0]
        .modules
        .is_empty());
    assert!(modules(Value::Null).is_empty());
    assert_eq!(
        modules(json!([OTHER, OTHER.to_lowercase()])),
        ["treasury.safes[0].modules[1]: duplicate module 0x90F79bf6EB2c4f870365E785982E1f101E93b906 (also at modules[0])"]
    );
    assert_eq!(
        modules(json!(["0x1"])),
        ["treasury.safes[0].modules[0]: expected a 0x-prefixed address of 40 hex digits, found \"0x1\""]
    );
    assert_eq!(
        modules(json!([SENTINEL])),
        ["treasury.safes[0].modules[0]: must not be the Safe sentinel address 0x0000000000000000000000000000000000000001"]
    );
    assert_eq!(
        modules(json!([ZERO])),
        ["treasury.safes[0].modules[0]: must not be the zero address"]
    );
    assert_eq!(
        modules(json!("none")),
        ["treasury.safes[0].modules: expected a list of addresses, found \"none\""]
    );
    let m = parse_value(|m| safe0(m)["modules"] = json!([OTHER]));
    assert!(m.treasury.safes[0].allows_module(&addr(OTHER)));
    assert!(!m.treasury.safes[0].allows_module(&addr(OWNER_A)));
}

#[test]
fn guard_rules() {
    let guard = |v: Value| problems(|m| safe0(m)["guard"] = v);
    assert_eq!(
        parse_value(|m| safe0(m)["guard"] = json!(OTHER))
            .treasury
            .safes[0]
            .guard,
        Some(addr(OTHER))
    );
    assert!(guard(Value::Null).is_empty());
    assert_eq!(
        guard(json!("0xguard")),
        ["treasury.safes[0].guard: expected a 0x-prefixed address of 40 hex digits, found \"0xguard\""]
    );
    assert_eq!(
        guard(json!(ZERO)),
        ["treasury.safes[0].guard: must not be the zero address"]
    );
}

#[test]
fn agreement_rules() {
    assert!(parse_value(|m| remove(m, "agreements"))
        .agreements
        .is_empty());
    assert!(parse_value(|m| m["agreements"] = json!([]))
        .agreements
        .is_empty());
    assert_eq!(
        problems(|m| m["agreements"] = json!([{}])),
        [
            "agreements[0].with: required field is missing",
            "agreements[0].summary: required field is missing",
        ]
    );
    assert_eq!(
        problems(|m| m["agreements"] = json!([{ "with": "", "summary": "s", "uri": 5 }])),
        [
            "agreements[0].with: must not be empty",
            "agreements[0].uri: expected a string, found 5",
        ]
    );
    assert_eq!(
        problems(|m| m["agreements"] = json!({ "with": "a" })),
        ["agreements: expected a list of agreements, found a mapping"]
    );
    assert_eq!(
        problems(|m| m["agreements"] = json!([{ "with": "a", "summary": "b", "note": "c" }])),
        ["agreements[0].note: unknown field"]
    );
    let m = parse_value(|m| m["agreements"] = json!([{ "with": "a", "summary": "b" }]));
    assert_eq!(
        m.agreements,
        [Agreement {
            with: "a".into(),
            summary: "b".into(),
            uri: None,
            covenant: None
        }]
    );
}

#[test]
fn unknown_fields_are_refused_everywhere() {
    assert_eq!(
        problems(|m| {
            let safes = m["treasury"]["safes"].take();
            m["treasury"] = json!({ "safess": safes });
        }),
        [
            "treasury.safess: unknown field",
            "treasury.safes: required field is missing",
        ]
    );
    assert_eq!(
        problems(|m| m["owner"] = json!("x")),
        ["owner: unknown field"]
    );
    assert_eq!(
        problems(|m| safe0(m)["nonce"] = json!(1)),
        ["treasury.safes[0].nonce: unknown field"]
    );
    assert_eq!(
        yaml_problems(&format!("{VALID_YAML}1: one\n")),
        ["1: unknown field"]
    );
    assert_eq!(
        yaml_problems(&format!("{VALID_YAML}<<: {{x: 1}}\n")),
        ["<<: YAML merge keys are not supported"]
    );
}

#[test]
fn duplicate_keys_are_refused_in_json_and_yaml() {
    let json = VALID_JSON.replacen(
        "\"chain\": \"local\",",
        "\"chain\": \"local\", \"chain\": \"mainnet\",",
        1,
    );
    assert_eq!(
        Manifest::parse(&json).unwrap_err().lines(),
        ["chain: duplicate field"]
    );
    let yaml = VALID_YAML.replacen(
        "      threshold: 2\n",
        "      threshold: 2\n      threshold: 3\n",
        1,
    );
    assert_eq!(
        yaml_problems(&yaml),
        ["treasury.safes[0].threshold: duplicate field"]
    );
}

#[test]
fn several_problems_are_reported_together() {
    assert_eq!(
        problems(|m| {
            m["id"] = json!("River");
            remove(m, "name");
            m["start_block"] = json!("abc");
            safe0(m)["threshold"] = json!(4);
            safe0(m)["owners"][1] = json!(ZERO);
            m["roles"] = json!([{ "contract": OTHER }]);
            m["governance"] = json!({ "timelocks": [{ "address": SAFE }], "rulers": [] });
        }),
        [
            "id: may contain only lowercase letters a-z, digits 0-9 and '-', found 'R' in \"River\"",
            "name: required field is missing",
            "start_block: expected a non-negative integer, found \"abc\"",
            "treasury.safes[0].owners[1]: must not be the zero address",
            "treasury.safes[0].threshold: 4 exceeds the 3 owners",
            "governance.rulers: unknown field",
            "governance.timelocks[0].address: duplicate contract 0x5FbDB2315678afecb367f032d93F642f64180aa3 (already declared at treasury.safes[0])",
            "governance.timelocks[0].min_delay: required field is missing",
            "governance.timelocks[0].proposers: required field is missing",
            "governance.timelocks[0].executors: required field is missing",
            "governance.timelocks[0].cancellers: required field is missing",
            "roles[0]: must declare either members (AccessControl) or owner (Ownable)",
        ]
    );
}

#[test]
fn invalid_fixture_lists_every_problem() {
    let err = Manifest::parse(INVALID_YAML).unwrap_err();
    let expected = [
        "id: may contain only lowercase letters a-z, digits 0-9 and '-', found 'R' in \"River-Guild\"",
        "name: must not be empty",
        "phase: expected one of formation, organization, coordination, completion, found \"active\"",
        "start_block: expected a non-negative integer, found \"abc\"",
        "treasury.safes[0].threshold: 4 exceeds the 3 owners",
        "treasury.safes[0].modules[0]: must not be the Safe sentinel address 0x0000000000000000000000000000000000000001",
        "treasury.safes[1].gaurd: unknown field",
        "treasury.safes[1].address: duplicate Safe 0x5FbDB2315678afecb367f032d93F642f64180aa3 (already declared at treasury.safes[0])",
        "treasury.safes[1].owners[0]: invalid EIP-55 checksum in mixed-case address \"0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266\"; check it for typos",
        "treasury.safes[1].owners[3]: duplicate owner 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 (also at owners[2])",
        "treasury.safes[1].threshold: must be at least 1",
        "treasury.policy.max_outflow.eth: expected \"native\" or an ERC-20 token address, found \"eth\"",
        "governance.governors[0].timelock: 0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0 is not a declared timelock",
        "roles[0].members.minter: expected a role name such as MINTER_ROLE (A-Z, 0-9 and '_', not starting with a digit) or a 32-byte 0x-hex role hash, found \"minter\"",
        "agreements[0].summary: required field is missing",
    ];
    assert_eq!(err.lines(), expected);
    // Display is one `path: message` line per problem.
    assert_eq!(err.to_string(), expected.join("\n"));
    // The fixture's header comment lists the same problems.
    for line in expected {
        assert!(INVALID_YAML.contains(&format!("#   {line}\n")), "{line}");
    }
    // ... and nothing else (tests/cli.rs compares the command's output with those lines).
    let listed = INVALID_YAML
        .lines()
        .take_while(|l| l.starts_with('#'))
        .filter(|l| l.starts_with("#   "))
        .count();
    assert_eq!(listed, expected.len());
    assert_eq!(listed, 15);
}

#[test]
fn error_constructors() {
    let err = ManifestError::syntax("YAML", Some((3, 7)), "did not find expected key");
    assert_eq!(
        err.to_string(),
        "line 3, column 7: invalid YAML: did not find expected key"
    );
    let err = ManifestError::syntax("JSON", None, "EOF");
    assert_eq!(err.to_string(), "(document): invalid JSON: EOF");
    let err: ManifestError = Problem::new("a.b", "c").into();
    assert_eq!(err, ManifestError::single("a.b", "c"));
    assert_eq!(
        serde_json::to_value(&err).unwrap(),
        json!({ "problems": [{ "path": "a.b", "message": "c" }] })
    );
}

#[test]
fn parse_address_rules() {
    assert_eq!(parse_address(SAFE), Ok(addr(SAFE)));
    assert_eq!(parse_address(&SAFE.to_lowercase()), Ok(addr(SAFE)));
    assert_eq!(
        parse_address("0X5FBDB2315678AFECB367F032D93F642F64180AA3"),
        Err(AddressFormatError::Malformed)
    );
    assert_eq!(
        parse_address(&format!(" {SAFE}")),
        Err(AddressFormatError::Malformed)
    );
    assert_eq!(
        parse_address("0x5fbDB2315678afecb367f032d93F642f64180aa3"),
        Err(AddressFormatError::BadChecksum)
    );
    assert_eq!(parse_address(ZERO), Ok(Address::ZERO));
    assert_eq!(SAFE_SENTINEL, addr(SENTINEL));
    // Every fixture address is written with its correct checksum.
    for a in [SAFE, OWNER_A, OWNER_B, OWNER_C, OTHER] {
        assert_eq!(addr(a).to_checksum(None), a);
    }
}
