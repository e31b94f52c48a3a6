//! Chain presets: `chains.NAME.preset = "base"` fills in what is known of a public chain — its
//! chain id, block time, confirmations, finality, a `max_block_range` the common providers
//! accept, a poll interval, and the Safe contracts the Safe project deployed on it — so a
//! configuration names the chain and its RPC URL and nothing else. Every value can still be set
//! by its own key, which wins over the preset.
//!
//! Invariant: the shipped Safe deployments (`safe_deployments.json`, keyed by chain id) are
//! exactly the ones the published Safe deployment lists (`@safe-global/safe-deployments`, pinned
//! in `package.json`) give for each preset's chain; a test checks every address against them.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use alloy::primitives::Address;
use serde::Deserialize;

/// What a preset fills in for one chain.
#[derive(Debug, PartialEq, Eq)]
pub struct ChainPreset {
    /// The preset's name, as written in `chains.NAME.preset`.
    pub name: &'static str,
    pub chain_id: u64,
    /// The chain's target block time: durations (`documentation_grace = "48h"`) become blocks
    /// through it.
    pub block_time: Duration,
    /// Blocks the follower stays below the head: deep enough that a reorg of the head is rare,
    /// shallow enough that an alert still comes within seconds (a reorg deeper than this is
    /// unwound, not missed).
    pub confirmations: u64,
    /// `None`: the node's `finalized` block decides what enters the verifiable log.
    pub finality_depth: Option<u64>,
    /// The widest `eth_getLogs` range asked; the fetcher halves it on a refusal.
    pub max_block_range: u64,
    /// How often the head is polled without a WebSocket.
    pub poll_interval: Duration,
    /// The chain's block explorer, for links to addresses and transactions; none for a devnet.
    pub explorer: Option<&'static str>,
}

const fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

// On `max_block_range`: the follower filters `eth_getLogs` by the watched contracts' addresses,
// so a range holds few logs and the providers' limits on the block span are the binding ones.
// Alchemy documents a 2,000-block span with no cap on the response (wider spans only while the
// answer stays under 10,000 logs); QuickNode's paid plans cap the span at 10,000 blocks; Infura
// caps the answer at 10,000 results and 10 seconds, not the span. So 2,000 on the 12 s and 5 s
// chains (several hours per request, accepted by all three), and 10,000 on the chains whose
// blocks come every 2 s or faster, where 2,000 blocks would be minutes and a backfill of a year
// tens of thousands of requests (the fetcher halves the range where a provider refuses it).
//
// On finality: every chain here answers the `finalized` block tag with something meaningful —
// Ethereum and Sepolia the Casper FFG checkpoint (about 13 minutes), Gnosis the same on its
// beacon chain (about 3 minutes at 5 s slots), OP Stack chains and Arbitrum the last L2 block
// whose batch is in a finalized L1 block (15–30 minutes), Polygon PoS the last block a Heimdall
// milestone settled (seconds) — so no preset needs a depth.

/// The presets, in the order the documentation lists them.
pub const PRESETS: &[ChainPreset] = &[
    ChainPreset {
        name: "ethereum",
        chain_id: 1,
        block_time: ms(12_000),
        // A one-block reorg of the head follows a late proposal a few times a day; two-block
        // ones are rare. Two blocks is 24 s.
        confirmations: 2,
        finality_depth: None,
        max_block_range: 2_000,
        poll_interval: ms(2_000),
        explorer: Some("https://etherscan.io"),
    },
    ChainPreset {
        name: "optimism",
        chain_id: 10,
        block_time: ms(2_000),
        // The sequencer's unsafe head reorgs only when its batch fails to reach L1; 6 s of
        // blocks covers the occasional sequencer restart.
        confirmations: 3,
        finality_depth: None,
        max_block_range: 10_000,
        poll_interval: ms(1_000),
        explorer: Some("https://optimistic.etherscan.io"),
    },
    ChainPreset {
        name: "base",
        chain_id: 8453,
        block_time: ms(2_000),
        // An OP Stack chain: as optimism.
        confirmations: 3,
        finality_depth: None,
        max_block_range: 10_000,
        poll_interval: ms(1_000),
        explorer: Some("https://basescan.org"),
    },
    ChainPreset {
        name: "arbitrum",
        chain_id: 42161,
        // Arbitrum One makes a block at most every 250 ms, when there are transactions.
        block_time: ms(250),
        // The sequencer's order is final unless it fails to post its batch; 20 blocks is 5 s.
        confirmations: 20,
        finality_depth: None,
        max_block_range: 10_000,
        poll_interval: ms(1_000),
        explorer: Some("https://arbiscan.io"),
    },
    ChainPreset {
        name: "polygon",
        chain_id: 137,
        block_time: ms(2_000),
        // Polygon PoS reorgs of a few blocks happen until a milestone settles them; 16 blocks
        // (32 s) keeps nearly all of them from reaching the records.
        confirmations: 16,
        finality_depth: None,
        max_block_range: 10_000,
        poll_interval: ms(1_000),
        explorer: Some("https://polygonscan.com"),
    },
    ChainPreset {
        name: "gnosis",
        chain_id: 100,
        block_time: ms(5_000),
        // As on Ethereum, a late proposal reorgs the head; three 5 s slots.
        confirmations: 3,
        finality_depth: None,
        max_block_range: 2_000,
        poll_interval: ms(1_000),
        explorer: Some("https://gnosisscan.io"),
    },
    ChainPreset {
        name: "sepolia",
        chain_id: 11_155_111,
        block_time: ms(12_000),
        // As ethereum.
        confirmations: 2,
        finality_depth: None,
        max_block_range: 2_000,
        poll_interval: ms(2_000),
        explorer: Some("https://sepolia.etherscan.io"),
    },
    ChainPreset {
        name: "local",
        chain_id: 31337,
        // anvil mines on demand (or every `--block-time`); one second is a fair reading of a
        // chain a person drives by hand, and durations on it are approximate anyway.
        block_time: ms(1_000),
        // A devnet reorgs only when told to (`anvil_reorg`), and tests want to see it at once.
        confirmations: 0,
        // anvil answers `finalized` (64 blocks below its head).
        finality_depth: None,
        max_block_range: 2_000,
        poll_interval: ms(1_000),
        explorer: None,
    },
];

