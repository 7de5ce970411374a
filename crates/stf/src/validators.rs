//! The validator set in state (docs/DESIGN.md §11): candidates announce their consensus key and
//! p2p address, governance (2f+1 of the current validators) admits and removes them, and the
//! set changes only at epoch boundaries, as the resharing between epochs requires. The set
//! governance has decided by the middle of epoch e−2 is committed as epoch e's **players**:
//! commonware-glue's rule is that they are fixed before the last block of epoch e−2 (which
//! names them); they receive fresh shares of the group key in epoch e's resharing, and sign —
//! and govern — from epoch e+1. So a decision takes effect three epoch boundaries later.
//! (Without epochs of a fixed length, as in tests, the decided set at the boundary into epoch
//! e−1 governs epoch e instead.)
//!
//! State (root tree):
//!
//! | key | value |
//! |---|---|
//! | `val/active` | `epoch (u64 BE) ‖` [`ValidatorSet`]: the set of the current epoch (it governs) |
//! | `val/next` | `epoch (u64 BE) ‖` [`ValidatorSet`]: the set of the next epoch, fixed when this epoch began |
//! | `val/pending` | [`ValidatorSet`]: the set governance has decided so far (it becomes `next` at the next epoch boundary) |
//! | `val/candidate/ ‖ key` | [`Candidate`] |
//! | `val/candidates` | the candidates' keys (32 bytes each, at most [`MAX_CANDIDATES`]) |
//! | `val/epoch/ ‖ e (u64 BE)` | [`ValidatorSet`]: the players of epoch `e`'s resharing (they sign from epoch e+1), committed by the middle block of epoch e−2 (the last [`KEPT_EPOCH_SETS`] kept) |
//!
//! Every structure is bounded: sets by [`MAX_VALIDATORS`], candidates by [`MAX_CANDIDATES`]
//! (an announcement lapses after [`CANDIDATE_TTL_MS`], and a full list makes room by dropping
//! lapsed ones). The epoch boundary costs one read and two writes of the sets.

use crate::execute::ExecError;
use crate::registry::{Effect, Now, RegistryConfig, StateView};
use bytes::{Buf, BufMut};
use hyperchain_state::TreeId;
use hyperchain_types::{Address, ReceiptStatus, SenderKey};

/// Most validators a set holds (the genesis's limit).
pub const MAX_VALIDATORS: usize = crate::genesis::MAX_VALIDATORS;
/// Most candidates waiting for admission at once.
pub const MAX_CANDIDATES: usize = 64;
/// How long an announcement stays a candidate (block time, ms): seven days.
pub const CANDIDATE_TTL_MS: u64 = 7 * 24 * 3_600_000;

/// Key of the current epoch's set.
pub const ACTIVE_KEY: &[u8] = b"val/active";
/// Key of the next epoch's set.
pub const NEXT_KEY: &[u8] = b"val/next";
/// Key of the set governance has decided.
pub const PENDING_KEY: &[u8] = b"val/pending";
/// Key of the candidates' list.
pub const CANDIDATES_KEY: &[u8] = b"val/candidates";
/// Prefix of candidate records.
pub const CANDIDATE_PREFIX: &[u8] = b"val/candidate/";
/// Prefix of the committed per-epoch sets.
pub const EPOCH_SET_PREFIX: &[u8] = b"val/epoch/";
/// How many committed per-epoch sets are kept.
pub const KEPT_EPOCH_SETS: u64 = 16;

fn epoch_set_key(epoch: u64) -> Vec<u8> {
    [EPOCH_SET_PREFIX, &epoch.to_be_bytes()].concat()
}

/// The set of epoch `epoch` as the middle block of epoch `epoch − 2` committed it (`None` if
/// not committed yet, pruned, or the chain keeps no set in state).
pub fn epoch_set(view: &impl StateView, epoch: u64) -> Result<Option<ValidatorSet>, ExecError> {
    read_set(view, &epoch_set_key(epoch))
}

/// The height of the block that commits the set of epoch `epoch + 2`: the middle block of
/// epoch `epoch` (`blocks_per_epoch` blocks each, the genesis at height 0 in epoch 0).
pub fn commit_height(epoch: u64, blocks_per_epoch: u64) -> u64 {
    epoch
        .saturating_mul(blocks_per_epoch)
        .saturating_add(blocks_per_epoch / 2)
}

