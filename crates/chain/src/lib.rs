//! hyperchain's chain: commonware simplex (threshold-BLS VRF) + marshal, blocks, mempool and
//! replicated execution.
//!
//! - [`block`]: the consensus view of [`hyperchain_types::Block`] (digest = SHA-256 of the
//!   header encoding).
//! - [`execute`]: pure, deterministic block execution with the contract engine.
//! - [`ledger`]: committed state, executed-but-unfinalized blocks, and the index of finalized
//!   blocks, receipts and seeds.
//! - [`mempool`]: checked transactions waiting for a block.
//! - [`app`]: propose/verify, the finalized-block applier and the seed recorder.
//! - [`node`]: the wiring of one validator.
//!
//! See the crate README for the block format, the execution rules and the wiring.

pub mod app;
pub mod block;
pub mod execute;
pub mod ledger;
pub mod mempool;
pub mod node;
