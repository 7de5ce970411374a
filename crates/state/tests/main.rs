//! Integration tests of the state store (one binary, one module per topic).

mod common;
mod crash;
mod model;
mod store;
