//! What a node binds into its evidence's 64-byte `report_data`.
//!
//! `report_data = SHA-256("hyperchain-identity-v1" ‖ chain_id ‖ identity_pk) ‖ recent_block`
//!
//! - The first 32 bytes tie the evidence to one chain and to the identity key the enclave
//!   generated: the host cannot register someone else's enclave under its own key, nor replay
//!   evidence on another chain.
//! - The last 32 bytes are the hash of a recent finalized block, a freshness value: evidence is
//!   at most as old as that block. (SGX, TDX and SEV-SNP evidence carries no timestamp, so this
//!   is how validators bound its age.)

use sha2::{Digest as _, Sha256};

/// Domain separation for the identity binding.
pub const IDENTITY_DOMAIN: &[u8] = b"hyperchain-identity-v1";

/// `SHA-256("hyperchain-identity-v1" ‖ chain_id ‖ identity_pk)`.
pub fn identity_binding(chain_id: &[u8; 32], identity_pk: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(IDENTITY_DOMAIN);
    h.update(chain_id);
    h.update(identity_pk);
    h.finalize().into()
}

/// The `report_data` a node with `identity_pk` puts in its evidence for `chain_id`, fresh as of
/// `recent_block` (the hash of a recent finalized block).
pub fn report_data(
    chain_id: &[u8; 32],
    identity_pk: &[u8; 32],
    recent_block: &[u8; 32],
) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&identity_binding(chain_id, identity_pk));
    out[32..].copy_from_slice(recent_block);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let rd = report_data(&[1; 32], &[2; 32], &[3; 32]);
        assert_eq!(&rd[32..], &[3; 32]);
        let mut pre = IDENTITY_DOMAIN.to_vec();
        pre.extend_from_slice(&[1; 32]);
        pre.extend_from_slice(&[2; 32]);
        assert_eq!(&rd[..32], Sha256::digest(&pre).as_slice());
        assert_ne!(report_data(&[1; 32], &[4; 32], &[3; 32]), rd);
        assert_ne!(report_data(&[5; 32], &[2; 32], &[3; 32]), rd);
    }
}
