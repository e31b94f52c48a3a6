//! Writing a manifest as YAML for people to finish: the values a draft knows, a placeholder
//! where it knows none, and a comment at each place a person must decide — the gaps listed
//! again at the top. The text is written from this small template (serde's YAML writers drop
//! comments), every string quoted as JSON, which YAML reads as it is.
//!
//! Invariant: a draft without gaps writes a text [`super::Manifest::parse`] accepts; a
//! placeholder for a gap is chosen to fail validation at that gap's path, not elsewhere.

use std::fmt::Write as _;

use alloy::primitives::{Address, U256};

use super::Phase;

/// Something the draft could not say: the manifest path, and why a person must fill it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub path: String,
    pub why: String,
}

/// Comments written above a key: `(key, text)`; a text may span lines.
pub type Notes = Vec<(&'static str, String)>;

/// A manifest being drafted. Fields hold the value to write (a placeholder for a gap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestDraft {
    /// Comment lines at the top: where the draft came from.
    pub header: Vec<String>,
    pub id: String,
    pub name: String,
    pub purpose: String,
    pub phase: Phase,
    pub chain: String,
    pub start_block: u64,
    pub safes: Vec<SafeDraft>,
    pub governors: Vec<GovernorDraft>,
    pub timelocks: Vec<TimelockDraft>,
    pub roles: Vec<RolesDraft>,
    pub agreements: Vec<AgreementDraft>,
    /// Comments on the top-level keys (`purpose`, `phase`, `start_block`, `policy`, …).
    pub notes: Notes,
    /// Everything a person must fill in, by path.
    pub gaps: Vec<Gap>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SafeDraft {
    pub address: Address,
    pub owners: Vec<Address>,
    pub threshold: u64,
    pub modules: Vec<Address>,
    pub guard: Option<Address>,
    pub deployed_at: Option<u64>,
    pub notes: Notes,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GovernorDraft {
    pub address: Address,
    pub timelock: Option<Address>,
    pub voting_delay: u64,
    pub voting_period: u64,
    pub proposal_threshold: U256,
    pub quorum_numerator: u64,
    pub deployed_at: Option<u64>,
    pub notes: Notes,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TimelockDraft {
    pub address: Address,
    pub min_delay: u64,
    pub proposers: Vec<Address>,
    pub executors: Vec<Address>,
    pub cancellers: Vec<Address>,
    pub admins: Vec<Address>,
    pub deployed_at: Option<u64>,
    pub notes: Notes,
}

/// An AccessControl contract's members by role name (a known name, or the role's hash), or an
/// Ownable contract's owner.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RolesDraft {
    pub contract: Address,
    pub members: Vec<(String, Vec<Address>)>,
    pub owner: Option<Address>,
    pub deployed_at: Option<u64>,
    pub notes: Notes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgreementDraft {
    pub with: String,
    pub summary: String,
    pub uri: Option<String>,
}

impl ManifestDraft {
    /// A draft with placeholders everywhere and nothing declared yet.
    pub fn new(id: &str) -> ManifestDraft {
        ManifestDraft {
            header: Vec::new(),
            id: id.to_owned(),
            name: id.to_owned(),
            purpose: String::new(),
            phase: Phase::Formation,
            chain: String::new(),
            start_block: 0,
            safes: Vec::new(),
            governors: Vec::new(),
            timelocks: Vec::new(),
            roles: Vec::new(),
            agreements: Vec::new(),
            notes: Vec::new(),
            gaps: Vec::new(),
        }
    }

    /// Records a gap at `path`.
    pub fn gap(&mut self, path: impl Into<String>, why: impl Into<String>) {
        self.gaps.push(Gap {
            path: path.into(),
            why: why.into(),
        });
    }

    /// The YAML text: header, the list of gaps, then the manifest with its comments.
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        for line in &self.header {
            comment(&mut out, "", line);
        }
        if !self.gaps.is_empty() {
            comment(
                &mut out,
                "",
                "Gaps — what a person must fill in before this manifest is complete:",
            );
            for g in &self.gaps {
                comment(&mut out, "", &format!("  {}: {}", g.path, g.why));
            }
        }
        let top = &self.notes;
        key(&mut out, "", top, "id", &quote(&self.id));
        key(&mut out, "", top, "name", &quote(&self.name));
        key(&mut out, "", top, "purpose", &quote(&self.purpose));
        key(&mut out, "", top, "phase", self.phase.as_str());
        key(&mut out, "", top, "chain", &quote(&self.chain));
        key(
            &mut out,
            "",
            top,
            "start_block",
            &self.start_block.to_string(),
        );
        out.push_str("treasury:\n");
        if self.safes.is_empty() {
            out.push_str("  safes: []\n");
        } else {
            out.push_str("  safes:\n");
        }
        for s in &self.safes {
            let n = &s.notes;
            item(&mut out, "    ", n, "address", &addr(s.address));
            key(&mut out, "      ", n, "owners", &addrs(&s.owners));
            key(&mut out, "      ", n, "threshold", &s.threshold.to_string());
            key(&mut out, "      ", n, "modules", &addrs(&s.modules));
            if let Some(g) = s.guard {
                key(&mut out, "      ", n, "guard", &addr(g));
            }
            if let Some(d) = s.deployed_at {
                key(&mut out, "      ", n, "deployed_at", &d.to_string());
            }
        }
        // The policy is all decision: only a comment unless a draft knows better.
        for (_, text) in top.iter().filter(|(k, _)| *k == "policy") {
            comment_block(&mut out, "  ", text);
        }
        if !self.governors.is_empty() || !self.timelocks.is_empty() {
            out.push_str("governance:\n");
        }
        if !self.governors.is_empty() {
            out.push_str("  governors:\n");
        }
        for g in &self.governors {
            let n = &g.notes;
            item(&mut out, "    ", n, "address", &addr(g.address));
            if let Some(t) = g.timelock {
                key(&mut out, "      ", n, "timelock", &addr(t));
            }
            key(
                &mut out,
                "      ",
                n,
                "voting_delay",
                &g.voting_delay.to_string(),
            );
            key(
                &mut out,
                "      ",
                n,
                "voting_period",
                &g.voting_period.to_string(),
            );
            key(
                &mut out,
                "      ",
                n,
                "proposal_threshold",
                &quote(&g.proposal_threshold.to_string()),
            );
            key(
                &mut out,
                "      ",
                n,
                "quorum_numerator",
                &g.quorum_numerator.to_string(),
            );
            if let Some(d) = g.deployed_at {
                key(&mut out, "      ", n, "deployed_at", &d.to_string());
            }
        }
        if !self.timelocks.is_empty() {
            out.push_str("  timelocks:\n");
        }
        for t in &self.timelocks {
            let n = &t.notes;
            item(&mut out, "    ", n, "address", &addr(t.address));
            key(&mut out, "      ", n, "min_delay", &t.min_delay.to_string());
            key(&mut out, "      ", n, "proposers", &addrs(&t.proposers));
            key(&mut out, "      ", n, "executors", &addrs(&t.executors));
            key(&mut out, "      ", n, "cancellers", &addrs(&t.cancellers));
            key(&mut out, "      ", n, "admins", &addrs(&t.admins));
            if let Some(d) = t.deployed_at {
                key(&mut out, "      ", n, "deployed_at", &d.to_string());
            }
        }
        if !self.roles.is_empty() {
            out.push_str("roles:\n");
        }
        for r in &self.roles {
            let n = &r.notes;
            item(&mut out, "  ", n, "contract", &addr(r.contract));
            match r.owner {
                Some(owner) => key(&mut out, "    ", n, "owner", &addr(owner)),
                None if r.members.is_empty() => key(&mut out, "    ", n, "members", "{}"),
                None => {
                    key(&mut out, "    ", n, "members", "");
                    for (role, members) in &r.members {
                        let _ = writeln!(out, "      {}: {}", quote(role), addrs(members));
                    }
                }
            }
            if let Some(d) = r.deployed_at {
                key(&mut out, "    ", n, "deployed_at", &d.to_string());
            }
        }
        if !self.agreements.is_empty() {
            out.push_str("agreements:\n");
        }
        for a in &self.agreements {
            let _ = writeln!(out, "  - with: {}", quote(&a.with));
            let _ = writeln!(out, "    summary: {}", quote(&a.summary));
            if let Some(uri) = &a.uri {
                let _ = writeln!(out, "    uri: {}", quote(uri));
            }
        }
        out
    }
}

/// A string as YAML reads it back exactly: a JSON string is a YAML double-quoted scalar.
fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

fn addr(a: Address) -> String {
    quote(&a.to_checksum(None))
}

fn addrs(list: &[Address]) -> String {
    let items: Vec<String> = list.iter().map(|a| addr(*a)).collect();
    format!("[{}]", items.join(", "))
}

fn comment(out: &mut String, indent: &str, line: &str) {
    if line.is_empty() {
        let _ = writeln!(out, "{indent}#");
    } else {
        let _ = writeln!(out, "{indent}# {line}");
    }
}

fn comment_block(out: &mut String, indent: &str, text: &str) {
    for line in text.lines() {
        comment(out, indent, line);
    }
}

/// `indent` `name: value`, after the notes on `name`.
fn key(out: &mut String, indent: &str, notes: &Notes, name: &str, value: &str) {
    for (_, text) in notes.iter().filter(|(k, _)| *k == name) {
        comment_block(out, indent, text);
    }
    if value.is_empty() {
        let _ = writeln!(out, "{indent}{name}:");
    } else {
        let _ = writeln!(out, "{indent}{name}: {value}");
    }
}

/// The first key of a list item: `indent- name: value`, after the notes on `name` and on the
/// whole item (`""`).
fn item(out: &mut String, indent: &str, notes: &Notes, name: &str, value: &str) {
    for (_, text) in notes.iter().filter(|(k, _)| k.is_empty() || *k == name) {
        comment_block(out, indent, text);
    }
    let _ = writeln!(out, "{indent}- {name}: {value}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;

    #[test]
    fn a_complete_draft_parses_and_its_comments_are_kept() {
        let a = Address::repeat_byte(0x11);
        let b = Address::repeat_byte(0x22);
        let mut d = ManifestDraft::new("river-guild");
        d.purpose = "Keep the river clean.".into();
        d.chain = "local".into();
        d.start_block = 7;
        d.notes
            .push(("purpose", "What is the group for?\nSay it plainly.".into()));
        d.safes.push(SafeDraft {
            address: a,
            owners: vec![b],
            threshold: 1,
            notes: vec![("", "the treasury".into())],
            ..SafeDraft::default()
        });
        d.roles.push(RolesDraft {
            contract: b,
            members: vec![("MINTER_ROLE".into(), vec![a])],
            ..RolesDraft::default()
        });
        let text = d.to_yaml();
        let m = Manifest::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(m.start_block, 7);
        assert_eq!(m.treasury.safes[0].owners, vec![b]);
        assert!(text.contains("# What is the group for?\n# Say it plainly.\npurpose:"));
        assert!(text.contains("    # the treasury\n    - address:"));
    }
}
