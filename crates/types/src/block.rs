//! Blocks, receipts and contract records.
//!
//! A [`Block`] is a [`Header`] and an ordered list of [`SignedTransaction`]s. The header
//! commits to the transactions through [`tx_root`] and to the state **after** executing the
//! block through `state_root`; the block's digest ([`Header::digest`]) is the SHA-256 of the
//! header's encoding, so it commits to everything.
//!
//! Encodings (all integers big-endian, lengths as commonware varints):
//!
//! | item | encoding |
//! |---|---|
//! | `Header` | `chain_id (32) ‖ height (u64) ‖ parent (32) ‖ timestamp_ms (u64) ‖ tx_root (32) ‖ state_root (32) ‖ epoch (u64) ‖ view (u64) ‖ parent_view (u64) ‖ leader (32) ‖ seed_epoch (u64) ‖ seed_view (u64) ‖ seed_signature (48) ‖ reshare (32)` — 296 bytes; `seed_view = 0` (and `seed_epoch = 0`) and a zero signature when the block reveals no seed; `reshare` is the SHA-256 of the block's reshare payload, zero without one |
//! | `Round` | `epoch (u64) ‖ view (u64)` |
//! | `Block` | `Header ‖ len ‖ SignedTransaction* ‖ option(len ‖ reshare payload)`, at most [`block_limits::MAX_BLOCK_TXS`] transactions and [`block_limits::MAX_BLOCK_BYTES`] bytes; the payload (at most [`block_limits::MAX_RESHARE_PAYLOAD`] bytes) must hash to the header's `reshare` |
//! | `tx_root` | `sha256("hyperchain/tx-root/v1" ‖ n (u32 BE) ‖ id_1 ‖ … ‖ id_n)` |
//! | `Receipt` | `tx_id (32) ‖ height (u64) ‖ index (u32) ‖ ReceiptStatus ‖ fuel_used (u64) ‖ fee (u64)` |
//! | `ContractRecord` | `code_hash (32) ‖ mode ‖ deployer (32) ‖ n (u32) ‖ region*` |

use crate::tx::{ExecutionMode, SignedTransaction, tx_limits};
use crate::{Address, CallStatus, Digest, Event, limits, sha256, sha256_parts};
use bytes::BufMut;
use commonware_codec::{
    Buf, Encode, EncodeSize, Error, FixedSize, Read, ReadExt, ReadRangeExt, Write,
};

/// Limits on blocks. Changing them is a protocol change.
pub mod block_limits {
    /// Most transactions in one block.
    pub const MAX_BLOCK_TXS: usize = 10_000;
    /// Largest encoded block (header and transactions).
    pub const MAX_BLOCK_BYTES: usize = 8 * 1024 * 1024;
    /// Most fuel the calls of one block may use: a call is included only if its `fuel_limit`
    /// fits in what the block's earlier calls left.
    pub const MAX_BLOCK_FUEL: u64 = 20_000_000_000;
    /// Longest rejection reason kept in a receipt.
    pub const MAX_REASON: usize = 1024;
    /// Largest reshare payload a block carries (a dealer log or an epoch's key-generation
    /// output; about 350 KiB for 1,024 validators).
    pub const MAX_RESHARE_PAYLOAD: usize = 1024 * 1024;
}

/// A consensus round: the epoch and the view within it. Each epoch's simplex instance starts
/// its views again, so rounds — ordered by epoch, then view — order blocks, seeds and jobs;
/// bare views would not (docs/DESIGN.md §11).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Round {
    /// The epoch (0 from genesis).
    pub epoch: u64,
    /// The view within the epoch.
    pub view: u64,
}

impl Round {
    /// The genesis round.
    pub const ZERO: Round = Round { epoch: 0, view: 0 };

    /// Round `view` of `epoch`.
    pub const fn new(epoch: u64, view: u64) -> Round {
        Round { epoch, view }
    }
}

impl std::fmt::Display for Round {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.epoch, self.view)
    }
}

