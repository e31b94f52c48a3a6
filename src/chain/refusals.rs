//! What providers and node implementations answer when they refuse a call, in one place: the
//! texts of their `eth_getLogs` caps (too many results, too many blocks — with the widest range
//! they accept, or a range they say will work, when the message carries one), of a block they
//! do not know (yet), and of their rate limits. Every entry quotes its source; a unit test per
//! message holds the text verbatim.
//!
//! Invariant: pure — a message (and its JSON-RPC code) in, a [`Refusal`] out; nothing here
//! decides what to do about it (that is [`super::range`] and [`super::rpc`]).

use std::sync::LazyLock;

use regex::{Regex, RegexBuilder};

/// What a refusal says about the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// `eth_getLogs` would answer more logs than the provider returns at once.
    TooManyResults,
    /// `eth_getLogs` spans more blocks than the provider accepts.
    TooManyBlocks,
    /// `eth_getLogs` was refused for its size, without saying whether blocks or results.
    TooLarge,
    /// The node does not know the block (yet: a node behind its peers; or any more).
    UnknownBlock,
    /// The caller sent too much too fast.
    RateLimited,
}

/// A range a provider said would be accepted, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuggestedRange {
    pub from: u64,
    pub to: u64,
}

/// A provider's refusal, recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub kind: RefusalKind,
    /// Who answers this way (for logs).
    pub source: &'static str,
    /// The most blocks one request may span, when the message says.
    pub max_blocks: Option<u64>,
    /// A range the provider says will work, when the message names one.
    pub suggested: Option<SuggestedRange>,
}

/// How a catalogue entry's captures read.
#[derive(Debug, Clone, Copy)]
enum Captures {
    /// Nothing to read.
    None,
    /// `max`: the most blocks per request (digits, perhaps with `,` or `.` separators, or
    /// `2K`).
    Max,
    /// `from` and `to`: a suggested range (hex with `0x`, or decimal).
    Range,
}

struct Entry {
    source: &'static str,
    kind: RefusalKind,
    pattern: &'static str,
    captures: Captures,
}

const fn entry(
    source: &'static str,
    kind: RefusalKind,
    pattern: &'static str,
    captures: Captures,
) -> Entry {
    Entry {
        source,
        kind,
        pattern,
        captures,
    }
}

use Captures as C;
use RefusalKind as K;

