//! Test contract: exercises every host function of `hyperchain_v1`.
//!
//! | method | arguments | returns |
//! |---|---|---|
//! | `echo` | raw input | the input bytes, unchanged (no decoding) |
//! | `input_len` | raw input | `u32`: the input length |
//! | `read` | `key: Vec<u8>` | `Option<Vec<u8>>` |
//! | `has` | `key: Vec<u8>` | `bool` |
//! | `write` | `key: Vec<u8>, value: Vec<u8>` | — |
//! | `remove` | `key: Vec<u8>` | — |
//! | `read_after_write` | `key: Vec<u8>, value: Vec<u8>` | `(Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>)`: the value before, after writing, after removing and writing again `value ‖ value` |
//! | `read_after_remove` | `key: Vec<u8>` | `(Option<Vec<u8>>, Option<Vec<u8>>)`: before and after removing |
//! | `write_pattern` | `key: Vec<u8>, len: u32` | — ; stores `len` bytes `i as u8` (exercises reads longer than one buffer) |
//! | `read_len` | `key: Vec<u8>` | `Option<u32>`: the stored value's length (after reading it all) |
//! | `write_then_abort` | `key: Vec<u8>, value: Vec<u8>, message: String` | reverts with `message` after writing and emitting (nothing may persist) |
//! | `caller` | — | `Address` |
//! | `self_address` | — | `Address` |
//! | `block` | — | `(u64, u64)`: height, time in ms |
//! | `emit` | `topic: Vec<u8>, data: Vec<u8>` | — |
//! | `emit_many` | `n: u32` | — ; topic `many`, data `i as u32 LE` |
//! | `sha256` | `data: Vec<u8>` | `[u8; 32]` (host) |
//! | `ed25519_verify` | `public_key: [u8; 32], message: Vec<u8>, signature: [u8; 64]` | `bool` |
//! | `abort` | `message: String` | reverts with `message` |
//! | `output_twice` | `first: Vec<u8>, second: Vec<u8>` | sets the raw output twice; the second wins |
//! | `context` | — | `(Address, Address, u64, u64)`: caller, self, height, time |

#![no_std]

extern crate alloc;

use alloc::string::String;
use hyperchain_sdk::{Address, Bytes, entry, storage};

#[unsafe(no_mangle)]
/// Output the raw input unchanged.
pub extern "C" fn echo() {
    hyperchain_sdk::set_output(&hyperchain_sdk::input());
}

#[unsafe(no_mangle)]
/// Output the input length as `u32`, whatever the input.
pub extern "C" fn input_len() {
    let len = hyperchain_sdk::input().len() as u32;
    hyperchain_sdk::set_output(&len.to_le_bytes());
}

entry! {
    /// The value under `key`.
    fn read(key: Bytes) -> Option<Bytes> {
        storage::get(&key)
    }

    /// Whether `key` holds a value.
    fn has(key: Bytes) -> bool {
        storage::has(&key)
    }

    /// Store `value` under `key`.
    fn write(key: Bytes, value: Bytes) {
        storage::set(&key, &value);
    }

    /// Delete `key`.
    fn remove(key: Bytes) {
        storage::remove(&key);
    }

    /// Reads interleaved with writes and a removal in one call.
    fn read_after_write(key: Bytes, value: Bytes) -> (Option<Bytes>, Option<Bytes>, Option<Bytes>) {
        let before = storage::get(&key);
        storage::set(&key, &value);
        let after = storage::get(&key);
        storage::remove(&key);
        let mut doubled = value.clone();
        doubled.extend_from_slice(&value);
        storage::set(&key, &doubled);
        (before, after, storage::get(&key))
    }

    /// The value before and after removing `key`.
    fn read_after_remove(key: Bytes) -> (Option<Bytes>, Option<Bytes>) {
        let before = storage::get(&key);
        storage::remove(&key);
        (before, storage::get(&key))
    }

    /// Store `len` bytes `0, 1, 2, ...` (mod 256) under `key`.
    fn write_pattern(key: Bytes, len: u32) {
        let value: Bytes = (0..len).map(|i| i as u8).collect();
        storage::set(&key, &value);
    }

    /// The length of the value under `key`, checking that it reads back as the pattern.
    fn read_len(key: Bytes) -> Result<Option<u32>, &'static str> {
        let Some(value) = storage::get(&key) else {
            return Ok(None);
        };
        if value.iter().enumerate().any(|(i, b)| *b != i as u8) {
            return Err("value is not the pattern");
        }
        Ok(Some(value.len() as u32))
    }

    /// Write, emit, then revert: nothing may persist.
    fn write_then_abort(key: Bytes, value: Bytes, message: String) {
        storage::set(&key, &value);
        hyperchain_sdk::emit(b"written", &key);
        hyperchain_sdk::set_output(&value);
        hyperchain_sdk::abort(&message)
    }

    /// The sender of the call.
    fn caller() -> Address {
        hyperchain_sdk::caller()
    }

    /// This contract's address.
    fn self_address() -> Address {
        hyperchain_sdk::self_address()
    }

    /// The executing block's height and time.
    fn block() -> (u64, u64) {
        (hyperchain_sdk::block_height(), hyperchain_sdk::block_time())
    }

    /// Caller, own address, block height and time together.
    fn context() -> (Address, Address, u64, u64) {
        (
            hyperchain_sdk::caller(),
            hyperchain_sdk::self_address(),
            hyperchain_sdk::block_height(),
            hyperchain_sdk::block_time(),
        )
    }

    /// Emit one event.
    fn emit(topic: Bytes, data: Bytes) {
        hyperchain_sdk::emit(&topic, &data);
    }

    /// Emit `n` events.
    fn emit_many(n: u32) {
        for i in 0..n {
            hyperchain_sdk::emit(b"many", &i.to_le_bytes());
        }
    }

    /// SHA-256 through the host.
    fn sha256(data: Bytes) -> [u8; 32] {
        hyperchain_sdk::sha256(&data)
    }

    /// Ed25519 verification through the host.
    fn ed25519_verify(public_key: [u8; 32], message: Bytes, signature: [u8; 64]) -> bool {
        hyperchain_sdk::ed25519_verify(&public_key, &message, &signature)
    }

    /// Whether `node_id` is an active compute node (the identity accumulator).
    fn compute_node_active(node_id: [u8; 32]) -> bool {
        hyperchain_sdk::compute_node_active(&node_id)
    }

    /// Revert with `message`.
    fn abort(message: String) {
        hyperchain_sdk::abort(&message)
    }

    /// Set the raw output twice.
    fn output_twice(first: Bytes, second: Bytes) {
        hyperchain_sdk::set_output(&first);
        hyperchain_sdk::set_output(&second);
    }
}
