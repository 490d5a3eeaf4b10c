//! Monitoring as code: alert channels and endpoints declared in a TOML file, reconciled
//! into the first organization at start and on every reload (SIGHUP).
//!
//! ```toml
//! [[channels]]
//! name = "ops"
//! config = { type = "webhook", url = "https://hooks.example.com/scoville" }
//!
//! [[endpoints]]
//! name = "shop"
//! check = { type = "http", url = "https://shop.example.com/health" }
//! channels = ["ops"]        # by name
//! # regions default to the probe's region (heartbeats have none), confirm_regions to 1
//! # with one region;
//! # every other field is the API's (interval_s, apdex_t_ms, tags, ...).
//! ```
//!
//! Declared things get ids derived from their names (`cfg_<hash>`), so a reload updates
//! them in place; things with such ids that the file no longer declares are deleted;
//! things created through the API or the UI are never touched. A file with an error is
//! refused whole, naming the entry and the field, and nothing changes.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, bail};
use scoville_admin_api::model::{AlertChannel, EndpointInput};
use scoville_admin_api::store::AdminStore;
use scoville_core::{EndpointId, OrgId};
use serde::Deserialize;

/// The prefix of ids of declared things.
pub const PREFIX: &str = "cfg_";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    channels: Vec<ChannelDecl>,
    #[serde(default)]
    endpoints: Vec<toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelDecl {
    name: String,
    config: toml::Table,
}

/// What a reconciliation changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Channels and endpoints created or changed.
    pub written: usize,
    /// Left as they were.
    pub unchanged: usize,
    /// Deleted (no longer declared).
    pub deleted: usize,
}

fn id_for(kind: &str, name: &str) -> String {
    let h = scoville_admin_api::probe_list::fnv1a64(&format!("{kind}\0{name}"));
    format!("{PREFIX}{h:016x}")
}

/// Reads `path` and reconciles it into `org`; `region` is the default region.
pub async fn reconcile(
    store: &dyn AdminStore,
    org: &OrgId,
    path: &Path,
    region: &str,
) -> anyhow::Result<Report> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file: File = toml::from_str(&text).with_context(|| format!("{}", path.display()))?;
    let mut report = Report::default();

    // Channels first: endpoints name them.
    let mut channels = Vec::new();
    let mut names = BTreeSet::new();
    for (i, c) in file.channels.iter().enumerate() {
        let at = format!("channels[{i}] ({})", c.name);
        if c.name.trim().is_empty() || !names.insert(c.name.clone()) {
            bail!("{at}: name must be set and unique");
        }
        let value = serde_json::to_value(&c.config)?;
        let parsed = scoville_notifier::channel::ChannelConfig::parse_value(value.clone())
            .map_err(|e| anyhow::anyhow!("{at}: config.{}: {}", e.field, e.message))?;
        let kind = value["type"].as_str().unwrap_or_default().to_string();
        drop(parsed);
        let channel = AlertChannel {
            id: id_for("channel", &c.name),
            name: c.name.clone(),
            kind,
        };
        channels.push((channel, serde_json::to_string(&value)?));
    }
    let mut endpoints = Vec::new();
    let mut names = BTreeSet::new();
    for (i, table) in file.endpoints.iter().enumerate() {
        let mut value = serde_json::to_value(table)?;
        let name = value["name"].as_str().unwrap_or_default().to_string();
        let at = format!("endpoints[{i}] ({name})");
        if name.trim().is_empty() || !names.insert(name.clone()) {
            bail!("{at}: name must be set and unique");
        }
        let obj = value
            .as_object_mut()
            .context("an endpoint must be a table")?;
        if let Some(named) = obj.remove("channels") {
            let mut ids = Vec::new();
            for n in named
                .as_array()
                .context(format!("{at}: channels must be a list of names"))?
            {
                let n = n.as_str().unwrap_or_default();
                if !file.channels.iter().any(|c| c.name == n) {
                    bail!("{at}: channels: no channel named {n:?} in the file");
                }
                ids.push(serde_json::Value::String(id_for("channel", n)));
            }
            obj.insert("channels".into(), ids.into());
        }
        // A heartbeat is pushed by the job: it has no regions.
        let pushed = obj
            .get("check")
            .and_then(|c| c.get("type"))
            .is_some_and(|t| t == "heartbeat");
        if !obj.contains_key("regions") && !pushed {
            obj.insert("regions".into(), serde_json::json!([region]));
        }
        if !obj.contains_key("confirm_regions")
            && obj
                .get("regions")
                .and_then(|r| r.as_array())
                .is_some_and(|r| r.len() == 1)
        {
            obj.insert("confirm_regions".into(), 1.into());
        }
        let input: EndpointInput =
            scoville_core::parse::from_value(value).map_err(|e| anyhow::anyhow!("{at}: {e}"))?;
        let id = EndpointId::parse(id_for("endpoint", &name)).map_err(anyhow::Error::msg)?;
        let endpoint = input
            .into_endpoint(id, org.clone())
            .map_err(|e| anyhow::anyhow!("{at}: {e}"))?;
        endpoints.push(endpoint);
    }

    // Everything parsed: write.
    for (channel, config) in &channels {
        let current = store.channel(org, &channel.id).await?;
        if current
            .as_ref()
            .is_some_and(|(c, cfg)| c == channel && cfg == config)
        {
            report.unchanged += 1;
        } else {
            store.put_channel(org, channel, config).await?;
            report.written += 1;
        }
    }
    for e in &endpoints {
        let current = store.endpoint(org, &e.id).await?;
        if current.as_ref() == Some(e) {
            report.unchanged += 1;
        } else {
            store.put_endpoint(e, current.is_some()).await?;
            report.written += 1;
        }
    }
    for e in store.endpoints(org).await? {
        if e.id.as_str().starts_with(PREFIX) && !endpoints.iter().any(|d| d.id == e.id) {
            store.delete_endpoint(org, &e.id).await?;
            report.deleted += 1;
        }
    }
    for c in store.channels(org).await? {
        if c.id.starts_with(PREFIX) && !channels.iter().any(|(d, _)| d.id == c.id) {
            store.delete_channel(org, &c.id).await?;
            report.deleted += 1;
        }
    }
    Ok(report)
}
