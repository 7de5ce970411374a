//! The block as consensus sees it: [`hyperchain_types::Block`] with commonware's block traits.
//!
//! Its consensus digest is the SHA-256 of the header encoding ([`hyperchain_types::Header::digest`]),
//! the same 32 bytes as the hyperchain block hash.

use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error, Read, Write};
use commonware_consensus::{Heightable, types::Height};
use commonware_cryptography::{Digestible, sha256};
use hyperchain_types::Digest;
use std::ops::Deref;

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

/// The consensus digest of a hyperchain digest (same bytes).
pub fn to_consensus(digest: Digest) -> sha256::Digest {
    sha256::Digest(digest.0)
}

/// The hyperchain digest of a consensus digest (same bytes).
pub fn from_consensus(digest: &sha256::Digest) -> Digest {
    Digest(digest.0)
}

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
