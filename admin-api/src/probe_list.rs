//! The probe's list, cached: every unpaused endpoint in its wire form, serialized once,
//! sorted by id, with what the route filters on (org, regions, shard hash, interval).
//!
//! How a change reaches the probes:
//! - A write through this instance patches the cache in place ([`ProbeListCache::put`],
//!   [`ProbeListCache::remove`]) when the store's generation shows it was the only write
//!   since the cache was built; otherwise the cache is dropped. Either way the probes'
//!   next fetch (their next round) sees it.
//! - A write through another instance bumps the store's generation, which every fetch
//!   reads (one small read), so the next fetch rebuilds the list from the store.
//! - Open incidents come from the incident log (the failure service writes it), read at
//!   most every [`OPEN_MAX_AGE`], and are flagged while a page is written: an incident
//!   confirmed now is flagged in the list within that time, so the probes start sending
//!   the endpoint's successes (what closes it) at their next round.
//! - Backoff ([`crate::backoff`]): with the open incidents come their confirmation times
//!   and, for endpoints that opted in, whether any region's latest result since the
//!   confirmation is a success (one bulk history read per organization with such
//!   endpoints, at the same pace). [`Snapshot::minutes`] is then an endpoint's interval
//!   for a round: backed off while its incident is open past `after_s` and no success has
//!   been seen since, its own otherwise.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use std::borrow::Cow;

use scoville_core::{ApdexT, EndpointId, OrgId, Region};
use scoville_incident_log::IncidentLog;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::sync::Mutex;

use crate::backoff::Backoff;
use crate::error::ApiError;
use crate::history::HistoryStore;
use crate::model::Endpoint;
use crate::store::AdminStore;

/// How long the set of endpoints with an open incident is reused.
pub const OPEN_MAX_AGE: Duration = Duration::from_secs(5);

/// The flag as serialized when off; pages swap it for [`FLAG_ON`] for open endpoints.
const FLAG_OFF: &str = "\"open_incident\":false";
const FLAG_ON: &str = "\"open_incident\":true";

/// FNV-1a, 64 bits: stable across processes and versions.
pub fn fnv1a64(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// One endpoint of the list.
#[derive(Debug, Clone)]
pub struct Entry {
    /// `fnv1a64(id)`: shard and due minute.
    pub hash: u64,
    /// Its organization.
    pub org: OrgId,
    /// Where it is checked.
    pub regions: Vec<Region>,
    /// Its interval in minutes (at least 1).
    pub minutes: u64,
    /// Its backoff, if it opted in.
    pub backoff: Option<Backoff>,
    /// Its id (the list's order and cursor).
    pub id: EndpointId,
    /// Its wire form, serialized once, with the open-incident flag off.
    json: String,
    /// Where [`FLAG_OFF`] starts in `json`.
    flag_at: usize,
}

/// What the list reads of a stored endpoint: the check spec stays raw JSON (it was
/// checked when stored), so a rebuild does not parse every URL and regex again.
#[derive(Deserialize)]
struct Stored<'a> {
    id: EndpointId,
    org_id: OrgId,
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    check: &'a RawValue,
    apdex_t_ms: ApdexT,
    #[serde(default)]
    mean_limit_ms: Option<u32>,
    regions: Vec<Region>,
    interval_s: u32,
    #[serde(default)]
    paused: bool,
    #[serde(default)]
    backoff: Option<Backoff>,
}

/// A stored check's kind, read without parsing the rest of it.
#[derive(Deserialize)]
struct CheckTag<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
}

/// [`ProbeEndpoint`]'s wire form with the check spec as stored (a test holds the two
/// byte for byte equal).
#[derive(Serialize)]
struct Wire<'a> {
    id: &'a EndpointId,
    org_id: &'a OrgId,
    name: &'a str,
    check: &'a RawValue,
    apdex_t_ms: ApdexT,
    #[serde(skip_serializing_if = "Option::is_none")]
    mean_limit_ms: Option<u32>,
    open_incident: bool,
}

