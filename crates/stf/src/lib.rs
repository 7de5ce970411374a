//! hyperchain's state-transition function: everything a block does to state, and what a client
//! needs to check the result, with no database, network or runtime.
//!
//! - [`execute`]: pure, deterministic block execution with the contract engine.
//! - [`fees`]: the native token: account records, supply, the fee schedule.
//! - [`lanes`]: TEE contracts' lanes and jobs: committee assignment from revealed seeds,
//!   receipts, agreement, deadlines, arbitration of disputes.
//! - [`lifecycle`]: the job lifecycle as a pure state machine (the lanes are its shell).
//! - [`committee`]: committee selection from the consensus seed.
//! - [`registry`]: compute-node registration, attestation policy, revocation, accumulator.
//! - [`signatures`]: batched transaction signature checks and the cache of verified ones.
//! - [`genesis`]: the genesis document, chain id, key files and the devnet dealer.
//! - [`governance`]: governance actions proposed and approved by the validators.
//! - [`light`]: the light client, verifying finality certificates and state proofs offline.
//! - [`token`]: attestation tokens and their offline verification.
//!
//! State is read through [`hyperchain_state::StateReader`] and written as a
//! [`hyperchain_state::WriteBatch`]; the node (`hyperchain-chain`) provides the store. A compute
//! node's enclave links this crate to run the same code validators check its receipts against,
//! so what a TEE measures holds no node (docs/DESIGN.md §2).

pub mod committee;
pub mod execute;
pub mod fees;
pub mod genesis;
pub mod governance;
pub mod lanes;
pub mod lifecycle;
pub mod light;
pub mod registry;
pub mod signatures;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod token;
pub mod validators;
