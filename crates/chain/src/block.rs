//! The block as consensus sees it: [`hyperchain_types::Block`] with commonware's block traits.
//!
//! Its consensus digest is the SHA-256 of the header encoding ([`hyperchain_types::Header::digest`]),
//! the same 32 bytes as the hyperchain block hash. The header records the consensus context
//! the block was proposed in (view, parent view and digest, leader), which makes it a
//! [`CertifiableBlock`] for marshal's `Deferred` wrapper: validators compare that context with
//! simplex's and vote to notarize before executing the block, and execute it (certify) before
//! voting to finalize.

use bytes::BufMut;
use commonware_codec::Encode as _;
use commonware_codec::{Buf, EncodeSize, Error, Read, Write};
use commonware_consensus::{
    CertifiableBlock, Heightable,
    types::{Epoch, Height, Round, View},
};
use commonware_cryptography::{Digestible, Signer as _, ed25519, sha256};
use hyperchain_types::Digest;
use hyperchain_types::consensus::{ConsensusContext, PublicKey};
use std::ops::Deref;
use std::sync::OnceLock;

/// A hyperchain block carried by simplex and marshal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block(pub hyperchain_types::Block);

impl Block {
    /// The hyperchain block hash.
    pub fn hash(&self) -> Digest {
        self.0.digest()
    }
}

impl Deref for Block {
    type Target = hyperchain_types::Block;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

pub use hyperchain_types::consensus::{from_consensus, to_consensus};

impl Write for Block {
    fn write(&self, buf: &mut impl BufMut) {
        self.0.write(buf);
    }
}

impl EncodeSize for Block {
    fn encode_size(&self) -> usize {
        self.0.encode_size()
    }
}

impl Read for Block {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, cfg: &()) -> Result<Self, Error> {
        hyperchain_types::Block::read_cfg(buf, cfg).map(Block)
    }
}

impl Digestible for Block {
    type Digest = sha256::Digest;
    fn digest(&self) -> sha256::Digest {
        to_consensus(self.0.digest())
    }
}

impl Heightable for Block {
    fn height(&self) -> Height {
        Height::new(self.0.header.height)
    }
}

impl commonware_consensus::Block for Block {
    fn parent(&self) -> sha256::Digest {
        to_consensus(self.0.header.parent)
    }
}

/// The 32 bytes a header records for a consensus key.
pub fn leader_bytes(leader: &PublicKey) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(&leader.encode());
    bytes
}

/// The key standing in for header leader bytes that are not an ed25519 key (genesis, or a
/// forged header): its context then matches no view's, so nobody votes for such a block.
fn no_leader() -> PublicKey {
    static KEY: OnceLock<PublicKey> = OnceLock::new();
    KEY.get_or_init(|| {
        ed25519::PrivateKey::from_seed(u64::from_be_bytes(*b"noleader")).public_key()
    })
    .clone()
}

impl CertifiableBlock for Block {
    type Context = ConsensusContext;

    fn context(&self) -> ConsensusContext {
        let header = &self.0.header;
        let leader = hyperchain_types::SenderKey(header.leader)
            .public_key()
            .unwrap_or_else(no_leader);
        ConsensusContext {
            round: Round::new(Epoch::new(header.epoch), View::new(header.view)),
            leader,
            parent: (View::new(header.parent_view), to_consensus(header.parent)),
        }
    }
}

/// The most participants (dealers, players, next players) a reshare payload names: the
/// genesis's validator limit.
pub const MAX_RESHARE_PARTICIPANTS: u32 = crate::genesis::MAX_VALIDATORS as u32;

/// The epochs' resharing payload (commonware-glue's): a dealer's signed log, or an epoch's
/// output with its players, next players and their p2p addresses.
pub type ResharePayload = commonware_glue::dkg::types::Payload<
    hyperchain_types::consensus::Variant,
    PublicKey,
    commonware_glue::dkg::network::Addresses<PublicKey>,
>;

/// Decodes a block's reshare payload (`None` if it carries none or it does not decode).
pub fn reshare_payload(raw: &[u8]) -> Option<ResharePayload> {
    use commonware_codec::Decode as _;
    use commonware_cryptography::bls12381::primitives::sharing::ModeVersion;
    let max = std::num::NonZeroU32::new(MAX_RESHARE_PARTICIPANTS).expect("positive");
    ResharePayload::decode_cfg(
        bytes::Bytes::copy_from_slice(raw),
        &(max, ModeVersion::v0()),
    )
    .ok()
}

