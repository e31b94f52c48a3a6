//! Token events beside ERC-20 `Transfer` (which stays [`super::GovernanceEvent::Transfer`]):
//! ERC-20 allowances, ERC-721 transfers and approvals, `ApprovalForAll` (ERC-721 and ERC-1155),
//! and ERC-1155 single and batch transfers. Bindings from `abis/tokens.sol`.
//!
//! ERC-20 and ERC-721 share the signatures of `Transfer` and `Approval`, so their topic0: they
//! are told apart by the number of topics (three for ERC-20, whose amount is in the data; four
//! for ERC-721, whose token id is indexed). A log of a known topic0 with any other layout is a
//! [`DecodeError::BadLayout`], never a panic.

use alloy::primitives::{Address, B256, U256};
use alloy::sol_types::SolEvent;
use serde::Serialize;

use super::{decimal, decimals, Category, DecodeError, RecordKind};

/// `sol!` bindings of `abis/tokens.sol`: the token and EIP-1967 proxy events.
pub mod abi {
    alloy::sol!("abis/tokens.sol");
}

use abi::IERC1155Events as ERC1155;
use abi::IERC20ApprovalEvents as ERC20;
use abi::IERC721Events as ERC721;

/// A typed ERC-20 allowance, ERC-721 or ERC-1155 event. Amounts and token ids serialise as
/// decimal strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TokenEvent {
    /// ERC-20 `Approval` (three topics): `owner` lets `spender` move up to `value`.
    Approval {
        owner: Address,
        spender: Address,
        #[serde(serialize_with = "decimal")]
        value: U256,
    },
    /// ERC-721 `Transfer` (four topics): one token moved.
    NftTransfer {
        from: Address,
        to: Address,
        #[serde(serialize_with = "decimal")]
        token_id: U256,
    },
    /// ERC-721 `Approval` (four topics): `approved` may move one token of `owner` (the zero
    /// address clears the approval).
    NftApproval {
        owner: Address,
        approved: Address,
        #[serde(serialize_with = "decimal")]
        token_id: U256,
    },
    /// ERC-721 / ERC-1155 `ApprovalForAll`: `operator` may (or may no longer) move every token of
    /// `owner` in the collection.
    ApprovalForAll {
        owner: Address,
        operator: Address,
        approved: bool,
    },
    /// ERC-1155 `TransferSingle`.
    TransferSingle {
        operator: Address,
        from: Address,
        to: Address,
        #[serde(serialize_with = "decimal")]
        id: U256,
        #[serde(serialize_with = "decimal")]
        value: U256,
    },
    /// ERC-1155 `TransferBatch`: `values[i]` of token `ids[i]`.
    TransferBatch {
        operator: Address,
        from: Address,
        to: Address,
        #[serde(serialize_with = "decimals")]
        ids: Vec<U256>,
        #[serde(serialize_with = "decimals")]
        values: Vec<U256>,
    },
}

impl TokenEvent {
    /// A stable record kind: `token.approval` or `nft.*`.
    pub fn kind(&self) -> RecordKind {
        match self {
            TokenEvent::Approval { .. } => RecordKind::TokenApproval,
            TokenEvent::NftTransfer { .. } => RecordKind::NftTransfer,
            TokenEvent::NftApproval { .. } => RecordKind::NftApproval,
            TokenEvent::ApprovalForAll { .. } => RecordKind::NftApprovalForAll,
            TokenEvent::TransferSingle { .. } => RecordKind::NftTransferSingle,
            TokenEvent::TransferBatch { .. } => RecordKind::NftTransferBatch,
        }
    }

    /// Transfers and approvals both move, or let someone move, the treasury's assets.
    pub fn category(&self) -> Category {
        Category::Transaction
    }

    /// `(from, to)` of a transfer, `(owner, spender / approved / operator)` of an approval (see
    /// [`super::GroupEvent::parties`]).
    pub fn parties(&self) -> (Address, Address) {
        match self {
            TokenEvent::Approval { owner, spender, .. } => (*owner, *spender),
            TokenEvent::NftTransfer { from, to, .. }
            | TokenEvent::TransferSingle { from, to, .. }
            | TokenEvent::TransferBatch { from, to, .. } => (*from, *to),
            TokenEvent::NftApproval {
                owner, approved, ..
            } => (*owner, *approved),
            TokenEvent::ApprovalForAll {
                owner, operator, ..
            } => (*owner, *operator),
        }
    }
}

