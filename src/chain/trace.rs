//! Call traces, where the node has them: every internal call of a transaction with the value it
//! moved, from `debug_traceTransaction` with the `callTracer` (geth, reth, erigon, anvil) or
//! `trace_transaction` (the Parity / OpenEthereum trace module: erigon, reth, Nethermind,
//! anvil). Hardhat 2 has neither: its `debug_traceTransaction` takes only the default
//! (struct-log) tracer, so `auto` finds no traces there. What the mode is comes from the configuration, or is detected once at
//! start (`auto`).
//!
//! Invariant: a trace lists only calls that took effect — a reverted call and everything under
//! it is left out, since the value it sent went back.

use alloy::primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};

use super::rpc::{Rpc, RpcError, RpcErrorKind};
pub use crate::config::TraceMode;

/// One call that took effect inside a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TracedCall {
    /// Where the call sits in the call tree: empty for the transaction's own call, `[0, 2]`
    /// for the third call made by the first call it made.
    pub path: Vec<usize>,
    /// `CALL`, `DELEGATECALL`, `STATICCALL`, `CALLCODE`, `CREATE`, `CREATE2`, `SELFDESTRUCT`.
    pub kind: String,
    pub from: Address,
    pub to: Address,
    pub value: U256,
}

impl TracedCall {
    /// Whether this call moved native value from `from` to `to` (a delegatecall or a static
    /// call moves none of its own).
    pub fn moves_value(&self) -> bool {
        !self.value.is_zero()
            && !matches!(
                self.kind.as_str(),
                "DELEGATECALL" | "STATICCALL" | "CALLCODE"
            )
    }

    /// The path written `0.2` (`-` for the transaction's own call).
    pub fn path_text(&self) -> String {
        if self.path.is_empty() {
            return "-".into();
        }
        self.path
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// A `callTracer` frame.
#[derive(Debug, Deserialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    from: Address,
    #[serde(default)]
    to: Option<Address>,
    #[serde(default)]
    value: Option<U256>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    calls: Vec<Frame>,
}

fn flatten_frame(frame: Frame, path: Vec<usize>, out: &mut Vec<TracedCall>) {
    if frame.error.is_some() {
        return;
    }
    out.push(TracedCall {
        path: path.clone(),
        kind: frame.kind.to_uppercase(),
        from: frame.from,
        to: frame.to.unwrap_or_default(),
        value: frame.value.unwrap_or_default(),
    });
    for (i, child) in frame.calls.into_iter().enumerate() {
        let mut p = path.clone();
        p.push(i);
        flatten_frame(child, p, out);
    }
}

/// A Parity-style trace entry.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ParityTrace {
    action: ParityAction,
    #[serde(default)]
    error: Option<String>,
    trace_address: Vec<usize>,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    result: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ParityAction {
    #[serde(default)]
    from: Option<Address>,
    #[serde(default)]
    to: Option<Address>,
    #[serde(default)]
    value: Option<U256>,
    #[serde(default)]
    call_type: Option<String>,
    /// `suicide`: the contract destroyed, and who received its balance.
    #[serde(default)]
    address: Option<Address>,
    #[serde(default)]
    refund_address: Option<Address>,
    #[serde(default)]
    balance: Option<U256>,
}

fn from_parity(traces: Vec<ParityTrace>) -> Vec<TracedCall> {
    let failed: Vec<Vec<usize>> = traces
        .iter()
        .filter(|t| t.error.is_some())
        .map(|t| t.trace_address.clone())
        .collect();
    traces
        .into_iter()
        .filter(|t| !failed.iter().any(|f| t.trace_address.starts_with(f)))
        .map(|t| {
            let a = t.action;
            let (kind, from, to, value) = match t.kind.as_str() {
                "suicide" => (
                    "SELFDESTRUCT".to_string(),
                    a.address.unwrap_or_default(),
                    a.refund_address.unwrap_or_default(),
                    a.balance.unwrap_or_default(),
                ),
                "create" => (
                    "CREATE".to_string(),
                    a.from.unwrap_or_default(),
                    t.result
                        .as_ref()
                        .and_then(|r| r["address"].as_str())
                        .and_then(|s| s.parse().ok())
                        .unwrap_or_default(),
                    a.value.unwrap_or_default(),
                ),
                _ => (
                    a.call_type.unwrap_or_else(|| "call".into()).to_uppercase(),
                    a.from.unwrap_or_default(),
                    a.to.unwrap_or_default(),
                    a.value.unwrap_or_default(),
                ),
            };
            TracedCall {
                path: t.trace_address,
                kind,
                from,
                to,
                value,
            }
        })
        .collect()
}

/// The calls of transaction `tx` that took effect, by the trace API of `mode` (`Debug` or
/// `Parity`). `None` when the node does not know the transaction.
pub async fn trace_transaction(
    rpc: &Rpc,
    mode: TraceMode,
    tx: B256,
) -> Result<Option<Vec<TracedCall>>, RpcError> {
    match mode {
        TraceMode::Debug => {
            let tracer = serde_json::json!({ "tracer": "callTracer" });
            let frame: Option<Frame> = rpc.request("debug_traceTransaction", (tx, tracer)).await?;
            Ok(frame.map(|f| {
                let mut out = Vec::new();
                flatten_frame(f, Vec::new(), &mut out);
                out
            }))
        }
        TraceMode::Parity => {
            let traces: Option<Vec<ParityTrace>> = rpc.request("trace_transaction", (tx,)).await?;
            Ok(traces.map(from_parity))
        }
        TraceMode::Auto | TraceMode::Off => Ok(None),
    }
}

/// Whether an error says the node lacks the method, or the call tracer it is asked for (not
/// that the call failed). Hardhat refuses any tracer but its default with "Hardhat currently
/// only supports the default tracer, so no tracer parameter should be passed".
fn unsupported(e: &RpcError) -> bool {
    let m = e.message.to_lowercase();
    e.kind == RpcErrorKind::Fatal
        && (m.contains("method not found")
            || m.contains("only supports the default tracer")
            || m.contains("-32601")
            || m.contains("does not exist")
            || m.contains("not supported")
            || m.contains("not available")
            || m.contains("unsupported")
            || m.contains("not enabled")
            || m.contains("disabled"))
}

/// The mode `configured` stands for on this node: `auto` asks the node for a trace of a
/// transaction it cannot know (the zero hash) and reads the answer — an unknown method means
/// no such API, anything else (an empty answer, "transaction not found") means it is there.
pub async fn detect(rpc: &Rpc, configured: TraceMode) -> Result<TraceMode, RpcError> {
    if configured != TraceMode::Auto {
        return Ok(configured);
    }
    let probes: [(TraceMode, &'static str, serde_json::Value); 2] = [
        (
            TraceMode::Debug,
            "debug_traceTransaction",
            serde_json::json!([B256::ZERO, { "tracer": "callTracer" }]),
        ),
        (
            TraceMode::Parity,
            "trace_transaction",
            serde_json::json!([B256::ZERO]),
        ),
    ];
    for (mode, method, params) in probes {
        // Any answer, even one of an unexpected shape, shows the method is there.
        match rpc.request::<_, serde_json::Value>(method, params).await {
            Ok(_) => return Ok(mode),
            Err(e) if unsupported(&e) => continue,
            Err(e) if e.kind == RpcErrorKind::Fatal => return Ok(mode),
            Err(e) => return Err(e),
        }
    }
    Ok(TraceMode::Off)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fatal(message: &str) -> RpcError {
        RpcError {
            method: "debug_traceTransaction",
            kind: RpcErrorKind::Fatal,
            message: message.into(),
            refusal: None,
            retry_after: None,
        }
    }

    #[test]
    fn a_missing_method_or_tracer_is_unsupported_and_an_unknown_transaction_is_not() {
        assert!(unsupported(&fatal(
            "server returned an error response: error code -32601: Method trace_transaction is not supported"
        )));
        assert!(unsupported(&fatal(
            "server returned an error response: error code -32602: Hardhat currently only supports the default tracer, so no tracer parameter should be passed."
        )));
        assert!(!unsupported(&fatal(
            "server returned an error response: error code -32000: transaction not found"
        )));
    }

    #[test]
    fn call_tracer_frames_flatten_without_reverted_subtrees() {
        let json = serde_json::json!({
            "type": "CALL", "from": "0x00000000000000000000000000000000000000e0",
            "to": "0x00000000000000000000000000000000000000a0", "value": "0x0",
            "calls": [
                { "type": "DELEGATECALL", "from": "0x00000000000000000000000000000000000000a0",
                  "to": "0x00000000000000000000000000000000000000b0",
                  "calls": [
                    { "type": "CALL", "from": "0x00000000000000000000000000000000000000a0",
                      "to": "0x00000000000000000000000000000000000000c1", "value": "0x6" }
                  ] },
                { "type": "CALL", "from": "0x00000000000000000000000000000000000000a0",
                  "to": "0x00000000000000000000000000000000000000c2", "value": "0x7",
                  "error": "execution reverted",
                  "calls": [
                    { "type": "CALL", "from": "0x00000000000000000000000000000000000000c2",
                      "to": "0x00000000000000000000000000000000000000c3", "value": "0x1" }
                  ] }
            ]
        });
        let frame: Frame = serde_json::from_value(json).unwrap();
        let mut out = Vec::new();
        flatten_frame(frame, Vec::new(), &mut out);
        let seen: Vec<(String, String, bool)> = out
            .iter()
            .map(|c| (c.path_text(), c.kind.clone(), c.moves_value()))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("-".into(), "CALL".into(), false),
                ("0".into(), "DELEGATECALL".into(), false),
                ("0.0".into(), "CALL".into(), true),
            ]
        );
        assert_eq!(out[2].value, U256::from(6));
    }