/// The genesis block's reshare payload: epoch 0's key-generation output (the genesis's
/// `dkg_output`), its players (the validators, who receive shares in epoch 0's reshare), the
/// next epoch's players (the validators again: the set of epoch 2 is decided in epoch 0) and
/// their p2p addresses — what glue's resharing reads from the genesis block to start.
pub fn genesis_epoch_info(spec: &crate::genesis::ChainSpec) -> Vec<u8> {
    use commonware_glue::dkg::types::{EpochInfo, EpochOutcome, Payload};
    let directory = spec
        .validators
        .iter()
        .map(|v| {
            (
                v.public_key.clone(),
                commonware_p2p::Address::Symmetric(v.address),
            )
        })
        .collect();
    let info: ResharePayload = Payload::EpochInfo(EpochInfo {
        outcome: EpochOutcome::Success,
        epoch: Epoch::zero(),
        output: spec.dkg_output.clone(),
        players: spec.participants.clone(),
        next_players: spec.participants.clone(),
        directory,
    });
    info.encode().to_vec()
}

impl commonware_glue::dkg::ReshareBlock for Block {
    type Variant = hyperchain_types::consensus::Variant;
    type PublicKey = PublicKey;
    type Directory = commonware_glue::dkg::network::Addresses<PublicKey>;

    fn payload(&self) -> Option<ResharePayload> {
        self.0.reshare.as_deref().and_then(reshare_payload)
    }
}

#[cfg(test)]
mod reshare_tests {
    use super::*;
    use commonware_cryptography::bls12381::{
        dkg::feldman_desmedt::deal, primitives::sharing::Mode,
    };
    use commonware_glue::dkg::types::{EpochInfo, EpochOutcome, Payload};
    use commonware_p2p::Address;
    use commonware_utils::{N3f1, TryCollect as _, ordered::Set};

    /// A block carrying an epoch's output round-trips, its header commits to it, and the
    /// resharing reads it back; a payload that does not match the header does not decode.
    #[test]
    fn a_block_carries_its_reshare_payload() {
        use commonware_codec::{DecodeExt as _, Encode as _};
        let mut rng = commonware_utils::test_rng();
        let keys: Vec<ed25519::PrivateKey> = (0..4).map(ed25519::PrivateKey::from_seed).collect();
        let players: Set<PublicKey> = keys.iter().map(|k| k.public_key()).try_collect().unwrap();
        let (output, _) = deal::<hyperchain_types::consensus::Variant, _, N3f1>(
            &mut rng,
            Mode::NonZeroCounter,
            players.clone(),
        )
        .unwrap();
        let directory = players
            .iter()
            .enumerate()
            .map(|(i, p)| {
                (
                    p.clone(),
                    Address::Symmetric(std::net::SocketAddr::from((
                        [127, 0, 0, 1],
                        7000 + i as u16,
                    ))),
                )
            })
            .collect();
        let info = Payload::EpochInfo(EpochInfo {
            outcome: EpochOutcome::Success,
            epoch: Epoch::zero(),
            output,
            players: players.clone(),
            next_players: players,
            directory,
        });
        let raw = info.encode().to_vec();
        let mut block =
            hyperchain_types::Block::genesis(hyperchain_types::sha256(b"c"), 1, Digest::ZERO);
        block.header.reshare = hyperchain_types::reshare_digest(Some(&raw));
        block.reshare = Some(raw);
        let back = hyperchain_types::Block::decode(block.encode()).unwrap();
        assert_eq!(back, block);
        use commonware_glue::dkg::ReshareBlock as _;
        assert!(
            Block(back).payload() == Some(info),
            "the payload reads back"
        );

        let mut forged = block.clone();
        forged.reshare.as_mut().unwrap()[10] ^= 1;
        assert!(hyperchain_types::Block::decode(forged.encode()).is_err());
        let mut stripped = block;
        stripped.reshare = None;
        assert!(hyperchain_types::Block::decode(stripped.encode()).is_err());
    }
}
