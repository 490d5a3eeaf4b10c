//! Scoville's end-to-end tests (not written yet; see the issue "One command runs all of
//! Scoville; end-to-end tests walk the whole story on real parts").
//!
//! What will live here: helpers that start every service as its own process on port 0
//! with the production adapters (a real Redis, a real InfluxDB, moto's server for
//! DynamoDB and SQS), the target farm (`scoville-target-farm`), a recording webhook
//! server, and the tests that walk the whole story: an org and its endpoints created
//! through the API, probe rounds from two regions, history, one "down" and one
//! "recovered" notification, a degradation notice, and silence for a one-region blip.
//!
//! Until then this crate only fixes its name; the probe's own tests against real local
//! servers live in `check-engine/tests` and `probe/tests`.