/// After block `height`: if it is the middle block of its epoch, commit the decided set as the
/// set of the epoch after next, and prune committed sets older than [`KEPT_EPOCH_SETS`]
/// epochs. The middle, not the last block: the last block of epoch e−2 carries the epoch's
/// key-generation output naming epoch e's players, so they must be fixed before anyone
/// proposes it (glue's `ParticipantsProvider` contract), and by the middle they are finalized
/// long before.
pub(crate) fn end_of_block(
    view: &impl StateView,
    height: u64,
    blocks_per_epoch: u64,
) -> Result<Writes, ExecError> {
    if blocks_per_epoch < 2 || height % blocks_per_epoch != blocks_per_epoch / 2 {
        return Ok(Vec::new());
    }
    let Some(decided) = pending(view)? else {
        return Ok(Vec::new());
    };
    let epoch = height / blocks_per_epoch;
    let mut writes = vec![put(&epoch_set_key(epoch + 2), decided.encode())];
    if let Some(old) = (epoch + 2).checked_sub(KEPT_EPOCH_SETS) {
        writes.push((TreeId::ROOT, epoch_set_key(old), None));
    }
    Ok(writes)
}

/// A validator: its ed25519 consensus key and p2p address.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Validator {
    /// The consensus key.
    pub public_key: [u8; 32],
    /// `HOST:PORT` of its p2p.
    pub address: String,
}

impl Validator {
    /// The account of its consensus key (it proposes and approves governance actions).
    pub fn account(&self) -> Address {
        SenderKey(self.public_key).address()
    }
}

/// A validator set, ordered by key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidatorSet(pub Vec<Validator>);

impl ValidatorSet {
    /// The set of `validators`, ordered by key (a key listed twice keeps its first address).
    pub fn new(mut validators: Vec<Validator>) -> ValidatorSet {
        validators.sort();
        validators.dedup_by(|a, b| a.public_key == b.public_key);
        ValidatorSet(validators)
    }

    /// Whether `key` is in the set.
    pub fn contains(&self, key: &[u8; 32]) -> bool {
        self.0.iter().any(|v| &v.public_key == key)
    }

    /// The validators' accounts.
    pub fn accounts(&self) -> Vec<Address> {
        self.0.iter().map(Validator::account).collect()
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.put_u32(self.0.len() as u32);
        for v in &self.0 {
            out.put_slice(&v.public_key);
            out.put_u8(v.address.len() as u8);
            out.put_slice(v.address.as_bytes());
        }
        out
    }

    fn decode(mut raw: &[u8]) -> Option<ValidatorSet> {
        if raw.remaining() < 4 {
            return None;
        }
        let n = raw.get_u32() as usize;
        if n > MAX_VALIDATORS {
            return None;
        }
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            if raw.remaining() < 33 {
                return None;
            }
            let mut public_key = [0u8; 32];
            raw.copy_to_slice(&mut public_key);
            let len = raw.get_u8() as usize;
            if raw.remaining() < len {
                return None;
            }
            let address = String::from_utf8(raw[..len].to_vec()).ok()?;
            raw.advance(len);
            out.push(Validator {
                public_key,
                address,
            });
        }
        raw.is_empty().then_some(ValidatorSet(out))
    }
}

/// An announced candidate, waiting for governance to admit it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Its p2p address.
    pub address: String,
    /// Block time of its announcement (ms); it lapses [`CANDIDATE_TTL_MS`] later.
    pub announced_ms: u64,
}

impl Candidate {
    fn encode(&self) -> Vec<u8> {
        let mut out = self.announced_ms.to_be_bytes().to_vec();
        out.extend_from_slice(self.address.as_bytes());
        out
    }

    fn decode(raw: &[u8]) -> Option<Candidate> {
        let (ms, address) = raw.split_at_checked(8)?;
        Some(Candidate {
            announced_ms: u64::from_be_bytes(ms.try_into().ok()?),
            address: String::from_utf8(address.to_vec()).ok()?,
        })
    }

    fn lapsed(&self, now: Now) -> bool {
        now.ms >= self.announced_ms.saturating_add(CANDIDATE_TTL_MS)
    }
}

fn corrupt(what: &str) -> ExecError {
    ExecError::Corrupt(format!("validator set: {what}"))
}

pub(crate) type Writes = Vec<(TreeId, Vec<u8>, Option<Vec<u8>>)>;

fn put(key: &[u8], value: Vec<u8>) -> (TreeId, Vec<u8>, Option<Vec<u8>>) {
    (TreeId::ROOT, key.to_vec(), Some(value))
}

fn read_set(view: &impl StateView, key: &[u8]) -> Result<Option<ValidatorSet>, ExecError> {
    view.read(&TreeId::ROOT, key)?
        .map(|raw| ValidatorSet::decode(&raw).ok_or_else(|| corrupt("undecodable set")))
        .transpose()
}

