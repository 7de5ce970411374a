//! State sync: a joining node starts from a recent finalized checkpoint of another node
//! instead of replaying every block from genesis.
//!
//! A node keeps read views of its state at recent checkpoints ([`Ledger::checkpoints`]: every
//! epoch's first and middle blocks) and serves them ([`SyncSource`]; over RPC,
//! `GET /sync/checkpoint` and `GET /sync/state/{height}`). A joiner
//!
//! 1. takes the source's newest checkpoint offer: the block, its finalization and — past
//!    epoch 0 — the last block of the previous epoch with its finalization, which carries the
//!    epoch's public key-generation output and its validators ([`verify_offer`]: both
//!    finalizations against the genesis group key, which every epoch's signers share);
//! 2. downloads the state at that block in chunks and commits them into a side directory
//!    ([`StateImport`]), then checks the rebuilt state root against the certified header:
//!    a source that withholds or alters anything is caught there, and the import discarded;
//! 3. puts the ledger in place with the floor's block and seed, and records the floor and the
//!    epoch's output ([`SyncedStart`], `SYNC_FILE` in the ledger directory) so that marshal
//!    starts at the floor and glue's resharing and orchestrator enter that epoch there.
//!
//! Safety rests on the certificate alone; the source is trusted for liveness only (a lying or
//! stale source costs one download, and the joiner tries another). Blocks below the floor are
//! not fetched: a synced node serves blocks, receipts and transactions from the floor on.

use crate::block::ResharePayload;
use crate::ledger::{Genesis, LedgerError, StateImport};
use crate::light::LightClient;
use commonware_codec::{Copying, DecodeExt as _, Encode as _, Read as _};
use commonware_consensus::Epochable as _;
use commonware_consensus::simplex::scheme::bls12381_threshold::vrf::Seedable as _;
use hyperchain_state::{ExportChunk, ExportCursor};
use hyperchain_types::consensus::{FinalizationCert, PublicKey, Variant};
use hyperchain_types::{Block, Round};
use std::path::Path;

/// The file in the ledger directory that records where a synced node started.
pub const SYNC_FILE: &str = "sync-floor";

/// Public material of an epoch: its key-generation output, players and their addresses.
pub type EpochInfo = commonware_glue::dkg::types::EpochInfo<
    Variant,
    PublicKey,
    commonware_glue::dkg::network::Addresses<PublicKey>,
>;

/// glue's state-sync material for the resharing and the orchestrator.
pub type GlueStateSync = commonware_glue::dkg::state_sync::StateSync<
    hyperchain_types::consensus::Scheme,
    commonware_cryptography::sha256::Digest,
    Variant,
    commonware_glue::dkg::network::Addresses<PublicKey>,
>;

/// A checkpoint as a source offers it (blocks and certificates encoded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointOffer {
    /// The finalized block whose state is offered.
    pub block: Vec<u8>,
    /// Its finalization certificate.
    pub finalization: Vec<u8>,
    /// Past epoch 0: the last block of the previous epoch (it carries this epoch's output)
    /// and its finalization.
    pub boundary: Option<(Vec<u8>, Vec<u8>)>,
}

/// Where a synced node starts: the floor's finalization and the public material of its epoch.
#[derive(Clone, Debug)]
pub struct SyncedStart {
    /// The finalization of the floor block.
    pub floor: FinalizationCert,
    /// The floor epoch's output, players and addresses.
    pub info: EpochInfo,
}

impl SyncedStart {
    /// glue's form of it.
    pub fn glue(&self) -> GlueStateSync {
        GlueStateSync {
            info: self.info.clone(),
            floor: self.floor.clone(),
        }
    }

    fn encode(&self) -> Vec<u8> {
        let floor = self.floor.encode();
        let mut out = (floor.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&floor);
        out.extend_from_slice(&self.info.encode());
        out
    }

    fn decode(raw: &[u8]) -> Option<SyncedStart> {
        let len = u32::from_be_bytes(raw.get(..4)?.try_into().ok()?) as usize;
        let floor = FinalizationCert::decode(Copying(raw.get(4..4 + len)?)).ok()?;
        let mut rest = bytes::Bytes::copy_from_slice(raw.get(4 + len..)?);
        let info = EpochInfo::read_cfg(&mut rest, &info_cfg()).ok()?;
        rest.is_empty().then_some(SyncedStart { floor, info })
    }

