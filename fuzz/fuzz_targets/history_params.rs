//! The history API's query parameters (`/v1/endpoints/{id}/history` and `/results`),
//! from any query string: no panic; what is accepted is a non-empty range that ends
//! by `to`, and a result limit within bounds.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use scoville_admin_api::history::{HistoryQuery, ResultsQuery};

/// 2026-01-01T00:37Z.
const NOW: i64 = 1_767_227_820_000;

fuzz_target!(|data: &[u8]| {
    let params: HashMap<String, String> = url::form_urlencoded::parse(data).into_owned().collect();
    if let Ok(q) = HistoryQuery::parse(&params, NOW) {
        assert!(q.from_ms < q.to_ms, "{q:?}");
    }
    if let Ok(q) = ResultsQuery::parse(&params, NOW) {
        assert!(q.from_ms < q.to_ms, "{q:?}");
        assert!(q.limit >= 1, "{q:?}");
    }
});
