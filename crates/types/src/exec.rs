//! The result of executing one contract call.
//!
//! A [`CallOutcome`] is what the engine returns and, later, what a compute node signs in a
//! receipt, so its encoding is canonical and consensus-critical: status, output, events,
//! fuel used, read set and write set. Maps are `BTreeMap`s so their order is canonical.

use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error, RangeCfg, Read, ReadExt, ReadRangeExt, Write};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Limits of the host API v1, shared by the engine (which enforces them) and decoders (which
/// bound lengths with them). Changing any of them is a protocol change.
pub mod limits {
    /// Largest call input, in bytes.
    pub const MAX_INPUT: usize = 128 * 1024;
    /// Largest call output, in bytes.
    pub const MAX_OUTPUT: usize = 64 * 1024;
    /// Longest storage key, in bytes.
    pub const MAX_KEY: usize = 256;
    /// Longest storage value, in bytes.
    pub const MAX_VALUE: usize = 64 * 1024;
    /// Most distinct keys one call may write (or remove).
    pub const MAX_WRITES: usize = 4096;
    /// Most distinct keys one call may read.
    pub const MAX_READS: usize = 16_384;
    /// Most bytes one call's write set may hold, each entry counted as its key, its value and
    /// [`ENTRY_OVERHEAD`] bytes. With [`MAX_READ_BYTES`] and the output and event limits, every
    /// outcome encodes in well under one state value (1 MiB) and every receipt fits one
    /// transaction, so a receipt a block cannot take, or a job record state cannot hold, does
    /// not exist.
    pub const MAX_WRITE_BYTES: usize = 384 * 1024;
    /// Most bytes one call's read set may hold, each key counted with [`ENTRY_OVERHEAD`].
    pub const MAX_READ_BYTES: usize = 128 * 1024;
    /// What each read or write entry counts beyond its bytes (its encoded lengths).
    pub const ENTRY_OVERHEAD: usize = 8;
    /// Most events one call may emit.
    pub const MAX_EVENTS: usize = 64;
    /// Longest event topic, in bytes.
    pub const MAX_TOPIC: usize = 64;
    /// Longest event payload, in bytes.
    pub const MAX_EVENT_DATA: usize = 4096;
    /// Longest revert message kept, in bytes (longer messages are truncated).
    pub const MAX_REVERT_MESSAGE: usize = 1024;
}

/// Why a call trapped. The set is closed and each kind is encoded as one byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrapKind {
    /// `unreachable` executed (also how Rust panics end without the SDK's handler).
    Unreachable,
    /// A load or store outside linear memory, or a host call given such a range.
    MemoryOutOfBounds,
    /// The call stack exceeded the engine's bound.
    StackOverflow,
    /// Integer division or remainder by zero.
    IntegerDivideByZero,
    /// Signed integer overflow in division, or a float-to-int conversion out of range.
    IntegerOverflow,
    /// A float-to-int conversion of NaN.
    BadConversionToInteger,
    /// `call_indirect` to a null entry or with the wrong signature, or a table access out of bounds.
    IndirectCall,
    /// Memory growth beyond the engine's cap was requested and the contract trapped on it.
    MemoryLimit,
    /// The contract set an output larger than [`limits::MAX_OUTPUT`].
    OutputTooLarge,
    /// A storage key or value too long, or too many reads or writes in one call.
    StorageLimit,
    /// Too many events, or a topic or payload too long.
    EventLimit,
    /// The called method is not exported, or is not `() -> ()`.
    NoSuchMethod,
    /// The call input exceeds [`limits::MAX_INPUT`].
    InputTooLarge,
    /// Any other trap.
    Other,
}

impl TrapKind {
    const ALL: [TrapKind; 14] = [
        TrapKind::Unreachable,
        TrapKind::MemoryOutOfBounds,
        TrapKind::StackOverflow,
        TrapKind::IntegerDivideByZero,
        TrapKind::IntegerOverflow,
        TrapKind::BadConversionToInteger,
        TrapKind::IndirectCall,
        TrapKind::MemoryLimit,
        TrapKind::OutputTooLarge,
        TrapKind::StorageLimit,
        TrapKind::EventLimit,
        TrapKind::NoSuchMethod,
        TrapKind::InputTooLarge,
        TrapKind::Other,
    ];

