//! Starting every part in one process and wiring them together.
//!
//! Each part listens on its own loopback port (the admin API on `listen`, the others on
//! free ports) and they talk over HTTP exactly as separate services do: the probe
//! fetches its list from the admin API and posts to the receiver and the failure
//! service; the failure service and the notifier read endpoints and channels from the
//! admin API with a service token; the receiver's worker posts degradations to the
//! failure service. Tokens are random per start and never leave the process.
//!
//! Result hooks: the receiver's worker queues every stored result for the orgs' `all`
//! hooks on the in-process notification queue, which the notifier drains.
//!
//! Storage: one SQLite file (`<data>/scoville.db`) holds the admin data, the results and
//! rollups, the incident state and the incident log; the result and notification queues
//! are in memory (what is queued but not yet stored is lost with the process; what is
//! stored survives a restart).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use scoville_service_kit::auth::TokenHash;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// What to start.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the SQLite file lives (created if missing).
    pub data_dir: PathBuf,
    /// The admin API's (and the UI's) address; port 0 picks one.
    pub listen: SocketAddr,
    /// The probe's region name (endpoints must list it to be checked).
    pub region: String,
    /// Time between probe rounds; none: no probe loop (tests drive rounds).
    pub probe_interval: Option<Duration>,
    /// Anyone may sign up; otherwise only invitees (and the first run).
    pub open_signup: bool,
    /// Checks and alert channels may reach loopback and private addresses (a LAN's
    /// services); otherwise only public ones, checked after DNS resolution.
    pub private_targets: bool,
}

impl Options {
    /// Defaults: `./scoville-data`, `127.0.0.1:8080`, region `local`, a round a minute,
    /// open sign-up, private targets allowed (right for the loopback default; the
    /// binary closes sign-up when it listens elsewhere).
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            listen: "127.0.0.1:8080".parse().expect("literal address"),
            region: "local".into(),
            probe_interval: Some(Duration::from_secs(60)),
            open_signup: true,
            private_targets: true,
        }
    }
}

/// The running parts.
#[derive(Debug)]
pub struct Running {
    /// The admin API's base URL (`http://127.0.0.1:8080`).
    pub admin_url: String,
    /// The receiver's base URL.
    pub receiver_url: String,
    /// The failure service's base URL.
    pub failure_url: String,
    /// The SQLite file.
    pub database: PathBuf,
    /// The probe (drive rounds with [`Running::probe_round_at`]).
    probe: Arc<scoville_probe::Probe>,
    scope: scoville_core::wire::ProbeScope,
    stop: watch::Sender<bool>,
    tasks: JoinSet<anyhow::Result<()>>,
    /// Stops the probe loop (after the round in flight); see [`Running::stop`].
    stop_probe: watch::Sender<bool>,
    probe_loop: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// Stops the receiver's worker, which first stores what its queue holds.
    stop_worker: watch::Sender<bool>,
    worker: tokio::task::JoinHandle<()>,
    /// Heartbeat pings and sweeps (a sweep a minute; tests sweep with
    /// [`Running::sweep_heartbeats_at`]).
    heartbeats: scoville_admin_api::heartbeat::Heartbeats,
    admin_store: Arc<dyn scoville_admin_api::store::AdminStore>,
    /// The per-start service token (the first run signs up with it when sign-up is
    /// closed).
    service_token: String,
}

/// How long a stop waits for the probe round in flight: a round's window plus its checks'
/// timeouts fit in a minute and a half.
const ROUND_IN_FLIGHT: Duration = Duration::from_secs(90);
/// Time between heartbeat sweeps.
const HEARTBEAT_SWEEP: Duration = Duration::from_secs(60);
/// How long a stop lets the receiver's worker store what is in its in-memory queue.
const DRAIN_ON_STOP: Duration = Duration::from_secs(60);

fn random_token(prefix: &str) -> String {
    let bytes: [u8; 24] = rand::random();
    format!("{prefix}{}", hex::encode(bytes))
}

fn hash(token: &str) -> String {
    TokenHash::of(token).to_config_string()
}

async fn until(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|v| *v).await;
}