/// Chains people may point a follower at by mistake, beyond the presets: named in the error
/// when a node reports a chain id other than the expected one.
const OTHER_CHAINS: &[(u64, &str)] = &[
    (56, "bnb"),
    (250, "fantom"),
    (324, "zksync"),
    (1101, "polygon-zkevm"),
    (17000, "holesky"),
    (42170, "arbitrum-nova"),
    (43114, "avalanche"),
    (59144, "linea"),
    (80002, "polygon-amoy"),
    (84532, "base-sepolia"),
    (421614, "arbitrum-sepolia"),
    (534352, "scroll"),
    (560048, "hoodi"),
    (11155420, "optimism-sepolia"),
];

/// The preset called `name`, or an error listing the valid names.
pub fn preset(name: &str) -> Result<&'static ChainPreset, String> {
    PRESETS.iter().find(|p| p.name == name).ok_or_else(|| {
        format!(
            "`preset = {name:?}` is not a known chain; the presets are {}",
            preset_names()
        )
    })
}

/// The presets' names, comma-separated, for error messages.
pub fn preset_names() -> String {
    PRESETS
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The name of the chain with id `chain_id`, where it is a well-known one.
pub fn chain_name(chain_id: u64) -> Option<&'static str> {
    PRESETS
        .iter()
        .map(|p| (p.chain_id, p.name))
        .chain(OTHER_CHAINS.iter().copied())
        .find(|(id, _)| *id == chain_id)
        .map(|(_, name)| name)
}

/// The Safe contracts one release (`1.3.0`, `1.4.1`) has on a chain. A chain may hold more than
/// one deployment of a contract (Safe 1.3.0 has a `canonical` one and an `eip155` one on most
/// chains), so each is a list; the first is the one the Safe project lists first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafeRelease {
    /// `GnosisSafe` / `Safe`.
    pub singleton: Vec<Address>,
    /// `GnosisSafeL2` / `SafeL2`: the singleton that also emits an event per execution.
    pub singleton_l2: Vec<Address>,
    pub multi_send: Vec<Address>,
    pub multi_send_call_only: Vec<Address>,
    /// `GnosisSafeProxyFactory` / `SafeProxyFactory`.
    pub proxy_factory: Vec<Address>,
}

/// The Safe contracts deployed on one chain, by release; empty for a chain without a preset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SafeDeployments(BTreeMap<String, SafeRelease>);

impl SafeDeployments {
    /// The deployments of a preset's chain.
    pub fn of(chain_id: u64) -> SafeDeployments {
        SHIPPED.get(&chain_id).cloned().unwrap_or_default()
    }

    /// Each release (`"1.3.0"`, `"1.4.1"`) with its contracts.
    pub fn releases(&self) -> impl Iterator<Item = (&str, &SafeRelease)> {
        self.0.iter().map(|(v, r)| (v.as_str(), r))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every `MultiSend` of every release.
    pub fn multi_send(&self) -> impl Iterator<Item = Address> + '_ {
        self.0.values().flat_map(|r| r.multi_send.iter().copied())
    }

    /// Every `MultiSendCallOnly` of every release.
    pub fn multi_send_call_only(&self) -> impl Iterator<Item = Address> + '_ {
        self.0
            .values()
            .flat_map(|r| r.multi_send_call_only.iter().copied())
    }
}

