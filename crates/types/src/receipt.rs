//! Compute receipts (docs/DESIGN.md §4): what a committee member signs with its enclave identity
//! key after executing a job, and what validators check instead of re-executing.
//!
//! A receipt commits to the chain, the contract and its lane position, the job, the code, the
//! pre-state it executed on, and the whole outcome (status, output, events, fuel, read and
//! write sets). The pre-state is the storage commitment it read (after job n−1) for a job the
//! committee was drawn for, and the chain [`crate::chain_next`] for a job that followed one
//! of the same committee (executed on the member's own result of the one before). A receipt
//! also names the **run** it answers ([`RunId`]: the committee draw), so a receipt signed for
//! a run that was later dropped is refused in any other run of the same job.
//!
//! A member signs the receipt's **commitment** ([`ReceiptCommitment`]): every field with the
//! outcome replaced by its SHA-256. Members agree when their commitments are equal; a replay
//! to another chain, lane position, job or run changes the commitment. Job records keep only
//! each member's vote (pre-state, outcome digest, signature) and evidence against a liar is
//! its signed commitment, so neither grows with the outcome.
//!
//! The receipt does not carry the storage commitment *after* the job: a member holds only the
//! proven values it read, not the contract's whole storage tree, and a sparse-Merkle root after
//! deletions depends on nodes it never saw. Validators hold the tree: they apply the agreed
//! write set, compute the new commitment, record it as the lane's state (the next job's
//! pre-state), and the next header's state root commits to it.

use crate::{Address, CallOutcome, Digest, sha256};
use bytes::BufMut;
use commonware_codec::{Buf, Encode as _, EncodeSize, Error, FixedSize, Read, ReadExt, Write};
use commonware_cryptography::{Signer as _, Verifier as _, ed25519};

/// Domain of compute-receipt signatures (over the commitment's digest).
pub const RECEIPT_NAMESPACE: &[u8] = b"hyperchain/compute-receipt/v2";

/// The committee draw a receipt answers: the lane position of the job the committee was drawn
/// for (the run's head) and that draw's attempt number. Unique within a lane: a head is drawn
/// again only with a higher attempt, and a job never heads a run after following one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId {
    /// The run head's lane position.
    pub head: u64,
    /// The draw's attempt number.
    pub attempt: u32,
}

impl Write for RunId {
    fn write(&self, buf: &mut impl BufMut) {
        self.head.write(buf);
        self.attempt.write(buf);
    }
}
impl FixedSize for RunId {
    const SIZE: usize = u64::SIZE + u32::SIZE;
}
impl Read for RunId {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(RunId {
            head: u64::read(buf)?,
            attempt: u32::read(buf)?,
        })
    }
}

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.head, self.attempt)
    }
}

/// A receipt's fields, with the outcome as `O`: the whole [`CallOutcome`] in a
/// [`ComputeReceipt`], its SHA-256 in the [`ReceiptCommitment`] a member signs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptBody<O> {
    /// The chain.
    pub chain_id: Digest,
    /// The contract whose lane ran the job.
    pub contract: Address,
    /// The job's position in the lane (n).
    pub lane_seq: u64,
    /// The job id (the call transaction's id).
    pub job: Digest,
    /// The committee draw this answers.
    pub run: RunId,
    /// SHA-256 of the contract's code.
    pub code_hash: Digest,
    /// The pre-state executed on: the contract's storage commitment after job n−1, or, for a
    /// follower, the chained pre-state ([`crate::chain_next`]).
    pub pre_state: Digest,
    /// What the call did (or its SHA-256).
    pub outcome: O,
}

/// The result of one job, as a member computed it.
pub type ComputeReceipt = ReceiptBody<CallOutcome>;

/// What a member signs: a receipt with its outcome replaced by the outcome's SHA-256 (fixed
/// size).
pub type ReceiptCommitment = ReceiptBody<Digest>;

impl ReceiptCommitment {
    /// The digest members agree on and sign (SHA-256 of the encoding).
    pub fn digest(&self) -> Digest {
        sha256(&self.encode())
    }
}

impl ComputeReceipt {
    /// SHA-256 of the outcome's encoding.
    pub fn outcome_digest(&self) -> Digest {
        sha256(&self.outcome.encode())
    }

    /// The commitment a member signs.
    pub fn commitment(&self) -> ReceiptCommitment {
        ReceiptCommitment {
            chain_id: self.chain_id,
            contract: self.contract,
            lane_seq: self.lane_seq,
            job: self.job,
            run: self.run,
            code_hash: self.code_hash,
            pre_state: self.pre_state,
            outcome: self.outcome_digest(),
        }
    }

    /// The digest members agree on and sign: the commitment's.
    pub fn digest(&self) -> Digest {
        self.commitment().digest()
    }

    /// This receipt signed by `identity` (a node's enclave identity key).
    pub fn sign(self, identity: &ed25519::PrivateKey) -> SignedComputeReceipt {
        let signature = identity.sign(RECEIPT_NAMESPACE, &self.digest().0);
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
        verify_commitment_signature(&self.node_key, &self.receipt.digest(), &self.signature)
    }

    /// The signed commitment (what a job record keeps as evidence).
    pub fn signed_commitment(&self) -> SignedCommitment {
        SignedCommitment {
            commitment: self.receipt.commitment(),
            node_key: self.node_key,
            signature: self.signature.clone(),
        }
    }
}

/// Whether `signature` is `node_key`'s over a receipt commitment with digest `digest`.
pub fn verify_commitment_signature(
    node_key: &[u8; 32],
    digest: &Digest,
    signature: &ed25519::Signature,
) -> bool {
    crate::SenderKey(*node_key)
        .public_key()
        .is_some_and(|key| key.verify(RECEIPT_NAMESPACE, &digest.0, signature))
}

