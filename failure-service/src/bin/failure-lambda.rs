//! `failure-lambda`: the same router on AWS Lambda through lambda_http (API Gateway HTTP
//! API, REST API or ALB events). `main` only loads the configuration from `SCOVILLE_*`
//! variables (DynamoDB state, SQS queue) and runs the router.

use scoville_failure_service::config::{Config, QueueKind, StoreKind};
use scoville_failure_service::{AppState, router};
use scoville_service_kit::telemetry;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let file = std::env::var_os("SCOVILLE_CONFIG").map(std::path::PathBuf::from);
    let config = Config::load(file.as_deref())?;
    telemetry::init(telemetry::LogFormat::Json, &config.log.level);
    if config.queue.kind != QueueKind::Sqs || config.store.kind != StoreKind::Dynamodb {
        return Err(
            "on Lambda set SCOVILLE_QUEUE__KIND=sqs and SCOVILLE_STORE__KIND=dynamodb".into(),
        );
    }
    let queue = config.queue().await?;
    let state = AppState::from_config(&config, queue).await?;
    lambda_http::run(router(state)).await
}
