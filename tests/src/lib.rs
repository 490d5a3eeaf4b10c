//! Scoville's end-to-end tests (not written yet; see the issue "One command runs all of
//! Scoville; end-to-end tests walk the whole story on real parts"), and the servers every
//! crate's tests share.
//!
//! - [`moto`]: moto's server, the AWS API emulator (DynamoDB, SQS), started on a free
//!   port for one test and killed when dropped.
//! - [`recorder`]: a recording HTTP server answering from a script, for third parties
//!   and scripted peers.
//! - [`redis`], [`influx`]: a real redis-server and influxd on free ports, restartable
//!   for outage tests.
//!
//! What will live here too: helpers that start every service as its own process on
//! port 0 with the production adapters, and the tests that walk the whole story.

pub mod influx;
pub mod moto;
pub mod recorder;
pub mod redis;
