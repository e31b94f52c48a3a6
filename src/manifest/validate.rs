//! The manifest's rules, checked over the parsed tree.
//!
//! The walk never stops at a problem: it reports it by path and carries on, so one run lists
//! everything that is wrong. A [`Manifest`] comes out only when nothing was reported; it is then
//! normalised (strings trimmed, owners and modules sorted by address bytes).

use alloy::primitives::Address;

use super::address::{parse_address, AddressFormatError, SAFE_SENTINEL};
use super::error::{ManifestError, Problem, DOCUMENT_PATH};
use super::node::Node;
use super::{Agreement, Manifest, Phase, SafeDecl, Treasury};

/// What sections that a later version will support say for now.
const NOT_SUPPORTED: &str = "not supported yet by this version (treasury only)";

const MANIFEST_FIELDS: &[&str] = &[
    "id",
    "name",
    "purpose",
    "phase",
    "chain",
    "start_block",
    "treasury",
    "agreements",
];
const MANIFEST_LATER: &[&str] = &["governance", "roles"];
const TREASURY_FIELDS: &[&str] = &["safes"];
const TREASURY_LATER: &[&str] = &["policy"];
const SAFE_FIELDS: &[&str] = &["address", "owners", "threshold", "modules", "guard"];
const AGREEMENT_FIELDS: &[&str] = &["with", "summary", "uri"];

/// Longest group id accepted.
const MAX_ID_LEN: usize = 64;

/// Checks `node` against every rule and builds the normalised manifest, or lists every problem.
pub(crate) fn manifest_from_node(node: &Node) -> Result<Manifest, ManifestError> {
    let mut validator = Validator::default();
    let manifest = validator.manifest(node);
    match manifest {
        Some(manifest) if validator.problems.is_empty() => Ok(manifest),
        _ => Err(validator.into_error()),
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn item(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// The known fields of one mapping, looked up by name. A `null` value counts as absent.
struct Fields<'a> {
    path: String,
    values: Vec<(&'static str, &'a Node)>,
}

impl<'a> Fields<'a> {
    fn get(&self, key: &str) -> Option<&'a Node> {
        self.values
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, node)| *node)
            .filter(|node| !matches!(node, Node::Null))
    }

    fn path(&self, key: &str) -> String {
        child(&self.path, key)
    }
}

/// The outcome of checking a list of addresses.
struct AddressList {
    /// The addresses, when every entry was valid.
    addresses: Option<Vec<Address>>,
    /// How many different entries the list has (invalid entries each count as one), which is
    /// what a threshold is compared with.
    distinct: usize,
}

#[derive(Default)]
struct Validator {
    problems: Vec<Problem>,
}

impl Validator {
    fn report(&mut self, path: &str, message: impl Into<String>) {
        let path = if path.is_empty() { DOCUMENT_PATH } else { path };
        self.problems.push(Problem::new(path, message));
    }

    fn into_error(mut self) -> ManifestError {
        if self.problems.is_empty() {
            // Every path that yields no value reports why; this only guards against a rule
            // added without its message.
            self.report("", "the manifest is invalid");
        }
        ManifestError::new(self.problems)
    }

    fn manifest(&mut self, node: &Node) -> Option<Manifest> {
        match node {
            Node::Null => {
                self.report("", "the manifest is empty");
                return None;
            }
            Node::Map(_) => {}
            other => {
                self.report(
                    "",
                    format!(
                        "expected a mapping of manifest fields, found {}",
                        other.describe()
                    ),
                );
                return None;
            }
        }
        let fields = self.mapping("", node, MANIFEST_FIELDS, MANIFEST_LATER)?;

        let id = self
            .required(&fields, "id")
            .and_then(|n| self.id(&fields.path("id"), n));
        let name = self
            .required(&fields, "name")
            .and_then(|n| self.text(&fields.path("name"), n));
        let purpose = self
            .required(&fields, "purpose")
            .and_then(|n| self.text(&fields.path("purpose"), n));
        let phase = self
            .required(&fields, "phase")
            .and_then(|n| self.phase(&fields.path("phase"), n));
        let chain = self
            .required(&fields, "chain")
            .and_then(|n| self.text(&fields.path("chain"), n));
        let start_block = match fields.get("start_block") {
            None => Some(0),
            Some(n) => self.block_number(&fields.path("start_block"), n),
        };
        let treasury = self
            .required(&fields, "treasury")
            .and_then(|n| self.treasury(&fields.path("treasury"), n));
        let agreements = match fields.get("agreements") {
            None => Some(Vec::new()),
            Some(n) => self.agreements(&fields.path("agreements"), n),
        };

        Some(Manifest {
            id: id?,
            name: name?,
            purpose: purpose?,
            phase: phase?,
            chain: chain?,
            start_block: start_block?,
            treasury: treasury?,
            agreements: agreements?,
        })
    }

