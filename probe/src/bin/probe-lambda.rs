//! `probe-lambda`: the probe as an AWS Lambda function. `main` only loads the
//! configuration (`SCOVILLE_*` variables, or the file in `SCOVILLE_CONFIG`), builds the
//! probe once per container, and hands each event to `scoville_probe::lambda::handle`.

use anyhow::Context;
use lambda_runtime::{LambdaEvent, service_fn};
use scoville_check_engine::IcmpMode;
use scoville_probe::lambda::{LAMBDA_ICMP, ProbeEvent, handle};
use scoville_probe::{Config, Probe, telemetry};

fn main() -> anyhow::Result<()> {
    let file = std::env::var_os("SCOVILLE_CONFIG").map(std::path::PathBuf::from);
    let config = Config::load(file.as_deref())?;
    scoville_probe::runtime(config.probe.worker_threads)?.block_on(serve(config))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    telemetry::init(telemetry::LogFormat::Json, &config.log.level);
    let settings = config.settings()?;
    let probe = Probe::from_config(&config, Some(IcmpMode::Unavailable(LAMBDA_ICMP.into())))
        .context("setting up the probe")?;
    let window = settings.interval.mul_f64(settings.spread);
    let region = settings.scope.region.clone();
    lambda_runtime::run(service_fn(|event: LambdaEvent<ProbeEvent>| {
        let (probe, region) = (&probe, &region);
        async move {
            handle(probe, region, window, event.payload)
                .await
                .map_err(|e| lambda_runtime::Diagnostic::from(e.to_string()))
        }
    }))
    .await
    .map_err(|e| anyhow::anyhow!("lambda runtime: {e}"))
}
