//! The `fake-apiserver` binary: startup line, kubeconfig, request log,
//! signals, refusal of non-loopback addresses.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use base64::Engine as _;
use fake_apiserver::FakeServer;

const BIN: &str = env!("CARGO_BIN_EXE_fake-apiserver");

#[test]
fn serves_fixtures_writes_kubeconfig_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixtures = dir.path().join("fixtures");
    std::fs::create_dir(&fixtures).expect("mkdir");
    std::fs::write(
        fixtures.join("objects.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: arc-systems\n---\napiVersion: fake.kubectl-arc.dev/v1\nkind: User\nmetadata:\n  name: alice\nspec:\n  token: alice-token\n",
    )
    .expect("write");
    std::fs::write(fixtures.join("expected.yaml"), "not: [a, fixture\n").expect("write");
    let kubeconfig = dir.path().join("kubeconfig");
    let log = dir.path().join("requests.jsonl");
    let mut child = Command::new(BIN)
        .arg("--fixtures")
        .arg(&fixtures)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--kubeconfig-out")
        .arg(&kubeconfig)
        .arg("--request-log")
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("listening line")
        .to_string();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");

    let kc: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(&kubeconfig).expect("kubeconfig"))
            .expect("yaml");
    assert_eq!(kc["current-context"], "admin");
    assert_eq!(kc["clusters"][0]["cluster"]["server"], url.as_str());
    let ca = base64::engine::general_purpose::STANDARD
        .decode(
            kc["clusters"][0]["cluster"]["certificate-authority-data"]
                .as_str()
                .expect("ca"),
        )
        .expect("base64");
    assert!(String::from_utf8_lossy(&ca).contains("BEGIN CERTIFICATE"));
    let users: Vec<&str> = kc["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["name"].as_str())
        .collect();
    assert_eq!(users, vec!["admin", "alice"]);

    // Talk to it over TLS with the CA from the kubeconfig.
    let status = https_get(&url, &ca, "/api/v1/namespaces/arc-systems", "alice-token");
    assert_eq!(status, 403);

    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let exit = child.wait().expect("wait");
    assert!(exit.success(), "{exit:?}");
    let log = std::fs::read_to_string(&log).expect("request log");
    let rec: serde_json::Value =
        serde_json::from_str(log.lines().next().expect("one line")).expect("json line");
    assert_eq!(rec["path"], "/api/v1/namespaces/arc-systems");
    assert_eq!(rec["user"], "alice");
    assert_eq!(rec["status"], 403);
}

/// A minimal HTTPS GET with rustls, trusting `ca_pem`.
fn https_get(url: &str, ca_pem: &[u8], path: &str, token: &str) -> u16 {
    use std::io::{Read, Write};
    use std::sync::Arc;
    let addr = url.trim_start_matches("https://");
    let der: String = String::from_utf8_lossy(ca_pem)
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(der)
        .expect("der");
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(der))
        .expect("root");
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let mut conn = rustls::ClientConnection::new(Arc::new(cfg), name).expect("conn");
    let mut sock = std::net::TcpStream::connect(addr).expect("connect");
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    write!(tls, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n").expect("write");
    let mut resp = Vec::new();
    let _ = tls.read_to_end(&mut resp);
    let text = String::from_utf8_lossy(&resp);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line")
}

#[test]
fn refuses_non_loopback_addresses() {
    let out = Command::new(BIN)
        .args(["--listen", "0.0.0.0:0"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("only listens on loopback"));
    assert!(out.stdout.is_empty());
    let err = FakeServer::builder()
        .listen("0.0.0.0:0".parse().expect("addr"))
        .start()
        .expect_err("refused");
    assert!(err.to_string().contains("loopback"));
}

#[test]
fn bad_fixtures_fail_startup() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("bad.yaml"),
        "apiVersion: fake.kubectl-arc.dev/v1\nkind: Bogus\n",
    )
    .expect("write");
    let out = Command::new(BIN)
        .arg("--fixtures")
        .arg(dir.path())
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Bogus"));
}

#[test]
fn plain_http_kubeconfig_has_no_ca() {
    let server = FakeServer::builder().plain_http().start().expect("starts");
    assert!(server.url().starts_with("http://127.0.0.1:"));
    let kc = server.kubeconfig_yaml();
    assert!(!kc.contains("certificate-authority-data"));
    assert!(server.ca_certificate_pem().is_none());
}

#[tokio::test(flavor = "current_thread")]
async fn starts_and_stops_inside_a_tokio_runtime() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = FakeServer::builder().plain_http().start().expect("starts");
    let mut sock = tokio::net::TcpStream::connect(server.addr())
        .await
        .expect("connect");
    sock.write_all(
        b"GET /version HTTP/1.1\r\nHost: fake\r\nAuthorization: Bearer fake-admin-token\r\nConnection: close\r\n\r\n",
    )
    .await
    .expect("write");
    let mut resp = String::new();
    sock.read_to_string(&mut resp).await.expect("read");
    assert!(resp.starts_with("HTTP/1.1 200 OK"), "{resp}");
    assert!(resp.contains("\"gitVersion\""));
    drop(server);
}
