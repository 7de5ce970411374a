//! hyperchain-chain tests: execution without consensus, the ledger, genesis and key files,
//! and deterministic simulations of validators on the simulated network.

mod ceremony;
mod common;
mod execute;
mod fees;
mod genesis;
mod governance;
mod lanes;
mod ledger;
mod light;
mod registry;
mod relay;
mod sim;
