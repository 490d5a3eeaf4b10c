//! `heartbeat-sweep-lambda`: the heartbeat sweep on AWS Lambda, invoked every minute by
//! an EventBridge schedule (`infra/template.yaml`). `main` only loads the admin API's
//! configuration from `SCOVILLE_*` variables (the same as `admin-lambda`: its table and
//! `heartbeat.*`) and runs one sweep per invocation.

use lambda_runtime::{LambdaEvent, service_fn};
use scoville_admin_api::config::Config;
use scoville_service_kit::telemetry;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let file = std::env::var_os("SCOVILLE_CONFIG").map(std::path::PathBuf::from);
    let config = Config::load(file.as_deref())?;
    telemetry::init(telemetry::LogFormat::Json, &config.log.level);
    let store = config.store().await?;
    let heartbeats = config.heartbeats().await?;
    lambda_runtime::run(service_fn(|_: LambdaEvent<serde_json::Value>| {
        let (heartbeats, store) = (heartbeats.clone(), store.clone());
        async move {
            let reported = heartbeats
                .sweep(store.as_ref(), scoville_admin_api::app::now_ms())
                .await?;
            Ok::<_, lambda_runtime::Error>(serde_json::json!({ "reported": reported }))
        }
    }))
    .await
}