    fn tag(self) -> u8 {
        Self::ALL.iter().position(|k| *k == self).expect("listed") as u8
    }

    /// A short human description.
    pub fn as_str(self) -> &'static str {
        match self {
            TrapKind::Unreachable => "unreachable",
            TrapKind::MemoryOutOfBounds => "memory out of bounds",
            TrapKind::StackOverflow => "stack overflow",
            TrapKind::IntegerDivideByZero => "integer divide by zero",
            TrapKind::IntegerOverflow => "integer overflow",
            TrapKind::BadConversionToInteger => "bad conversion to integer",
            TrapKind::IndirectCall => "indirect call",
            TrapKind::MemoryLimit => "memory limit",
            TrapKind::OutputTooLarge => "output too large",
            TrapKind::StorageLimit => "storage limit",
            TrapKind::EventLimit => "event limit",
            TrapKind::NoSuchMethod => "no such method",
            TrapKind::InputTooLarge => "input too large",
            TrapKind::Other => "other",
        }
    }
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a call ended.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "status", content = "detail", rename_all = "snake_case")]
pub enum CallStatus {
    /// Completed; its writes and events take effect.
    Ok,
    /// The contract called `abort` with this message (or panicked through the SDK).
    Reverted(String),
    /// The fuel limit was reached.
    OutOfFuel,
    /// Execution trapped.
    Trap(TrapKind),
    /// The call completed, but its fee limit cannot pay for the fuel it used and the state
    /// it writes (docs/DESIGN.md §10); its writes and events are dropped.
    OutOfFee,
}

impl CallStatus {
    /// Whether the call succeeded.
    pub fn is_ok(&self) -> bool {
        matches!(self, CallStatus::Ok)
    }
}

impl fmt::Display for CallStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallStatus::Ok => f.write_str("ok"),
            CallStatus::Reverted(m) => write!(f, "reverted: {m}"),
            CallStatus::OutOfFuel => f.write_str("out of fuel"),
            CallStatus::Trap(k) => write!(f, "trap: {k}"),
            CallStatus::OutOfFee => f.write_str("fee limit exceeded"),
        }
    }
}

/// An event emitted by a contract.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Event {
    /// Short topic (≤ [`limits::MAX_TOPIC`] bytes).
    #[serde(with = "hex_bytes")]
    pub topic: Vec<u8>,
    /// Payload (≤ [`limits::MAX_EVENT_DATA`] bytes).
    #[serde(with = "hex_bytes")]
    pub data: Vec<u8>,
}

/// Keys written by a call, each mapped to its new value or `None` for a removal.
pub type WriteSet = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Everything a call produced. For any status other than `Ok`, `output`, `events` and
/// `writes` are empty: a failed call changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct CallOutcome {
    /// How the call ended.
    #[serde(flatten)]
    pub status: CallStatus,
    /// Return data.
    #[serde(with = "hex_bytes")]
    pub output: Vec<u8>,
    /// Events in emission order.
    pub events: Vec<Event>,
    /// Fuel consumed; equal to the limit if the call ran out.
    pub fuel_used: u64,
    /// Keys read (including reads of keys the call had written).
    #[serde(serialize_with = "ser_read_set")]
    pub reads: BTreeSet<Vec<u8>>,
    /// Writes and removals.
    #[serde(serialize_with = "ser_write_set")]
    pub writes: WriteSet,
}

impl CallOutcome {
    /// An outcome with the given status and fuel and nothing else (failed calls).
    pub fn failed(status: CallStatus, fuel_used: u64, reads: BTreeSet<Vec<u8>>) -> Self {
        CallOutcome {
            status,
            output: Vec::new(),
            events: Vec::new(),
            fuel_used,
            reads,
            writes: WriteSet::new(),
        }
    }
}

// ---- canonical encoding ----

