//! The TLS handshake check: connect, handshake with the server name as SNI, verify chain
//! and name (unless turned off), and classify the certificate's expiry.

use scoville_core::check_spec::{Host, TlsCheck};

use crate::dial;
use crate::engine::Context;
use crate::kind::Check;
use crate::tls::{expiry_warning, handshake};
use crate::trace::{Success, Trace, Verdict};

impl Check for TlsCheck {
    async fn run(&self, ctx: &Context, trace: &mut Trace) -> Verdict {
        let tcp = dial::connect(ctx, &self.host, self.port.get(), trace).await?;
        let server_name = match (&self.server_name, &self.host) {
            (Some(name), _) => name.clone(),
            (None, host @ (Host::Name(_) | Host::Ip(_))) => host.to_string(),
        };
        let _tls = handshake(&ctx.tls, tcp, &server_name, self.tls_verify, trace).await?;
        trace.total = Some(trace.start.elapsed());
        Ok(
            match expiry_warning(self.cert_expiry, trace.cert_expires_at_ms) {
                Some((warning, text)) => Success {
                    message: text,
                    warning: Some(warning),
                },
                None => Success::new("TLS handshake ok"),
            },
        )
    }
}