fn read_epoch_set(
    view: &impl StateView,
    key: &[u8],
) -> Result<Option<(u64, ValidatorSet)>, ExecError> {
    let Some(raw) = view.read(&TreeId::ROOT, key)? else {
        return Ok(None);
    };
    let (epoch, set) = raw
        .split_at_checked(8)
        .ok_or_else(|| corrupt("short epoch set"))?;
    let epoch = u64::from_be_bytes(epoch.try_into().expect("8 bytes"));
    let set = ValidatorSet::decode(set).ok_or_else(|| corrupt("undecodable set"))?;
    Ok(Some((epoch, set)))
}

fn with_epoch(epoch: u64, set: &ValidatorSet) -> Vec<u8> {
    [&epoch.to_be_bytes()[..], &set.encode()].concat()
}

/// The genesis state of the set: `validators` active in epoch 0, next in epoch 1, pending.
pub fn genesis_writes(validators: &ValidatorSet) -> Writes {
    vec![
        put(ACTIVE_KEY, with_epoch(0, validators)),
        put(NEXT_KEY, with_epoch(1, validators)),
        put(PENDING_KEY, validators.encode()),
        // Epochs 0 and 1 have no epoch e−2 to commit their sets.
        put(&epoch_set_key(0), validators.encode()),
        put(&epoch_set_key(1), validators.encode()),
    ]
}

/// The current epoch and its set (`None` in a state without one: the registry
/// configuration's validators govern then, as in tests).
pub fn active(view: &impl StateView) -> Result<Option<(u64, ValidatorSet)>, ExecError> {
    read_epoch_set(view, ACTIVE_KEY)
}

/// The next epoch and its set, fixed at the start of the current epoch.
pub fn next(view: &impl StateView) -> Result<Option<(u64, ValidatorSet)>, ExecError> {
    read_epoch_set(view, NEXT_KEY)
}

/// The set governance has decided so far.
pub fn pending(view: &impl StateView) -> Result<Option<ValidatorSet>, ExecError> {
    read_set(view, PENDING_KEY)
}

/// The accounts of the validators that govern now: the current epoch's set, or the registry
/// configuration's validators in a state without one.
pub fn governing(view: &impl StateView, cfg: &RegistryConfig) -> Result<Vec<Address>, ExecError> {
    Ok(match active(view)? {
        Some((_, set)) => set.accounts(),
        None => cfg.validators.clone(),
    })
}

fn candidate_key(key: &[u8; 32]) -> Vec<u8> {
    [CANDIDATE_PREFIX, key].concat()
}

/// The candidates, with their announcements (lapsed ones included until removed).
pub fn candidates(view: &impl StateView) -> Result<Vec<([u8; 32], Candidate)>, ExecError> {
    let Some(raw) = view.read(&TreeId::ROOT, CANDIDATES_KEY)? else {
        return Ok(Vec::new());
    };
    if raw.len() % 32 != 0 {
        return Err(corrupt("candidate list"));
    }
    let mut out = Vec::new();
    for chunk in raw.chunks(32) {
        let key: [u8; 32] = chunk.try_into().expect("32 bytes");
        let record = view
            .read(&TreeId::ROOT, &candidate_key(&key))?
            .and_then(|raw| Candidate::decode(&raw))
            .ok_or_else(|| corrupt("candidate record"))?;
        out.push((key, record));
    }
    Ok(out)
}

fn candidates_write(keys: &[[u8; 32]]) -> (TreeId, Vec<u8>, Option<Vec<u8>>) {
    let value = (!keys.is_empty()).then(|| keys.concat());
    (TreeId::ROOT, CANDIDATES_KEY.to_vec(), value)
}

fn rejected(reason: impl Into<String>) -> Effect {
    (ReceiptStatus::Rejected(reason.into()), Vec::new())
}

/// Whether `address` is a `HOST:PORT` a validator can listen at.
pub fn check_address(address: &str) -> Result<(), String> {
    if address.is_empty() || address.len() > hyperchain_types::tx_limits::MAX_ADDRESS {
        return Err(format!(
            "a validator address is 1 to {} bytes",
            hyperchain_types::tx_limits::MAX_ADDRESS
        ));
    }
    address
        .parse::<std::net::SocketAddr>()
        .map(|_| ())
        .map_err(|e| format!("`{address}` is not HOST:PORT: {e}"))
}

