//! Transaction signature checking: batched, and done once per node.
//!
//! Signature verification is most of a validator's CPU for light transactions. Two things cut
//! it down without changing which transactions are valid:
//!
//! - **Batch verification.** A block's signatures are checked together with commonware's
//!   ZIP-215 ed25519 batch verifier, which agrees with one-by-one verification on every input
//!   (unlike most ed25519 implementations), so batching cannot split validators. Only when the
//!   batch fails are the signatures checked one by one to find the bad ones. The batch's random
//!   coefficients come from the operating system: they change the work, never the verdict.
//! - **A cache of verified signatures.** A transaction admitted to this node's mempool has had
//!   its signature checked; when it comes back in a block (proposed by this node or another)
//!   it is not checked again. Entries are keyed by the transaction id (the hash of the signed
//!   bytes) *and* the signature, so a cached entry vouches for exactly those bytes. The cache
//!   is bounded and forgets its oldest entries first; forgetting only costs a re-check.
//! - **Decoded sender keys** are remembered too: accounts send many transactions, and
//!   decoding a key (a point decompression) is a large part of a batched check.
//! - **Compute receipts** carried by `Receipt` transactions are signed by the member's identity
//!   key: their signatures join the same batch (and cache, under a separate key domain), so a
//!   validator checks them at mempool admission and finds them verified at execution. A bad
//!   receipt signature never makes the transaction invalid: the receipt is refused when it is
//!   executed.

use commonware_codec::Encode as _;
use commonware_cryptography::{BatchEntry, BatchVerifier as _, Verifier as _, ed25519};
use hyperchain_types::{Digest, Payload, SenderKey, SignedComputeReceipt, SignedTransaction};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

/// Namespace of transaction signatures (as in [`SignedTransaction::verify_signature`]).
const TX_NAMESPACE: &[u8] = hyperchain_types::TX_NAMESPACE;

/// Default number of verified signatures a node remembers (about 10 MiB).
pub const DEFAULT_CACHE_ENTRIES: usize = 100_000;

type Key = (Digest, [u8; 64]);

fn key(tx: &SignedTransaction, id: Digest) -> Key {
    let mut signature = [0u8; 64];
    signature.copy_from_slice(&tx.signature.encode());
    (id, signature)
}

/// Cache key of a receipt's signature: a hash in its own domain over the signer and the
/// signed bytes, and the signature.
fn receipt_key(r: &SignedComputeReceipt, message: &[u8]) -> Key {
    let mut signature = [0u8; 64];
    signature.copy_from_slice(&r.signature.encode());
    (
        hyperchain_types::sha256_parts(&[b"hyperchain/receipt-signature", &r.node_key, message]),
        signature,
    )
}

/// Most decoded sender keys remembered (accounts send many transactions; decoding a key is
/// a point decompression, a quarter of a batched signature check).
const KEY_CACHE_ENTRIES: usize = 50_000;

/// A bounded set of signatures this node has verified, and of decoded sender keys.
#[derive(Debug)]
pub struct SignatureCache {
    capacity: usize,
    inner: Mutex<Inner>,
    keys: Mutex<HashMap<SenderKey, ed25519::PublicKey>>,
}

#[derive(Debug, Default)]
struct Inner {
    set: HashSet<Key>,
    order: VecDeque<Key>,
}

impl Default for SignatureCache {
    fn default() -> Self {
        SignatureCache::new(DEFAULT_CACHE_ENTRIES)
    }
}

