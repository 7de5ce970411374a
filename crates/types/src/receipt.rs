//! Compute receipts (DESIGN.md §4): what a committee member signs with its enclave identity
//! key after executing a job, and what validators check instead of re-executing.
//!
//! A receipt commits to the chain, the contract and its lane position, the job, the code, the
//! pre-state it executed on, and the whole outcome (status, output, events, fuel, read and
//! write sets). The pre-state is the storage commitment it read (after job n−1) for a job the
//! committee was drawn for, and the chain [`crate::chain_next`] for a job that followed one
//! of the same committee (executed on the member's own result of the one before). Members agree when they signed the same receipt bytes; a replay
//! to another chain, lane position or job changes those bytes.
//!
//! The receipt does not carry the storage commitment *after* the job: a member holds only the
//! proven values it read, not the contract's whole storage tree, and a sparse-Merkle root after
//! deletions depends on nodes it never saw. Validators hold the tree: they apply the agreed
//! write set, compute the new commitment, record it as the lane's state (the next job's
//! pre-state), and the next header's state root commits to it.

use crate::{Address, CallOutcome, Digest, sha256};
use bytes::BufMut;
use commonware_codec::{Buf, Encode as _, EncodeSize, Error, Read, ReadExt, Write};
use commonware_cryptography::{Signer as _, Verifier as _, ed25519};

/// Domain of compute-receipt signatures.
pub const RECEIPT_NAMESPACE: &[u8] = b"hyperchain/compute-receipt/v1";

/// The result of one job, as a member computed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComputeReceipt {
    /// The chain.
    pub chain_id: Digest,
    /// The contract whose lane ran the job.
    pub contract: Address,
    /// The job's position in the lane (n).
    pub lane_seq: u64,
    /// The job id (the call transaction's id).
    pub job: Digest,
    /// SHA-256 of the contract's code.
    pub code_hash: Digest,
    /// The pre-state executed on: the contract's storage commitment after job n−1, or, for a
    /// follower, the chained pre-state ([`crate::chain_next`]).
    pub pre_state: Digest,
    /// What the call did.
    pub outcome: CallOutcome,
}

impl ComputeReceipt {
    /// The digest members agree on (SHA-256 of the encoding).
    pub fn digest(&self) -> Digest {
        sha256(&self.encode())
    }

    /// This receipt signed by `identity` (a node's enclave identity key).
    pub fn sign(self, identity: &ed25519::PrivateKey) -> SignedComputeReceipt {
        let signature = identity.sign(RECEIPT_NAMESPACE, &self.encode());
        let mut node_key = [0u8; 32];
        node_key.copy_from_slice(identity.public_key().as_ref());
        SignedComputeReceipt {
            receipt: self,
            node_key,
            signature,
        }
    }
}

/// A receipt with its member's identity key and signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedComputeReceipt {
    /// The receipt.
    pub receipt: ComputeReceipt,
    /// The signer's identity key.
    pub node_key: [u8; 32],
    /// Ed25519 over the receipt's encoding in [`RECEIPT_NAMESPACE`].
    pub signature: ed25519::Signature,
}

impl SignedComputeReceipt {
    /// The signer's node id (SHA-256 of its identity key).
    pub fn node_id(&self) -> Digest {
        crate::node_id(&self.node_key)
    }

    /// Whether the signature is the node's over this receipt.
    pub fn verify_signature(&self) -> bool {
        crate::SenderKey(self.node_key)
            .public_key()
            .is_some_and(|key| {
                key.verify(RECEIPT_NAMESPACE, &self.receipt.encode(), &self.signature)
            })
    }
}

impl Write for ComputeReceipt {
    fn write(&self, buf: &mut impl BufMut) {
        self.chain_id.write(buf);
        self.contract.write(buf);
        self.lane_seq.write(buf);
        self.job.write(buf);
        self.code_hash.write(buf);
        self.pre_state.write(buf);
        self.outcome.write(buf);
    }
}
impl EncodeSize for ComputeReceipt {
    fn encode_size(&self) -> usize {
        32 * 5 + 8 + self.outcome.encode_size()
    }
}
impl Read for ComputeReceipt {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(ComputeReceipt {
            chain_id: Digest::read(buf)?,
            contract: Address::read(buf)?,
            lane_seq: u64::read(buf)?,
            job: Digest::read(buf)?,
            code_hash: Digest::read(buf)?,
            pre_state: Digest::read(buf)?,
            outcome: CallOutcome::read(buf)?,
        })
    }
}

impl Write for SignedComputeReceipt {
    fn write(&self, buf: &mut impl BufMut) {
        self.receipt.write(buf);
        self.node_key.write(buf);
        self.signature.write(buf);
    }
}
impl EncodeSize for SignedComputeReceipt {
    fn encode_size(&self) -> usize {
        self.receipt.encode_size() + 32 + self.signature.encode_size()
    }
}
impl Read for SignedComputeReceipt {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(SignedComputeReceipt {
            receipt: ComputeReceipt::read(buf)?,
            node_key: <[u8; 32]>::read(buf)?,
            signature: ed25519::Signature::read(buf)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CallStatus, Event};
    use commonware_codec::DecodeExt as _;

    pub(crate) fn receipt() -> ComputeReceipt {
        let mut writes = crate::WriteSet::new();
        writes.insert(b"k".to_vec(), Some(b"v".to_vec()));
        ComputeReceipt {
            chain_id: Digest([1; 32]),
            contract: Address([2; 32]),
            lane_seq: 7,
            job: Digest([3; 32]),
            code_hash: Digest([4; 32]),
            pre_state: Digest([5; 32]),
            outcome: CallOutcome {
                status: CallStatus::Ok,
                output: vec![9, 9],
                events: vec![Event {
                    topic: b"t".to_vec(),
                    data: b"d".to_vec(),
                }],
                fuel_used: 1234,
                reads: [b"k".to_vec()].into_iter().collect(),
                writes,
            },
        }
    }

    #[test]
    fn round_trips_and_signs() {
        let key = ed25519::PrivateKey::from_seed(5);
        let signed = receipt().sign(&key);
        assert!(signed.verify_signature());
        let enc = signed.encode();
        assert_eq!(enc.len(), signed.encode_size());
        assert_eq!(SignedComputeReceipt::decode(enc).unwrap(), signed);
        assert_eq!(
            signed.node_id(),
            crate::node_id(&crate::SenderKey::from(key.public_key()).0)
        );
    }

    #[test]
    fn replays_and_forgeries_fail_the_signature() {
        let key = ed25519::PrivateKey::from_seed(5);
        let signed = receipt().sign(&key);
        let mut other_chain = signed.clone();
        other_chain.receipt.chain_id = Digest([9; 32]);
        let mut other_seq = signed.clone();
        other_seq.receipt.lane_seq += 1;
        let mut other_job = signed.clone();
        other_job.receipt.job = Digest([8; 32]);
        let mut other_output = signed.clone();
        other_output.receipt.outcome.output = vec![1];
        let mut other_signer = signed.clone();
        other_signer.node_key = [7; 32];
        for forged in [
            other_chain,
            other_seq,
            other_job,
            other_output,
            other_signer,
        ] {
            assert!(!forged.verify_signature());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for len in 0..600 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let _ = SignedComputeReceipt::decode(bytes::Bytes::from(bytes));
        }
    }
}