/// Starts everything; returns once every part is listening.
pub async fn start(options: &Options) -> anyhow::Result<Running> {
    std::fs::create_dir_all(&options.data_dir)
        .with_context(|| format!("creating {}", options.data_dir.display()))?;
    let db = options.data_dir.join("scoville.db");
    let probe_token = random_token("pt_local_");
    let service_token = random_token("svc_local_");
    let (stop, stopped) = watch::channel(false);
    let mut tasks: JoinSet<anyhow::Result<()>> = JoinSet::new();

    // The results store first: it creates the tables the admin API's history reads.
    let results = Arc::new(
        scoville_receiver_service::store::sqlite::SqliteStore::open(&db)
            .context("opening the results store")?,
    );

    // The receiver's and the failure service's ports first: the admin API hands
    // heartbeat results to them.
    let receiver_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let receiver_url = format!("http://{}", receiver_listener.local_addr()?);
    let failure_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let failure_url = format!("http://{}", failure_listener.local_addr()?);

    // The admin API, on `listen`.
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("binding {}", options.listen))?;
    let admin_url = format!("http://{}", listener.local_addr()?);
    let mut admin = scoville_admin_api::config::Config::default();
    admin.admin.listen = listener.local_addr()?;
    admin.admin.public_url = admin_url.clone();
    admin.admin.sqlite_path = db.clone();
    admin.admin.allow_private_channels = options.private_targets;
    admin.admin.open_signup = options.open_signup;
    admin.admin.probe_token_hashes = vec![hash(&probe_token)];
    admin.admin.service_token_hashes = vec![hash(&service_token)];
    admin.history.sqlite_path = db.clone();
    admin.incidents.sqlite_path = db.clone();
    admin.heartbeat.receiver_url = Some(receiver_url.clone());
    admin.heartbeat.failure_url = Some(failure_url.clone());
    admin.heartbeat.token = Some(probe_token.clone());
    let admin_state = scoville_admin_api::AppState::from_config(&admin)
        .await
        .context("the admin API")?;
    let heartbeats = admin_state
        .heartbeats
        .clone()
        .context("the admin API's heartbeats")?;
    let admin_store = admin_state.store.clone();
    tasks.spawn({
        let (heartbeats, store) = (heartbeats.clone(), admin_store.clone());
        let stopped = stopped.clone();
        async move {
            scoville_admin_api::heartbeat::sweep::run(
                heartbeats,
                store,
                HEARTBEAT_SWEEP,
                until(stopped),
            )
            .await;
            Ok(())
        }
    });
    let server = scoville_service_kit::http::Server::from_listener(
        listener,
        scoville_admin_api::router(admin_state),
    );
    tasks.spawn({
        let stopped = stopped.clone();
        async move { Ok(server.run_until(until(stopped)).await?) }
    });

    // The receiver, its queue in memory.
    let mut receiver = scoville_receiver_service::config::Config::default();
    receiver.receiver.listen = "127.0.0.1:0".parse()?;
    receiver.receiver.probe_token_hashes = vec![hash(&probe_token)];
    receiver.queue.kind = scoville_receiver_service::config::QueueKind::Memory;
    let queue = Arc::new(scoville_receiver_service::queue::memory::MemoryQueue::new(
        receiver.queue.max_backlog,
    ));
    let receiver_state = scoville_receiver_service::app::AppState {
        queue: queue.clone(),
        ..scoville_receiver_service::app::AppState::from_config(&receiver)?
    };
    let server = scoville_service_kit::http::Server::from_listener(
        receiver_listener,
        scoville_receiver_service::app::router(receiver_state),
    );
    tasks.spawn({
        let stopped = stopped.clone();
        async move { Ok(server.run_until(until(stopped)).await?) }
    });

    // The failure service, reading endpoints from the admin API, and its notifier.
    let mut failure = scoville_failure_service::config::Config::default();
    failure.failure.listen = "127.0.0.1:0".parse()?;
    failure.failure.token_hashes = vec![hash(&probe_token), hash(&service_token)];
    failure.store.sqlite_path = db.clone();
    failure.directory.admin_url = Some(admin_url.clone());
    failure.directory.admin_token = Some(service_token.clone());
    failure.directory.public_url = admin_url.clone();
    let jobs = failure.queue().await?;
    // The same queue carries every result to the orgs' `all` result hooks.
    let hook_jobs = jobs.clone();
    let failure_state = scoville_failure_service::AppState::from_config(&failure, jobs.clone())
        .await
        .context("the failure service")?;
    let server = scoville_service_kit::http::Server::from_listener(
        failure_listener,
        scoville_failure_service::router(failure_state),
    );
    tasks.spawn({
        let stopped = stopped.clone();
        async move { Ok(server.run_until(until(stopped)).await?) }
    });
    let mut notifier = scoville_notifier::config::Config::default();
    notifier.notifier.allow_private = options.private_targets;
    notifier.directory.admin_url = Some(admin_url.clone());
    notifier.directory.admin_token = Some(service_token.clone());
    notifier.validate().context("the notifier")?;
    let dedup = Arc::new(scoville_notifier::dedup::MemoryDedup::new(
        notifier.dedup_settings()?,
        1_000_000,
    ));
    let worker = notifier.worker(jobs, dedup, Arc::default())?;
    // The notifier's future is not `Send` for every lifetime it borrows (the failure
    // service's binary runs it on its main task): it gets a thread and a runtime of its
    // own, and the task below waits for that thread.
    let (done, notifier_done) = tokio::sync::oneshot::channel::<anyhow::Result<()>>();
    let notifier_stopped = stopped.clone();
    std::thread::Builder::new()
        .name("scoville-notifier".into())
        .spawn(move || {
            let outcome = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|rt| rt.block_on(worker.run(until(notifier_stopped))))
                .map_err(anyhow::Error::from);
            let _ = done.send(outcome);
        })
        .context("starting the notifier's thread")?;
    tasks.spawn(async move { notifier_done.await.context("the notifier's thread ended")? });

    // The receiver's worker: results into SQLite, trends to the failure service.
    receiver.trend.failure_url = Some(failure_url.clone());
    receiver.trend.service_token = Some(service_token.clone());
    let mut worker =
        scoville_receiver_service::worker::Worker::new(queue, results, receiver.worker_settings()?);
    if let Some(state) = receiver.trend_state()? {
        worker = worker.with_trend(Arc::new(
            scoville_receiver_service::trend::TrendAnalyzer::new(
                state.clone(),
                scoville_receiver_service::trend::Settings::default(),
            ),
        ));
        if let Some(sender) = receiver.trend_sender(state)? {
            tasks.spawn({
                let stopped = stopped.clone();
                async move {
                    sender.run(until(stopped)).await;
                    Ok(())
                }
            });
        }
    }
    // Every stored result to the orgs' `all` result hooks, on the notification queue.
    let hook_directory = scoville_receiver_service::hooks::AdminHookDirectory::new(
        &admin_url,
        &service_token,
        Duration::from_secs(10),
        Duration::from_secs(30),
    )
    .map_err(anyhow::Error::msg)
    .context("the result hooks' directory")?;
    worker = worker.with_hooks(Arc::new(
        scoville_receiver_service::hooks::ResultHooks::new(Arc::new(hook_directory), hook_jobs),
    ));
    let (stop_worker, worker_stopped) = watch::channel(false);
    let worker = tokio::spawn(async move {
        worker
            .run_then_drain(until(worker_stopped), DRAIN_ON_STOP)
            .await;
    });

    // The probe.
    let mut probe = scoville_probe::config::Config::default();
    probe.probe.region = options.region.clone();
    probe.probe.allow_private = options.private_targets;
    probe.endpoints.api_url = Some(admin_url.clone());
    probe.endpoints.token = Some(probe_token.clone());
    probe.receiver.url = Some(receiver_url.clone());
    probe.receiver.token = Some(probe_token.clone());
    probe.failure_service.url = Some(failure_url.clone());
    probe.failure_service.token = Some(probe_token);
    let settings = probe.settings().context("the probe")?;
    let probe = Arc::new(scoville_probe::Probe::from_config(&probe, None).context("the probe")?);
    let (stop_probe, probe_stopped) = watch::channel(false);
    let mut probe_loop = None;
    if let Some(every) = options.probe_interval {
        let (probe, scope) = (probe.clone(), settings.scope.clone());
        let window = every.mul_f64(settings.spread);
        let mut stopped = probe_stopped;
        probe_loop = Some(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = stopped.wait_for(|v| *v) => return Ok(()),
                }
                if let Err(e) = probe.run_round(&scope, window, None).await {
                    tracing::warn!(error = %e, "probe round skipped");
                }
            }
        }));
    }
    Ok(Running {
        admin_url,
        receiver_url,
        failure_url,
        database: db,
        probe,
        scope: settings.scope,
        stop,
        tasks,
        stop_probe,
        probe_loop,
        stop_worker,
        worker,
        heartbeats,
        admin_store,
        service_token,
    })
}

