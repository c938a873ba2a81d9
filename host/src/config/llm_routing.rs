//! The settings of where Claude calls go when Anthropic cannot take them (issue #15): the OpenAI
//! fallback (`LLM_FALLBACK`, `OPENAI_CHAT_MODEL`, `OPENAI_CHAT_STALL_TIMEOUT_SECONDS`), the circuit
//! breaker in front of Anthropic (`LLM_CIRCUIT_*`) and the bound on concurrent Claude calls with
//! its queue (`ANTHROPIC_MAX_CONCURRENT_CALLS`, `ANTHROPIC_QUEUE_WAIT_SECONDS`, and across instances
//! `ANTHROPIC_SHARED_MAX_CALLS` through `REDIS_URL`).

use std::time::Duration;

use super::reading::{Lowest, Reader};

/// Which provider a turn falls back to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    OpenAi,
    Off,
}

impl std::str::FromStr for Fallback {
    type Err = ();

    fn from_str(value: &str) -> Result<Fallback, ()> {
        match value.to_ascii_lowercase().as_str() {
            "openai" => Ok(Fallback::OpenAi),
            "off" | "none" | "false" => Ok(Fallback::Off),
            _ => Err(()),
        }
    }
}

#[derive(Clone, Debug)]
pub struct LlmRoutingConfig {
    /// `LLM_FALLBACK`; in effect only with an `OPENAI_API_KEY` (a keyless fallback could only fail).
    pub fallback: Fallback,
    pub openai_chat_model: String,
    /// The longest silence tolerated on a fallback stream.
    pub openai_stall_timeout: Duration,
    /// Consecutive failed Claude calls that open the circuit (0: never).
    pub circuit_failures: u32,
    /// How long an open circuit sends calls straight to the fallback before a trial call.
    pub circuit_cool_down: Duration,
    /// Claude calls in flight at most on this instance; more wait in line.
    pub max_concurrent_calls: usize,
    /// The longest a Claude call waits in line before it counts as rate limited.
    pub queue_wait: Duration,
    /// Claude calls in flight at most across the instances sharing `REDIS_URL`.
    pub shared_max_calls: usize,
}

pub(super) fn read_llm_routing(r: &mut Reader<'_>) -> LlmRoutingConfig {
    LlmRoutingConfig {
        fallback: r.parsed("LLM_FALLBACK", "openai or off"),
        openai_chat_model: r.text("OPENAI_CHAT_MODEL"),
        openai_stall_timeout: r.seconds("OPENAI_CHAT_STALL_TIMEOUT_SECONDS", Lowest::MoreThan(0.0), 600.0),
        circuit_failures: r.parsed("LLM_CIRCUIT_FAILURES", "a count"),
        circuit_cool_down: r.seconds("LLM_CIRCUIT_COOL_DOWN_SECONDS", Lowest::AtLeast(0.0), 86_400.0),
        max_concurrent_calls: r.count("ANTHROPIC_MAX_CONCURRENT_CALLS"),
        queue_wait: r.seconds("ANTHROPIC_QUEUE_WAIT_SECONDS", Lowest::AtLeast(0.0), 600.0),
        shared_max_calls: r.count("ANTHROPIC_SHARED_MAX_CALLS"),
    }
}
