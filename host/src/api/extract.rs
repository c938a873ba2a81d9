//! Extractors: what a handler needs, said in its signature. Bodies, queries and paths whose
//! rejections are [`ApiError`]s ([`ApiJson`], [`ApiQuery`], [`ApiPath`]), the authenticated user
//! ([`AuthUser`]), and the holders of the three service keys, each of which opens only its own
//! routes: mapper-api ([`InternalCaller`]), an operator ([`AdminCaller`]) and Prometheus
//! ([`MetricsScraper`]), all checked by one helper. Each takes only the part of the state it needs
//! (`FromRef`).

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::error::ApiError;
use crate::auth::service_key::{self, KeyId, ServiceKey};
use crate::auth::{self, AuthError, AuthUser, Authenticator};
use crate::config::{Config, Secret};

impl<S: Send + Sync> FromRequestParts<S> for AuthUser
where
    Arc<Authenticator>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user = Arc::<Authenticator>::from_ref(state).authenticate(&parts.headers).await?;
        // The request has its own Sentry hub (the tower layer's), so the user stays on this request.
        crate::telemetry::sentry::set_user(&user.user_id);
        crate::telemetry::logs::record_user(&user.user_id);
        Ok(user)
    }
}

/// Proof that the request carried `INTERNAL_API_KEY` in `X-Internal-Key` (mapper-api's routes,
/// `/internal/*`): 503 while no key is configured, 422 without the header (as the original), 403
/// for a wrong key.
#[derive(Clone, Copy, Debug)]
pub struct InternalCaller;

impl<S: Send + Sync> FromRequestParts<S> for InternalCaller
where
    Arc<Config>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let config = Arc::<Config>::from_ref(state);
        check_service_key(parts, ServiceKey::Internal, config.auth.internal_api_key.as_ref())?;
        Ok(InternalCaller)
    }
}

/// An operator holding `ADMIN_API_KEY` (`X-Admin-Key`, or `Authorization: Bearer`), for
/// `/admin/*`: 503 while no key is configured, 401 without one, 403 for a wrong one (the internal
/// key and the metrics token included). Carries who acted, for the audit log.
#[derive(Clone, Debug)]
pub struct AdminCaller {
    /// Which key was presented (its [`KeyId`], never the key).
    pub key_id: KeyId,
    /// The operator's name as claimed in `X-Admin-Actor` (recorded, not verified).
    pub actor: Option<String>,
}

/// The name an operator may give in `X-Admin-Actor`.
const ADMIN_ACTOR: &str = "x-admin-actor";
/// The longest `X-Admin-Actor` accepted.
const MAX_ACTOR_CHARS: usize = 64;

impl AdminCaller {
    /// The claimed operator name: trimmed, at most [`MAX_ACTOR_CHARS`] printable characters.
    fn actor(parts: &Parts) -> Result<Option<String>, ApiError> {
        let Some(value) = parts.headers.get(ADMIN_ACTOR) else { return Ok(None) };
        let printable = |actor: &&str| {
            !actor.is_empty() && actor.chars().count() <= MAX_ACTOR_CHARS && !actor.chars().any(char::is_control)
        };
        match value.to_str().map(str::trim) {
            Ok(actor) if printable(&actor) => Ok(Some(actor.to_string())),
            _ => Err(ApiError::validation(
                format!("header.{ADMIN_ACTOR}"),
                format!("an operator name of 1 to {MAX_ACTOR_CHARS} printable characters"),
            )),
        }
    }
}

/// Why a request's service key was refused: the error it is answered with, and which key it
/// presented (the audit log records refused admin requests by it), if any.
#[derive(Debug)]
pub struct KeyRefusal {
    pub error: ApiError,
    pub presented: Option<KeyId>,
}

impl IntoResponse for KeyRefusal {
    fn into_response(self) -> Response {
        self.error.into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AdminCaller
where
    Arc<Config>: FromRef<S>,
{
    type Rejection = KeyRefusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let config = Arc::<Config>::from_ref(state);
        let key_id = check_service_key(parts, ServiceKey::Admin, config.auth.admin_api_key.as_ref())?;
        let actor = AdminCaller::actor(parts).map_err(|error| KeyRefusal { error, presented: Some(key_id.clone()) })?;
        Ok(AdminCaller { key_id, actor })
    }
}

/// Prometheus holding `METRICS_TOKEN` as `Authorization: Bearer` (what its `authorization` scrape
/// setting sends). Without a token configured, `/metrics` is open in development and test and 503
/// elsewhere (production refuses to start that way).
#[derive(Clone, Copy, Debug)]
pub struct MetricsScraper;

impl<S: Send + Sync> FromRequestParts<S> for MetricsScraper
where
    Arc<Config>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let config = Arc::<Config>::from_ref(state);
        let token = config.auth.metrics_token.as_ref();
        if token.is_some() || !config.environment.is_local() {
            check_service_key(parts, ServiceKey::Metrics, token)?;
        }
        Ok(MetricsScraper)
    }
}

/// The one check behind every service-key extractor: the key `parts` presents for `key` (its own
/// header, else a bearer token where the key accepts one) against `expected`. Returns the id of
/// the accepted key.
fn check_service_key(parts: &Parts, key: ServiceKey, expected: Option<&Secret>) -> Result<KeyId, KeyRefusal> {
    let refused = |error: AuthError, presented: Option<KeyId>| KeyRefusal { error: error.into(), presented };
    if expected.is_none() {
        return Err(refused(AuthError::KeyNotConfigured(key), None));
    }
    let own_header = key.header().and_then(|name| parts.headers.get(name)).map(|v| v.to_str().unwrap_or(""));
    let bearer = || {
        let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        key.accepts_bearer().then(|| auth::bearer_token(value)).flatten()
    };
    let Some(given) = own_header.or_else(bearer) else {
        let error = match key {
            // The original contract: FastAPI's 422 for a missing required header.
            ServiceKey::Internal => ApiError::validation("header.x-internal-key", "Field required"),
            _ => AuthError::MissingKey(key).into(),
        };
        return Err(KeyRefusal { error, presented: None });
    };
    let presented = KeyId::of(given);
    match service_key::verify(key, given, expected) {
        Ok(()) => Ok(presented),
        Err(error) => Err(refused(error, Some(presented))),
    }
}

impl From<KeyRefusal> for ApiError {
    fn from(refusal: KeyRefusal) -> ApiError {
        refusal.error
    }
}

/// `axum::Json` whose rejections are [`ApiError`]s, for bodies that are JSON objects (every body
/// of this API is one).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(JsonObject(value)) = axum::Json::<JsonObject<T>>::from_request(request, state).await?;
        Ok(ApiJson(value))
    }
}

/// `T` read from a JSON object only. serde's derived structs also accept an array of the field
/// values in order (`["hi"]` would be a chat request); pydantic, and so the original, refuses
/// anything but an object.
struct JsonObject<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for JsonObject<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = JsonObject<T>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(JsonObject)
            }
        }

        deserializer.deserialize_any(ObjectVisitor(PhantomData))
    }
}

/// `axum::extract::Query` whose rejections are [`ApiError`]s.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// `axum::extract::Path` whose rejections are [`ApiError`]s.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);
