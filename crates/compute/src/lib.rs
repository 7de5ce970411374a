//! The compute node (docs/DESIGN.md §2, §6, §7): the enclave boundary that holds the identity key
//! and verifies everything the host hands in ([`enclave`]), the evidence providers of each
//! platform ([`providers`]), and the daemon that registers, re-attests, discovers jobs,
//! executes them and sends signed receipts ([`daemon`]).

pub mod daemon;
pub mod enclave;
pub mod providers;