impl Write for TrapKind {
    fn write(&self, buf: &mut impl BufMut) {
        self.tag().write(buf);
    }
}
impl EncodeSize for TrapKind {
    fn encode_size(&self) -> usize {
        1
    }
}
impl Read for TrapKind {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let tag = u8::read(buf)?;
        Self::ALL
            .get(tag as usize)
            .copied()
            .ok_or(Error::InvalidEnum(tag))
    }
}

impl Write for CallStatus {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            CallStatus::Ok => 0u8.write(buf),
            CallStatus::Reverted(m) => {
                1u8.write(buf);
                m.as_bytes().to_vec().write(buf);
            }
            CallStatus::OutOfFuel => 2u8.write(buf),
            CallStatus::OutOfFee => 4u8.write(buf),
            CallStatus::Trap(k) => {
                3u8.write(buf);
                k.write(buf);
            }
        }
    }
}
impl EncodeSize for CallStatus {
    fn encode_size(&self) -> usize {
        1 + match self {
            CallStatus::Reverted(m) => m.as_bytes().to_vec().encode_size(),
            CallStatus::Trap(_) => 1,
            _ => 0,
        }
    }
}
impl Read for CallStatus {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        match u8::read(buf)? {
            0 => Ok(CallStatus::Ok),
            1 => {
                let raw = Vec::<u8>::read_range(buf, 0..=limits::MAX_REVERT_MESSAGE)?;
                let msg = String::from_utf8(raw)
                    .map_err(|_| Error::Invalid("CallStatus", "revert message is not UTF-8"))?;
                Ok(CallStatus::Reverted(msg))
            }
            2 => Ok(CallStatus::OutOfFuel),
            3 => Ok(CallStatus::Trap(TrapKind::read(buf)?)),
            4 => Ok(CallStatus::OutOfFee),
            t => Err(Error::InvalidEnum(t)),
        }
    }
}

impl Write for Event {
    fn write(&self, buf: &mut impl BufMut) {
        self.topic.write(buf);
        self.data.write(buf);
    }
}
impl EncodeSize for Event {
    fn encode_size(&self) -> usize {
        self.topic.encode_size() + self.data.encode_size()
    }
}
impl Read for Event {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(Event {
            topic: Vec::<u8>::read_range(buf, 0..=limits::MAX_TOPIC)?,
            data: Vec::<u8>::read_range(buf, 0..=limits::MAX_EVENT_DATA)?,
        })
    }
}

fn key_cfg() -> (RangeCfg<usize>, ()) {
    ((0..=limits::MAX_KEY).into(), ())
}

impl Write for CallOutcome {
    fn write(&self, buf: &mut impl BufMut) {
        self.status.write(buf);
        self.output.write(buf);
        self.events.write(buf);
        self.fuel_used.write(buf);
        self.reads.write(buf);
        self.writes.write(buf);
    }
}
impl EncodeSize for CallOutcome {
    fn encode_size(&self) -> usize {
        self.status.encode_size()
            + self.output.encode_size()
            + self.events.encode_size()
            + self.fuel_used.encode_size()
            + self.reads.encode_size()
            + self.writes.encode_size()
    }
}
impl Read for CallOutcome {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let status = CallStatus::read(buf)?;
        let output = Vec::<u8>::read_range(buf, 0..=limits::MAX_OUTPUT)?;
        let events = Vec::<Event>::read_cfg(buf, &((0..=limits::MAX_EVENTS).into(), ()))?;
        let fuel_used = u64::read(buf)?;
        let reads =
            BTreeSet::<Vec<u8>>::read_cfg(buf, &((0..=limits::MAX_READS).into(), key_cfg()))?;
        let value_cfg: (RangeCfg<usize>, ()) = ((0..=limits::MAX_VALUE).into(), ());
        let writes = WriteSet::read_cfg(
            buf,
            &((0..=limits::MAX_WRITES).into(), (key_cfg(), value_cfg)),
        )?;
        if read_set_bytes(&reads) > limits::MAX_READ_BYTES {
            return Err(Error::Invalid(
                "CallOutcome",
                "read set over its byte budget",
            ));
        }
        if write_set_bytes(&writes) > limits::MAX_WRITE_BYTES {
            return Err(Error::Invalid(
                "CallOutcome",
                "write set over its byte budget",
            ));
        }
        if !status.is_ok() && (!output.is_empty() || !events.is_empty() || !writes.is_empty()) {
            return Err(Error::Invalid(
                "CallOutcome",
                "a failed call carries output, events or writes",
            ));
        }
        Ok(CallOutcome {
            status,
            output,
            events,
            fuel_used,
            reads,
            writes,
        })
    }
}