/// `keccak256("Approval(address,address,uint256)")`: ERC-20 and ERC-721 alike.
pub const APPROVAL_TOPIC: B256 = ERC20::Approval::SIGNATURE_HASH;
/// `keccak256("ApprovalForAll(address,address,bool)")`: ERC-721 and ERC-1155 alike.
pub const APPROVAL_FOR_ALL_TOPIC: B256 = ERC721::ApprovalForAll::SIGNATURE_HASH;
/// `keccak256("TransferSingle(address,address,address,uint256,uint256)")`.
pub const TRANSFER_SINGLE_TOPIC: B256 = ERC1155::TransferSingle::SIGNATURE_HASH;
/// `keccak256("TransferBatch(address,address,address,uint256[],uint256[])")`.
pub const TRANSFER_BATCH_TOPIC: B256 = ERC1155::TransferBatch::SIGNATURE_HASH;

/// The topic0 values this module decodes on its own. ERC-721 `Transfer` is not among them: it
/// shares [`super::TRANSFER_TOPIC`] with ERC-20, and is handed here by [`is_nft_transfer`].
pub fn topics() -> Vec<B256> {
    vec![
        APPROVAL_TOPIC,
        APPROVAL_FOR_ALL_TOPIC,
        TRANSFER_SINGLE_TOPIC,
        TRANSFER_BATCH_TOPIC,
    ]
}

/// Whether a log is an ERC-721 `Transfer`: the ERC-20 `Transfer` topic0 with four topics.
pub fn is_nft_transfer(topics: &[B256]) -> bool {
    topics.len() == 4 && topics.first() == Some(&ERC721::Transfer::SIGNATURE_HASH)
}

/// The events fetched from any emitter because a treasury address is one of their indexed
/// parameters, by the topic that holds it: `(1, …)` transfers out of the treasury (ERC-20 and
/// ERC-721) and approvals it grants; `(2, …)` transfers into it (ERC-20 and ERC-721) and ERC-1155
/// transfers out of it; `(3, …)` ERC-1155 transfers into it. Each entry is one `eth_getLogs`
/// filter (its topic0 values are an OR).
pub fn treasury_topics() -> Vec<(usize, Vec<B256>)> {
    let transfer = super::TRANSFER_TOPIC;
    vec![
        (1, vec![transfer, APPROVAL_TOPIC, APPROVAL_FOR_ALL_TOPIC]),
        (
            2,
            vec![transfer, TRANSFER_SINGLE_TOPIC, TRANSFER_BATCH_TOPIC],
        ),
        (3, vec![TRANSFER_SINGLE_TOPIC, TRANSFER_BATCH_TOPIC]),
    ]
}

pub(super) fn bad(topics: &[B256], data: &[u8], reason: impl ToString) -> DecodeError {
    DecodeError::BadLayout {
        topic0: topics.first().copied().unwrap_or_default(),
        topics: topics.len(),
        data_len: data.len(),
        reason: reason.to_string(),
    }
}

