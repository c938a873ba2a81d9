//! `X-API-Key` authentication: keys from `API_KEYS` (`key:user_id`, or a bare key for `admin`).

use std::collections::HashMap;

use super::internal::constant_time_eq;

pub struct ApiKeys {
    keys: Vec<(String, String)>,
}

impl ApiKeys {
    pub fn new(keys: &HashMap<String, String>) -> Self {
        ApiKeys { keys: keys.iter().map(|(k, u)| (k.clone(), u.clone())).collect() }
    }

    /// The user a key authenticates as. Every configured key is compared, in constant time each, so
    /// timing does not reveal which key nearly matched.
    pub fn user_for(&self, given: &str) -> Option<String> {
        let mut found = None;
        for (key, user) in &self.keys {
            if constant_time_eq(given, key) {
                found = Some(user.clone());
            }
        }
        found
    }
}
