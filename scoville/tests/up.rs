//! `scoville up` on its embedded defaults: the first start, the shorter end-to-end
//! story (an endpoint checked, its history, one "down" and one "recovered" at a real
//! webhook), monitoring as code with a reload, data surviving a restart, and the binary
//! itself serving.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

mod support;

use scoville::up::{Options, start};
use scoville_admin_api::store::AdminStore;
use scoville_tests::recorder::Recorder;
use serde_json::json;
use support::{TempDir, call, eventually, kinds, options, target};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shorter_story_on_the_embedded_defaults_and_a_restart() {
    let dir = TempDir::new("story");
    let running = start(&options(&dir)).await.unwrap();
    let admin = running.admin_url.clone();
    let first = scoville::first_run::ensure(&admin, "local")
        .await
        .unwrap()
        .unwrap();
    assert!(
        scoville::first_run::ensure(&admin, "local")
            .await
            .unwrap()
            .is_none(),
        "only once"
    );
    let http = reqwest::Client::new();
    let key = first.api_key.clone();

    // A webhook channel and an endpoint on a target we control.
    let hook = Recorder::start().await;
    let channel = call(
        &http,
        reqwest::Method::POST,
        format!("{admin}/v1/channels"),
        &key,
        Some(json!({"name": "hook", "config": {"type": "webhook", "url": hook.url("/hook")}})),
    )
    .await;
    let up = Arc::new(AtomicBool::new(true));
    let url = target(up.clone()).await;
    let ep = call(
        &http,
        reqwest::Method::POST,
        format!("{admin}/v1/endpoints"),
        &key,
        Some(
            json!({"name": "shop", "check": {"type": "http", "url": url}, "regions": ["local"],
                    "confirm_regions": 1, "channels": [channel["id"]]}),
        ),
    )
    .await;
    let id = ep["id"].as_str().unwrap().to_string();

    // Rounds at simulated minutes, an hour ago.
    let t0 = (scoville_admin_api::app::now_ms() - 3_600_000) / 60_000 * 60_000;
    let mut minute = 0;
    let mut round = |up_now: bool| {
        up.store(up_now, Ordering::SeqCst);
        minute += 1;
        let at = t0 + minute * 60_000;
        let running = &running;
        async move { running.probe_round_at(Some(at)).await.unwrap() }
    };
    for _ in 0..3 {
        assert_eq!(round(true).await, 2, "the sample endpoint and ours");
    }
    // History: three checks of ours, all up.
    let history_url = format!(
        "{admin}/v1/endpoints/{id}/history?from={t0}&to={}&step=1m",
        t0 + 3_600_000
    );
    let summary = eventually("history of 3 checks", Duration::from_secs(30), || {
        let (http, url, key) = (http.clone(), history_url.clone(), key.clone());
        async move {
            let h = call(&http, reqwest::Method::GET, url, &key, None).await;
            (h["summary"]["count"] == 3).then_some(h["summary"].clone())
        }
    })
    .await;
    assert_eq!(summary["up"], 3, "{summary}");

    // Down: one notification; the probe list flags the endpoint; back: one recovery.
    round(false).await;
    let got = hook.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(got[0].json()["kind"], "down", "{:?}", got[0].json());
    assert_eq!(got[0].json()["endpoint_name"], "shop");
    // The open incident reaches the probe's list within 5 s; until then the probe
    // sends only failures, so keep the target up and run rounds until it recovers.
    let deadline = Instant::now() + Duration::from_secs(40);
    while !kinds(&hook).contains(&"recovered".to_string()) {
        assert!(Instant::now() < deadline, "no recovery: {:?}", kinds(&hook));
        round(true).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        kinds(&hook),
        vec!["down", "recovered"],
        "exactly one of each"
    );
    let incidents = call(
        &http,
        reqwest::Method::GET,
        format!("{admin}/v1/incidents?endpoint_id={id}"),
        &key,
        None,
    )
    .await;
    assert_eq!(
        incidents["incidents"][0]["status"], "resolved",
        "{incidents}"
    );

    // A restart on the same data: the user, the endpoint and the history are still there.
    running.stop().await.unwrap();
    let running = start(&options(&dir)).await.unwrap();
    let admin = running.admin_url.clone();
    assert!(
        scoville::first_run::ensure(&admin, "local")
            .await
            .unwrap()
            .is_none()
    );
    let again = call(
        &http,
        reqwest::Method::GET,
        format!("{admin}/v1/endpoints/{id}"),
        &key,
        None,
    )
    .await;
    assert_eq!(again["name"], "shop");
    let history_url = format!(
        "{admin}/v1/endpoints/{id}/history?from={t0}&to={}&step=1m",
        t0 + 3_600_000
    );
    let h = call(&http, reqwest::Method::GET, history_url, &key, None).await;
    assert!(h["summary"]["count"].as_u64().unwrap() >= 4, "{h}");
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_and_channels_declared_in_a_file_are_reconciled() {
    let dir = TempDir::new("as-code");
    let running = start(&options(&dir)).await.unwrap();
    let first = scoville::first_run::ensure(&running.admin_url, "local")
        .await
        .unwrap()
        .unwrap();
    let store = scoville_admin_api::store::sqlite::SqliteAdmin::open(&running.database).unwrap();
    let org = scoville_core::OrgId::parse(first.org_id.as_str()).unwrap();
    let file = dir.0.join("scoville.toml");
    std::fs::write(
        &file,
        r#"
[[channels]]
name = "ops"
config = { type = "webhook", url = "https://hooks.example.com/ops" }

[[endpoints]]
name = "shop"
check = { type = "http", url = "https://shop.example.com/health" }
channels = ["ops"]

[[endpoints]]
name = "db"
check = { type = "tcp", host = "db.example.com", port = 5432 }
interval_s = 300
"#,
    )
    .unwrap();
    let r = scoville::as_code::reconcile(&store, &org, &file, "local")
        .await
        .unwrap();
    assert_eq!((r.written, r.deleted), (3, 0));
    let names = |eps: Vec<scoville_admin_api::model::Endpoint>| {
        let mut n: Vec<String> = eps.into_iter().map(|e| e.name).collect();
        n.sort();
        n
    };
    assert_eq!(
        names(store.endpoints(&org).await.unwrap()),
        vec!["Scoville itself", "db", "shop"]
    );
    let shop = store
        .endpoints(&org)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.name == "shop")
        .unwrap();
    assert_eq!(shop.regions[0].as_str(), "local");
    assert_eq!(shop.channels.len(), 1);
    // The same file again changes nothing.
    let r = scoville::as_code::reconcile(&store, &org, &file, "local")
        .await
        .unwrap();
    assert_eq!((r.written, r.unchanged, r.deleted), (0, 3, 0));
    // Edit: db removed, shop's interval changed; the sample endpoint (not declared) stays.
    std::fs::write(
        &file,
        r#"
[[channels]]
name = "ops"
config = { type = "webhook", url = "https://hooks.example.com/ops" }

[[endpoints]]
name = "shop"
check = { type = "http", url = "https://shop.example.com/health" }
channels = ["ops"]
interval_s = 120
"#,
    )
    .unwrap();
    let r = scoville::as_code::reconcile(&store, &org, &file, "local")
        .await
        .unwrap();
    assert_eq!((r.written, r.deleted), (1, 1));
    let eps = store.endpoints(&org).await.unwrap();
    assert_eq!(names(eps.clone()), vec!["Scoville itself", "shop"]);
    assert_eq!(
        eps.iter().find(|e| e.name == "shop").unwrap().interval_s,
        120
    );
    assert_eq!(
        eps.iter().find(|e| e.name == "shop").unwrap().id,
        shop.id,
        "updated in place"
    );
    // A bad file is refused whole, naming the entry and the field.
    std::fs::write(
        &file,
        r#"
[[endpoints]]
name = "broken"
check = { type = "http", url = "ftp://nope" }
"#,
    )
    .unwrap();
    let e = scoville::as_code::reconcile(&store, &org, &file, "local")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("endpoints[0] (broken)") && e.contains("check.url"),
        "{e}"
    );
    assert_eq!(
        names(store.endpoints(&org).await.unwrap()),
        vec!["Scoville itself", "shop"]
    );
    running.stop().await.unwrap();
}