impl Write for Round {
    fn write(&self, buf: &mut impl BufMut) {
        self.epoch.write(buf);
        self.view.write(buf);
    }
}
impl FixedSize for Round {
    const SIZE: usize = 2 * u64::SIZE;
}
impl Read for Round {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(Round {
            epoch: u64::read(buf)?,
            view: u64::read(buf)?,
        })
    }
}

/// A block header.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// The chain this block belongs to.
    pub chain_id: Digest,
    /// 0 for genesis, parent's height + 1 otherwise.
    pub height: u64,
    /// Digest of the parent block ([`Digest::ZERO`] for genesis).
    pub parent: Digest,
    /// Milliseconds since the Unix epoch; strictly greater than the parent's.
    pub timestamp_ms: u64,
    /// [`tx_root`] of the block's transactions.
    pub tx_root: Digest,
    /// The state root after executing this block's transactions.
    pub state_root: Digest,
    /// The consensus epoch the block was proposed in (0 from genesis).
    pub epoch: u64,
    /// The consensus view within `epoch` the block was proposed in (0 for genesis); its round
    /// ([`Header::round`]) is after the parent's.
    pub view: u64,
    /// The parent's view if the parent is of the same epoch, else 0 (the parent is then the
    /// previous epoch's last block, from which this epoch's views start; also 0 for genesis
    /// and its children). With `epoch`, `view` and `leader` it is the consensus context the
    /// block was proposed in, which validators check before voting to notarize it without
    /// executing it first.
    pub parent_view: u64,
    /// The proposer's ed25519 consensus key (zeros for genesis).
    pub leader: [u8; 32],
    /// A consensus seed revealed by this block (committee randomness, docs/DESIGN.md §5): the
    /// threshold-BLS VRF signature of an earlier round (exactly the parent's), newer than
    /// every seed its ancestors revealed.
    pub seed: Option<SeedReveal>,
    /// SHA-256 of the block's reshare payload ([`Block::reshare`]), [`Digest::ZERO`] when it
    /// carries none: the header digest commits to it.
    pub reshare: Digest,
}

/// Domain of the randomness derived from a revealed seed.
pub const SEED_DOMAIN: &[u8] = b"hyperchain/seed/v1";

/// A consensus seed carried in a header: the round it belongs to and its threshold signature
/// (a 48-byte BLS12-381 G1 point). Nobody knows a round's seed before 2f+1 validators have
/// voted in that round, so a seed of a round after the one that ordered a job was unknown
/// when the job was ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeedReveal {
    /// The round the seed signs (its view is never 0).
    pub round: Round,
    /// The threshold signature over the round.
    pub signature: [u8; 48],
}

impl SeedReveal {
    /// The 32 bytes of randomness committees are drawn from.
    pub fn randomness(&self) -> Digest {
        sha256_parts(&[
            SEED_DOMAIN,
            &self.round.epoch.to_be_bytes(),
            &self.round.view.to_be_bytes(),
            &self.signature,
        ])
    }
}

impl Header {
    /// The round the block was proposed in.
    pub fn round(&self) -> Round {
        Round::new(self.epoch, self.view)
    }

    /// The block digest: SHA-256 of the header's encoding.
    pub fn digest(&self) -> Digest {
        sha256(&self.encode())
    }
}

/// A block: header and transactions, in execution order, and the reshare payload it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The header.
    pub header: Header,
    /// The transactions.
    pub txs: Vec<SignedTransaction>,
    /// The epochs' key resharing's payload (an encoded commonware-glue `dkg::types::Payload`:
    /// a dealer's signed log, or the epoch's output in its last block), opaque here; the
    /// header's `reshare` is its SHA-256.
    pub reshare: Option<Vec<u8>>,
}

/// The header commitment to a block's reshare payload: its SHA-256, zero without one.
pub fn reshare_digest(payload: Option<&[u8]>) -> Digest {
    payload.map_or(Digest::ZERO, sha256)
}

