//! The failure service (not built yet; see issue "The failure service").
//!
//! What will live here: the axum router for `POST /v1/failures`, `POST /v1/degradations`
//! and `POST /v1/changes`; the incident state machine's storage adapters (DynamoDB with
//! conditional writes, SQLite); the notification queue (SQS, in-process) and the
//! notifier channels, one file each behind one trait. The state machine itself belongs
//! in `scoville-core`, which is pure.
//!
//! Until then this crate only fixes its name in the workspace; nothing here pretends to
//! handle failures.
