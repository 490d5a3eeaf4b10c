//! Members, roles and invitations. Only admins and owners invite and change roles; only
//! an owner makes or removes an owner; the last owner cannot leave.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use scoville_core::OrgId;
use serde::{Deserialize, Serialize};

use super::JsonBody;
use crate::app::{AppState, now_ms};
use crate::audit;
use crate::auth::{Caller, hash_secret};
use crate::error::ApiError;
use crate::model::{Invalid, Member, Role, new_secret};

/// Invitation body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Invite {
    /// Who is invited: an email address of at most 254 characters.
    #[schema(example = "grace@example.com")]
    email: String,
    /// The role they get (only an owner invites an owner).
    role: Role,
}

/// Accepting an invitation.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AcceptInvitation)]
pub struct Accept {
    /// The invitation's token.
    token: String,
}

/// A role change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    /// The new role.
    role: Role,
}

/// A new invitation (its token is in this answer only).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Invitation {
    /// The token to accept it with (sent by email by the web UI).
    pub token: String,
    /// Who is invited.
    pub email: String,
    /// The role they get.
    pub role: Role,
    /// When it expires, Unix ms (7 days).
    pub expires_ms: i64,
}

/// An accepted invitation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Joined {
    /// The organization joined.
    pub org_id: OrgId,
    /// The role there.
    pub role: Role,
}

/// `GET /v1/members`.
#[utoipa::path(
    get,
    path = "/v1/members",
    operation_id = "list_members",
    tag = "members",
    security(("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The organization's members.", body = Vec<Member>),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Member>>, ApiError> {
    Ok(Json(state.store.members(&caller.org_id).await?))
}

/// `POST /v1/invitations`: returns the invitation token (shown once; sent by email by
/// the web UI).
#[utoipa::path(
    post,
    path = "/v1/invitations",
    operation_id = "invite",
    tag = "members",
    security(("session" = []), ("api_key" = [])),
    request_body = Invite,
    responses(
        (status = 201, description = "The invitation, with its token.", body = Invitation),
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
pub async fn invite(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Invite>,
) -> Result<(StatusCode, Json<Invitation>), ApiError> {
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
    audit::by(&caller, "invitation.created", &email, body.role.as_str());
    Ok((
        StatusCode::CREATED,
        Json(Invitation {
            token,
            email,
            role: body.role,
            expires_ms: expires,
        }),
    ))
}

/// `POST /v1/invitations/accept`: the signed-in user joins the inviting organization;
/// the invitation must be addressed to their email (403 otherwise, and it stays).
#[utoipa::path(
    post,
    path = "/v1/invitations/accept",
    operation_id = "accept_invitation",
    tag = "members",
    security(("session" = []), ("api_key" = [])),
    request_body = Accept,
    responses(
        (status = 200, description = "Joined.", body = Joined),
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
pub async fn accept(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Accept>,
) -> Result<Json<Joined>, ApiError> {
    let user_id = caller.user()?.to_string();
    let email = caller.email.as_deref().unwrap_or_default();
    let (org, invited, role) = state
        .store
        .take_invitation(&hash_secret(&body.token), email, now_ms())
        .await?
        .ok_or_else(|| ApiError::Invalid(Invalid::new("token", "is unknown, used or expired")))?;
    // The token travels by email: only the account with that address may use it (the
    // invitation stays for them).
    if invited != email {
        audit::refused("invitation.accept", &user_id, "invited another email");
        return Err(ApiError::Forbidden(
            "this invitation is for another email address",
        ));
    }
    state.store.set_member(&org, &user_id, role).await?;
    audit::account("invitation.accepted", &user_id, org.as_str());
    Ok(Json(Joined { org_id: org, role }))
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
#[utoipa::path(
    put,
    path = "/v1/members/{id}",
    operation_id = "set_member_role",
    tag = "members",
    security(("session" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The member's user id.")),
    request_body = RoleChange,
    responses(
        (status = 200, description = "The member with their new role.", body = Member),
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
pub async fn set_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody<RoleChange>,
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
    audit::by(&caller, "member.role_changed", &user_id, body.role.as_str());
    Ok(Json(Member {
        role: body.role,
        ..m
    }))
}

/// `DELETE /v1/members/{id}`: removes a member and the API keys they made there.
#[utoipa::path(
    delete,
    path = "/v1/members/{id}",
    operation_id = "remove_member",
    tag = "members",
    security(("session" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The member's user id.")),
    responses(
        (status = 204, description = "Removed."),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
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
    // Their keys go with them: a key someone made must not outlive their access.
    let mut revoked = 0;
    for key in state.store.api_keys(&caller.org_id).await? {
        if key.created_by.as_deref() == Some(user_id.as_str()) {
            state.store.delete_api_key(&caller.org_id, &key.id).await?;
            revoked += 1;
        }
    }
    audit::by(
        &caller,
        "member.removed",
        &user_id,
        &format!("{revoked} API keys revoked"),
    );
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
