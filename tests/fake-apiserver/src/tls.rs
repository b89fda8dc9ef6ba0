//! A self-signed CA generated at start, a serving certificate for the
//! loopback address, and the kubeconfig that trusts it.

use std::net::IpAddr;
use std::sync::Arc;

use anyhow::Context as _;
use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// Serving material.
pub(crate) struct TlsMaterial {
    pub ca_pem: String,
    pub ca_der: Vec<u8>,
    pub server_config: Arc<rustls::ServerConfig>,
}

pub(crate) fn generate(listen_ip: IpAddr) -> anyhow::Result<TlsMaterial> {
    let ca_key = KeyPair::generate().context("generating the CA key")?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).context("CA params")?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "fake-apiserver-ca");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::CrlSign,
    ];
    let ca_cert = ca_params
        .self_signed(&ca_key)
        .context("self-signing the CA")?;
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().context("generating the serving key")?;
    let mut sans = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let ip = listen_ip.to_string();
    if !sans.contains(&ip) && !listen_ip.is_unspecified() {
        sans.push(ip);
    }
    let mut leaf_params = CertificateParams::new(sans).context("serving certificate params")?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let leaf_cert = leaf_params
        .signed_by(&leaf_key, &issuer)
        .context("signing the serving certificate")?;

    let chain = vec![leaf_cert.der().clone(), ca_cert.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("TLS serving certificate")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsMaterial {
        ca_pem: ca_cert.pem(),
        ca_der: ca_cert.der().to_vec(),
        server_config: Arc::new(config),
    })
}

/// Quote a scalar for YAML (a JSON string is a valid YAML double-quoted scalar).
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// A kubeconfig with one user and one context per user; current context `admin`.
pub(crate) fn kubeconfig(
    url: &str,
    ca_pem: Option<&str>,
    users: &[(String, String)],
    current: &str,
) -> String {
    let mut out = String::new();
    out.push_str(
        "apiVersion: v1\nkind: Config\npreferences: {}\nclusters:\n- name: fake\n  cluster:\n",
    );
    out.push_str(&format!("    server: {}\n", q(url)));
    if let Some(pem) = ca_pem {
        let b64 = base64::engine::general_purpose::STANDARD.encode(pem.as_bytes());
        out.push_str(&format!("    certificate-authority-data: {b64}\n"));
    }
    out.push_str("contexts:\n");
    for (name, _) in users {
        out.push_str(&format!(
            "- name: {}\n  context:\n    cluster: fake\n    user: {}\n",
            q(name),
            q(name)
        ));
    }
    out.push_str(&format!("current-context: {}\n", q(current)));
    out.push_str("users:\n");
    for (name, token) in users {
        out.push_str(&format!(
            "- name: {}\n  user:\n    token: {}\n",
            q(name),
            q(token)
        ));
    }
    out
}

/// Parse a PEM certificate into DER.
#[cfg(test)]
fn pem_to_der(pem: &str) -> Option<rustls::pki_types::CertificateDer<'static>> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()
        .map(rustls::pki_types::CertificateDer::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_material_and_kubeconfig() {
        let m = generate("127.0.0.1".parse().expect("ip")).expect("tls");
        assert!(m.ca_pem.contains("BEGIN CERTIFICATE"));
        assert_eq!(
            pem_to_der(&m.ca_pem).expect("der").as_ref(),
            m.ca_der.as_slice()
        );
        let kc = kubeconfig(
            "https://127.0.0.1:1",
            Some(&m.ca_pem),
            &[
                ("admin".into(), "t".into()),
                ("system:serviceaccount:a:b".into(), "u".into()),
            ],
            "admin",
        );
        let v: serde_json::Value = serde_saphyr::from_str(&kc).expect("valid yaml");
        assert_eq!(v["current-context"], "admin");
        assert_eq!(v["users"][1]["name"], "system:serviceaccount:a:b");
        assert_eq!(
            v["contexts"][1]["context"]["user"],
            "system:serviceaccount:a:b"
        );
    }
}
