//! hyperchain's chain: commonware simplex (threshold-BLS VRF) + marshal, blocks, mempool and
//! replicated execution.
//!
//! The state-transition function (`execute`, `lanes`, `committee`, `registry`, `signatures`,
//! `genesis`, `light`, `token`) is the `hyperchain-stf` crate, re-exported here.
//!
//! - [`block`]: the consensus view of [`hyperchain_types::Block`] (digest = SHA-256 of the
//!   header encoding).
//! - [`ledger`]: committed state, executed-but-unfinalized blocks, and the index of finalized
//!   blocks, receipts and seeds.
//! - [`mempool`]: checked transactions waiting for a block.
//! - [`relay`]: transaction gossip and compact blocks (marshal's dissemination buffer).
//! - [`app`]: propose/verify, the finalized-block applier and the seed recorder.
//! - [`node`]: the wiring of one validator.
//! - [`config`]: a validator's configuration file.
//! - [`runner`]: one validator as a process (tokio runtime, TCP p2p, graceful stop).
//!
//! See the crate README for the block format, the execution rules and the wiring.

pub mod app;
pub mod block;
pub mod ceremony;
pub mod config;
pub mod epochs;
pub mod ledger;
pub mod mempool;
pub mod node;
pub mod relay;
pub mod runner;
#[cfg(feature = "testkit")]
pub mod simnet;
pub mod statesync;

// The state-transition function lives in `hyperchain-stf` (no database, network or runtime, so
// an enclave can link it); the node re-exports it under the paths it always had.
#[cfg(feature = "testkit")]
pub use hyperchain_stf::testkit;
pub use hyperchain_stf::{
    committee, fees, genesis, governance, lanes, lifecycle, light, registry, signatures, token,
    validators,
};

/// Block execution ([`hyperchain_stf::execute`]).
pub mod execute {
    pub use hyperchain_stf::execute::*;
}
