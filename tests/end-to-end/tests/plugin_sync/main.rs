//! The plugin set shared by several instances through the database (DESIGN §6), on both backends:
//! two real services over one database (one SQLite file, or one Postgres schema), each with its own
//! empty `PLUGINS_DIR` and a short `PLUGINS_SYNC_SECONDS`. An upload or a rollback made through one
//! instance is served by the other; a corrupt upload never becomes active anywhere; concurrent
//! uploads through both end with both serving the one version the database holds; a fresh instance
//! serves the database's versions as soon as it reports ready, over its baked-in plugins; a plugin
//! deleted through one instance disappears from every instance, baked-in copies included, until it
//! is uploaded again, and its versions stay in the database. The plugins' settings and secrets
//! follow the same way ([`values`]).

mod values;

use std::path::Path;
use std::time::{Duration, Instant};

use end_to_end::plugin_admin::{self, echo_label, echo_manifest, echo_wasm, sha256};
use end_to_end::plugins::PluginsDir;
use end_to_end::poll::poll_until;
use end_to_end::server::TestServer;
use serde_json::{Value, json};
use store::testing::{BACKENDS, TestDatabase};
use store::{Backend, NewPluginVersion, PluginVersionKey, Store};

const KEY: &str = "plugin-sync-admin-key";
/// The poll interval of the instances under test.
const POLL_SECONDS: &str = "0.1";
/// How long an instance may take to follow a change: a hundred poll intervals, for a loaded machine.
const FOLLOW_WITHIN: Duration = Duration::from_secs(10);

/// An instance over `db`'s database (its own pool), polling every [`POLL_SECONDS`].
async fn instance(db: &TestDatabase, plugins_dir: Option<&Path>, poll_seconds: &str) -> TestServer {
    instance_with(db, plugins_dir, poll_seconds, &[]).await
}

/// [`instance`] with more settings (`extra`).
async fn instance_with(
    db: &TestDatabase,
    plugins_dir: Option<&Path>,
    poll_seconds: &str,
    extra: &[(&str, &str)],
) -> TestServer {
    let store = Store::connect(&db.options()).await.expect("opening the shared database");
    let dir = plugins_dir.map(|d| d.display().to_string());
    let mut vars = vec![("ADMIN_API_KEY", KEY), ("PLUGINS_SYNC_SECONDS", poll_seconds)];
    vars.extend_from_slice(extra);
    if let Some(dir) = &dir {
        vars.push(("PLUGINS_DIR", dir.as_str()));
    }
    TestServer::start_with_store(&vars, store, None).await.expect("starting an instance")
}

/// Two instances over one fresh database, both with their tool set loaded.
async fn pair(backend: Backend) -> (TestDatabase, TestServer, TestServer) {
    pair_with(backend, &[]).await
}

/// [`pair`] with more settings (`extra`) on both instances.
async fn pair_with(backend: Backend, extra: &[(&str, &str)]) -> (TestDatabase, TestServer, TestServer) {
    let db = TestDatabase::new(backend).await.expect("a test database");
    let a = instance_with(&db, None, POLL_SECONDS, extra).await;
    let b = instance_with(&db, None, POLL_SECONDS, extra).await;
    (db, a, b)
}

async fn admin(server: &TestServer, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    plugin_admin::admin(server, KEY, method, path, body).await
}

async fn upload(server: &TestServer, manifest: &str, wasm: &[u8]) -> (u16, Value) {
    plugin_admin::upload(server, KEY, manifest, wasm, None).await
}

/// Polls until `server` answers `echo` with `label` (the instance follows the database on its own
/// poll, which signals nothing); returns how long that took.
async fn serves(server: &TestServer, label: &str) -> Duration {
    let started = Instant::now();
    poll_until(FOLLOW_WITHIN, format_args!("{} serving {label:?}", server.base_url), async || {
        match echo_label(server).await {
            Some(served) if served == label => Ok(()),
            other => Err(format!("echo answers {other:?}")),
        }
    })
    .await;
    started.elapsed()
}

async fn listed_echo(server: &TestServer) -> Value {
    plugin_admin::listed_echo(server, KEY).await
}

