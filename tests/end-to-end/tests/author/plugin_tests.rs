//! `chat-api plugins test`: the real plugins pass the cases they declare, offline; each kind of
//! mismatch (an unexpected request, a missing one, a request that differs, a different result or
//! error, a changed schema) fails its case with a diff naming it; and the replaying egress stays
//! behind the real policy (origins, addresses, response size).

use std::path::Path;
use std::process::ExitCode;

use tools::author::plugin_tests::{self, SchemaCheck, TestRun};

use crate::{chat_api, plugin_copy, plugin_source};

/// The author CLI's runtime: the test configuration's settings and policy, a private cache.
fn runtime(cache: &Path) -> tools::RuntimeConfig {
    let config = end_to_end::server::test_config(&[]).unwrap();
    let mut runtime = host::app::runtime_config(&config);
    runtime.cache_dir = cache.to_path_buf();
    runtime
}

async fn run(dir: &Path, wasm: &Path, runtime: tools::RuntimeConfig) -> TestRun {
    plugin_tests::run(dir, wasm, runtime, false).await.unwrap_or_else(|err| panic!("the run did not start: {err}"))
}

/// The problems of the one case named `name`.
fn problems<'a>(run: &'a TestRun, name: &str) -> &'a [String] {
    &run.cases.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no case {name}: {run:#?}")).problems
}

#[tokio::test]
async fn navigation_and_mapper_pass_the_cases_they_declare() {
    for name in ["navigation", "mapper"] {
        let wasm = end_to_end::plugins::built_plugin(name).join("plugin.wasm");
        let cache = tempfile::tempdir().unwrap();
        let run = run(&plugin_source(name), &wasm, runtime(cache.path())).await;
        assert!(run.passed(), "{name}: {run:#?}");
        assert_eq!(run.schemas, SchemaCheck::Matches, "{name}");
        assert!(run.cases.len() >= 4, "{name}: {run:#?}");
        // And through the command line, as an author runs it.
        let (dir, wasm) = (plugin_source(name), wasm.to_string_lossy().into_owned());
        let code = chat_api(&["plugins", "test", &dir.to_string_lossy(), "--wasm", &wasm], &[]).await;
        assert_eq!(code, ExitCode::SUCCESS, "{name}");
    }
}

/// A mapper directory (manifest and schemas as in the repo) with `tests` as its tests file.
fn mapper_with_tests(tests: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in ["plugin.toml", "plugin.schemas.json"] {
        std::fs::copy(plugin_source("mapper").join(file), dir.path().join(file)).unwrap();
    }
    std::fs::write(dir.path().join("plugin.tests.toml"), tests).unwrap();
    dir
}

const EXPORT_RESULT: &str = r#"{"success": true, "format": "zwo", "format_name": "Zwift ZWO", "workout_id": "w-legs", "content": "<zwo/>", "download_url": "https://files.test/w.zwo"}"#;

/// The export case, with `http` as its exchanges and `result` as its expected result.
fn export_case(name: &str, result: &str, http: &str) -> String {
    format!(
        r#"
[[test]]
name = "{name}"
function = "export_workout"
arguments = {{ workout_id = "w-legs", format = "zwo" }}
user = "user_1"
authorization = "Bearer token-1"
result = '{result}'
{http}
"#
    )
}

const EXPORT_EXCHANGE: &str = r#"
[[test.http]]
method = "GET"
url = "${setting:MAPPER_API_URL}/export/w-legs?export_format=zwo"
headers = { authorization = "Bearer token-1", x-user-id = "user_1" }
[test.http.response]
json = { content = "<zwo/>", download_url = "https://files.test/w.zwo" }
"#;

