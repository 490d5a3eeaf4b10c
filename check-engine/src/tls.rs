//! TLS for checks: two rustls client configurations built once per engine (verifying,
//! and not verifying for `tls_verify: false`), a handshake that records `tls_ms`, and the
//! leaf certificate's expiry with its warn / critical classification.
//!
//! Session resumption is off, so every check measures a full handshake, as a first-time
//! visitor would see it. Signatures are still checked when verification is off; only the
//! chain and name are not.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use scoville_core::check_spec::CertExpiry;
use scoville_core::{DownReason, WarningReason};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::dial::describe_io;
use crate::engine::EngineError;
use crate::trace::{Failure, Phase, Trace, ms};

/// The engine's TLS client configurations.
pub(crate) struct TlsConfigs {
    verify: TlsConnector,
    insecure: TlsConnector,
}

impl std::fmt::Debug for TlsConfigs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfigs").finish_non_exhaustive()
    }
}

impl TlsConfigs {
    pub(crate) fn new(extra_ca_files: &[PathBuf]) -> Result<Self, EngineError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for path in extra_ca_files {
            let ca_error = |message: String| EngineError::CaFile {
                path: path.clone(),
                message,
            };
            let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
            let certs = rustls_pemfile::certs(&mut pem.as_slice())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ca_error(e.to_string()))?;
            if certs.is_empty() {
                return Err(ca_error("no certificates in file".into()));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| ca_error(e.to_string()))?;
            }
        }
        let builder = |p: &Arc<CryptoProvider>| {
            ClientConfig::builder_with_provider(p.clone())
                .with_safe_default_protocol_versions()
                .map_err(|e| EngineError::Tls(e.to_string()))
        };
        let verify = builder(&provider)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let insecure = builder(&provider)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoChainVerification(provider.clone())))
            .with_no_client_auth();
        Ok(Self {
            verify: connector(verify),
            insecure: connector(insecure),
        })
    }

    fn connector(&self, verify: bool) -> &TlsConnector {
        if verify { &self.verify } else { &self.insecure }
    }
}

fn connector(mut config: ClientConfig) -> TlsConnector {
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.resumption = rustls::client::Resumption::disabled();
    TlsConnector::from(Arc::new(config))
}

/// Performs the handshake, recording `tls_ms` and the leaf certificate's expiry.
pub(crate) async fn handshake(
    configs: &TlsConfigs,
    tcp: TcpStream,
    server_name: &str,
    verify: bool,
    trace: &mut Trace,
) -> Result<TlsStream<TcpStream>, Failure> {
    trace.phase = Phase::TlsHandshake;
    let name = server_name.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(name.to_string())
        .map_err(|_| Failure::new(DownReason::Tls, format!("invalid TLS server name {name:?}")))?;
    let t0 = Instant::now();
    let stream = configs
        .connector(verify)
        .connect(name, tcp)
        .await
        .map_err(|e| {
            let message = match e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                Some(tls_error) => format!("TLS: {tls_error}"),
                None => format!("TLS handshake: {}", describe_io(&e)),
            };
            Failure::new(DownReason::Tls, message)
        })?;
    trace.timings.tls_ms = Some(ms(t0.elapsed()));
    let (_, conn) = stream.get_ref();
    trace.cert_expires_at_ms = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(not_after_ms);
    Ok(stream)
}

fn not_after_ms(der: &CertificateDer<'_>) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
    Some(cert.validity().not_after.timestamp() * 1000)
}

/// The warning, if any, that a certificate expiring at `expires_at_ms` deserves.
pub(crate) fn expiry_warning(
    thresholds: CertExpiry,
    expires_at_ms: Option<i64>,
) -> Option<(WarningReason, String)> {
    let expires_at_ms = expires_at_ms?;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis() as i64;
    let days_left = (expires_at_ms - now_ms) as f64 / 86_400_000.0;
    let text = if days_left < 0.0 {
        format!("certificate expired {:.0} days ago", -days_left)
    } else {
        format!("certificate expires in {:.0} days", days_left.floor())
    };
    if days_left <= f64::from(thresholds.critical_days()) {
        Some((WarningReason::CertExpiryCritical, text))
    } else if days_left <= f64::from(thresholds.warn_days()) {
        Some((WarningReason::CertExpiryWarn, text))
    } else {
        None
    }
}

/// Accepts any chain and name, but still checks handshake signatures.
#[derive(Debug)]
struct NoChainVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoChainVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
