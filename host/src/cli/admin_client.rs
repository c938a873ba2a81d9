//! The admin API as `plugins push` and `plugins dev` use it: upload a plugin version (signed when a
//! signing key is given) and read a plugin's entry of the listing. The admin key goes only in the
//! `Authorization` header, never in a message.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

/// A service's admin API.
pub struct AdminClient {
    base: String,
    key: String,
    actor: String,
    http: reqwest::Client,
}

/// What an upload did.
pub struct Uploaded {
    /// The service's report (`outcome`, `plugin`, `version`, `sha256`, `error`).
    pub report: Value,
    /// Whether the version now serves (or already did).
    pub active: bool,
}

impl AdminClient {
    pub fn new(base: &str, key: &str) -> AdminClient {
        // The audit log's actor (only config reads the environment, so no $USER here).
        let actor = "chat-api plugins".to_string();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().expect("a reqwest client");
        AdminClient { base: base.trim_end_matches('/').to_string(), key: key.to_string(), actor, http }
    }

    /// Uploads `dir/plugin.toml` with the component `wasm`, signed with `signing_key` (a minisign
    /// secret key's text) or else with `dir/plugin.sig` if there is one.
    pub async fn upload(&self, dir: &Path, wasm: &Path, signing_key: Option<&str>) -> Result<Uploaded, String> {
        let read = |path: &Path| std::fs::read(path).map_err(|err| format!("{}: {err}", path.display()));
        let manifest = String::from_utf8(read(&dir.join(tools::MANIFEST_FILE))?)
            .map_err(|_| format!("{} is not UTF-8", tools::MANIFEST_FILE))?;
        let wasm = read(wasm)?;
        let signature_file = dir.join(tools::signing::SIGNATURE_FILE);
        let signature = match signing_key {
            Some(key) => {
                let source = tools::author::Source::new(dir.to_path_buf(), manifest.clone(), wasm.clone(), None);
                let (signature, comment) =
                    tools::author::signature_of(&source, key).map_err(|err| format!("signing: {}", err.message))?;
                eprintln!("signed: {comment}");
                Some(signature)
            }
            None if signature_file.is_file() => Some(String::from_utf8_lossy(&read(&signature_file)?).into_owned()),
            None => None,
        };
        let mut body =
            json!({"manifest": manifest, "wasm_base64": base64::engine::general_purpose::STANDARD.encode(&wasm)});
        if let Some(signature) = signature {
            body["signature"] = json!(signature);
        }
        let (status, report) = self.request(reqwest::Method::POST, "/admin/plugins", Some(body)).await?;
        let outcome = report["outcome"].as_str().unwrap_or_default();
        let active = status.is_success() && matches!(outcome, "loaded" | "unchanged");
        Ok(Uploaded { report, active })
    }

    /// The plugin's entry in the listing (null when the service does not list it).
    pub async fn listed(&self, plugin: &str) -> Result<Value, String> {
        let (status, listing) = self.request(reqwest::Method::GET, "/admin/plugins", None).await?;
        if !status.is_success() {
            return Err(format!("GET /admin/plugins: {status} {listing}"));
        }
        let plugins = listing["plugins"].as_array().cloned().unwrap_or_default();
        Ok(plugins.into_iter().find(|p| p["name"] == plugin).unwrap_or(Value::Null))
    }

    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(reqwest::StatusCode, Value), String> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .header("x-admin-actor", &self.actor);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|err| format!("{method} {}{path}: {err}", self.base))?;
        let status = response.status();
        let text = response.text().await.map_err(|err| format!("reading the answer of {path}: {err}"))?;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, value))
    }
}

/// One line saying what an upload did.
pub fn describe_upload(uploaded: &Uploaded) -> String {
    let report = &uploaded.report;
    let text = |key: &str| report[key].as_str().unwrap_or("?").to_string();
    if let Some(error) = report.get("error").filter(|e| !e.is_null()) {
        let stage = error["stage"].as_str().unwrap_or("load");
        let message = error["message"].as_str().map(str::to_string).unwrap_or_else(|| error.to_string());
        return format!("{} rejected at the {stage} step: {message}", text("plugin"));
    }
    if report["outcome"].is_string() {
        let sha = text("sha256");
        return format!(
            "{} {} {} (sha256 {})",
            text("plugin"),
            text("version"),
            text("outcome"),
            &sha[..sha.len().min(12)]
        );
    }
    format!("refused: {report}")
}
