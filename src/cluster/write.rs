//! Writes for `orphans --fix` and `drain`: DELETE with preconditions, JSON patches, CREATE —
//! each one bounded like every other request, each optionally `dryRun=All`.

use serde_json::{Value, json};

use super::collect::kind_spec;
use super::request::{ApiError, Cluster};

/// The collection path of `kind` in `namespace` (e.g. `/api/v1/namespaces/x/pods`).
pub fn collection_path(kind: &str, namespace: Option<&str>) -> Option<String> {
    let k = kind_spec(kind)?;
    Some(k.path(namespace.filter(|_| k.namespaced)))
}

/// `apiVersion` of a kind.
pub fn api_version(kind: &str) -> Option<String> {
    let k = kind_spec(kind)?;
    Some(if k.group.is_empty() {
        k.version.to_owned()
    } else {
        format!("{}/{}", k.group, k.version)
    })
}

/// Kinds the tool only ever reads as metadata (never their data).
pub fn metadata_only(kind: &str) -> bool {
    matches!(kind, "Secret" | "ConfigMap")
}

/// One object to write to.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    pub kind: &'a str,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
}

impl Target<'_> {
    fn collection(&self) -> Result<String, ApiError> {
        collection_path(self.kind, self.namespace).ok_or_else(|| ApiError::Status {
            code: 0,
            message: format!("kind {} is not supported", self.kind),
        })
    }

    fn path(&self) -> Result<String, ApiError> {
        Ok(format!("{}/{}", self.collection()?, self.name))
    }
}

fn with_dry_run(path: String, dry_run: bool) -> String {
    if dry_run {
        format!("{path}?dryRun=All")
    } else {
        path
    }
}

impl Cluster {
    /// Re-read one object (metadata-only for Secrets/ConfigMaps). `Ok(None)` on 404.
    pub async fn read(&self, t: &Target<'_>) -> Result<Option<Value>, ApiError> {
        self.get(&t.collection()?, t.name, metadata_only(t.kind))
            .await
    }

    /// DELETE with uid + resourceVersion preconditions.
    pub async fn delete_guarded(
        &self,
        t: &Target<'_>,
        uid: &str,
        resource_version: &str,
        grace_zero: bool,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let mut body = json!({
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "preconditions": {"uid": uid, "resourceVersion": resource_version},
            "propagationPolicy": "Background",
        });
        if grace_zero {
            body["gracePeriodSeconds"] = json!(0);
        }
        if dry_run {
            body["dryRun"] = json!(["All"]);
        }
        let path = with_dry_run(t.path()?, dry_run);
        self.write("DELETE", &path, "application/json", Some(&body))
            .await
    }

    /// JSON patch (RFC 6902).
    pub async fn json_patch(
        &self,
        t: &Target<'_>,
        ops: &Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let path = with_dry_run(t.path()?, dry_run);
        self.write("PATCH", &path, "application/json-patch+json", Some(ops))
            .await
    }

    /// POST an object into `kind`'s collection.
    pub async fn create(
        &self,
        kind: &str,
        namespace: Option<&str>,
        obj: &Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let t = Target {
            kind,
            namespace,
            name: "",
        };
        let path = with_dry_run(t.collection()?, dry_run);
        self.write("POST", &path, "application/json", Some(obj))
            .await
    }

    async fn write(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let bytes = match body {
            Some(b) => serde_json::to_vec(b).map_err(|e| ApiError::Transport(e.to_string()))?,
            None => Vec::new(),
        };
        let method = http::Method::from_bytes(method.as_bytes())
            .map_err(|e| ApiError::Transport(e.to_string()))?;
        let build = || {
            http::Request::builder()
                .method(method.clone())
                .uri(path)
                .header(http::header::CONTENT_TYPE, content_type)
                .header(http::header::ACCEPT, "application/json")
                .body(bytes.clone())
                .map_err(|e| ApiError::Transport(e.to_string()))
        };
        self.send(build).await
    }
}
