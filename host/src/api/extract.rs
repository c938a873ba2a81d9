//! Extractors: what a handler needs, said in its signature. Bodies, queries and paths whose
//! rejections are [`ApiError`]s ([`ApiJson`], [`ApiQuery`], [`ApiPath`]), the authenticated user
//! ([`AuthUser`]) and a service holding the internal key ([`InternalCaller`]). Each takes only the
//! part of the state it needs (`FromRef`).

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::error::ApiError;
use crate::auth::{AuthUser, Authenticator, internal};
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

/// Proof that the request carried `INTERNAL_API_KEY` in `X-Internal-Key`: 503 while no key is
/// configured, 422 without the header, 403 for a wrong key.
#[derive(Clone, Copy, Debug)]
pub struct InternalCaller;

impl InternalCaller {
    /// Checks a key presented some other way (a bearer token) against `INTERNAL_API_KEY`.
    pub fn verify(given: &str, config: &Config) -> Result<InternalCaller, ApiError> {
        internal::verify_internal_key(given, config.auth.internal_api_key.as_ref().map(Secret::expose))?;
        Ok(InternalCaller)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for InternalCaller
where
    Arc<Config>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let config = Arc::<Config>::from_ref(state);
        if config.auth.internal_api_key.is_none() {
            return Err(crate::auth::AuthError::InternalKeyNotConfigured.into());
        }
        let given = parts
            .headers
            .get("x-internal-key")
            .ok_or_else(|| ApiError::validation("header.x-internal-key", "Field required"))?
            .to_str()
            .unwrap_or("");
        InternalCaller::verify(given, &config)
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