impl Block {
    /// The genesis block of `chain_id` whose (genesis) state has root `state_root`.
    pub fn genesis(chain_id: Digest, timestamp_ms: u64, state_root: Digest) -> Block {
        Block {
            header: Header {
                chain_id,
                height: 0,
                parent: Digest::ZERO,
                timestamp_ms,
                tx_root: tx_root(&[]),
                state_root,
                epoch: 0,
                view: 0,
                parent_view: 0,
                leader: [0; 32],
                seed: None,
                reshare: Digest::ZERO,
            },
            txs: Vec::new(),
            reshare: None,
        }
    }

    /// The block digest ([`Header::digest`]).
    pub fn digest(&self) -> Digest {
        self.header.digest()
    }
}

/// The commitment to a list of transactions: a hash over their ids, in order.
pub fn tx_root(txs: &[SignedTransaction]) -> Digest {
    let ids: Vec<Digest> = txs.iter().map(SignedTransaction::id).collect();
    tx_root_from_ids(&ids)
}

/// [`tx_root`] of transactions whose ids are already known.
pub fn tx_root_from_ids(ids: &[Digest]) -> Digest {
    let count = (ids.len() as u32).to_be_bytes();
    let mut parts: Vec<&[u8]> = Vec::with_capacity(ids.len() + 2);
    parts.push(b"hyperchain/tx-root/v1");
    parts.push(&count);
    parts.extend(ids.iter().map(|id| id.as_ref()));
    sha256_parts(&parts)
}

/// What a contract's address refers to, stored in the root tree under `contract/ ‖ address`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContractRecord {
    /// SHA-256 of the module (stored under `code/ ‖ code_hash`).
    pub code_hash: Digest,
    /// Who executes its calls.
    pub mode: ExecutionMode,
    /// The deploying account.
    pub deployer: Address,
    /// Regions of its compute nodes (TEE modes).
    pub regions: Vec<String>,
}

/// How a transaction ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReceiptStatus {
    /// A contract was deployed.
    Deployed {
        /// Its address.
        address: Address,
        /// SHA-256 of its module.
        code_hash: Digest,
    },
    /// A call ran (successfully or not); a failed call has no output, events or effects.
    Called {
        /// How the call ended.
        status: CallStatus,
        /// Return data.
        output: Vec<u8>,
        /// Events in emission order.
        events: Vec<Event>,
    },
    /// The transaction was valid (signature, chain, nonce) but could not be applied; its nonce
    /// is consumed and nothing else changes.
    Rejected(String),
    /// A registry or governance transaction was applied, or a compute receipt was counted.
    Accepted,
    /// A call to a contract that runs on compute nodes became a job on the contract's lane;
    /// its result is applied when its committee agrees (see the job record).
    Queued {
        /// The job id (the call transaction's id).
        job: Digest,
        /// Its position in the lane.
        lane_seq: u64,
    },
}

/// The result of one transaction of a finalized block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The transaction id.
    pub tx_id: Digest,
    /// Height of the block that includes it.
    pub height: u64,
    /// Position in the block.
    pub index: u32,
    /// What happened.
    pub status: ReceiptStatus,
    /// Fuel consumed (0 for deploys and rejections).
    pub fuel_used: u64,
    /// What the transaction's payer was charged, tip included (docs/DESIGN.md §10).
    pub fee: u64,
}

// ---- canonical encoding ----

fn write_string(s: &str, buf: &mut impl BufMut) {
    s.as_bytes().to_vec().write(buf);
}

fn string_size(s: &str) -> usize {
    s.as_bytes().to_vec().encode_size()
}

fn read_string(buf: &mut impl Buf, max: usize, what: &'static str) -> Result<String, Error> {
    let raw = Vec::<u8>::read_range(buf, 0..=max)?;
    String::from_utf8(raw).map_err(|_| Error::Invalid(what, "not UTF-8"))
}