impl Entry {
    /// From an endpoint's stored JSON; none for a paused endpoint or a heartbeat.
    fn from_doc(doc: &str) -> Result<Option<Self>, ApiError> {
        let bad = |e: serde_json::Error| ApiError::Unavailable(format!("stored endpoint: {e}"));
        let e: Stored<'_> = serde_json::from_str(doc).map_err(bad)?;
        // Heartbeats are pushed by the job: read the check's tag (wherever it sits in
        // the object; the rest is skipped unparsed).
        if e.paused
            || serde_json::from_str::<CheckTag<'_>>(e.check.get())
                .map_err(bad)?
                .kind
                == "heartbeat"
        {
            return Ok(None);
        }
        let json = serde_json::to_string(&Wire {
            id: &e.id,
            org_id: &e.org_id,
            name: &e.name,
            check: e.check,
            apdex_t_ms: e.apdex_t_ms,
            mean_limit_ms: e.mean_limit_ms,
            open_incident: false,
        })
        .map_err(bad)?;
        // The flag is the last field but a hex hash, so its last occurrence is the
        // field itself (user text inside strings has its quotes escaped anyway).
        let flag_at = json
            .rfind(FLAG_OFF)
            .ok_or_else(|| ApiError::Unavailable("wire form without open_incident".into()))?;
        Ok(Some(Self {
            hash: fnv1a64(e.id.as_str()),
            org: e.org_id,
            regions: e.regions,
            minutes: u64::from(e.interval_s / 60).max(1),
            backoff: e.backoff,
            id: e.id,
            json,
            flag_at,
        }))
    }

    /// From an endpoint; none when paused.
    fn of(e: &Endpoint) -> Result<Option<Self>, ApiError> {
        let doc = serde_json::to_string(e).map_err(|e| ApiError::Unavailable(e.to_string()))?;
        Self::from_doc(&doc)
    }

    /// Appends the wire form to `out`, flagged if `open`.
    pub fn write(&self, out: &mut String, open: bool) {
        if open {
            out.push_str(&self.json[..self.flag_at]);
            out.push_str(FLAG_ON);
            out.push_str(&self.json[self.flag_at + FLAG_OFF.len()..]);
        } else {
            out.push_str(&self.json);
        }
    }
}

#[derive(Debug)]
struct Built {
    generation: u64,
    entries: Arc<Vec<Entry>>,
}

/// Open endpoints that may be backed off: opted in, confirmation known, no success
/// since; the value is the confirmation time (Unix ms).
type BackedOff = Arc<HashMap<(OrgId, EndpointId), i64>>;

#[derive(Debug)]
struct OpenSet {
    at: Instant,
    set: Arc<HashSet<(OrgId, EndpointId)>>,
    backed_off: BackedOff,
}

/// What a page is written from.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Every unpaused endpoint, by id.
    pub entries: Arc<Vec<Entry>>,
    /// Endpoints with an open incident.
    pub open: Arc<HashSet<(OrgId, EndpointId)>>,
    /// Open endpoints that may be backed off, with their confirmation time.
    pub backed_off: BackedOff,
}

impl Snapshot {
    /// Whether `e` has an open incident.
    pub fn is_open(&self, e: &Entry) -> bool {
        !self.open.is_empty() && self.open.contains(&(e.org.clone(), e.id.clone()))
    }

    /// `e`'s interval in minutes for the round at `at_ms`: backed off while its incident
    /// is open past its `after_s` with no success seen since, its own otherwise.
    pub fn minutes(&self, e: &Entry, at_ms: i64) -> u64 {
        let Some(b) = &e.backoff else {
            return e.minutes;
        };
        if self.backed_off.is_empty() {
            return e.minutes;
        }
        match self.backed_off.get(&(e.org.clone(), e.id.clone())) {
            Some(confirmed) => b.minutes(e.minutes, at_ms.saturating_sub(*confirmed)),
            None => e.minutes,
        }
    }

    /// The interval in seconds endpoint `id` of `org` is checked at in the round at
    /// `at_ms`, when backed off (longer than its own); none otherwise.
    pub fn backed_off_interval_s(&self, org: &OrgId, id: &EndpointId, at_ms: i64) -> Option<u32> {
        let i = self
            .entries
            .binary_search_by(|e| e.id.as_str().cmp(id.as_str()))
            .ok()?;
        let e = &self.entries[i];
        if e.org != *org {
            return None;
        }
        let m = self.minutes(e, at_ms);
        (m > e.minutes).then(|| u32::try_from(m * 60).unwrap_or(u32::MAX))
    }
}

/// The probe list cache.
#[derive(Debug)]
pub struct ProbeListCache {
    built: Mutex<Option<Built>>,
    open: Mutex<Option<OpenSet>>,
    open_max_age: Duration,
    rebuilds: AtomicU64,
}

impl Default for ProbeListCache {
    fn default() -> Self {
        Self::with_open_max_age(OPEN_MAX_AGE)
    }
}

impl ProbeListCache {
    /// A cache re-reading open incidents after `max_age` ([`OPEN_MAX_AGE`] by default).
    pub fn with_open_max_age(max_age: Duration) -> Self {
        Self {
            built: Mutex::default(),
            open: Mutex::default(),
            open_max_age: max_age,
            rebuilds: AtomicU64::new(0),
        }
    }

