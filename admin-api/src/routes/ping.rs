//! Heartbeat routes: the public ping URLs (`/v1/ping/{token}`, `/start`, `/fail`, GET or
//! POST, the token being the credential), a new token for an endpoint, its heartbeat
//! state, and the sweep for deployments without a long-running process (AWS: a
//! scheduled call with a service token). The logic is in [`crate::heartbeat`].
//!
//! Pings answer `text/plain`: 200 `OK` once the result is handed on, 404 for an unknown
//! token, 413 over [`MAX_PAYLOAD`], 503 (with `Retry-After`) when the result could not
//! be handed on — the job's retry then sends it again.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use scoville_core::{CheckSpec, EndpointId};
use serde::Serialize;

use crate::app::{AppState, now_ms};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::heartbeat::{Heartbeats, MAX_PAYLOAD, PingKind, PingOutcome};

fn heartbeats(state: &AppState) -> Result<&Heartbeats, ApiError> {
    state
        .heartbeats
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("heartbeats are not configured".into()))
}

async fn ping(state: AppState, token: String, kind: PingKind, body: Body) -> Response {
    let payload = match axum::body::to_bytes(body, MAX_PAYLOAD).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::PayloadTooLarge(format!(
                "a ping's payload may have at most {MAX_PAYLOAD} bytes"
            ))
            .into_response();
        }
    };
    let outcome = match heartbeats(&state) {
        Ok(h) => {
            h.ping(state.store.as_ref(), &token, kind, &payload, now_ms())
                .await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(PingOutcome::Recorded { .. }) => (StatusCode::OK, "OK\n").into_response(),
        Ok(PingOutcome::Paused) => (StatusCode::OK, "OK (paused: not recorded)\n").into_response(),
        Err(e) => e.into_response(),
    }
}

macro_rules! ping_route {
    ($name:ident, $method:ident, $path:literal, $kind:expr, $what:literal) => {
        #[doc = concat!("`", stringify!($method), " ", $path, "`: ", $what)]
        #[utoipa::path(
            $method,
            path = $path,
            operation_id = stringify!($name),
            tag = "heartbeats",
            params(("token" = String, Path, description = "The heartbeat's ping token (the credential).")),
            request_body(content = String, content_type = "text/plain", description = "Optional payload (at most 100 KiB), judged by the check's payload assertions."),
            responses(
                (status = 200, description = "Recorded.", content_type = "text/plain", body = String, example = "OK\n"),
                (status = 404, response = crate::openapi::NotFound),
                (status = 413, response = crate::openapi::PayloadTooLarge),
                (status = 429, response = crate::openapi::TooManyRequests),
                (status = 503, response = crate::openapi::Unavailable),
            )
        )]
        pub async fn $name(
            State(state): State<AppState>,
            Path(token): Path<String>,
            body: Body,
        ) -> Response {
            ping(state, token, $kind, body).await
        }
    };
}

ping_route!(
    ping_get,
    get,
    "/v1/ping/{token}",
    PingKind::Success,
    "the job finished well."
);
ping_route!(
    ping_post,
    post,
    "/v1/ping/{token}",
    PingKind::Success,
    "the job finished; the payload is judged."
);
ping_route!(
    start_get,
    get,
    "/v1/ping/{token}/start",
    PingKind::Start,
    "the job started (its duration is measured to the next finish)."
);
ping_route!(
    start_post,
    post,
    "/v1/ping/{token}/start",
    PingKind::Start,
    "the job started."
);
ping_route!(
    fail_get,
    get,
    "/v1/ping/{token}/fail",
    PingKind::Fail,
    "the job failed."
);
ping_route!(
    fail_post,
    post,
    "/v1/ping/{token}/fail",
    PingKind::Fail,
    "the job failed; the payload's first line is the error."
);

/// A new ping URL.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PingToken {
    /// The URL the job calls (append `/start` or `/fail` for those pings). Shown once.
    pub ping_url: String,
}