/// The catalogue, most specific first: the first entry whose pattern matches wins (a message
/// with a suggested range is matched by its hint before its general wording).
const CATALOGUE: &[Entry] = &[
    // Alchemy, result cap with its hint (quoted in ethers-io/ethers.js#4703):
    // "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block
    // range and no limit on the response size, or you can request any block range with a cap
    // of 10K logs in the response. Based on your parameters and the response size limit, this
    // block range should work: [0x0, 0xd043b8]"
    entry(
        "Alchemy",
        K::TooManyResults,
        r"this block range should work: \[(?P<from>0x[0-9a-f]+),\s*(?P<to>0x[0-9a-f]+)\]",
        C::Range,
    ),
    // Alchemy, the same without a hint: any range of up to 2K blocks has no result cap.
    entry(
        "Alchemy",
        K::TooManyResults,
        r"log response size exceeded\. you can make eth_getlogs requests with up to a (?P<max>[\d,.]+k?) block range",
        C::Max,
    ),
    // Alchemy's free tier and Aurora: "Under the Free tier plan, you can make eth_getLogs
    // requests with up to a 10 block range"; ponder's getLogsRetryHelper ("up to a N block
    // range", aurora).
    entry(
        "Alchemy free tier / Aurora",
        K::TooManyBlocks,
        r"up to a (?P<max>[\d,.]+k?) block range",
        C::Max,
    ),
    // Infura (and zkSync), result cap with its hint (ethers-io/ethers.js#4703): "query returned
    // more than 10000 results. Try with this block range [0xBDE5F8, 0x102DBCC]."
    entry(
        "Infura",
        K::TooManyResults,
        r"try with this block range \[(?P<from>0x[0-9a-f]+),\s*(?P<to>0x[0-9a-f]+)\]",
        C::Range,
    ),
    // Infura's documented cap (-32005), also the Aurora relayer and Polygon zkEVM
    // (aurora-is-near/aurora-relayer#327): "query returned more than 10000 results".
    entry(
        "Infura",
        K::TooManyResults,
        r"query returned more than [\d,.]+ results",
        C::None,
    ),
    // Infura's block-range limit (-32602, INFURA/infura#237): "range 1000000 exceeds limit of
    // 10000".
    entry(
        "Infura",
        K::TooManyBlocks,
        r"range \d+ exceeds limit of (?P<max>[\d,.]+)",
        C::Max,
    ),
    // reth (and Base, OP reth nodes), `EthFilterError::QueryExceedsMaxResults`
    // (crates/rpc/rpc-eth-types; base/base#2421): "query exceeds max results 20000, retry with
    // the range 25766988-25775072".
    entry(
        "reth",
        K::TooManyResults,
        r"query exceeds max results \d+, retry with the range (?P<from>\d+)\s*-\s*(?P<to>\d+)",
        C::Range,
    ),
    // reth, `EthFilterError::QueryExceedsMaxBlocks`: "query exceeds max block range 100000".
    entry(
        "reth",
        K::TooManyBlocks,
        r"query exceeds max block range (?P<max>[\d,.]+)",
        C::Max,
    ),
    // Erigon, `--rpc.blockrange.limit` (-32602, erigontech/erigon#20424): "query block range
    // exceeds server limit, narrow your filter: 5."
    entry(
        "Erigon",
        K::TooManyBlocks,
        r"query block range exceeds server limit, narrow your filter: (?P<max>[\d,.]+)",
        C::Max,
    ),
    // Erigon, `--rpc.logs.maxresults` (erigontech/erigon#19721): "query returns too many logs,
    // narrow your filter: 20000".
    entry(
        "Erigon",
        K::TooManyResults,
        r"query returns too many logs",
        C::None,
    ),
    // Polygon cdk-erigon, `rpc.logs.maxrange` (-32005, 0xPolygon/cdk-erigon#1706): "block range
    // too large, max range: 1000".
    entry(
        "cdk-erigon",
        K::TooManyBlocks,
        r"block range too large, max range: (?P<max>[\d,.]+)",
        C::Max,
    ),
    // Morph's geth (enviodev/hyperindex#605): "block range is larger than max block range,
    // block range = 5120, max block range = 5000".
    entry(
        "Morph",
        K::TooManyBlocks,
        r"max block range = (?P<max>\d+)",
        C::Max,
    ),
    // Scroll's geth (scroll-tech/go-ethereum#529): "block range is bigger than maxBlockRange".
    entry(
        "Scroll",
        K::TooManyBlocks,
        r"block range is bigger than maxblockrange",
        C::None,
    ),
    // llamarpc, ankr (ponder's getLogsRetryHelper): "query exceeds max results" without a range.
    entry(
        "llamarpc / Ankr",
        K::TooManyResults,
        r"query exceeds max results",
        C::None,
    ),
    // geth forks with a range limit (BNB Smart Chain's bsc; PublicNode endpoints): "exceed
    // maximum block range: 50000"; ponder's "maximum block range: N" (publicnode).
    entry(
        "bsc geth / PublicNode",
        K::TooManyBlocks,
        r"maximum block range: (?P<max>[\d,.]+)",
        C::Max,
    ),
    // QuickNode, BlastAPI, 1RPC (ponder's quicknode and blast tests): "eth_getLogs is limited
    // to a 10,000 range"; 1RPC: "eth_getLogs is limited to a 1000 blocks range".
    entry(
        "QuickNode / Blast / 1RPC",
        K::TooManyBlocks,
        r"eth_getlogs is limited to a (?P<max>[\d,.]+)",
        C::Max,
    ),
    // BlockPI (ponder's getLogsRetryHelper): "limited to N block".
    entry(
        "BlockPI",
        K::TooManyBlocks,
        r"limited to (?P<max>[\d,.]+) block",
        C::Max,
    ),
    // Frontier (Moonbeam, Moonriver): "block range is too wide (maximum 1024)".
    entry(
        "Frontier / Moonbeam",
        K::TooManyBlocks,
        r"block range is too wide \(maximum (?P<max>\d+)\)",
        C::Max,
    ),
    // Ankr (-32600, ponder's getLogsRetryHelper): "block range is too wide".
    entry(
        "Ankr",
        K::TooManyBlocks,
        r"block range is too wide",
        C::None,
    ),
    // Ankr (TAC): "maximum [from, to] blocks distance: N".
    entry(
        "Ankr",
        K::TooManyBlocks,
        r"maximum \[from, to\] blocks distance: (?P<max>\d+)",
        C::Max,
    ),
    // Chainstack (ponder's chainstack test): "Block range limit exceeded."
    entry(
        "Chainstack",
        K::TooManyBlocks,
        r"block range limit exceeded",
        C::None,
    ),
    // Coinbase Cloud (ponder): "please limit the query to at most N blocks".
    entry(
        "Coinbase",
        K::TooManyBlocks,
        r"please limit the query to at most (?P<max>[\d,.]+) blocks",
        C::Max,
    ),
    // Avalanche C-Chain (coreth; ponder): "requested too many blocks from A to B, maximum is
    // set to N".
    entry(
        "Avalanche",
        K::TooManyBlocks,
        r"requested too many blocks from \d+ to \d+, maximum is set to (?P<max>\d+)",
        C::Max,
    ),
    // Cloudflare's Ethereum gateway (ponder): "Max range: N".
    entry(
        "Cloudflare",
        K::TooManyBlocks,
        r"max range: (?P<max>\d+)",
        C::Max,
    ),
    // thirdweb (ponder): "Maximum allowed number of requested blocks is N".
    entry(
        "thirdweb",
        K::TooManyBlocks,
        r"maximum allowed number of requested blocks is (?P<max>\d+)",
        C::Max,
    ),
    // Blast paid plans (ponder): "exceeds the range allowed for your plan (N > M)".
    entry(
        "Blast",
        K::TooManyBlocks,
        r"exceeds the range allowed for your plan \(\d+ > (?P<max>\d+)\)",
        C::Max,
    ),
    // Tenderly (bobanetwork/boba_legacy#827): "range 9009594 is bigger than range limit 2000".
    entry(
        "Tenderly",
        K::TooManyBlocks,
        r"is bigger than range limit (?P<max>[\d,.]+)",
        C::Max,
    ),
    // Sei (evm-rpc.sei-apis.com): "block range too large (2000), maximum allowed is 1000
    // blocks".
    entry(
        "Sei",
        K::TooManyBlocks,
        r"maximum allowed is (?P<max>[\d,.]+) blocks",
        C::Max,
    ),
    // Arbitrum Nitro (ponder): "logs matched by query exceeds limit of 10000".
    entry(
        "Arbitrum",
        K::TooManyResults,
        r"logs matched by query exceeds limit of \d+",
        C::None,
    ),
    // OP Stack public endpoints (ponder): "backend response too large".
    entry(
        "Optimism",
        K::TooManyResults,
        r"backend response too large",
        C::None,
    ),
    // OP Stack public endpoints (ponder, since 2024-11): "Block range is too large"; Base
    // public endpoint: "block range too large" (ponder splits at 2,000 blocks).
    entry(
        "Optimism / Base",
        K::TooManyBlocks,
        r"block range (is )?too large",
        C::None,
    ),
    // 1RPC (ponder): "response size should not greater than N bytes".
    entry(
        "1RPC",
        K::TooManyResults,
        r"response size should not greater than \d+ bytes",
        C::None,
    ),
    // geth (execution-apis tests/eth_getLogs/filter-error-future-block-range): "block range
    // extends beyond current head block" — a node behind the block asked for.
    entry(
        "geth",
        K::UnknownBlock,
        r"block range extends beyond current head block",
        C::None,
    ),
    // geth, reth: "header not found" (geth internal/ethapi; reth `EthApiError::HeaderNotFound`);
    // geth: "unknown block".
    entry(
        "geth / reth",
        K::UnknownBlock,
        r"header not found|unknown block|block not found",
        C::None,
    ),
    // Nethermind (-32001, eqlabs/pathfinder#943): "8633830 could not be found".
    entry(
        "Nethermind",
        K::UnknownBlock,
        r"^\d+ could not be found",
        C::None,
    ),
    // Alchemy (HTTP 429, code 429; gitcoinco/grants-stack-indexer#156): "Your app has exceeded
    // its compute units per second capacity. If you have retries enabled, you can safely
    // ignore this message. If not, check out https://docs.alchemy.com/reference/throughput".
    entry(
        "Alchemy",
        K::RateLimited,
        r"exceeded its compute units per second capacity",
        C::None,
    ),
    // Generic wordings of rate limits.
    entry(
        "generic",
        K::RateLimited,
        r"rate limit|too many requests|request rate exceeded",
        C::None,
    ),
    // Generic wordings of a size refusal, whoever sends them: "limit exceeded" (EIP-1474's
    // -32005), "too many", "too large", "more than".
    entry(
        "generic",
        K::TooLarge,
        r"limit exceeded|too many|too large|more than|response size",
        C::None,
    ),
];

