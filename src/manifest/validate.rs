//! The manifest's rules, checked over the parsed tree.
//!
//! The walk never stops at a problem: it reports it by path and carries on, so one run lists
//! everything that is wrong. A [`Manifest`] comes out only when nothing was reported; it is then
//! normalised (strings trimmed, lists of accounts sorted by address bytes, amounts parsed, roles
//! keyed by hash).

mod covenant;

pub(crate) use covenant::covenant_from_node;

use std::collections::BTreeMap;

use alloy::primitives::{Address, B256, U256};

use super::address::{parse_address, AddressFormatError, SAFE_SENTINEL};
use super::error::{ManifestError, Problem, DOCUMENT_PATH};
use super::node::Node;
use super::policy::amount::parse_decimal;
use super::roles::parse_role;
use super::{
    Agreement, Asset, CodeDecl, Governance, GovernorDecl, Manifest, Phase, Policy, RoleDecl,
    RoleMembers, SafeDecl, TimelockDecl, Treasury,
};

const MANIFEST_FIELDS: &[&str] = &[
    "id",
    "name",
    "purpose",
    "phase",
    "chain",
    "start_block",
    "treasury",
    "governance",
    "roles",
    "agreements",
    "require_ratification",
];
const TREASURY_FIELDS: &[&str] = &["safes", "policy"];
const SAFE_FIELDS: &[&str] = &[
    "address",
    "owners",
    "threshold",
    "modules",
    "guard",
    "deployed_at",
    "fallback_handler",
    "delegatecall_targets",
];
const POLICY_FIELDS: &[&str] = &[
    "max_outflow",
    "allowed_recipients",
    "max_outflow_per_day",
    "max_outflow_per_month",
    "max_approval",
    "unlimited_approvals",
    "allowed_spenders",
    "balance_tolerance",
    "unchecked_balances",
];
const GOVERNANCE_FIELDS: &[&str] = &["governors", "timelocks"];
const GOVERNOR_FIELDS: &[&str] = &[
    "address",
    "timelock",
    "voting_delay",
    "voting_period",
    "proposal_threshold",
    "quorum_numerator",
    "deployed_at",
    "implementation",
];
const TIMELOCK_FIELDS: &[&str] = &[
    "address",
    "min_delay",
    "proposers",
    "executors",
    "cancellers",
    "admins",
    "deployed_at",
    "implementation",
];
const ROLE_FIELDS: &[&str] = &[
    "contract",
    "members",
    "owner",
    "deployed_at",
    "implementation",
];
const AGREEMENT_FIELDS: &[&str] = &["with", "summary", "uri", "covenant"];
const COVENANT_REF_FIELDS: &[&str] = &["id", "hash"];

/// The denominator of OpenZeppelin's `GovernorVotesQuorumFraction` unless a governor overrides it.
const QUORUM_DENOMINATOR: u64 = 100;

/// The rules for one list of accounts.
#[derive(Clone, Copy)]
struct ListRules {
    /// One entry, as messages name it: "owner", "module", "proposer"...
    what: &'static str,
    /// Refuse the Safe sentinel, which heads a Safe's owner and module lists.
    no_sentinel: bool,
    /// Accept the zero address (a timelock's executors: anyone may execute).
    zero_ok: bool,
    /// The Safe whose owners these are, which cannot own itself.
    own_safe: Option<Address>,
}

impl ListRules {
    /// An entry of a Safe's list: not the sentinel, not the zero address.
    const fn safe(what: &'static str, own_safe: Option<Address>) -> Self {
        Self {
            what,
            no_sentinel: true,
            zero_ok: false,
            own_safe,
        }
    }

    /// Any other list of accounts: not the zero address.
    const fn accounts(what: &'static str) -> Self {
        Self {
            what,
            no_sentinel: false,
            zero_ok: false,
            own_safe: None,
        }
    }
}

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

