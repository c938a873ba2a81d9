//! The operator's policy over manifests: every abuse is refused at load with stage `policy` and the
//! rule it broke, what the policy allows loads, and what it allowed is all a call can reach.

use end_to_end::plugins::PluginsDir;
use serde_json::json;
use stand_ins::recording_server::RecordingServer;
use tools::{LoadStage, PluginPolicy};

use crate::support::{Harness, point_probe, settings, trusting};

/// `dir` holds echo's component under a manifest named `dir` with one `[[egress]]` rule.
fn add_echo_with_rule(dir: &PluginsDir, name: &str, rule: &str) {
    dir.add_as("echo", name);
    dir.write_manifest(name, &format!("name = \"{name}\"\nversion = \"1\"\n\n[[egress]]\n{rule}\n"));
}

#[tokio::test]
async fn every_manifest_abuse_is_refused_at_load_naming_the_rule() {
    let trusted = RecordingServer::json(json!({"ok": true})).await;
    let cases = [
        (
            "auth-to-wildcard",
            "origin = \"https://*.onrender.com\"\nforward_user_auth = true".to_string(),
            "egress[0]: forward_user_auth to a wildcard origin is refused by policy rule \"credentials only to exact origins\"",
        ),
        (
            "auth-to-foreign",
            "origin = \"https://evil.example.net\"\nforward_user_auth = true".to_string(),
            "egress[0]: forward_user_auth to https://evil.example.net:443 is refused by policy rule \"credentials only to origins the operator trusts with them\"",
        ),
        (
            "metadata-v4",
            "origin = \"http://169.254.169.254\"".to_string(),
            "egress[0]: http://169.254.169.254:80 (the cloud metadata service) is refused by policy rule \"never metadata, link-local, unspecified or reserved addresses\"",
        ),
        (
            "metadata-v6",
            "origin = \"https://[fd00:ec2::254]\"".to_string(),
            "egress[0]: https://[fd00:ec2::254]:443 (the cloud metadata service) is refused by policy rule \"never metadata, link-local, unspecified or reserved addresses\"",
        ),
        (
            "unspecified-v4",
            format!("origin = \"http://0.0.0.0:{}\"", trusted.port()),
            "(a reserved address) is refused by policy rule \"never metadata, link-local, unspecified or reserved addresses\"",
        ),
        (
            "unspecified-v6",
            format!("origin = \"http://[::]:{}\"", trusted.port()),
            "(a reserved address) is refused by policy rule \"never metadata, link-local, unspecified or reserved addresses\"",
        ),
        (
            "private-without-allowance",
            "origin = \"https://api.example.org\"\nprivate_network = true".to_string(),
            "egress[0]: private_network for https://api.example.org:443 is refused by policy rule \"private networks only by operator allowance\"",
        ),
        (
            "loopback-literal",
            "origin = \"http://127.0.0.2:8001\"".to_string(),
            "egress[0]: origin http://127.0.0.2:8001 is refused by policy rule \"only origins the operator grants\"",
        ),
        (
            "plain-http",
            "origin = \"http://api.example.org\"".to_string(),
            "egress[0]: origin http://api.example.org:80 is refused by policy rule \"only origins the operator grants\"",
        ),
    ];
    let dir = PluginsDir::new();
    dir.add("echo");
    for (name, rule, _) in &cases {
        add_echo_with_rule(&dir, name, rule);
    }
    let origin = trusted.url();
    let harness = Harness::start(&dir, move |config| config.policy = trusting(&[&origin])).await;

    let listing = harness.registry.list().await;
    for (name, _, expected) in cases {
        let entry = listing.iter().find(|p| p.dir.ends_with(name)).unwrap_or_else(|| panic!("{name} not listed"));
        let error = &entry.last_rejection.as_ref().unwrap_or_else(|| panic!("{name} was loaded")).error;
        assert_eq!(error.stage, LoadStage::Policy, "{name}: {error:?}");
        assert!(error.message.contains(expected), "{name}: {}", error.message);
        assert!(error.to_string().starts_with("policy failed: egress[0]: "), "{name}: {error}");
    }
    // The trusted origin took none of that from echo.
    harness.echo_still_works().await;
    assert!(trusted.requests().is_empty());
}

