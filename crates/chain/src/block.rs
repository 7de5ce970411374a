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
