//! Why Claude stopped: Anthropic's `stop_reason`, parsed once where the stream is decoded, so the
//! chat loop matches an enum exhaustively instead of comparing strings. Values this client does not
//! know yet are kept (`Other`) and stored as they came, but count under one metric label.

use serde::{Deserialize, Deserializer};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The model finished its answer.
    EndTurn,
    /// The answer hit `max_tokens`; a tool call cut off there must not run.
    MaxTokens,
    StopSequence,
    /// The model wants the tool calls of this reply run, and to be called again with the results.
    ToolUse,
    /// A server tool paused a long turn; sending the reply back as-is lets Claude continue.
    PauseTurn,
    /// The model refused; the exchange is left out of later context.
    Refusal,
    /// A value this client does not know.
    Other(String),
}

impl StopReason {
    pub fn parse(value: &str) -> StopReason {
        match value {
            "end_turn" => StopReason::EndTurn,
            "max_tokens" => StopReason::MaxTokens,
            "stop_sequence" => StopReason::StopSequence,
            "tool_use" => StopReason::ToolUse,
            "pause_turn" => StopReason::PauseTurn,
            "refusal" => StopReason::Refusal,
            other => StopReason::Other(other.to_string()),
        }
    }

    /// Anthropic's spelling (what is stored with the reply).
    pub fn as_str(&self) -> &str {
        match self {
            StopReason::Other(value) => value,
            known => known.metric_label(),
        }
    }

    /// The `reason` label of the stop-reason metric: a known value, or `other` (bounded series).
    pub fn metric_label(&self) -> &'static str {
        match self {
            StopReason::EndTurn => "end_turn",
            StopReason::MaxTokens => "max_tokens",
            StopReason::StopSequence => "stop_sequence",
            StopReason::ToolUse => "tool_use",
            StopReason::PauseTurn => "pause_turn",
            StopReason::Refusal => "refusal",
            StopReason::Other(_) => "other",
        }
    }
}

impl<'de> Deserialize<'de> for StopReason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(StopReason::parse(&String::deserialize(deserializer)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_round_trip_and_unknown_ones_are_kept() {
        for value in ["end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal"] {
            let reason = StopReason::parse(value);
            assert!(!matches!(reason, StopReason::Other(_)), "{value}");
            assert_eq!(reason.as_str(), value);
            assert_eq!(reason.metric_label(), value);
        }
        let new = StopReason::parse("model_context_window_exceeded");
        assert_eq!(new.as_str(), "model_context_window_exceeded");
        assert_eq!(new.metric_label(), "other");
    }
}
