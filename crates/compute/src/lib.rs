//! The compute node (docs/DESIGN.md §2, §6, §7): the daemon that registers, re-attests,
//! discovers jobs, executes them and sends signed receipts ([`daemon`]), generic over
//! commonware's runtime and over how it reaches validators ([`client`]: HTTP, or in process
//! for simulations), around the enclave (`hyperchain-enclave`, re-exported as [`enclave`] and
//! [`providers`]) that holds the identity key and verifies everything the host hands in.

pub mod client;
pub mod daemon;
pub use hyperchain_enclave::{enclave, providers};

/// Milliseconds since the Unix epoch of `time` (0 before it).
pub(crate) fn unix_ms(time: std::time::SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
