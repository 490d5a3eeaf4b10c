//! Moving endpoints in and out of an organization as one JSON file.
//!
//! - **Export** (`GET /v1/export`): `{"format": "scoville.endpoints/v1", "exported_at_ms",
//!   "endpoints": [...]}`, each endpoint in the shape `POST /v1/endpoints` takes (no id,
//!   no organization), so the file is also monitoring as code and a backup.
//! - **Import** (`POST /v1/import`): that file (or the answer of `GET /v1/endpoints`: ids
//!   and organizations are ignored), or an Uptime Kuma backup ([`kuma`]). Every endpoint
//!   is read by the same parser as `POST /v1/endpoints`, all before any is created:
//!   - in Scoville's own file, one bad endpoint refuses the whole file (422 naming
//!     `endpoints[i].<field>`), and nothing is created;
//!   - in a Kuma backup, a monitor Scoville cannot represent is skipped with its reason
//!     (`monitorList[i]: ...`), the rest are created.
//!
//!   An endpoint whose name the organization already has (or that came earlier in the
//!   file) is skipped, so importing a file twice creates nothing the second time.
//!   Channel ids that are not this organization's channels are dropped, and said so.
//!   `dry_run=true` answers what would happen and creates nothing. Kuma monitors have no
//!   regions: `regions=` names them (default: those of the organization's first
//!   endpoint). At most [`MAX_IMPORT_BYTES`] and [`MAX_IMPORT_ENDPOINTS`] per file.

pub mod kuma;

use serde::Serialize;
use serde_json::Value;

use crate::model::Endpoint;

/// The `format` of Scoville's file.
pub const FORMAT: &str = "scoville.endpoints/v1";
/// The largest import body.
pub const MAX_IMPORT_BYTES: usize = 8 * 1024 * 1024;
/// The most endpoints (or monitors) one import takes.
pub const MAX_IMPORT_ENDPOINTS: usize = 5_000;

/// The exported file.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExportFile {
    /// Always `scoville.endpoints/v1`.
    pub format: String,
    /// When, Unix ms.
    pub exported_at_ms: i64,
    /// Every endpoint, as `POST /v1/endpoints` takes it.
    #[schema(value_type = Vec<Object>)]
    pub endpoints: Vec<Value>,
}

/// The file of `endpoints`, exported at `now_ms`.
pub fn export(endpoints: &[Endpoint], now_ms: i64) -> ExportFile {
    ExportFile {
        format: FORMAT.into(),
        exported_at_ms: now_ms,
        endpoints: endpoints
            .iter()
            .filter_map(|e| serde_json::to_value(e).ok())
            .map(strip_ids)
            .collect(),
    }
}

/// An endpoint body without the keys only stored endpoints have.
fn strip_ids(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("id");
        o.remove("org_id");
    }
    v
}

/// Where an import's endpoints came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Scoville's own file (or a list of endpoints): strict.
    Scoville,
    /// An Uptime Kuma backup: what cannot be represented is skipped.
    Kuma,
}

/// One endpoint of an import file, before parsing.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Where it is in the file, e.g. `endpoints[3]` or `monitorList[3]`.
    pub at: String,
    /// Its name, as far as known.
    pub name: String,
    /// A `POST /v1/endpoints` body, or why it was skipped (Kuma only).
    pub body: Result<Value, String>,
}

/// What a file is not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FileError {
    /// The field at fault.
    pub field: String,
    /// Why.
    pub reason: String,
}

/// Reads `file`: which kind it is and its endpoints. `regions` are given to Kuma monitors.
pub fn read(file: &Value, regions: &[String]) -> Result<(Source, Vec<Item>), FileError> {
    let err = |field: &str, reason: &str| FileError {
        field: field.into(),
        reason: reason.into(),
    };
    let (source, items) = if kuma::is_backup(file) {
        if regions.is_empty() {
            return Err(err(
                "regions",
                "name the regions to check the imported monitors from (regions=eu-west-1,us-east-1)",
            ));
        }
        let items = kuma::monitors(file, regions)
            .into_iter()
            .map(|m| Item {
                at: format!("monitorList[{}]", m.index),
                name: m.name,
                body: m.body,
            })
            .collect::<Vec<_>>();
        (Source::Kuma, items)
    } else {
        let list = match file {
            Value::Array(list) => list,
            Value::Object(o) => {
                if let Some(f) = o.get("format")
                    && f != FORMAT
                {
                    return Err(err("format", &format!("must be {FORMAT:?}")));
                }
                o.get("endpoints").and_then(Value::as_array).ok_or_else(|| {
                    err(
                        "endpoints",
                        "must be a list (Scoville's export), or the file an Uptime Kuma backup (with monitorList)",
                    )
                })?
            }
            _ => {
                return Err(err(
                    "",
                    "must be Scoville's export or an Uptime Kuma backup",
                ));
            }
        };
        let items = list
            .iter()
            .enumerate()
            .map(|(i, e)| Item {
                at: format!("endpoints[{i}]"),
                name: e
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
                body: Ok(strip_ids(e.clone())),
            })
            .collect::<Vec<_>>();
        (Source::Scoville, items)
    };
    if items.len() > MAX_IMPORT_ENDPOINTS {
        let field = match source {
            Source::Kuma => "monitorList",
            Source::Scoville => "endpoints",
        };
        return Err(err(
            field,
            &format!("at most {MAX_IMPORT_ENDPOINTS} per file; split it"),
        ));
    }
    Ok((source, items))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn files_are_told_apart_and_ids_dropped() {
        let (source, items) = read(
            &json!({"format": FORMAT, "endpoints": [{"id": "ep_1", "org_id": "o", "name": " a "}]}),
            &[],
        )
        .unwrap();
        assert_eq!(source, Source::Scoville);
        assert_eq!(items[0].at, "endpoints[0]");
        assert_eq!(items[0].name, "a");
        assert_eq!(items[0].body, Ok(json!({"name": " a "})));
        let (source, _) = read(&json!([{"name": "b"}]), &[]).unwrap();
        assert_eq!(source, Source::Scoville);
        let e = read(&json!({"monitorList": []}), &[]).unwrap_err();
        assert_eq!(e.field, "regions");
        let e = read(&json!({"format": "other", "endpoints": []}), &[]).unwrap_err();
        assert_eq!(e.field, "format");
        let e = read(&json!({"things": []}), &[]).unwrap_err();
        assert_eq!(e.field, "endpoints");
        let many: Vec<Value> = (0..=MAX_IMPORT_ENDPOINTS).map(|_| json!({})).collect();
        assert_eq!(read(&json!(many), &[]).unwrap_err().field, "endpoints");
    }
}