    /// The start recorded in ledger directory `dir`, if the node was synced.
    pub fn load(dir: &Path) -> Result<Option<SyncedStart>, SyncError> {
        match std::fs::read(dir.join(SYNC_FILE)) {
            Ok(raw) => SyncedStart::decode(&raw)
                .map(Some)
                .ok_or_else(|| SyncError::Corrupt(format!("{SYNC_FILE} does not decode"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(SyncError::Io(e.to_string())),
        }
    }
}

fn info_cfg() -> (
    std::num::NonZeroU32,
    commonware_cryptography::bls12381::primitives::sharing::ModeVersion,
) {
    (
        std::num::NonZeroU32::new(crate::block::MAX_RESHARE_PARTICIPANTS).expect("positive"),
        commonware_cryptography::bls12381::primitives::sharing::ModeVersion::v0(),
    )
}

/// Why a sync failed. Nothing is kept of a failed sync.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The source could not be reached or answered with an error.
    #[error("the sync source failed: {0}")]
    Source(String),
    /// The source offered something that does not verify (it is lying or serves another chain).
    #[error("the sync source offered an invalid checkpoint: {0}")]
    Invalid(String),
    /// The ledger could not be built.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The sync record is unreadable.
    #[error("corrupt sync record: {0}")]
    Corrupt(String),
    /// A file could not be read or written.
    #[error("{0}")]
    Io(String),
}

/// A node serving checkpoints: another node's RPC, or (in tests) its ledger in-process.
pub trait SyncSource {
    /// The newest checkpoint offered.
    fn checkpoint(&self) -> impl Future<Output = Result<CheckpointOffer, SyncError>> + Send;
    /// The chunk of the state at checkpoint `height` after `after`.
    fn chunk(
        &self,
        height: u64,
        after: Option<ExportCursor>,
    ) -> impl Future<Output = Result<ExportChunk, SyncError>> + Send;
}

fn decode_block(raw: &[u8], what: &str) -> Result<Block, SyncError> {
    Block::decode(Copying(raw))
        .map_err(|e| SyncError::Invalid(format!("{what} does not decode: {e}")))
}

/// Checks an offer against the chain: the block is finalized (its certificate verifies with
/// the genesis group key, for this chain) in the epoch of its height, and the epoch's public
/// material is that of genesis (epoch 0) or is carried by the previous epoch's last block,
/// itself finalized. Returns the floor block and where to start.
pub fn verify_offer(
    light: &LightClient,
    genesis: &Genesis,
    blocks_per_epoch: u64,
    offer: &CheckpointOffer,
) -> Result<(Block, SyncedStart), SyncError> {
    let block = decode_block(&offer.block, "the block")?;
    light
        .verify_finalized(&block.header, &offer.finalization)
        .map_err(|e| SyncError::Invalid(format!("block {}: {e}", block.header.height)))?;
    let floor = FinalizationCert::decode(Copying(offer.finalization.as_slice()))
        .map_err(|e| SyncError::Invalid(format!("the finalization does not decode: {e}")))?;
    let epoch = block.header.epoch;
    if floor.epoch().get() != epoch || block.header.height / blocks_per_epoch.max(1) != epoch {
        return Err(SyncError::Invalid(format!(
            "block {} is certified in epoch {}, not the epoch of its height",
            block.header.height,
            floor.epoch().get()
        )));
    }
    let carrier = if epoch == 0 {
        genesis.reshare.clone()
    } else {
        let Some((raw, certificate)) = &offer.boundary else {
            return Err(SyncError::Invalid(format!(
                "no boundary block for epoch {epoch}'s validators"
            )));
        };
        let boundary = decode_block(raw, "the boundary block")?;
        if boundary.header.height != epoch * blocks_per_epoch - 1 {
            return Err(SyncError::Invalid(format!(
                "the boundary block is at height {}, not {}",
                boundary.header.height,
                epoch * blocks_per_epoch - 1
            )));
        }
        light
            .verify_finalized(&boundary.header, certificate)
            .map_err(|e| SyncError::Invalid(format!("boundary block: {e}")))?;
        boundary.reshare
    };
    let info = match carrier.as_deref().and_then(crate::block::reshare_payload) {
        Some(ResharePayload::EpochInfo(info)) if info.epoch.get() == epoch => info,
        _ => {
            return Err(SyncError::Invalid(format!(
                "no output of epoch {epoch} where the chain keeps it"
            )));
        }
    };
    Ok((block, SyncedStart { floor, info }))
}

/// The seed of the floor's round, from its finalization: a block built on the floor reveals it.
fn floor_seed(floor: &FinalizationCert) -> Option<(Round, [u8; 48])> {
    let seed = floor.seed();
    let signature = <[u8; 48]>::try_from(seed.signature.encode().as_ref()).ok()?;
    Some((
        Round::new(seed.round.epoch().get(), seed.round.view().get()),
        signature,
    ))
}

/// Syncs ledger directory `dir` (holding no ledger) from `source`: verifies its newest
/// checkpoint, imports the state and checks its root, and puts the ledger in place with the
/// start recorded. `progress` hears the entries imported so far after each chunk.
pub async fn sync(
    source: &impl SyncSource,
    dir: &Path,
    genesis: &Genesis,
    light: &LightClient,
    blocks_per_epoch: u64,
    mut progress: impl FnMut(u64, u64),
) -> Result<SyncedStart, SyncError> {
    let offer = source.checkpoint().await?;
    let (block, start) = verify_offer(light, genesis, blocks_per_epoch, &offer)?;
    let height = block.header.height;
    let mut import = StateImport::begin(dir, genesis, block)?;
    let mut after = None;
    loop {
        let chunk = source.chunk(height, after).await?;
        import.add(&chunk.entries)?;
        progress(height, import.entries());
        match chunk.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    import.attach(SYNC_FILE, &start.encode())?;
    import.finish(floor_seed(&start.floor))?;
    Ok(start)
}

/// Most entries in one state chunk.
pub const MAX_CHUNK_ENTRIES: usize = 4096;
/// Most bytes of keys and values in one state chunk (beyond its first entry).
pub const MAX_CHUNK_BYTES: usize = 2 << 20;

/// The height and offer of `ledger`'s newest checkpoint, with the finalizations
/// `finalization` finds (by height); none while the node has no checkpoint (it keeps one from
/// each epoch's first and middle blocks).
pub async fn offer<F, Fut>(
    ledger: &crate::ledger::Ledger,
    blocks_per_epoch: u64,
    finalization: F,
) -> Result<Option<(u64, CheckpointOffer)>, SyncError>
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = Option<Vec<u8>>>,
{
    let Some(checkpoint) = ledger.checkpoints().pop() else {
        return Ok(None);
    };
    let height = checkpoint.height;
    let finalization = &finalization;
    let finalized = |height: u64| async move {
        let block = ledger
            .block(height)?
            .ok_or_else(|| SyncError::Source(format!("block {height} is not kept")))?;
        let certificate = finalization(height)
            .await
            .ok_or_else(|| SyncError::Source(format!("no finalization of block {height}")))?;
        Ok::<_, SyncError>((block.encode().to_vec(), certificate))
    };
    let (block, certificate) = finalized(height).await?;
    let epoch = height / blocks_per_epoch.max(1);
    let boundary = match epoch {
        0 => None,
        e => Some(finalized(e * blocks_per_epoch - 1).await?),
    };
    Ok(Some((
        height,
        CheckpointOffer {
            block,
            finalization: certificate,
            boundary,
        },
    )))
}

/// The chunk after `after` of the state at `ledger`'s checkpoint `height`.
pub fn chunk(
    ledger: &crate::ledger::Ledger,
    height: u64,
    after: Option<&ExportCursor>,
) -> Result<ExportChunk, SyncError> {
    let checkpoint = ledger
        .checkpoints()
        .into_iter()
        .find(|c| c.height == height)
        .ok_or_else(|| {
            SyncError::Source(format!(
                "checkpoint {height} is no longer kept here: start again from a newer one"
            ))
        })?;
    checkpoint
        .snapshot
        .export(after, MAX_CHUNK_ENTRIES, MAX_CHUNK_BYTES)
        .map_err(|e| SyncError::Source(e.to_string()))
}

/// Another node of the same process as a source (tests): its ledger and its marshal.
#[derive(Clone)]
pub struct LedgerSource {
    /// The serving node's ledger.
    pub ledger: std::sync::Arc<crate::ledger::Ledger>,
    /// Its marshal (finalizations).
    pub marshal: crate::node::MarshalMailbox,
    /// Blocks per epoch.
    pub blocks_per_epoch: u64,
}

impl std::fmt::Debug for LedgerSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerSource").finish_non_exhaustive()
    }
}

impl SyncSource for LedgerSource {
    async fn checkpoint(&self) -> Result<CheckpointOffer, SyncError> {
        let marshal = self.marshal.clone();
        offer(&self.ledger, self.blocks_per_epoch, |height| {
            let marshal = marshal.clone();
            async move {
                marshal
                    .get_finalization(commonware_consensus::types::Height::new(height))
                    .await
                    .map(|f| f.encode().to_vec())
            }
        })
        .await?
        .map(|(_, offer)| offer)
        .ok_or_else(|| SyncError::Source("no checkpoint yet".into()))
    }

    async fn chunk(
        &self,
        height: u64,
        after: Option<ExportCursor>,
    ) -> Result<ExportChunk, SyncError> {
        chunk(&self.ledger, height, after.as_ref())
    }
}
