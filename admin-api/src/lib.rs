//! The admin API (not built yet; see issue "The admin API").
//!
//! What will live here: organizations, users, sessions, API keys and probe tokens;
//! endpoints and alert channels; `GET /v1/probe/endpoints` (the paged list each probe
//! fetches every round, whose wire types are in `scoville_core::wire`); the history API
//! over InfluxDB or SQLite; and later the web UI.
//!
//! Until then this crate only fixes its name in the workspace; nothing here pretends to
//! serve anything.
