//! Where the probe's endpoint list comes from, behind one trait: the admin API's paged
//! `GET /v1/probe/endpoints` ([`api::ApiSource`]) or a file ([`file::FileSource`]).

pub mod api;
pub mod file;

use futures::future::BoxFuture;
use scoville_core::ProbeEndpoint;
use scoville_core::wire::ProbeScope;

/// The list could not be had; the round is skipped and retried at the next interval.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Reading or parsing the file failed.
    #[error("endpoint file {path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What went wrong, naming the field where parsing failed.
        message: String,
    },
    /// The admin API could not be reached or answered badly.
    #[error("endpoint list from {url}: {message}")]
    Api {
        /// The URL asked.
        url: String,
        /// What went wrong.
        message: String,
    },
}

/// A source of endpoints.
pub trait EndpointSource: Send + Sync + std::fmt::Debug {
    /// The endpoints due in `scope`.
    fn fetch<'a>(
        &'a self,
        scope: &'a ProbeScope,
    ) -> BoxFuture<'a, Result<Vec<ProbeEndpoint>, SourceError>>;

    /// The endpoints due in `scope` at the round time `at_ms` (a simulated round's;
    /// none: now). Sources without a notion of due time list the same as [`Self::fetch`].
    fn fetch_at<'a>(
        &'a self,
        scope: &'a ProbeScope,
        at_ms: Option<i64>,
    ) -> BoxFuture<'a, Result<Vec<ProbeEndpoint>, SourceError>> {
        let _ = at_ms;
        self.fetch(scope)
    }
}
