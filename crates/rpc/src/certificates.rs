//! Where the API finds finality certificates.
//!
//! The node's marshal actor stores each finalized block's simplex `Finalization` certificate by
//! height; the server reads them through [`FinalityCertificates`], so it can also run without
//! consensus (tests, tools over a copied data directory) with [`NoCertificates`].

use commonware_codec::Encode as _;
use commonware_consensus::types::Height;
use futures::future::BoxFuture;
pub use hyperchain_chain::node::MarshalMailbox;

/// A source of encoded finality certificates by block height.
pub trait FinalityCertificates: Send + Sync + 'static {
    /// The encoded `Finalization` of the finalized block at `height`, if this node has it.
    fn finalization(&self, height: u64) -> BoxFuture<'_, Option<Vec<u8>>>;
}

/// The mailbox of a running node's marshal (`Node::marshal`, `RpcHandles::marshal`).
impl FinalityCertificates for MarshalMailbox {
    fn finalization(&self, height: u64) -> BoxFuture<'_, Option<Vec<u8>>> {
        Box::pin(async move {
            self.get_finalization(Height::new(height))
                .await
                .map(|certificate| certificate.encode().to_vec())
        })
    }
}

/// No certificates at all: block responses carry `"finalization": null`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoCertificates;

impl FinalityCertificates for NoCertificates {
    fn finalization(&self, _height: u64) -> BoxFuture<'_, Option<Vec<u8>>> {
        Box::pin(async { None })
    }
}