/// Decodes a token event whose topic0 is one of [`topics`], or an ERC-721 `Transfer` (see
/// [`is_nft_transfer`]).
pub fn decode(topics: &[B256], data: &[u8]) -> Result<TokenEvent, DecodeError> {
    let t0 = *topics.first().ok_or(DecodeError::Anonymous)?;
    let err = |e: alloy::sol_types::Error| bad(topics, data, e);
    let event = if t0 == ERC721::Transfer::SIGNATURE_HASH {
        let e = ERC721::Transfer::decode_raw_log(topics, data).map_err(err)?;
        TokenEvent::NftTransfer {
            from: e.from,
            to: e.to,
            token_id: e.tokenId,
        }
    } else if t0 == APPROVAL_TOPIC {
        match topics.len() {
            3 => {
                let e = ERC20::Approval::decode_raw_log(topics, data).map_err(err)?;
                TokenEvent::Approval {
                    owner: e.owner,
                    spender: e.spender,
                    value: e.value,
                }
            }
            4 => {
                let e = ERC721::Approval::decode_raw_log(topics, data).map_err(err)?;
                TokenEvent::NftApproval {
                    owner: e.owner,
                    approved: e.approved,
                    token_id: e.tokenId,
                }
            }
            _ => {
                return Err(bad(
                    topics,
                    data,
                    "Approval has 3 topics (ERC-20) or 4 (ERC-721)",
                ))
            }
        }
    } else if t0 == APPROVAL_FOR_ALL_TOPIC {
        let e = ERC721::ApprovalForAll::decode_raw_log(topics, data).map_err(err)?;
        TokenEvent::ApprovalForAll {
            owner: e.owner,
            operator: e.operator,
            approved: e.approved,
        }
    } else if t0 == TRANSFER_SINGLE_TOPIC {
        let e = ERC1155::TransferSingle::decode_raw_log(topics, data).map_err(err)?;
        TokenEvent::TransferSingle {
            operator: e.operator,
            from: e.from,
            to: e.to,
            id: e.id,
            value: e.value,
        }
    } else if t0 == TRANSFER_BATCH_TOPIC {
        let e = ERC1155::TransferBatch::decode_raw_log(topics, data).map_err(err)?;
        if e.ids.len() != e.values.len() {
            return Err(bad(
                topics,
                data,
                format!(
                    "TransferBatch has {} ids but {} values",
                    e.ids.len(),
                    e.values.len()
                ),
            ));
        }
        TokenEvent::TransferBatch {
            operator: e.operator,
            from: e.from,
            to: e.to,
            ids: e.ids,
            values: e.values,
        }
    } else {
        return Err(DecodeError::UnknownTopic(t0));
    };
    Ok(event)
}

#[cfg(test)]
mod tests {
    use alloy::primitives::{Bytes, LogData};

    use super::*;
    use crate::decode::{decode_event, GovernanceEvent, GroupEvent, TRANSFER_TOPIC};

    fn a(n: u8) -> Address {
        Address::repeat_byte(n)
    }

    fn decode_log(log: &LogData) -> Result<GroupEvent, DecodeError> {
        decode_event(log.topics(), &log.data)
    }

    fn fields(event: &GroupEvent) -> serde_json::Value {
        serde_json::to_value(event).unwrap()
    }

    #[test]
    fn the_topic_constants_are_the_signatures() {
        use alloy::primitives::keccak256;
        assert_eq!(
            APPROVAL_TOPIC,
            keccak256("Approval(address,address,uint256)")
        );
        assert_eq!(ERC721::Approval::SIGNATURE_HASH, APPROVAL_TOPIC);
        assert_eq!(ERC721::Transfer::SIGNATURE_HASH, TRANSFER_TOPIC);
        assert_eq!(
            APPROVAL_FOR_ALL_TOPIC,
            keccak256("ApprovalForAll(address,address,bool)")
        );
        assert_eq!(
            TRANSFER_SINGLE_TOPIC,
            keccak256("TransferSingle(address,address,address,uint256,uint256)")
        );
        assert_eq!(
            TRANSFER_BATCH_TOPIC,
            keccak256("TransferBatch(address,address,address,uint256[],uint256[])")
        );
    }

    #[test]
    fn a_transfer_with_four_topics_is_an_nft_transfer() {
        let log = ERC721::Transfer {
            from: a(1),
            to: a(2),
            tokenId: U256::from(42),
        }
        .encode_log_data();
        assert_eq!(log.topics().len(), 4);
        assert!(log.data.is_empty());
        let event = decode_log(&log).unwrap();
        assert_eq!(
            event,
            GroupEvent::Token(TokenEvent::NftTransfer {
                from: a(1),
                to: a(2),
                token_id: U256::from(42),
            })
        );
        assert_eq!(event.kind(), RecordKind::NftTransfer);
        assert_eq!(event.kind().as_str(), "nft.transfer");
        assert_eq!(event.category(), Category::Transaction);
        assert_eq!(event.parties(), Some((a(1), a(2))));
        assert_eq!(
            fields(&event),
            serde_json::json!({
                "event": "nft_transfer",
                "from": a(1),
                "to": a(2),
                "token_id": "42",
            })
        );
    }

