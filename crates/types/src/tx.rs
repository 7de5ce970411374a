//! Transactions: what accounts sign and validators order.
//!
//! A [`Transaction`] names the chain it is for, its sender's ed25519 public key, the sender's
//! next nonce and a [`Payload`]; a [`SignedTransaction`] adds the sender's signature over the
//! transaction's encoding in the [`TX_NAMESPACE`]. The transaction **id** is the SHA-256 of that
//! encoding, so it does not depend on the signature.

use crate::registry::{GovernanceAction, Registration};
use crate::{Address, Digest, sha256, sha256_parts};
use bytes::BufMut;
use commonware_codec::{
    Buf, Encode, EncodeSize, Error, RangeCfg, Read, ReadExt, ReadRangeExt, Write,
};
use commonware_cryptography::{Signer as _, Verifier as _, ed25519};
use serde::Serialize;

/// Domain separation for transaction signatures.
pub const TX_NAMESPACE: &[u8] = b"hyperchain/tx/v1";

/// Limits on transaction contents. Changing them is a protocol change.
pub mod tx_limits {
    /// Largest contract module a `Deploy` may carry.
    pub const MAX_CODE: usize = 2 * 1024 * 1024;
    /// Longest method name.
    pub const MAX_METHOD: usize = 64;
    /// Most regions a contract may require.
    pub const MAX_REGIONS: usize = 16;
    /// Longest region name.
    pub const MAX_REGION: usize = 32;
    /// Largest encoded signed transaction.
    pub const MAX_TX_SIZE: usize = MAX_CODE + 64 * 1024;
    /// Longest validator p2p address (`HOST:PORT`).
    pub const MAX_ADDRESS: usize = 64;
}

/// Who executes a contract's calls (docs/DESIGN.md §1). Chosen at deploy, bounded by chain policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "mode", content = "k", rename_all = "kebab-case")]
pub enum ExecutionMode {
    /// Every validator executes every call.
    Replicated,
    /// One attested TEE node.
    Single,
    /// `k` attested TEE nodes of any vendor, all agreeing.
    Committee(u8),
    /// One Intel and one AMD node in each required region, all agreeing.
    CrossVendor,
}

impl std::fmt::Display for ExecutionMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExecutionMode::Replicated => f.write_str("replicated"),
            ExecutionMode::Single => f.write_str("single"),
            ExecutionMode::Committee(k) => write!(f, "committee({k})"),
            ExecutionMode::CrossVendor => f.write_str("cross-vendor"),
        }
    }
}

impl std::str::FromStr for ExecutionMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "replicated" => ExecutionMode::Replicated,
            "single" => ExecutionMode::Single,
            "cross-vendor" => ExecutionMode::CrossVendor,
            other => {
                let k = other
                    .strip_prefix("committee(")
                    .and_then(|r| r.strip_suffix(')'))
                    .or_else(|| other.strip_prefix("committee:"))
                    .ok_or_else(|| {
                        format!("unknown mode `{other}`: expected replicated, single, committee(K) or cross-vendor")
                    })?;
                let k: u8 = k
                    .parse()
                    .map_err(|_| format!("committee size `{k}` is not a number 2..=255"))?;
                if k < 2 {
                    return Err("a committee has at least 2 members (use `single` for one)".into());
                }
                ExecutionMode::Committee(k)
            }
        })
    }
}

/// What a transaction does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// Deploy a contract. Its address is derived from the sender and nonce
    /// ([`contract_address`]).
    Deploy {
        /// The WebAssembly module.
        code: Vec<u8>,
        /// Who executes its calls.
        mode: ExecutionMode,
        /// Regions whose compute nodes execute it (TEE modes).
        regions: Vec<String>,
    },
    /// Call a contract method.
    Call {
        /// The contract.
        contract: Address,
        /// Exported method name.
        method: String,
        /// Input bytes (the SDK's argument encoding).
        input: Vec<u8>,
        /// Most fuel the call may use.
        fuel_limit: u64,
    },
    /// Register a compute node with its attestation evidence.
    Register(Registration),
    /// Fresh evidence for a registered node (same identity key and measurement).
    Reattest(Registration),
    /// A committee member's signed result of a job (any account may carry it; the receipt is
    /// signed by the member's enclave identity key).
    Receipt(Box<crate::SignedComputeReceipt>),
    /// End a compute node's membership (sent by its owner); its bond unlocks after the
    /// unbonding delay.
    Deregister {
        /// The node id.
        node: Digest,
    },
    /// Return a node's bond to its owner (sent by the owner) once its membership ended and
    /// the unbonding delay passed.
    WithdrawBond {
        /// The node id.
        node: Digest,
    },
    /// Propose a governance action (sent by a validator's account); it takes effect once
    /// 2f+1 validators approved it.
    Propose(GovernanceAction),
    /// Approve an open proposal (sent by a validator's account).
    Approve {
        /// The proposal id (its proposing transaction's id).
        proposal: Digest,
    },
    /// Announce a validator candidate: the sender's key is its ed25519 consensus key, and
    /// `address` (`HOST:PORT`) where its p2p listens. Governance may then admit it
    /// (`GovernanceAction::AdmitValidator`). A validator announces again to change address.
    AnnounceValidator {
        /// Its p2p address (at most [`tx_limits::MAX_ADDRESS`] bytes).
        address: String,
    },
    /// Move native tokens from the sender to another account.
    Transfer {
        /// The receiving account.
        to: Address,
        /// How many base units (1 HYP = 10^9 base units).
        amount: u128,
    },
}