    /// How many times the list was built from the store.
    pub fn rebuilds(&self) -> u64 {
        self.rebuilds.load(Ordering::Relaxed)
    }

    /// The current list and open incidents, rebuilt or re-read as needed; `history`
    /// tells whether a backed-off endpoint has succeeded since (none: nothing is backed
    /// off).
    pub async fn snapshot(
        &self,
        store: &dyn AdminStore,
        log: Option<&dyn IncidentLog>,
        history: Option<&dyn HistoryStore>,
    ) -> Result<Snapshot, ApiError> {
        let entries = self.entries(store).await?;
        let (open, backed_off) = self.open(log, history, &entries).await?;
        Ok(Snapshot {
            entries,
            open,
            backed_off,
        })
    }

    async fn entries(&self, store: &dyn AdminStore) -> Result<Arc<Vec<Entry>>, ApiError> {
        let generation = store.generation().await?;
        let mut built = self.built.lock().await;
        if let Some(b) = built.as_ref()
            && b.generation == generation
        {
            return Ok(b.entries.clone());
        }
        self.rebuilds.fetch_add(1, Ordering::Relaxed);
        let mut entries = Vec::new();
        for doc in store.all_endpoint_docs().await? {
            entries.extend(Entry::from_doc(&doc)?);
        }
        let entries = Arc::new(entries);
        *built = Some(Built {
            generation,
            entries: entries.clone(),
        });
        Ok(entries)
    }

    async fn open(
        &self,
        log: Option<&dyn IncidentLog>,
        history: Option<&dyn HistoryStore>,
        entries: &[Entry],
    ) -> Result<(Arc<HashSet<(OrgId, EndpointId)>>, BackedOff), ApiError> {
        let Some(log) = log else {
            return Ok(Default::default());
        };
        let mut open = self.open.lock().await;
        if let Some(o) = open.as_ref()
            && o.at.elapsed() < self.open_max_age
        {
            return Ok((o.set.clone(), o.backed_off.clone()));
        }
        let rows = log
            .open_endpoints_since()
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
        let backed_off = Arc::new(backed_off(history, entries, &rows).await);
        let set: Arc<HashSet<_>> = Arc::new(rows.into_iter().map(|(o, e, _)| (o, e)).collect());
        *open = Some(OpenSet {
            at: Instant::now(),
            set: set.clone(),
            backed_off: backed_off.clone(),
        });
        Ok((set, backed_off))
    }

    /// After this instance wrote `endpoint`: patches the cache if that write is the only
    /// one since it was built, else drops it.
    pub async fn put(&self, store: &dyn AdminStore, endpoint: &Endpoint) {
        let Ok(entry) = Entry::of(endpoint) else {
            *self.built.lock().await = None;
            return;
        };
        self.patch(store, &endpoint.org_id, &endpoint.id, entry)
            .await;
    }

    /// After this instance deleted an endpoint: as [`ProbeListCache::put`].
    pub async fn remove(&self, store: &dyn AdminStore, org: &OrgId, id: &EndpointId) {
        self.patch(store, org, id, None).await;
    }

    async fn patch(
        &self,
        store: &dyn AdminStore,
        org: &OrgId,
        id: &EndpointId,
        entry: Option<Entry>,
    ) {
        let generation = store.generation().await.ok();
        let mut built = self.built.lock().await;
        let Some(b) = built.as_mut() else { return };
        if generation != Some(b.generation + 1) {
            *built = None;
            return;
        }
        let entries = Arc::make_mut(&mut b.entries);
        match entries.binary_search_by(|e| e.id.as_str().cmp(id.as_str())) {
            Ok(i) if entries[i].org == *org => match entry {
                Some(e) => entries[i] = e,
                None => {
                    entries.remove(i);
                }
            },
            // Ids are unique across orgs; another org's entry here means the cache is
            // not what this write assumed.
            Ok(_) => {
                *built = None;
                return;
            }
            Err(i) => {
                if let Some(e) = entry {
                    entries.insert(i, e);
                }
            }
        }
        b.generation += 1;
    }
}