#[tokio::test]
async fn what_the_policy_allows_loads() {
    let trusted = RecordingServer::json(json!({"ok": true})).await;
    let dir = PluginsDir::new();
    dir.add("echo");
    let rules = [
        format!("origin = \"{}\"\nforward_user_auth = true", trusted.url()),
        "origin = \"https://*.example.org\"".to_string(),
        "origin = \"https://api.example.com\"\nforward_user_auth = true".to_string(),
        "origin = \"https://a.b.internal.test\"\nprivate_network = true".to_string(),
    ];
    let egress: String = rules.iter().map(|rule| format!("\n[[egress]]\n{rule}\n")).collect();
    let manifest =
        format!("name = \"echo\"\nversion = \"1\"\n[config]\nbase_url = \"${{setting:ECHO_BASE_URL}}\"\n{egress}");
    dir.write_manifest("echo", &manifest);
    let origin = trusted.url();
    let harness = Harness::start(&dir, move |config| {
        config.defaults = settings(&[("ECHO_BASE_URL", &origin)]);
        config.policy = PluginPolicy::parse(&format!(
            r#"
            public_https = true
            [[grant]]
            origin = "{origin}"
            forward_user_auth = true
            loopback = true
            [[grant]]
            origin = "https://api.example.com"
            plugins = ["echo"]
            forward_user_auth = true
            [[grant]]
            origin = "https://*.internal.test"
            private_network = true
            "#
        ))
        .unwrap();
    })
    .await;
    let listing = harness.registry.list().await;
    assert!(listing[0].last_rejection.is_none(), "{listing:?}");
    // The loopback allowance is the policy's: echo reaches its stand-in with the user's token.
    let mut call = crate::support::call("echo_http", json!({"path": "/x"}));
    call.caller.authorization = Some("Bearer user-token".to_string());
    let outcome = harness.registry.call(call).await;
    assert!(outcome.result.is_ok(), "{outcome:?}");
    assert_eq!(trusted.requests()[0].header("authorization"), Some("Bearer user-token"));
}

#[tokio::test]
async fn a_name_reaches_a_private_or_loopback_address_only_by_allowance() {
    let target = RecordingServer::json(json!({"internal": true})).await;
    let allowed = RecordingServer::json(json!({"ok": true})).await;
    // A name resolving to a private address, granted without allowance: denied at call time.
    let dir = PluginsDir::new();
    dir.add("egress-probe");
    let allowed_url = allowed.url();
    let harness = Harness::start(&dir, move |config| {
        point_probe(config, &allowed_url, "http://internal.test:1");
        config.resolve.insert("internal.test".into(), vec!["10.0.0.7".parse().unwrap()]);
    })
    .await;
    let message = harness.fails("fetch", json!({"url": "http://internal.test:1/admin"}), "egress_denied").await;
    assert_eq!(
        message,
        "The tool fetch tried to reach internal.test, which resolves to a private-network address; that is not allowed."
    );
    drop(harness);

    // A name resolving to loopback reaches it when the operator allows loopback for that origin.
    let named = format!("http://rebound.test:{}", target.port());
    let dir = PluginsDir::new();
    dir.add("egress-probe");
    let (allowed_url, named_origin) = (allowed.url(), named.clone());
    let harness = Harness::start(&dir, move |config| {
        point_probe(config, &allowed_url, &named_origin);
        let grant = format!("[[grant]]\norigin = \"{named_origin}\"\nloopback = true\n");
        config.policy.grants.extend(PluginPolicy::parse(&grant).unwrap().grants);
        config.resolve.insert("rebound.test".into(), vec!["127.0.0.1".parse().unwrap()]);
    })
    .await;
    let result = harness.ok("fetch", json!({"url": format!("{named}/inside")})).await;
    assert_eq!(result["status"], 200);
    assert_eq!(target.requests()[0].path, "/inside");
}