#[tokio::test]
async fn uploads_and_rollbacks_through_one_instance_reach_the_other() {
    for backend in BACKENDS {
        let (db, a, b) = pair(backend).await;
        assert_eq!(echo_label(&b).await, None, "{backend:?}: nothing uploaded yet");
        let wasm = echo_wasm();

        let (status, report) = upload(&a, &echo_manifest("0.2.0", "first"), &wasm).await;
        assert_eq!((status, report["outcome"].as_str()), (201, Some("loaded")), "{backend:?}: {report}");
        assert_eq!(echo_label(&a).await.as_deref(), Some("first"));
        let followed = serves(&b, "first").await;
        println!("{backend:?}: the other instance served the upload after {followed:?}");
        let listed = listed_echo(&b).await;
        assert_eq!((listed["status"].as_str(), listed["version"].as_str()), (Some("loaded"), Some("0.2.0")));
        assert_eq!(listed["sha256"], sha256(&wasm));

        let (status, _) = upload(&a, &echo_manifest("0.3.0", "second"), &wasm).await;
        assert_eq!(status, 201);
        serves(&b, "second").await;

        let (status, report) = admin(&a, reqwest::Method::POST, "/admin/plugins/echo/rollback", Some(json!({}))).await;
        assert_eq!((status, report["outcome"].as_str()), (200, Some("rolled_back")), "{backend:?}: {report}");
        assert_eq!(echo_label(&a).await.as_deref(), Some("first"));
        let followed = serves(&b, "first").await;
        let listed = listed_echo(&b).await;
        assert_eq!(listed["version"], "0.2.0");
        // B compiled this component before: applying the rollback there hits the artifact cache.
        assert_eq!(listed["from_cache"], true, "{listed}");
        println!(
            "{backend:?}: the other instance followed the rollback after {followed:?} (load {} ms, cached)",
            listed["load_time_ms"]
        );

        // A corrupt upload is refused at A and changes nothing anywhere.
        let generation = db.store.plugin_generation().await.unwrap();
        let (status, error) = upload(&a, &echo_manifest("0.4.0", "corrupt"), b"\0asm not really").await;
        assert_eq!(status, 422, "{backend:?}: {error}");
        assert_eq!(error["detail"][0]["type"], "plugin_rejected");
        assert_eq!(db.store.plugin_generation().await.unwrap(), generation);
        let active = db.store.plugin_active("echo").await.unwrap().unwrap();
        assert_eq!(active.key.manifest_sha256, sha256(echo_manifest("0.2.0", "first").as_bytes()));
        // Whatever B's poller has done meanwhile, B following the database now (what its poller does) still
        // serves the active version.
        b.state.tools.follow_database().await.expect("B follows the database");
        assert_eq!(echo_label(&b).await.as_deref(), Some("first"));
        assert_eq!(echo_label(&a).await.as_deref(), Some("first"));

        // Both see the database's view in their listing.
        let (_, listing) = admin(&b, reqwest::Method::GET, "/admin/plugins", None).await;
        assert_eq!(listing["database"]["generation"], generation);
        assert_eq!(listing["database"]["active"][0]["name"], "echo");
        assert_eq!(listing["database"]["active"][0]["sha256"], sha256(&wasm));
    }
}

#[tokio::test]
async fn concurrent_uploads_through_both_instances_end_with_one_active_version() {
    for backend in BACKENDS {
        let (db, a, b) = pair(backend).await;
        let wasm = echo_wasm();
        for round in 0..4 {
            let (left, right) = (format!("left {round}"), format!("right {round}"));
            let (left_manifest, right_manifest) = (echo_manifest("1.0.0", &left), echo_manifest("2.0.0", &right));
            let (at_a, at_b) = tokio::join!(upload(&a, &left_manifest, &wasm), upload(&b, &right_manifest, &wasm));
            assert_eq!((at_a.0, at_b.0), (201, 201), "{backend:?}: {} / {}", at_a.1, at_b.1);

            let active = db.store.plugin_active("echo").await.unwrap().unwrap();
            let winner = if active.key.manifest_sha256 == sha256(left_manifest.as_bytes()) {
                left
            } else {
                assert_eq!(active.key.manifest_sha256, sha256(right_manifest.as_bytes()));
                right
            };
            serves(&a, &winner).await;
            serves(&b, &winner).await;
        }
    }
}

#[tokio::test]
async fn a_new_instance_serves_the_database_versions_when_it_first_reports_ready() {
    for backend in BACKENDS {
        let (db, a, _b) = pair(backend).await;
        let (status, _) = upload(&a, &echo_manifest("0.5.0", "from the database"), &echo_wasm()).await;
        assert_eq!(status, 201);

        // An empty PLUGINS_DIR, and no poller: only the start-up load can bring the plugin.
        let fresh = instance(&db, None, "0").await;
        // An image with its own echo baked in: the database's version overrides it.
        let baked = PluginsDir::new();
        baked.add("echo");
        let imaged = instance(&db, Some(baked.path()), "0").await;
        // Each instance is handed over once its tool set is loaded: it reports ready from then on.
        for server in [&fresh, &imaged] {
            let ready = server.client().get(server.url("/health/ready")).send().await.unwrap();
            assert_eq!(ready.status(), 200, "{backend:?}: {}", ready.text().await.unwrap_or_default());
            assert_eq!(echo_label(server).await.as_deref(), Some("from the database"), "{backend:?}");
            assert_eq!(listed_echo(server).await["version"], "0.5.0");
        }
    }
}

