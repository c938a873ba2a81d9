//! What the egress layer refused or cut during one call. The guest only sees a `wasi:http` error
//! code (and may well swallow it); the host keeps the first violation here and reports the call
//! with the matching code (`egress_denied`, `response_too_large`, `timeout`) whatever the guest
//! returned afterwards.

use std::sync::Arc;

use parking_lot::Mutex;

use super::address::AddressClass;

/// One refused or cut request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// The origin is not in the manifest.
    OriginDenied { origin: String },
    /// The origin is allowed but its name resolved to an address the rule does not allow.
    AddressDenied { host: String, class: AddressClass },
    /// A response body was larger than `max_response_bytes`.
    ResponseTooLarge { limit: u64 },
    /// A request was cut because the call's time budget ran out.
    BudgetExhausted,
    /// The call sent more requests than one call may.
    TooManyRequests { limit: u32 },
}

/// The violations of one call, shared by the store's hooks and the request tasks they spawn.
#[derive(Clone, Debug, Default)]
pub struct Violations(Arc<Mutex<Option<Violation>>>);

impl Violations {
    /// Records `violation` unless an earlier one is already recorded (the first is the cause).
    pub fn record(&self, violation: Violation) {
        let mut first = self.0.lock();
        if first.is_none() {
            tracing::debug!(?violation, "egress violation");
            *first = Some(violation);
        }
    }

    pub fn first(&self) -> Option<Violation> {
        self.0.lock().clone()
    }
}
