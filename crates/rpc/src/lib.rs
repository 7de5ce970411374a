//! hyperchain's node API: HTTP JSON over axum, and a typed client.
//!
//! - [`server`]: [`router`], [`serve`] and [`serve_with_shutdown`] over an [`RpcContext`]
//!   (the node's ledger, mempool and finality certificates).
//! - [`api`]: the request and response bodies, shared by server and client.
//! - [`client`]: [`Client`], which also verifies what it can (block digests, state proofs).
//! - [`certificates`]: [`FinalityCertificates`], implemented by the node's marshal mailbox.
//! - [`query`]: read-only contract calls against a finalized state snapshot.
//! - [`answer`]: what the server answers, apart from HTTP (compute fetches, job listings,
//!   node records, block bodies), for in-process clients too.
//!
//! Endpoints, bodies and error codes are documented in `docs/RPC.md`.

/// The JSON bodies of the API (the `hyperchain-api` crate, shared with clients and enclaves).
pub use hyperchain_api as api;
pub mod answer;
pub mod certificates;
pub mod client;
pub mod query;
pub mod server;

pub use certificates::{FinalityCertificates, MarshalMailbox, NoCertificates};
pub use client::{Client, ClientError, ProvenValue, RpcSyncSource};
pub use server::{RpcConfig, RpcContext, router, serve, serve_with_shutdown};