/// `POST /v1/endpoints/{id}/ping-token`: a new ping token for a heartbeat endpoint;
/// the old one stops working.
#[utoipa::path(
    post,
    path = "/v1/endpoints/{id}/ping-token",
    operation_id = "new_ping_token",
    tag = "heartbeats",
    security(("session" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The heartbeat endpoint's id.")),
    responses(
        (status = 201, description = "The new ping URL, shown once.", body = PingToken),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 422, response = crate::openapi::Unprocessable),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn new_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<PingToken>), ApiError> {
    caller.must_write()?;
    let id = EndpointId::parse(id).map_err(|_| ApiError::NotFound)?;
    let endpoint = state
        .store
        .endpoint(&caller.org_id, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !matches!(endpoint.check, CheckSpec::Heartbeat(_)) {
        return Err(crate::model::Invalid::new("check.type", "is not a heartbeat").into());
    }
    let token = heartbeats(&state)?.issue_token(&caller.org_id, &id).await?;
    Ok((
        StatusCode::CREATED,
        Json(PingToken {
            ping_url: ping_url(&state, &token),
        }),
    ))
}

/// The URL of `token`.
pub fn ping_url(state: &AppState, token: &str) -> String {
    format!("{}/v1/ping/{token}", state.settings.public_url)
}

/// A heartbeat's state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HeartbeatState {
    /// `new` (never pinged), `up`, `running` (started, within its grace time), `late`
    /// (past its period, within grace), `down` (overdue, or the last run failed),
    /// `paused`.
    pub status: &'static str,
    /// The last finishing ping, Unix ms.
    pub last_ping_ms: Option<i64>,
    /// Whether that run went well.
    pub last_ok: Option<bool>,
    /// The last `/start`, Unix ms.
    pub last_start_ms: Option<i64>,
    /// When the next ping is due (late after it, down `grace_s` later), Unix ms.
    pub next_due_ms: Option<i64>,
}

/// `GET /v1/endpoints/{id}/heartbeat`.
#[utoipa::path(
    get,
    path = "/v1/endpoints/{id}/heartbeat",
    operation_id = "heartbeat_state",
    tag = "heartbeats",
    security(("session" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The heartbeat endpoint's id.")),
    responses(
        (status = 200, description = "What was last heard from the job.", body = HeartbeatState),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn state(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<HeartbeatState>, ApiError> {
    let id = EndpointId::parse(id).map_err(|_| ApiError::NotFound)?;
    let endpoint = state
        .store
        .endpoint(&caller.org_id, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let CheckSpec::Heartbeat(check) = &endpoint.check else {
        return Err(ApiError::NotFound);
    };
    let beat = heartbeats(&state)?
        .store()
        .beat(&caller.org_id, &id)
        .await?;
    let now = now_ms();
    let (last_ping, last_ok, last_start) = beat
        .as_ref()
        .map(|b| (b.last_ping_ms, b.last_ok, b.last_start_ms))
        .unwrap_or_default();
    let next_due = last_ping.map(|p| p + i64::from(check.period_s()) * 1000);
    let running = matches!((last_start, last_ping), (Some(s), p) if p.is_none_or(|p| s > p));
    let overdue = beat.as_ref().is_some_and(|b| {
        crate::heartbeat::sweep::overdue(check, b, now).is_some()
            || b.reported_ms
                .is_some_and(|r| b.last_ping_ms.is_some_and(|p| r > p))
    });
    let status = if endpoint.paused {
        "paused"
    } else if overdue || last_ok == Some(false) {
        "down"
    } else if running {
        "running"
    } else if last_ping.is_none() {
        "new"
    } else if next_due.is_some_and(|d| now > d) {
        "late"
    } else {
        "up"
    };
    Ok(Json(HeartbeatState {
        status,
        last_ping_ms: last_ping,
        last_ok,
        last_start_ms: last_start,
        next_due_ms: next_due,
    }))
}

/// `POST /v1/service/heartbeats/sweep`: one sweep now (service token); answers how many
/// heartbeats were overdue.
#[utoipa::path(
    post,
    path = "/v1/service/heartbeats/sweep",
    operation_id = "sweep_heartbeats",
    tag = "heartbeats",
    security(("service_token" = [])),
    responses(
        (status = 200, description = "How many overdue heartbeats were reported.", body = SweepAnswer),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn sweep(
    State(state): State<AppState>,
    _service: crate::routes::service::ServiceCaller,
) -> Result<Json<SweepAnswer>, ApiError> {
    let reported = heartbeats(&state)?
        .sweep(state.store.as_ref(), now_ms())
        .await?;
    Ok(Json(SweepAnswer { reported }))
}

/// Answer of a sweep.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SweepAnswer {
    /// Overdue heartbeats reported.
    pub reported: usize,
}
