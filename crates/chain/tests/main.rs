//! hyperchain-chain tests: execution without consensus, the ledger, and deterministic
//! simulations of validators on the simulated network.

mod common;
mod execute;
mod ledger;
mod sim;