    #[test]
    fn a_transfer_with_three_topics_is_still_an_erc20_transfer() {
        let log = crate::decode::abi::gov::IERC20Events::Transfer {
            from: a(1),
            to: a(2),
            value: U256::from(7),
        }
        .encode_log_data();
        assert_eq!(log.topics().len(), 3);
        let event = decode_log(&log).unwrap();
        assert_eq!(
            event,
            GroupEvent::Governance(GovernanceEvent::Transfer {
                from: a(1),
                to: a(2),
                value: U256::from(7),
            })
        );
        assert_eq!(event.kind().as_str(), "token.transfer");
        assert_eq!(event.parties(), Some((a(1), a(2))));
    }

    #[test]
    fn approvals_are_told_apart_by_their_topic_count() {
        let erc20 = ERC20::Approval {
            owner: a(1),
            spender: a(2),
            value: U256::MAX,
        }
        .encode_log_data();
        let erc721 = ERC721::Approval {
            owner: a(1),
            approved: a(3),
            tokenId: U256::from(9),
        }
        .encode_log_data();
        assert_eq!(erc20.topics()[0], erc721.topics()[0], "same topic0");
        assert_eq!((erc20.topics().len(), erc721.topics().len()), (3, 4));

        let event = decode_log(&erc20).unwrap();
        assert_eq!(
            event,
            GroupEvent::Token(TokenEvent::Approval {
                owner: a(1),
                spender: a(2),
                value: U256::MAX,
            })
        );
        assert_eq!(event.kind().as_str(), "token.approval");
        assert_eq!(event.category(), Category::Transaction);
        assert_eq!(event.parties(), Some((a(1), a(2))));
        assert_eq!(fields(&event)["value"], U256::MAX.to_string());
        assert_eq!(fields(&event)["event"], "approval");

        let event = decode_log(&erc721).unwrap();
        assert_eq!(
            event,
            GroupEvent::Token(TokenEvent::NftApproval {
                owner: a(1),
                approved: a(3),
                token_id: U256::from(9),
            })
        );
        assert_eq!(event.kind().as_str(), "nft.approval");
        assert_eq!(event.parties(), Some((a(1), a(3))));
        assert_eq!(fields(&event)["token_id"], "9");
    }

    #[test]
    fn approval_for_all() {
        for approved in [true, false] {
            let log = ERC721::ApprovalForAll {
                owner: a(1),
                operator: a(4),
                approved,
            }
            .encode_log_data();
            let event = decode_log(&log).unwrap();
            assert_eq!(
                event,
                GroupEvent::Token(TokenEvent::ApprovalForAll {
                    owner: a(1),
                    operator: a(4),
                    approved,
                })
            );
            assert_eq!(event.kind().as_str(), "nft.approval_for_all");
            assert_eq!(event.parties(), Some((a(1), a(4))));
            assert_eq!(fields(&event)["approved"], approved);
            assert_eq!(fields(&event)["event"], "approval_for_all");
        }
    }

    #[test]
    fn erc1155_transfers() {
        let single = ERC1155::TransferSingle {
            operator: a(5),
            from: a(1),
            to: a(2),
            id: U256::from(3),
            value: U256::from(10),
        }
        .encode_log_data();
        let event = decode_log(&single).unwrap();
        assert_eq!(
            event,
            GroupEvent::Token(TokenEvent::TransferSingle {
                operator: a(5),
                from: a(1),
                to: a(2),
                id: U256::from(3),
                value: U256::from(10),
            })
        );
        assert_eq!(event.kind().as_str(), "nft.transfer_single");
        assert_eq!(event.category(), Category::Transaction);
        // The operator is not a party: the tokens move from `from` to `to`.
        assert_eq!(event.parties(), Some((a(1), a(2))));

        let batch = ERC1155::TransferBatch {
            operator: a(5),
            from: a(1),
            to: a(2),
            ids: vec![U256::from(1), U256::from(2)],
            values: vec![U256::from(100), U256::MAX],
        }
        .encode_log_data();
        let event = decode_log(&batch).unwrap();
        assert_eq!(event.kind().as_str(), "nft.transfer_batch");
        assert_eq!(event.parties(), Some((a(1), a(2))));
        assert_eq!(
            fields(&event),
            serde_json::json!({
                "event": "transfer_batch",
                "operator": a(5),
                "from": a(1),
                "to": a(2),
                "ids": ["1", "2"],
                "values": ["100", U256::MAX.to_string()],
            })
        );
    }