#[tokio::test]
async fn a_version_that_clashes_on_one_instance_is_rejected_there_and_the_old_plugin_keeps_serving() {
    for backend in BACKENDS {
        let db = TestDatabase::new(backend).await.unwrap();
        let a = instance(&db, None, POLL_SECONDS).await;
        // B already offers `echo` and `echo_http` through a plugin of another name, from the
        // directory an upload named `echo` would go to: it must be checked against it, not replace it.
        let baked = PluginsDir::new();
        baked.add("echo");
        let renamed = baked.manifest("echo").replace("name = \"echo\"", "name = \"echo-copy\"");
        baked.write_manifest("echo", &renamed);
        let b = instance(&db, Some(baked.path()), POLL_SECONDS).await;

        let (status, _) = upload(&a, &echo_manifest("0.6.0", "uploaded"), &echo_wasm()).await;
        assert_eq!(status, 201);
        let rejected = poll_until(FOLLOW_WITHIN, format_args!("{backend:?}: B trying the upload"), async || {
            let listed = listed_echo(&b).await;
            if listed["status"] == "rejected" { Ok(listed) } else { Err(listed.to_string()) }
        })
        .await;
        assert_eq!(rejected["last_rejection"]["error"]["stage"], "conflict", "{rejected}");
        assert_eq!(echo_label(&b).await.as_deref(), Some("echo 0.1.0"), "{backend:?}: B's own plugin serves");
        assert_eq!(echo_label(&a).await.as_deref(), Some("uploaded"));
        assert!(baked.manifest("echo").contains("echo-copy"), "B's own files are untouched");
    }
}

/// Polls until `server` no longer serves `echo` (as [`serves`]); returns how long that took.
async fn stops_serving(server: &TestServer) -> Duration {
    let started = Instant::now();
    poll_until(FOLLOW_WITHIN, format_args!("{} dropping echo", server.base_url), async || {
        match echo_label(server).await {
            None => Ok(()),
            Some(served) => Err(format!("echo answers {served:?}")),
        }
    })
    .await;
    started.elapsed()
}

#[tokio::test]
async fn a_plugin_deleted_through_one_instance_is_removed_everywhere_until_uploaded_again() {
    for backend in BACKENDS {
        let db = TestDatabase::new(backend).await.unwrap();
        let a = instance(&db, None, POLL_SECONDS).await;
        // B has echo baked into its image as well: the delete reaches that copy too.
        let baked = PluginsDir::new();
        baked.add("echo");
        let b = instance(&db, Some(baked.path()), POLL_SECONDS).await;
        let wasm = echo_wasm();
        for (version, label) in [("0.7.0", "kept in history"), ("0.8.0", "to be deleted")] {
            assert_eq!(upload(&a, &echo_manifest(version, label), &wasm).await.0, 201);
        }
        serves(&b, "to be deleted").await;

        let (status, report) = admin(&a, reqwest::Method::DELETE, "/admin/plugins/echo", None).await;
        assert_eq!((status, report["outcome"].as_str()), (200, Some("removed")), "{backend:?}: {report}");
        assert_eq!(report["version"], "0.8.0");
        assert_eq!(report["sha256"], sha256(&wasm));
        assert_eq!(echo_label(&a).await, None, "{backend:?}: gone at once where it was deleted");
        let followed = stops_serving(&b).await;
        println!("{backend:?}: the other instance dropped the deleted plugin after {followed:?}");
        assert!(!baked.path().join("echo").exists(), "{backend:?}: B's baked-in copy is deleted too");
        assert_eq!(listed_echo(&b).await, Value::Null, "{backend:?}: nothing left to list");
        assert_eq!(db.store.plugin_active("echo").await.unwrap(), None);
        for (version, label) in [("0.7.0", "kept in history"), ("0.8.0", "to be deleted")] {
            let key = PluginVersionKey {
                sha256: sha256(&wasm),
                manifest_sha256: sha256(echo_manifest(version, label).as_bytes()),
            };
            assert!(db.store.plugin_version("echo", &key).await.unwrap().is_some(), "{backend:?}: {version} kept");
        }
        let (status, _) = admin(&b, reqwest::Method::POST, "/admin/plugins/echo/rollback", Some(json!({}))).await;
        assert_eq!(status, 404, "{backend:?}: nothing to roll back once deleted");

        // A fresh instance with echo in its image does not serve it either.
        let imaged = PluginsDir::new();
        imaged.add("echo");
        let fresh = instance(&db, Some(imaged.path()), "0").await;
        assert_eq!(echo_label(&fresh).await, None, "{backend:?}: the deletion holds for new instances");
        assert!(!imaged.path().join("echo").exists());

        // Uploading it again brings it back everywhere.
        assert_eq!(upload(&b, &echo_manifest("0.9.0", "back"), &wasm).await.0, 201);
        serves(&a, "back").await;
        assert_eq!(db.store.plugin_removed_set().await.unwrap(), Vec::<String>::new());
    }
}

