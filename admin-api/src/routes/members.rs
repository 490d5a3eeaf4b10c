//! Members, roles and invitations. Only admins and owners invite and change roles; only
//! an owner makes or removes an owner; the last owner cannot leave.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use crate::app::{AppState, now_ms};
use crate::auth::{Caller, hash_secret};
use crate::error::ApiError;
use crate::model::{Invalid, Member, Role, new_secret};

/// Invitation body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invite {
    email: String,
    role: Role,
}

/// Accepting an invitation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accept {
    token: String,
}

/// A role change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    role: Role,
}

/// `GET /v1/members`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Member>>, ApiError> {
    Ok(Json(state.store.members(&caller.org_id).await?))
}

/// `POST /v1/invitations`: returns the invitation token (shown once; sent by email by
/// the web UI).
pub async fn invite(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<Invite>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    caller.must_write()?;
    let email = super::account::email(&body.email)?;
    if body.role == Role::Owner && caller.role != Role::Owner {
        return Err(ApiError::Forbidden("only an owner can invite an owner"));
    }
    let token = new_secret("inv_");
    let expires = now_ms() + 7 * 86_400_000;
    state
        .store
        .create_invitation(
            &hash_secret(&token),
            &caller.org_id,
            &email,
            body.role,
            expires,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "token": token, "email": email, "role": body.role, "expires_ms": expires })),
    ))
}

/// `POST /v1/invitations/accept`: the signed-in user joins the inviting organization.
pub async fn accept(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<Accept>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user_id = caller.user()?.to_string();
    let (org, _email, role) = state
        .store
        .take_invitation(&hash_secret(&body.token), now_ms())
        .await?
        .ok_or_else(|| ApiError::Invalid(Invalid::new("token", "is unknown, used or expired")))?;
    state.store.set_member(&org, &user_id, role).await?;
    Ok(Json(json!({ "org_id": org, "role": role })))
}

async fn member(state: &AppState, caller: &Caller, user_id: &str) -> Result<Member, ApiError> {
    state
        .store
        .members(&caller.org_id)
        .await?
        .into_iter()
        .find(|m| m.user_id == user_id)
        .ok_or(ApiError::NotFound)
}

/// `PUT /v1/members/{id}`: changes a member's role.
pub async fn set_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(user_id): Path<String>,
    Json(body): Json<RoleChange>,
) -> Result<Json<Member>, ApiError> {
    caller.must_write()?;
    let m = member(&state, &caller, &user_id).await?;
    if (m.role == Role::Owner || body.role == Role::Owner) && caller.role != Role::Owner {
        return Err(ApiError::Forbidden(
            "only an owner can make or unmake an owner",
        ));
    }
    if m.role == Role::Owner && body.role != Role::Owner {
        last_owner_guard(&state, &caller).await?;
    }
    state
        .store
        .set_member(&caller.org_id, &user_id, body.role)
        .await?;
    Ok(Json(Member {
        role: body.role,
        ..m
    }))
}

/// `DELETE /v1/members/{id}`.
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(user_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.must_write()?;
    let m = member(&state, &caller, &user_id).await?;
    if m.role == Role::Owner {
        if caller.role != Role::Owner {
            return Err(ApiError::Forbidden("an admin cannot remove an owner"));
        }
        last_owner_guard(&state, &caller).await?;
    }
    state.store.remove_member(&caller.org_id, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn last_owner_guard(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    let owners = state
        .store
        .members(&caller.org_id)
        .await?
        .iter()
        .filter(|m| m.role == Role::Owner)
        .count();
    if owners <= 1 {
        return Err(ApiError::Forbidden(
            "an organization keeps at least one owner",
        ));
    }
    Ok(())
}