/// Of the open endpoints, those opted in to backoff whose confirmation is known and
/// whose latest results since it (any region) are all failures, with that confirmation.
/// An organization whose history cannot be read has none backed off this time.
async fn backed_off(
    history: Option<&dyn HistoryStore>,
    entries: &[Entry],
    open: &[(OrgId, EndpointId, Option<i64>)],
) -> HashMap<(OrgId, EndpointId), i64> {
    let mut out = HashMap::new();
    let Some(history) = history else {
        return out;
    };
    let mut by_org: HashMap<&OrgId, Vec<(EndpointId, i64)>> = HashMap::new();
    for (org, id, confirmed) in open {
        let Some(confirmed) = confirmed else { continue };
        let Ok(i) = entries.binary_search_by(|e| e.id.as_str().cmp(id.as_str())) else {
            continue;
        };
        if entries[i].org == *org && entries[i].backoff.is_some() {
            by_org
                .entry(org)
                .or_default()
                .push((id.clone(), *confirmed));
        }
    }
    for (org, asks) in by_org {
        match history.latest_many(org, &asks).await {
            Ok(latest) => {
                for ((id, confirmed), rows) in asks.into_iter().zip(latest) {
                    if !rows.iter().any(|r| r.up) {
                        out.insert((org.clone(), id), confirmed);
                    }
                }
            }
            Err(e) => tracing::warn!(org = org.as_str(), error = %e,
                "latest results unreadable: no backoff this time"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::model::EndpointInput;

    fn endpoint(body: serde_json::Value) -> Endpoint {
        let input: EndpointInput = serde_json::from_value(body).unwrap();
        input
            .into_endpoint(
                EndpointId::parse("ep_1").unwrap(),
                OrgId::parse("org_1").unwrap(),
            )
            .unwrap()
    }

    #[test]
    fn the_wire_form_is_the_probe_endpoints_byte_for_byte() {
        let cases = [
            serde_json::json!({"name": "shop \"<b>\" \u{e9}", "check": {"type": "http", "url": "https://shop.example/health?a=1&b=\"x\"", "method": "POST", "headers": {"x-a": "1"}, "body": "{\"open_incident\":false}", "assertions": [{"type": "body_regex", "pattern": "\"open_incident\":false"}]}, "regions": ["eu-west-1", "us-east-1"], "apdex_t_ms": 250, "mean_limit_ms": 900}),
            serde_json::json!({"name": "db", "check": {"type": "tcp", "host": "db.example", "port": 5432}, "regions": ["eu-west-1"], "confirm_regions": 1, "interval_s": 300}),
            serde_json::json!({"name": "dns", "check": {"type": "dns", "name": "example.com", "record_type": "A", "expected": ["93.184.215.14"]}, "regions": ["eu-west-1", "us-east-1"]}),
        ];
        for body in cases {
            let e = endpoint(body);
            let entry = Entry::of(&e).unwrap().unwrap();
            let mut wire = ProbeEndpointFor::of(&e, false);
            assert_eq!(entry.json, serde_json::to_string(&wire.0).unwrap());
            let mut flagged = String::new();
            entry.write(&mut flagged, true);
            wire = ProbeEndpointFor::of(&e, true);
            assert_eq!(flagged, serde_json::to_string(&wire.0).unwrap());
        }
        let mut paused = endpoint(
            serde_json::json!({"name": "p", "check": {"type": "tcp", "host": "h.example", "port": 1}, "regions": ["eu-west-1"], "confirm_regions": 1}),
        );
        paused.paused = true;
        assert!(Entry::of(&paused).unwrap().is_none());
    }

    #[test]
    fn heartbeats_are_left_out_wherever_their_tag_sits() {
        let doc = |check: &str| {
            format!(
                r#"{{"id":"ep_1","org_id":"org_1","name":"n","check":{check},"apdex_t_ms":500,"regions":["eu-west-1"],"interval_s":60}}"#
            )
        };
        for check in [
            r#"{"type":"heartbeat","period_s":60,"grace_s":30}"#,
            r#"{"period_s":60,"type":"heartbeat","grace_s":30}"#,
        ] {
            assert!(Entry::from_doc(&doc(check)).unwrap().is_none(), "{check}");
        }
        // A check that merely mentions the word is listed.
        let tcp = r#"{"type":"tcp","host":"heartbeat.example","port":1}"#;
        assert!(Entry::from_doc(&doc(tcp)).unwrap().is_some());
    }

    struct ProbeEndpointFor(scoville_core::ProbeEndpoint);

    impl ProbeEndpointFor {
        fn of(e: &Endpoint, open: bool) -> Self {
            Self(scoville_core::ProbeEndpoint {
                id: e.id.clone(),
                org_id: e.org_id.clone(),
                name: e.name.clone(),
                check: e.check.clone(),
                apdex_t_ms: e.apdex_t_ms,
                mean_limit_ms: e.mean_limit_ms,
                open_incident: open,
                last_body_hash: None,
            })
        }
    }
}
