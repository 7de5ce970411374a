//! The compute node (docs/DESIGN.md §2, §6, §7): the daemon that registers, re-attests,
//! discovers jobs, executes them and sends signed receipts ([`daemon`]), around the enclave
//! (`hyperchain-enclave`, re-exported as [`enclave`] and [`providers`]) that holds the identity
//! key and verifies everything the host hands in.

pub mod daemon;
pub use hyperchain_enclave::{enclave, providers};
