//! Example contract: a counter that emits an event on every increment.
//!
//! | method | arguments | returns |
//! |---|---|---|
//! | `increment` | `by: u64` | `u64` (the new value); reverts `counter overflow` |
//! | `get` | — | `u64` |
//! | `reset` | — | — |
//!
//! Events: `incremented` with data `(by: u64, value: u64)`; `reset` with empty data.

#![no_std]

use hyperchain_sdk::storage::StorageValue;
use hyperchain_sdk::{emit, emit_encoded, entry};

static COUNT: StorageValue<u64> = StorageValue::new(b"count");

entry! {
    /// Add `by` to the counter and return the new value.
    fn increment(by: u64) -> Result<u64, &'static str> {
        let value = COUNT.get_or_default().checked_add(by).ok_or("counter overflow")?;
        COUNT.set(&value);
        emit_encoded(b"incremented", &(by, value));
        Ok(value)
    }

    /// The current value (0 before the first increment).
    fn get() -> u64 {
        COUNT.get_or_default()
    }

    /// Set the counter back to 0.
    fn reset() {
        COUNT.remove();
        emit(b"reset", &[]);
    }
}