impl Write for Header {
    fn write(&self, buf: &mut impl BufMut) {
        self.chain_id.write(buf);
        self.height.write(buf);
        self.parent.write(buf);
        self.timestamp_ms.write(buf);
        self.tx_root.write(buf);
        self.state_root.write(buf);
        self.epoch.write(buf);
        self.view.write(buf);
        self.parent_view.write(buf);
        self.leader.write(buf);
        match &self.seed {
            Some(seed) => {
                seed.round.write(buf);
                seed.signature.write(buf);
            }
            None => {
                Round::ZERO.write(buf);
                [0u8; 48].write(buf);
            }
        }
        self.reshare.write(buf);
    }
}
impl FixedSize for Header {
    const SIZE: usize = 6 * Digest::SIZE + 7 * u64::SIZE + 48;
}
impl Read for Header {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(Header {
            chain_id: Digest::read(buf)?,
            height: u64::read(buf)?,
            parent: Digest::read(buf)?,
            timestamp_ms: u64::read(buf)?,
            tx_root: Digest::read(buf)?,
            state_root: Digest::read(buf)?,
            epoch: u64::read(buf)?,
            view: u64::read(buf)?,
            parent_view: u64::read(buf)?,
            leader: <[u8; 32]>::read(buf)?,
            seed: {
                let round = Round::read(buf)?;
                let signature = <[u8; 48]>::read(buf)?;
                match (round.view, signature == [0u8; 48]) {
                    (0, true) if round.epoch == 0 => None,
                    (0, _) => {
                        return Err(Error::Invalid(
                            "Header",
                            "seed signature or epoch without a seed view",
                        ));
                    }
                    _ => Some(SeedReveal { round, signature }),
                }
            },
            reshare: Digest::read(buf)?,
        })
    }
}

impl Write for Block {
    fn write(&self, buf: &mut impl BufMut) {
        self.header.write(buf);
        self.txs.write(buf);
        self.reshare.write(buf);
    }
}
impl EncodeSize for Block {
    fn encode_size(&self) -> usize {
        Header::SIZE + self.txs.encode_size() + self.reshare.encode_size()
    }
}
impl Read for Block {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let start = buf.remaining();
        let header = Header::read(buf)?;
        let txs = Vec::<SignedTransaction>::read_cfg(
            buf,
            &crate::tx_list_cfg(block_limits::MAX_BLOCK_TXS),
        )?;
        let reshare = Option::<Vec<u8>>::read_cfg(
            buf,
            &(
                commonware_codec::RangeCfg::new(0..=block_limits::MAX_RESHARE_PAYLOAD),
                (),
            ),
        )?;
        if start - buf.remaining() > block_limits::MAX_BLOCK_BYTES {
            return Err(Error::Invalid("Block", "larger than MAX_BLOCK_BYTES"));
        }
        if reshare_digest(reshare.as_deref()) != header.reshare {
            return Err(Error::Invalid(
                "Block",
                "reshare payload does not match the header",
            ));
        }
        Ok(Block {
            header,
            txs,
            reshare,
        })
    }
}

impl Write for ContractRecord {
    fn write(&self, buf: &mut impl BufMut) {
        self.code_hash.write(buf);
        self.mode.write(buf);
        self.deployer.write(buf);
        (self.regions.len() as u32).write(buf);
        for r in &self.regions {
            write_string(r, buf);
        }
    }
}
impl EncodeSize for ContractRecord {
    fn encode_size(&self) -> usize {
        Digest::SIZE
            + self.mode.encode_size()
            + Address::SIZE
            + 4
            + self.regions.iter().map(|r| string_size(r)).sum::<usize>()
    }
}
impl Read for ContractRecord {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let code_hash = Digest::read(buf)?;
        let mode = ExecutionMode::read(buf)?;
        let deployer = Address::read(buf)?;
        let n = u32::read(buf)? as usize;
        if n > tx_limits::MAX_REGIONS {
            return Err(Error::Invalid("ContractRecord", "too many regions"));
        }
        let regions = (0..n)
            .map(|_| read_string(buf, tx_limits::MAX_REGION, "region"))
            .collect::<Result<_, _>>()?;
        Ok(ContractRecord {
            code_hash,
            mode,
            deployer,
            regions,
        })
    }
}

