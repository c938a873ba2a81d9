//! Token usage of one Claude call. Anthropic reports usage as running totals: `message_start`
//! carries the first snapshot and every `message_delta` repeats the fields it knows, cumulatively.
//! A snapshot therefore overwrites; adding it would double the count (upstream-protocols §1.4).

use serde::{Deserialize, Serialize};

/// The usage fields one event carries; a missing field means "unchanged".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageDelta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
}

/// The usage of one Claude call so far (final once the stream has ended).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Uncached input tokens (excludes the cache fields).
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
}

impl Usage {
    /// Applies a running-total snapshot: each field it carries replaces ours, the others stay.
    pub fn apply(&mut self, snapshot: &UsageDelta) {
        let fields = [
            (&mut self.input_tokens, snapshot.input_tokens),
            (&mut self.output_tokens, snapshot.output_tokens),
            (&mut self.cache_creation_input_tokens, snapshot.cache_creation_input_tokens),
            (&mut self.cache_read_input_tokens, snapshot.cache_read_input_tokens),
        ];
        for (field, value) in fields {
            if let Some(value) = value {
                *field = value;
            }
        }
    }

    /// Adds the final usage of another call (a turn's total over its Claude calls). Within one call
    /// usage is a running total and is [`Usage::apply`]d, never added.
    pub fn add_call(&mut self, call: &Usage) {
        self.input_tokens += call.input_tokens;
        self.output_tokens += call.output_tokens;
        self.cache_creation_input_tokens += call.cache_creation_input_tokens;
        self.cache_read_input_tokens += call.cache_read_input_tokens;
    }

    /// All prompt tokens: uncached input plus cache writes plus cache reads.
    pub fn prompt_tokens(&self) -> u64 {
        self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_overwrite_and_missing_fields_are_kept() {
        let mut usage = Usage::default();
        usage.apply(&UsageDelta {
            input_tokens: Some(472),
            output_tokens: Some(1),
            cache_creation_input_tokens: Some(0),
            cache_read_input_tokens: Some(1200),
        });
        // A newer stream repeats the input fields in message_delta: never add them.
        usage.apply(&UsageDelta {
            input_tokens: Some(472),
            output_tokens: Some(50),
            cache_creation_input_tokens: None,
            cache_read_input_tokens: Some(1200),
        });
        // An older stream sends only output_tokens.
        usage.apply(&UsageDelta { output_tokens: Some(89), ..UsageDelta::default() });
        assert_eq!(
            usage,
            Usage {
                input_tokens: 472,
                output_tokens: 89,
                cache_creation_input_tokens: 0,
                cache_read_input_tokens: 1200
            }
        );
        assert_eq!(usage.prompt_tokens(), 1672);
    }
}
