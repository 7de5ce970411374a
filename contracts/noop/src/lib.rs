//! Benchmark contract: one method, `noop()`, that does nothing (measures per-call overhead).
//!
//! It uses no SDK, no allocator and no host function, to keep the module as small as it gets.

#![no_std]

/// Do nothing.
#[unsafe(no_mangle)]
pub extern "C" fn noop() {}

/// Nothing here can panic; should it ever, trap.
#[cfg(target_arch = "wasm32")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
