//! Export and import over HTTP on a real socket with SQLite stores: an org's export read
//! into another org gives the same endpoints (new ids, foreign channels dropped and said
//! so), a second import creates nothing, one bad endpoint refuses the whole file (422
//! naming `endpoints[i].<field>`, nothing created), a dry run creates nothing, and an
//! Uptime Kuma backup becomes endpoints where the format allows, the rest skipped with
//! reasons.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support_http;

use serde_json::{Value, json};
use support_http::{Account, create, get, serve, sign_up};

async fn import(
    http: &reqwest::Client,
    base: &str,
    a: &Account,
    query: &str,
    body: &Value,
) -> (u16, Value) {
    let r = http
        .post(format!("{base}/v1/import{query}"))
        .header("cookie", &a.cookie)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The org's endpoints without ids, by name.
async fn endpoints(http: &reqwest::Client, base: &str, a: &Account) -> Vec<Value> {
    let mut list: Vec<Value> = get(http, &format!("{base}/v1/endpoints"), &a.cookie)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let mut e = e.clone();
            let o = e.as_object_mut().unwrap();
            o.remove("id");
            o.remove("org_id");
            e
        })
        .collect();
    list.sort_by_key(|e| e["name"].as_str().unwrap().to_string());
    list
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_export_and_import_and_uptime_kuma_backups_come_in() {
    let dir = std::env::temp_dir().join(format!("scoville-transfer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = serve(&dir, None).await;
    let http = reqwest::Client::new();
    let a = sign_up(&http, &base, "a@example.com").await;
    let b = sign_up(&http, &base, "b@example.com").await;

    // Org A: two endpoints, one with a channel and tags, one paused.
    create(&http, &base, &a, "plain").await;
    let channel: Value = http
        .post(format!("{base}/v1/channels"))
        .header("cookie", &a.cookie)
        .json(&json!({"name": "hook", "config": {"type": "webhook", "url": "https://hooks.example.com/x"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = http
        .post(format!("{base}/v1/endpoints"))
        .header("cookie", &a.cookie)
        .json(&json!({
            "name": "shop <b>",
            "check": {"type": "http", "url": "https://shop.example.com/health", "method": "HEAD",
                      "assertions": [{"type": "body_contains", "value": "ok"}]},
            "regions": ["eu-west-1"], "confirm_regions": 1, "interval_s": 120,
            "tags": ["prod", "team:web"], "channels": [channel["id"]], "paused": true,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    // The export: every endpoint, no ids.
    let r = http
        .get(format!("{base}/v1/export"))
        .header("cookie", &a.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let file: Value = r.json().await.unwrap();
    assert_eq!(file["format"], "scoville.endpoints/v1");
    assert_eq!(file["endpoints"].as_array().unwrap().len(), 2);
    assert!(
        file["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e.get("id").is_none() && e.get("org_id").is_none())
    );

    // Into org B: a dry run creates nothing; then the same endpoints, new ids, A's
    // channel dropped (it is not B's) and said so.
    let (status, report) = import(&http, &base, &b, "?dry_run=true", &file).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["created"].as_array().unwrap().len(), 2);
    assert!(report["created"][0]["id"].is_null());
    assert!(endpoints(&http, &base, &b).await.is_empty());
    let (status, report) = import(&http, &base, &b, "", &file).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["source"], "scoville");
    assert_eq!(report["created"].as_array().unwrap().len(), 2);
    assert_eq!(report["dropped_channels"], json!([channel["id"]]));
    let mut theirs = endpoints(&http, &base, &b).await;
    let mut ours = endpoints(&http, &base, &a).await;
    for e in ours.iter_mut() {
        e["channels"] = json!([]);
    }
    for e in theirs.iter_mut() {
        assert_eq!(e["channels"], json!([]));
    }
    assert_eq!(theirs, ours, "the same endpoints, but A's channel");
    // Again: nothing new, each skipped by name.
    let (status, report) = import(&http, &base, &b, "", &file).await;
    assert_eq!(status, 200);
    assert!(report["created"].as_array().unwrap().is_empty());
    assert_eq!(report["skipped"].as_array().unwrap().len(), 2);
    assert!(
        report["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("already")
    );
    // Back into A: its own channel is kept (names renamed so they are new).
    let mut renamed = file.clone();
    for e in renamed["endpoints"].as_array_mut().unwrap() {
        e["name"] = json!(format!("{} (copy)", e["name"].as_str().unwrap()));
    }
    let (status, report) = import(&http, &base, &a, "", &renamed).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["dropped_channels"], json!([]));
    assert_eq!(endpoints(&http, &base, &a).await.len(), 4);

    // One bad endpoint refuses the whole file: 422 naming it, nothing created.
    let bad = json!({"format": "scoville.endpoints/v1", "endpoints": [
        {"name": "fine", "check": {"type": "http", "url": "https://fine.example.com/"}, "regions": ["eu-west-1"], "confirm_regions": 1},
        {"name": "broken", "check": {"type": "http", "url": "ftp://x.example.com/"}, "regions": ["eu-west-1"], "confirm_regions": 1},
    ]});
    let (status, e) = import(&http, &base, &b, "", &bad).await;
    assert_eq!(status, 422, "{e}");
    assert_eq!(e["field"], "endpoints[1].check.url", "{e}");
    assert_eq!(
        endpoints(&http, &base, &b).await.len(),
        2,
        "nothing created"
    );
    let (status, e) = import(&http, &base, &b, "?dry_run=maybe", &bad).await;
    assert_eq!((status, e["field"].as_str()), (422, Some("dry_run")));
    let (status, e) = import(&http, &base, &b, "", &json!({"things": 1})).await;
    assert_eq!((status, e["field"].as_str()), (422, Some("endpoints")));

    // An Uptime Kuma backup (1.23's export shape).
    let kuma = json!({
        "version": "1.23.11",
        "notificationList": [{"id": 1, "name": "Slack", "config": "{\"type\":\"slack\"}", "active": 1, "isDefault": 0}],
        "monitorList": [
            {"id": 1, "name": "Website", "type": "http", "url": "https://www.example.com/", "method": "GET",
             "interval": 60, "maxretries": 1, "active": 1, "accepted_statuscodes": ["200-299"],
             "tags": [{"name": "env", "value": "prod"}], "notificationIDList": {"1": true}},
            {"id": 2, "name": "Login page", "type": "keyword", "url": "https://www.example.com/login",
             "keyword": "Sign in", "interval": 300, "active": true},
            {"id": 3, "name": "Postgres", "type": "port", "hostname": "db.example.com", "port": 5432, "active": 0},
            {"id": 4, "name": "Backups", "type": "push", "pushToken": "abc"},
            {"id": 5, "name": "Bad URL", "type": "http", "url": "not a url"},
        ],
    });
    // An org without endpoints must say where to check from.
    let c = sign_up(&http, &base, "c@example.com").await;
    let (status, e) = import(&http, &base, &c, "", &kuma).await;
    assert_eq!((status, e["field"].as_str()), (422, Some("regions")), "{e}");
    let (status, report) = import(&http, &base, &c, "?regions=eu-west-1,us-east-1", &kuma).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["source"], "uptime_kuma");
    let created: Vec<&str> = report["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(created, ["Website", "Login page", "Postgres", "Backups"]);
    let skipped: Vec<(&str, &str)> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["at"].as_str().unwrap(), s["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0].0, "monitorList[4]");
    assert!(skipped[0].1.starts_with("check.url"), "{skipped:?}");
    let list = endpoints(&http, &base, &c).await;
    let login = list.iter().find(|e| e["name"] == "Login page").unwrap();
    assert_eq!(login["interval_s"], 300);
    assert_eq!(
        login["check"]["assertions"],
        json!([{"type": "body_contains", "value": "Sign in"}])
    );
    assert_eq!(login["regions"], json!(["eu-west-1", "us-east-1"]));
    let pg = list.iter().find(|e| e["name"] == "Postgres").unwrap();
    assert_eq!(pg["check"]["type"], "tcp");
    assert_eq!(pg["paused"], true);
    let site = list.iter().find(|e| e["name"] == "Website").unwrap();
    assert_eq!(site["tags"], json!(["env:prod"]));
    assert_eq!(site["failure_threshold"], 2);
    // A push monitor is a heartbeat (Kuma's default interval: 60 s).
    let backups = list.iter().find(|e| e["name"] == "Backups").unwrap();
    assert_eq!(
        (
            &backups["check"]["type"],
            &backups["check"]["period_s"],
            &backups["regions"]
        ),
        (&json!("heartbeat"), &json!(60), &json!(["heartbeat"]))
    );

    // Without credentials: 401.
    let r = http
        .post(format!("{base}/v1/import"))
        .json(&kuma)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http.get(format!("{base}/v1/export")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let _ = std::fs::remove_dir_all(&dir);
}
