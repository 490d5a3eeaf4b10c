//! The audit trail: who changed access, and what was refused. Sign-ups, logins and
//! failed or throttled logins, password changes, API keys and probe tokens made or
//! revoked, invitations made, accepted or refused, role changes and removals, and every
//! 403, as `tracing` events on the target `scoville::audit` with structured fields
//! (`event`, `org_id`, `actor`, `subject`, `detail`). Never a secret: keys and tokens
//! by id only. Operators route the target to their log store (CloudWatch on AWS, the
//! JSON log format elsewhere) and alert on it.

use crate::auth::Caller;

/// The target of every audit event.
pub const TARGET: &str = "scoville::audit";

/// Who acted: the user id, or the API key's id (`key:<id>`).
fn actor(caller: &Caller) -> String {
    match (&caller.user_id, &caller.key_id) {
        (Some(user), _) => user.clone(),
        (None, Some(key)) => format!("key:{key}"),
        (None, None) => "unknown".into(),
    }
}

/// `caller` did `event` to `subject` in their organization.
pub(crate) fn by(caller: &Caller, event: &'static str, subject: &str, detail: &str) {
    tracing::info!(
        target: TARGET,
        event,
        org_id = caller.org_id.as_str(),
        actor = actor(caller),
        subject,
        detail,
        "audit"
    );
}

/// A user's own account event (no organization acting).
pub(crate) fn account(event: &'static str, user_id: &str, detail: &str) {
    tracing::info!(
        target: TARGET,
        event,
        actor = user_id,
        subject = user_id,
        detail,
        "audit"
    );
}

/// Something refused: `who` (an email, a user id) and why.
pub(crate) fn refused(event: &'static str, who: &str, detail: &str) {
    tracing::warn!(target: TARGET, event, actor = who, detail, "audit");
}
