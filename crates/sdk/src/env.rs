//! Safe wrappers over the host API (wasm32 only); re-exported at the crate root.

use crate::Address;
use crate::codec::Encode;
use crate::sys;
use alloc::vec::Vec;

/// The call input (the encoded arguments).
pub fn input() -> Vec<u8> {
    // SAFETY: the host reports the input length and `input_read` writes exactly that many
    // bytes into the buffer, which has that capacity; only then is the length set.
    unsafe {
        let len = sys::input_len();
        let mut buf = Vec::with_capacity(len);
        if len > 0 {
            sys::input_read(buf.as_mut_ptr());
            buf.set_len(len);
        }
        buf
    }
}

/// Set the call output (replaces any earlier output). More than 64 KiB traps.
pub fn set_output(bytes: &[u8]) {
    // SAFETY: the pointer/length pair comes from a live slice.
    unsafe { sys::output_set(bytes.as_ptr(), bytes.len()) }
}

/// Set the call output to the encoding of `value`.
pub fn set_output_encoded<T: Encode + ?Sized>(value: &T) {
    set_output(&value.encode());
}

/// The address of the account that sent the call.
pub fn caller() -> Address {
    let mut address = Address::ZERO;
    // SAFETY: the host writes exactly 32 bytes into the 32-byte buffer.
    unsafe { sys::caller(address.0.as_mut_ptr()) };
    address
}

/// This contract's own address.
pub fn self_address() -> Address {
    let mut address = Address::ZERO;
    // SAFETY: the host writes exactly 32 bytes into the 32-byte buffer.
    unsafe { sys::self_address(address.0.as_mut_ptr()) };
    address
}

/// Height of the block that executes the call.
pub fn block_height() -> u64 {
    // SAFETY: no arguments; the host only returns a value.
    unsafe { sys::block_height() as u64 }
}

/// Timestamp of the block that executes the call, milliseconds since the Unix epoch.
pub fn block_time() -> u64 {
    // SAFETY: no arguments; the host only returns a value.
    unsafe { sys::block_time() as u64 }
}

/// Append an event. The topic is at most 64 bytes, the data at most 4 KiB, and a call emits at
/// most 64 events; beyond that the host traps with `event limit`.
pub fn emit(topic: &[u8], data: &[u8]) {
    // SAFETY: both pointer/length pairs come from live slices.
    unsafe { sys::emit_event(topic.as_ptr(), topic.len(), data.as_ptr(), data.len()) }
}

/// Append an event whose data is the encoding of `value`.
pub fn emit_encoded<T: Encode + ?Sized>(topic: &[u8], value: &T) {
    emit(topic, &value.encode());
}

/// End the call as reverted with `message` (at most 1 KiB is kept). Its storage writes,
/// events and output are discarded.
pub fn abort(message: &str) -> ! {
    // SAFETY: the pointer/length pair comes from a live string.
    unsafe { sys::abort(message.as_ptr(), message.len()) };
    // The host never returns from `abort`; trap in case it ever did.
    core::arch::wasm32::unreachable()
}

/// SHA-256 of `data`, computed by the host.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut digest = [0u8; 32];
    // SAFETY: the input comes from a live slice and the host writes 32 bytes into `digest`.
    unsafe { sys::sha256(data.as_ptr(), data.len(), digest.as_mut_ptr()) };
    digest
}

/// Whether `signature` is a valid ed25519 signature of `message` under `public_key`.
pub fn ed25519_verify(public_key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    // SAFETY: the host reads 32 bytes at `public_key`, `message.len()` bytes at `message` and
    // 64 bytes at `signature`, all live buffers of at least those sizes.
    unsafe {
        sys::ed25519_verify(
            public_key.as_ptr(),
            message.as_ptr(),
            message.len(),
            signature.as_ptr(),
        ) == 1
    }
}

/// Whether `node_id` (SHA-256 of a compute node's identity key) is an active compute node:
/// attested, not revoked, not expired at this block's time.
pub fn compute_node_active(node_id: &[u8; 32]) -> bool {
    // SAFETY: the host reads 32 bytes at `node_id`, a live buffer of that size.
    unsafe { sys::compute_node_active(node_id.as_ptr()) == 1 }
}
