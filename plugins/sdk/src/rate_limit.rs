//! Per-user hourly call limits (the sync tools allow 3 calls an hour). Check and count are one
//! atomic step on the host, so concurrent calls can never exceed the limit.

use crate::ToolError;
use crate::host;

pub use host::RateLimitDecision;

/// Counts one call of `bucket` for the calling user in the current clock hour, if it fits within
/// `limit_per_hour`.
pub fn hour(bucket: &str, limit_per_hour: u32) -> RateLimitDecision {
    host::rate_limit_hour(bucket, limit_per_hour)
}

/// [`hour`], turned into the original `rate_limit_exceeded` error when the limit is reached.
pub fn check_hour(bucket: &str, limit_per_hour: u32) -> Result<RateLimitDecision, ToolError> {
    let decision = hour(bucket, limit_per_hour);
    if decision.allowed {
        Ok(decision)
    } else {
        let minutes = decision.retry_after_seconds.div_ceil(60).max(1);
        Err(ToolError::new(
            crate::codes::RATE_LIMIT_EXCEEDED,
            format!(
                "Rate limit exceeded: at most {limit_per_hour} calls per hour. Please try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            ),
        ))
    }
}