    #[test]
    fn a_batch_whose_lists_differ_in_length_is_a_bad_layout() {
        let batch = ERC1155::TransferBatch {
            operator: a(5),
            from: a(1),
            to: a(2),
            ids: vec![U256::from(1), U256::from(2)],
            values: vec![U256::from(100)],
        }
        .encode_log_data();
        let err = decode_log(&batch).unwrap_err();
        assert!(
            matches!(&err, DecodeError::BadLayout { reason, .. } if reason.contains("2 ids but 1 values")),
            "{err}"
        );
    }

    /// Every known topic0 with a layout of the wrong shape: an error naming the layout, no panic.
    #[test]
    fn malformed_logs_of_known_topics_are_bad_layouts() {
        let word = |n: u8| B256::with_last_byte(n);
        let cases: Vec<(Vec<B256>, Bytes)> = vec![
            // Transfer with too few or too many topics.
            (vec![TRANSFER_TOPIC, word(1)], Bytes::from(vec![0; 32])),
            (
                vec![TRANSFER_TOPIC, word(1), word(2), word(3), word(4)],
                Bytes::new(),
            ),
            // An ERC-20 transfer without its amount.
            (vec![TRANSFER_TOPIC, word(1), word(2)], Bytes::new()),
            // Approval with two or five topics, and an ERC-20 one with a short amount.
            (vec![APPROVAL_TOPIC, word(1)], Bytes::from(vec![0; 32])),
            (
                vec![APPROVAL_TOPIC, word(1), word(2), word(3), word(4)],
                Bytes::new(),
            ),
            (
                vec![APPROVAL_TOPIC, word(1), word(2)],
                Bytes::from(vec![0; 31]),
            ),
            // ApprovalForAll without its flag, or with the operator in the data.
            (vec![APPROVAL_FOR_ALL_TOPIC, word(1), word(2)], Bytes::new()),
            (
                vec![APPROVAL_FOR_ALL_TOPIC, word(1)],
                Bytes::from(vec![0; 64]),
            ),
            // ERC-1155 with a missing topic or truncated data.
            (
                vec![TRANSFER_SINGLE_TOPIC, word(1), word(2)],
                Bytes::from(vec![0; 64]),
            ),
            (
                vec![TRANSFER_SINGLE_TOPIC, word(1), word(2), word(3)],
                Bytes::from(vec![0; 40]),
            ),
            (
                vec![TRANSFER_BATCH_TOPIC, word(1), word(2), word(3)],
                Bytes::from(vec![0xff; 64]),
            ),
        ];
        for (topics, data) in cases {
            let err = decode_event(&topics, &data).unwrap_err();
            assert!(
                matches!(
                    &err,
                    DecodeError::BadLayout { topic0, topics: n, data_len, .. }
                        if *topic0 == topics[0] && *n == topics.len() && *data_len == data.len()
                ),
                "{topics:?} {data}: {err}"
            );
        }
    }

    #[test]
    fn treasury_topics_put_each_event_where_the_treasury_is() {
        let by_position: Vec<(usize, Vec<B256>)> = treasury_topics();
        assert_eq!(
            by_position.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        // A transfer out (topic 1) and in (topic 2); ERC-1155 from (topic 2) and to (topic 3).
        assert!(by_position[0].1.contains(&TRANSFER_TOPIC));
        assert!(by_position[0].1.contains(&APPROVAL_TOPIC));
        assert!(by_position[0].1.contains(&APPROVAL_FOR_ALL_TOPIC));
        assert!(by_position[1].1.contains(&TRANSFER_TOPIC));
        assert!(by_position[1].1.contains(&TRANSFER_SINGLE_TOPIC));
        assert!(by_position[2].1.contains(&TRANSFER_BATCH_TOPIC));
        assert!(!by_position[2].1.contains(&TRANSFER_TOPIC));
    }
}
