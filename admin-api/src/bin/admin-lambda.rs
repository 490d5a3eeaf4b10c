//! `admin-lambda`: the same router on AWS Lambda through lambda_http (API Gateway HTTP
//! API, REST API or ALB events). `main` only loads the configuration from `SCOVILLE_*`
//! variables and runs the router. On Lambda set `SCOVILLE_STORE__KIND=dynamodb` and
//! `SCOVILLE_STORE__TABLE`: the SQLite default suits a single-writer trial only.

use scoville_admin_api::config::Config;
use scoville_admin_api::{AppState, router};
use scoville_service_kit::telemetry;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let file = std::env::var_os("SCOVILLE_CONFIG").map(std::path::PathBuf::from);
    let config = Config::load(file.as_deref())?;
    telemetry::init(telemetry::LogFormat::Json, &config.log.level);
    let state = AppState::from_config(&config).await?;
    lambda_http::run(router(state)).await
}
