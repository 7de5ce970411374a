//! hyperchain-compute tests: the enclave against a lying host, and the committee simulation
//! (validators under consensus and the real daemon and enclave of each compute node, on the
//! deterministic runtime and simulated network).

mod committee_sim;
mod enclave;
