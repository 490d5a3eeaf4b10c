//! The first start of an empty installation: a user and an organization (through the
//! admin API's own sign-up, so the same rules apply), an API key, and one sample
//! endpoint watching Scoville's own health, so something turns green at once. The
//! password and key are printed once; later starts print where to sign in.

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// The first user's email.
pub const FIRST_EMAIL: &str = "admin@scoville.local";

/// What the first start created.
#[derive(Debug, Clone)]
pub struct FirstRun {
    /// The first user's password (shown once).
    pub password: String,
    /// A read-write API key (shown once).
    pub api_key: String,
    /// The organization.
    pub org_id: String,
    /// The sample endpoint's id.
    pub sample_endpoint: String,
}

/// Creates the first user, org, API key and sample endpoint unless the first user
/// exists (then `None`). `region` is the probe's, so the sample gets checked.
pub async fn ensure(admin_url: &str, region: &str) -> anyhow::Result<Option<FirstRun>> {
    ensure_as(admin_url, region, None).await
}

/// [`ensure`], signing up with `operator_token` (the service token) so that it works
/// while sign-up is closed to the public.
pub async fn ensure_as(
    admin_url: &str,
    region: &str,
    operator_token: Option<&str>,
) -> anyhow::Result<Option<FirstRun>> {
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()?;
    let password = hex::encode(rand::random::<[u8; 12]>());
    let mut signup = http
        .post(format!("{admin_url}/v1/signup"))
        .json(&json!({"email": FIRST_EMAIL, "password": password, "org_name": "My organization"}));
    if let Some(token) = operator_token {
        signup = signup.bearer_auth(token);
    }
    let resp = signup.send().await.context("signing up the first user")?;
    if resp.status() == reqwest::StatusCode::CONFLICT {
        return Ok(None);
    }
    if !resp.status().is_success() {
        bail!(
            "signing up the first user: {}",
            resp.text().await.unwrap_or_default()
        );
    }
    let cookie = resp
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .context("sign-up set no session cookie")?
        .to_string();
    let signed: Value = resp.json().await?;
    let org_id = signed["org"]["id"].as_str().unwrap_or_default().to_string();
    let call = |path: &str, body: Value| {
        let req = http
            .post(format!("{admin_url}{path}"))
            .header(reqwest::header::COOKIE, cookie.clone())
            .json(&body);
        async move {
            let resp = req.send().await?;
            let status = resp.status();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            if !status.is_success() {
                bail!("{status}: {body}");
            }
            anyhow::Ok(body)
        }
    };
    let key = call(
        "/v1/api-keys",
        json!({"name": "first key", "scope": "read_write"}),
    )
    .await
    .context("creating the first API key")?;
    let sample = call(
        "/v1/endpoints",
        json!({
            "name": "Scoville itself",
            "check": {"type": "http", "url": format!("{admin_url}/healthz"),
                      "assertions": [{"type": "body_contains", "value": "ok"}]},
            "regions": [region],
            "confirm_regions": 1,
            "interval_s": 60,
            "apdex_t_ms": 100,
            "tags": ["sample"]
        }),
    )
    .await
    .context("creating the sample endpoint")?;
    Ok(Some(FirstRun {
        password,
        api_key: key["key"].as_str().unwrap_or_default().to_string(),
        org_id,
        sample_endpoint: sample["id"].as_str().unwrap_or_default().to_string(),
    }))
}
