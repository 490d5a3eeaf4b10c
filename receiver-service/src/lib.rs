//! The receiver service (not built yet; see issue "The receiver pipeline").
//!
//! What will live here: the axum router for `POST /v1/results` (probe token, size and
//! batch limits, 201 once queued, 503 with Retry-After when the queue is full); the
//! reliable queue adapters (Redis, in-process); the worker that drains the queue into
//! InfluxDB (v1 HTTP API, line protocol) or SQLite with per-minute rollups, and the Apdex
//! trend analysis that reports degradations to the failure service.
//!
//! Until then this crate only fixes its name in the workspace; nothing here pretends to
//! receive results. The probe already speaks its contract (`scoville_core::wire`).
