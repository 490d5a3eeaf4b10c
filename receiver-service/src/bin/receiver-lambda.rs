//! `receiver-lambda`: the same router on AWS Lambda through lambda_http (API Gateway HTTP
//! API, REST API or ALB events). `main` only loads the configuration from `SCOVILLE_*`
//! variables and runs the router.

use scoville_receiver_service::config::Config;
use scoville_receiver_service::{AppState, router, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let file = std::env::var_os("SCOVILLE_CONFIG").map(std::path::PathBuf::from);
    let config = Config::load(file.as_deref())?;
    telemetry::init(telemetry::LogFormat::Json, &config.log.level);
    let state = AppState::from_config(&config)?;
    lambda_http::run(router(state)).await
}
