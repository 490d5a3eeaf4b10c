//! Sign-up, login, logout, password change, and who am I.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use scoville_core::OrgId;
use serde::{Deserialize, Serialize};

use super::JsonBody;
use crate::app::{AppState, now_ms};
use crate::audit;
use crate::auth::{
    Caller, SESSION_COOKIE, hash_password, hash_secret, session_token, verify_password,
};
use crate::error::ApiError;
use crate::model::{Invalid, Org, Role, User, new_id, new_secret};

/// Sign-up body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUp {
    /// The login: an email address of at most 254 characters (trimmed, compared
    /// lower-cased).
    #[schema(example = "ada@example.com")]
    email: String,
    /// 10-256 characters.
    #[schema(min_length = 10, max_length = 256)]
    password: String,
    /// The new organization's name, 1-100 characters (trimmed).
    #[schema(min_length = 1, example = "Acme")]
    org_name: String,
    /// An invitation for this email: the new user also joins the inviting organization.
    /// Required when the server's sign-up is closed.
    #[serde(default)]
    invitation: Option<String>,
}

/// Login body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The login.
    #[schema(example = "ada@example.com")]
    email: String,
    /// The password.
    password: String,
}

/// Password change body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The current password.
    current: String,
    /// The new one, 10-256 characters.
    #[schema(min_length = 10, max_length = 256)]
    new: String,
}

/// Answer of a sign-up.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SignedUp {
    /// The new user.
    pub user: User,
    /// Their new organization (they own it).
    pub org: Org,
    /// The organization their invitation added them to, if they signed up with one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub joined_org_id: Option<OrgId>,
}

/// Answer of a login.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoggedIn {
    /// The user.
    pub user: User,
}

/// Answer of a password change.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PasswordChanged {
    /// Always true: every other session has been revoked.
    pub sessions_revoked: bool,
}

/// Who is calling (`GET /v1/me`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    /// The organization acted in.
    pub org_id: OrgId,
    /// The caller's role there (an API key's: `viewer` for read, `admin` for read-write).
    pub role: Role,
    /// The user; null for an API key.
    pub user_id: Option<String>,
    /// The user's organizations; empty for an API key.
    pub orgs: Vec<Membership>,
}

/// One organization a user belongs to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Membership {
    /// The organization.
    pub id: OrgId,
    /// Its name.
    pub name: String,
    /// The user's role there.
    pub role: Role,
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

fn with_cookie(status: StatusCode, cookie: HeaderValue, body: impl Serialize) -> Response {
    let mut r = (status, Json(body)).into_response();
    r.headers_mut().insert(header::SET_COOKIE, cookie);
    r
}

/// `POST /v1/signup`: a user, their organization (they own it) and a session; with an
/// invitation for their email they also join the inviting organization. Where sign-up
/// is closed (`admin.open_signup = false`) an invitation (or a service token) is needed.
#[utoipa::path(
    post,
    path = "/v1/signup",
    operation_id = "signup",
    tag = "account",
    request_body = SignUp,
    responses(
        (status = 201, description = "Signed up and signed in.", body = SignedUp,
            headers(("Set-Cookie" = String, description = "The session cookie."))),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, response = crate::openapi::Conflict),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::Unprocessable),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn signup(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SignUp>,
) -> Result<Response, ApiError> {
    let email = email(&body.email)?;
    password("password", &body.password)?;
    let org_name = body.org_name.trim().to_string();
    if org_name.is_empty() || org_name.chars().count() > 100 {
        return Err(Invalid::new("org_name", "must be 1-100 characters").into());
    }
    let operator = crate::auth::bearer(&headers).is_some_and(|t| state.service_tokens.accepts(t));
    if body.invitation.is_none() && !state.settings.open_signup && !operator {
        audit::refused("signup", &email, "sign-up is closed");
        return Err(ApiError::Forbidden(
            "sign-up is closed on this server: ask an organization's owner for an invitation",
        ));
    }
    // Taken only once the email is known to be free, so a refused sign-up keeps it.
    let joining = match &body.invitation {
        None => None,
        Some(token) => {
            if state.store.user_by_email(&email).await?.is_some() {
                return Err(ApiError::Conflict("a user with this email"));
            }
            let (org, invited, role) = state
                .store
                .take_invitation(&hash_secret(token), &email, now_ms())
                .await?
                .ok_or_else(|| Invalid::new("invitation", "is unknown, used or expired"))?;
            if invited != email {
                audit::refused("signup.invitation", &email, "invited another email");
                return Err(ApiError::Forbidden(
                    "this invitation is for another email address",
                ));
            }
            Some((org, role))
        }
    };
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
    audit::account("signup", &user.id, org.id.as_str());
    let joined_org_id = match joining {
        Some((invited_to, role)) => {
            state.store.set_member(&invited_to, &user.id, role).await?;
            audit::account("invitation.accepted", &user.id, invited_to.as_str());
            Some(invited_to)
        }
        None => None,
    };
    let cookie = new_session(&state, &user.id).await?;
    Ok(with_cookie(
        StatusCode::CREATED,
        cookie,
        SignedUp {
            user,
            org,
            joined_org_id,
        },
    ))
}

