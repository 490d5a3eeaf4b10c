//! Sign-up, login, logout, password change, and who am I.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use scoville_core::OrgId;
use serde::Deserialize;
use serde_json::json;

use crate::app::{AppState, now_ms};
use crate::auth::{
    Caller, SESSION_COOKIE, hash_password, hash_secret, session_token, verify_password,
};
use crate::error::ApiError;
use crate::model::{Invalid, Org, User, new_id, new_secret};

/// Sign-up body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignUp {
    email: String,
    password: String,
    org_name: String,
}

/// Login body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    email: String,
    password: String,
}

/// Password change body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current: String,
    new: String,
}

pub(crate) fn email(raw: &str) -> Result<String, Invalid> {
    let e = raw.trim().to_ascii_lowercase();
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(e)
    } else {
        Err(Invalid::new("email", "must be an email address"))
    }
}

fn password(field: &str, p: &str) -> Result<(), Invalid> {
    let n = p.chars().count();
    if (10..=256).contains(&n) {
        Ok(())
    } else {
        Err(Invalid::new(field, "must be 10-256 characters"))
    }
}

async fn new_session(state: &AppState, user_id: &str) -> Result<HeaderValue, ApiError> {
    let token = new_secret("ss_");
    let ttl = state.settings.session_ttl_ms;
    state
        .store
        .create_session(&hash_secret(&token), user_id, now_ms() + ttl)
        .await?;
    let secure = if state.settings.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}{secure}",
        ttl / 1000
    ))
    .map_err(|e| ApiError::Unavailable(e.to_string()))
}

fn with_cookie(status: StatusCode, cookie: HeaderValue, body: serde_json::Value) -> Response {
    let mut r = (status, Json(body)).into_response();
    r.headers_mut().insert(header::SET_COOKIE, cookie);
    r
}

/// `POST /v1/signup`: a user, their organization (they own it) and a session.
pub async fn signup(
    State(state): State<AppState>,
    Json(body): Json<SignUp>,
) -> Result<Response, ApiError> {
    let email = email(&body.email)?;
    password("password", &body.password)?;
    let org_name = body.org_name.trim().to_string();
    if org_name.is_empty() || org_name.chars().count() > 100 {
        return Err(Invalid::new("org_name", "must be 1-100 characters").into());
    }
    let user = User {
        id: new_id("usr_"),
        email,
    };
    let org = Org {
        id: OrgId::parse(new_id("org_")).map_err(ApiError::Unavailable)?,
        name: org_name,
    };
    let hash = hash_password(body.password).await?;
    state.store.create_user_with_org(&user, &hash, &org).await?;
    let cookie = new_session(&state, &user.id).await?;
    Ok(with_cookie(
        StatusCode::CREATED,
        cookie,
        json!({ "user": user, "org": org }),
    ))
}

/// `POST /v1/login`.
pub async fn login(
    State(state): State<AppState>,
    Json(body): Json<Login>,
) -> Result<Response, ApiError> {
    let email = email(&body.email).map_err(|_| ApiError::Unauthorized)?;
    state.login_limiter.check(&email)?;
    let found = state.store.user_by_email(&email).await?;
    // Verify against a dummy hash when the user does not exist, so timing says nothing.
    let (user, hash) = match found {
        Some((u, h)) => (Some(u), h),
        None => (None, state.settings.dummy_hash.clone()),
    };
    let ok = verify_password(body.password, hash).await;
    let Some(user) = user.filter(|_| ok) else {
        state.login_limiter.failed(&email);
        return Err(ApiError::Unauthorized);
    };
    state.login_limiter.succeeded(&email);
    let cookie = new_session(&state, &user.id).await?;
    Ok(with_cookie(StatusCode::OK, cookie, json!({ "user": user })))
}

/// `POST /v1/logout`.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    if let Some(token) = session_token(&headers) {
        state.store.delete_session(&hash_secret(token)).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/password`: changes the password and revokes every session, then opens a
/// new one for this browser.
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<PasswordChange>,
) -> Result<Response, ApiError> {
    let user_id = caller.user()?.to_string();
    password("new", &body.new)?;
    let hash = state
        .store
        .password_hash(&user_id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if !verify_password(body.current, hash).await {
        return Err(Invalid::new("current", "is not the current password").into());
    }
    let new_hash = hash_password(body.new).await?;
    state.store.set_password(&user_id, &new_hash).await?;
    let cookie = new_session(&state, &user_id).await?;
    Ok(with_cookie(
        StatusCode::OK,
        cookie,
        json!({ "sessions_revoked": true }),
    ))
}

/// `GET /v1/me`: the caller, their organization and role.
pub async fn me(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let orgs = match &caller.user_id {
        Some(u) => state
            .store
            .memberships(u)
            .await?
            .into_iter()
            .map(|(o, r)| json!({ "id": o.id, "name": o.name, "role": r }))
            .collect(),
        None => Vec::new(),
    };
    Ok(Json(json!({
        "org_id": caller.org_id,
        "role": caller.role,
        "user_id": caller.user_id,
        "orgs": orgs,
    })))
}
