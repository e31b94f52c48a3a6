//! The HTTP API's query parameters: the query string of every route that takes one, read by
//! `parse_query` (what the `ApiQuery` extractor runs) into its parameter struct, then checked
//! by the struct's own method, as the handlers do. The same structs serve the CLI's flags.
//!
//! Properties: no panic; an error names a parameter in at most 64 characters; a query a route
//! accepts yields a filter within the documented bounds (a page of 1 to 1000, blocks, times and
//! indices that fit a signed 64-bit column, a range whose start is not after its end, a kind,
//! category, severity or rule among the known names); the empty query is accepted by every
//! route whose parameters are optional.
#![no_main]

use groupstate::holdings::{FlowQuery, MAX_FLOWS_PAGE};
use groupstate::query::{
    parse_query, AlertQuery, CheckpointQuery, ConsistencyQuery, CovenantUpdateQuery,
    DivergenceQuery, EntriesQuery, InclusionQuery, NoParams, ParamError, RecordQuery, UpdateQuery,
    MAX_LIMIT,
};
use libfuzzer_sys::fuzz_target;

fn parse<T: serde::de::DeserializeOwned>(query: Option<&str>) -> Result<T, ParamError> {
    let r = parse_query::<T>(query);
    if let Err(e) = &r {
        check_error(e);
    }
    r
}

fn check_error(e: &ParamError) {
    assert!(
        e.name.chars().count() <= 64,
        "an unbounded parameter name: {e}"
    );
    let _ = e.to_string();
}

fn checked<T>(r: Result<T, ParamError>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            check_error(&e);
            None
        }
    }
}

fn check_limit(limit: Option<i64>, max: i64) {
    let limit = limit.expect("a page has a limit");
    assert!((1..=max).contains(&limit), "limit {limit}");
}

fn check_range(from: Option<i64>, to: Option<i64>) {
    for v in [from, to].into_iter().flatten() {
        assert!(v >= 0, "a negative bound {v}");
    }
    if let (Some(a), Some(b)) = (from, to) {
        assert!(a <= b, "a range from {a} to {b}");
    }
}

fn fits(v: u64) {
    assert!(
        v <= i64::MAX as u64,
        "{v} does not fit a signed 64-bit column"
    );
}

fn run(query: Option<&str>) {
    if let Some(f) = parse::<RecordQuery>(query)
        .ok()
        .and_then(|q| checked(q.filter()))
    {
        check_limit(f.limit, MAX_LIMIT);
        check_range(f.from_block, f.to_block);
        check_range(f.from_time, f.to_time);
        if let Some(kind) = &f.kind {
            assert!((1..=64).contains(&kind.len()));
            assert!(kind
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.'));
        }
        if let Some(c) = &f.category {
            assert!(["decision", "transaction", "structure", "unknown"].contains(&c.as_str()));
        }
    }
    if let Some(f) = parse::<DivergenceQuery>(query)
        .ok()
        .and_then(|q| checked(q.filter()))
    {
        check_limit(f.limit, MAX_LIMIT);
        if let Some(s) = &f.severity {
            assert!(
                groupstate::query::parse_severity(s).is_some(),
                "severity {s}"
            );
        }
        if let Some(r) = &f.rule {
            assert!(!r.is_empty());
        }
    }
    if let Some(f) = parse::<AlertQuery>(query)
        .ok()
        .and_then(|q| checked(q.filter()))
    {
        check_limit(f.limit, MAX_LIMIT);
        if let Some(g) = &f.group {
            assert!((1..=128).contains(&g.len()), "group of {} bytes", g.len());
        }
    }
    if let Some(r) = parse::<FlowQuery>(query)
        .ok()
        .and_then(|q| checked(q.range()))
    {
        check_limit(r.limit, MAX_FLOWS_PAGE);
        check_range(r.from_block, r.to_block);
        check_range(r.from_time, r.to_time);
    }
    if let Some(q) = parse::<UpdateQuery>(query).ok() {
        if let Some(Some(b)) = checked(q.effective_block()) {
            fits(b);
        }
    }
    if let Some(q) = parse::<CovenantUpdateQuery>(query).ok() {
        if let Some(Some(v)) = checked(q.expected_version()) {
            assert!(v >= 0, "expected version {v}");
        }
    }
    let _ = parse::<CheckpointQuery>(query);
    let _ = parse::<NoParams>(query);
    if let Some((start, end)) = parse::<EntriesQuery>(query)
        .ok()
        .and_then(|q| checked(q.range()))
    {
        fits(start);
        end.map(fits);
    }
    if let Some((index, size)) = parse::<InclusionQuery>(query)
        .ok()
        .and_then(|q| checked(q.position()))
    {
        fits(index);
        size.map(fits);
    }
    if let Some((from, to)) = parse::<ConsistencyQuery>(query)
        .ok()
        .and_then(|q| checked(q.sizes()))
    {
        fits(from);
        to.map(fits);
    }
}

fuzz_target!(|data: &[u8]| {
    // Axum hands over the raw query as text; the form decoding within takes any bytes.
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    run(Some(query));
    if query.is_empty() {
        // No query at all reads as the empty one: every optional parameter absent.
        run(None);
        assert!(parse_query::<RecordQuery>(None)
            .and_then(|q| q.filter())
            .is_ok());
        assert!(parse_query::<FlowQuery>(None)
            .and_then(|q| q.range())
            .is_ok());
    }
});
