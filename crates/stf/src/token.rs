//! Attestation tokens: a node record with a state proof and the finality certificate of the
//! block whose state holds it (docs/DESIGN.md §6). Anyone holding only the network's group public
//! key verifies a token offline with [`verify_token`]: no node, no vendor service.
//!
//! **What a token proves**: that at the token's block (its header's time) the network had
//! finalized this node record — an attested node of this platform, measurement, TCB, region
//! and owner, not revoked, its membership unexpired. It proves nothing about later blocks: a
//! node revoked after the header still holds a token that verifies. So a verifier bounds how
//! old a header it accepts ([`TokenFreshness::max_age_ms`]); within that bound it accepts a
//! revocation it cannot see, and a node must fetch fresh tokens as often as verifiers demand.

use crate::light::{LightClient, LightError};
use crate::registry::node_key;
use commonware_codec::{DecodeExt as _, Encode as _};
use hyperchain_state::{StateProof, TreeId};
use hyperchain_types::{Header, NodeRecord};

/// A node's attestation token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttestationToken {
    /// The node record as stored on chain.
    pub record: NodeRecord,
    /// The finalized block whose post-state holds the record.
    pub header: Header,
    /// That block's encoded finality certificate.
    pub certificate: Vec<u8>,
    /// Proof of `node/ ‖ id` = record in the root tree of `header.state_root`.
    pub proof: StateProof,
}

/// Why a token does not verify.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// A part does not decode.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The header is not finalized under this group key, or the proof does not show the
    /// record in its state.
    #[error(transparent)]
    Light(#[from] LightError),
    /// Governance revoked the node.
    #[error("node revoked: {0}")]
    Revoked(String),
    /// The node's membership had ended at the token's block, or has ended by `now`.
    #[error("node expired at {expires_ms} ms (checked at {at_ms} ms)")]
    Expired {
        /// The record's expiry.
        expires_ms: u64,
        /// The time checked.
        at_ms: u64,
    },
    /// The token's header is older than the verifier accepts (the node may have been revoked
    /// since); fetch a fresh token.
    #[error(
        "the token's block is from {header_ms} ms, more than {max_age_ms} ms before {now_ms} ms: \
         fetch a fresh token (the node may have been revoked since)"
    )]
    Stale {
        /// The header's time.
        header_ms: u64,
        /// The time checked.
        now_ms: u64,
        /// The oldest header age accepted.
        max_age_ms: u64,
    },
    /// The token's header is later than the verifier's clock allows.
    #[error("the token's block is from {header_ms} ms, after {now_ms} ms (clock skew?)")]
    FromTheFuture {
        /// The header's time.
        header_ms: u64,
        /// The time checked.
        now_ms: u64,
    },
}

/// When a token is checked and how old a header the verifier accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenFreshness {
    /// The verifier's time (unix ms).
    pub now_ms: u64,
    /// The oldest header accepted, as an age at `now_ms`.
    pub max_age_ms: u64,
}

/// How far ahead of the verifier's clock a token's header may be (clock skew).
pub const MAX_TOKEN_CLOCK_SKEW_MS: u64 = 60_000;

impl AttestationToken {
    /// Decodes the parts of a token (as `GET /node/{id}/token` serves them, hex-decoded).
    pub fn from_parts(
        record: &[u8],
        header: &[u8],
        certificate: Vec<u8>,
        proof: &[u8],
    ) -> Result<AttestationToken, TokenError> {
        let malformed = |what: &str, e: String| TokenError::Malformed(format!("{what}: {e}"));
        Ok(AttestationToken {
            record: NodeRecord::decode(bytes::Bytes::copy_from_slice(record))
                .map_err(|e| malformed("record", e.to_string()))?,
            header: Header::decode(bytes::Bytes::copy_from_slice(header))
                .map_err(|e| malformed("header", e.to_string()))?,
            certificate,
            proof: StateProof::decode(proof).map_err(|e| malformed("proof", e.to_string()))?,
        })
    }
}

/// Verifies `token` with only the network's group key (in `light`): the header is finalized,
/// the record is in its state, the node was not revoked and was a member at that block, and,
/// if `at` is given, the header is at most `max_age_ms` old and the node's membership has not
/// ended by `now_ms`. Returns the verified record.
pub fn verify_token(
    token: &AttestationToken,
    light: &LightClient,
    at: Option<TokenFreshness>,
) -> Result<NodeRecord, TokenError> {
    let record = &token.record;
    light.verify_state(
        &token.header,
        &token.certificate,
        &token.proof,
        &TreeId::ROOT,
        &node_key(&record.id()),
        Some(&record.encode()),
    )?;
    if let Some(reason) = &record.revoked {
        return Err(TokenError::Revoked(reason.to_string()));
    }
    let header_ms = token.header.timestamp_ms;
    if let Some(TokenFreshness { now_ms, max_age_ms }) = at {
        if header_ms > now_ms.saturating_add(MAX_TOKEN_CLOCK_SKEW_MS) {
            return Err(TokenError::FromTheFuture { header_ms, now_ms });
        }
        if now_ms.saturating_sub(header_ms) > max_age_ms {
            return Err(TokenError::Stale {
                header_ms,
                now_ms,
                max_age_ms,
            });
        }
    }
    for at_ms in std::iter::once(header_ms).chain(at.map(|a| a.now_ms)) {
        if at_ms >= record.expires_ms {
            return Err(TokenError::Expired {
                expires_ms: record.expires_ms,
                at_ms,
            });
        }
    }
    Ok(record.clone())
}
