//! Log lines in the host's structured log, tagged with the plugin, the function and the request id.
//! Lines longer than 4 KiB are truncated by the host. Never log what the user would not want kept.

use crate::host::{self, LogLevel};

pub fn debug(message: &str) {
    host::log(LogLevel::Debug, message);
}

pub fn info(message: &str) {
    host::log(LogLevel::Info, message);
}

pub fn warn(message: &str) {
    host::log(LogLevel::Warn, message);
}

pub fn error(message: &str) {
    host::log(LogLevel::Error, message);
}