#[tokio::test]
async fn each_kind_of_mismatch_fails_its_case_with_a_diff() {
    let wrong_header = EXPORT_EXCHANGE.replace("x-user-id = \"user_1\"", "x-user-id = \"user_2\"");
    let wrong_query = EXPORT_EXCHANGE.replace("export_format=zwo", "export_format=yaml");
    let extra = format!(
        "{EXPORT_EXCHANGE}\n[[test.http]]\nmethod = \"GET\"\nurl = \"${{setting:MAPPER_API_URL}}/workouts/w-legs\"\n"
    );
    let patch = r#"
[[test]]
name = "a different body"
function = "edit_workout"
arguments = '{"workout_id": "w-legs", "operations": [{"op": "remove", "path": "/tags/0"}]}'
result = '{"success": true, "message": "Workout updated successfully", "workout_id": "w-legs"}'
[[test.http]]
method = "PATCH"
url = "${setting:MAPPER_API_URL}/workouts/w-legs"
json = '{"operations": [{"op": "remove", "path": "/tags/1"}]}'

[[test]]
name = "a different error"
function = "edit_workout"
arguments = '{"workout_id": "../x", "operations": [{"op": "remove", "path": "/a"}]}'
error = { code = "not_found", message = "Gone" }
"#;
    let tests = [
        export_case("passes", EXPORT_RESULT, EXPORT_EXCHANGE),
        export_case("an unexpected request", EXPORT_RESULT, ""),
        export_case("a missing request", EXPORT_RESULT, &extra),
        export_case("a different header", EXPORT_RESULT, &wrong_header),
        export_case("a different url", EXPORT_RESULT, &wrong_query),
        export_case("a different result", &EXPORT_RESULT.replace("Zwift ZWO", "Zwift"), EXPORT_EXCHANGE),
        patch.to_string(),
    ]
    .concat();
    let dir = mapper_with_tests(&format!("schemas = \"plugin.schemas.json\"\n{tests}"));
    let wasm = end_to_end::plugins::built_plugin("mapper").join("plugin.wasm");
    let cache = tempfile::tempdir().unwrap();
    let run = run(dir.path(), &wasm, runtime(cache.path())).await;
    assert!(!run.passed());
    assert!(problems(&run, "passes").is_empty(), "{run:#?}");

    let url = "http://localhost:8001";
    let unexpected = problems(&run, "an unexpected request");
    assert!(
        unexpected[0] == format!("unexpected request: GET {url}/export/w-legs?export_format=zwo"),
        "{unexpected:?}"
    );
    let missing = problems(&run, "a missing request");
    assert_eq!(missing, [format!("missing request: GET {url}/workouts/w-legs was expected but never sent")]);
    let header = problems(&run, "a different header");
    assert_eq!(header.len(), 1, "{header:?}");
    assert!(header[0].contains(r#"header x-user-id: expected "user_2", got "user_1""#), "{header:?}");
    let query = problems(&run, "a different url");
    assert!(
        query.iter().any(|p| p.starts_with("unexpected request: GET") && p.ends_with("export_format=zwo")),
        "{query:?}"
    );
    assert!(
        query.iter().any(|p| p.starts_with("missing request: GET") && p.contains("export_format=yaml")),
        "{query:?}"
    );
    let result = problems(&run, "a different result");
    assert!(result[0].starts_with("result differs:"), "{result:?}");
    assert!(result.iter().any(|p| p.contains(r#"at $.format_name: expected "Zwift", got "Zwift ZWO""#)), "{result:?}");
    let body = problems(&run, "a different body");
    assert!(
        body.iter().any(|p| p.contains(r#"body at $.operations[0].path: expected "/tags/1", got "/tags/0""#)),
        "{body:?}"
    );
    let error = problems(&run, "a different error");
    assert_eq!(
        error,
        [
            "error code differs: expected not_found, got validation_error (Invalid workout_id format)",
            "error message differs:\n    expected Gone\n    got      Invalid workout_id format",
        ]
    );

    // The command line fails too, and says which cases.
    let code =
        chat_api(&["plugins", "test", &dir.path().to_string_lossy(), "--wasm", &wasm.to_string_lossy()], &[]).await;
    assert_eq!(code, ExitCode::FAILURE);
}

#[tokio::test]
async fn a_changed_schema_is_caught_and_can_be_written_again() {
    let dir = mapper_with_tests(&format!(
        "schemas = \"plugin.schemas.json\"\n{}",
        export_case("passes", EXPORT_RESULT, EXPORT_EXCHANGE)
    ));
    let schemas = dir.path().join("plugin.schemas.json");
    let text = std::fs::read_to_string(&schemas).unwrap();
    let changed = text.replacen("\"ID of the workout to export\"", "\"The workout\"", 1);
    assert_ne!(text, changed, "the fixture names export_workout's argument");
    std::fs::write(&schemas, changed).unwrap();

    let wasm = end_to_end::plugins::built_plugin("mapper").join("plugin.wasm");
    let cache = tempfile::tempdir().unwrap();
    let run = run(dir.path(), &wasm, runtime(cache.path())).await;
    assert!(!run.passed());
    let SchemaCheck::Differs { differences } = &run.schemas else { panic!("{run:#?}") };
    assert_eq!(
        differences,
        &[
            r#"at $.export_workout.parameters.properties.workout_id.description: expected "The workout", got "ID of the workout to export""#
        ]
    );

    let written = plugin_tests::run(dir.path(), &wasm, runtime(cache.path()), true).await.unwrap();
    assert_eq!(written.schemas, SchemaCheck::Written { file: schemas.clone() });
    assert_eq!(std::fs::read_to_string(&schemas).unwrap(), text, "written back as the repository keeps it");
}

#[tokio::test]
async fn replayed_requests_stay_behind_the_egress_policy_and_limits() {
    let probe = plugin_copy("egress-probe", None);
    let big = "x".repeat(1_048_577);
    let tests = format!(
        r#"
[[test]]
name = "an allowed origin is replayed"
function = "fetch"
arguments = {{ url = "https://api.example.com/ok" }}
result_json = {{ status = 200, body_bytes = 2, body_prefix = "ok" }}
[[test.http]]
method = "GET"
url = "https://api.example.com/ok"
[test.http.response]
body = "ok"

[[test]]
name = "an origin the manifest does not allow never reaches the script"
function = "fetch"
arguments = {{ url = "https://evil.example.net/" }}
error = {{ code = "egress_denied" }}

[[test]]
name = "an allowed name resolving to a private address is refused"
function = "fetch"
arguments = {{ url = "https://internal.example.com/x" }}
error = {{ code = "egress_denied" }}

[[test]]
name = "a response over max_response_bytes is cut"
function = "fetch"
arguments = {{ url = "https://api.example.com/big" }}
error = {{ code = "response_too_large" }}
[[test.http]]
method = "GET"
url = "https://api.example.com/big"
[test.http.response]
body = "{big}"
"#
    );
    std::fs::write(probe.path().join("plugin.tests.toml"), tests).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let mut runtime = runtime(cache.path());
    runtime.defaults.settings.insert("PROBE_ALLOWED_ORIGIN".into(), "https://api.example.com".into());
    runtime.defaults.settings.insert("PROBE_NAMED_ORIGIN".into(), "https://internal.example.com".into());
    runtime.resolve.insert("internal.example.com".into(), vec!["10.1.2.3".parse().unwrap()]);
    let run = run(probe.path(), &probe.path().join("plugin.wasm"), runtime).await;
    assert!(run.passed(), "{run:#?}");
    assert_eq!(run.schemas, SchemaCheck::NotDeclared);
}

#[tokio::test]
async fn a_broken_tests_file_or_a_missing_component_is_named() {
    let dir = mapper_with_tests("[[test]]\nname = \"x\"\nfunction = \"export_workout\"\nresult = \"a\"\nresutl = 1\n");
    let cache = tempfile::tempdir().unwrap();
    let wasm = end_to_end::plugins::built_plugin("mapper").join("plugin.wasm");
    let err = plugin_tests::run(dir.path(), &wasm, runtime(cache.path()), false).await.unwrap_err();
    assert!(err.contains("plugin.tests.toml") && err.contains("unknown field `resutl`"), "{err}");

    let code = chat_api(&["plugins", "test", &dir.path().to_string_lossy()], &[]).await;
    assert_eq!(code, ExitCode::from(2), "no plugin.wasm and no crate: nothing to test");
}