#[tokio::test]
async fn the_database_keeps_every_version_and_swaps_active_and_previous_atomically() {
    for backend in BACKENDS {
        let db = TestDatabase::new(backend).await.unwrap();
        let store = &db.store;
        assert_eq!(store.plugin_generation().await.unwrap(), 0);
        assert_eq!(store.plugin_rollback("p").await.unwrap(), None, "nothing to roll back");
        assert_eq!(store.plugin_generation().await.unwrap(), 0, "a refused rollback changes nothing");

        let version = |n: usize| {
            let manifest = format!("name = \"p\"\nversion = \"{n}.0.0\"\n");
            let wasm = vec![n as u8; 16];
            (manifest, wasm)
        };
        let key = |(manifest, wasm): &(String, Vec<u8>)| PluginVersionKey {
            sha256: sha256(wasm),
            manifest_sha256: sha256(manifest.as_bytes()),
        };
        let publish = |files: (String, Vec<u8>)| async move {
            let key = key(&files);
            store
                .plugin_publish(&NewPluginVersion {
                    name: "p",
                    version: "v",
                    key,
                    manifest: &files.0,
                    wasm: &files.1,
                    signature: None,
                })
                .await
                .unwrap()
        };

        // Ten writers at once: each gets its own generation, and the last one is active.
        let generations = futures::future::join_all((1..=10).map(|n| publish(version(n)))).await;
        let mut sorted = generations.clone();
        sorted.sort();
        assert_eq!(sorted, (1..=10).collect::<Vec<i64>>(), "{backend:?}");
        let active = store.plugin_active("p").await.unwrap().unwrap();
        assert_eq!(active.generation, 10);
        let last = generations.iter().position(|g| *g == 10).unwrap() + 1;
        let before = generations.iter().position(|g| *g == 9).unwrap() + 1;
        assert_eq!(active.key, key(&version(last)));
        assert_eq!(active.previous, Some(key(&version(before))));

        // Publishing the active version again keeps its rollback target.
        publish(version(last)).await;
        assert_eq!(store.plugin_active("p").await.unwrap().unwrap().previous, Some(key(&version(before))));

        let rolled = store.plugin_rollback("p").await.unwrap().unwrap();
        assert_eq!((rolled.key.clone(), rolled.previous.clone()), (key(&version(before)), Some(key(&version(last)))));
        assert_eq!(store.plugin_rollback("p").await.unwrap().unwrap().key, key(&version(last)));

        let stored = store.plugin_version("p", &key(&version(3))).await.unwrap().unwrap();
        assert_eq!((stored.manifest, stored.wasm), version(3));
        assert_eq!(store.plugin_active_set().await.unwrap().len(), 1);

        // Removing: the active entry goes, the name is recorded, every version stays; one change.
        let generation = store.plugin_generation().await.unwrap();
        let removed = store.plugin_remove("p").await.unwrap().unwrap();
        assert_eq!(removed.key, key(&version(last)), "{backend:?}");
        assert_eq!(store.plugin_generation().await.unwrap(), generation + 1);
        assert_eq!(store.plugin_active("p").await.unwrap(), None);
        assert_eq!(store.plugin_removed_set().await.unwrap(), ["p"]);
        assert!(store.plugin_version("p", &key(&version(3))).await.unwrap().is_some());
        assert_eq!(store.plugin_rollback("p").await.unwrap(), None, "nothing to roll back once removed");
        // Removing what the database never had still records the removal (a directory's plugin).
        assert_eq!(store.plugin_remove("baked").await.unwrap(), None);
        assert_eq!(store.plugin_removed_set().await.unwrap(), ["baked", "p"]);
        // Publishing brings it back.
        publish(version(11)).await;
        assert_eq!(store.plugin_removed_set().await.unwrap(), ["baked"]);
        assert_eq!(store.plugin_active("p").await.unwrap().unwrap().previous, None);
    }
}
