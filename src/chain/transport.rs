//! The HTTP transport under [`super::rpc::Rpc`]: JSON-RPC over `reqwest`, like
//! alloy-transport-http's, except that a `429 Too Many Requests` or `503 Service Unavailable`
//! always comes back as an HTTP error carrying the answer's `Retry-After` — in seconds or as an
//! HTTP date — so that the retry loop can wait as long as the provider asked. (alloy's own
//! transport reads only the seconds form, and hands back a JSON-RPC error body instead of the
//! status, losing the header.)
//!
//! Invariant: any other answer is what alloy's transport would make of it: a JSON-RPC
//! response (whatever the status) is the node's answer; anything else is an HTTP error with
//! the status and body.

use std::task;
use std::time::{Duration, SystemTime};

use alloy::rpc::json_rpc::{RequestPacket, ResponsePacket};
use alloy::transports::{TransportError, TransportErrorKind, TransportFut, TransportResult};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use tower::Service;
use url::Url;

/// JSON-RPC over HTTP with `Retry-After` kept. Cheap to clone (one connection pool).
#[derive(Debug, Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
    url: Url,
}

impl HttpTransport {
    pub fn new(url: Url) -> HttpTransport {
        HttpTransport {
            client: reqwest::Client::new(),
            url,
        }
    }

    async fn send(self, req: RequestPacket) -> TransportResult<ResponsePacket> {
        let resp = self
            .client
            .post(self.url)
            .json(&req)
            .send()
            .await
            .map_err(TransportErrorKind::custom)?;
        let status = resp.status();
        let retry_after = retry_after(resp.headers(), SystemTime::now());
        let body = match resp.bytes().await {
            Ok(body) => body,
            Err(e) if status.is_success() => return Err(TransportErrorKind::custom(e)),
            Err(e) => {
                return Err(TransportErrorKind::http_error_with_retry_after(
                    status.as_u16(),
                    format!("<failed to read the body: {e}>"),
                    retry_after,
                ))
            }
        };
        let throttled = status.as_u16() == 429 || status.as_u16() == 503;
        if !status.is_success() {
            // A JSON-RPC answer with an error status is still the node's answer — unless the
            // provider throttles us, when the status and its Retry-After say more.
            if !throttled {
                if let Ok(packet) = serde_json::from_slice::<ResponsePacket>(&body) {
                    return Ok(packet);
                }
            }
            return Err(TransportErrorKind::http_error_with_retry_after(
                status.as_u16(),
                String::from_utf8_lossy(&body).into_owned(),
                retry_after,
            ));
        }
        serde_json::from_slice(&body)
            .map_err(|e| TransportError::deser_err(e, String::from_utf8_lossy(&body)))
    }
}

impl Service<RequestPacket> for HttpTransport {
    type Response = ResponsePacket;
    type Error = TransportError;
    type Future = TransportFut<'static>;

    fn poll_ready(&mut self, _cx: &mut task::Context<'_>) -> task::Poll<Result<(), Self::Error>> {
        // reqwest's client is always ready.
        task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: RequestPacket) -> Self::Future {
        Box::pin(self.clone().send(req))
    }
}

/// The wait a `Retry-After` header asks for (RFC 9110 §10.2.3): delay-seconds, or an HTTP date
/// (a date already past asks for no wait). `None` without the header or with a value that is
/// neither.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, value.parse().unwrap());
        h
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            retry_after(&headers("120"), now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after(&headers(" 3 "), now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:28:07 GMT"), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:27:00 GMT"), now),
            Some(Duration::ZERO),
            "a date already past"
        );
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&headers("-5"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }
}
