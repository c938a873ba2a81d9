//! The memory a component asks for before it runs a single instruction: the initial sizes of the
//! linear memories its core modules define (data segments must fit in them, so a huge data
//! segment shows here too). A component whose initial memory exceeds its plugin's memory limit
//! could never be instantiated; it is refused at load, with a reason naming the limit, instead of
//! failing every call.

use wasmparser::{Parser, Payload};

/// The sum of the initial sizes, in bytes, of the memories defined by every core module of `wasm`
/// (a component or a core module). Imported memories are another module's, counted there.
pub fn initial_memory_bytes(wasm: &[u8]) -> Result<u64, String> {
    let mut total: u64 = 0;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|err| format!("not a valid WebAssembly component: {err}"))?;
        if let Payload::MemorySection(memories) = payload {
            for memory in memories {
                let memory = memory.map_err(|err| format!("not a valid WebAssembly component: {err}"))?;
                let page = 1u64 << memory.page_size_log2.unwrap_or(16);
                total = total.saturating_add(memory.initial.saturating_mul(page));
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(module (memory <pages>))` with a one-byte LEB128 page count.
    fn module_with_memory(pages: u8) -> Vec<u8> {
        assert!(pages < 0x80);
        vec![0, b'a', b's', b'm', 1, 0, 0, 0, 5, 3, 1, 0, pages]
    }

    #[test]
    fn the_initial_pages_of_every_memory_are_counted() {
        assert_eq!(initial_memory_bytes(&module_with_memory(1)).unwrap(), 64 << 10);
        assert_eq!(initial_memory_bytes(&module_with_memory(100)).unwrap(), 100 * (64 << 10));
        assert_eq!(initial_memory_bytes(&[0, b'a', b's', b'm', 1, 0, 0, 0]).unwrap(), 0);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(initial_memory_bytes(b"not wasm").is_err());
    }
}
