//! Scoville's end-to-end tests (`tests/e2e.rs`: every service as its own process on the
//! production adapters, walking the whole story; `tests/infra.rs`: the adapters on what
//! `infra/` creates), and the servers every crate's tests share.
//!
//! - [`moto`]: moto's server, the AWS API emulator (DynamoDB, SQS), started on a free
//!   port for one test and killed when dropped.
//! - [`recorder`]: a recording HTTP server answering from a script, for third parties
//!   and scripted peers.
//! - [`redis`], [`influx`]: a real redis-server and influxd on free ports, restartable
//!   for outage tests.
//! - [`procs`]: the workspace's service binaries as child processes (built once, killed,
//!   stopped, resumed, restarted), for the system suites.
//! - [`launch`]: the system suites' launcher (`tests/e2e.rs`, `tests/faults_*.rs`): from
//!   a plan of services and adapters, their configurations written and their processes
//!   started, restartable one by one; and the suites' common talk to them.
//! - [`browser`]: Debian's headless Chromium driven through chromedriver, for the web
//!   UI's tests and benchmarks.

pub mod browser;
pub mod influx;
pub mod launch;
pub mod moto;
pub mod procs;
pub mod recorder;
pub mod redis;
