//! Test contract: misbehaviour the engine must turn into deterministic errors.
//!
//! | method | arguments | expected end of the call |
//! |---|---|---|
//! | `infinite_loop` | — | out of fuel (a loop with no host calls) |
//! | `infinite_host_loop` | — | out of fuel (a loop calling `block_height`) |
//! | `memory_bomb` | — | grows memory one page at a time; when `memory.grow` fails, reverts `memory.grow failed at <pages> pages` (or the engine traps `memory limit`) |
//! | `alloc_bomb` | — | allocates 1 MiB vectors until the allocator cannot grow memory: traps `memory limit` (the SDK allocator executes `unreachable`) |
//! | `memory_grow` | `pages: u32` | `u32`: `memory.grow(pages)`, i.e. the previous size in pages or `u32::MAX` on failure |
//! | `deep_recursion` | `depth: u32` | `u64`; non-tail recursion, enough depth traps `stack overflow` |
//! | `big_output` | `size: u32` | sets an output of `size` bytes (`output too large` above 64 KiB) |
//! | `big_value` | `size: u32` | stores a `size`-byte value (`storage limit` above 64 KiB) |
//! | `big_key` | `size: u32` | stores under a `size`-byte key (`storage limit` above 256 bytes) |
//! | `storage_spam` | `n: u32` | writes `n` distinct 32-byte values |
//! | `write_set_bomb` | `n: u32, size: u32` | writes `n` distinct values of `size` bytes (`storage limit` once the call's write set passes its byte budget) |
//! | `read_spam` | `n: u32` | reads `n` distinct absent keys; `u32`: how many were present |
//! | `event_spam` | `n: u32` | emits `n` events (`event limit` above 64) |
//! | `panic_msg` | — | reverts `panicked: adversarial panic 42` |
//! | `trap_unreachable` | — | traps `unreachable` |
//! | `div_by_zero` | `a: u32, b: u32` | `u32`: `a / b`; Rust checks the divisor, so `b = 0` reverts `panicked: attempt to divide by zero` |
//! | `host_oob_read` | — | passes the host a range past the end of memory: traps `memory out of bounds` |
//! | `host_oob_write` | — | asks the host to write past the end of memory: traps `memory out of bounds` |
//! | `host_wrapping_range` | — | passes a pointer/length pair whose sum wraps around 2³²: traps `memory out of bounds` |

#![no_std]

extern crate alloc;

use alloc::vec::Vec;
use core::arch::wasm32;
use core::hint::black_box;
use hyperchain_sdk::{abort, entry, storage, sys};

const PAGE_SIZE: usize = 64 * 1024;

/// Non-tail recursion: the result of the recursive call is rotated and mixed with `n`, so the
/// optimiser can turn it neither into a loop nor into a closed form.
#[inline(never)]
fn recurse(n: u32) -> u64 {
    if n == 0 {
        return 1;
    }
    recurse(black_box(n - 1)).rotate_left(7) ^ u64::from(n)
}

/// The first address past the end of linear memory.
fn end_of_memory() -> usize {
    wasm32::memory_size(0) * PAGE_SIZE
}