/// What a transaction's sender offers to pay (docs/DESIGN.md §10).
///
/// The chain charges what the transaction used by the fee schedule of its policy, never more
/// than `limit`; `tip` goes to the block's proposer on top, and orders transactions across
/// senders in the mempool. The sender must hold `limit + tip` (plus what it transfers) when
/// the transaction is admitted and when a block includes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Fee {
    /// The most the schedule's charges may take, in base units.
    pub limit: u64,
    /// Paid to the proposer in full, in base units.
    pub tip: u64,
}

impl Fee {
    /// No fee: for chains whose schedule charges nothing, and for compute receipts (paid from
    /// their job's escrow).
    pub const NONE: Fee = Fee { limit: 0, tip: 0 };

    /// A fee limit without a tip.
    pub const fn limit(limit: u64) -> Fee {
        Fee { limit, tip: 0 }
    }

    /// The most the sender can be debited for it: `limit + tip`.
    pub fn max_total(&self) -> u128 {
        self.limit as u128 + self.tip as u128
    }
}

/// A sender's ed25519 public key as its 32 encoded bytes.
///
/// Kept encoded on purpose: decoding an ed25519 key (point decompression) costs about as much
/// as half a signature check, and blocks are decoded several times on their way through a
/// validator (broadcast, storage, execution). The key is decompressed once, when the signature
/// is checked; bytes that are not a valid key make the signature check fail.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SenderKey(pub [u8; 32]);

impl SenderKey {
    /// The decoded key, or `None` if the bytes are not a valid ed25519 public key.
    pub fn public_key(&self) -> Option<ed25519::PublicKey> {
        ed25519::PublicKey::read(&mut bytes::Bytes::copy_from_slice(&self.0)).ok()
    }

    /// The sender's account address ([`account_address`] of the key).
    pub fn address(&self) -> Address {
        Address(sha256_parts(&[b"hyperchain/account", &self.0]).0)
    }
}

impl From<ed25519::PublicKey> for SenderKey {
    fn from(key: ed25519::PublicKey) -> Self {
        SenderKey::from(&key)
    }
}

impl From<&ed25519::PublicKey> for SenderKey {
    fn from(key: &ed25519::PublicKey) -> Self {
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(key.as_ref());
        SenderKey(bytes)
    }
}

impl std::fmt::Debug for SenderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SenderKey({})", hex::encode(self.0))
    }
}

impl Write for SenderKey {
    fn write(&self, buf: &mut impl BufMut) {
        self.0.write(buf);
    }
}
impl commonware_codec::FixedSize for SenderKey {
    const SIZE: usize = 32;
}
impl Read for SenderKey {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(SenderKey(<[u8; 32]>::read(buf)?))
    }
}

/// An unsigned transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// The chain this transaction is valid on.
    pub chain_id: Digest,
    /// The sender's public key; the sender's address is [`account_address`] of it.
    pub sender: SenderKey,
    /// The sender's next nonce (0 for its first transaction).
    pub nonce: u64,
    /// What the sender pays at most.
    pub fee: Fee,
    /// What to do.
    pub payload: Payload,
}

/// A transaction with its sender's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTransaction {
    /// The transaction.
    pub tx: Transaction,
    /// Signature by `tx.sender` over `tx.encode()` in [`TX_NAMESPACE`].
    pub signature: ed25519::Signature,
}

