//! Endpoints from a file, for standalone use: JSON (`{"endpoints": [...]}`) or TOML
//! (`[[endpoints]]` tables), read afresh every round so edits take effect without a
//! restart. Sharding applies as it would in the admin API: stable by endpoint id.

use std::path::PathBuf;

use futures::FutureExt;
use futures::future::BoxFuture;
use scoville_core::ProbeEndpoint;
use scoville_core::wire::{EndpointPage, ProbeScope};

use super::{EndpointSource, SourceError};

/// A JSON or TOML endpoint file.
#[derive(Debug, Clone)]
pub struct FileSource {
    path: PathBuf,
}

impl FileSource {
    /// A source reading `path` (`.toml` is TOML, anything else JSON).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Reads and parses the whole file.
    pub fn load(&self) -> Result<Vec<ProbeEndpoint>, SourceError> {
        let error = |message: String| SourceError::File {
            path: self.path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(&self.path).map_err(|e| error(e.to_string()))?;
        let value: serde_json::Value = if self.path.extension().is_some_and(|e| e == "toml") {
            let table: toml::Table = toml::from_str(&text).map_err(|e| error(e.to_string()))?;
            serde_json::to_value(table).map_err(|e| error(e.to_string()))?
        } else {
            serde_json::from_str(&text).map_err(|e| error(e.to_string()))?
        };
        let page: EndpointPage =
            scoville_core::parse::from_value(value).map_err(|e| error(e.to_string()))?;
        let mut seen = std::collections::HashSet::new();
        for e in &page.endpoints {
            if !seen.insert(e.id.clone()) {
                return Err(error(format!("endpoint id {} appears twice", e.id)));
            }
        }
        Ok(page.endpoints)
    }
}

/// Whether endpoint `id` belongs to `scope`'s shard: FNV-1a of the id, modulo shards.
pub fn in_shard(id: &scoville_core::EndpointId, scope: &ProbeScope) -> bool {
    let h = id.as_str().bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    h % u64::from(scope.shard.count()) == u64::from(scope.shard.index())
}

impl EndpointSource for FileSource {
    fn fetch<'a>(
        &'a self,
        scope: &'a ProbeScope,
    ) -> BoxFuture<'a, Result<Vec<ProbeEndpoint>, SourceError>> {
        async move {
            let all = self.load()?;
            Ok(all.into_iter().filter(|e| in_shard(&e.id, scope)).collect())
        }
        .boxed()
    }
}
