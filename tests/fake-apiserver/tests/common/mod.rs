//! A tiny blocking HTTPS client (hyper + rustls trusting the server's CA)
//! and fixture helpers shared by the integration tests.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fake_apiserver::FakeServer;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

pub const FAKE: &str = "fake.kubectl-arc.dev/v1";

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// Assert the status and return the JSON body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(
            self.status,
            status,
            "unexpected status, body: {}",
            self.text()
        );
        self.json()
    }
}

pub struct Client {
    rt: tokio::runtime::Runtime,
    addr: SocketAddr,
    tls: Option<TlsConnector>,
    token: Option<String>,
    headers: Vec<(String, String)>,
    http2: bool,
}

impl Client {
    /// A client authenticated as `admin`.
    pub fn new(server: &FakeServer) -> Client {
        Client::as_user(server, "admin")
    }

    pub fn as_user(server: &FakeServer, user: &str) -> Client {
        let token = server
            .token_for(user)
            .unwrap_or_else(|| panic!("no token for {user}"));
        Client::with_token(server, Some(token))
    }

    pub fn with_token(server: &FakeServer, token: Option<String>) -> Client {
        Client::build(server, token, false)
    }

    fn build(server: &FakeServer, token: Option<String>, http2: bool) -> Client {
        let tls = server.ca_certificate_der().map(|der| {
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(CertificateDer::from(der))
                .expect("CA certificate");
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("protocol versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
            cfg.alpn_protocols = if http2 {
                vec![b"h2".to_vec()]
            } else {
                vec![b"http/1.1".to_vec()]
            };
            TlsConnector::from(Arc::new(cfg))
        });
        Client {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            addr: server.addr(),
            tls,
            token,
            headers: Vec::new(),
            http2,
        }
    }

    /// Negotiate HTTP/2 via ALPN (or prior knowledge on plain HTTP).
    pub fn http2(server: &FakeServer) -> Client {
        let token = server.token_for("admin");
        Client::build(server, token, true)
    }

    pub fn header(mut self, k: &str, v: &str) -> Client {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }

    pub fn try_request(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Option<Vec<u8>>,
        extra: &[(&str, &str)],
    ) -> Result<Resp, String> {
        self.rt.block_on(async {
            let tcp = TcpStream::connect(self.addr)
                .await
                .map_err(|e| e.to_string())?;
            let mut req = Request::builder().method(method).uri(path);
            if !self.http2 {
                req = req.header("host", self.addr.to_string());
            } else {
                req = req.uri(format!("https://{}{}", self.addr, path));
            }
            if let Some(t) = &self.token {
                req = req.header("authorization", format!("Bearer {t}"));
            }
            if let Some(ct) = content_type {
                req = req.header("content-type", ct);
            }
            for (k, v) in &self.headers {
                req = req.header(k.as_str(), v.as_str());
            }
            for (k, v) in extra {
                req = req.header(*k, *v);
            }
            let req = req
                .body(Full::new(Bytes::from(body.unwrap_or_default())))
                .map_err(|e| e.to_string())?;
            let resp = match &self.tls {
                Some(connector) => {
                    let name = ServerName::IpAddress(self.addr.ip().into());
                    let stream = connector
                        .connect(name, tcp)
                        .await
                        .map_err(|e| e.to_string())?;
                    send(TokioIo::new(stream), req, self.http2).await?
                }
                None => send(TokioIo::new(tcp), req, self.http2).await?,
            };
            Ok(resp)
        })
    }

    #[track_caller]
    pub fn request(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Resp {
        self.try_request(method, path, content_type, body, &[])
            .unwrap_or_else(|e| panic!("{method} {path} failed: {e}"))
    }

    #[track_caller]
    pub fn get(&self, path: &str) -> Resp {
        self.request("GET", path, None, None)
    }

    #[track_caller]
    pub fn get_accept(&self, path: &str, accept: &str) -> Resp {
        self.try_request("GET", path, None, None, &[("accept", accept)])
            .unwrap_or_else(|e| panic!("GET {path} failed: {e}"))
    }

    #[track_caller]
    pub fn post(&self, path: &str, body: &Value) -> Resp {
        self.request(
            "POST",
            path,
            Some("application/json"),
            Some(body.to_string().into_bytes()),
        )
    }

    #[track_caller]
    pub fn put(&self, path: &str, body: &Value) -> Resp {
        self.request(
            "PUT",
            path,
            Some("application/json"),
            Some(body.to_string().into_bytes()),
        )
    }

    #[track_caller]
    pub fn patch(&self, path: &str, content_type: &str, body: &Value) -> Resp {
        self.request(
            "PATCH",
            path,
            Some(content_type),
            Some(body.to_string().into_bytes()),
        )
    }

    #[track_caller]
    pub fn merge_patch(&self, path: &str, body: &Value) -> Resp {
        self.patch(path, "application/merge-patch+json", body)
    }

    #[track_caller]
    pub fn delete(&self, path: &str) -> Resp {
        self.request("DELETE", path, None, None)
    }

    #[track_caller]
    pub fn delete_with(&self, path: &str, options: &Value) -> Resp {
        self.request(
            "DELETE",
            path,
            Some("application/json"),
            Some(options.to_string().into_bytes()),
        )
    }
}

async fn send<I>(io: I, req: Request<Full<Bytes>>, http2: bool) -> Result<Resp, String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let resp = if http2 {
        let (mut sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        sender.send_request(req).await.map_err(|e| e.to_string())?
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        sender.send_request(req).await.map_err(|e| e.to_string())?
    };
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = tokio::time::timeout(Duration::from_secs(30), resp.into_body().collect())
        .await
        .map_err(|_| "timed out reading the body".to_string())?
        .map_err(|e| e.to_string())?
        .to_bytes()
        .to_vec();
    Ok(Resp {
        status,
        headers,
        body,
    })
}

// ------------------------------------------------------------------ fixtures

pub fn ns(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

pub fn secret(namespace: &str, name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"namespace": namespace, "name": name}, "data": {"token": "aGVsbG8="}, "type": "Opaque"})
}

