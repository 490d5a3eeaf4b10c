//! The directory read from the admin API: entries as served, kept for their time to
//! live, the last one used while the API is down, none at all is an error (503 upstream),
//! and an endpoint the API does not know gets no channels.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use scoville_core::{EndpointId, OrgId};
use scoville_failure_service::admin_directory::AdminDirectory;
use scoville_failure_service::directory::Directory;

#[tokio::test]
async fn entries_are_cached_kept_through_an_outage_and_unknown_ones_have_no_channels() {
    let hits = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/v1/service/endpoints/{org}/{id}",
        axum::routing::get({
            let hits = hits.clone();
            move |axum::extract::Path((org, id)): axum::extract::Path<(String, String)>,
                  headers: axum::http::HeaderMap| {
                let hits = hits.clone();
                async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    if headers.get("authorization").and_then(|v| v.to_str().ok())
                        != Some("Bearer svc-token")
                    {
                        return (axum::http::StatusCode::UNAUTHORIZED, String::new());
                    }
                    if id != "ep-1" {
                        return (axum::http::StatusCode::NOT_FOUND, String::new());
                    }
                    let body = serde_json::json!({
                        "name": format!("shop of {org}"), "target": "https://shop.example/",
                        "policy": {"failure_threshold": 3}, "channels": ["ops"],
                        "maintenance": [{"from_ms": 1, "to_ms": 2}], "link": "https://x/ep-1"
                    });
                    (axum::http::StatusCode::OK, body.to_string())
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let org = OrgId::parse("org-1").unwrap();
    let (known, unknown) = (
        EndpointId::parse("ep-1").unwrap(),
        EndpointId::parse("ep-2").unwrap(),
    );
    let dir = AdminDirectory::new(
        &base,
        "svc-token",
        Duration::from_secs(2),
        Duration::from_millis(200),
    )
    .unwrap();
    let info = dir.endpoint(&org, &known).await.unwrap();
    assert_eq!(info.name, "shop of org-1");
    assert_eq!(info.channels, vec!["ops"]);
    assert_eq!(info.policy.failure_threshold, 3);
    assert!(info.muted_at(1) && !info.muted_at(2));
    // Cached: a second call within the time to live asks nobody.
    dir.endpoint(&org, &known).await.unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    // Unknown endpoints: no channels, nothing to send.
    assert!(
        dir.endpoint(&org, &unknown)
            .await
            .unwrap()
            .channels
            .is_empty()
    );
    // The API goes away: the last entry stands in; without one, an error.
    server.abort();
    let _ = server.await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        dir.endpoint(&org, &known).await.unwrap().name,
        "shop of org-1"
    );
    let other = EndpointId::parse("ep-3").unwrap();
    assert!(dir.endpoint(&org, &other).await.is_err());
    // A wrong token is an error, not an empty entry.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let refusing = axum::Router::new().fallback(|| async { axum::http::StatusCode::UNAUTHORIZED });
    tokio::spawn(async move { axum::serve(listener, refusing).await });
    let dir = AdminDirectory::new(
        &base,
        "wrong",
        Duration::from_secs(2),
        Duration::from_secs(30),
    )
    .unwrap();
    assert!(dir.endpoint(&org, &known).await.is_err());
}