struct Compiled {
    entry: &'static Entry,
    regex: Regex,
}

static COMPILED: LazyLock<Vec<Compiled>> = LazyLock::new(|| {
    CATALOGUE
        .iter()
        .map(|entry| Compiled {
            entry,
            regex: RegexBuilder::new(entry.pattern)
                .case_insensitive(true)
                .build()
                .expect("a catalogue pattern"),
        })
        .collect()
});

/// The refusal `message` (with JSON-RPC `code`) is, if the catalogue knows it. `code` -32005
/// (EIP-1474's "limit exceeded") is a size refusal even when the text is unknown.
pub fn recognise(code: i64, message: &str) -> Option<Refusal> {
    for c in COMPILED.iter() {
        let Some(caps) = c.regex.captures(message) else {
            continue;
        };
        let mut refusal = Refusal {
            kind: c.entry.kind,
            source: c.entry.source,
            max_blocks: None,
            suggested: None,
        };
        match c.entry.captures {
            Captures::None => {}
            Captures::Max => {
                // A number that does not parse leaves the refusal without a maximum: halve.
                refusal.max_blocks = caps
                    .name("max")
                    .and_then(|m| parse_count(m.as_str()))
                    .filter(|&n| n > 0);
            }
            Captures::Range => {
                let from = caps.name("from").and_then(|m| parse_block(m.as_str()));
                let to = caps.name("to").and_then(|m| parse_block(m.as_str()));
                if let (Some(from), Some(to)) = (from, to) {
                    if from <= to {
                        refusal.suggested = Some(SuggestedRange { from, to });
                    }
                }
            }
        }
        return Some(refusal);
    }
    (code == -32005).then_some(Refusal {
        kind: RefusalKind::TooLarge,
        source: "EIP-1474 limit exceeded",
        max_blocks: None,
        suggested: None,
    })
}