/// The address of the account controlled by `key`.
pub fn account_address(key: &ed25519::PublicKey) -> Address {
    SenderKey::from(key).address()
}

/// The address of the contract deployed by `deployer` with nonce `nonce`.
pub fn contract_address(deployer: &Address, nonce: u64) -> Address {
    Address(sha256_parts(&[b"hyperchain/contract", &deployer.0, &nonce.to_be_bytes()]).0)
}

impl Transaction {
    /// Signs with `key` (which must be `self.sender`'s private key).
    pub fn sign(self, key: &ed25519::PrivateKey) -> SignedTransaction {
        let signature = key.sign(TX_NAMESPACE, &self.encode());
        SignedTransaction {
            tx: self,
            signature,
        }
    }

    /// The transaction id.
    pub fn id(&self) -> Digest {
        sha256(&self.encode())
    }

    /// The sender's address.
    pub fn sender_address(&self) -> Address {
        self.sender.address()
    }
}

impl SignedTransaction {
    /// The transaction id.
    pub fn id(&self) -> Digest {
        self.tx.id()
    }

    /// Whether the signature is the sender's over this transaction.
    pub fn verify_signature(&self) -> bool {
        self.tx
            .sender
            .public_key()
            .is_some_and(|key| key.verify(TX_NAMESPACE, &self.tx.encode(), &self.signature))
    }
}

// ---- canonical encoding ----

impl Write for ExecutionMode {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            ExecutionMode::Replicated => 0u8.write(buf),
            ExecutionMode::Single => 1u8.write(buf),
            ExecutionMode::Committee(k) => {
                2u8.write(buf);
                k.write(buf);
            }
            ExecutionMode::CrossVendor => 3u8.write(buf),
        }
    }
}
impl EncodeSize for ExecutionMode {
    fn encode_size(&self) -> usize {
        if matches!(self, ExecutionMode::Committee(_)) {
            2
        } else {
            1
        }
    }
}
impl Read for ExecutionMode {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(match u8::read(buf)? {
            0 => ExecutionMode::Replicated,
            1 => ExecutionMode::Single,
            2 => match u8::read(buf)? {
                k @ 2.. => ExecutionMode::Committee(k),
                _ => return Err(Error::Invalid("ExecutionMode", "committee of fewer than 2")),
            },
            3 => ExecutionMode::CrossVendor,
            t => return Err(Error::InvalidEnum(t)),
        })
    }
}

fn write_str(s: &str, buf: &mut impl BufMut) {
    s.as_bytes().to_vec().write(buf);
}

fn read_str(buf: &mut impl Buf, max: usize, what: &'static str) -> Result<String, Error> {
    let raw = Vec::<u8>::read_range(buf, 0..=max)?;
    String::from_utf8(raw).map_err(|_| Error::Invalid(what, "not UTF-8"))
}

