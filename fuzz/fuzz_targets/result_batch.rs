//! The receiver's result-batch parser (`POST /v1/results` and `POST /v1/failures`):
//! any bytes either parse or are refused with a field error, never a panic; what
//! parses serializes back to JSON that parses again to the same batch size and ids.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scoville_core::wire::ResultBatch;

fuzz_target!(|data: &[u8]| {
    let Ok(batch) = scoville_core::parse::from_json::<ResultBatch>(data) else {
        return;
    };
    let json = serde_json::to_vec(&batch).expect("a parsed batch serializes");
    let again: ResultBatch =
        scoville_core::parse::from_json(&json).expect("a serialized batch parses again");
    assert_eq!(again.results.len(), batch.results.len());
    for (a, b) in again.results.iter().zip(&batch.results) {
        assert_eq!(a.endpoint_id, b.endpoint_id);
        assert_eq!(a.org_id, b.org_id);
        assert_eq!(a.region, b.region);
        assert_eq!(a.started_at_ms, b.started_at_ms);
        assert_eq!(a.report.outcome, b.report.outcome);
    }
});
