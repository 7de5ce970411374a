//! What a compute node's TEE runs and measures (docs/DESIGN.md §2, §6, §7): the enclave
//! boundary that holds the identity key and verifies everything the host hands in
//! ([`enclave`]), and the evidence providers of each platform ([`providers`]).
//!
//! It links the state-transition function (`hyperchain-stf`, to run jobs exactly as validators
//! check them), the light client and the API's wire format, and nothing of the node: no
//! database, no p2p, no HTTP server or client. The daemon that drives it (`hyperchain-compute`)
//! is outside the measured code; `scripts/test.sh` checks the dependency tree.

pub mod enclave;
pub mod providers;
