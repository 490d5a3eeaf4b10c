//! The target farm: N HTTP endpoints on loopback with a known, deterministic delay mix,
//! recording for every request how long it really held it. It is what the probe's tests
//! and benchmark check against, so that the probe's reported times can be compared with
//! the truth.
//!
//! Routes:
//! - `GET /t/{i}[?run=TAG]`: target `i`, behaving as [`profile`] says (delay, 500, or
//!   hang); its hold time is recorded under `TAG`.
//! - `GET /__records?run=TAG`: the recorded holds, as JSON; `DELETE /__records` clears.
//! - `GET /v1/probe/endpoints?region=&shard=&shards=&cursor=`: the farm's targets as a
//!   paged endpoint list in the admin API's contract (a test fixture of that contract).
//! - `POST /v1/results`, `POST /v1/failures`: a recording sink in the receiver's and the
//!   failure service's contract; `POST /__sink/fail?count=N&status=S` makes the next N
//!   posts answer S (with `Retry-After: 0` on 503), to test retries.
//! - `GET /__sink`: what the sink has recorded; `GET /__count`: the number of targets.
//!
//! The delay mix: 0.5 % of targets hang past any timeout, 1 % answer 500, and delays are
//! log-normal with median 50 ms and p99 500 ms (σ = ln 10 / 2.326).

mod mix;
mod server;
mod state;

pub use mix::{ERROR_FRACTION, HANG_FRACTION, Profile, profile};
pub use server::{Farm, FarmConfig};
pub use state::{HoldRecord, SinkSnapshot};