#[tokio::test]
async fn the_binary_serves_prints_how_to_sign_in_and_reloads_its_file_on_sighup() {
    use tokio::io::AsyncBufReadExt;
    let dir = TempDir::new("binary");
    let file = dir.0.join("scoville.toml");
    let declare = |name: &str| {
        format!(
            "[[endpoints]]\nname = \"{name}\"\ncheck = {{ type = \"http\", url = \"https://{name}.example.com/\" }}\n"
        )
    };
    std::fs::write(&file, declare("first")).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_scoville"))
        .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir.0)
        .arg("--config")
        .arg(&file)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let printed = std::cell::RefCell::new(Vec::new());
    let mut until = async |marker: &str| {
        tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                printed.borrow_mut().push(line.clone());
                if line.contains(marker) {
                    return line;
                }
            }
            panic!("no line with {marker:?}: {:?}", printed.borrow())
        })
        .await
        .unwrap()
    };
    let url = until("listening on ").await["listening on ".len()..].to_string();
    let report = until("written").await;
    assert!(
        report.contains("1 written, 0 unchanged, 0 deleted"),
        "{report}"
    );
    let text = printed.borrow().join("\n");
    assert!(
        text.contains("sign in as admin@scoville.local with password"),
        "{text}"
    );
    let key = text
        .lines()
        .find_map(|l| l.strip_prefix("API key (read-write, shown once): "))
        .unwrap()
        .to_string();
    let ok = reqwest::get(format!("{url}/healthz"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(ok, "ok\n");
    let names = async || {
        let http = reqwest::Client::new();
        let eps = call(
            &http,
            reqwest::Method::GET,
            format!("{url}/v1/endpoints"),
            &key,
            None,
        )
        .await;
        let mut n: Vec<String> = eps
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_string())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names().await, vec!["Scoville itself", "first"]);
    // Edit the file and send SIGHUP: the file's endpoints follow.
    std::fs::write(&file, declare("second")).unwrap();
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let report = until("written").await;
    assert!(
        report.contains("1 written, 0 unchanged, 1 deleted"),
        "{report}"
    );
    assert_eq!(names().await, vec!["Scoville itself", "second"]);
    child.kill().await.unwrap();
}