impl SignatureCache {
    /// An empty cache remembering at most `capacity` signatures.
    pub fn new(capacity: usize) -> Self {
        SignatureCache {
            capacity,
            inner: Mutex::new(Inner::default()),
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// The decoded key, or `None` if the bytes are not a valid ed25519 public key.
    fn public_key(&self, sender: &SenderKey) -> Option<ed25519::PublicKey> {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(key) = keys.get(sender) {
            return Some(key.clone());
        }
        let key = sender.public_key()?;
        if keys.len() >= KEY_CACHE_ENTRIES {
            // Forgetting all at once is simpler than LRU order and costs only re-decoding.
            keys.clear();
        }
        keys.insert(*sender, key.clone());
        Some(key)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of remembered signatures.
    pub fn len(&self) -> usize {
        self.lock().set.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn contains(&self, key: &Key) -> bool {
        self.lock().set.contains(key)
    }

    fn insert_all(&self, keys: impl IntoIterator<Item = Key>) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.lock();
        for key in keys {
            if inner.set.insert(key) {
                inner.order.push_back(key);
            }
        }
        while inner.set.len() > self.capacity {
            match inner.order.pop_front() {
                Some(old) => {
                    inner.set.remove(&old);
                }
                None => break,
            }
        }
    }

    /// Whether `tx`'s signature is its sender's (checked at most once per cache lifetime).
    pub fn verify(&self, tx: &SignedTransaction) -> bool {
        self.verify_all(&[tx])[0]
    }

    /// Whether `receipt`'s signature is its member's (checked at most once per cache lifetime).
    pub fn verify_receipt(&self, receipt: &SignedComputeReceipt) -> bool {
        let message = receipt.receipt.digest().0.to_vec();
        let key = receipt_key(receipt, &message);
        if self.contains(&key) {
            return true;
        }
        let Some(public_key) = self.public_key(&SenderKey(receipt.node_key)) else {
            return false;
        };
        let valid = public_key.verify(
            hyperchain_types::RECEIPT_NAMESPACE,
            &message,
            &receipt.signature,
        );
        if valid {
            self.insert_all([key]);
        }
        valid
    }

    /// Which of `txs` carry their sender's signature, checking the ones not cached as one
    /// batch (one by one only if the batch fails). Signatures of the compute receipts the
    /// transactions carry are checked in the same batch and cached (see
    /// [`SignatureCache::verify_receipt`]); they do not affect the result.
    pub fn verify_all(&self, txs: &[&SignedTransaction]) -> Vec<bool> {
        let mut valid = vec![true; txs.len()];
        // (transaction, whether this is its receipt's signature, cache key, message, key)
        let mut unchecked: Vec<(usize, bool, Key, Vec<u8>, ed25519::PublicKey)> = Vec::new();
        for (i, tx) in txs.iter().enumerate() {
            let message = tx.tx.encode().to_vec();
            let key = key(tx, hyperchain_types::sha256(&message));
            if !self.contains(&key) {
                match self.public_key(&tx.tx.sender) {
                    Some(public_key) => unchecked.push((i, false, key, message, public_key)),
                    None => {
                        valid[i] = false;
                        continue;
                    }
                }
            }
            if let Payload::Receipt(r) = &tx.tx.payload {
                let message = r.receipt.digest().0.to_vec();
                let key = receipt_key(r, &message);
                if !self.contains(&key)
                    && let Some(public_key) = self.public_key(&SenderKey(r.node_key))
                {
                    unchecked.push((i, true, key, message, public_key));
                }
            }
        }
        if unchecked.is_empty() {
            return valid;
        }
        let signature = |i: usize, receipt: bool| -> &ed25519::Signature {
            match (&txs[i].tx.payload, receipt) {
                (Payload::Receipt(r), true) => &r.signature,
                _ => &txs[i].signature,
            }
        };
        let namespace = |receipt: bool| {
            if receipt {
                hyperchain_types::RECEIPT_NAMESPACE
            } else {
                TX_NAMESPACE
            }
        };
        let batch_ok = ed25519::PublicKey::verify_batch(
            &mut commonware_utils::sys_rng(),
            &unchecked,
            |_, (i, receipt, _, message, public_key)| BatchEntry {
                public_key,
                namespace: namespace(*receipt),
                message,
                signature: signature(*i, *receipt),
            },
            &commonware_parallel::Sequential,
        );
        if batch_ok {
            self.insert_all(unchecked.into_iter().map(|(_, _, key, _, _)| key));
            return valid;
        }
        let mut good = Vec::with_capacity(unchecked.len());
        for (i, receipt, key, message, public_key) in unchecked {
            if public_key.verify(namespace(receipt), &message, signature(i, receipt)) {
                good.push(key);
            } else if !receipt {
                valid[i] = false;
            }
        }
        self.insert_all(good);
        valid
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::Signer as _;
    use hyperchain_types::{Payload, Transaction};

    fn tx(seed: u64, nonce: u64) -> SignedTransaction {
        let key = ed25519::PrivateKey::from_seed(seed);
        let tx = Transaction {
            chain_id: Digest([7; 32]),
            sender: key.public_key().into(),
            nonce,
            fee: hyperchain_types::Fee::NONE,
            payload: Payload::Call {
                contract: hyperchain_types::Address([1; 32]),
                method: "m".into(),
                input: vec![nonce as u8],
                fuel_limit: 1,
            },
        };
        let signature = key.sign(TX_NAMESPACE, &tx.encode());
        SignedTransaction { tx, signature }
    }

    #[test]
    fn batch_agrees_with_single_and_finds_the_bad_ones() {
        let mut txs: Vec<SignedTransaction> = (0..20).map(|i| tx(i % 5, i)).collect();
        // Two forgeries: another transaction's signature, and a signature by another key.
        txs[3].signature = txs[4].signature.clone();
        txs[11].signature = tx(99, 11).signature;
        let cache = SignatureCache::new(100);
        let refs: Vec<&SignedTransaction> = txs.iter().collect();
        let verdicts = cache.verify_all(&refs);
        let single: Vec<bool> = txs.iter().map(|t| t.verify_signature()).collect();
        assert_eq!(verdicts, single);
        assert_eq!(verdicts.iter().filter(|v| !**v).count(), 2);
        // The good ones are cached, the bad ones are not; asking again gives the same answer.
        assert_eq!(cache.len(), 18);
        assert_eq!(cache.verify_all(&refs), single);
    }

    fn receipt_tx(seed: u64, forged: bool) -> SignedTransaction {
        let key = ed25519::PrivateKey::from_seed(seed);
        let mut receipt = hyperchain_types::ComputeReceipt {
            chain_id: Digest([7; 32]),
            contract: hyperchain_types::Address([1; 32]),
            lane_seq: seed,
            job: Digest([2; 32]),
            run: Default::default(),
            code_hash: Digest([3; 32]),
            pre_state: Digest([4; 32]),
            outcome: hyperchain_types::CallOutcome::failed(
                hyperchain_types::CallStatus::Ok,
                5,
                Default::default(),
            ),
        }
        .sign(&key);
        if forged {
            receipt.receipt.lane_seq += 100;
        }
        let tx = Transaction {
            chain_id: Digest([7; 32]),
            sender: key.public_key().into(),
            nonce: 0,
            fee: hyperchain_types::Fee::NONE,
            payload: Payload::Receipt(Box::new(receipt)),
        };
        let signature = key.sign(TX_NAMESPACE, &tx.encode());
        SignedTransaction { tx, signature }
    }

    #[test]
    fn receipts_join_the_batch_without_deciding_the_transaction() {
        let cache = SignatureCache::new(100);
        let good = receipt_tx(1, false);
        let forged = receipt_tx(2, true);
        let plain = tx(3, 0);
        // The forged receipt is inside a correctly signed transaction: the transaction is
        // valid, the receipt is not (and the batch failing falls back to single checks).
        assert_eq!(cache.verify_all(&[&good, &forged, &plain]), vec![true; 3]);
        let receipt = |t: &SignedTransaction| match &t.tx.payload {
            Payload::Receipt(r) => (**r).clone(),
            _ => unreachable!(),
        };
        // Three transactions and the good receipt are cached.
        assert_eq!(cache.len(), 4);
        assert!(cache.verify_receipt(&receipt(&good)));
        assert!(!cache.verify_receipt(&receipt(&forged)));
        assert_eq!(
            cache.verify_receipt(&receipt(&good)),
            receipt(&good).verify_signature()
        );
        // A receipt's cache entry does not vouch for the transaction carrying it, nor the
        // other way round.
        let fresh = SignatureCache::new(100);
        assert!(fresh.verify_receipt(&receipt(&good)));
        assert_eq!(fresh.len(), 1);
        assert!(fresh.verify(&good));
        assert_eq!(fresh.len(), 2);
    }

    #[test]
    fn a_cached_signature_vouches_only_for_its_own_bytes() {
        let cache = SignatureCache::new(100);
        let good = tx(1, 0);
        assert!(cache.verify(&good));
        // Same signature over other bytes: not a cache hit, and invalid.
        let mut altered = good.clone();
        altered.tx.nonce = 1;
        assert!(!cache.verify(&altered));
        // Same transaction, another (invalid) signature: not a cache hit either.
        let mut resigned = good.clone();
        resigned.signature = tx(2, 0).signature;
        assert!(!cache.verify(&resigned));
        assert!(cache.verify(&good));
    }

    #[test]
    fn a_sender_key_that_is_not_a_point_fails_the_check() {
        let not_a_point = (0u8..=255)
            .map(|b| hyperchain_types::SenderKey([b; 32]))
            .find(|k| k.public_key().is_none())
            .expect("some repeated byte is not a curve point");
        let mut bad = tx(1, 0);
        bad.tx.sender = not_a_point;
        let cache = SignatureCache::new(10);
        let good = tx(2, 0);
        assert_eq!(cache.verify_all(&[&good, &bad]), vec![true, false]);
        assert!(!bad.verify_signature());
    }

    #[test]
    fn capacity_bounds_the_cache() {
        let cache = SignatureCache::new(3);
        for i in 0..10 {
            assert!(cache.verify(&tx(1, i)));
        }
        assert_eq!(cache.len(), 3);
        let none = SignatureCache::new(0);
        assert!(none.verify(&tx(1, 0)));
        assert!(none.is_empty());
    }
}
