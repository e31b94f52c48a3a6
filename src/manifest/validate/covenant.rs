//! A covenant's rules, checked over the parsed tree with the manifest's walker: every problem
//! by path, unknown fields and clauses refused.

use super::{item, Validator};
use crate::manifest::covenant::{
    Clause, Covenant, OutsideParty, Party, Per, CLAUSES, DEFAULT_STATEMENT_PERIOD_SECS,
    MAX_DURATION_SECS,
};
use crate::manifest::error::ManifestError;
use crate::manifest::node::Node;

const COVENANT_FIELDS: &[&str] = &[
    "id",
    "summary",
    "parties",
    "terms",
    "notify",
    "statement_period",
];
const OUTSIDE_FIELDS: &[&str] = &["id", "signers", "threshold"];

/// The shortest statement period accepted.
const MIN_STATEMENT_PERIOD_SECS: u64 = 60;

/// The fields each clause takes, besides `clause`.
fn clause_fields(name: &str) -> &'static [&'static str] {
    match name {
        "min_threshold" | "min_owners" => &["clause", "safe", "value"],
        "keeps_owner" => &["clause", "safe", "owner"],
        "no_undeclared_modules" | "no_undeclared_delegatecalls" => &["clause", "safe"],
        "min_timelock_delay" => &["clause", "timelock", "seconds"],
        "max_outflow_unlisted" => &["clause", "safe", "asset", "per", "amount"],
        "reratified_within" => &["clause", "group", "days"],
        "max_index_lag" => &["clause", "seconds"],
        _ => &["clause"],
    }
}

/// Checks `node` against every rule of a covenant and builds it, or lists every problem.
pub(crate) fn covenant_from_node(node: &Node) -> Result<Covenant, ManifestError> {
    let mut v = Validator::default();
    let covenant = v.covenant(node);
    match covenant {
        Some(c) if v.problems.is_empty() => Ok(c),
        _ => Err(v.into_error()),
    }
}

impl Validator {
    fn covenant(&mut self, node: &Node) -> Option<Covenant> {
        if matches!(node, Node::Null) {
            self.report("", "the covenant is empty");
            return None;
        }
        let fields = self.mapping("", node, COVENANT_FIELDS)?;
        let id = self
            .required(&fields, "id")
            .and_then(|n| self.id(&fields.path("id"), n));
        let summary = match fields.get("summary") {
            None => Some(None),
            Some(n) => self.text(&fields.path("summary"), n).map(Some),
        };
        let parties = self
            .required(&fields, "parties")
            .and_then(|n| self.parties(&fields.path("parties"), n));
        let terms = self.required(&fields, "terms").and_then(|n| {
            let path = fields.path("terms");
            let Node::Seq(items) = n else {
                self.report(&path, format!("expected a list, found {}", n.describe()));
                return None;
            };
            if items.is_empty() {
                self.report(&path, "at least one term is required");
            }
            let mut out = Vec::new();
            let mut ok = !items.is_empty();
            for (i, t) in items.iter().enumerate() {
                match self.clause(&item(&path, i), t, parties.as_deref()) {
                    Some(c) => out.push(c),
                    None => ok = false,
                }
            }
            ok.then_some(out)
        });
        let notify = match fields.get("notify") {
            None => Some(Vec::new()),
            Some(n) => self.names(&fields.path("notify"), n, "sink"),
        };
        let statement_period = match fields.get("statement_period") {
            None => Some(DEFAULT_STATEMENT_PERIOD_SECS),
            Some(n) => self.period(&fields.path("statement_period"), n),
        };
        Some(Covenant {
            id: id?,
            summary: summary?,
            parties: parties?,
            terms: terms?,
            notify: notify?,
            statement_period: statement_period?,
        })
    }

