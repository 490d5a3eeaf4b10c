//! `probe-list-bench`: how long a probe takes to fetch its whole list from the admin API:
//! `--endpoints` endpoints (in 3 regions, one-minute interval) in the embedded store, the
//! API served on loopback, and a client paging through `GET /v1/probe/endpoints` with a
//! platform probe token, `--page` endpoints a page. Prints the first fetch (the cache is
//! built) and then `--runs` fetches (cache warm), each the whole list.

use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use scoville_admin_api::model::{Endpoint, EndpointInput};
use scoville_admin_api::store::AdminStore;
use scoville_admin_api::store::sqlite::SqliteAdmin;
use scoville_admin_api::{AppState, router};
use scoville_core::wire::EndpointPage;
use scoville_core::{EndpointId, OrgId};
use scoville_service_kit::auth::{TokenHash, TokenSet};

/// Measure the probe's list.
#[derive(Debug, Parser)]
struct Args {
    /// Endpoints.
    #[arg(long, default_value_t = 10_000)]
    endpoints: usize,
    /// Endpoints per page.
    #[arg(long, default_value_t = 5000)]
    page: usize,
    /// Warm fetches.
    #[arg(long, default_value_t = 30)]
    runs: usize,
}

const TOKEN: &str = "bench-platform-probe-token";

/// Fetches every page; with `parse`, as the probe does (into its types, validated).
async fn fetch_all(
    client: &reqwest::Client,
    base: &str,
    page: usize,
    parse: bool,
) -> anyhow::Result<usize> {
    let mut cursor: Option<String> = None;
    let mut n = 0;
    loop {
        let mut url = format!("{base}/v1/probe/endpoints?region=eu-west-1&limit={page}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let bytes = client
            .get(&url)
            .bearer_auth(TOKEN)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        let page: EndpointPage = if parse {
            scoville_core::parse::from_json(&bytes)?
        } else {
            // Only the ids and the cursor.
            #[derive(serde::Deserialize)]
            #[allow(dead_code)]
            struct Id {
                id: EndpointId,
            }
            #[derive(serde::Deserialize)]
            struct Ids {
                endpoints: Vec<Id>,
                next_cursor: Option<String>,
            }
            let ids: Ids = serde_json::from_slice(&bytes)?;
            n += ids.endpoints.len();
            match ids.next_cursor {
                Some(c) => {
                    cursor = Some(c);
                    continue;
                }
                None => return Ok(n),
            }
        };
        n += page.endpoints.len();
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(n),
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir =
        std::env::temp_dir().join(format!("scoville-probe-list-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = Arc::new(SqliteAdmin::open(&dir.join("admin.db"))?);
    let org = OrgId::parse("org-bench").map_err(anyhow::Error::msg)?;
    let started = Instant::now();
    for i in 0..args.endpoints {
        let input: EndpointInput = serde_json::from_value(serde_json::json!({
            "name": format!("endpoint {i}"),
            "check": {"type": "http", "url": format!("https://svc{i}.example.com/health"),
                      "assertions": [{"type": "body_contains", "value": "ok"}]},
            "regions": ["eu-west-1", "us-east-1", "ap-south-1"],
            "apdex_t_ms": 300, "tags": ["bench"]
        }))?;
        let id = EndpointId::parse(format!("ep_{i:08}")).map_err(anyhow::Error::msg)?;
        let e: Endpoint = input.into_endpoint(id, org.clone())?;
        store.put_endpoint(&e, false).await?;
    }
    eprintln!(
        "stored {} endpoints in {:.1} s",
        args.endpoints,
        started.elapsed().as_secs_f64()
    );
    let store_for_changes = store.clone();
    let state = AppState::new(
        store,
        TokenSet::new(vec![TokenHash::of(TOKEN)]),
        3_600_000,
        false,
    )
    .await?;
    let cache = state.probe_list.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    let client = reqwest::Client::new();
    let t = Instant::now();
    let n = fetch_all(&client, &base, args.page, true).await?;
    let cold = t.elapsed().as_secs_f64() * 1000.0;
    anyhow::ensure!(n == args.endpoints, "listed {n} of {}", args.endpoints);
    let mut lines = Vec::new();
    for parse in [true, false] {
        let mut warm = Vec::with_capacity(args.runs);
        for _ in 0..args.runs {
            let t = Instant::now();
            fetch_all(&client, &base, args.page, parse).await?;
            warm.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        warm.sort_by(f64::total_cmp);
        let q = |p: f64| warm[((warm.len() - 1) as f64 * p).round() as usize];
        lines.push(format!(
            "{}: p50 {:.1} ms, p95 {:.1} ms",
            if parse {
                "with the probe's parsing"
            } else {
                "API and transfer only"
            },
            q(0.5),
            q(0.95)
        ));
    }
    // A change through this instance (what the endpoint routes do), then one through
    // another instance (only the store's generation moves): the first fetch after each.
    let mut changed: Endpoint = store_for_changes
        .endpoint(
            &org,
            &EndpointId::parse("ep_00000007").map_err(anyhow::Error::msg)?,
        )
        .await?
        .ok_or_else(|| anyhow::anyhow!("endpoint 7 missing"))?;
    let after = |label: &'static str| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let t = Instant::now();
            fetch_all(&client, &base, args.page, true).await?;
            anyhow::Ok(format!(
                "{label} {:.1} ms",
                t.elapsed().as_secs_f64() * 1000.0
            ))
        }
    };
    changed.name = "renamed here".into();
    store_for_changes.put_endpoint(&changed, true).await?;
    cache.put(store_for_changes.as_ref(), &changed).await;
    let here = after("after a change through this instance (patched)").await?;
    changed.name = "renamed elsewhere".into();
    store_for_changes.put_endpoint(&changed, true).await?;
    let elsewhere = after("after a change through another (rebuilt)").await?;
    println!(
        "probe list of {} endpoints, pages of {}, with the probe's parsing: first fetch (cache built) {cold:.1} ms; {here}; {elsewhere}; warm, {} fetches each: {} ({} rebuilds)",
        args.endpoints,
        args.page,
        args.runs,
        lines.join("; "),
        cache.rebuilds()
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