/// A stop while a probe round is in flight loses nothing: the round finishes and is
/// delivered, the servers finish their requests, and the receiver's worker stores what
/// its in-memory queue still holds before the process goes. Every round that started
/// once the endpoints existed, the one cut by the stop included, has one result per
/// endpoint in the SQLite file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_during_a_probe_round_loses_no_result() {
    use std::sync::atomic::AtomicUsize;
    const ENDPOINTS: usize = 40;
    let dir = TempDir::new("stop");
    let running = start(&Options {
        probe_interval: Some(Duration::from_secs(3)),
        ..options(&dir)
    })
    .await
    .unwrap();
    let admin = running.admin_url.clone();
    let first = scoville::first_run::ensure(&admin, "local")
        .await
        .unwrap()
        .unwrap();
    let http = reqwest::Client::new();

    // A target that answers after 1.5 s, counting requests.
    let seen = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/slow",
        axum::routing::get({
            let seen = seen.clone();
            move || {
                let seen = seen.clone();
                async move {
                    seen.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(1_500)).await;
                    "ok"
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/slow", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    for i in 0..ENDPOINTS {
        call(
            &http,
            reqwest::Method::POST,
            format!("{admin}/v1/endpoints"),
            &first.api_key,
            Some(json!({
                "name": format!("slow {i}"),
                "check": {"type": "http", "url": url},
                "regions": ["local"],
                "confirm_regions": 1,
            })),
        )
        .await;
    }
    let created = scoville_admin_api::app::now_ms();
    let expected = ENDPOINTS + 1; // and the first start's sample endpoint

    // One whole round after the creations, then stop while the next is in flight.
    let stored = |db: std::path::PathBuf| {
        let conn = rusqlite::Connection::open(db).unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT run_id, COUNT(*) FROM check_result WHERE started_at_ms >= ?1 \
                 GROUP BY run_id ORDER BY MIN(started_at_ms)",
            )
            .unwrap();
        stmt.query_map([created], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
    };
    let db = running.database.clone();
    eventually("a whole round stored", Duration::from_secs(30), || {
        let db = db.clone();
        async move {
            stored(db)
                .iter()
                .any(|(_, n)| *n as usize == expected)
                .then_some(())
        }
    })
    .await;
    let before = seen.load(Ordering::SeqCst);
    eventually("the next round under way", Duration::from_secs(30), || {
        let seen = seen.clone();
        async move { (seen.load(Ordering::SeqCst) > before).then_some(()) }
    })
    .await;
    let stopped = Instant::now();
    running.stop().await.unwrap();
    println!("stopped in {:?}", stopped.elapsed());

    let runs = stored(dir.0.join("scoville.db"));
    assert!(runs.len() >= 2, "{runs:?}");
    // The first run may have started while the endpoints were being created.
    for (run, n) in &runs[1..] {
        assert_eq!(*n as usize, expected, "run {run} lost results: {runs:?}");
    }
}
