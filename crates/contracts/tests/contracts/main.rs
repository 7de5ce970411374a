//! Tests of the example contracts as modules (shape, imports, exports) and of the workloads
//! they share with native benchmarks. Executing the contracts is tested against the real engine
//! in `hyperchain-vm`'s tests. One test binary with modules, to keep link time down.

mod modules;
mod workloads;
