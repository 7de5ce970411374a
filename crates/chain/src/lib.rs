//! hyperchain's chain: commonware simplex (threshold-BLS VRF) + marshal, blocks, mempool and
//! replicated execution.
//!
//! - [`block`]: the consensus view of [`hyperchain_types::Block`] (digest = SHA-256 of the
//!   header encoding).
//! - [`committee`]: committee selection from the consensus seed (pure).
//! - [`execute`]: pure, deterministic block execution with the contract engine.
//! - [`ledger`]: committed state, executed-but-unfinalized blocks, and the index of finalized
//!   blocks, receipts and seeds.
//! - [`mempool`]: checked transactions waiting for a block.
//! - [`relay`]: transaction gossip and compact blocks (marshal's dissemination buffer).
//! - [`lanes`]: TEE contracts' lanes and jobs: committee assignment from revealed seeds,
//!   receipts, agreement, deadlines, arbitration of disputes.
//! - [`registry`]: compute-node registration, attestation policy, revocation, accumulator.
//! - [`token`]: attestation tokens and their offline verification.
//! - [`signatures`]: batched transaction signature checks and the cache of verified ones.
//! - [`app`]: propose/verify, the finalized-block applier and the seed recorder.
//! - [`node`]: the wiring of one validator.
//! - [`genesis`]: the genesis document, chain id, key files and the devnet dealer.
//! - [`light`]: the light client, verifying finality certificates and state proofs offline.
//! - [`config`]: a validator's configuration file.
//! - [`runner`]: one validator as a process (tokio runtime, TCP p2p, graceful stop).
//!
//! See the crate README for the block format, the execution rules and the wiring.

pub mod app;
pub mod block;
pub mod committee;
pub mod config;
pub mod execute;
pub mod genesis;
pub mod lanes;
pub mod ledger;
pub mod light;
pub mod mempool;
pub mod node;
pub mod registry;
pub mod relay;
pub mod runner;
pub mod signatures;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod token;
