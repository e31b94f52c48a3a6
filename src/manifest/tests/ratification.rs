//! The `require_ratification` key: parsed, checked, and in the canonical form only when true.

use super::*;

#[test]
fn require_ratification_is_read_and_kept_in_the_canonical_form_only_when_true() {
    let plain = parse_value(|_| {});
    assert!(!plain.require_ratification);
    let off = parse_value(|v| v["require_ratification"] = json!(false));
    // Declaring the default changes nothing, the hash included.
    assert_eq!(off.hash(), plain.hash());
    assert!(!off.canonical_json().contains("require_ratification"));

    let on = parse_value(|v| v["require_ratification"] = json!(true));
    assert!(on.require_ratification);
    assert_ne!(on.hash(), plain.hash());
    assert!(on
        .canonical_json()
        .ends_with(r#""agreements":[],"require_ratification":true}"#));
    // The canonical form reads back to the same manifest.
    assert_eq!(
        Manifest::from_canonical_json(&on.canonical_json()).unwrap(),
        on
    );
}

#[test]
fn require_ratification_must_be_a_boolean() {
    assert_eq!(
        problems(|v| v["require_ratification"] = json!("yes")),
        ["require_ratification: expected true or false, found \"yes\""]
    );
}
