//! `PLUGIN_POLICY_FILE`: the operator's policy over plugin manifests (see `tools::policy` for the
//! format), or, without one, the policy derived from the services this host is configured with.
//! A file that is set but unreadable or invalid is a configuration problem in every environment:
//! falling back to the default would silently grant what the operator meant to refuse.

use tools::PluginPolicy;

use super::reading::Reader;
use super::settings::{DownstreamConfig, OpenAiConfig};

/// The policy the runtime checks every manifest against.
pub(super) fn read_plugin_policy(
    r: &mut Reader<'_>,
    downstream: &DownstreamConfig,
    openai: &OpenAiConfig,
) -> PluginPolicy {
    let Some(path) = r.optional("PLUGIN_POLICY_FILE") else {
        return default_policy(downstream, openai, r.environment.is_local());
    };
    let parsed = std::fs::read_to_string(&path)
        .map_err(|err| format!("cannot read {path}: {err}"))
        .and_then(|text| PluginPolicy::parse(&text).map_err(|why| format!("{path}: {why}")));
    parsed.unwrap_or_else(|why| {
        r.problems.push(format!("PLUGIN_POLICY_FILE: {why}"));
        PluginPolicy::default()
    })
}

/// The downstream services may receive users' credentials and live on private networks; the
/// OpenAI endpoint may live on one too (without credentials); on a developer's machine or in tests
/// they may all be on loopback. Any other public https origin may be granted without either.
fn default_policy(downstream: &DownstreamConfig, openai: &OpenAiConfig, local: bool) -> PluginPolicy {
    let services = [
        &downstream.mapper_api_url,
        &downstream.calendar_api_url,
        &downstream.workout_ingestor_api_url,
        &downstream.strava_sync_api_url,
        &downstream.garmin_sync_api_url,
    ];
    PluginPolicy::configured(services.map(String::as_str), [openai.base_url.as_str()], local)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use tools::policy::rules;

    use crate::config::load;

    #[test]
    fn without_a_file_the_configured_services_are_trusted() {
        let c = load(&[("MAPPER_API_URL", "https://mapper.example.com/v1")]).unwrap();
        let policy = &c.plugins.policy;
        assert!(policy.public_https);
        let mapper = policy.grants.iter().find(|g| g.origin.to_string() == "https://mapper.example.com:443").unwrap();
        assert!(mapper.forward_user_auth && mapper.private_network && mapper.loopback);
        let openai = policy.grants.iter().find(|g| g.origin.to_string() == "https://api.openai.com:443").unwrap();
        assert!(!openai.forward_user_auth);
        let staging = load(&[("ENVIRONMENT", "staging")]).unwrap();
        assert!(staging.plugins.policy.grants.iter().all(|g| !g.loopback), "loopback only on a local machine");
    }

    #[test]
    fn a_policy_file_replaces_the_default_and_must_be_valid() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "[[grant]]\norigin = \"https://mapper.example.com\"\nforward_user_auth = true").unwrap();
        let path = file.path().to_str().unwrap();
        let c = load(&[("PLUGIN_POLICY_FILE", path)]).unwrap();
        assert!(!c.plugins.policy.public_https);
        assert_eq!(c.plugins.policy.grants.len(), 1);

        let mut bad = tempfile::NamedTempFile::new().unwrap();
        writeln!(bad, "[[grant]]\norigin = \"https://*.onrender.com\"\nforward_user_auth = true").unwrap();
        let err = load(&[("PLUGIN_POLICY_FILE", bad.path().to_str().unwrap())]).unwrap_err();
        assert_eq!(err.problems.len(), 1, "{err}");
        assert!(
            err.problems[0].starts_with("PLUGIN_POLICY_FILE: ") && err.problems[0].contains(rules::EXACT_CREDENTIALS)
        );

        let err = load(&[("PLUGIN_POLICY_FILE", "/nonexistent/policy.toml")]).unwrap_err();
        assert!(err.problems[0].starts_with("PLUGIN_POLICY_FILE: cannot read /nonexistent/policy.toml"), "{err}");
    }
}
