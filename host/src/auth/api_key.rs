//! `X-API-Key` authentication: keys from `API_KEYS` (`key:user_id`, or a bare key for `admin`).

use super::service_key::constant_time_eq;
use crate::config::ApiKey;

pub struct ApiKeys {
    keys: Vec<ApiKey>,
}

impl ApiKeys {
    pub fn new(keys: &[ApiKey]) -> Self {
        ApiKeys { keys: keys.to_vec() }
    }

    /// The user a key authenticates as. Every configured key is compared, in constant time each, so
    /// timing does not reveal which key nearly matched.
    pub fn user_for(&self, given: &str) -> Option<String> {
        let mut found = None;
        for ApiKey { key, user_id } in &self.keys {
            if constant_time_eq(given, key.expose()) {
                found = Some(user_id.clone());
            }
        }
        found
    }
}
