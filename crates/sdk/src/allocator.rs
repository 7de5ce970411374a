//! A bump allocator over `memory.grow` (wasm32, feature `allocator`).
//!
//! Every call runs in a fresh instance, so nothing outlives a call and memory never needs to
//! be reused: allocation is a pointer bump, freeing only gives back the most recent block, and
//! growing the most recent block happens in place (the common `Vec::push` pattern).
//!
//! When memory cannot grow (the engine's memory limit), the allocator **traps** with
//! `unreachable` rather than returning null: the engine remembers the refused `memory.grow` and
//! reports the call as `trap: memory limit`, and no code path runs on with a failed allocation.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::Cell;
use core::ptr;

const PAGE_SIZE: usize = 64 * 1024;

unsafe extern "C" {
    /// First byte after the data segments and the stack, provided by the linker.
    static __heap_base: u8;
}

/// The allocator: a pointer to the next free byte (0 until the first allocation).
#[derive(Debug)]
pub struct BumpAllocator {
    next: Cell<usize>,
}

// SAFETY: wasm32 without the `atomics` target feature has exactly one thread per instance, so
// the `Cell` is never accessed concurrently.
unsafe impl Sync for BumpAllocator {}

impl BumpAllocator {
    /// A fresh allocator.
    pub const fn new() -> Self {
        Self { next: Cell::new(0) }
    }

    fn next(&self) -> usize {
        match self.next.get() {
            0 => &raw const __heap_base as usize,
            next => next,
        }
    }

    /// Make `[.., end)` addressable, growing memory if needed; trap if that is impossible.
    fn ensure(end: usize) {
        let size = wasm32::memory_size(0).saturating_mul(PAGE_SIZE);
        if end <= size {
            return;
        }
        let pages = (end - size).div_ceil(PAGE_SIZE);
        if wasm32::memory_grow(0, pages) == usize::MAX {
            wasm32::unreachable()
        }
    }

    /// Trap: the request cannot be satisfied in a 32-bit address space.
    fn exhausted() -> ! {
        wasm32::unreachable()
    }
}

impl Default for BumpAllocator {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every block handed out lies in `[__heap_base, memory size)`, is aligned as requested
// and disjoint from every other live block, because `next` only moves past blocks still in use
// (it moves back only when the most recent block is freed or resized in place).
unsafe impl GlobalAlloc for BumpAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let align_mask = layout.align() - 1;
        let Some(start) = self.next().checked_add(align_mask).map(|a| a & !align_mask) else {
            Self::exhausted()
        };
        let Some(end) = start.checked_add(layout.size()) else {
            Self::exhausted()
        };
        Self::ensure(end);
        self.next.set(end);
        start as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ptr as usize + layout.size() == self.next() {
            self.next.set(ptr as usize);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let start = ptr as usize;
        if start + layout.size() == self.next() {
            // The most recent block: resize in place.
            let Some(end) = start.checked_add(new_size) else {
                Self::exhausted()
            };
            Self::ensure(end);
            self.next.set(end);
            return ptr;
        }
        // SAFETY: the caller guarantees `new_size`, rounded up to the alignment, does not
        // overflow `isize`, and the alignment is that of a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: `new_layout` has a non-zero size (the caller guarantees `new_size > 0`).
        let new_ptr = unsafe { self.alloc(new_layout) };
        // SAFETY: both blocks are live, at least `min(old, new)` bytes long, and disjoint (the
        // new block lies past `next`, the old one before it).
        unsafe { ptr::copy_nonoverlapping(ptr, new_ptr, layout.size().min(new_size)) };
        new_ptr
    }
}