impl Write for ReceiptStatus {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            ReceiptStatus::Deployed { address, code_hash } => {
                0u8.write(buf);
                address.write(buf);
                code_hash.write(buf);
            }
            ReceiptStatus::Called {
                status,
                output,
                events,
            } => {
                1u8.write(buf);
                status.write(buf);
                output.write(buf);
                events.write(buf);
            }
            ReceiptStatus::Rejected(reason) => {
                2u8.write(buf);
                write_string(reason, buf);
            }
            ReceiptStatus::Accepted => 3u8.write(buf),
            ReceiptStatus::Queued { job, lane_seq } => {
                4u8.write(buf);
                job.write(buf);
                lane_seq.write(buf);
            }
        }
    }
}
impl EncodeSize for ReceiptStatus {
    fn encode_size(&self) -> usize {
        1 + match self {
            ReceiptStatus::Deployed { .. } => Address::SIZE + Digest::SIZE,
            ReceiptStatus::Called {
                status,
                output,
                events,
            } => status.encode_size() + output.encode_size() + events.encode_size(),
            ReceiptStatus::Rejected(reason) => string_size(reason),
            ReceiptStatus::Accepted => 0,
            ReceiptStatus::Queued { .. } => Digest::SIZE + u64::SIZE,
        }
    }
}
impl Read for ReceiptStatus {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        match u8::read(buf)? {
            0 => Ok(ReceiptStatus::Deployed {
                address: Address::read(buf)?,
                code_hash: Digest::read(buf)?,
            }),
            1 => {
                let status = CallStatus::read(buf)?;
                let output = Vec::<u8>::read_range(buf, 0..=limits::MAX_OUTPUT)?;
                let events = Vec::<Event>::read_cfg(buf, &((0..=limits::MAX_EVENTS).into(), ()))?;
                if !status.is_ok() && (!output.is_empty() || !events.is_empty()) {
                    return Err(Error::Invalid(
                        "ReceiptStatus",
                        "a failed call carries output or events",
                    ));
                }
                Ok(ReceiptStatus::Called {
                    status,
                    output,
                    events,
                })
            }
            2 => Ok(ReceiptStatus::Rejected(read_string(
                buf,
                block_limits::MAX_REASON,
                "reason",
            )?)),
            3 => Ok(ReceiptStatus::Accepted),
            4 => Ok(ReceiptStatus::Queued {
                job: Digest::read(buf)?,
                lane_seq: u64::read(buf)?,
            }),
            t => Err(Error::InvalidEnum(t)),
        }
    }
}

