//! The admin API through its router (no socket), on SQLite: tenant isolation generated
//! from the route table, roles, validation, auth, sessions revoked by a password change,
//! the login rate limit, and the probe's list (sharding, paging, due minutes, scope).

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use scoville_admin_api::probe_list::ProbeListCache;
use scoville_admin_api::routes::{Access, table};
use scoville_admin_api::store::AdminStore;
use scoville_admin_api::store::sqlite::SqliteAdmin;
use scoville_admin_api::{AppState, router};
use scoville_core::notice::NoticeKind;
use scoville_core::{EndpointId, OrgId, Region};
use scoville_incident_log::{EntryKind, Incident, IncidentLog, LogWrite, TimelineEntry};
use scoville_service_kit::auth::{TokenHash, TokenSet};
use serde_json::{Value, json};
use tower::ServiceExt;

const PLATFORM_TOKEN: &str = "platform-probe-token-0123456789";

fn memory_log() -> Arc<dyn IncidentLog> {
    Arc::new(
        scoville_incident_log::sqlite::SqliteLog::open(std::path::Path::new(":memory:")).unwrap(),
    )
}

#[derive(Clone)]
struct Api(axum::Router, Arc<dyn IncidentLog>);

enum Cred<'a> {
    None,
    Cookie(&'a str),
    Key(&'a str),
}

impl Api {
    async fn new() -> Self {
        let store = Arc::new(SqliteAdmin::open(std::path::Path::new(":memory:")).unwrap());
        let tokens = TokenSet::new(vec![TokenHash::of(PLATFORM_TOKEN)]);
        let log = memory_log();
        let mut state = AppState::new(store, tokens, 3_600_000, false)
            .await
            .unwrap()
            .allowing_private_channels()
            .unwrap()
            .with_incidents(log.clone());
        // Open incidents are read on every fetch here (5 s in service).
        state.probe_list = Arc::new(ProbeListCache::with_open_max_age(Duration::ZERO));
        Self(router(state), log)
    }

    /// The failure service's part: an incident of `endpoint` of `org` confirmed at
    /// `at_ms`, resolved at `resolved` if given.
    async fn incident(
        &self,
        org: &str,
        endpoint: &str,
        at_ms: i64,
        resolved: Option<i64>,
    ) -> String {
        let incident = Incident {
            id: format!("{endpoint}~{}", at_ms / 60_000),
            org_id: OrgId::parse(org).unwrap(),
            endpoint_id: EndpointId::parse(endpoint).unwrap(),
            started_at_ms: at_ms - 60_000,
            confirmed_at_ms: at_ms,
            resolved_at_ms: None,
            regions: vec![Region::parse("eu-west-1").unwrap()],
            error: Some("status: 503 <script>".into()),
        };
        let entry = |at_ms, kind, notice| TimelineEntry {
            at_ms,
            kind,
            notice,
            muted: false,
            regions: Vec::new(),
            detail: None,
        };
        let mut writes = vec![
            LogWrite {
                incident: incident.clone(),
                entry: entry(at_ms, EntryKind::Confirmed, None),
            },
            LogWrite {
                incident: incident.clone(),
                entry: entry(at_ms, EntryKind::Notified, Some(NoticeKind::Down)),
            },
        ];
        if let Some(r) = resolved {
            writes.push(LogWrite {
                incident: Incident {
                    resolved_at_ms: Some(r),
                    ..incident.clone()
                },
                entry: entry(r, EntryKind::Resolved, None),
            });
        }
        self.1.append(&writes).await.unwrap();
        incident.id
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        cred: Cred<'_>,
        body: Option<Value>,
    ) -> (StatusCode, Value, Option<String>) {
        let mut req = Request::builder().method(method).uri(path);
        match cred {
            Cred::None => {}
            Cred::Cookie(c) => req = req.header("cookie", c),
            Cred::Key(k) => req = req.header("authorization", format!("Bearer {k}")),
        }
        let body = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let resp = self
            .0
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let cookie = resp
            .headers()
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
            .await
            .unwrap();
        (
            status,
            // Text answers (the metrics exporter) as a string, so the isolation test
            // reads them for leaks too.
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned())),
            cookie,
        )
    }

    async fn signup(&self, email: &str, org: &str) -> (String, Value) {
        let (status, body, cookie) = self
            .call(
                Method::POST,
                "/v1/signup",
                Cred::None,
                Some(json!({"email": email, "password": "correct horse battery", "org_name": org})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (cookie.unwrap(), body)
    }

    async fn key(&self, cookie: &str, scope: &str) -> (String, String) {
        let (status, body, _) = self
            .call(
                Method::POST,
                "/v1/api-keys",
                Cred::Cookie(cookie),
                Some(json!({"name": "ci", "scope": scope})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (
            body["key"].as_str().unwrap().to_string(),
            body["id"].as_str().unwrap().to_string(),
        )
    }

    async fn endpoint(&self, cred: Cred<'_>, body: Value) -> Value {
        let (status, body, _) = self
            .call(Method::POST, "/v1/endpoints", cred, Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }
}

fn endpoint_body(name: &str) -> Value {
    json!({
        "name": name,
        "check": {"type": "http", "url": "https://shop.example.com/health"},
        "regions": ["eu-west-1", "us-east-1", "ap-south-1"],
        "apdex_t_ms": 300
    })
}

struct Tenant {
    org_id: String,
    incident_id: String,
    cookie: String,
    key: String,
    key_id: String,
    user_id: String,
    endpoint_id: String,
    channel_id: String,
    window_id: String,
    page_id: String,
}

async fn tenant(api: &Api, email: &str, org: &str) -> Tenant {
    let (cookie, body) = api.signup(email, org).await;
    let (key, key_id) = api.key(&cookie, "read_write").await;
    let ep = api
        .endpoint(Cred::Cookie(&cookie), endpoint_body(&format!("{org} shop")))
        .await;
    let (status, ch, _) = api
        .call(
            Method::POST,
            "/v1/channels",
            Cred::Cookie(&cookie),
            Some(json!({"name": "hook", "config": {"type": "webhook", "url": "https://hooks.example.com/secret-path"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ch}");
    let (status, mw, _) = api
        .call(
            Method::POST,
            "/v1/maintenance",
            Cred::Cookie(&cookie),
            Some(json!({"from_ms": 1_790_000_000_000i64, "to_ms": 1_790_003_600_000i64, "endpoint_ids": [ep["id"]], "reason": "upgrade"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{mw}");
    let slug = format!("{}-status", org.to_ascii_lowercase().replace(' ', "-"));
    let (status, page, _) = api
        .call(
            Method::POST,
            "/v1/status-pages",
            Cred::Cookie(&cookie),
            Some(
                json!({"slug": slug, "title": format!("{org} status"), "endpoint_ids": [ep["id"]]}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{page}");
    let org_id = body["org"]["id"].as_str().unwrap().to_string();
    let endpoint_id = ep["id"].as_str().unwrap().to_string();
    let incident_id = api
        .incident(&org_id, &endpoint_id, 1_790_000_000_000, None)
        .await;
    Tenant {
        org_id,
        incident_id,
        page_id: page["id"].as_str().unwrap().to_string(),
        window_id: mw["id"].as_str().unwrap().to_string(),
        channel_id: ch["id"].as_str().unwrap().to_string(),
        cookie,
        key,
        key_id,
        user_id: body["user"]["id"].as_str().unwrap().to_string(),
        endpoint_id,
    }
}

#[tokio::test]
async fn every_org_route_hides_another_orgs_things_behind_404() {
    let api = Api::new().await;
    let a = tenant(&api, "alice@a.example", "Org A").await;
    let b = tenant(&api, "bob@b.example", "Org B").await;
    // A result hook of B's (not in `tenant`: hooks join every directory entry).
    let (status, hook, _) = api
        .call(
            Method::POST,
            "/v1/hooks",
            Cred::Cookie(&b.cookie),
            Some(json!({"name": "lake", "url": "https://hooks.example.com/b", "events": "all"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let b_hook = hook["id"].as_str().unwrap().to_string();
    let (status, token, _) = api
        .call(
            Method::POST,
            "/v1/probe-tokens",
            Cred::Cookie(&b.cookie),
            Some(json!({"name": "datacenter"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    let b_probe_token = token["id"].as_str().unwrap().to_string();
    let mut checked = 0;
    for route in table() {
        if route.access != Access::Org {
            continue;
        }
        // Without credentials: 401.
        let path_b = if route.path.contains("{id}") {
            let id = if route.path.starts_with("/v1/endpoints/") {
                &b.endpoint_id
            } else if route.path.starts_with("/v1/members/") {
                &b.user_id
            } else if route.path.starts_with("/v1/api-keys/") {
                &b.key_id
            } else if route.path.starts_with("/v1/channels/") {
                &b.channel_id
            } else if route.path.starts_with("/v1/maintenance/") {
                &b.window_id
            } else if route.path.starts_with("/v1/hooks/") {
                &b_hook
            } else if route.path.starts_with("/v1/probe-tokens/") {
                &b_probe_token
            } else if route.path.starts_with("/v1/status-pages/") {
                &b.page_id
            } else if route.path.starts_with("/v1/incidents/") {
                &b.incident_id
            } else {
                panic!(
                    "the isolation test does not know whose id {} takes: teach it",
                    route.path
                )
            };
            route.path.replace("{id}", id)
        } else {
            route.path.to_string()
        };
        let body = match (route.method.clone(), route.path) {
            (Method::PUT, p) if p.starts_with("/v1/endpoints/") => Some(endpoint_body("stolen")),
            (Method::PUT, _) => Some(json!({"role": "viewer"})),
            (Method::GET | Method::DELETE, _) => None,
            _ => Some(json!({})),
        };
        let (status, _, _) = api
            .call(route.method.clone(), &path_b, Cred::None, body.clone())
            .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{} {} without credentials",
            route.method,
            route.path
        );
        if !route.path.contains("{id}") {
            // Lists and creations act on A's org only: B's ids never appear.
            if route.method == Method::GET {
                for cred in [Cred::Cookie(&a.cookie), Cred::Key(&a.key)] {
                    let (status, text) = if route.path == "/v1/events" {
                        // The live stream never ends: `once=true` answers the snapshot
                        // alone, as server-sent events (text, not JSON).
                        let req = Request::get("/v1/events?once=true");
                        let req = match cred {
                            Cred::Cookie(c) => req.header("cookie", c),
                            Cred::Key(k) => req.header("authorization", format!("Bearer {k}")),
                            Cred::None => req,
                        };
                        let resp = api.0.clone().oneshot(req.body(Body::empty()).unwrap());
                        let resp = resp.await.unwrap();
                        let status = resp.status();
                        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24);
                        let text = String::from_utf8(bytes.await.unwrap().to_vec()).unwrap();
                        assert!(
                            text.starts_with("event: snapshot") && text.contains(&a.endpoint_id),
                            "A's snapshot names A's endpoint: {text}"
                        );
                        (status, text)
                    } else {
                        let (status, answer, _) =
                            api.call(route.method.clone(), &path_b, cred, None).await;
                        (status, answer.to_string())
                    };
                    assert_eq!(status, StatusCode::OK, "{} {}", route.method, route.path);
                    for id in [
                        &b.endpoint_id,
                        &b.user_id,
                        &b.key_id,
                        &b.channel_id,
                        &b.window_id,
                        &b.page_id,
                        &b.incident_id,
                        &b_hook,
                    ] {
                        assert!(
                            !text.contains(id.as_str()),
                            "{} {} leaked {id}: {text}",
                            route.method,
                            route.path
                        );
                    }
                }
                checked += 1;
            }
            continue;
        }
        for cred in [Cred::Cookie(&a.cookie), Cred::Key(&a.key)] {
            let (status, answer, _) = api
                .call(route.method.clone(), &path_b, cred, body.clone())
                .await;
            assert_eq!(
                status,
                StatusCode::NOT_FOUND,
                "{} {} with org A's credentials: {answer}",
                route.method,
                path_b
            );
        }
        checked += 1;
    }
    assert!(checked >= 12, "only {checked} routes checked");
    // B's things are untouched.
    let (status, ep, _) = api
        .call(
            Method::GET,
            &format!("/v1/endpoints/{}", b.endpoint_id),
            Cred::Key(&b.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ep["name"], "Org B shop");
    let (_, keys, _) = api
        .call(Method::GET, "/v1/api-keys", Cred::Cookie(&b.cookie), None)
        .await;
    assert_eq!(keys.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_viewer_cannot_write_and_an_admin_cannot_remove_the_owner() {
    let api = Api::new().await;
    let (owner, owner_body) = api.signup("owner@a.example", "Org A").await;
    let owner_id = owner_body["user"]["id"].as_str().unwrap().to_string();
    let mut sessions = Vec::new();
    for (email, role) in [("viewer@a.example", "viewer"), ("admin@a.example", "admin")] {
        let (status, inv, _) = api
            .call(
                Method::POST,
                "/v1/invitations",
                Cred::Cookie(&owner),
                Some(json!({"email": email, "role": role})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{inv}");
        // Someone else who got hold of the token cannot use it; it stays for them.
        let (other, _) = api.signup(&format!("other-{email}"), "other org").await;
        let (status, refused, _) = api
            .call(
                Method::POST,
                "/v1/invitations/accept",
                Cred::Cookie(&other),
                Some(json!({"token": inv["token"]})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
        assert!(refused.to_string().contains("another email"), "{refused}");
        let (cookie, _) = api.signup(email, "their own org").await;
        let (status, joined, _) = api
            .call(
                Method::POST,
                "/v1/invitations/accept",
                Cred::Cookie(&cookie),
                Some(json!({"token": inv["token"]})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{joined}");
        let org = joined["org_id"].as_str().unwrap().to_string();
        sessions.push((cookie, org));
    }
    let org_a = sessions[0].1.clone();
    // Acting in org A needs the org header (their own org comes first otherwise).
    let call_as = |i: usize, method: Method, path: &'static str, body: Option<Value>| {
        let api = api.clone();
        let (cookie, org) = sessions[i].clone();
        async move {
            let mut req = Request::builder()
                .method(method)
                .uri(path)
                .header("cookie", cookie)
                .header("x-scoville-org", org);
            let body = match body {
                Some(b) => {
                    req = req.header("content-type", "application/json");
                    Body::from(b.to_string())
                }
                None => Body::empty(),
            };
            api.0
                .clone()
                .oneshot(req.body(body).unwrap())
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(
        call_as(0, Method::GET, "/v1/endpoints", None).await,
        StatusCode::OK
    );
    assert_eq!(
        call_as(0, Method::POST, "/v1/endpoints", Some(endpoint_body("x"))).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call_as(0, Method::POST, "/v1/api-keys", Some(json!({"name": "k"}))).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call_as(1, Method::POST, "/v1/endpoints", Some(endpoint_body("x"))).await,
        StatusCode::CREATED
    );
    // The admin cannot remove or demote the owner.
    let path: &'static str = Box::leak(format!("/v1/members/{owner_id}").into_boxed_str());
    assert_eq!(
        call_as(1, Method::DELETE, path, None).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call_as(1, Method::PUT, path, Some(json!({"role": "viewer"}))).await,
        StatusCode::FORBIDDEN
    );
    // The owner is still there; a read-only key cannot write either.
    let (_, members, _) = api
        .call(Method::GET, "/v1/members", Cred::Cookie(&owner), None)
        .await;
    assert!(
        members
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["user_id"] == owner_id.as_str() && m["role"] == "owner")
    );
    let (read_key, _) = api.key(&owner, "read").await;
    let (status, _, _) = api
        .call(
            Method::POST,
            "/v1/endpoints",
            Cred::Key(&read_key),
            Some(endpoint_body("x")),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(org_a, sessions[1].1);

    // A key the admin made in org A goes when the owner removes the admin; the
    // owner's own key stays.
    let (admin_cookie, _) = &sessions[1];
    let in_org_a = format!("{admin_cookie}; scoville_org={org_a}");
    let (admin_key, admin_key_id) = api.key(&in_org_a, "read_write").await;
    let admin_id = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "admin@a.example")
        .unwrap()["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, keys, _) = api
        .call(Method::GET, "/v1/api-keys", Cred::Cookie(&owner), None)
        .await;
    let made = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == admin_key_id.as_str())
        .unwrap();
    assert_eq!(made["created_by"], admin_id.as_str(), "{keys}");
    let (status, _, _) = api
        .call(Method::GET, "/v1/endpoints", Cred::Key(&admin_key), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body, _) = api
        .call(
            Method::DELETE,
            &format!("/v1/members/{admin_id}"),
            Cred::Cookie(&owner),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _, _) = api
        .call(Method::GET, "/v1/endpoints", Cred::Key(&admin_key), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = api
        .call(Method::GET, "/v1/endpoints", Cred::Key(&read_key), None)
        .await;
    assert_eq!(status, StatusCode::OK);
}

/// A user in two organizations acts in the one the `scoville_org` cookie names (the web
/// UI's org switcher; `EventSource` cannot send headers), the header wins over the
/// cookie, and a cookie naming an org the user is not in falls back to their first.
#[tokio::test]
async fn the_org_cookie_switches_a_sessions_organization_within_its_memberships() {
    let api = Api::new().await;
    let (owner, _) = api.signup("owner@switch.example", "Shared").await;
    let (status, inv, _) = api
        .call(
            Method::POST,
            "/v1/invitations",
            Cred::Cookie(&owner),
            Some(json!({"email": "two@switch.example", "role": "admin"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{inv}");
    let (session, own) = api.signup("two@switch.example", "Own").await;
    let own_org = own["org"]["id"].as_str().unwrap().to_string();
    let (status, joined, _) = api
        .call(
            Method::POST,
            "/v1/invitations/accept",
            Cred::Cookie(&session),
            Some(json!({"token": inv["token"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{joined}");
    let shared_org = joined["org_id"].as_str().unwrap().to_string();
    let (_, stranger) = api.signup("stranger@switch.example", "Elsewhere").await;
    let stranger_org = stranger["org"]["id"].as_str().unwrap().to_string();

    // Without a choice: the first membership; /v1/me lists both.
    let (status, me, _) = api
        .call(Method::GET, "/v1/me", Cred::Cookie(&session), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let orgs: Vec<&str> = me["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(orgs.len(), 2, "{me}");
    assert!(orgs.contains(&own_org.as_str()) && orgs.contains(&shared_org.as_str()));
    let first = me["org_id"].as_str().unwrap().to_string();
    let other = if first == own_org {
        &shared_org
    } else {
        &own_org
    };

    // The cookie switches, for reads and writes alike.
    let switched = format!("{session}; scoville_org={other}");
    let (_, me, _) = api
        .call(Method::GET, "/v1/me", Cred::Cookie(&switched), None)
        .await;
    assert_eq!(me["org_id"], other.as_str(), "{me}");
    let made = api
        .endpoint(Cred::Cookie(&switched), endpoint_body("in the other org"))
        .await;
    assert_eq!(made["org_id"], other.as_str());
    let (_, listed, _) = api
        .call(Method::GET, "/v1/endpoints", Cred::Cookie(&session), None)
        .await;
    assert!(
        listed.as_array().unwrap().is_empty(),
        "not in the first org: {listed}"
    );

    // The header wins over the cookie.
    let resp = api
        .0
        .clone()
        .oneshot(
            Request::builder()
                .uri("/v1/me")
                .header("cookie", &switched)
                .header("x-scoville-org", &first)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let me: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(me["org_id"], first.as_str());

    // Another org's id (or garbage) in the cookie grants nothing: the first org.
    for bad in [stranger_org.as_str(), "org_nonsense"] {
        let cookie = format!("{session}; scoville_org={bad}");
        let (status, me, _) = api
            .call(Method::GET, "/v1/me", Cred::Cookie(&cookie), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{me}");
        assert_eq!(me["org_id"], first.as_str(), "{me}");
    }
}

#[tokio::test]
async fn api_answers_are_not_sniffed_or_stored_but_badges_keep_their_caching() {
    let api = Api::new().await;
    let (cookie, _) = api.signup("headers@a.example", "Org H").await;
    let get = |path: &'static str, cookie: Option<String>| {
        let api = api.clone();
        async move {
            let mut req = Request::builder().uri(path);
            if let Some(c) = cookie {
                req = req.header("cookie", c);
            }
            api.0
                .clone()
                .oneshot(req.body(Body::empty()).unwrap())
                .await
                .unwrap()
        }
    };
    // A signed-in answer, and an error one.
    for (path, cred, want) in [
        ("/v1/endpoints", Some(cookie.clone()), StatusCode::OK),
        ("/v1/endpoints", None, StatusCode::UNAUTHORIZED),
    ] {
        let resp = get(path, cred).await;
        assert_eq!(resp.status(), want);
        let h = resp.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["cache-control"], "no-store", "{path}");
    }
    // The UI's assets keep their own revalidation.
    let resp = get("/ui/app.js", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-cache");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
}

/// A log sink for the audit test.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn access_changes_and_refusals_are_audited_without_secrets() {
    let sink = Captured::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let api = Api::new().await;
    let (owner, body) = api.signup("audit@a.example", "Org Audit").await;
    let owner_id = body["user"]["id"].as_str().unwrap().to_string();
    let (status, _, _) = api
        .call(
            Method::POST,
            "/v1/login",
            Cred::None,
            Some(json!({"email": "audit@a.example", "password": "not the password"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (key, key_id) = api.key(&owner, "read").await;
    let (status, _, _) = api
        .call(
            Method::POST,
            "/v1/api-keys",
            Cred::Key(&key),
            Some(json!({"name": "escalate"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = api
        .call(
            Method::DELETE,
            &format!("/v1/api-keys/{key_id}"),
            Cred::Cookie(&owner),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let logs = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    let audit: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["target"] == "scoville::audit")
        .map(|e| e["fields"].clone())
        .collect();
    let events: Vec<&str> = audit.iter().filter_map(|f| f["event"].as_str()).collect();
    assert_eq!(
        events,
        [
            "signup",
            "login",
            "api_key.created",
            "forbidden",
            "api_key.deleted"
        ],
        "{logs}"
    );
    assert_eq!(audit[1]["actor"], "audit@a.example");
    assert_eq!(audit[1]["detail"], "wrong email or password");
    assert_eq!(audit[2]["actor"], owner_id.as_str());
    assert_eq!(audit[2]["subject"], key_id.as_str());
    assert_eq!(audit[4]["subject"], key_id.as_str());
    assert!(!logs.contains(&key), "no key in the logs");
    assert!(
        !logs.contains("not the password"),
        "no password in the logs"
    );
}

#[tokio::test]
async fn validation_errors_name_the_field() {
    let api = Api::new().await;
    let (cookie, _) = api.signup("v@a.example", "Org V").await;
    let cases = [
        (json!({"regions": []}), "regions"),
        (
            json!({"check": {"type": "http", "url": "ftp://x"}}),
            "check.url",
        ),
        (json!({"check": {"type": "smtp"}}), "check"),
        (
            json!({"check": {"type": "http", "url": "https://x.example", "watch": {"type": "regex", "pattern": "("}}}),
            "check.watch.pattern",
        ),
        (json!({"interval_s": 5}), "interval_s"),
        (json!({"confirm_regions": 4}), "confirm_regions"),
        (json!({"apdex_t_ms": 0}), "apdex_t_ms"),
        (json!({"tags": ["ok", "not ok!"]}), "tags[1]"),
        (json!({"surprise": 1}), ""),
    ];
    for (patch, field) in cases {
        let mut body = endpoint_body("v");
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, answer, _) = api
            .call(
                Method::POST,
                "/v1/endpoints",
                Cred::Cookie(&cookie),
                Some(body),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{patch}: {answer}"
        );
        assert!(
            answer["field"].as_str().unwrap().starts_with(field),
            "{patch}: {answer}"
        );
        assert!(!answer["reason"].as_str().unwrap().is_empty());
    }
    let (status, answer, _) = api
        .call(
            Method::POST,
            "/v1/signup",
            Cred::None,
            Some(json!({"email": "nope", "password": "correct horse battery", "org_name": "x"})),
        )
        .await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("email"))
    );
    let (status, answer, _) = api
        .call(Method::POST, "/v1/signup", Cred::None, Some(json!({"email": "v@a.example", "password": "correct horse battery", "org_name": "x"})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
}

#[tokio::test]
async fn bad_auth_password_change_revocation_and_the_login_limit() {
    let api = Api::new().await;
    let (old, _) = api.signup("p@a.example", "Org P").await;
    for cred in [
        Cred::None,
        Cred::Cookie("scoville_session=ss_forged"),
        Cred::Key("sk_forged"),
    ] {
        assert_eq!(
            api.call(Method::GET, "/v1/me", cred, None).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    // A second browser.
    let login = json!({"email": "p@a.example", "password": "correct horse battery"});
    let (status, _, other) = api
        .call(Method::POST, "/v1/login", Cred::None, Some(login))
        .await;
    assert_eq!(status, StatusCode::OK);
    let other = other.unwrap();
    assert_eq!(
        api.call(Method::GET, "/v1/me", Cred::Cookie(&other), None)
            .await
            .0,
        StatusCode::OK
    );
    let (status, answer, _) = api
        .call(
            Method::POST,
            "/v1/password",
            Cred::Cookie(&old),
            Some(json!({"current": "wrong one here", "new": "a much better secret"})),
        )
        .await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("current"))
    );
    let (status, _, fresh) = api
        .call(
            Method::POST,
            "/v1/password",
            Cred::Cookie(&old),
            Some(json!({"current": "correct horse battery", "new": "a much better secret"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for revoked in [&old, &other] {
        assert_eq!(
            api.call(Method::GET, "/v1/me", Cred::Cookie(revoked), None)
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        api.call(Method::GET, "/v1/me", Cred::Cookie(&fresh.unwrap()), None)
            .await
            .0,
        StatusCode::OK
    );

    // Five wrong passwords, then even the right one waits.
    for _ in 0..5 {
        let (status, _, _) = api
            .call(
                Method::POST,
                "/v1/login",
                Cred::None,
                Some(json!({"email": "p@a.example", "password": "guess guess guess"})),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let right = json!({"email": "P@a.example", "password": "a much better secret"});
    let resp = api
        .0
        .clone()
        .oneshot(
            Request::post("/v1/login")
                .header("content-type", "application/json")
                .body(Body::from(right.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    // Another user is not held back.
    api.signup("q@a.example", "Org Q").await;
    let (status, _, _) = api
        .call(
            Method::POST,
            "/v1/login",
            Cred::None,
            Some(json!({"email": "q@a.example", "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_probe_list_is_sharded_paged_scoped_and_due() {
    let api = Api::new().await;
    let a = tenant(&api, "a@a.example", "Org A").await;
    let b = tenant(&api, "b@b.example", "Org B").await;
    let mut a_ids = vec![a.endpoint_id.clone()];
    for i in 0..40 {
        let ep = api
            .endpoint(Cred::Key(&a.key), endpoint_body(&format!("a{i}")))
            .await;
        a_ids.push(ep["id"].as_str().unwrap().to_string());
    }
    // One paused, one only in another region, one checked every 5 minutes.
    let paused = &a_ids[1];
    api.call(
        Method::POST,
        &format!("/v1/endpoints/{paused}/pause"),
        Cred::Key(&a.key),
        None,
    )
    .await;
    let mut other = endpoint_body("elsewhere");
    other["regions"] = json!(["sa-east-1"]);
    other["confirm_regions"] = json!(1);
    let other = api.endpoint(Cred::Key(&a.key), other).await;
    let mut slow = endpoint_body("slow");
    slow["interval_s"] = json!(300);
    let slow = api.endpoint(Cred::Key(&a.key), slow).await;
    let slow_id = slow["id"].as_str().unwrap();

    let list = |token: String, shard: u32, shards: u32, at: i64| {
        let api = api.clone();
        async move {
            let mut ids = Vec::new();
            let mut cursor: Option<String> = None;
            let mut pages = 0;
            loop {
                let mut path = format!(
                    "/v1/probe/endpoints?region=eu-west-1&shard={shard}&shards={shards}&limit=7&at={at}"
                );
                if let Some(c) = &cursor {
                    path.push_str(&format!("&cursor={c}"));
                }
                let (status, page, _) = api.call(Method::GET, &path, Cred::Key(&token), None).await;
                assert_eq!(status, StatusCode::OK, "{page}");
                pages += 1;
                for e in page["endpoints"].as_array().unwrap() {
                    ids.push(e["id"].as_str().unwrap().to_string());
                    assert!(
                        e["check"]["url"].is_string()
                            && e["apdex_t_ms"].is_number()
                            && e["org_id"].is_string()
                    );
                }
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_string()),
                    None => return (ids, pages),
                }
            }
        }
    };
    let at = 1_790_000_000_000i64;
    let (all, pages) = list(PLATFORM_TOKEN.into(), 0, 1, at).await;
    assert!(pages > 1, "paged");
    assert!(
        all.contains(&b.endpoint_id),
        "a platform probe lists every org"
    );
    assert!(!all.contains(paused) && !all.contains(&other["id"].as_str().unwrap().to_string()));
    // The 5-minute endpoint is due in exactly one minute of five.
    let mut due = 0;
    for m in 0..5 {
        let (ids, _) = list(PLATFORM_TOKEN.into(), 0, 1, at + m * 60_000).await;
        due += usize::from(ids.iter().any(|i| i == slow_id));
    }
    assert_eq!(due, 1);
    // Shards partition the list.
    let mut union = Vec::new();
    for shard in 0..3 {
        let (ids, _) = list(PLATFORM_TOKEN.into(), shard, 3, at).await;
        assert!(ids.iter().all(|i| !union.contains(i)), "shards overlap");
        union.extend(ids);
    }
    union.sort();
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(union, sorted);
    // An org's own probe token sees its endpoints only.
    let (status, t, _) = api
        .call(
            Method::POST,
            "/v1/probe-tokens",
            Cred::Cookie(&a.cookie),
            Some(json!({"name": "private"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (mine, _) = list(t["token"].as_str().unwrap().to_string(), 0, 1, at).await;
    assert!(!mine.is_empty() && !mine.contains(&b.endpoint_id));
    // It is listed (never the token itself), and once deleted it lists nothing.
    let (_, tokens, _) = api
        .call(
            Method::GET,
            "/v1/probe-tokens",
            Cred::Cookie(&a.cookie),
            None,
        )
        .await;
    assert_eq!(tokens, json!([{"id": t["id"], "name": "private"}]));
    let (status, _, _) = api
        .call(
            Method::DELETE,
            &format!("/v1/probe-tokens/{}", t["id"].as_str().unwrap()),
            Cred::Cookie(&a.cookie),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = api
        .call(
            Method::GET,
            "/v1/probe/endpoints?region=eu-west-1",
            Cred::Key(t["token"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // An API key is not a probe token; bad queries name the field.
    assert_eq!(
        api.call(
            Method::GET,
            "/v1/probe/endpoints?region=eu-west-1",
            Cred::Key(&a.key),
            None
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
    let (status, answer, _) = api
        .call(
            Method::GET,
            "/v1/probe/endpoints?region=eu-west-1&shard=3&shards=3",
            Cred::Key(PLATFORM_TOKEN),
            None,
        )
        .await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("shard"))
    );
    // A new endpoint reaches the list at once.
    let added = api.endpoint(Cred::Key(&a.key), endpoint_body("new")).await;
    let (after, _) = list(PLATFORM_TOKEN.into(), 0, 1, at).await;
    assert!(after.contains(&added["id"].as_str().unwrap().to_string()));
}

#[tokio::test]
async fn history_results_and_badges_are_served_for_the_callers_endpoints_only() {
    use scoville_receiver_service::store::ResultStore;
    use scoville_receiver_service::store::sqlite::SqliteStore;

    let dir = std::env::temp_dir().join(format!("scoville-admin-history-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let results_db = dir.join("results.db");
    // The receiver creates the results database; the API reads it.
    let writer = SqliteStore::open(&results_db).unwrap();
    let store = Arc::new(SqliteAdmin::open(&dir.join("admin.db")).unwrap());
    let history = Arc::new(
        scoville_admin_api::history::sqlite::SqliteHistory::open(results_db.clone()).unwrap(),
    );
    let state = AppState::new(store, TokenSet::default(), 3_600_000, false)
        .await
        .unwrap()
        .with_history(history);
    let log = memory_log();
    let api = Api(router(state.with_incidents(log.clone())), log);
    let a = tenant(&api, "h@a.example", "Org H").await;
    let b = tenant(&api, "h@b.example", "Org I").await;
    let (_, me, _) = api
        .call(Method::GET, "/v1/me", Cred::Key(&a.key), None)
        .await;
    let org = me["org_id"].as_str().unwrap().to_string();

    // The receiver writes 10 minutes of results for A's endpoint: 2 of 20 down.
    let now = scoville_admin_api::app::now_ms() / 60_000 * 60_000;
    let t0 = now - 15 * 60_000;
    let results: Vec<serde_json::Value> = (0..20)
        .map(|i| {
            let at = t0 + (i / 2) * 60_000 + i % 2;
            let up = i % 10 != 3;
            json!({
                "endpoint_id": a.endpoint_id, "org_id": org, "region": if i % 2 == 0 { "eu-west-1" } else { "us-east-1" },
                "run_id": "r", "scheduled_at_ms": at, "started_at_ms": at, "apdex_t_ms": 300,
                "outcome": if up { "up" } else { "down" }, "reason": if up { Value::Null } else { "timeout".into() },
                "timings": {"total_ms": 100.0 + i as f64}
            })
        })
        .collect();
    let parsed: scoville_core::wire::ResultBatch =
        scoville_core::parse::from_json(json!({ "results": results }).to_string().as_bytes())
            .unwrap();
    writer.write(&parsed.results).await.unwrap();
    writer.rollup_minutes(t0, now).await.unwrap();
    writer.rollup_hours(t0, now).await.unwrap();

    let path = |rest: &str| format!("/v1/endpoints/{}/{rest}", a.endpoint_id);
    let (status, h, _) = api
        .call(
            Method::GET,
            &path(&format!("history?from={t0}&to={now}&step=5m")),
            Cred::Key(&a.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{h}");
    assert_eq!(h["summary"]["count"], 20, "{h}");
    assert_eq!(h["summary"]["up"], 18, "{h}");
    let (status, rows, _) = api
        .call(
            Method::GET,
            &path(&format!("results?from={t0}&to={now}")),
            Cred::Key(&a.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        rows.as_array()
            .map(Vec::len)
            .or_else(|| rows["results"].as_array().map(Vec::len)),
        Some(20),
        "{rows}"
    );
    // CSV by Accept, and an SVG badge.
    let resp = api
        .0
        .clone()
        .oneshot(
            Request::get(path(&format!("history?from={t0}&to={now}&step=5m")))
                .header("authorization", format!("Bearer {}", a.key))
                .header("accept", "text/csv")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let resp = api
        .0
        .clone()
        .oneshot(
            Request::get(path("badge/uptime?window=24h"))
                .header("authorization", format!("Bearer {}", a.key))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let svg = String::from_utf8(
        axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("90"), "{svg}");
    // B's key sees none of it; a bad query names the field.
    let (status, _, _) = api
        .call(Method::GET, &path("history"), Cred::Key(&b.key), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, answer, _) = api
        .call(
            Method::GET,
            &path("history?step=7m"),
            Cred::Key(&a.key),
            None,
        )
        .await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("step")),
        "{answer}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn alert_channels_hide_their_secrets_and_send_a_test_notification() {
    let api = Api::new().await;
    let a = tenant(&api, "c@a.example", "Org C").await;
    // The configuration is checked by the notifier's parser: 422 names the field.
    let (status, answer, _) = api
        .call(
            Method::POST,
            "/v1/channels",
            Cred::Key(&a.key),
            Some(json!({"name": "bad", "config": {"type": "slack", "webhook_url": "http://"}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(
        answer["field"].as_str().unwrap().starts_with("config."),
        "{answer}"
    );
    // Listing and reading never show the secret URL.
    let (_, list, _) = api
        .call(Method::GET, "/v1/channels", Cred::Key(&a.key), None)
        .await;
    assert!(!list.to_string().contains("secret-path"), "{list}");
    assert_eq!(list[0]["type"], "webhook");
    let (_, one, _) = api
        .call(
            Method::GET,
            &format!("/v1/channels/{}", a.channel_id),
            Cred::Key(&a.key),
            None,
        )
        .await;
    assert!(!one.to_string().contains("secret-path"), "{one}");
    // A test notification reaches a real (recording) webhook.
    let hook = scoville_tests::recorder::Recorder::start().await;
    let (_, ch, _) = api
        .call(
            Method::POST,
            "/v1/channels",
            Cred::Key(&a.key),
            Some(json!({"name": "local", "config": {"type": "webhook", "url": hook.url("/in")}})),
        )
        .await;
    let (status, sent, _) = api
        .call(
            Method::POST,
            &format!("/v1/channels/{}/test", ch["id"].as_str().unwrap()),
            Cred::Key(&a.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    let got = hook.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, "/in");
    // A channel that refuses: 502 with its answer.
    let refusing = scoville_tests::recorder::Recorder::with_script(vec![
        scoville_tests::recorder::Reply::status(403),
    ])
    .await;
    let (_, ch, _) = api
        .call(
            Method::POST,
            "/v1/channels",
            Cred::Key(&a.key),
            Some(json!({"name": "no", "config": {"type": "webhook", "url": refusing.url("/in")}})),
        )
        .await;
    let (status, answer, _) = api
        .call(
            Method::POST,
            &format!("/v1/channels/{}/test", ch["id"].as_str().unwrap()),
            Cred::Key(&a.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{answer}");
    assert_eq!(answer["sent"], false);
}

#[tokio::test]
async fn maintenance_windows_name_the_orgs_own_endpoints() {
    let api = Api::new().await;
    let a = tenant(&api, "m@a.example", "Org M").await;
    let b = tenant(&api, "m@b.example", "Org N").await;
    let window =
        |ids: Value, from: i64, to: i64| json!({"from_ms": from, "to_ms": to, "endpoint_ids": ids});
    let t = 1_790_000_000_000i64;
    // Another org's endpoint is unknown here.
    let (status, answer, _) = api
        .call(
            Method::POST,
            "/v1/maintenance",
            Cred::Key(&a.key),
            Some(window(json!([b.endpoint_id]), t, t + 1)),
        )
        .await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("endpoint_ids[0]")),
        "{answer}"
    );
    let (status, answer, _) = api
        .call(
            Method::POST,
            "/v1/maintenance",
            Cred::Key(&a.key),
            Some(window(json!([]), t, t)),
        )
        .await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("to_ms")),
        "{answer}"
    );
    let (status, created, _) = api
        .call(
            Method::POST,
            "/v1/maintenance",
            Cred::Key(&a.key),
            Some(window(json!([]), t, t + 3_600_000)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (_, list, _) = api
        .call(Method::GET, "/v1/maintenance", Cred::Key(&a.key), None)
        .await;
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        api.call(
            Method::DELETE,
            &format!("/v1/maintenance/{id}"),
            Cred::Key(&b.key),
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.call(
            Method::DELETE,
            &format!("/v1/maintenance/{id}"),
            Cred::Key(&a.key),
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    let (_, list, _) = api
        .call(Method::GET, "/v1/maintenance", Cred::Key(&a.key), None)
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_status_page_shows_names_and_states_publicly_and_nothing_else() {
    let api = Api::new().await;
    let a = tenant(&api, "s@a.example", "Org S").await;
    let b = tenant(&api, "s@b.example", "Org T").await;
    // Public, no credentials: the title and each endpoint's name and state.
    let (status, page, _) = api
        .call(
            Method::GET,
            "/v1/public/status/org-s-status",
            Cred::None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["title"], "Org S status");
    assert_eq!(page["endpoints"][0]["name"], "Org S shop");
    assert_eq!(
        page["endpoints"][0]["status"], "unknown",
        "no history store here"
    );
    let text = page.to_string();
    assert!(
        !text.contains(&a.endpoint_id) && !text.contains("shop.example.com"),
        "{text}"
    );
    // Slugs are unique; another org's endpoints cannot be shown; unknown slugs are 404.
    let (status, _, _) = api
        .call(
            Method::POST,
            "/v1/status-pages",
            Cred::Key(&b.key),
            Some(json!({"slug": "org-s-status", "title": "x", "endpoint_ids": [b.endpoint_id]})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, answer, _) = api
        .call(
            Method::POST,
            "/v1/status-pages",
            Cred::Key(&b.key),
            Some(json!({"slug": "mine", "title": "x", "endpoint_ids": [a.endpoint_id]})),
        )
        .await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("endpoint_ids[0]"))
    );
    let (status, answer, _) = api
        .call(
            Method::POST,
            "/v1/status-pages",
            Cred::Key(&b.key),
            Some(json!({"slug": "No Spaces", "title": "x", "endpoint_ids": [b.endpoint_id]})),
        )
        .await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("slug"))
    );
    assert_eq!(
        api.call(Method::GET, "/v1/public/status/nobody", Cred::None, None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn incidents_list_newest_first_with_their_timeline_and_flag_the_probe_list() {
    let api = Api::new().await;
    let a = tenant(&api, "i@a.example", "Org A").await;
    let b = tenant(&api, "i@b.example", "Org B").await;
    // The tenant's incident (open since 1_790_000_000_000) and an older, resolved one.
    let t0 = 1_789_990_000_020i64;
    let old = api
        .incident(&a.org_id, &a.endpoint_id, t0, Some(t0 + 600_000))
        .await;
    let (status, page, _) = api
        .call(Method::GET, "/v1/incidents", Cred::Key(&a.key), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let listed: Vec<&str> = page["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec![a.incident_id.as_str(), old.as_str()]);
    assert_eq!(page["incidents"][0]["status"], "open");
    assert_eq!(page["incidents"][1]["status"], "resolved");
    assert_eq!(page["incidents"][1]["duration_ms"], 660_000);
    // Filters and paging.
    let (_, open, _) = api
        .call(
            Method::GET,
            "/v1/incidents?status=open",
            Cred::Key(&a.key),
            None,
        )
        .await;
    assert_eq!(open["incidents"].as_array().unwrap().len(), 1);
    let (_, first, _) = api
        .call(
            Method::GET,
            "/v1/incidents?limit=1",
            Cred::Key(&a.key),
            None,
        )
        .await;
    let after = first["next_after"].as_str().unwrap().to_string();
    let (_, second, _) = api
        .call(
            Method::GET,
            &format!("/v1/incidents?limit=1&after={after}"),
            Cred::Key(&a.key),
            None,
        )
        .await;
    assert_eq!(second["incidents"][0]["id"], old.as_str());
    let (_, other, _) = api
        .call(
            Method::GET,
            &format!("/v1/incidents?endpoint_id={}", b.endpoint_id),
            Cred::Key(&a.key),
            None,
        )
        .await;
    assert!(other["incidents"].as_array().unwrap().is_empty());
    // The same list as CSV: a header and a row per incident, newest first.
    let (status, csv, _) = api
        .call(
            Method::GET,
            "/v1/incidents?format=csv",
            Cred::Key(&a.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let csv = csv.as_str().unwrap_or_else(|| panic!("CSV text: {csv}"));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[0].starts_with("id,endpoint_id,status,started_at,"),
        "{csv}"
    );
    assert!(
        lines[1].starts_with(&format!("{},{},open,", a.incident_id, a.endpoint_id)),
        "{csv}"
    );
    assert!(
        lines[2].starts_with(&format!("{old},{},resolved,", a.endpoint_id)),
        "{csv}"
    );
    assert!(lines[2].contains(",660000,"), "{csv}");
    for (query, field) in [
        ("status=maybe", "status"),
        ("limit=0", "limit"),
        ("after=x", "after"),
        ("format=xml", "format"),
    ] {
        let (status, answer, _) = api
            .call(
                Method::GET,
                &format!("/v1/incidents?{query}"),
                Cred::Key(&a.key),
                None,
            )
            .await;
        assert_eq!(
            (status, answer["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{query}: {answer}"
        );
    }
    // One incident with its timeline, oldest first.
    let (status, detail, _) = api
        .call(
            Method::GET,
            &format!("/v1/incidents/{old}"),
            Cred::Cookie(&a.cookie),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let kinds: Vec<(&str, Option<&str>)> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["notice"].as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("confirmed", None),
            ("notified", Some("down")),
            ("resolved", None)
        ]
    );
    assert_eq!(detail["incident"]["error"], "status: 503 <script>");

    // The probe's list flags endpoints with an open incident, and stops once resolved.
    let flags = || {
        let api = api.clone();
        async move {
            let (status, page, _) = api
                .call(
                    Method::GET,
                    "/v1/probe/endpoints?region=eu-west-1&limit=5000",
                    Cred::Key(PLATFORM_TOKEN),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{page}");
            page["endpoints"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e["id"].as_str().unwrap().to_string(),
                        e["open_incident"].as_bool().unwrap(),
                    )
                })
                .collect::<std::collections::BTreeMap<_, _>>()
        }
    };
    let quiet = api
        .endpoint(Cred::Key(&a.key), endpoint_body("quiet"))
        .await;
    let quiet = quiet["id"].as_str().unwrap().to_string();
    let before = flags().await;
    assert!(before[&a.endpoint_id]);
    assert!(before[&b.endpoint_id]);
    assert!(!before[&quiet]);
    api.incident(
        &a.org_id,
        &a.endpoint_id,
        1_790_000_000_000,
        Some(1_790_000_300_000),
    )
    .await;
    let after = flags().await;
    assert!(!after[&a.endpoint_id]);
    assert!(after[&b.endpoint_id]);
    // The flagged entry is otherwise the same JSON.
    let (_, page, _) = api
        .call(
            Method::GET,
            "/v1/probe/endpoints?region=eu-west-1&limit=5000",
            Cred::Key(PLATFORM_TOKEN),
            None,
        )
        .await;
    let b_entry = page["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == b.endpoint_id.as_str())
        .unwrap();
    assert_eq!(b_entry["name"], "Org B shop");
    assert!(b_entry["check"]["url"].is_string());
}

#[tokio::test]
async fn writes_through_this_instance_patch_the_probe_list_and_others_rebuild_it() {
    let store = Arc::new(SqliteAdmin::open(std::path::Path::new(":memory:")).unwrap());
    let tokens = TokenSet::new(vec![TokenHash::of(PLATFORM_TOKEN)]);
    let state = AppState::new(store.clone(), tokens, 3_600_000, false)
        .await
        .unwrap();
    let cache = state.probe_list.clone();
    let api = Api(router(state), memory_log());
    let a = tenant(&api, "p@a.example", "Org P").await;
    let ids = || {
        let api = api.clone();
        async move {
            let (_, page, _) = api
                .call(
                    Method::GET,
                    "/v1/probe/endpoints?region=eu-west-1&limit=5000",
                    Cred::Key(PLATFORM_TOKEN),
                    None,
                )
                .await;
            page["endpoints"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e["id"].as_str().unwrap().to_string(),
                        e["name"].as_str().unwrap().to_string(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(ids().await.len(), 1);
    assert_eq!(cache.rebuilds(), 1);
    // Create, rename, pause, resume, delete through the API: the list follows at
    // once, without a rebuild.
    let ep = api
        .endpoint(Cred::Key(&a.key), endpoint_body("second"))
        .await;
    let id = ep["id"].as_str().unwrap().to_string();
    assert!(ids().await.iter().any(|(i, n)| *i == id && n == "second"));
    let (status, _, _) = api
        .call(
            Method::PUT,
            &format!("/v1/endpoints/{id}"),
            Cred::Key(&a.key),
            Some(endpoint_body("renamed")),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(ids().await.iter().any(|(i, n)| *i == id && n == "renamed"));
    api.call(
        Method::POST,
        &format!("/v1/endpoints/{id}/pause"),
        Cred::Key(&a.key),
        None,
    )
    .await;
    assert!(!ids().await.iter().any(|(i, _)| *i == id));
    api.call(
        Method::POST,
        &format!("/v1/endpoints/{id}/resume"),
        Cred::Key(&a.key),
        None,
    )
    .await;
    assert!(ids().await.iter().any(|(i, _)| *i == id));
    api.call(
        Method::DELETE,
        &format!("/v1/endpoints/{id}"),
        Cred::Key(&a.key),
        None,
    )
    .await;
    assert_eq!(ids().await.len(), 1);
    assert_eq!(cache.rebuilds(), 1, "every change was patched in");
    // A write by another instance (straight into the store) is seen by its generation.
    let mut other = store
        .endpoint(
            &OrgId::parse(&a.org_id).unwrap(),
            &EndpointId::parse(&a.endpoint_id).unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    other.name = "changed elsewhere".into();
    store.put_endpoint(&other, true).await.unwrap();
    assert_eq!(
        ids().await,
        vec![(a.endpoint_id.clone(), "changed elsewhere".to_string())]
    );
    assert_eq!(cache.rebuilds(), 2);
}

#[tokio::test]
async fn services_read_directory_entries_and_channel_configs_with_a_service_token_only() {
    const SERVICE: &str = "service-token-0123456789abcdef";
    let store = Arc::new(SqliteAdmin::open(std::path::Path::new(":memory:")).unwrap());
    let state = AppState::new(store, TokenSet::default(), 3_600_000, false)
        .await
        .unwrap()
        .with_service_tokens(TokenSet::new(vec![TokenHash::of(SERVICE)]))
        .with_public_url("https://scoville.example/");
    let api = Api(router(state), memory_log());
    let a = tenant(&api, "s@a.example", "Org S").await;
    let mut body = endpoint_body("checkout");
    body["channels"] = json!([a.channel_id]);
    body["failure_threshold"] = json!(3);
    let ep = api.endpoint(Cred::Key(&a.key), body).await;
    let id = ep["id"].as_str().unwrap();
    // A window over every endpoint of the org, one over another endpoint only, one over.
    let now = scoville_admin_api::app::now_ms();
    for (from, to, ids) in [
        (now - 60_000, now + 3_600_000, json!([])),
        (now, now + 60_000, json!([a.endpoint_id])),
    ] {
        let (status, w, _) = api
            .call(
                Method::POST,
                "/v1/maintenance",
                Cred::Key(&a.key),
                Some(json!({"from_ms": from, "to_ms": to, "endpoint_ids": ids})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{w}");
    }
    let path = format!("/v1/service/endpoints/{}/{id}", a.org_id);
    for cred in [Cred::None, Cred::Key(&a.key), Cred::Cookie(&a.cookie)] {
        assert_eq!(
            api.call(Method::GET, &path, cred, None).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    let (status, entry, _) = api.call(Method::GET, &path, Cred::Key(SERVICE), None).await;
    assert_eq!(status, StatusCode::OK, "{entry}");
    assert_eq!(entry["name"], "checkout");
    assert_eq!(entry["target"], "https://shop.example.com/health");
    assert_eq!(entry["channels"], json!([a.channel_id]));
    assert_eq!(entry["policy"]["failure_threshold"], 3);
    assert_eq!(entry["maintenance"].as_array().unwrap().len(), 1);
    assert_eq!(
        entry["link"],
        format!("https://scoville.example/endpoints/{id}")
    );
    // Unknown endpoint, or the right id under another org: 404.
    let other = format!("/v1/service/endpoints/org_other/{id}");
    assert_eq!(
        api.call(Method::GET, &other, Cred::Key(SERVICE), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // The channel's configuration, secrets included (people never see it).
    let (status, config, _) = api
        .call(
            Method::GET,
            &format!("/v1/service/channels/{}/{}", a.org_id, a.channel_id),
            Cred::Key(SERVICE),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{config}");
    assert_eq!(config["url"], "https://hooks.example.com/secret-path");
    assert_eq!(
        api.call(
            Method::GET,
            &format!("/v1/service/channels/{}/{}", a.org_id, a.channel_id),
            Cred::Key(&a.key),
            None
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
}

/// Change alerts: an HTTP check's `watch` is stored and answered as given.
#[tokio::test]
async fn an_http_check_keeps_its_watch() {
    let api = Api::new().await;
    let (cookie, _) = api.signup("w@a.example", "Org W").await;
    let mut body = endpoint_body("versioned");
    body["check"]["watch"] = json!({"type": "json_path", "path": "$.version"});
    let ep = api.endpoint(Cred::Cookie(&cookie), body).await;
    let (status, got, _) = api
        .call(
            Method::GET,
            &format!("/v1/endpoints/{}", ep["id"].as_str().unwrap()),
            Cred::Cookie(&cookie),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(
        got["check"]["watch"],
        json!({"type": "json_path", "path": "$.version"})
    );
}
