//! The memory budget across calls: one byte budget for the linear memory of every call running in
//! the process (`PLUGIN_MEMORY_BUDGET_BYTES`). A call reserves its plugin's whole memory limit
//! before it instantiates and gives it back when its store is dropped, so the memory the guests
//! can touch at once never exceeds the budget, however many calls run. A call that does not fit
//! waits a bounded time (`PLUGIN_MEMORY_WAIT_MS`, never past its own deadline), then is answered
//! `busy`: the excess is refused instead of the kernel killing the process.
//!
//! The budget counts in wasm pages (64 KiB), so a semaphore's `u32` permit counts cover any limit.

use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};

/// The unit of reservation: one wasm page.
const PAGE: u64 = 64 << 10;

/// The share of the machine's memory the budget is by default: half, the rest being the host
/// itself, compiled code, HTTP buffers and the pool's resident leftovers.
const MACHINE_SHARE_DIVISOR: u64 = 2;

/// The byte budget shared by every call of one runtime.
pub struct MemoryBudget {
    pages: Semaphore,
    bytes: u64,
    wait: Duration,
}

impl MemoryBudget {
    pub fn new(bytes: u64, wait: Duration) -> MemoryBudget {
        let pages = usize::try_from(bytes / PAGE).unwrap_or(usize::MAX).min(Semaphore::MAX_PERMITS);
        MemoryBudget { pages: Semaphore::new(pages), bytes, wait }
    }

    /// The whole budget, in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Whether a call with memory limit `bytes` can ever run (else its plugin is refused at load).
    pub fn fits(&self, bytes: u64) -> bool {
        pages(bytes) as u64 <= self.bytes / PAGE
    }

    /// Reserves `bytes` (a call's memory limit), waiting for running calls to give theirs back at
    /// most the budget's wait and never past `deadline`. `None`: the budget stayed exhausted.
    pub async fn reserve(&self, bytes: u64, deadline: Instant) -> Option<SemaphorePermit<'_>> {
        let wait = self.wait.min(deadline.saturating_duration_since(Instant::now()));
        // A zero wait still takes pages that are free now: `timeout` polls the acquisition first.
        tokio::time::timeout(wait, self.pages.acquire_many(pages(bytes))).await.ok()?.ok()
    }
}

/// `bytes` in pages, rounded up.
fn pages(bytes: u64) -> u32 {
    u32::try_from(bytes.div_ceil(PAGE)).unwrap_or(u32::MAX)
}

/// The default budget: half of the memory this process may use, which is the smaller of the
/// machine's (`MemTotal`) and the cgroup's limit (v2 `memory.max`, v1 `memory.limit_in_bytes`).
pub fn default_budget_bytes() -> u64 {
    let machine = read("/proc/meminfo").as_deref().and_then(mem_total).unwrap_or(4 << 30);
    let cgroup = ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]
        .into_iter()
        .filter_map(|path| read(path)?.trim().parse::<u64>().ok())
        .min();
    machine.min(cgroup.unwrap_or(u64::MAX)) / MACHINE_SHARE_DIVISOR
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    #[tokio::test]
    async fn reservations_beyond_the_budget_wait_then_fail() {
        let budget = MemoryBudget::new(512 << 20, Duration::from_millis(20));
        let held: Vec<_> = futures::future::join_all((0..4).map(|_| budget.reserve(128 << 20, later()))).await;
        assert!(held.iter().all(Option::is_some), "four 128 MiB calls fit in 512 MiB");
        assert!(budget.reserve(128 << 20, later()).await.is_none(), "a fifth waits, then is refused");
        drop(held);
        assert!(budget.reserve(512 << 20, later()).await.is_some(), "everything given back is free again");
    }

    #[tokio::test]
    async fn a_waiting_call_gets_the_memory_given_back_meanwhile() {
        let budget = MemoryBudget::new(128 << 20, Duration::from_secs(60));
        let first = budget.reserve(100 << 20, later()).await.unwrap();
        let second = budget.reserve(100 << 20, later());
        let mut second = std::pin::pin!(second);
        assert!(futures::poll!(second.as_mut()).is_pending());
        drop(first);
        assert!(second.await.is_some());
    }

    #[tokio::test]
    async fn the_wait_never_outlasts_the_calls_deadline() {
        let budget = MemoryBudget::new(1 << 20, Duration::from_secs(3600));
        let _all = budget.reserve(1 << 20, later()).await.unwrap();
        assert!(budget.reserve(1 << 20, Instant::now()).await.is_none());
    }

    #[test]
    fn a_limit_larger_than_the_budget_never_fits() {
        let budget = MemoryBudget::new(512 << 20, Duration::ZERO);
        assert!(budget.fits(512 << 20));
        assert!(!budget.fits((512 << 20) + 1));
        assert_eq!(pages(1), 1);
        assert_eq!(pages(PAGE), 1);
        assert_eq!(pages(PAGE + 1), 2);
    }

    #[test]
    fn the_default_is_half_of_the_smaller_of_machine_and_cgroup() {
        assert_eq!(mem_total("MemFree: 1 kB\nMemTotal:       24683568 kB\n"), Some(24683568 * 1024));
        assert!(mem_total("MemFree: 1 kB\n").is_none());
        let default = default_budget_bytes();
        let machine = mem_total(&read("/proc/meminfo").unwrap()).unwrap();
        assert!(default > 0 && default <= machine / 2, "{default} of {machine}");
    }
}
