//! `notifier-lambda`: the notifier as an SQS-triggered Lambda function (event source
//! mapping with `ReportBatchItemFailures`). `main` only loads the configuration
//! (`SCOVILLE_*` variables, or the TOML file named by `SCOVILLE_CONFIG`), wires the
//! clients and runs [`scoville_notifier::lambda::handle`].

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use scoville_notifier::config::{self, Config};
use scoville_notifier::dispatch::Dispatcher;
use scoville_notifier::lambda::{LambdaDeps, handle};
use scoville_service_kit::telemetry;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let file = std::env::var_os("SCOVILLE_CONFIG").map(std::path::PathBuf::from);
    let config = Config::load(file.as_deref())?;
    config.validate()?;
    telemetry::init(telemetry::LogFormat::Json, &config.log.level);
    let aws = config::aws_config().await;
    let queue = if config.queue.url.trim().is_empty() {
        None
    } else {
        Some(Arc::new(config.sqs_queue(&aws)?))
    };
    let dispatcher = Arc::new(Dispatcher::new(
        config.directory()?,
        config.dedup_store(&aws).await?,
        config.send_context()?,
        config.delivery_policy()?,
        config.grouping()?,
    ));
    let deps = LambdaDeps { dispatcher, queue };
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let deps = deps.clone();
        async move { Ok::<_, lambda_runtime::Error>(handle(event.payload, &deps).await) }
    }))
    .await
}
