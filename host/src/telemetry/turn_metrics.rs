//! The metrics of a chat turn in one small type, so the turn says what happened (`claude_call`,
//! `quota_rejected`, `finished`) and this file says how it is counted. The names and labels are
//! described in [`super::metrics`].

use std::time::{Duration, Instant};

use crate::llm::{StopReason, Usage};

/// Started with the turn; each method records one thing that happened to it.
pub struct TurnMetrics {
    started: Instant,
}

impl TurnMetrics {
    pub fn start() -> TurnMetrics {
        metrics::counter!("chat_turns_started_total").increment(1);
        TurnMetrics { started: Instant::now() }
    }

    pub fn quota_rejected(&self) {
        metrics::counter!("chat_quota_rejections_total").increment(1);
    }

    /// One Claude call (retries included) by `outcome`: `ok`, or the error kind.
    fn claude_call(&self, outcome: &'static str, elapsed: Duration) {
        metrics::counter!("chat_claude_calls_total", "outcome" => outcome).increment(1);
        let timed = if outcome == "ok" { "ok" } else { "error" };
        metrics::histogram!("chat_claude_call_duration_seconds", "outcome" => timed).record(elapsed.as_secs_f64());
    }

    /// One call to a model provider (`anthropic` or `openai`) by `outcome`; Anthropic's also count
    /// as Claude calls.
    pub fn llm_call(&self, provider: &'static str, outcome: &'static str, elapsed: Duration) {
        metrics::counter!("chat_llm_calls_total", "provider" => provider, "outcome" => outcome).increment(1);
        let timed = if outcome == "ok" { "ok" } else { "error" };
        metrics::histogram!("chat_llm_call_duration_seconds", "provider" => provider, "outcome" => timed)
            .record(elapsed.as_secs_f64());
        if provider == "anthropic" {
            self.claude_call(outcome, elapsed);
        }
    }

    pub fn stop_reason(&self, reason: &StopReason) {
        metrics::counter!("chat_claude_stop_reasons_total", "reason" => reason.metric_label()).increment(1);
    }

    /// The tokens of the turn's Claude calls, summed.
    pub fn tokens(&self, usage: &Usage) {
        metrics::counter!("chat_tokens_total", "kind" => "input").increment(usage.input_tokens);
        metrics::counter!("chat_tokens_total", "kind" => "output").increment(usage.output_tokens);
        metrics::counter!("chat_tokens_total", "kind" => "cache_read").increment(usage.cache_read_input_tokens);
        metrics::counter!("chat_tokens_total", "kind" => "cache_creation").increment(usage.cache_creation_input_tokens);
    }

    /// The turn ended: `Ok` with `message_end`, or `Err(reason)` with an error event. Returns how
    /// long it took.
    pub fn finished(self, result: Result<(), &'static str>) -> Duration {
        let elapsed = self.started.elapsed();
        let outcome = match result {
            Ok(()) => {
                metrics::counter!("chat_turns_finished_total").increment(1);
                "finished"
            }
            Err(reason) => {
                metrics::counter!("chat_turns_failed_total", "reason" => reason).increment(1);
                "failed"
            }
        };
        metrics::histogram!("chat_turn_duration_seconds", "outcome" => outcome).record(elapsed.as_secs_f64());
        elapsed
    }
}