    #[test]
    fn parity_traces_drop_failed_subtrees() {
        let json = serde_json::json!([
            { "action": { "callType": "call", "from": "0x00000000000000000000000000000000000000e0",
                          "to": "0x00000000000000000000000000000000000000a0", "value": "0x0" },
              "traceAddress": [], "type": "call" },
            { "action": { "callType": "call", "from": "0x00000000000000000000000000000000000000a0",
                          "to": "0x00000000000000000000000000000000000000c1", "value": "0x5" },
              "traceAddress": [0], "type": "call", "error": "Reverted" },
            { "action": { "callType": "call", "from": "0x00000000000000000000000000000000000000c1",
                          "to": "0x00000000000000000000000000000000000000c3", "value": "0x1" },
              "traceAddress": [0, 0], "type": "call" },
            { "action": { "callType": "call", "from": "0x00000000000000000000000000000000000000a0",
                          "to": "0x00000000000000000000000000000000000000c2", "value": "0x2" },
              "traceAddress": [1], "type": "call" }
        ]);
        let traces: Vec<ParityTrace> = serde_json::from_value(json).unwrap();
        let out = from_parity(traces);
        let paths: Vec<String> = out.iter().map(|c| c.path_text()).collect();
        assert_eq!(paths, ["-", "1"]);
        assert_eq!(out[1].value, U256::from(2));
    }

    #[test]
    fn modes_parse_and_print() {
        for m in ["auto", "debug", "parity", "off"] {
            assert_eq!(m.parse::<TraceMode>().unwrap().to_string(), m);
        }
        assert!("geth"
            .parse::<TraceMode>()
            .unwrap_err()
            .contains("\"geth\""));
    }
}
