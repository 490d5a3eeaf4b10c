//! Who is calling. Three kinds of credentials:
//!
//! - a session cookie (`scoville_session`, HttpOnly, SameSite=Lax, Secure when the API
//!   is served over https), set at sign-up and login, revoked when the password changes;
//!   the organization is the one named by `X-Scoville-Org` (one the user belongs to;
//!   404 otherwise), else the one named by the `scoville_org` cookie (the web UI's org
//!   switcher sets it, so that `EventSource`, which cannot send headers, follows it
//!   too; ignored when the user is not, or no longer, a member), else the user's first. Writes need a JSON body, which a cross-site form cannot send
//!   without a preflight: with SameSite that is the CSRF defence.
//! - an org API key (`Authorization: Bearer sk_...`), read or read-write;
//! - a probe token (`Authorization: Bearer pt_...`) for `GET /v1/probe/endpoints`: an
//!   org's own (its private probes see its endpoints) or a platform token from the
//!   configuration (Scoville's probes see every org's).
//!
//! Every secret is stored as its SHA-256 (they are long random strings); passwords with
//! Argon2id. Login is rate-limited per email: after 5 failures in 15 minutes, 429 until
//! the window ends.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use scoville_core::OrgId;
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::error::ApiError;
use crate::model::{KeyScope, Role};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "scoville_session";

/// The cookie naming the organization a session acts in (not a secret: membership is
/// checked on every request).
pub const ORG_COOKIE: &str = "scoville_org";

/// SHA-256 of a secret, hex.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Argon2id hash of a password (slow on purpose: off the async threads).
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::Unavailable(e.to_string()))
    })
    .await
    .map_err(|e| ApiError::Unavailable(e.to_string()))?
}

/// Whether `password` matches `hash`.
pub async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// An authenticated caller acting in one organization.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    /// The organization.
    pub org_id: OrgId,
    /// What they may do there.
    pub role: Role,
    /// The user, for sessions; none for API keys.
    pub user_id: Option<String>,
    /// The user's email (lower-cased), for sessions; none for API keys.
    pub email: Option<String>,
    /// The API key's id, for API keys; none for sessions.
    pub key_id: Option<String>,
    /// The session's hash, for logout.
    pub session_hash: Option<String>,
}

impl Caller {
    /// Refuses callers who may not write.
    pub fn must_write(&self) -> Result<(), ApiError> {
        if self.role.can_write() {
            Ok(())
        } else {
            Err(ApiError::Forbidden("this needs the admin or owner role"))
        }
    }

    /// The user, for routes only a signed-in person may use.
    pub fn user(&self) -> Result<&str, ApiError> {
        self.user_id.as_deref().ok_or(ApiError::Forbidden(
            "this needs a signed-in user, not an API key",
        ))
    }
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    scoville_service_kit::http::bearer(headers)
}

/// The session token from the cookie header.
pub fn session_token(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, SESSION_COOKIE)
}

/// The value of the cookie `name`.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix(name)?.strip_prefix('='))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let now = crate::app::now_ms();
        if let Some(token) = bearer(&parts.headers) {
            let (org_id, key) = state
                .store
                .api_key(&hash_secret(token))
                .await?
                .ok_or(ApiError::Unauthorized)?;
            let role = match key.scope {
                KeyScope::Read => Role::Viewer,
                KeyScope::ReadWrite => Role::Admin,
            };
            return Ok(Caller {
                org_id,
                role,
                user_id: None,
                email: None,
                key_id: Some(key.id),
                session_hash: None,
            });
        }
        let token = session_token(&parts.headers).ok_or(ApiError::Unauthorized)?;
        let hash = hash_secret(token);
        let user = state
            .store
            .session_user(&hash, now)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        let memberships = state.store.memberships(&user.id).await?;
        let wanted = parts
            .headers
            .get("x-scoville-org")
            .and_then(|v| v.to_str().ok());
        let (org, role) = match wanted {
            Some(w) => memberships
                .into_iter()
                .find(|(o, _)| o.id.as_str() == w)
                .ok_or(ApiError::NotFound)?,
            None => {
                let chosen = cookie(&parts.headers, ORG_COOKIE)
                    .and_then(|c| memberships.iter().position(|(o, _)| o.id.as_str() == c))
                    .unwrap_or(0);
                memberships
                    .into_iter()
                    .nth(chosen)
                    .ok_or(ApiError::NotFound)?
            }
        };
        Ok(Caller {
            org_id: org.id,
            role,
            user_id: Some(user.id),
            email: Some(user.email),
            key_id: None,
            session_hash: Some(hash),
        })
    }
}

/// A probe: which organization's endpoints it may list (none: every organization's).
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeCaller {
    /// `None` for a platform probe.
    pub org_id: Option<OrgId>,
}

impl FromRequestParts<AppState> for ProbeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers).ok_or(ApiError::Unauthorized)?;
        if state.platform_probe_tokens.accepts(token) {
            return Ok(ProbeCaller { org_id: None });
        }
        let org = state
            .store
            .probe_token(&hash_secret(token))
            .await?
            .ok_or(ApiError::Unauthorized)?;
        Ok(ProbeCaller { org_id: Some(org) })
    }
}

/// Failed logins per email in a fixed window.
#[derive(Debug)]
pub struct LoginLimiter {
    window: Duration,
    max_failures: u32,
    failures: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self::new(Duration::from_secs(15 * 60), 5)
    }
}

impl LoginLimiter {
    /// At most `max_failures` per `window`.
    pub fn new(window: Duration, max_failures: u32) -> Self {
        Self {
            window,
            max_failures,
            failures: Mutex::default(),
        }
    }

    /// Refuses when the email has used up its failures; the error carries the wait.
    pub fn check(&self, email: &str) -> Result<(), ApiError> {
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((start, n)) = map.get(email) {
            let elapsed = start.elapsed();
            if *n >= self.max_failures && elapsed < self.window {
                return Err(ApiError::TooManyRequests(
                    (self.window - elapsed).as_secs().max(1),
                ));
            }
        }
        Ok(())
    }

    /// Counts a failure.
    pub fn failed(&self, email: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            let window = self.window;
            map.retain(|_, (start, _)| start.elapsed() < window);
        }
        let entry = map.entry(email.to_string()).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= self.window {
            *entry = (Instant::now(), 0);
        }
        entry.1 += 1;
    }

    /// Forgets an email's failures (after a successful login).
    pub fn succeeded(&self, email: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(email);
    }
}