impl Write for Receipt {
    fn write(&self, buf: &mut impl BufMut) {
        self.tx_id.write(buf);
        self.height.write(buf);
        self.index.write(buf);
        self.status.write(buf);
        self.fuel_used.write(buf);
        self.fee.write(buf);
    }
}
impl EncodeSize for Receipt {
    fn encode_size(&self) -> usize {
        Digest::SIZE + u64::SIZE + u32::SIZE + self.status.encode_size() + 2 * u64::SIZE
    }
}
impl Read for Receipt {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(Receipt {
            tx_id: Digest::read(buf)?,
            height: u64::read(buf)?,
            index: u32::read(buf)?,
            status: ReceiptStatus::read(buf)?,
            fuel_used: u64::read(buf)?,
            fee: u64::read(buf)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Payload, Transaction};
    use commonware_codec::{Decode, DecodeExt};
    use commonware_cryptography::{Signer as _, ed25519};
    use proptest::prelude::*;

    fn tx(nonce: u64) -> SignedTransaction {
        let key = ed25519::PrivateKey::from_seed(1);
        Transaction {
            chain_id: sha256(b"c"),
            sender: key.public_key().into(),
            nonce,
            fee: crate::Fee::NONE,
            payload: Payload::Call {
                contract: Address([7; 32]),
                method: "increment".into(),
                input: vec![1],
                fuel_limit: 10_000,
            },
        }
        .sign(&key)
    }

    fn block(n: u64) -> Block {
        let txs: Vec<_> = (0..n).map(tx).collect();
        Block {
            header: Header {
                chain_id: sha256(b"c"),
                height: 3,
                parent: sha256(b"p"),
                timestamp_ms: 1_000,
                tx_root: tx_root(&txs),
                state_root: sha256(b"s"),
                epoch: 2,
                view: 4,
                parent_view: 2,
                leader: [5; 32],
                seed: Some(SeedReveal {
                    round: Round::new(2, 3),
                    signature: [7; 48],
                }),
                reshare: Digest::ZERO,
            },
            txs,
            reshare: None,
        }
    }

    #[test]
    fn blocks_round_trip_and_digest_commits_to_header() {
        let b = block(3);
        let enc = b.encode();
        assert_eq!(enc.len(), b.encode_size());
        assert_eq!(Block::decode(enc).unwrap(), b);
        assert_eq!(b.header.encode().len(), Header::SIZE);
        let mut other = b.clone();
        other.header.state_root = sha256(b"t");
        assert_ne!(other.digest(), b.digest());
        assert_ne!(tx_root(&b.txs), tx_root(&b.txs[..2]));
        assert_ne!(tx_root(&[tx(0), tx(1)]), tx_root(&[tx(1), tx(0)]));
        // A block without a seed round-trips; a signature without a seed view does not decode.
        let mut unseeded = b.clone();
        unseeded.header.seed = None;
        assert_eq!(Block::decode(unseeded.encode()).unwrap(), unseeded);
        // Neither a seed epoch nor a signature without a seed view decodes.
        for at in [200, 220] {
            let mut bytes = unseeded.header.encode().to_vec();
            bytes[at] = 1;
            assert!(Header::decode(bytes::Bytes::from(bytes)).is_err(), "{at}");
        }
        // Rounds order by epoch, then view.
        assert!(Round::new(1, 1) > Round::new(0, 1_000));
        assert!(Round::new(1, 2) > Round::new(1, 1));
    }

    #[test]
    fn genesis_has_no_parent_and_no_txs() {
        let g = Block::genesis(sha256(b"c"), 5, sha256(b"root"));
        assert_eq!(g.header.height, 0);
        assert_eq!(g.header.parent, Digest::ZERO);
        assert_eq!(g.header.tx_root, tx_root(&[]));
        assert_eq!(Block::decode(g.encode()).unwrap(), g);
    }

    #[test]
    fn receipts_and_records_round_trip() {
        let receipts = [
            ReceiptStatus::Deployed {
                address: Address([1; 32]),
                code_hash: sha256(b"code"),
            },
            ReceiptStatus::Called {
                status: CallStatus::Ok,
                output: vec![1, 2, 3],
                events: vec![Event {
                    topic: b"t".to_vec(),
                    data: vec![9],
                }],
            },
            ReceiptStatus::Called {
                status: CallStatus::OutOfFuel,
                output: vec![],
                events: vec![],
            },
            ReceiptStatus::Rejected("mode not enabled by chain policy".into()),
            ReceiptStatus::Queued {
                job: sha256(b"job"),
                lane_seq: 4,
            },
        ];
        for (i, status) in receipts.into_iter().enumerate() {
            let r = Receipt {
                tx_id: sha256(&[i as u8]),
                height: 9,
                index: i as u32,
                status,
                fuel_used: 77,
                fee: 12_345,
            };
            let enc = r.encode();
            assert_eq!(enc.len(), r.encode_size());
            assert_eq!(Receipt::decode(enc).unwrap(), r);
        }
        let record = ContractRecord {
            code_hash: sha256(b"code"),
            mode: ExecutionMode::Committee(3),
            deployer: Address([2; 32]),
            regions: vec!["eu".into(), "us".into()],
        };
        let enc = record.encode();
        assert_eq!(enc.len(), record.encode_size());
        assert_eq!(ContractRecord::decode(enc).unwrap(), record);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..1024)) {
            let _ = Block::decode_cfg(bytes::Bytes::from(b.clone()), &());
            let _ = Receipt::decode_cfg(bytes::Bytes::from(b.clone()), &());
            let _ = ContractRecord::decode_cfg(bytes::Bytes::from(b), &());
        }
    }
}