/// `POST /v1/login`.
#[utoipa::path(
    post,
    path = "/v1/login",
    operation_id = "login",
    tag = "account",
    request_body = Login,
    responses(
        (status = 200, description = "Signed in.", body = LoggedIn,
            headers(("Set-Cookie" = String, description = "The session cookie."))),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::Unprocessable),
        (status = 429, response = crate::openapi::TooManyRequests),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<Login>,
) -> Result<Response, ApiError> {
    let email = email(&body.email).map_err(|_| ApiError::Unauthorized)?;
    if let Err(e) = state.login_limiter.check(&email) {
        audit::refused("login", &email, "throttled");
        return Err(e);
    }
    let found = state.store.user_by_email(&email).await?;
    // Verify against a dummy hash when the user does not exist, so timing says nothing.
    let (user, hash) = match found {
        Some((u, h)) => (Some(u), h),
        None => (None, state.settings.dummy_hash.clone()),
    };
    let ok = verify_password(body.password, hash).await;
    let Some(user) = user.filter(|_| ok) else {
        state.login_limiter.failed(&email);
        audit::refused("login", &email, "wrong email or password");
        return Err(ApiError::Unauthorized);
    };
    state.login_limiter.succeeded(&email);
    audit::account("login", &user.id, "");
    let cookie = new_session(&state, &user.id).await?;
    Ok(with_cookie(StatusCode::OK, cookie, LoggedIn { user }))
}

/// `POST /v1/logout`: ends the session of the cookie sent, if any.
#[utoipa::path(
    post,
    path = "/v1/logout",
    operation_id = "logout",
    tag = "account",
    responses(
        (status = 204, description = "Signed out (also without a session)."),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
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
#[utoipa::path(
    post,
    path = "/v1/password",
    operation_id = "change_password",
    tag = "account",
    security(("session" = []), ("api_key" = [])),
    request_body = PasswordChange,
    responses(
        (status = 200, description = "Changed; every session revoked and a new one opened.",
            body = PasswordChanged,
            headers(("Set-Cookie" = String, description = "The new session cookie."))),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::Unprocessable),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<PasswordChange>,
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
    audit::account("password.changed", &user_id, "every session revoked");
    let cookie = new_session(&state, &user_id).await?;
    Ok(with_cookie(
        StatusCode::OK,
        cookie,
        PasswordChanged {
            sessions_revoked: true,
        },
    ))
}

/// `GET /v1/me`: the caller, their organization and role.
#[utoipa::path(
    get,
    path = "/v1/me",
    operation_id = "me",
    tag = "account",
    security(("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The caller.", body = Me),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<Me>, ApiError> {
    let orgs = match &caller.user_id {
        Some(u) => state
            .store
            .memberships(u)
            .await?
            .into_iter()
            .map(|(o, role)| Membership {
                id: o.id,
                name: o.name,
                role,
            })
            .collect(),
        None => Vec::new(),
    };
    Ok(Json(Me {
        org_id: caller.org_id,
        role: caller.role,
        user_id: caller.user_id,
        orgs,
    }))
}