impl Write for Payload {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            Payload::Deploy {
                code,
                mode,
                regions,
            } => {
                0u8.write(buf);
                code.write(buf);
                mode.write(buf);
                (regions.len() as u32).write(buf);
                for r in regions {
                    write_str(r, buf);
                }
            }
            Payload::Call {
                contract,
                method,
                input,
                fuel_limit,
            } => {
                1u8.write(buf);
                contract.write(buf);
                write_str(method, buf);
                input.write(buf);
                fuel_limit.write(buf);
            }
            Payload::Register(r) => {
                2u8.write(buf);
                r.write(buf);
            }
            Payload::Reattest(r) => {
                3u8.write(buf);
                r.write(buf);
            }
            Payload::Receipt(r) => {
                5u8.write(buf);
                r.write(buf);
            }
            Payload::Transfer { to, amount } => {
                6u8.write(buf);
                to.write(buf);
                amount.write(buf);
            }
            Payload::Deregister { node } => {
                7u8.write(buf);
                node.write(buf);
            }
            Payload::WithdrawBond { node } => {
                8u8.write(buf);
                node.write(buf);
            }
            Payload::Propose(action) => {
                9u8.write(buf);
                action.write(buf);
            }
            Payload::Approve { proposal } => {
                10u8.write(buf);
                proposal.write(buf);
            }
            Payload::AnnounceValidator { address } => {
                11u8.write(buf);
                address.as_bytes().to_vec().write(buf);
            }
        }
    }
}
impl EncodeSize for Payload {
    fn encode_size(&self) -> usize {
        1 + match self {
            Payload::Deploy {
                code,
                mode,
                regions,
            } => {
                code.encode_size()
                    + mode.encode_size()
                    + 4
                    + regions
                        .iter()
                        .map(|r| r.as_bytes().to_vec().encode_size())
                        .sum::<usize>()
            }
            Payload::Call {
                contract,
                method,
                input,
                fuel_limit,
            } => {
                contract.encode_size()
                    + method.as_bytes().to_vec().encode_size()
                    + input.encode_size()
                    + fuel_limit.encode_size()
            }
            Payload::Register(r) | Payload::Reattest(r) => r.encode_size(),
            Payload::Receipt(r) => r.encode_size(),
            Payload::Transfer { to, amount } => to.encode_size() + amount.encode_size(),
            Payload::Deregister { node } | Payload::WithdrawBond { node } => node.encode_size(),
            Payload::Propose(action) => action.encode_size(),
            Payload::Approve { proposal } => proposal.encode_size(),
            Payload::AnnounceValidator { address } => address.as_bytes().to_vec().encode_size(),
        }
    }
}
impl Read for Payload {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        match u8::read(buf)? {
            0 => {
                let code = Vec::<u8>::read_range(buf, 0..=tx_limits::MAX_CODE)?;
                let mode = ExecutionMode::read(buf)?;
                let n = u32::read(buf)? as usize;
                if n > tx_limits::MAX_REGIONS {
                    return Err(Error::Invalid("Deploy", "too many regions"));
                }
                let regions = (0..n)
                    .map(|_| read_str(buf, tx_limits::MAX_REGION, "region"))
                    .collect::<Result<_, _>>()?;
                Ok(Payload::Deploy {
                    code,
                    mode,
                    regions,
                })
            }
            1 => Ok(Payload::Call {
                contract: Address::read(buf)?,
                method: read_str(buf, tx_limits::MAX_METHOD, "method")?,
                input: Vec::<u8>::read_range(buf, 0..=crate::limits::MAX_INPUT)?,
                fuel_limit: u64::read(buf)?,
            }),
            2 => Ok(Payload::Register(Registration::read(buf)?)),
            3 => Ok(Payload::Reattest(Registration::read(buf)?)),
            // 4 was a single governance key's action: governance is by proposal now.
            5 => Ok(Payload::Receipt(Box::new(
                crate::SignedComputeReceipt::read(buf)?,
            ))),
            6 => Ok(Payload::Transfer {
                to: Address::read(buf)?,
                amount: u128::read(buf)?,
            }),
            7 => Ok(Payload::Deregister {
                node: Digest::read(buf)?,
            }),
            8 => Ok(Payload::WithdrawBond {
                node: Digest::read(buf)?,
            }),
            9 => Ok(Payload::Propose(GovernanceAction::read(buf)?)),
            10 => Ok(Payload::Approve {
                proposal: Digest::read(buf)?,
            }),
            11 => Ok(Payload::AnnounceValidator {
                address: read_str(buf, tx_limits::MAX_ADDRESS, "address")?,
            }),
            t => Err(Error::InvalidEnum(t)),
        }
    }
}

impl Write for Transaction {
    fn write(&self, buf: &mut impl BufMut) {
        self.chain_id.write(buf);
        self.sender.write(buf);
        self.nonce.write(buf);
        self.fee.limit.write(buf);
        self.fee.tip.write(buf);
        self.payload.write(buf);
    }
}
impl EncodeSize for Transaction {
    fn encode_size(&self) -> usize {
        self.chain_id.encode_size()
            + self.sender.encode_size()
            + self.nonce.encode_size()
            + 16
            + self.payload.encode_size()
    }
}
impl Read for Transaction {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(Transaction {
            chain_id: Digest::read(buf)?,
            sender: SenderKey::read(buf)?,
            nonce: u64::read(buf)?,
            fee: Fee {
                limit: u64::read(buf)?,
                tip: u64::read(buf)?,
            },
            payload: Payload::read(buf)?,
        })
    }
}

impl Write for SignedTransaction {
    fn write(&self, buf: &mut impl BufMut) {
        self.tx.write(buf);
        self.signature.write(buf);
    }
}
impl EncodeSize for SignedTransaction {
    fn encode_size(&self) -> usize {
        self.tx.encode_size() + self.signature.encode_size()
    }
}
impl Read for SignedTransaction {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(SignedTransaction {
            tx: Transaction::read(buf)?,
            signature: ed25519::Signature::read(buf)?,
        })
    }
}