entry! {
    /// Spin forever without calling the host.
    fn infinite_loop() {
        let mut i: u64 = 0;
        loop {
            i = black_box(i.wrapping_add(1));
        }
    }

    /// Spin forever, calling the host on every iteration.
    fn infinite_host_loop() {
        loop {
            black_box(hyperchain_sdk::block_height());
        }
    }

    /// Grow memory one page at a time until the engine refuses.
    fn memory_bomb() {
        loop {
            if wasm32::memory_grow(0, 1) == usize::MAX {
                let pages = wasm32::memory_size(0);
                hyperchain_sdk::abort_fmt(format_args!(
                    "memory.grow failed at {pages} pages"
                ));
            }
        }
    }

    /// Allocate 1 MiB blocks, keeping them alive, until the allocator fails.
    fn alloc_bomb() {
        let mut blocks: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut block = Vec::with_capacity(1 << 20);
            block.push(black_box(1u8));
            blocks.push(block);
            black_box(&blocks);
        }
    }

    /// `memory.grow(pages)`: the previous size in pages, or `u32::MAX` on failure.
    fn memory_grow(pages: u32) -> u32 {
        wasm32::memory_grow(0, pages as usize) as u32
    }

    /// Recurse `depth` times (not a tail call).
    fn deep_recursion(depth: u32) -> u64 {
        recurse(depth)
    }

    /// Set an output of `size` bytes.
    fn big_output(size: u32) {
        let output = alloc::vec![0xab; size as usize];
        hyperchain_sdk::set_output(&output);
    }

    /// Store one value of `size` bytes.
    fn big_value(size: u32) {
        storage::set(b"big", &alloc::vec![0xcd; size as usize]);
    }

    /// Store a value under a key of `size` bytes.
    fn big_key(size: u32) {
        storage::set(&alloc::vec![0x6b; size as usize], b"value");
    }

    /// Write `n` distinct keys (`"spam/" ‖ i as u32 LE`), each with a 32-byte value.
    fn storage_spam(n: u32) {
        let mut key = *b"spam/\0\0\0\0";
        for i in 0..n {
            key[5..].copy_from_slice(&i.to_le_bytes());
            storage::set(&key, &[i as u8; 32]);
        }
    }

    /// Write `n` distinct keys (`"bomb/" ‖ i as u32 LE`), each with a `size`-byte value.
    fn write_set_bomb(n: u32, size: u32) {
        let mut key = *b"bomb/\0\0\0\0";
        let value = alloc::vec![0xee; size as usize];
        for i in 0..n {
            key[5..].copy_from_slice(&i.to_le_bytes());
            storage::set(&key, &value);
        }
    }

    /// Read `n` distinct keys nobody wrote (`"absent/" ‖ i as u32 LE`).
    fn read_spam(n: u32) -> u32 {
        let mut key = *b"absent/\0\0\0\0";
        let mut present = 0;
        for i in 0..n {
            key[7..].copy_from_slice(&i.to_le_bytes());
            present += u32::from(storage::has(&key));
        }
        present
    }

    /// Emit `n` events.
    fn event_spam(n: u32) {
        for i in 0..n {
            hyperchain_sdk::emit(b"spam", &i.to_le_bytes());
        }
    }

    /// Panic with a formatted message.
    fn panic_msg() {
        panic!("adversarial panic {}", black_box(42));
    }

    /// Execute the `unreachable` instruction.
    fn trap_unreachable() {
        wasm32::unreachable()
    }

    /// `a / b`; Rust's divisor check turns `b = 0` into a panic.
    fn div_by_zero(a: u32, b: u32) -> u32 {
        a / b
    }

    /// Ask the host to hash a range that runs 1 byte past the end of memory.
    fn host_oob_read() {
        let mut digest = [0u8; 32];
        let len = 1024;
        let start = end_of_memory() - len + 1;
        // SAFETY: the host reads `[start, start + len)`, which leaves memory, so it traps the
        // call before reading anything; no Rust memory is touched.
        unsafe { sys::sha256(start as *const u8, len, digest.as_mut_ptr()) };
        abort("the host read past the end of memory");
    }

    /// Ask the host to write the 32-byte caller address 16 bytes before the end of memory.
    fn host_oob_write() {
        let dst = end_of_memory() - 16;
        // SAFETY: the 32-byte destination leaves memory, so the host traps without writing.
        unsafe { sys::caller(dst as *mut u8) };
        abort("the host wrote past the end of memory");
    }

    /// A pointer/length pair whose end wraps around 2³² back into memory.
    fn host_wrapping_range() {
        let mut digest = [0u8; 32];
        // SAFETY: `0xffff_ff00 + 0x200` wraps to 0x100 in 32 bits; a host that checks ranges
        // without overflow traps, and either way no Rust memory is written but `digest`.
        unsafe { sys::sha256(0xffff_ff00usize as *const u8, 0x200, digest.as_mut_ptr()) };
        abort("the host accepted a wrapping range");
    }
}