/// What a read set counts against [`limits::MAX_READ_BYTES`].
pub fn read_set_bytes(reads: &BTreeSet<Vec<u8>>) -> usize {
    reads.iter().map(|k| k.len() + limits::ENTRY_OVERHEAD).sum()
}

/// What a write set counts against [`limits::MAX_WRITE_BYTES`].
pub fn write_set_bytes(writes: &WriteSet) -> usize {
    writes
        .iter()
        .map(|(k, v)| write_entry_bytes(k, v.as_deref()))
        .sum()
}

/// What one write-set entry counts against [`limits::MAX_WRITE_BYTES`].
pub fn write_entry_bytes(key: &[u8], value: Option<&[u8]>) -> usize {
    key.len() + value.map_or(0, <[u8]>::len) + limits::ENTRY_OVERHEAD
}

// ---- JSON helpers (for --json output and RPC) ----

mod hex_bytes {
    pub fn serialize<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }
}

fn ser_read_set<S: serde::Serializer>(set: &BTreeSet<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(set.iter().map(hex::encode))
}

fn ser_write_set<S: serde::Serializer>(set: &WriteSet, s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(
        set.iter()
            .map(|(k, v)| (hex::encode(k), v.as_ref().map(hex::encode))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{Decode, Encode};
    use proptest::prelude::*;

    fn status() -> impl Strategy<Value = CallStatus> {
        prop_oneof![
            Just(CallStatus::Ok),
            ".{0,40}".prop_map(CallStatus::Reverted),
            Just(CallStatus::OutOfFuel),
            Just(CallStatus::OutOfFee),
            (0usize..TrapKind::ALL.len()).prop_map(|i| CallStatus::Trap(TrapKind::ALL[i])),
        ]
    }

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(any::<u8>(), 0..max)
    }

    fn outcome() -> impl Strategy<Value = CallOutcome> {
        (
            status(),
            bytes(64),
            prop::collection::vec((bytes(8), bytes(32)), 0..4),
            any::<u64>(),
            prop::collection::btree_set(bytes(16), 0..6),
            prop::collection::btree_map(bytes(16), prop::option::of(bytes(24)), 0..6),
        )
            .prop_map(|(status, output, events, fuel_used, reads, writes)| {
                let events = events
                    .into_iter()
                    .map(|(topic, data)| Event { topic, data })
                    .collect();
                if status.is_ok() {
                    CallOutcome {
                        status,
                        output,
                        events,
                        fuel_used,
                        reads,
                        writes,
                    }
                } else {
                    CallOutcome::failed(status, fuel_used, reads)
                }
            })
    }

    proptest! {
        #[test]
        fn outcome_round_trips(o in outcome()) {
            let enc = o.encode();
            prop_assert_eq!(enc.len(), o.encode_size());
            let dec = CallOutcome::decode_cfg(enc, &()).unwrap();
            prop_assert_eq!(dec, o);
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in bytes(256)) {
            let _ = CallOutcome::decode_cfg(bytes::Bytes::from(b), &());
        }
    }

    #[test]
    fn failed_call_with_writes_is_rejected() {
        let mut o = CallOutcome::failed(CallStatus::OutOfFuel, 5, BTreeSet::new());
        o.writes.insert(b"k".to_vec(), None);
        let enc = o.encode();
        assert!(CallOutcome::decode_cfg(enc, &()).is_err());
    }

    #[test]
    fn trap_tags_are_stable() {
        // The tag is the position in ALL: appending is fine, reordering is a protocol change.
        assert_eq!(TrapKind::Unreachable.tag(), 0);
        assert_eq!(TrapKind::Other.tag(), 13);
        assert!(TrapKind::read(&mut commonware_codec::Copying(&[14u8])).is_err());
    }
}