impl Running {
    /// The per-start service token: whoever holds it may sign up while sign-up is
    /// closed (the first run does). It never leaves the process.
    pub fn service_token(&self) -> &str {
        &self.service_token
    }

    /// The heartbeats (their store: tests set what was last heard).
    pub fn heartbeats(&self) -> &scoville_admin_api::heartbeat::Heartbeats {
        &self.heartbeats
    }

    /// Sweeps heartbeats now, as if at `now_ms`; returns how many were overdue.
    pub async fn sweep_heartbeats_at(&self, now_ms: i64) -> anyhow::Result<usize> {
        Ok(self
            .heartbeats
            .sweep(self.admin_store.as_ref(), now_ms)
            .await?)
    }

    /// Runs one probe round now, as if it started at `at_ms` (tests walk simulated
    /// minutes with it); returns how many endpoints were checked.
    pub async fn probe_round_at(&self, at_ms: Option<i64>) -> anyhow::Result<usize> {
        let summary = self
            .probe
            .run_round_at(&self.scope, Duration::ZERO, None, at_ms)
            .await?;
        Ok(summary.endpoints)
    }

    /// Stops every part and waits for them, in an order that loses no result: first the
    /// probe loop, after the round in flight has been checked and delivered (at most
    /// [`ROUND_IN_FLIGHT`]); then the servers, which finish the requests they hold, and
    /// the notifier; last the receiver's worker, which stores what its in-memory queue
    /// still holds (at most [`DRAIN_ON_STOP`]) and rolls it up.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = self.stop_probe.send(true);
        if let Some(probe_loop) = self.probe_loop.take() {
            match tokio::time::timeout(ROUND_IN_FLIGHT, probe_loop).await {
                Ok(done) => done??,
                Err(_) => tracing::warn!("the probe round in flight did not end in time"),
            }
        }
        let _ = self.stop.send(true);
        while let Some(done) = self.tasks.join_next().await {
            done??;
        }
        let _ = self.stop_worker.send(true);
        self.worker.await?;
        Ok(())
    }
}