/// The shipped deployment data: chain id → release → contract → addresses.
static SHIPPED: LazyLock<BTreeMap<u64, SafeDeployments>> = LazyLock::new(|| {
    serde_json::from_str(include_str!("safe_deployments.json"))
        .expect("src/config/safe_deployments.json is well-formed (a unit test reads it)")
});

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    #[test]
    fn every_preset_has_its_safe_deployments_and_a_unique_name_and_id() {
        let names: BTreeSet<_> = PRESETS.iter().map(|p| p.name).collect();
        let ids: BTreeSet<_> = PRESETS.iter().map(|p| p.chain_id).collect();
        assert_eq!((names.len(), ids.len()), (PRESETS.len(), PRESETS.len()));
        for p in PRESETS {
            let d = SafeDeployments::of(p.chain_id);
            let releases: Vec<_> = d.releases().map(|(v, _)| v).collect();
            assert_eq!(releases, ["1.3.0", "1.4.1"], "{}", p.name);
            for (v, r) in d.releases() {
                for (contract, list) in [
                    ("singleton", &r.singleton),
                    ("singleton_l2", &r.singleton_l2),
                    ("multi_send", &r.multi_send),
                    ("multi_send_call_only", &r.multi_send_call_only),
                    ("proxy_factory", &r.proxy_factory),
                ] {
                    assert!(!list.is_empty(), "{} {v} {contract}", p.name);
                }
            }
            assert!(p.block_time > Duration::ZERO && p.max_block_range > 0);
        }
        // Only the presets' chains are shipped.
        assert_eq!(SHIPPED.keys().copied().collect::<BTreeSet<_>>(), ids);
        assert!(SafeDeployments::of(5).is_empty());
    }

    #[test]
    fn names_of_chains() {
        assert_eq!(chain_name(8453), Some("base"));
        assert_eq!(chain_name(56), Some("bnb"));
        assert_eq!(chain_name(999_999_999), None);
        let err = preset("mainnet").unwrap_err();
        assert_eq!(
            err,
            "`preset = \"mainnet\"` is not a known chain; the presets are ethereum, optimism, \
             base, arbitrum, polygon, gnosis, sepolia, local"
        );
    }

    /// The published file of one contract of one release, as the package ships it.
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Published {
        version: String,
        deployments: BTreeMap<String, PublishedDeployment>,
        /// Chain id → the deployment type (`"canonical"`) or types it has.
        network_addresses: BTreeMap<String, OneOrMany>,
    }

    #[derive(Deserialize)]
    struct PublishedDeployment {
        address: Address,
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }

    /// The published addresses of `file` (`v1.4.1/safe.json`) on chain `chain_id`.
    fn published(dir: &Path, file: &str, chain_id: u64) -> BTreeSet<Address> {
        let path = dir.join(file);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let p: Published = serde_json::from_str(&text).unwrap();
        assert!(file.starts_with(&format!("v{}/", p.version)), "{file}");
        let kinds = match p.network_addresses.get(&chain_id.to_string()) {
            None => return BTreeSet::new(),
            Some(OneOrMany::One(k)) => vec![k.clone()],
            Some(OneOrMany::Many(ks)) => ks.clone(),
        };
        kinds
            .iter()
            .map(|k| {
                p.deployments
                    .get(k)
                    .unwrap_or_else(|| panic!("{file}: no {k} deployment"))
                    .address
            })
            .collect()
    }

    /// Every shipped address is the published one of its contract, release and chain, and no
    /// published one is missing. The lists come from the npm package pinned in `package.json`
    /// (`npm ci` installs it, as the devnet tests do).
    #[tokio::test]
    async fn shipped_deployments_match_the_published_safe_deployment_lists() {
        let project = devnet::install::project_dir().unwrap();
        devnet::install::ensure_installed(&project).await.unwrap();
        let dir = project.join(devnet::install::SAFE_DEPLOYMENTS);
        let files = [
            (
                "1.3.0",
                [
                    "gnosis_safe",
                    "gnosis_safe_l2",
                    "multi_send",
                    "multi_send_call_only",
                    "proxy_factory",
                ],
            ),
            (
                "1.4.1",
                [
                    "safe",
                    "safe_l2",
                    "multi_send",
                    "multi_send_call_only",
                    "safe_proxy_factory",
                ],
            ),
        ];
        for p in PRESETS {
            // The devnet deploys the mainnet bytecode at the mainnet addresses (crates/devnet),
            // and the lists know no local chain: the local preset is checked against mainnet's.
            let listed_as = if p.name == "local" { 1 } else { p.chain_id };
            let shipped = SafeDeployments::of(p.chain_id);
            for (version, names) in files {
                let r = shipped.0.get(version).unwrap();
                let ours = [
                    &r.singleton,
                    &r.singleton_l2,
                    &r.multi_send,
                    &r.multi_send_call_only,
                    &r.proxy_factory,
                ];
                for (name, ours) in names.iter().zip(ours) {
                    let file = format!("v{version}/{name}.json");
                    let theirs = published(&dir, &file, listed_as);
                    let ours: BTreeSet<Address> = ours.iter().copied().collect();
                    assert!(!theirs.is_empty(), "{file}: chain {listed_as} not listed");
                    assert_eq!(ours, theirs, "{} ({}): {file}", p.name, p.chain_id);
                }
            }
        }
    }
}