/// A member's signed commitment: the evidence kept against a node whose receipt differed
/// from the arbiters' result (verifiable by anyone with the job record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCommitment {
    /// What the member signed.
    pub commitment: ReceiptCommitment,
    /// The signer's identity key.
    pub node_key: [u8; 32],
    /// Ed25519 over the commitment's digest in [`RECEIPT_NAMESPACE`].
    pub signature: ed25519::Signature,
}

impl SignedCommitment {
    /// Whether the signature is the node's over this commitment.
    pub fn verify_signature(&self) -> bool {
        verify_commitment_signature(&self.node_key, &self.commitment.digest(), &self.signature)
    }

    /// The signer's node id.
    pub fn node_id(&self) -> Digest {
        crate::node_id(&self.node_key)
    }
}

impl Write for SignedCommitment {
    fn write(&self, buf: &mut impl BufMut) {
        self.commitment.write(buf);
        self.node_key.write(buf);
        self.signature.write(buf);
    }
}
impl EncodeSize for SignedCommitment {
    fn encode_size(&self) -> usize {
        self.commitment.encode_size() + 32 + self.signature.encode_size()
    }
}
impl Read for SignedCommitment {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(SignedCommitment {
            commitment: ReceiptCommitment::read(buf)?,
            node_key: <[u8; 32]>::read(buf)?,
            signature: ed25519::Signature::read(buf)?,
        })
    }
}

impl<O: Write> Write for ReceiptBody<O> {
    fn write(&self, buf: &mut impl BufMut) {
        self.chain_id.write(buf);
        self.contract.write(buf);
        self.lane_seq.write(buf);
        self.job.write(buf);
        self.run.write(buf);
        self.code_hash.write(buf);
        self.pre_state.write(buf);
        self.outcome.write(buf);
    }
}
impl<O: EncodeSize> EncodeSize for ReceiptBody<O> {
    fn encode_size(&self) -> usize {
        32 * 5 + u64::SIZE + RunId::SIZE + self.outcome.encode_size()
    }
}
impl<O: Read<Cfg = ()>> Read for ReceiptBody<O> {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(ReceiptBody {
            chain_id: Digest::read(buf)?,
            contract: Address::read(buf)?,
            lane_seq: u64::read(buf)?,
            job: Digest::read(buf)?,
            run: RunId::read(buf)?,
            code_hash: Digest::read(buf)?,
            pre_state: Digest::read(buf)?,
            outcome: O::read(buf)?,
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
            run: RunId {
                head: 6,
                attempt: 1,
            },
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
        let mut other_run = signed.clone();
        other_run.receipt.run.attempt += 1;
        let mut other_signer = signed.clone();
        other_signer.node_key = [7; 32];
        for forged in [
            other_chain,
            other_seq,
            other_job,
            other_output,
            other_run,
            other_signer,
        ] {
            assert!(!forged.verify_signature());
        }
    }

    #[test]
    fn the_signed_commitment_is_fixed_size_evidence_that_verifies_alone() {
        let key = ed25519::PrivateKey::from_seed(5);
        let signed = receipt().sign(&key);
        let evidence = signed.signed_commitment();
        assert!(evidence.verify_signature());
        assert_eq!(evidence.node_id(), signed.node_id());
        assert_eq!(evidence.commitment.outcome, signed.receipt.outcome_digest());
        let enc = evidence.encode();
        assert_eq!(enc.len(), evidence.encode_size());
        assert_eq!(enc.len(), 308, "fixed size");
        assert_eq!(SignedCommitment::decode(enc).unwrap(), evidence);
        let mut tampered = evidence.clone();
        tampered.commitment.pre_state = Digest([0; 32]);
        assert!(!tampered.verify_signature());
    }

    /// Every outcome the engine can produce (limits in [`crate::limits`]) encodes in well
    /// under one state value, and its receipt fits one transaction.
    #[test]
    fn the_largest_outcome_fits_a_state_value_and_its_receipt_a_transaction() {
        use crate::limits::*;
        let mut writes = crate::WriteSet::new();
        let mut budget = MAX_WRITE_BYTES;
        let mut i = 0u32;
        while budget > MAX_KEY + ENTRY_OVERHEAD {
            let key = [&i.to_be_bytes()[..], &[0u8; MAX_KEY - 4]].concat();
            let value = vec![1u8; (budget - MAX_KEY - ENTRY_OVERHEAD).min(MAX_VALUE)];
            budget -= crate::write_entry_bytes(&key, Some(&value));
            writes.insert(key, Some(value));
            i += 1;
        }
        let mut reads = std::collections::BTreeSet::new();
        while crate::read_set_bytes(&reads) + MAX_KEY + ENTRY_OVERHEAD <= MAX_READ_BYTES {
            reads.insert([&i.to_be_bytes()[..], &[0u8; MAX_KEY - 4]].concat());
            i += 1;
        }
        let mut r = receipt();
        r.outcome = CallOutcome {
            status: CallStatus::Ok,
            output: vec![0; MAX_OUTPUT],
            events: (0..MAX_EVENTS)
                .map(|_| Event {
                    topic: vec![0; MAX_TOPIC],
                    data: vec![0; MAX_EVENT_DATA],
                })
                .collect(),
            fuel_used: u64::MAX,
            reads,
            writes,
        };
        let outcome = r.outcome.encode_size();
        assert!(outcome <= 900 * 1024, "{outcome}");
        assert!(CallOutcome::decode(r.outcome.encode()).is_ok());
        let signed = r.sign(&ed25519::PrivateKey::from_seed(1));
        assert!(signed.encode_size() + 1024 < crate::tx_limits::MAX_TX_SIZE);
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
