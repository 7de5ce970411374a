//! The API end to end: a ledger without consensus, the router on a loopback port, the client.

mod common;
mod compute;
mod errors;
mod flow;
mod jobs;
mod light;
