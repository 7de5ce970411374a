//! The light client: checks, offline and with nothing but the chain id and the network's group
//! public key, that a header is finalized (its simplex finalization certificate) and that a
//! state proof holds against a finalized header's state root.
//!
//! A finalization certificate is the encoded [`FinalizationCert`]: the proposal (round, parent
//! view, payload = the header digest, see [`to_consensus`]) and the recovered threshold
//! signature pair (vote and seed). It verifies against the group public key alone, so a verifier
//! needs no validator set and stays valid across reshares of the same key.
//!
//! Pure: no I/O, no runtime. Every input is treated as adversarial: decoding is bounded, nothing
//! panics, and errors say which check failed.

use crate::genesis::{ChainSpec, GroupPublicKey};
use commonware_codec::{Copying, Decode as _, DecodeExt as _};
use commonware_consensus::simplex::types::{Nullification, Subject};
use commonware_cryptography::{
    certificate::Verifier,
    sha256::Digest as ConsensusDigest,
    transcript::{Transcript, Version},
};
use commonware_parallel::Sequential;
use hyperchain_merkle::{ProofError, StateProof, TreeId, verify_state_proof};
use hyperchain_types::consensus::{
    FinalizationCert, NAMESPACE, Scheme, from_consensus, to_consensus,
};
use hyperchain_types::{Digest, Header};
use rand_core::CryptoRng;

/// Domain of the transcript the batch-verification coefficients are drawn from.
const BATCH_DOMAIN: &[u8] = b"hyperchain/light/batch/v1";

