//! The metrics of turns that survive (#12): resumes, stops, turns recovered from a dead instance,
//! the event log's lag (the time an append adds before an event is sent) and whether Redis answers.

use std::time::Duration;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

pub fn describe() {
    describe_counter!(
        "chat_turn_resumes_total",
        "GET /chat/turns/{turn_id}/events by `outcome`: resumed, gone (past TURN_EVENTS_RETENTION_SECONDS), unavailable (Redis down)."
    );
    describe_counter!(
        "chat_turn_stops_total",
        "POST /chat/turns/{turn_id}/stop by `outcome`: stopping, finished (no-op)."
    );
    describe_counter!(
        "chat_turns_recovered_total",
        "Turns of a dead instance closed by this one after their lease ran out (TURN_LEASE_SECONDS)."
    );
    describe_histogram!(
        "chat_event_log_append_seconds",
        Unit::Seconds,
        "Event-log lag: how long appending an event to its turn's log took before it was sent."
    );
    describe_counter!("chat_event_log_failures_total", "Events not logged because the event log (Redis) failed.");
    describe_gauge!("chat_redis_up", "1 while Redis (REDIS_URL) answers, 0 while it does not (degraded mode).");
}

pub fn appended(elapsed: Duration) {
    metrics::histogram!("chat_event_log_append_seconds").record(elapsed.as_secs_f64());
}

pub fn log_failed() {
    metrics::counter!("chat_event_log_failures_total").increment(1);
}

pub fn resume(outcome: &'static str) {
    metrics::counter!("chat_turn_resumes_total", "outcome" => outcome).increment(1);
}

pub fn stop(outcome: &'static str) {
    metrics::counter!("chat_turn_stops_total", "outcome" => outcome).increment(1);
}

pub fn recovered() {
    metrics::counter!("chat_turns_recovered_total").increment(1);
}
