//! Real local servers for the engine's tests, each on 127.0.0.1 port 0: a scripted raw
//! TCP server (so a test decides exactly which bytes go out, and when), a TLS server with
//! certificates made by rcgen, and a tiny authoritative DNS server over UDP.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use scoville_check_engine::{AddressPolicy, Engine, EngineConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An engine that may reach loopback (the targets here), with extra CAs.
pub fn engine_with(policy: AddressPolicy, cas: Vec<PathBuf>, overrides: &[(&str, &str)]) -> Engine {
    let mut resolve_overrides: HashMap<String, Vec<IpAddr>> = HashMap::new();
    for (name, ip) in overrides {
        resolve_overrides
            .entry(name.to_string())
            .or_default()
            .push(ip.parse().unwrap());
    }
    Engine::new(EngineConfig {
        policy,
        extra_ca_files: cas,
        resolve_overrides,
        ..EngineConfig::default()
    })
    .unwrap()
}

pub fn private_engine() -> Engine {
    engine_with(AddressPolicy::allow_private(), vec![], &[])
}

/// A server that reads each request head and hands the stream to `script`.
pub struct RawServer {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
}

impl RawServer {
    pub async fn start<F, Fut>(script: F) -> Self
    where
        F: Fn(String, TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let script = Arc::new(script);
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                let script = script.clone();
                tokio::spawn(async move {
                    let head = read_head(&mut stream).await;
                    script(head, stream).await;
                });
            }
        });
        Self { addr, connections }
    }

    /// A server that answers every request with `response` (raw HTTP bytes).
    pub async fn fixed(response: &'static [u8]) -> Self {
        Self::start(move |_, mut s| async move {
            let _ = s.write_all(response).await;
            let _ = s.shutdown().await;
        })
        .await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn hits(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Reads up to the end of the request head (and nothing of a body).
pub async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// An HTTP response with a body.
pub fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("connection: close\r\n\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Certificates for TLS tests: a CA (written to a PEM file for the engine to trust) and
/// a leaf for `localhost` and 127.0.0.1 expiring in `days` days.
pub struct TestPki {
    pub ca_file: PathBuf,
    pub server_config: Arc<rustls::ServerConfig>,
    _dir: TempDir,
}

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("scoville-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TestPki {
    pub fn new(days: i64, self_signed_leaf: bool) -> Self {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Scoville Test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();

        let leaf_key = KeyPair::generate().unwrap();
        let mut leaf_params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        leaf_params
            .subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        let now = time::OffsetDateTime::now_utc();
        leaf_params.not_before = now - time::Duration::days(1);
        leaf_params.not_after = now + time::Duration::days(days);
        let leaf = if self_signed_leaf {
            leaf_params.self_signed(&leaf_key).unwrap()
        } else {
            leaf_params.signed_by(&leaf_key, &ca, &ca_key).unwrap()
        };
        let dir = TempDir::new("pki");
        let ca_file = dir.0.join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
        let server_config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)
            .unwrap();
        Self {
            ca_file,
            server_config: Arc::new(server_config),
            _dir: dir,
        }
    }

    /// An HTTPS server answering 200 "secure" to everything.
    pub async fn serve(&self) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(self.server_config.clone());
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut buf = [0u8; 4096];
                    let _ = tls.read(&mut buf).await;
                    let _ = tls.write_all(&response("200 OK", &[], b"secure")).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        addr
    }
}

/// A UDP DNS server answering from a fixed table of (name, record type) -> records.
pub async fn dns_server(records: Vec<(&'static str, hickory_proto::rr::RData)>) -> SocketAddr {
    use hickory_proto::op::{Message, MessageType, ResponseCode};
    use hickory_proto::rr::{Name, Record};
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut reply = Message::new();
            reply.set_id(query.id());
            reply.set_message_type(MessageType::Response);
            reply.set_op_code(query.op_code());
            reply.set_recursion_desired(query.recursion_desired());
            reply.set_recursion_available(true);
            reply.set_authoritative(true);
            let mut found_name = false;
            for q in query.queries() {
                reply.add_query(q.clone());
                for (name, rdata) in &records {
                    let name = Name::from_ascii(name).unwrap();
                    if name.eq_case(&q.name().to_lowercase()) || name == *q.name() {
                        found_name = true;
                        if rdata.record_type() == q.query_type() {
                            reply.add_answer(Record::from_rdata(name.clone(), 60, rdata.clone()));
                        }
                    }
                }
            }
            if !found_name {
                reply.set_response_code(ResponseCode::NXDomain);
            }
            let _ = socket.send_to(&reply.to_vec().unwrap(), peer).await;
        }
    });
    addr
}