/// Why a header, certificate or state proof was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LightError {
    /// The group public key bytes are not a valid key.
    #[error("malformed group public key: {0}")]
    MalformedGroupKey(String),
    /// The certificate bytes do not decode (or its signatures are not curve points).
    #[error("malformed certificate: {0}")]
    MalformedCertificate(String),
    /// A valid certificate of the chain, but a notarization or nullification, which does not
    /// make a block final.
    #[error("not a finalization: the certificate is a valid {0}")]
    NotAFinalization(&'static str),
    /// The certificate finalizes another block than the header.
    #[error("the certificate finalizes block {certified}, not the header's {header}")]
    WrongBlock {
        /// The digest the certificate's proposal carries.
        certified: Digest,
        /// The header's digest.
        header: Digest,
    },
    /// The threshold signature does not verify against the group public key.
    #[error("the certificate's threshold signature does not verify against the group key")]
    BadSignature,
    /// The header belongs to another chain.
    #[error("header of chain {found}, expected {expected}")]
    WrongChain {
        /// The light client's chain id.
        expected: Digest,
        /// The header's chain id.
        found: Digest,
    },
    /// The state proof does not hold against the header's state root.
    #[error("state proof does not verify: {0}")]
    BadStateProof(#[from] ProofError),
}

/// Verifies finality certificates and state proofs of one chain against its group public key.
#[derive(Clone, Debug)]
pub struct LightClient {
    chain_id: Digest,
    verifier: Scheme,
}

impl LightClient {
    /// A light client of the chain `chain_id` whose certificates verify against
    /// `group_public_key` (with the consensus namespace [`NAMESPACE`]).
    pub fn new(chain_id: Digest, group_public_key: GroupPublicKey) -> LightClient {
        LightClient {
            chain_id,
            verifier: Scheme::certificate_verifier(NAMESPACE, group_public_key),
        }
    }

    /// A light client of the chain a genesis describes (its chain id and group public key).
    pub fn from_spec(spec: &ChainSpec) -> LightClient {
        LightClient::new(spec.chain_id, *spec.group_public_key())
    }

    /// A light client from the encoded group public key (as in the genesis document's
    /// `group_public_key`, hex-decoded).
    pub fn from_encoded_key(chain_id: Digest, group_public_key: &[u8]) -> Result<Self, LightError> {
        let key = GroupPublicKey::decode(Copying(group_public_key))
            .map_err(|e| LightError::MalformedGroupKey(e.to_string()))?;
        Ok(LightClient::new(chain_id, key))
    }

    /// The chain id this client accepts headers of.
    pub fn chain_id(&self) -> Digest {
        self.chain_id
    }

    /// The group public key certificates verify against.
    pub fn group_public_key(&self) -> &GroupPublicKey {
        self.verifier.identity()
    }

    /// Checks that `certificate` (an encoded [`FinalizationCert`]) finalizes `header` of this
    /// chain: the header's chain id, the certificate's payload against the header digest, and
    /// the threshold signature against the group public key.
    pub fn verify_finalized(&self, header: &Header, certificate: &[u8]) -> Result<(), LightError> {
        if header.chain_id != self.chain_id {
            return Err(LightError::WrongChain {
                expected: self.chain_id,
                found: header.chain_id,
            });
        }
        let finalization = match FinalizationCert::decode_cfg(Copying(certificate), &()) {
            Ok(finalization) => finalization,
            Err(e) => return Err(self.not_decodable(certificate, e)),
        };
        let digest = header.digest();
        if finalization.proposal.payload != to_consensus(digest) {
            return Err(LightError::WrongBlock {
                certified: from_consensus(&finalization.proposal.payload),
                header: digest,
            });
        }
        if finalization.certificate.get().is_none() {
            return Err(LightError::MalformedCertificate(
                "the signatures are not points of the group".into(),
            ));
        }
        let mut rng = batch_rng(certificate);
        let finalize = Subject::Finalize {
            proposal: &finalization.proposal,
        };
        if self.verify(&mut rng, finalize, &finalization.certificate) {
            return Ok(());
        }
        // Finalizations and notarizations encode alike; name the mistake if it is one.
        let notarize = Subject::Notarize {
            proposal: &finalization.proposal,
        };
        if self.verify(&mut rng, notarize, &finalization.certificate) {
            return Err(LightError::NotAFinalization("notarization"));
        }
        Err(LightError::BadSignature)
    }

    /// Whether `seed` is the network's threshold-VRF seed of its view: a valid threshold
    /// signature over the round (epoch 0) under the seed namespace of the group key.
    pub fn verify_seed(&self, seed: &hyperchain_types::SeedReveal) -> bool {
        use commonware_consensus::simplex::scheme::bls12381_threshold::vrf::Seed;
        use commonware_consensus::types::{Epoch, Round, View};
        type Signature =
            <hyperchain_types::consensus::Variant as commonware_cryptography::bls12381::primitives::variant::Variant>::Signature;
        let Ok(signature) = Signature::decode(Copying(&seed.signature[..])) else {
            return false;
        };
        Seed::<hyperchain_types::consensus::Variant>::new(
            Round::new(Epoch::new(seed.round.epoch), View::new(seed.round.view)),
            signature,
        )
        .verify(&self.verifier)
    }

    /// Checks that `header` is finalized ([`LightClient::verify_finalized`]), then that `proof`
    /// shows `key` of `tree` holding `value` (`None`: absent) in the state after that block.
    pub fn verify_state(
        &self,
        header: &Header,
        certificate: &[u8],
        proof: &StateProof,
        tree: &TreeId,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<(), LightError> {
        self.verify_finalized(header, certificate)?;
        verify_state_proof(&header.state_root.0, tree, key, value, proof)?;
        Ok(())
    }

    fn verify(
        &self,
        rng: &mut impl CryptoRng,
        subject: Subject<'_, ConsensusDigest>,
        certificate: &<Scheme as Verifier>::Certificate,
    ) -> bool {
        self.verifier.verify_certificate::<_, ConsensusDigest>(
            rng,
            subject,
            certificate,
            &Sequential,
        )
    }

    /// The error for bytes that are not a finalization: a valid nullification is named as
    /// such, anything else is malformed.
    fn not_decodable(&self, certificate: &[u8], error: commonware_codec::Error) -> LightError {
        if let Ok(nullification) = Nullification::<Scheme>::decode_cfg(Copying(certificate), &()) {
            let subject: Subject<'_, ConsensusDigest> = Subject::Nullify {
                round: nullification.round,
            };
            if self.verify(
                &mut batch_rng(certificate),
                subject,
                &nullification.certificate,
            ) {
                return LightError::NotAFinalization("nullification");
            }
        }
        LightError::MalformedCertificate(error.to_string())
    }
}

/// The randomness of the batch check of a certificate's two signatures (vote and seed), derived
/// from the certificate itself: verification stays deterministic, and since the coefficients
/// depend on the signatures, no one can pick signatures that cancel out under known
/// coefficients.
fn batch_rng(certificate: &[u8]) -> impl CryptoRng + use<> {
    let mut transcript = Transcript::new(BATCH_DOMAIN, Version::V1);
    transcript.commit(certificate);
    transcript.noise(b"coefficients")
}
