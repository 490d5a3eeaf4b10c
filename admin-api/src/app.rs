//! Building the service: [`router`] (built from the route table) for tests and Lambda,
//! [`build`] for a server bound to a real port (0 in tests).

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use scoville_service_kit::auth::TokenSet;

use crate::auth::LoginLimiter;
use crate::config::Config;
use crate::probe_list::ProbeListCache;
use crate::store::AdminStore;

/// Settings the handlers read.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Session lifetime, ms.
    pub session_ttl_ms: i64,
    /// Mark cookies `Secure` (the API is served over https).
    pub secure_cookies: bool,
    /// An Argon2 hash to verify against when a login names no user (constant work).
    pub dummy_hash: String,
    /// Where people reach the UI, for links.
    pub public_url: String,
    /// Anyone may sign up (otherwise only with an invitation or a service token).
    pub open_signup: bool,
}

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn AdminStore>,
    /// Platform probe tokens (they list every organization's endpoints).
    pub platform_probe_tokens: Arc<TokenSet>,
    /// Service tokens (the failure service and notifiers read endpoints and channels).
    pub service_tokens: Arc<TokenSet>,
    /// Failed logins.
    pub login_limiter: Arc<LoginLimiter>,
    /// The probe's list, cached.
    pub probe_list: Arc<ProbeListCache>,
    /// Settings.
    pub settings: Arc<Settings>,
    /// How test notifications reach channels (the notifier's address guard and timeout).
    pub channel_ctx: scoville_notifier::http::SendContext,
    /// Where history is read (none: the history routes answer 503).
    pub history: Option<Arc<dyn crate::history::HistoryStore>>,
    /// The incident log (none: the incident routes answer 503 and no endpoint is
    /// flagged as down in the probe's list).
    pub incidents: Option<Arc<dyn scoville_incident_log::IncidentLog>>,
    /// Live status snapshots, one per organization, shared by its event streams.
    pub live: Arc<crate::routes::events::LiveHub>,
    /// Public status pages' answers, reused for 30 s.
    pub public_pages: Arc<crate::routes::status_pages::PublicPageCache>,
    /// Requests by route template and status class, and their latency (`GET /metrics`).
    pub http_metrics: scoville_service_kit::metrics::HttpMetrics,
    /// Heartbeat pings and sweeps (none: their routes answer 503).
    pub heartbeats: Option<crate::heartbeat::Heartbeats>,
}

impl AppState {
    /// State over `store` with these settings.
    pub async fn new(
        store: Arc<dyn AdminStore>,
        platform_probe_tokens: TokenSet,
        session_ttl_ms: i64,
        secure_cookies: bool,
    ) -> Result<Self, crate::error::ApiError> {
        let dummy_hash = crate::auth::hash_password("not a password of anyone".into()).await?;
        Ok(Self {
            store,
            platform_probe_tokens: Arc::new(platform_probe_tokens),
            service_tokens: Arc::default(),
            login_limiter: Arc::default(),
            probe_list: Arc::default(),
            live: Arc::default(),
            public_pages: Arc::default(),
            http_metrics: Default::default(),
            settings: Arc::new(Settings {
                session_ttl_ms,
                secure_cookies,
                dummy_hash,
                public_url: "http://127.0.0.1:8080".into(),
                open_signup: true,
            }),
            channel_ctx: scoville_notifier::http::SendContext::new(
                scoville_core::AddressPolicy::global_only(),
                std::time::Duration::from_secs(10),
            )
            .map_err(|e| crate::error::ApiError::Unavailable(e.to_string()))?,
            history: None,
            incidents: None,
            heartbeats: None,
        })
    }

    /// Lets test notifications reach loopback and private addresses (self-hosting, tests).
    pub fn allowing_private_channels(mut self) -> Result<Self, crate::error::ApiError> {
        self.channel_ctx = scoville_notifier::http::SendContext::new(
            scoville_core::AddressPolicy::allow_private(),
            std::time::Duration::from_secs(10),
        )
        .map_err(|e| crate::error::ApiError::Unavailable(e.to_string()))?;
        Ok(self)
    }