    /// Checks that `node` is a mapping and sorts its keys: known fields are returned, sections a
    /// later version will support and unknown or duplicate keys are reported.
    fn mapping<'a>(
        &mut self,
        path: &str,
        node: &'a Node,
        known: &[&'static str],
        later: &[&str],
    ) -> Option<Fields<'a>> {
        let Node::Map(entries) = node else {
            self.report(
                path,
                format!("expected a mapping, found {}", node.describe()),
            );
            return None;
        };
        let mut fields = Fields {
            path: path.to_owned(),
            values: Vec::with_capacity(entries.len()),
        };
        for (key, value) in entries {
            let label = key.key_label();
            let key_path = child(path, &label);
            let known_key = match key {
                Node::Str(name) => known.iter().copied().find(|k| k == name),
                _ => None,
            };
            if let Some(known_key) = known_key {
                if fields.values.iter().any(|(k, _)| *k == known_key) {
                    self.report(&key_path, "duplicate field");
                } else {
                    fields.values.push((known_key, value));
                }
            } else if matches!(key, Node::Str(_)) && later.contains(&label.as_str()) {
                self.report(&key_path, NOT_SUPPORTED);
            } else if label == "<<" {
                self.report(&key_path, "YAML merge keys are not supported");
            } else {
                self.report(&key_path, "unknown field");
            }
        }
        Some(fields)
    }

    fn required<'a>(&mut self, fields: &Fields<'a>, key: &str) -> Option<&'a Node> {
        let node = fields.get(key);
        if node.is_none() {
            self.report(&fields.path(key), "required field is missing");
        }
        node
    }

    /// A non-empty string, trimmed.
    fn text(&mut self, path: &str, node: &Node) -> Option<String> {
        let Node::Str(s) = node else {
            self.report(
                path,
                format!("expected a string, found {}", node.describe()),
            );
            return None;
        };
        let trimmed = s.trim();
        if trimmed.is_empty() {
            self.report(path, "must not be empty");
            return None;
        }
        Some(trimmed.to_owned())
    }

    /// A group id: `[a-z0-9-]`, 1 to 64 characters, not starting or ending with '-'. Not trimmed:
    /// an identifier is exactly what it says.
    fn id(&mut self, path: &str, node: &Node) -> Option<String> {
        let Node::Str(id) = node else {
            self.report(
                path,
                format!("expected a string, found {}", node.describe()),
            );
            return None;
        };
        let message = if id.is_empty() {
            "must not be empty".to_owned()
        } else if let Some(c) = id
            .chars()
            .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '-'))
        {
            format!(
                "may contain only lowercase letters a-z, digits 0-9 and '-', found {c:?} in {}",
                node.describe()
            )
        } else if id.len() > MAX_ID_LEN {
            format!(
                "must be at most {MAX_ID_LEN} characters, found {}",
                id.len()
            )
        } else if id.starts_with('-') || id.ends_with('-') {
            format!("must not start or end with '-', found {}", node.describe())
        } else {
            return Some(id.clone());
        };
        self.report(path, message);
        None
    }

    fn phase(&mut self, path: &str, node: &Node) -> Option<Phase> {
        if let Node::Str(s) = node {
            if let Ok(phase) = s.parse() {
                return Some(phase);
            }
        }
        let allowed: Vec<&str> = Phase::ALL.iter().map(|p| p.as_str()).collect();
        self.report(
            path,
            format!(
                "expected one of {}, found {}",
                allowed.join(", "),
                node.describe()
            ),
        );
        None
    }

    fn block_number(&mut self, path: &str, node: &Node) -> Option<u64> {
        match node {
            Node::Int(i) if *i >= 0 => match u64::try_from(*i) {
                Ok(n) => Some(n),
                Err(_) => {
                    self.report(path, format!("must be at most {}, found {i}", u64::MAX));
                    None
                }
            },
            Node::BigUint(u) => {
                self.report(path, format!("must be at most {}, found {u}", u64::MAX));
                None
            }
            other => {
                self.report(
                    path,
                    format!(
                        "expected a non-negative integer, found {}",
                        other.describe()
                    ),
                );
                None
            }
        }
    }

    fn treasury(&mut self, path: &str, node: &Node) -> Option<Treasury> {
        let fields = self.mapping(path, node, TREASURY_FIELDS, TREASURY_LATER)?;
        let safes_path = fields.path("safes");
        let safes = self.required(&fields, "safes")?;
        let Node::Seq(items) = safes else {
            self.report(
                &safes_path,
                format!("expected a list of Safes, found {}", safes.describe()),
            );
            return None;
        };
        if items.is_empty() {
            self.report(&safes_path, "must declare at least one Safe");
            return None;
        }
        let mut safes = Vec::with_capacity(items.len());
        let mut all_valid = true;
        // Each Safe address seen, with the index of the Safe that declared it first.
        let mut seen: Vec<(Address, usize)> = Vec::new();
        for (index, safe) in items.iter().enumerate() {
            match self.safe(&safes_path, index, safe, &mut seen) {
                Some(safe) => safes.push(safe),
                None => all_valid = false,
            }
        }
        all_valid.then_some(Treasury { safes })
    }

    fn safe(
        &mut self,
        safes_path: &str,
        index: usize,
        node: &Node,
        seen: &mut Vec<(Address, usize)>,
    ) -> Option<SafeDecl> {
        let path = item(safes_path, index);
        let fields = self.mapping(&path, node, SAFE_FIELDS, &[])?;

        let address_path = fields.path("address");
        let mut address = self
            .required(&fields, "address")
            .and_then(|n| self.address(&address_path, n));
        if let Some(a) = address {
            if let Some((_, first)) = seen.iter().find(|(s, _)| *s == a) {
                self.report(
                    &address_path,
                    format!(
                        "duplicate Safe {} (already declared at {})",
                        a.to_checksum(None),
                        item(safes_path, *first)
                    ),
                );
                address = None;
            } else {
                seen.push((a, index));
            }
        }

        let owners = self
            .required(&fields, "owners")
            .and_then(|n| self.address_list(&fields.path("owners"), n, "owner", address));
        if let Some(list) = &owners {
            if list.distinct == 0 {
                self.report(&fields.path("owners"), "must list at least one owner");
            }
        }
        let owner_count = owners.as_ref().map(|list| list.distinct);

        let threshold = self
            .required(&fields, "threshold")
            .and_then(|n| self.threshold(&fields.path("threshold"), n, owner_count));

        let modules = match fields.get("modules") {
            None => Some(Vec::new()),
            Some(n) => self
                .address_list(&fields.path("modules"), n, "module", None)
                .and_then(|list| list.addresses),
        };

        let guard = match fields.get("guard") {
            None => Some(None),
            Some(n) => self.address(&fields.path("guard"), n).map(Some),
        };

        let mut owners = owners.and_then(|list| list.addresses)?;
        let mut modules = modules?;
        owners.sort();
        modules.sort();
        Some(SafeDecl {
            address: address?,
            owners,
            threshold: threshold?,
            modules,
            guard: guard?,
        })
    }

    /// A list of owners or modules (`what` names one entry): valid addresses, neither zero nor
    /// the Safe sentinel, no duplicates, and not `safe`, which is given for owners only since a
    /// Safe cannot own itself but may list itself as a module.
    fn address_list(
        &mut self,
        path: &str,
        node: &Node,
        what: &str,
        safe: Option<Address>,
    ) -> Option<AddressList> {
        let Node::Seq(items) = node else {
            self.report(
                path,
                format!("expected a list of addresses, found {}", node.describe()),
            );
            return None;
        };
        let field = path.rsplit('.').next().unwrap_or(path);
        let mut addresses = Vec::with_capacity(items.len());
        let mut all_valid = true;
        let mut distinct = items.len();
        for (index, entry) in items.iter().enumerate() {
            let entry_path = item(path, index);
            let Some(address) = self.address(&entry_path, entry) else {
                all_valid = false;
                continue;
            };
            if address == SAFE_SENTINEL {
                self.report(
                    &entry_path,
                    format!("must not be the Safe sentinel address {SAFE_SENTINEL}"),
                );
                all_valid = false;
            } else if Some(address) == safe {
                self.report(&entry_path, "a Safe cannot be its own owner");
                all_valid = false;
            } else if let Some((_, first)) = addresses.iter().find(|(a, _)| *a == address) {
                self.report(
                    &entry_path,
                    format!(
                        "duplicate {what} {} (also at {})",
                        address.to_checksum(None),
                        item(field, *first)
                    ),
                );
                all_valid = false;
                distinct -= 1;
            } else {
                addresses.push((address, index));
            }
        }
        Some(AddressList {
            addresses: all_valid.then(|| addresses.into_iter().map(|(a, _)| a).collect()),
            distinct,
        })
    }

    fn threshold(&mut self, path: &str, node: &Node, owners: Option<usize>) -> Option<u64> {
        let value: i128 = match node {
            Node::Int(i) => *i,
            Node::BigUint(_) => i128::MAX,
            other => {
                self.report(
                    path,
                    format!("expected a positive integer, found {}", other.describe()),
                );
                return None;
            }
        };
        if value < 1 {
            self.report(path, "must be at least 1");
            return None;
        }
        if let Some(count) = owners.filter(|n| *n > 0) {
            if value > count as i128 {
                let plural = if count == 1 { "" } else { "s" };
                self.report(
                    path,
                    format!("{} exceeds the {count} owner{plural}", node.describe()),
                );
                return None;
            }
        }
        match u64::try_from(value) {
            Ok(n) => Some(n),
            Err(_) => {
                self.report(
                    path,
                    format!("must be at most {}, found {}", u64::MAX, node.describe()),
                );
                None
            }
        }
    }

    /// An address by [`parse_address`], and not the zero address.
    fn address(&mut self, path: &str, node: &Node) -> Option<Address> {
        let text = match node {
            Node::Str(s) => s,
            Node::Int(_) | Node::BigUint(_) => {
                self.report(
                    path,
                    format!(
                        "expected an address string, found the number {}; quote addresses in YAML (\"0x…\")",
                        node.describe()
                    ),
                );
                return None;
            }
            other => {
                self.report(
                    path,
                    format!("expected an address string, found {}", other.describe()),
                );
                return None;
            }
        };
        match parse_address(text) {
            Ok(address) if address == Address::ZERO => {
                self.report(path, "must not be the zero address");
                None
            }
            Ok(address) => Some(address),
            Err(AddressFormatError::Malformed) => {
                self.report(
                    path,
                    format!(
                        "expected a 0x-prefixed address of 40 hex digits, found {}",
                        node.describe()
                    ),
                );
                None
            }
            Err(AddressFormatError::BadChecksum) => {
                self.report(
                    path,
                    format!(
                        "invalid EIP-55 checksum in mixed-case address {}; check it for typos",
                        node.describe()
                    ),
                );
                None
            }
        }
    }

    fn agreements(&mut self, path: &str, node: &Node) -> Option<Vec<Agreement>> {
        let Node::Seq(items) = node else {
            self.report(
                path,
                format!("expected a list of agreements, found {}", node.describe()),
            );
            return None;
        };
        let mut agreements = Vec::with_capacity(items.len());
        let mut all_valid = true;
        for (index, entry) in items.iter().enumerate() {
            match self.agreement(&item(path, index), entry) {
                Some(agreement) => agreements.push(agreement),
                None => all_valid = false,
            }
        }
        all_valid.then_some(agreements)
    }

    fn agreement(&mut self, path: &str, node: &Node) -> Option<Agreement> {
        let fields = self.mapping(path, node, AGREEMENT_FIELDS, &[])?;
        let with = self
            .required(&fields, "with")
            .and_then(|n| self.text(&fields.path("with"), n));
        let summary = self
            .required(&fields, "summary")
            .and_then(|n| self.text(&fields.path("summary"), n));
        let uri = match fields.get("uri") {
            None => Some(None),
            Some(n) => self.text(&fields.path("uri"), n).map(Some),
        };
        Some(Agreement {
            with: with?,
            summary: summary?,
            uri: uri?,
        })
    }
}
