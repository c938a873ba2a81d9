//! The resident memory of this process, for the tests and benchmarks that bound it.

/// Resident memory of this process, in bytes (`/proc/self/statm`, 4 KiB pages).
pub fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("reading /proc/self/statm");
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).expect("a resident page count");
    pages * 4096
}