    /// Links in messages point below `url`.
    pub fn with_public_url(mut self, url: &str) -> Self {
        let mut s = (*self.settings).clone();
        s.public_url = url.trim_end_matches('/').to_string();
        self.settings = Arc::new(s);
        self
    }

    /// Closes sign-up to all but invitees and service-token holders.
    pub fn with_closed_signup(mut self) -> Self {
        let mut s = (*self.settings).clone();
        s.open_signup = false;
        self.settings = Arc::new(s);
        self
    }

    /// Takes heartbeat pings.
    pub fn with_heartbeats(mut self, heartbeats: crate::heartbeat::Heartbeats) -> Self {
        self.heartbeats = Some(heartbeats);
        self
    }

    /// Reads history from `store`.
    pub fn with_history(mut self, store: Arc<dyn crate::history::HistoryStore>) -> Self {
        self.history = Some(store);
        self
    }

    /// Accepts these service tokens.
    pub fn with_service_tokens(mut self, tokens: TokenSet) -> Self {
        self.service_tokens = Arc::new(tokens);
        self
    }

    /// Reads incidents from `log`.
    pub fn with_incidents(mut self, log: Arc<dyn scoville_incident_log::IncidentLog>) -> Self {
        self.incidents = Some(log);
        self
    }

    /// State from a validated configuration.
    pub async fn from_config(config: &Config) -> anyhow::Result<Self> {
        let store = config.store().await?;
        let history = config.history()?;
        let state = Self::new(
            store,
            config.tokens()?,
            config.admin.session_ttl_hours as i64 * 3_600_000,
            config.admin.public_url.starts_with("https://"),
        )
        .await?
        .with_history(history)
        .with_incidents(config.incidents().await?)
        .with_heartbeats(config.heartbeats().await?)
        .with_service_tokens(config.service_tokens()?)
        .with_public_url(&config.admin.public_url);
        let state = if config.admin.open_signup {
            state
        } else {
            state.with_closed_signup()
        };
        Ok(if config.admin.allow_private_channels {
            state.allowing_private_channels()?
        } else {
            state
        })
    }
}

/// The API's router, from the route table.
pub fn router(state: AppState) -> Router {
    let mut by_path: Vec<(&'static str, axum::routing::MethodRouter<AppState>)> = Vec::new();
    for route in crate::routes::table() {
        match by_path.iter_mut().find(|(p, _)| *p == route.path) {
            Some((_, mr)) => *mr = std::mem::take(mr).merge(route.handler),
            None => by_path.push((route.path, route.handler)),
        }
    }
    let mut router = Router::new();
    for (path, mr) in by_path {
        router = router.route(path, mr);
    }
    let router = router
        .layer(tower_http::limit::RequestBodyLimitLayer::new(256 * 1024))
        .layer(answer_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(answer_header(header::CACHE_CONTROL, "no-store"));
    state.http_metrics.instrument(router).with_state(state)
}

/// A header every answer gets unless its handler set one: `nosniff` so a browser never
/// runs an answer as another media type than it says, and `no-store` so no browser or
/// proxy keeps an org's data; the UI's assets, badges and public status pages set their
/// own caching.
fn answer_header(
    name: header::HeaderName,
    value: &'static str,
) -> tower_http::set_header::SetResponseHeaderLayer<HeaderValue> {
    tower_http::set_header::SetResponseHeaderLayer::if_not_present(
        name,
        HeaderValue::from_static(value),
    )
}

/// The admin API bound to `admin.listen`, not yet serving.
pub type Application = scoville_service_kit::http::Server;

/// Binds `admin.listen` and builds the state.
pub async fn build(config: &Config) -> anyhow::Result<Application> {
    let state = AppState::from_config(config).await?;
    // The heartbeat sweep runs beside the server for as long as the runtime does.
    if let Some(h) = state.heartbeats.clone().filter(|h| h.forwards())
        && config.heartbeat.sweep_every_s > 0
    {
        tokio::spawn(crate::heartbeat::sweep::run(
            h,
            state.store.clone(),
            std::time::Duration::from_secs(config.heartbeat.sweep_every_s),
            std::future::pending(),
        ));
    }
    Ok(Application::bind(config.admin.listen, router(state)).await?)
}

/// Now, Unix ms.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