pub fn configmap(namespace: &str, name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": namespace, "name": name}, "data": {"k": "v"}})
}

pub fn user(name: &str, groups: &[&str]) -> Value {
    json!({"apiVersion": FAKE, "kind": "User", "metadata": {"name": name}, "spec": {"token": format!("{name}-token"), "groups": groups}})
}

/// A CRD like the ARC ones: actions.github.com/v1alpha1, with a status subresource.
pub fn crd(kind: &str, plural: &str, scope: &str) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.actions.github.com")},
        "spec": {
            "group": "actions.github.com",
            "names": {"kind": kind, "listKind": format!("{kind}List"), "plural": plural, "singular": kind.to_lowercase()},
            "scope": scope,
            "versions": [{
                "name": "v1alpha1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
                "subresources": {"status": {}}
            }]
        }
    })
}

pub fn listener_crd() -> Value {
    crd("AutoscalingListener", "autoscalinglisteners", "Namespaced")
}

pub fn listener(namespace: &str, name: &str, finalizers: &[&str]) -> Value {
    json!({
        "apiVersion": "actions.github.com/v1alpha1",
        "kind": "AutoscalingListener",
        "metadata": {"namespace": namespace, "name": name, "finalizers": finalizers},
        "spec": {"autoscalingRunnerSetName": "arc-runner-set"}
    })
}

pub fn role(namespace: &str, name: &str, rules: Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"namespace": namespace, "name": name}, "rules": rules})
}

pub fn cluster_role(name: &str, rules: Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name}, "rules": rules})
}

pub fn role_binding(namespace: &str, name: &str, role_kind: &str, role: &str, user: &str) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"namespace": namespace, "name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})
}

pub fn cluster_role_binding(name: &str, role: &str, subjects: Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": subjects})
}

pub fn clock(now: &str) -> Value {
    json!({"apiVersion": FAKE, "kind": "Clock", "spec": {"now": now}})
}

/// Start a server with these documents.
pub fn start(docs: Vec<Value>) -> FakeServer {
    FakeServer::builder()
        .objects(docs)
        .start()
        .expect("server starts")
}

pub fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap_or("").to_string())
        .collect()
}
