//! The one trait every check kind implements. The engine dispatches to the kinds with an
//! exhaustive match over [`scoville_core::CheckSpec`], so adding a kind means one spec in
//! the core crate, one module here, and one arm in `Engine::check`.

use crate::engine::Context;
use crate::trace::{Trace, Verdict};

/// A runnable check.
pub(crate) trait Check {
    /// Runs the check, recording what it measures in `trace`. The engine enforces the
    /// deadline around this future and may drop it at any await point.
    async fn run(&self, ctx: &Context, trace: &mut Trace) -> Verdict;
}
