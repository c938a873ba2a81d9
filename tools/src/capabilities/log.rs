//! `log`: a plugin's log lines, in the host's structured log, tagged with plugin, function and
//! request id. Lines are truncated at 4 KiB and a call may write at most 100 (more are dropped, with
//! one warning), so a plugin cannot flood the log.

use super::HostCtx;
use crate::bindings::host::LogLevel;

const MAX_LINE_BYTES: usize = 4096;
const MAX_LINES_PER_CALL: u32 = 100;

pub fn write(ctx: &mut HostCtx, level: LogLevel, message: &str) {
    ctx.log_lines += 1;
    if ctx.log_lines > MAX_LINES_PER_CALL {
        if ctx.log_lines == MAX_LINES_PER_CALL + 1 {
            tracing::warn!(plugin = %ctx.plugin, function = %ctx.function, request_id = %ctx.request_id, "plugin log limit reached; further lines of this call are dropped");
        }
        return;
    }
    let line = truncate(message, MAX_LINE_BYTES);
    let (plugin, function, request_id) = (&*ctx.plugin, &*ctx.function, ctx.request_id.as_str());
    match level {
        LogLevel::Debug => tracing::debug!(target: "plugin", plugin, function, request_id, "{line}"),
        LogLevel::Info => tracing::info!(target: "plugin", plugin, function, request_id, "{line}"),
        LogLevel::Warn => tracing::warn!(target: "plugin", plugin, function, request_id, "{line}"),
        LogLevel::Error => tracing::error!(target: "plugin", plugin, function, request_id, "{line}"),
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
pub fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