/// `AnnounceValidator`: the sender's consensus key becomes a candidate at `address` (or a
/// validator's address changes, from the next epoch's set on).
pub(crate) fn announce(
    view: &impl StateView,
    sender: &SenderKey,
    address: &str,
    now: Now,
) -> Result<Effect, ExecError> {
    if let Err(e) = check_address(address) {
        return Ok(rejected(e));
    }
    if ed25519_key(&sender.0).is_none() {
        return Ok(rejected("the sender's key is not an ed25519 point"));
    }
    let mut writes = Vec::new();
    // A validator of the decided set changes its address there.
    if let Some(mut pending) = pending(view)?
        && let Some(v) = pending.0.iter_mut().find(|v| v.public_key == sender.0)
    {
        v.address = address.to_string();
        writes.push(put(PENDING_KEY, pending.encode()));
        return Ok((ReceiptStatus::Accepted, writes));
    }
    let mut keys: Vec<[u8; 32]> = Vec::new();
    for (key, record) in candidates(view)? {
        if record.lapsed(now) && key != sender.0 {
            writes.push((TreeId::ROOT, candidate_key(&key), None));
        } else if key != sender.0 {
            keys.push(key);
        }
    }
    if keys.len() >= MAX_CANDIDATES {
        return Ok(rejected(format!(
            "{MAX_CANDIDATES} candidates are waiting for governance: try again when one is \
             admitted or lapses"
        )));
    }
    keys.push(sender.0);
    let record = Candidate {
        address: address.to_string(),
        announced_ms: now.ms,
    };
    writes.push(put(&candidate_key(&sender.0), record.encode()));
    writes.push(candidates_write(&keys));
    Ok((ReceiptStatus::Accepted, writes))
}

fn ed25519_key(key: &[u8; 32]) -> Option<hyperchain_types::consensus::PublicKey> {
    use commonware_codec::DecodeExt as _;
    hyperchain_types::consensus::PublicKey::decode(bytes::Bytes::copy_from_slice(key)).ok()
}

/// `AdmitValidator`: an announced, unlapsed candidate joins the decided set.
pub(crate) fn admit(view: &impl StateView, key: &[u8; 32], now: Now) -> Result<Effect, ExecError> {
    let Some(mut set) = pending(view)? else {
        return Ok(rejected("this chain keeps no validator set in state"));
    };
    if set.contains(key) {
        return Ok(rejected("already a validator"));
    }
    let list = candidates(view)?;
    let Some((_, candidate)) = list.iter().find(|(k, _)| k == key) else {
        return Ok(rejected(
            "not a candidate: it must announce its address (`hyperchain validator announce`) first",
        ));
    };
    if candidate.lapsed(now) {
        return Ok(rejected("its announcement lapsed: it must announce again"));
    }
    if set.0.len() >= MAX_VALIDATORS {
        return Ok(rejected(format!("the set is full ({MAX_VALIDATORS})")));
    }
    set = ValidatorSet::new(
        set.0
            .into_iter()
            .chain([Validator {
                public_key: *key,
                address: candidate.address.clone(),
            }])
            .collect(),
    );
    let keys: Vec<[u8; 32]> = list.iter().map(|(k, _)| *k).filter(|k| k != key).collect();
    Ok((
        ReceiptStatus::Accepted,
        vec![
            put(PENDING_KEY, set.encode()),
            (TreeId::ROOT, candidate_key(key), None),
            candidates_write(&keys),
        ],
    ))
}

/// `RemoveValidator`: a validator leaves the decided set (never the last one).
pub(crate) fn remove(view: &impl StateView, key: &[u8; 32]) -> Result<Effect, ExecError> {
    let Some(set) = pending(view)? else {
        return Ok(rejected("this chain keeps no validator set in state"));
    };
    if !set.contains(key) {
        return Ok(rejected("not a validator"));
    }
    if set.0.len() == 1 {
        return Ok(rejected("the last validator cannot be removed"));
    }
    let set = ValidatorSet(set.0.into_iter().filter(|v| &v.public_key != key).collect());
    Ok((
        ReceiptStatus::Accepted,
        vec![put(PENDING_KEY, set.encode())],
    ))
}