    fn parties(&mut self, path: &str, node: &Node) -> Option<Vec<Party>> {
        let Node::Seq(items) = node else {
            self.report(path, format!("expected a list, found {}", node.describe()));
            return None;
        };
        if items.len() < 2 {
            self.report(path, "at least two parties are required");
        }
        let mut out: Vec<Party> = Vec::new();
        let mut ok = items.len() >= 2;
        for (i, p) in items.iter().enumerate() {
            let path = item(path, i);
            let party = match p {
                Node::Map(_) => self.outside(&path, p).map(Party::Outside),
                _ => self.id(&path, p).map(Party::Group),
            };
            match party {
                Some(party) if out.iter().any(|o| o.id() == party.id()) => {
                    self.report(&path, format!("duplicate party {:?}", party.id()));
                    ok = false;
                }
                Some(party) => out.push(party),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn outside(&mut self, path: &str, node: &Node) -> Option<OutsideParty> {
        let fields = self.mapping(path, node, OUTSIDE_FIELDS)?;
        let id = self
            .required(&fields, "id")
            .and_then(|n| self.id(&fields.path("id"), n));
        let signers = self.required(&fields, "signers").and_then(|n| {
            let list = self.addresses(
                &fields.path("signers"),
                n,
                super::ListRules::accounts("signer"),
            )?;
            if list.is_empty() {
                self.report(&fields.path("signers"), "at least one signer is required");
                return None;
            }
            Some(list)
        });
        let threshold = self.required(&fields, "threshold").and_then(|n| {
            self.threshold(&fields.path("threshold"), n, signers.as_ref().map(Vec::len))
        });
        Some(OutsideParty {
            id: id?,
            signers: signers?,
            threshold: threshold?,
        })
    }

    fn clause(&mut self, path: &str, node: &Node, parties: Option<&[Party]>) -> Option<Clause> {
        let name = match node {
            Node::Map(entries) => entries.iter().find_map(|(k, v)| match (k, v) {
                (Node::Str(k), Node::Str(v)) if k == "clause" => Some(v.clone()),
                _ => None,
            }),
            _ => None,
        };
        let fields = self.mapping(path, node, clause_fields(name.as_deref().unwrap_or("")))?;
        let name_node = self.required(&fields, "clause")?;
        let Some(name) = name.filter(|n| CLAUSES.contains(&n.as_str())) else {
            self.report(
                &fields.path("clause"),
                format!(
                    "expected one of {}, found {}",
                    CLAUSES.join(", "),
                    name_node.describe()
                ),
            );
            return None;
        };
        let address = |v: &mut Validator, key: &str| {
            v.required(&fields, key)
                .and_then(|n| v.address(&fields.path(key), n))
        };
        let count = |v: &mut Validator, key: &str, min: u64| {
            let n = v.required(&fields, key)?;
            let value = v.uint64(&fields.path(key), n)?;
            if value < min {
                v.report(
                    &fields.path(key),
                    format!("must be at least {min}, found {value}"),
                );
                return None;
            }
            Some(value)
        };
        // A duration in `unit`s (seconds or days), at most a century.
        let duration = |v: &mut Validator, key: &str, min: u64, unit: u64| {
            let value = count(v, key, min)?;
            let max = MAX_DURATION_SECS / unit;
            if value > max {
                v.report(
                    &fields.path(key),
                    format!("must be at most {max} (a century), found {value}"),
                );
                return None;
            }
            Some(value)
        };
        let clause = match name.as_str() {
            "min_threshold" => {
                let safe = address(self, "safe");
                let value = count(self, "value", 1);
                Clause::MinThreshold {
                    safe: safe?,
                    value: value?,
                }
            }
            "min_owners" => {
                let safe = address(self, "safe");
                let value = count(self, "value", 1);
                Clause::MinOwners {
                    safe: safe?,
                    value: value?,
                }
            }
            "keeps_owner" => {
                let safe = address(self, "safe");
                let owner = address(self, "owner");
                Clause::KeepsOwner {
                    safe: safe?,
                    owner: owner?,
                }
            }
            "no_undeclared_modules" => Clause::NoUndeclaredModules {
                safe: address(self, "safe")?,
            },
            "no_undeclared_delegatecalls" => Clause::NoUndeclaredDelegatecalls {
                safe: address(self, "safe")?,
            },
            "min_timelock_delay" => {
                let timelock = address(self, "timelock");
                let seconds = duration(self, "seconds", 0, 1);
                Clause::MinTimelockDelay {
                    timelock: timelock?,
                    seconds: seconds?,
                }
            }
            "max_outflow_unlisted" => {
                let safe = address(self, "safe");
                let asset = self
                    .required(&fields, "asset")
                    .and_then(|n| self.asset(&fields.path("asset"), n));
                let per = self.required(&fields, "per").and_then(|n| {
                    let found = match n {
                        Node::Str(s) => Per::ALL.into_iter().find(|p| p.as_str() == s),
                        _ => None,
                    };
                    if found.is_none() {
                        self.report(
                            &fields.path("per"),
                            format!("expected one of day, week, month, found {}", n.describe()),
                        );
                    }
                    found
                });
                let amount = self
                    .required(&fields, "amount")
                    .and_then(|n| self.uint256(&fields.path("amount"), n));
                Clause::MaxOutflowUnlisted {
                    safe: safe?,
                    asset: asset?,
                    per: per?,
                    amount: amount?,
                }
            }
            "reratified_within" => {
                let group = self.required(&fields, "group").and_then(|n| {
                    let g = self.id(&fields.path("group"), n)?;
                    match parties {
                        Some(ps) if !ps.iter().any(|p| p.group() == Some(g.as_str())) => {
                            self.report(
                                &fields.path("group"),
                                format!("{g:?} is not one of the parties' groups"),
                            );
                            None
                        }
                        _ => Some(g),
                    }
                });
                let days = duration(self, "days", 1, 86_400);
                Clause::ReratifiedWithin {
                    group: group?,
                    days: days?,
                }
            }
            "max_index_lag" => Clause::MaxIndexLag {
                seconds: duration(self, "seconds", 1, 1)?,
            },
            _ => unreachable!("checked against the catalog above"),
        };
        Some(clause)
    }

    /// A list of distinct names (sinks), each non-empty.
    fn names(&mut self, path: &str, node: &Node, what: &str) -> Option<Vec<String>> {
        let Node::Seq(items) = node else {
            self.report(path, format!("expected a list, found {}", node.describe()));
            return None;
        };
        let mut out: Vec<String> = Vec::new();
        let mut ok = true;
        for (i, n) in items.iter().enumerate() {
            let p = item(path, i);
            match self.text(&p, n) {
                Some(s) if out.contains(&s) => {
                    self.report(&p, format!("duplicate {what} {s:?}"));
                    ok = false;
                }
                Some(s) => out.push(s),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// A duration: seconds, or as people write it (`7d`, `1week`, `12h`).
    fn period(&mut self, path: &str, node: &Node) -> Option<u64> {
        let secs = match node {
            Node::Int(i) if *i > 0 => u64::try_from(*i).ok(),
            Node::Str(s) => humantime::parse_duration(s.trim())
                .ok()
                .map(|d| d.as_secs()),
            _ => None,
        };
        match secs {
            Some(s) if (MIN_STATEMENT_PERIOD_SECS..=MAX_DURATION_SECS).contains(&s) => Some(s),
            Some(s) if s > MAX_DURATION_SECS => {
                self.report(
                    path,
                    format!("must be at most {MAX_DURATION_SECS} seconds (a century), found {s}"),
                );
                None
            }
            Some(s) => {
                self.report(
                    path,
                    format!("must be at least {MIN_STATEMENT_PERIOD_SECS} seconds, found {s}"),
                );
                None
            }
            None => {
                self.report(
                    path,
                    format!(
                        "expected a duration such as \"7d\" or a number of seconds, found {}",
                        node.describe()
                    ),
                );
                None
            }
        }
    }
}