/// Bounds for decoding a list of transactions (a block body).
pub fn tx_list_cfg(max: usize) -> (RangeCfg<usize>, ()) {
    ((0..=max).into(), ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{Decode, DecodeExt};
    use proptest::prelude::*;

    fn key(seed: u64) -> ed25519::PrivateKey {
        ed25519::PrivateKey::from_seed(seed)
    }

    fn call(nonce: u64) -> Transaction {
        Transaction {
            chain_id: sha256(b"test chain"),
            sender: key(1).public_key().into(),
            nonce,
            fee: Fee {
                limit: 90_000,
                tip: 5,
            },
            payload: Payload::Call {
                contract: Address([5; 32]),
                method: "increment".into(),
                input: vec![1, 2],
                fuel_limit: 1000,
            },
        }
    }

    #[test]
    fn signatures_bind_every_field() {
        let signed = call(0).sign(&key(1));
        assert!(signed.verify_signature());
        let mut other = signed.clone();
        other.tx.nonce = 1;
        assert!(!other.verify_signature());
        let mut cheaper = signed.clone();
        cheaper.tx.fee.limit -= 1;
        assert!(!cheaper.verify_signature());
        let mut no_tip = signed.clone();
        no_tip.tx.fee.tip = 0;
        assert!(!no_tip.verify_signature());
        let mut wrong_chain = signed.clone();
        wrong_chain.tx.chain_id = sha256(b"other chain");
        assert!(!wrong_chain.verify_signature());
        let by_other_key = call(0).sign(&key(2));
        assert!(!by_other_key.verify_signature());
        assert_eq!(signed.id(), call(0).id());
        assert_ne!(call(0).id(), call(1).id());
    }

    #[test]
    fn mode_parses_and_prints() {
        for m in [
            ExecutionMode::Replicated,
            ExecutionMode::Single,
            ExecutionMode::Committee(3),
            ExecutionMode::CrossVendor,
        ] {
            assert_eq!(m.to_string().parse::<ExecutionMode>().unwrap(), m);
        }
        assert!("committee(1)".parse::<ExecutionMode>().is_err());
        assert!(
            "fast"
                .parse::<ExecutionMode>()
                .unwrap_err()
                .contains("unknown mode")
        );
    }

    fn payload() -> impl Strategy<Value = Payload> {
        prop_oneof![
            (
                prop::collection::vec(any::<u8>(), 0..64),
                0u8..4,
                prop::collection::vec("[a-z]{0,8}", 0..3)
            )
                .prop_map(|(code, m, regions)| {
                    let mode = match m {
                        0 => ExecutionMode::Replicated,
                        1 => ExecutionMode::Single,
                        2 => ExecutionMode::Committee(3),
                        _ => ExecutionMode::CrossVendor,
                    };
                    Payload::Deploy {
                        code,
                        mode,
                        regions,
                    }
                }),
            (
                any::<[u8; 32]>(),
                "[a-z_]{0,16}",
                prop::collection::vec(any::<u8>(), 0..64),
                any::<u64>()
            )
                .prop_map(|(c, method, input, fuel_limit)| Payload::Call {
                    contract: Address(c),
                    method,
                    input,
                    fuel_limit
                }),
            (any::<[u8; 32]>(), any::<u128>()).prop_map(|(to, amount)| Payload::Transfer {
                to: Address(to),
                amount
            }),
            any::<[u8; 32]>().prop_map(|n| Payload::Deregister { node: Digest(n) }),
            any::<[u8; 32]>().prop_map(|n| Payload::WithdrawBond { node: Digest(n) }),
            any::<[u8; 32]>().prop_map(|p| Payload::Approve {
                proposal: Digest(p)
            }),
        ]
    }

    proptest! {
        #[test]
        fn signed_transactions_round_trip(
            p in payload(), nonce in any::<u64>(), seed in 0u64..4, limit in any::<u64>(), tip in any::<u64>()
        ) {
            let tx = Transaction {
                chain_id: sha256(b"c"),
                sender: key(seed).public_key().into(),
                nonce,
                fee: Fee { limit, tip },
                payload: p,
            };
            let signed = tx.sign(&key(seed));
            let enc = signed.encode();
            prop_assert_eq!(enc.len(), signed.encode_size());
            let dec = SignedTransaction::decode(enc).unwrap();
            prop_assert!(dec.verify_signature());
            prop_assert_eq!(dec, signed);
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = SignedTransaction::decode_cfg(bytes::Bytes::from(b), &());
        }
    }
}
