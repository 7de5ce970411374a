//! What a node binds into its evidence's 64-byte `report_data`.
//!
//! `report_data = SHA-256("hyperchain-identity-v2" ‖ chain_id ‖ identity_pk ‖ owner ‖
//! len(region) (u8) ‖ region) ‖ recent_block`
//!
//! - The first 32 bytes tie the evidence to one chain, to the identity key the enclave
//!   generated, to the account that registers (owns) the node and to the region it serves:
//!   the host cannot register someone else's enclave under its own key, nor replay evidence on
//!   another chain, and nobody who copies a node's registration can submit it first from
//!   another account or for another region.
//! - The last 32 bytes are the hash of a recent finalized block, a freshness value: evidence is
//!   at most as old as that block. (SGX, TDX and SEV-SNP evidence carries no timestamp, so this
//!   is how validators bound its age.)

use sha2::{Digest as _, Sha256};

/// Domain separation for the identity binding.
pub const IDENTITY_DOMAIN: &[u8] = b"hyperchain-identity-v2";

/// Who a node is and where it serves, as its evidence binds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeBinding<'a> {
    /// The chain id.
    pub chain_id: &'a [u8; 32],
    /// The enclave's identity key.
    pub identity_pk: &'a [u8; 32],
    /// The account that registers the node (its owner).
    pub owner: &'a [u8; 32],
    /// The region it serves (at most 255 bytes).
    pub region: &'a str,
}

impl NodeBinding<'_> {
    /// `SHA-256("hyperchain-identity-v2" ‖ chain_id ‖ identity_pk ‖ owner ‖ len(region) ‖
    /// region)`; a region longer than 255 bytes is cut there (the chain refuses such regions).
    pub fn digest(&self) -> [u8; 32] {
        let region = &self.region.as_bytes()[..self.region.len().min(255)];
        let mut h = Sha256::new();
        h.update(IDENTITY_DOMAIN);
        h.update(self.chain_id);
        h.update(self.identity_pk);
        h.update(self.owner);
        h.update([region.len() as u8]);
        h.update(region);
        h.finalize().into()
    }

    /// The `report_data` the node puts in its evidence, fresh as of `recent_block` (the hash
    /// of a recent finalized block).
    pub fn report_data(&self, recent_block: &[u8; 32]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&self.digest());
        out[32..].copy_from_slice(recent_block);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_every_field_bound() {
        let binding = NodeBinding {
            chain_id: &[1; 32],
            identity_pk: &[2; 32],
            owner: &[4; 32],
            region: "eu",
        };
        let rd = binding.report_data(&[3; 32]);
        assert_eq!(&rd[32..], &[3; 32]);
        let mut pre = IDENTITY_DOMAIN.to_vec();
        pre.extend_from_slice(&[1; 32]);
        pre.extend_from_slice(&[2; 32]);
        pre.extend_from_slice(&[4; 32]);
        pre.push(2);
        pre.extend_from_slice(b"eu");
        assert_eq!(&rd[..32], Sha256::digest(&pre).as_slice());
        for other in [
            NodeBinding {
                chain_id: &[5; 32],
                ..binding
            },
            NodeBinding {
                identity_pk: &[5; 32],
                ..binding
            },
            NodeBinding {
                owner: &[5; 32],
                ..binding
            },
            NodeBinding {
                region: "us",
                ..binding
            },
            NodeBinding {
                region: "e",
                ..binding
            },
        ] {
            assert_ne!(other.report_data(&[3; 32]), rd, "{other:?}");
        }
    }
}