/// The first block of epoch `epoch` (its parent was of an earlier epoch): the players of epoch
/// e−1's resharing — the validators that now hold shares and sign — become the current set,
/// and epoch e's players the next one (without committed sets: the next set becomes the
/// current one and the decided set the next one).
pub(crate) fn enter_epoch(view: &impl StateView, epoch: u64) -> Result<Writes, ExecError> {
    let (Some((current_epoch, current)), Some((next_epoch, next)), Some(pending)) =
        (active(view)?, self::next(view)?, pending(view)?)
    else {
        return Ok(Vec::new());
    };
    if epoch <= current_epoch {
        return Ok(Vec::new());
    }
    // Epoch e is signed by the players of epoch e−1's resharing (the set committed for
    // e−1), who received their shares in it; without committed sets (no fixed epoch length,
    // as in tests), the next set fixed when the previous epoch began.
    let now_active = match epoch_set(view, epoch - 1)? {
        Some(committed) => committed,
        None if next_epoch == epoch => next,
        None => current.clone(),
    };
    let next = epoch_set(view, epoch)?.unwrap_or(pending);
    let mut writes = vec![
        put(ACTIVE_KEY, with_epoch(epoch, &now_active)),
        put(NEXT_KEY, with_epoch(epoch + 1, &next)),
    ];
    // Validators that no longer govern take their open proposals with them.
    for gone in current
        .0
        .iter()
        .filter(|v| !now_active.contains(&v.public_key))
    {
        writes.extend(crate::governance::withdraw_all(view, &gone.account())?);
    }
    Ok(writes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_round_trip_and_refuse_garbage() {
        let set = ValidatorSet::new(vec![
            Validator {
                public_key: [2; 32],
                address: "10.0.0.2:30400".into(),
            },
            Validator {
                public_key: [1; 32],
                address: "10.0.0.1:30400".into(),
            },
        ]);
        assert_eq!(set.0[0].public_key, [1; 32], "ordered by key");
        assert_eq!(ValidatorSet::decode(&set.encode()), Some(set.clone()));
        let mut long = set.encode();
        long.push(0);
        assert_eq!(ValidatorSet::decode(&long), None);
        assert_eq!(ValidatorSet::decode(&set.encode()[..10]), None);
        let c = Candidate {
            address: "[::1]:1".into(),
            announced_ms: 7,
        };
        assert_eq!(Candidate::decode(&c.encode()), Some(c));
        assert!(check_address("127.0.0.1:30400").is_ok());
        assert!(check_address("nowhere").is_err());
    }
}

#[cfg(test)]
mod epoch_tests {
    use super::*;
    use hyperchain_state::Store;

    /// The middle block of each epoch commits the decided set as the set of the epoch after
    /// next; other blocks commit nothing; old committed sets are pruned.
    #[test]
    fn the_middle_block_of_an_epoch_commits_the_set_of_the_epoch_after_next() {
        let store = Store::in_memory().unwrap();
        let set = |keys: &[u8]| {
            ValidatorSet::new(
                keys.iter()
                    .map(|k| Validator {
                        public_key: [*k; 32],
                        address: format!("10.0.0.{k}:1"),
                    })
                    .collect(),
            )
        };
        let mut batch = hyperchain_state::WriteBatch::new();
        for (tree, key, value) in genesis_writes(&set(&[1, 2, 3, 4])) {
            batch.put(tree, key, value.unwrap());
        }
        store.commit(&batch, 0).unwrap();
        let view = store.snapshot().unwrap();
        assert_eq!(epoch_set(&view, 1).unwrap(), Some(set(&[1, 2, 3, 4])));
        assert!(
            end_of_block(&view, 5, 8).unwrap().is_empty(),
            "not a middle block"
        );
        assert!(
            end_of_block(&view, 4, u64::MAX).unwrap().is_empty(),
            "one epoch"
        );
        // Governance decided {1, 2, 3, 5} in the first half of epoch 0; its middle block
        // (height 4) commits it as epoch 2's set.
        let mut batch = hyperchain_state::WriteBatch::new();
        batch.put(
            TreeId::ROOT,
            PENDING_KEY.to_vec(),
            set(&[1, 2, 3, 5]).encode(),
        );
        store.commit(&batch, 1).unwrap();
        let view = store.snapshot().unwrap();
        assert_eq!(commit_height(0, 8), 4);
        let writes = end_of_block(&view, 4, 8).unwrap();
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].1, epoch_set_key(2));
        assert_eq!(
            ValidatorSet::decode(writes[0].2.as_ref().unwrap()),
            Some(set(&[1, 2, 3, 5]))
        );
        // Epoch 15's middle block commits epoch 17's and prunes epoch 1's.
        let writes = end_of_block(&view, commit_height(15, 8), 8).unwrap();
        assert_eq!(writes[0].1, epoch_set_key(17));
        assert_eq!(writes[1], (TreeId::ROOT, epoch_set_key(1), None));
        assert!(
            view.get(&TreeId::ROOT, &epoch_set_key(0))
                .unwrap()
                .is_some()
        );
    }
}
