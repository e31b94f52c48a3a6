//! The signatures a `POST`/`PUT /v1/groups…` request carries with its manifest, and the errors
//! of a refused ratification.
//!
//! Two forms: a JSON envelope `{"manifest": …, "signatures": [{"signer", "signature"}, …]}`
//! (the manifest as a JSON object, or as YAML or JSON text), or the manifest alone as the body
//! with the signatures as a JSON list in the `X-Groupstate-Signatures` header.

use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

use super::ApiError;
use crate::manifest::ratify::{parse_signatures, OwnerSignature, MAX_SIGNATURES};
use crate::ratify::RatifyError;

/// The header that may carry the signatures.
pub const SIGNATURES_HEADER: &str = "x-groupstate-signatures";

/// The manifest text and the signatures of a request body and its headers.
pub(super) fn submission(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(String, Vec<OwnerSignature>), ApiError> {
    let text = std::str::from_utf8(body).map_err(|_| ApiError::bad_body("is not UTF-8"))?;
    let mut signatures = match headers.get(SIGNATURES_HEADER) {
        Some(v) => {
            let v = v
                .to_str()
                .map_err(|_| bad_signatures("the header is not text"))?;
            parse_signatures(v).map_err(bad_signatures)?
        }
        None => Vec::new(),
    };
    let Some((manifest, list)) = envelope(text, "manifest")? else {
        return Ok((text.to_string(), signatures));
    };
    if let Some(list) = list {
        let list: Vec<OwnerSignature> = serde_json::from_value(list)
            .map_err(|e| bad_signatures(format!("not a list of signatures: {e}")))?;
        signatures.extend(list);
    }
    if signatures.len() > MAX_SIGNATURES {
        return Err(bad_signatures(format!(
            "{} signatures; at most {MAX_SIGNATURES} are accepted",
            signatures.len()
        )));
    }
    Ok((manifest, signatures))
}

/// A JSON envelope `{"<document>": …, "signatures": …}` in `text`, with the document as an
/// object or as text: the document's text and the signatures' value, if any. `None` when the
/// body is not such an envelope (the document alone).
pub(super) fn envelope(
    text: &str,
    document: &str,
) -> Result<Option<(String, Option<Value>)>, ApiError> {
    let mut envelope = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(o)) if o.contains_key(document) && !o.contains_key("id") => o,
        _ => return Ok(None),
    };
    if let Some(unknown) = envelope
        .keys()
        .find(|k| *k != document && *k != "signatures")
    {
        return Err(ApiError::bad_body(format!(
            "unknown key {unknown:?} in the envelope (expected {document}, signatures)"
        )));
    }
    let text = match envelope.remove(document) {
        Some(Value::String(s)) => s,
        Some(v @ Value::Object(_)) => v.to_string(),
        _ => {
            return Err(ApiError::bad_body(format!(
                "{document}: expected the {document} as an object or as text"
            )))
        }
    };
    Ok(Some((text, envelope.remove("signatures"))))
}

pub(super) fn bad_signatures(problem: impl std::fmt::Display) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        code: "bad_signatures",
        message: format!("signatures: {problem}"),
        details: None,
    }
}

impl From<RatifyError> for ApiError {
    fn from(e: RatifyError) -> ApiError {
        let (status, code) = match e {
            RatifyError::Store(s) => return s.into(),
            RatifyError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_ratification"),
            RatifyError::Required(_) => (StatusCode::UNPROCESSABLE_ENTITY, "ratification_required"),
            RatifyError::NoChain(_) => (StatusCode::SERVICE_UNAVAILABLE, "chain_unavailable"),
            RatifyError::Rpc(_) => {
                tracing::warn!(error = %e, "checking a ratification on the chain failed");
                (StatusCode::SERVICE_UNAVAILABLE, "chain_unavailable")
            }
        };
        ApiError {
            status,
            code,
            message: e.to_string(),
            details: None,
        }
    }
}
