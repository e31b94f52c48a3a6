//! ERC-20 metadata — `symbol()`, `decimals()`, `name()` — read once, in the fetch phase, for a
//! token the first time it moves in or out of a treasury. Tokens answer these in more than one
//! way: a `string` as ERC-20 says, a `bytes32` as older tokens do (MKR, SAI), or not at all
//! (the functions are optional). A call that reverts or answers something that is not a
//! symbol gives `None`, never an error: the read side then shows the token's address and its
//! raw amounts.
//!
//! Invariant: reads only, at an explicit block; only a transport failure is an error.

use alloy::primitives::{Address, FixedBytes, U256};
use alloy::rpc::types::Log;
use alloy::sol_types::SolEvent;

use super::read::optional;
use super::rpc::{Rpc, RpcError};

alloy::sol! {
    interface IERC20Metadata {
        function symbol() external view returns (string);
        function name() external view returns (string);
        function decimals() external view returns (uint256);
    }
    interface IERC20Bytes32Metadata {
        function symbol() external view returns (bytes32);
        function name() external view returns (bytes32);
    }
    interface IERC20Transfer {
        event Transfer(address indexed from, address indexed to, uint256 value);
    }
}

/// The longest symbol kept (longer ones are cut); a name is kept to 64 characters.
const MAX_SYMBOL_CHARS: usize = 32;
const MAX_NAME_CHARS: usize = 64;
/// The most decimals a token may declare and be believed (10^77 still fits a `uint256`).
const MAX_DECIMALS: u64 = 77;

/// What a token says of itself; `None` for what it does not answer sensibly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenMetadata {
    pub address: Address,
    pub symbol: Option<String>,
    pub decimals: Option<u8>,
    pub name: Option<String>,
}

/// The emitters of ERC-20 `Transfer` logs (three topics; ERC-721's has four) in `logs`, sorted
/// and each once.
pub fn transfer_emitters(logs: &[Log]) -> Vec<Address> {
    let mut tokens: Vec<Address> = logs
        .iter()
        .filter(|l| {
            let topics = l.topics();
            topics.len() == 3 && topics[0] == IERC20Transfer::Transfer::SIGNATURE_HASH
        })
        .map(|l| l.address())
        .collect();
    tokens.sort();
    tokens.dedup();
    tokens
}

/// The metadata of each of `tokens` at `block`, a few reads in flight at once.
pub async fn read_tokens_metadata(
    rpc: &Rpc,
    tokens: Vec<Address>,
    block: u64,
) -> Result<Vec<TokenMetadata>, RpcError> {
    use futures::StreamExt;
    futures::stream::iter(tokens)
        .map(|t| read_token_metadata(rpc, t, block))
        .buffered(4)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// Reads `token`'s metadata at `block`.
#[tracing::instrument(skip_all, fields(%token, block))]
pub async fn read_token_metadata(
    rpc: &Rpc,
    token: Address,
    block: u64,
) -> Result<TokenMetadata, RpcError> {
    let symbol = text_or_bytes32(
        rpc,
        token,
        block,
        &IERC20Metadata::symbolCall {},
        &IERC20Bytes32Metadata::symbolCall {},
    )
    .await?
    .and_then(|s| clean(&s, MAX_SYMBOL_CHARS));
    let name = text_or_bytes32(
        rpc,
        token,
        block,
        &IERC20Metadata::nameCall {},
        &IERC20Bytes32Metadata::nameCall {},
    )
    .await?
    .and_then(|s| clean(&s, MAX_NAME_CHARS));
    let decimals = optional(rpc, token, &IERC20Metadata::decimalsCall {}, block)
        .await?
        .and_then(decimals_of);
    Ok(TokenMetadata {
        address: token,
        symbol,
        decimals,
        name,
    })
}

/// A decimals count a token may mean: at most [`MAX_DECIMALS`].
pub fn decimals_of(v: U256) -> Option<u8> {
    u64::try_from(v)
        .ok()
        .filter(|d| *d <= MAX_DECIMALS)
        .map(|d| d as u8)
}

/// The text of a `bytes32` symbol: the bytes before the first zero, if they are UTF-8.
pub fn bytes32_text(word: FixedBytes<32>) -> Option<String> {
    let end = word.iter().position(|b| *b == 0).unwrap_or(32);
    std::str::from_utf8(&word[..end]).ok().map(str::to_string)
}

/// `s` without control characters and surrounding blanks, cut to `max` characters; `None`
/// when nothing printable is left.
pub fn clean(s: &str, max: usize) -> Option<String> {
    let s: String = s.chars().filter(|c| !c.is_control()).collect();
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    Some(s.chars().take(max).collect())
}

/// A `string` answer, else the same function read as `bytes32`, else `None`.
async fn text_or_bytes32<S, B>(
    rpc: &Rpc,
    token: Address,
    block: u64,
    as_string: &S,
    as_bytes32: &B,
) -> Result<Option<String>, RpcError>
where
    S: alloy::sol_types::SolCall<Return = String>,
    B: alloy::sol_types::SolCall<Return = FixedBytes<32>>,
{
    if let Some(s) = optional(rpc, token, as_string, block).await? {
        return Ok(Some(s));
    }
    Ok(optional(rpc, token, as_bytes32, block)
        .await?
        .and_then(bytes32_text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes32_symbols_read_up_to_their_first_zero() {
        let mut word = [0u8; 32];
        word[..3].copy_from_slice(b"MKR");
        assert_eq!(bytes32_text(word.into()), Some("MKR".to_string()));
        let mut garbage = [0u8; 32];
        garbage[0] = 0xff;
        assert_eq!(bytes32_text(garbage.into()), None);
        assert_eq!(
            bytes32_text([0u8; 32].into()).and_then(|s| clean(&s, 32)),
            None
        );
    }

    #[test]
    fn symbols_are_cleaned_and_cut() {
        assert_eq!(clean("  GST\n", 32), Some("GST".to_string()));
        assert_eq!(clean("\u{0}\u{1}", 32), None);
        assert_eq!(clean(&"X".repeat(40), 32).unwrap().len(), 32);
    }

    #[test]
    fn decimals_beyond_a_uint256_are_not_believed() {
        assert_eq!(decimals_of(U256::from(18)), Some(18));
        assert_eq!(decimals_of(U256::from(77)), Some(77));
        assert_eq!(decimals_of(U256::from(78)), None);
        assert_eq!(decimals_of(U256::MAX), None);
    }
}
