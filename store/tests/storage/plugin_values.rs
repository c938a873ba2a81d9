//! The plugins' settings and secrets on both backends: a secret is stored sealed (the table never
//! holds its value), opens with the key it was sealed under and fails clearly under another, and
//! listings never carry it; every change bumps the generation other instances poll, once.

use sqlx::Connection;
use store::testing::{BACKENDS, TestDatabase};
use store::{Backend, SecretsKey, StoreError, ValueKind};

const SECRET: &str = "sk-weather-0123456789abcdef";

fn key(byte: u8) -> SecretsKey {
    SecretsKey::from_bytes([byte; 32])
}

/// The `ciphertext` column of every stored secret, read past the store.
async fn raw_ciphertexts(db: &TestDatabase) -> Vec<Vec<u8>> {
    let query = "SELECT ciphertext FROM plugin_values WHERE kind = 'secret'";
    match db.backend() {
        Backend::Sqlite => {
            let mut connection = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query_scalar(query).fetch_all(&mut connection).await.unwrap()
        }
        Backend::Postgres => {
            let mut connection = sqlx::PgConnection::connect(&db.url).await.unwrap();
            let schema = db.schema.as_deref().unwrap();
            sqlx::query(&format!("SET search_path = {schema}")).execute(&mut connection).await.unwrap();
            sqlx::query_scalar(query).fetch_all(&mut connection).await.unwrap()
        }
    }
}

#[tokio::test]
async fn a_secret_is_stored_sealed_and_opens_only_with_its_key() {
    for backend in BACKENDS {
        let db = TestDatabase::new(backend).await.unwrap();
        let s = &db.store;
        s.plugin_value_set(&key(1), "weather", ValueKind::Secret, "API_KEY", SECRET).await.unwrap();
        s.plugin_value_set(&key(1), "weather", ValueKind::Setting, "BASE_URL", "https://api.weather.test")
            .await
            .unwrap();

        let ciphertexts = raw_ciphertexts(&db).await;
        assert_eq!(ciphertexts.len(), 1, "{backend:?}");
        assert!(
            !ciphertexts[0].windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
            "{backend:?}: stored in the clear"
        );

        let values = s.plugin_values_all(&key(1)).await.unwrap();
        let secret = values.iter().find(|v| v.kind == ValueKind::Secret).unwrap();
        assert_eq!(
            (secret.plugin.as_str(), secret.name.as_str(), secret.value.as_str()),
            ("weather", "API_KEY", SECRET)
        );
        assert!(!format!("{values:?}").contains(SECRET), "{backend:?}: formatting shows the secret");

        let err = s.plugin_values_all(&key(2)).await.unwrap_err();
        assert!(matches!(err, StoreError::Secret(_)), "{backend:?}: {err}");
        let message = err.to_string();
        assert!(
            message.contains("secret API_KEY of plugin weather cannot be decrypted with this PLUGIN_SECRETS_KEY"),
            "{message}"
        );
        assert!(!message.contains(SECRET), "{message}");

        let secrets = s.plugin_value_list("weather", ValueKind::Secret).await.unwrap();
        assert_eq!(secrets.len(), 1);
        assert_eq!((secrets[0].name.as_str(), secrets[0].value.as_deref()), ("API_KEY", None), "{backend:?}");
        let settings = s.plugin_value_list("weather", ValueKind::Setting).await.unwrap();
        assert_eq!(settings[0].value.as_deref(), Some("https://api.weather.test"), "{backend:?}");
        assert!(s.plugin_value_list("other", ValueKind::Secret).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn every_change_bumps_the_generation_once_and_a_rotation_is_told_apart() {
    for backend in BACKENDS {
        let db = TestDatabase::new(backend).await.unwrap();
        let s = &db.store;
        assert_eq!(s.plugin_values_generation().await.unwrap(), 0, "{backend:?}");
        let first = s.plugin_value_set(&key(1), "weather", ValueKind::Secret, "API_KEY", "one").await.unwrap();
        assert!(first.created && first.generation == 1, "{backend:?}: {first:?}");
        let rotated = s.plugin_value_set(&key(1), "weather", ValueKind::Secret, "API_KEY", "two").await.unwrap();
        assert!(!rotated.created && rotated.generation == 2, "{backend:?}: {rotated:?}");
        // A setting of the same name is another value.
        let setting = s.plugin_value_set(&key(1), "weather", ValueKind::Setting, "API_KEY", "x").await.unwrap();
        assert!(setting.created, "{backend:?}");
        let values = s.plugin_values_all(&key(1)).await.unwrap();
        assert_eq!(
            values.iter().filter(|v| v.kind == ValueKind::Secret).map(|v| v.value.as_str()).collect::<Vec<_>>(),
            ["two"]
        );

        assert_eq!(
            s.plugin_value_delete("weather", ValueKind::Secret, "API_KEY").await.unwrap(),
            Some(4),
            "{backend:?}"
        );
        assert_eq!(s.plugin_value_delete("weather", ValueKind::Secret, "API_KEY").await.unwrap(), None, "{backend:?}");
        assert_eq!(s.plugin_values_generation().await.unwrap(), 4, "{backend:?}: deleting nothing changes nothing");
        assert_eq!(s.plugin_values_all(&key(1)).await.unwrap().len(), 1);
    }
}
