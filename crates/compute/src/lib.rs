//! The compute node (DESIGN.md §2, §6, §7): the enclave boundary that holds the identity key,
//! the evidence providers of each platform, job execution and signed receipts.

pub mod providers;
