//! Raw bindings to the import module `hyperchain_v1` (docs/HOST_API.md). Prefer the safe
//! wrappers at the crate root; these are public for contracts that need exact control
//! (for example, to test how the host treats bad pointers).
//!
//! Every pointer/length pair must lie inside the contract's linear memory, or the host traps
//! the call with `memory out of bounds`. On wasm32 `usize` and pointers are `i32` on the wire.

#[link(wasm_import_module = "hyperchain_v1")]
unsafe extern "C" {
    /// Length of the call input.
    pub fn input_len() -> usize;
    /// Copy the whole input to `dst`, which must have room for `input_len()` bytes.
    pub fn input_read(dst: *mut u8);
    /// Set the call output (replaces any earlier output). More than 64 KiB traps.
    pub fn output_set(ptr: *const u8, len: usize);

    /// `-1` if the key is absent, else the value's full length; copies `min(len, dst_cap)`
    /// bytes to `dst`.
    pub fn storage_read(key_ptr: *const u8, key_len: usize, dst: *mut u8, dst_cap: usize) -> i32;
    /// Set a key (at most 256 bytes) to a value (at most 64 KiB).
    pub fn storage_write(key_ptr: *const u8, key_len: usize, val_ptr: *const u8, val_len: usize);
    /// Delete a key; a no-op if absent.
    pub fn storage_remove(key_ptr: *const u8, key_len: usize);

    /// Write the 32-byte address of the account that sent the call to `dst`.
    pub fn caller(dst: *mut u8);
    /// Write the contract's own 32-byte address to `dst`.
    pub fn self_address(dst: *mut u8);
    /// Height of the block that executes the call.
    pub fn block_height() -> i64;
    /// That block's timestamp, milliseconds since the Unix epoch.
    pub fn block_time() -> i64;

    /// Append an event: topic at most 64 bytes, data at most 4 KiB, at most 64 events.
    pub fn emit_event(topic_ptr: *const u8, topic_len: usize, data_ptr: *const u8, data_len: usize);
    /// End the call as reverted with this (UTF-8) message. Never returns.
    pub fn abort(msg_ptr: *const u8, msg_len: usize);

    /// Write SHA-256 of the bytes (32 bytes) to `dst`.
    pub fn sha256(ptr: *const u8, len: usize, dst: *mut u8);
    /// `1` if the 64-byte signature at `sig_ptr` over the message verifies under the 32-byte
    /// public key at `pk_ptr`, else `0`.
    pub fn ed25519_verify(
        pk_ptr: *const u8,
        msg_ptr: *const u8,
        msg_len: usize,
        sig_ptr: *const u8,
    ) -> i32;
    /// `1` if the 32-byte node id at `id_ptr` is an active compute node (in the chain's
    /// identity accumulator, not expired at the block time), else `0`.
    pub fn compute_node_active(id_ptr: *const u8) -> i32;
}
