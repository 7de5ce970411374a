//! The consensus types every part of hyperchain names: the signing scheme, its keys and
//! certificates, and the namespace signatures are made under. One place, so the node, the
//! state-transition function and light clients (an enclave among them) agree without depending
//! on each other.

use commonware_consensus::simplex::{
    scheme::bls12381_threshold::vrf,
    types::{Context, Finalization},
};
use commonware_cryptography::{
    bls12381::primitives::variant::{MinSig, Variant as BlsVariant},
    ed25519,
    sha256::{self, Digest as ConsensusDigest},
};

use crate::Digest;

/// The namespace of every consensus signature (votes, certificates, seeds).
pub const NAMESPACE: &[u8] = b"hyperchain/consensus/v1";

/// BLS variant: 48-byte (G1) signatures, 96-byte (G2) group public key.
pub type Variant = MinSig;
/// Validator identity keys.
pub type PublicKey = ed25519::PublicKey;
/// The threshold-VRF simplex signing scheme.
pub type Scheme = vrf::Scheme<PublicKey, Variant>;
/// What consensus tells the application about a proposal.
pub type ConsensusContext = Context<ConsensusDigest, PublicKey>;
/// A finalization certificate.
pub type FinalizationCert = Finalization<Scheme, ConsensusDigest>;
/// The group public key type (certificates verify against it).
pub type GroupPublicKey = <Variant as BlsVariant>::Public;

/// The consensus digest of a hyperchain digest (same bytes).
pub fn to_consensus(digest: Digest) -> sha256::Digest {
    sha256::Digest(digest.0)
}

/// The hyperchain digest of a consensus digest (same bytes).
pub fn from_consensus(digest: &sha256::Digest) -> Digest {
    Digest(digest.0)
}