/// `10,000`, `10.000`, `10000` or `2K`.
fn parse_count(s: &str) -> Option<u64> {
    let s = s.trim();
    let (digits, factor) = match s.strip_suffix(['k', 'K']) {
        Some(d) => (d, 1000),
        None => (s, 1),
    };
    let digits: String = digits.chars().filter(|c| c.is_ascii_digit()).collect();
    digits.parse::<u64>().ok()?.checked_mul(factor)
}

/// `0x1a` or `26`.
fn parse_block(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(message: &str) -> Refusal {
        recognise(-32000, message).unwrap_or_else(|| panic!("not recognised: {message}"))
    }

    fn range(from: u64, to: u64) -> Option<SuggestedRange> {
        Some(SuggestedRange { from, to })
    }

    #[test]
    fn alchemy_result_cap_with_its_hint() {
        // Alchemy, quoted in ethers-io/ethers.js#4703.
        let x = r("Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no limit on the response size, or you can request any block range with a cap of 10K logs in the response. Based on your parameters and the response size limit, this block range should work: [0x0, 0xd043b8]");
        assert_eq!(x.kind, RefusalKind::TooManyResults);
        assert_eq!(x.suggested, range(0, 0xd043b8));
        assert_eq!(x.source, "Alchemy");
    }

    #[test]
    fn alchemy_result_cap_without_a_hint() {
        // Alchemy, quoted in a web3.js error of gist mrice32/ecd35a8114e32e3f28381e3e7763f136.
        let x = r("Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no limit on the response size, or you can request any block range with a cap of 10K logs in the response.");
        assert_eq!(x.kind, RefusalKind::TooManyResults);
        assert_eq!(x.max_blocks, Some(2000));
        assert_eq!(x.suggested, None);
    }

    #[test]
    fn alchemy_free_tier_range_cap() {
        // Alchemy's free tier.
        let x = r("Under the Free tier plan, you can make eth_getLogs requests with up to a 10 block range");
        assert_eq!(x.kind, RefusalKind::TooManyBlocks);
        assert_eq!(x.max_blocks, Some(10));
    }

    #[test]
    fn infura_result_cap_with_its_hint() {
        // Infura, quoted in ethers-io/ethers.js#4703 (code -32005).
        let x = r("query returned more than 10000 results. Try with this block range [0xBDE5F8, 0x102DBCC].");
        assert_eq!(x.kind, RefusalKind::TooManyResults);
        assert_eq!(x.suggested, range(0xBDE5F8, 0x102DBCC));
    }

    #[test]
    fn infura_result_cap_without_a_hint() {
        // Infura's documented -32005; also aurora-is-near/aurora-relayer#327.
        let x = r("query returned more than 10000 results");
        assert_eq!(x.kind, RefusalKind::TooManyResults);
        assert_eq!((x.max_blocks, x.suggested), (None, None));
    }

    #[test]
    fn infura_range_cap() {
        // Infura's live API, INFURA/infura#237 (code -32602).
        let x = r("range 1000000 exceeds limit of 10000");
        assert_eq!(x.kind, RefusalKind::TooManyBlocks);
        assert_eq!(x.max_blocks, Some(10_000));
    }

    #[test]
    fn reth_result_cap_with_its_range() {
        // reth's EthFilterError::QueryExceedsMaxResults, as Base answered (base/base#2421).
        let x = r("query exceeds max results 20000, retry with the range 25766988-25775072");
        assert_eq!(x.kind, RefusalKind::TooManyResults);
        assert_eq!(x.suggested, range(25766988, 25775072));
        assert_eq!(x.source, "reth");
    }

    #[test]
    fn reth_range_cap() {
        // reth's EthFilterError::QueryExceedsMaxBlocks.
        let x = r("query exceeds max block range 100000");
        assert_eq!(x.kind, RefusalKind::TooManyBlocks);
        assert_eq!(x.max_blocks, Some(100_000));
    }

    #[test]
    fn bsc_and_publicnode_range_cap() {
        // bsc's geth fork and PublicNode endpoints.
        let x = r("exceed maximum block range: 50000");
        assert_eq!(x.kind, RefusalKind::TooManyBlocks);
        assert_eq!(x.max_blocks, Some(50_000));
    }

    #[test]
    fn quicknode_range_cap() {
        // QuickNode (and BlastAPI), ponder's quicknode and blast tests.
        let x = r("eth_getLogs is limited to a 10,000 range");
        assert_eq!(x.kind, RefusalKind::TooManyBlocks);
        assert_eq!(x.max_blocks, Some(10_000));
        // 1RPC.
        assert_eq!(
            r("eth_getLogs is limited to a 1000 blocks range").max_blocks,
            Some(1000)
        );
    }

    #[test]
    fn ankr_range_cap() {
        // Ankr (-32600), ponder's getLogsRetryHelper.
        let x = r("block range is too wide");
        assert_eq!(x.kind, RefusalKind::TooManyBlocks);
        assert_eq!(x.max_blocks, None);
        // Frontier (Moonbeam) names its maximum.
        assert_eq!(
            r("block range is too wide (maximum 1024)").max_blocks,
            Some(1024)
        );
    }

    #[test]
    fn chainstack_range_cap() {
        // Chainstack, ponder's chainstack test.
        let x = r("Block range limit exceeded.");
        assert_eq!(x.kind, RefusalKind::TooManyBlocks);
        assert_eq!(x.source, "Chainstack");
    }

    #[test]
    fn other_providers_range_caps() {
        for (message, max) in [
            // Coinbase.
            ("please limit the query to at most 1,000 blocks", 1000),
            // Avalanche.
            (
                "requested too many blocks from 0 to 16777216, maximum is set to 2048",
                2048,
            ),
            // Cloudflare.
            ("Max range: 800", 800),
            // thirdweb.
            ("Maximum allowed number of requested blocks is 1000", 1000),
            // Blast, paid plans.
            (
                "exceeds the range allowed for your plan (5000 > 3000)",
                3000,
            ),
            // Tenderly, bobanetwork/boba_legacy#827.
            ("range 9009594 is bigger than range limit 2000", 2000),
            // Sei.
            (
                "block range too large (2000), maximum allowed is 1000 blocks",
                1000,
            ),
        ] {
            let x = r(message);
            assert_eq!(x.kind, RefusalKind::TooManyBlocks, "{message}");
            assert_eq!(x.max_blocks, Some(max), "{message}");
        }
    }

    #[test]
    fn erigon_caps() {
        // Erigon's --rpc.blockrange.limit, erigontech/erigon#20424.
        let x = r("query block range exceeds server limit, narrow your filter: 5.");
        assert_eq!(x.kind, RefusalKind::TooManyBlocks);
        assert_eq!(x.max_blocks, Some(5));
        // Erigon's --rpc.logs.maxresults, erigontech/erigon#19721.
        let x = r("query returns too many logs, narrow your filter: 20000");
        assert_eq!(x.kind, RefusalKind::TooManyResults);
        assert_eq!(x.max_blocks, None, "a count of logs is no count of blocks");
        // Polygon cdk-erigon, 0xPolygon/cdk-erigon#1706.
        let x = r("block range too large, max range: 1000");
        assert_eq!(x.kind, RefusalKind::TooManyBlocks);
        assert_eq!(x.max_blocks, Some(1000));
    }

    #[test]
    fn l2_geth_forks_range_caps() {
        // Morph, enviodev/hyperindex#605.
        let x = r("block range is larger than max block range, block range = 5120, max block range = 5000");
        assert_eq!(x.kind, RefusalKind::TooManyBlocks);
        assert_eq!(x.max_blocks, Some(5000));
        // Scroll, scroll-tech/go-ethereum#529.
        let x = r("block range is bigger than maxBlockRange");
        assert_eq!(x.kind, RefusalKind::TooManyBlocks);
        assert_eq!(x.max_blocks, None);
    }

    #[test]
    fn other_providers_result_caps() {
        for message in [
            // Arbitrum Nitro.
            "logs matched by query exceeds limit of 10000",
            // OP Stack public endpoints.
            "backend response too large",
            // llamarpc.
            "query exceeds max results",
            // 1RPC.
            "response size should not greater than 10000000 bytes",
        ] {
            assert_eq!(r(message).kind, RefusalKind::TooManyResults, "{message}");
        }
        // OP Stack and Base public endpoints: a range cap without a number.
        assert_eq!(
            r("Block range is too large").kind,
            RefusalKind::TooManyBlocks
        );
    }

    #[test]
    fn unknown_blocks() {
        for message in [
            // geth, reth.
            "header not found",
            // geth.
            "unknown block",
            // geth, execution-apis filter-error-future-block-range.
            "block range extends beyond current head block",
            // Nethermind, eqlabs/pathfinder#943.
            "8633830 could not be found",
        ] {
            assert_eq!(r(message).kind, RefusalKind::UnknownBlock, "{message}");
        }
    }

    #[test]
    fn rate_limits() {
        // Alchemy's 429 body, gitcoinco/grants-stack-indexer#156.
        let x = r("Your app has exceeded its compute units per second capacity. If you have retries enabled, you can safely ignore this message. If not, check out https://docs.alchemy.com/reference/throughput");
        assert_eq!(x.kind, RefusalKind::RateLimited);
    }

    #[test]
    fn unknown_texts_are_not_guessed_at() {
        assert_eq!(recognise(-32000, "execution reverted"), None);
        assert_eq!(recognise(3, "execution reverted: GS013"), None);
        // EIP-1474's "limit exceeded" code, whatever the text.
        assert_eq!(
            recognise(-32005, "whatever").map(|r| r.kind),
            Some(RefusalKind::TooLarge)
        );
        // A garbled hint is no hint.
        let x = r("query exceeds max results 20000, retry with the range 9-3");
        assert_eq!(x.suggested, None);
    }
}