/// The last segment of a dotted path (`owners` of `treasury.safes[0].owners`), with which a
/// duplicate names the entry it repeats.
fn last_segment(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

/// The addresses of the timelocks listed at `node`, read without reporting anything, so that a
/// governor's `timelock` (checked before the timelocks are) can be compared with them. `None`
/// when any entry's address cannot be read: that entry reports its own problem, and a governor
/// naming it should not report another.
fn declared_timelocks(node: &Node) -> Option<Vec<Address>> {
    let Node::Seq(items) = node else {
        return None;
    };
    items
        .iter()
        .map(|entry| {
            let Node::Map(fields) = entry else {
                return None;
            };
            let (_, value) = fields
                .iter()
                .find(|(key, _)| matches!(key, Node::Str(k) if k == "address"))?;
            let Node::Str(text) = value else {
                return None;
            };
            parse_address(text).ok().filter(|a| !a.is_zero())
        })
        .collect()
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
    /// Every contract declared so far (Safes, governors, timelocks, role contracts), with the
    /// path of the entry that declared it.
    contracts: Vec<(Address, String)>,
    /// The code declared by the entries read so far, by contract.
    code: BTreeMap<Address, CodeDecl>,
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
        let fields = self.mapping("", node, MANIFEST_FIELDS)?;

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
            Some(n) => self.uint64(&fields.path("start_block"), n),
        };
        let treasury = self
            .required(&fields, "treasury")
            .and_then(|n| self.treasury(&fields.path("treasury"), n));
        let governance = match fields.get("governance") {
            None => Some(Governance::default()),
            Some(n) => self.governance(&fields.path("governance"), n),
        };
        let roles = match fields.get("roles") {
            None => Some(Vec::new()),
            Some(n) => self.roles(&fields.path("roles"), n),
        };
        let agreements = match fields.get("agreements") {
            None => Some(Vec::new()),
            Some(n) => self.agreements(&fields.path("agreements"), n),
        };
        let require_ratification = match fields.get("require_ratification") {
            None => Some(false),
            Some(n) => self.boolean(&fields.path("require_ratification"), n),
        };

        Some(Manifest {
            id: id?,
            name: name?,
            purpose: purpose?,
            phase: phase?,
            chain: chain?,
            start_block: start_block?,
            treasury: treasury?,
            governance: governance?,
            roles: roles?,
            agreements: agreements?,
            code: std::mem::take(&mut self.code),
            require_ratification: require_ratification?,
        })
    }

    /// Checks that `node` is a mapping and sorts its keys: known fields are returned, unknown or
    /// duplicate keys are reported.
    fn mapping<'a>(
        &mut self,
        path: &str,
        node: &'a Node,
        known: &[&'static str],
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
            } else if label == "<<" {
                self.report(&key_path, "YAML merge keys are not supported");
            } else {
                self.report(&key_path, "unknown field");
            }
        }
        Some(fields)
    }

    /// A contract's optional `deployed_at`: `Some(None)` when absent, `None` when wrong.
    fn deployed_at(&mut self, fields: &Fields<'_>) -> Option<Option<u64>> {
        match fields.get("deployed_at") {
            None => Some(None),
            Some(n) => self.uint64(&fields.path("deployed_at"), n).map(Some),
        }
    }

    /// A contract's optional `implementation` (the contract at `contract` being its EIP-1967
    /// proxy): `Some(None)` when absent, `None` when wrong.
    /// Reads an entry's optional `implementation` and records it as the contract's declared
    /// code; `None` when it is malformed (reported).
    fn declared_implementation(
        &mut self,
        fields: &Fields<'_>,
        address: Option<Address>,
    ) -> Option<()> {
        let implementation = self.implementation(fields, address);
        self.record_code(
            address,
            CodeDecl {
                implementation: implementation?,
                ..CodeDecl::default()
            },
        );
        Some(())
    }

    fn implementation(
        &mut self,
        fields: &Fields<'_>,
        contract: Option<Address>,
    ) -> Option<Option<Address>> {
        let node = match fields.get("implementation") {
            None => return Some(None),
            Some(n) => n,
        };
        let path = fields.path("implementation");
        let implementation = self.address(&path, node)?;
        if Some(implementation) == contract {
            self.report(&path, "a proxy cannot be its own implementation");
            return None;
        }
        Some(Some(implementation))
    }

    /// Keeps the code the entry of `contract` declares, if it declares any.
    fn record_code(&mut self, contract: Option<Address>, code: CodeDecl) {
        if let Some(contract) = contract.filter(|_| !code.is_empty()) {
            self.code.insert(contract, code);
        }
    }

    /// `true` or `false`.
    fn boolean(&mut self, path: &str, node: &Node) -> Option<bool> {
        if let Node::Bool(b) = node {
            return Some(*b);
        }
        self.report(
            path,
            format!("expected true or false, found {}", node.describe()),
        );
        None
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

    /// A non-negative integer that fits in 64 bits.
    fn uint64(&mut self, path: &str, node: &Node) -> Option<u64> {
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
        let fields = self.mapping(path, node, TREASURY_FIELDS)?;
        let safes = self
            .required(&fields, "safes")
            .and_then(|n| self.safes(&fields.path("safes"), n));
        let policy = match fields.get("policy") {
            None => Some(Policy::default()),
            Some(n) => self.policy(&fields.path("policy"), n),
        };
        Some(Treasury {
            safes: safes?,
            policy: policy?,
        })
    }

    fn safes(&mut self, path: &str, node: &Node) -> Option<Vec<SafeDecl>> {
        let Node::Seq(items) = node else {
            self.report(
                path,
                format!("expected a list of Safes, found {}", node.describe()),
            );
            return None;
        };
        if items.is_empty() {
            self.report(path, "must declare at least one Safe");
            return None;
        }
        self.each(path, items, Self::safe)
    }

    /// Checks every item of a list with `check`, reporting as it goes; the values when all are
    /// valid.
    fn each<T>(
        &mut self,
        path: &str,
        items: &[Node],
        mut check: impl FnMut(&mut Self, &str, &Node) -> Option<T>,
    ) -> Option<Vec<T>> {
        let mut values = Vec::with_capacity(items.len());
        let mut all_valid = true;
        for (index, node) in items.iter().enumerate() {
            match check(self, &item(path, index), node) {
                Some(value) => values.push(value),
                None => all_valid = false,
            }
        }
        all_valid.then_some(values)
    }

    /// Records `address` as the contract declared by the entry at `entry_path`, or reports it at
    /// `address_path` if an earlier entry declared it (`what`: "Safe" or "contract").
    fn declare(
        &mut self,
        entry_path: &str,
        address_path: &str,
        address: Address,
        what: &str,
    ) -> Option<Address> {
        if let Some((_, first)) = self.contracts.iter().find(|(a, _)| *a == address) {
            let message = format!(
                "duplicate {what} {} (already declared at {first})",
                address.to_checksum(None)
            );
            self.report(address_path, message);
            return None;
        }
        self.contracts.push((address, entry_path.to_owned()));
        Some(address)
    }

    fn safe(&mut self, path: &str, node: &Node) -> Option<SafeDecl> {
        let fields = self.mapping(path, node, SAFE_FIELDS)?;

        let address_path = fields.path("address");
        let address = self
            .required(&fields, "address")
            .and_then(|n| self.address(&address_path, n))
            .and_then(|a| self.declare(path, &address_path, a, "Safe"));

        let owners = self.required(&fields, "owners").and_then(|n| {
            self.address_list(&fields.path("owners"), n, ListRules::safe("owner", address))
        });
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
            Some(n) => self.addresses(&fields.path("modules"), n, ListRules::safe("module", None)),
        };

        let guard = match fields.get("guard") {
            None => Some(None),
            Some(n) => self.address(&fields.path("guard"), n).map(Some),
        };

        let fallback_path = fields.path("fallback_handler");
        let fallback_handler = match fields.get("fallback_handler") {
            None => Some(None),
            Some(n) => match self.address(&fallback_path, n) {
                Some(handler) if Some(handler) == address => {
                    self.report(&fallback_path, "a Safe cannot be its own fallback handler");
                    None
                }
                other => other.map(Some),
            },
        };
        let delegatecall_targets =
            self.account_list(&fields, "delegatecall_targets", "delegatecall target");

        let deployed_at = self.deployed_at(&fields);
        self.record_code(
            address,
            CodeDecl {
                implementation: None,
                fallback_handler: fallback_handler?,
                delegatecall_targets: delegatecall_targets?,
            },
        );
        let mut owners = owners.and_then(|list| list.addresses)?;
        owners.sort();
        Some(SafeDecl {
            address: address?,
            owners,
            threshold: threshold?,
            modules: modules?,
            guard: guard?,
            deployed_at: deployed_at?,
        })
    }

    fn policy(&mut self, path: &str, node: &Node) -> Option<Policy> {
        let fields = self.mapping(path, node, POLICY_FIELDS)?;
        let max_outflow = self.limits(&fields, "max_outflow");
        let allowed_recipients = self.account_list(&fields, "allowed_recipients", "recipient");
        let max_outflow_per_day = self.limits(&fields, "max_outflow_per_day");
        let max_outflow_per_month = self.limits(&fields, "max_outflow_per_month");
        let max_approval = self.limits(&fields, "max_approval");
        let unlimited_approvals = match fields.get("unlimited_approvals") {
            None => Some(true),
            Some(n) => self.boolean(&fields.path("unlimited_approvals"), n),
        };
        let allowed_spenders = self.account_list(&fields, "allowed_spenders", "spender");
        let balance_tolerance = self.limits(&fields, "balance_tolerance");
        let unchecked_balances = self.account_list(&fields, "unchecked_balances", "token");
        Some(Policy {
            max_outflow: max_outflow?,
            allowed_recipients: allowed_recipients?,
            max_outflow_per_day: max_outflow_per_day?,
            max_outflow_per_month: max_outflow_per_month?,
            max_approval: max_approval?,
            unlimited_approvals: unlimited_approvals?,
            allowed_spenders: allowed_spenders?,
            balance_tolerance: balance_tolerance?,
            unchecked_balances: unchecked_balances?,
        })
    }

    /// The optional list of account addresses at `key` of a section, each a `what`; empty when
    /// absent.
    fn account_list(
        &mut self,
        fields: &Fields<'_>,
        key: &str,
        what: &'static str,
    ) -> Option<Vec<Address>> {
        let Some(node) = fields.get(key) else {
            return Some(Vec::new());
        };
        self.addresses(&fields.path(key), node, ListRules::accounts(what))
    }

    /// The optional mapping of assets to amounts at `key` of a policy (`max_outflow`, its daily
    /// and monthly forms, `max_approval`); empty when absent. `max_approval` refuses `native`,
    /// which has no allowance.
    fn limits(&mut self, fields: &Fields<'_>, key: &str) -> Option<BTreeMap<Asset, U256>> {
        let Some(node) = fields.get(key) else {
            return Some(BTreeMap::new());
        };
        self.amounts(&fields.path(key), node, key != "max_approval")
    }

    /// A mapping of assets (`native`, unless `native_ok` is false, or token addresses) to
    /// amounts.
    fn amounts(
        &mut self,
        path: &str,
        node: &Node,
        native_ok: bool,
    ) -> Option<BTreeMap<Asset, U256>> {
        let Node::Map(entries) = node else {
            self.report(
                path,
                format!(
                    "expected a mapping of assets to amounts, found {}",
                    node.describe()
                ),
            );
            return None;
        };
        let field = last_segment(path);
        let mut limits = BTreeMap::new();
        // Each asset seen, with the key that named it first.
        let mut seen: Vec<(Asset, String)> = Vec::new();
        let mut all_valid = true;
        for (key, value) in entries {
            let label = key.key_label();
            let key_path = child(path, &label);
            let mut asset = self.asset(&key_path, key);
            if asset == Some(Asset::Native) && !native_ok {
                self.report(
                    &key_path,
                    format!(
                        "the native currency has no allowance: {field} limits ERC-20 allowances, keyed by token address (max_outflow limits native outflows)"
                    ),
                );
                asset = None;
            }
            if let Some(asset) = asset {
                if let Some((_, first)) = seen.iter().find(|(a, _)| *a == asset) {
                    self.report(
                        &key_path,
                        format!("duplicate asset {asset} (also at {field}.{first})"),
                    );
                    all_valid = false;
                } else {
                    seen.push((asset, label));
                }
            }
            let amount = self.uint256(&key_path, value);
            match (asset, amount) {
                (Some(asset), Some(amount)) => {
                    limits.entry(asset).or_insert(amount);
                }
                _ => all_valid = false,
            }
        }
        all_valid.then_some(limits)
    }

    /// A key of a mapping of limits: `native` or a token address.
    fn asset(&mut self, path: &str, key: &Node) -> Option<Asset> {
        match key {
            Node::Str(s) if s == Asset::NATIVE => Some(Asset::Native),
            Node::Str(s) if s.starts_with("0x") => self.address(path, key).map(Asset::Token),
            Node::Int(_) | Node::BigUint(_) => self.address(path, key).map(Asset::Token),
            other => {
                self.report(
                    path,
                    format!(
                        "expected \"native\" or an ERC-20 token address, found {}",
                        other.describe()
                    ),
                );
                None
            }
        }
    }

    /// A `uint256` amount: a non-negative integer, or a string of decimal digits.
    fn uint256(&mut self, path: &str, node: &Node) -> Option<U256> {
        let message = match node {
            Node::Int(i) => match u128::try_from(*i) {
                Ok(n) => return Some(U256::from(n)),
                Err(_) => format!(
                    "expected a non-negative integer or a decimal string, found {i}"
                ),
            },
            Node::BigUint(u) => return Some(U256::from(*u)),
            Node::Str(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                match parse_decimal(s) {
                    Some(n) => return Some(n),
                    None => format!(
                        "must be at most 2^256 - 1 (the largest uint256), found {}",
                        node.describe()
                    ),
                }
            }
            // An integer too large for the parser is read as a float, and loses digits.
            Node::Float(x) if x.fract() == 0.0 && x.abs() >= 9_007_199_254_740_992.0 => format!(
                "expected a non-negative integer or a decimal string, found {}; write large amounts as decimal strings (\"…\")",
                node.describe()
            ),
            other => format!(
                "expected a non-negative integer or a decimal string, found {}",
                other.describe()
            ),
        };
        self.report(path, message);
        None
    }

    fn governance(&mut self, path: &str, node: &Node) -> Option<Governance> {
        let fields = self.mapping(path, node, GOVERNANCE_FIELDS)?;
        let timelocks_node = fields.get("timelocks");
        let declared = timelocks_node.map_or(Some(Vec::new()), declared_timelocks);
        let governors = match fields.get("governors") {
            None => Some(Vec::new()),
            Some(n) => self.list(
                &fields.path("governors"),
                n,
                "governors",
                |v, path, node| v.governor(path, node, declared.as_deref()),
            ),
        };
        let timelocks = match timelocks_node {
            None => Some(Vec::new()),
            Some(n) => self.list(&fields.path("timelocks"), n, "timelocks", Self::timelock),
        };
        Some(Governance {
            governors: governors?,
            timelocks: timelocks?,
        })
    }

    /// A list (of `what`) whose items are each checked with `check`.
    fn list<T>(
        &mut self,
        path: &str,
        node: &Node,
        what: &str,
        check: impl FnMut(&mut Self, &str, &Node) -> Option<T>,
    ) -> Option<Vec<T>> {
        let Node::Seq(items) = node else {
            self.report(
                path,
                format!("expected a list of {what}, found {}", node.describe()),
            );
            return None;
        };
        self.each(path, items, check)
    }

    /// A governor. `declared` lists the declared timelocks' addresses, when all of them could be
    /// read; its `timelock` must be one of them.
    fn governor(
        &mut self,
        path: &str,
        node: &Node,
        declared: Option<&[Address]>,
    ) -> Option<GovernorDecl> {
        let fields = self.mapping(path, node, GOVERNOR_FIELDS)?;

        let address = self.contract_address(path, &fields, "address");

        let timelock_path = fields.path("timelock");
        let timelock = match fields.get("timelock") {
            None => Some(None),
            Some(n) => match self.address(&timelock_path, n) {
                Some(a) if declared.is_some_and(|d| !d.contains(&a)) => {
                    self.report(
                        &timelock_path,
                        format!("{} is not a declared timelock", a.to_checksum(None)),
                    );
                    None
                }
                other => other.map(Some),
            },
        };

        let voting_delay = self
            .required(&fields, "voting_delay")
            .and_then(|n| self.uint64(&fields.path("voting_delay"), n));

        let voting_period_path = fields.path("voting_period");
        let voting_period = match self
            .required(&fields, "voting_period")
            .and_then(|n| self.uint64(&voting_period_path, n))
        {
            Some(0) => {
                self.report(&voting_period_path, "must be at least 1");
                None
            }
            period => period,
        };

        let proposal_threshold = self
            .required(&fields, "proposal_threshold")
            .and_then(|n| self.uint256(&fields.path("proposal_threshold"), n));

        let quorum_path = fields.path("quorum_numerator");
        let quorum_numerator = match self
            .required(&fields, "quorum_numerator")
            .and_then(|n| self.uint64(&quorum_path, n))
        {
            Some(quorum) if quorum > QUORUM_DENOMINATOR => {
                self.report(
                    &quorum_path,
                    format!(
                        "must be at most {QUORUM_DENOMINATOR} (OpenZeppelin's quorum denominator), found {quorum}"
                    ),
                );
                None
            }
            quorum => quorum,
        };

        let deployed_at = self.deployed_at(&fields);
        self.declared_implementation(&fields, address)?;
        Some(GovernorDecl {
            address: address?,
            timelock: timelock?,
            voting_delay: voting_delay?,
            voting_period: voting_period?,
            proposal_threshold: proposal_threshold?,
            quorum_numerator: quorum_numerator?,
            deployed_at: deployed_at?,
        })
    }

    fn timelock(&mut self, path: &str, node: &Node) -> Option<TimelockDecl> {
        let fields = self.mapping(path, node, TIMELOCK_FIELDS)?;

        let address = self.contract_address(path, &fields, "address");
        let min_delay = self
            .required(&fields, "min_delay")
            .and_then(|n| self.uint64(&fields.path("min_delay"), n));
        let proposers = self.required(&fields, "proposers").and_then(|n| {
            self.addresses(
                &fields.path("proposers"),
                n,
                ListRules::accounts("proposer"),
            )
        });
        let executors = self.required(&fields, "executors").and_then(|n| {
            let rules = ListRules {
                zero_ok: true,
                ..ListRules::accounts("executor")
            };
            self.addresses(&fields.path("executors"), n, rules)
        });
        let cancellers = self.required(&fields, "cancellers").and_then(|n| {
            self.addresses(
                &fields.path("cancellers"),
                n,
                ListRules::accounts("canceller"),
            )
        });
        let admins = self.account_list(&fields, "admins", "admin");

        let deployed_at = self.deployed_at(&fields);
        self.declared_implementation(&fields, address)?;
        Some(TimelockDecl {
            address: address?,
            min_delay: min_delay?,
            proposers: proposers?,
            executors: executors?,
            cancellers: cancellers?,
            admins: admins?,
            deployed_at: deployed_at?,
        })
    }

    fn roles(&mut self, path: &str, node: &Node) -> Option<Vec<RoleDecl>> {
        self.list(path, node, "role entries", Self::role)
    }

    /// An AccessControl entry (`contract`, `members`) or an Ownable one (`contract`, `owner`).
    fn role(&mut self, path: &str, node: &Node) -> Option<RoleDecl> {
        let fields = self.mapping(path, node, ROLE_FIELDS)?;

        let contract = self.contract_address(path, &fields, "contract");
        let members_node = fields.get("members");
        let owner_node = fields.get("owner");
        match (members_node, owner_node) {
            (Some(_), Some(_)) => self.report(
                path,
                "declares both members (AccessControl) and owner (Ownable); an entry is one or the other",
            ),
            (None, None) => self.report(
                path,
                "must declare either members (AccessControl) or owner (Ownable)",
            ),
            _ => {}
        }
        let members = members_node.map(|n| self.role_members(&fields.path("members"), n));
        let owner = owner_node.map(|n| self.address(&fields.path("owner"), n));
        let deployed_at = self.deployed_at(&fields);
        let implementation = self.implementation(&fields, contract);
        self.record_code(
            contract,
            CodeDecl {
                implementation: implementation?,
                ..CodeDecl::default()
            },
        );

        match (members, owner) {
            (Some(members), None) => Some(RoleDecl::AccessControl {
                contract: contract?,
                members: members?,
                deployed_at: deployed_at?,
            }),
            (None, Some(owner)) => Some(RoleDecl::Ownable {
                contract: contract?,
                owner: owner?,
                deployed_at: deployed_at?,
            }),
            _ => None,
        }
    }

    /// A mapping of roles (names or 32-byte hex hashes) to lists of members.
    fn role_members(&mut self, path: &str, node: &Node) -> Option<BTreeMap<B256, RoleMembers>> {
        let Node::Map(entries) = node else {
            self.report(
                path,
                format!(
                    "expected a mapping of roles to lists of members, found {}",
                    node.describe()
                ),
            );
            return None;
        };
        let field = last_segment(path);
        let mut roles = BTreeMap::new();
        // Each role seen, with the key that named it first.
        let mut seen: Vec<(B256, String)> = Vec::new();
        let mut all_valid = true;
        for (key, value) in entries {
            let label = key.key_label();
            let key_path = child(path, &label);
            let role = self.role_name(&key_path, key);
            if let Some((hash, _)) = &role {
                if let Some((_, first)) = seen.iter().find(|(h, _)| h == hash) {
                    self.report(
                        &key_path,
                        format!("duplicate role (also at {field}.{first})"),
                    );
                    all_valid = false;
                } else {
                    seen.push((*hash, label));
                }
            }
            let members = self.addresses(&key_path, value, ListRules::accounts("member"));
            match (role, members) {
                (Some((hash, name)), Some(members)) => {
                    roles.entry(hash).or_insert(RoleMembers { name, members });
                }
                _ => all_valid = false,
            }
        }
        all_valid.then_some(roles)
    }

    /// A role key: an identifier such as `MINTER_ROLE`, or a 32-byte 0x-hex hash.
    fn role_name(&mut self, path: &str, key: &Node) -> Option<(B256, String)> {
        let message = match key {
            Node::Str(s) => match parse_role(s) {
                Ok(role) => return Some(role),
                Err(e) => e.to_string(),
            },
            Node::Int(_) | Node::BigUint(_) => format!(
                "expected a role name or a 32-byte 0x-hex role hash, found the number {}; quote role hashes in YAML (\"0x…\")",
                key.describe()
            ),
            other => format!(
                "expected a role name such as MINTER_ROLE (A-Z, 0-9 and '_', not starting with a digit) or a 32-byte 0x-hex role hash, found {}",
                other.describe()
            ),
        };
        self.report(path, message);
        None
    }

    /// The required address of a contract entry (`key`: "address" or "contract"), not declared
    /// by an earlier entry.
    fn contract_address(
        &mut self,
        entry_path: &str,
        fields: &Fields<'_>,
        key: &str,
    ) -> Option<Address> {
        let path = fields.path(key);
        self.required(fields, key)
            .and_then(|n| self.address(&path, n))
            .and_then(|a| self.declare(entry_path, &path, a, "contract"))
    }

    /// A list of accounts by `rules`, sorted; `None` if any entry is invalid.
    fn addresses(&mut self, path: &str, node: &Node, rules: ListRules) -> Option<Vec<Address>> {
        let mut addresses = self.address_list(path, node, rules)?.addresses?;
        addresses.sort();
        Some(addresses)
    }

    /// A list of accounts by `rules`: valid addresses, not zero (unless allowed), not the Safe
    /// sentinel in a Safe's lists, no duplicates, and not the Safe whose owners they are, since a
    /// Safe cannot own itself (but may list itself as a module).
    fn address_list(&mut self, path: &str, node: &Node, rules: ListRules) -> Option<AddressList> {
        let Node::Seq(items) = node else {
            self.report(
                path,
                format!("expected a list of addresses, found {}", node.describe()),
            );
            return None;
        };
        let field = last_segment(path);
        let mut addresses = Vec::with_capacity(items.len());
        let mut all_valid = true;
        let mut distinct = items.len();
        for (index, entry) in items.iter().enumerate() {
            let entry_path = item(path, index);
            let address = if rules.zero_ok {
                self.any_address(&entry_path, entry)
            } else {
                self.address(&entry_path, entry)
            };
            let Some(address) = address else {
                all_valid = false;
                continue;
            };
            if rules.no_sentinel && address == SAFE_SENTINEL {
                self.report(
                    &entry_path,
                    format!("must not be the Safe sentinel address {SAFE_SENTINEL}"),
                );
                all_valid = false;
            } else if Some(address) == rules.own_safe {
                self.report(&entry_path, "a Safe cannot be its own owner");
                all_valid = false;
            } else if let Some((_, first)) = addresses.iter().find(|(a, _)| *a == address) {
                self.report(
                    &entry_path,
                    format!(
                        "duplicate {} {} (also at {})",
                        rules.what,
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
        let address = self.any_address(path, node)?;
        if address.is_zero() {
            self.report(path, "must not be the zero address");
            return None;
        }
        Some(address)
    }

    /// An address by [`parse_address`], the zero address included.
    fn any_address(&mut self, path: &str, node: &Node) -> Option<Address> {
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
        self.list(path, node, "agreements", Self::agreement)
    }

    fn agreement(&mut self, path: &str, node: &Node) -> Option<Agreement> {
        let fields = self.mapping(path, node, AGREEMENT_FIELDS)?;
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
        let covenant = match fields.get("covenant") {
            None => Some(None),
            Some(n) => self.covenant_ref(&fields.path("covenant"), n).map(Some),
        };
        Some(Agreement {
            with: with?,
            summary: summary?,
            uri: uri?,
            covenant: covenant?,
        })
    }

    /// `{ id, hash }`: a covenant by its id and the hash of a version.
    fn covenant_ref(&mut self, path: &str, node: &Node) -> Option<super::covenant::CovenantRef> {
        let fields = self.mapping(path, node, COVENANT_REF_FIELDS)?;
        let id = self
            .required(&fields, "id")
            .and_then(|n| self.id(&fields.path("id"), n));
        let hash = self.required(&fields, "hash").and_then(|n| {
            let parsed = match n {
                Node::Str(s) => s.parse().ok(),
                _ => None,
            };
            if parsed.is_none() {
                self.report(
                    &fields.path("hash"),
                    format!(
                        "expected a covenant hash of 64 hex digits, found {}",
                        n.describe()
                    ),
                );
            }
            parsed
        });
        Some(super::covenant::CovenantRef {
            id: id?,
            hash: hash?,
        })
    }
}
