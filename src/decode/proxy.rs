//! EIP-1967 proxy events — `Upgraded`, `AdminChanged`, `BeaconUpgraded` — emitted by the proxy
//! in front of any declared contract (OpenZeppelin's transparent, UUPS and beacon proxies all
//! emit them through `ERC1967Utils`). They are fetched by emitter with the rest of the catalog,
//! so an upgrade of any declared contract is seen. Bindings from `abis/tokens.sol`.

use alloy::primitives::{Address, B256};
use alloy::sol_types::SolEvent;
use serde::Serialize;

use super::token::abi::IERC1967Events as ERC1967;
use super::token::bad;
use super::{Category, DecodeError, RecordKind};

/// A typed EIP-1967 proxy event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ProxyEvent {
    /// The proxy now delegates to `implementation`.
    Upgraded { implementation: Address },
    /// The proxy's admin changed.
    AdminChanged {
        previous_admin: Address,
        new_admin: Address,
    },
    /// The proxy now takes its implementation from `beacon`.
    BeaconUpgraded { beacon: Address },
}

impl ProxyEvent {
    /// A stable record kind: `proxy.upgraded`, `proxy.admin_changed` or `proxy.beacon_upgraded`.
    pub fn kind(&self) -> RecordKind {
        match self {
            ProxyEvent::Upgraded { .. } => RecordKind::ProxyUpgraded,
            ProxyEvent::AdminChanged { .. } => RecordKind::ProxyAdminChanged,
            ProxyEvent::BeaconUpgraded { .. } => RecordKind::ProxyBeaconUpgraded,
        }
    }

    /// A change of the code or of who may change it: structure.
    pub fn category(&self) -> Category {
        Category::Structure
    }
}

/// `keccak256("Upgraded(address)")`.
pub const UPGRADED_TOPIC: B256 = ERC1967::Upgraded::SIGNATURE_HASH;
/// `keccak256("AdminChanged(address,address)")`.
pub const ADMIN_CHANGED_TOPIC: B256 = ERC1967::AdminChanged::SIGNATURE_HASH;
/// `keccak256("BeaconUpgraded(address)")`.
pub const BEACON_UPGRADED_TOPIC: B256 = ERC1967::BeaconUpgraded::SIGNATURE_HASH;

/// Every EIP-1967 topic0.
pub fn topics() -> Vec<B256> {
    vec![UPGRADED_TOPIC, ADMIN_CHANGED_TOPIC, BEACON_UPGRADED_TOPIC]
}

/// Decodes a proxy event whose topic0 is one of [`topics`].
pub fn decode(topics: &[B256], data: &[u8]) -> Result<ProxyEvent, DecodeError> {
    let t0 = *topics.first().ok_or(DecodeError::Anonymous)?;
    let err = |e: alloy::sol_types::Error| bad(topics, data, e);
    let event = if t0 == UPGRADED_TOPIC {
        let e = ERC1967::Upgraded::decode_raw_log(topics, data).map_err(err)?;
        ProxyEvent::Upgraded {
            implementation: e.implementation,
        }
    } else if t0 == ADMIN_CHANGED_TOPIC {
        let e = ERC1967::AdminChanged::decode_raw_log(topics, data).map_err(err)?;
        ProxyEvent::AdminChanged {
            previous_admin: e.previousAdmin,
            new_admin: e.newAdmin,
        }
    } else if t0 == BEACON_UPGRADED_TOPIC {
        let e = ERC1967::BeaconUpgraded::decode_raw_log(topics, data).map_err(err)?;
        ProxyEvent::BeaconUpgraded { beacon: e.beacon }
    } else {
        return Err(DecodeError::UnknownTopic(t0));
    };
    Ok(event)
}

#[cfg(test)]
mod tests {
    use alloy::primitives::keccak256;

    use super::*;
    use crate::decode::{catalog_topics, decode_event, GroupEvent};

    fn a(n: u8) -> Address {
        Address::repeat_byte(n)
    }

    #[test]
    fn the_topic_constants_are_the_signatures() {
        assert_eq!(UPGRADED_TOPIC, keccak256("Upgraded(address)"));
        assert_eq!(
            ADMIN_CHANGED_TOPIC,
            keccak256("AdminChanged(address,address)")
        );
        assert_eq!(BEACON_UPGRADED_TOPIC, keccak256("BeaconUpgraded(address)"));
    }

    #[test]
    fn proxy_events_decode() {
        let upgraded = ERC1967::Upgraded {
            implementation: a(7),
        }
        .encode_log_data();
        assert_eq!(upgraded.topics().len(), 2);
        let event = decode_event(upgraded.topics(), &upgraded.data).unwrap();
        assert_eq!(
            event,
            GroupEvent::Proxy(ProxyEvent::Upgraded {
                implementation: a(7)
            })
        );
        assert_eq!(event.kind().as_str(), "proxy.upgraded");
        assert_eq!(event.category(), Category::Structure);
        assert_eq!(event.parties(), None);
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            serde_json::json!({ "event": "upgraded", "implementation": a(7) })
        );

        let admin = ERC1967::AdminChanged {
            previousAdmin: a(1),
            newAdmin: a(2),
        }
        .encode_log_data();
        assert_eq!(admin.topics().len(), 1);
        let event = decode_event(admin.topics(), &admin.data).unwrap();
        assert_eq!(
            event,
            GroupEvent::Proxy(ProxyEvent::AdminChanged {
                previous_admin: a(1),
                new_admin: a(2),
            })
        );
        assert_eq!(event.kind().as_str(), "proxy.admin_changed");
        assert_eq!(event.category(), Category::Structure);
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            serde_json::json!({ "event": "admin_changed", "previous_admin": a(1), "new_admin": a(2) })
        );

        let beacon = ERC1967::BeaconUpgraded { beacon: a(3) }.encode_log_data();
        let event = decode_event(beacon.topics(), &beacon.data).unwrap();
        assert_eq!(
            event,
            GroupEvent::Proxy(ProxyEvent::BeaconUpgraded { beacon: a(3) })
        );
        assert_eq!(event.kind().as_str(), "proxy.beacon_upgraded");
    }

    #[test]
    fn malformed_proxy_logs_are_bad_layouts() {
        let cases: Vec<(Vec<B256>, Vec<u8>)> = vec![
            // Upgraded with the implementation in the data instead of a topic.
            (vec![UPGRADED_TOPIC], vec![0; 32]),
            (vec![UPGRADED_TOPIC, B256::ZERO, B256::ZERO], vec![]),
            // AdminChanged with one address.
            (vec![ADMIN_CHANGED_TOPIC], vec![0; 32]),
            (vec![BEACON_UPGRADED_TOPIC], vec![]),
        ];
        for (topics, data) in cases {
            let err = decode_event(&topics, &data).unwrap_err();
            assert!(
                matches!(&err, DecodeError::BadLayout { topic0, .. } if *topic0 == topics[0]),
                "{topics:?}: {err}"
            );
        }
    }

    #[test]
    fn proxy_topics_are_fetched_by_emitter_and_token_topics_are_not() {
        let catalog = catalog_topics();
        for t in topics() {
            assert!(catalog.contains(&t), "{t}");
        }
        for t in crate::decode::token::topics() {
            assert!(!catalog.contains(&t), "{t}");
        }
        assert!(!catalog.contains(&crate::decode::TRANSFER_TOPIC));
        // Sorted, no repeats.
        assert!(catalog.windows(2).all(|w| w[0] < w[1]));
    }
}
