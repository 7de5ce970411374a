//! Integration tests of the sparse Merkle tree (one binary, one module per topic).

mod canonical;
mod proofs;
mod reference;
