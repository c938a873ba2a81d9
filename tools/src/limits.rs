//! The memory limit of one call, across all of its linear memories. wasmtime's `StoreLimits`
//! limits each memory separately; a component can have several, so this limiter sums them. Growth
//! past the limit traps, and the limiter remembers it so the call is reported as
//! `memory_exceeded` rather than as a generic trap.

use wasmtime::ResourceLimiter;

/// Instances, tables and memories a tool component may create (Rust components need a handful).
const MAX_INSTANCES: usize = 64;
const MAX_TABLES: usize = 64;
const MAX_MEMORIES: usize = 16;
/// Table elements across all tables (function references; 8 bytes each on the host).
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

/// The memory budget of one store.
pub struct MemoryLimiter {
    limit: u64,
    used: u64,
    table_elements: usize,
    exceeded: bool,
}

impl MemoryLimiter {
    pub fn new(limit: u64) -> MemoryLimiter {
        MemoryLimiter { limit, used: 0, table_elements: 0, exceeded: false }
    }

    /// Whether the guest tried to grow past the limit.
    pub fn exceeded(&self) -> bool {
        self.exceeded
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }
}

/// The error a refused growth traps with.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {limit} bytes exceeded")]
pub struct MemoryLimitExceeded {
    pub limit: u64,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let growth = desired.saturating_sub(current) as u64;
        if maximum.is_some_and(|max| desired > max) || self.used.saturating_add(growth) > self.limit {
            self.exceeded = true;
            return Err(wasmtime::Error::new(MemoryLimitExceeded { limit: self.limit }));
        }
        self.used += growth;
        Ok(true)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let growth = desired.saturating_sub(current);
        if maximum.is_some_and(|max| desired > max) || self.table_elements.saturating_add(growth) > MAX_TABLE_ELEMENTS {
            return Ok(false);
        }
        self.table_elements += growth;
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_counts_every_memory() {
        let mut limiter = MemoryLimiter::new(10 << 20);
        assert!(limiter.memory_growing(0, 6 << 20, None).unwrap());
        // A second memory of 6 MiB would fit on its own but not together with the first.
        assert!(limiter.memory_growing(0, 6 << 20, None).is_err());
        assert!(limiter.exceeded());
    }

    #[test]
    fn growth_within_the_limit_is_allowed() {
        let mut limiter = MemoryLimiter::new(10 << 20);
        assert!(limiter.memory_growing(0, 1 << 20, None).unwrap());
        assert!(limiter.memory_growing(1 << 20, 9 << 20, None).unwrap());
        assert!(!limiter.exceeded());
        assert!(limiter.memory_growing(9 << 20, (10 << 20) + 65536, None).is_err());
    }
}
