//! The services' configuration files (TOML over the defaults, as `--config` reads them)
//! and the checks done on them at start: any text either loads or is refused with an
//! error naming a key, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scoville_service_kit::config::from_toml;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = from_toml::<scoville_receiver_service::config::Config>(text) {
        let _ = c.limits();
        let _ = c.tokens();
        let _ = c.worker_settings();
    }
    if let Ok(c) = from_toml::<scoville_admin_api::config::Config>(text) {
        let _ = c.tokens();
        let _ = c.service_tokens();
    }
    if let Ok(c) = from_toml::<scoville_failure_service::config::Config>(text) {
        let _ = c.limits();
        let _ = c.tokens();
        let _ = c.config_directory();
    }
});
