//! Wiring of one validator: the epoch orchestrator (commonware-glue: one simplex instance per
//! epoch, threshold-BLS VRF with the epoch's sharing of the group key) + the epochs' key
//! resharing (glue's `reshare` actor) + marshal (`standard::Deferred`: notarize votes after
//! checking a block's consensus context, execution before the finalize vote) + the block
//! relay (transaction gossip and compact blocks, [`crate::relay`]) + marshal's backfill
//! resolver + the applier task.
//!
//! Network-agnostic: it takes p2p channels, a peer manager (which activates each epoch's
//! peers at their committed addresses) and a [`Blocker`], so the same code runs on
//! `commonware_p2p::simulated` (tests) and `authenticated` (real nodes), and it is generic over
//! the runtime (deterministic in tests, tokio in production).

use crate::app::{App, Finalizer, PublicKey, Scheme, SeedRecorder, apply_finalized};
use crate::block::{Block, to_consensus};
use crate::ledger::Ledger;
use crate::mempool::Mempool;
use crate::relay::{Relay, RelayConfig};
use commonware_consensus::{
    Reporters,
    marshal::{
        self, core::Actor as MarshalActor, resolver::p2p as marshal_resolver, standard::Deferred,
    },
    simplex::{
        self,
        elector::{Random, RandomVersion},
    },
    types::{Epoch, FixedEpocher, ViewDelta},
};
use commonware_cryptography::{Digested, certificate::ConstantProvider, sha256::Sha256};
use commonware_p2p::{Blocker, Receiver, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::{Clock, Handle, Metrics, Spawner, Storage, buffer::paged::CacheRef};
use commonware_storage::archive::immutable;
use commonware_utils::{NZDuration, NZU16, NZU64, NZUsize};
use rand_core::CryptoRng;
use std::sync::Arc;
use std::time::Duration;

/// Namespace of all consensus signatures (light clients need it to verify certificates).
pub use hyperchain_types::consensus::NAMESPACE;

/// Domain separation of the epochs' key resharing.
pub const RESHARE_NAMESPACE: &[u8] = b"hyperchain/reshare/v1";

/// Largest p2p message: a full block plus framing.
pub const MAX_MESSAGE_SIZE: u32 =
    (hyperchain_types::block_limits::MAX_BLOCK_BYTES + 64 * 1024) as u32;

/// The p2p channels of one validator.
#[derive(Debug)]
pub struct Channels<S, R> {
    /// simplex votes.
    pub votes: (S, R),
    /// simplex certificates.
    pub certificates: (S, R),
    /// simplex certificate fetches.
    pub resolver: (S, R),
    /// marshal block and finalization backfill.
    pub backfill: (S, R),
    /// the block relay: transaction gossip and compact blocks.
    pub relay: (S, R),
    /// the epochs' key resharing: dealings and acknowledgements.
    pub dkg: (S, R),
}

/// Channel numbers used by [`Channels`] (votes, certificates, resolver, backfill, relay,
/// resharing).
pub const CHANNELS: [u64; 6] = [0, 1, 2, 3, 4, 5];

/// What a validator signs and keeps secret with: its identity, its secrets' store (the
/// genesis share is put there for epoch 0 if it holds none), the chain's group key and epoch
/// length.
pub struct Keys {
    /// The ed25519 identity (consensus votes, p2p, dealings).
    pub identity: commonware_cryptography::ed25519::PrivateKey,
    /// Its share of the genesis key (epoch 0); none for a validator that joins later (it
    /// receives its share in a resharing).
    pub genesis_share: Option<commonware_cryptography::bls12381::primitives::group::Share>,
    /// Its secret store (shares, dealer seeds, received dealings of each epoch).
    pub secrets: crate::ceremony::FileSecretStore,
    /// The group public key (constant across epochs).
    pub group_key: hyperchain_types::consensus::GroupPublicKey,
    /// Blocks per epoch (the genesis's).
    pub blocks_per_epoch: std::num::NonZeroU64,
    /// Where a node whose ledger was synced from a checkpoint starts (its ledger directory's
    /// [`crate::statesync::SYNC_FILE`]); none for a node that has every block from genesis.
    pub synced: Option<crate::statesync::SyncedStart>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("blocks_per_epoch", &self.blocks_per_epoch)
            .finish_non_exhaustive()
    }
}

/// marshal's mailbox (finalized blocks and certificates by height).
pub type MarshalMailbox = marshal::core::Mailbox<Scheme, marshal::standard::Standard<Block>>;

/// A running validator.
pub struct Node {
    /// Committed state and index.
    pub ledger: Arc<Ledger>,
    /// Transactions waiting for a block.
    pub mempool: Arc<Mempool>,
    /// marshal's mailbox (finalized blocks and certificates by height).
    pub marshal: MarshalMailbox,
    /// The actors' tasks; aborting them stops the validator.
    pub handles: Vec<Handle<()>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("tip", &self.ledger.tip())
            .field("mempool", &self.mempool.len())
            .finish_non_exhaustive()
    }
}

/// Starts one validator on `context`, storing consensus data in the runtime's storage under
/// partitions prefixed by `partition_prefix`: marshal, the block relay, the epochs' key
/// resharing (glue's `reshare` actor, reading each epoch's validators from the ledger) and the
/// epoch orchestrator (one simplex instance per epoch, each with the epoch's sharing of the
/// group key).
#[allow(clippy::too_many_arguments)]
pub async fn start<E, S, R, M, B>(
    context: E,
    partition_prefix: &str,
    keys: Keys,
    ledger: Arc<Ledger>,
    mempool: Arc<Mempool>,
    manager: M,
    blocker: B,
    channels: Channels<S, R>,
) -> Node
where
    E: Spawner
        + Clock
        + Metrics
        + Storage
        + commonware_runtime::Network
        + CryptoRng
        + rand_core::Rng,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
    M: commonware_glue::dkg::network::Manager<
            PublicKey = PublicKey,
            Directory = commonware_glue::dkg::network::Addresses<PublicKey>,
        > + Clone,
    B: Blocker<PublicKey = PublicKey>,
{
    use commonware_cryptography::Signer as _;
    use commonware_glue::dkg::{SecretStore as _, fence::Fence, orchestrator, reshare};
    let prefix = partition_prefix;
    let page_cache = CacheRef::new(NZU16!(4096), NZUsize!(64));
    let mailbox_size = NZUsize!(1024);
    let io = NZUsize!(64 * 1024);
    let me = keys.identity.public_key();
    let blocks_per_epoch = keys.blocks_per_epoch;

    // Backfill: fetch missing blocks and finalizations from peers.
    let resolver = marshal_resolver::init(
        context.child("marshal_resolver"),
        marshal_resolver::Config {
            public_key: me.clone(),
            peer_provider: manager.clone(),
            blocker: blocker.clone(),
            mailbox_size,
            fetch_timeout: NZDuration!(Duration::from_secs(2)),
            fetch_retry_delay: Duration::from_millis(100),
            priority_requests: false,
            priority_responses: false,
        },
        channels.backfill,
    );

    // Proposed blocks travel as compact blocks over gossiped transactions.
    let (relay, buffer) = Relay::new(
        context.child("relay"),
        RelayConfig::default(),
        ledger.clone(),
        mempool.clone(),
    );
    let relay_handle = relay.start(channels.relay);

    // Durable archives: finalization certificates and finalized blocks by height.
    let archive_cfg = |name: &str, codec_config| immutable::Config {
        metadata_partition: format!("{prefix}-{name}-metadata"),
        freezer_table_partition: format!("{prefix}-{name}-freezer-table"),
        freezer_table_initial_size: 64,
        freezer_table_resize_frequency: 10,
        freezer_table_resize_chunk_size: 10,
        freezer_key_partition: format!("{prefix}-{name}-freezer-key"),
        freezer_key_page_cache: page_cache.clone(),
        freezer_value_partition: format!("{prefix}-{name}-freezer-value"),
        freezer_value_target_size: 1024 * 1024,
        freezer_value_compression: None,
        ordinal_partition: format!("{prefix}-{name}-ordinal"),
        items_per_section: NZU64!(1024),
        codec_config,
        replay_buffer: io,
        freezer_key_write_buffer: io,
        freezer_value_write_buffer: io,
        ordinal_write_buffer: io,
    };
    let finalizations_by_height = immutable::Archive::init(
        context.child("finalizations"),
        archive_cfg("finalizations", ()),
    )
    .await
    .expect("cannot open the finalizations archive");
    let finalized_blocks =
        immutable::Archive::init(context.child("blocks"), archive_cfg("blocks", ()))
            .await
            .expect("cannot open the blocks archive");

    let genesis = Block(ledger.genesis().clone());
    let genesis_digest = to_consensus(genesis.hash());
    let epocher = FixedEpocher::new(blocks_per_epoch);
    let (marshal_actor, marshal_mailbox, _floor) = MarshalActor::init(
        context.child("marshal"),
        finalizations_by_height,
        finalized_blocks,
        marshal::Config {
            // Finality certificates of every epoch verify against the group key alone: the
            // key resharing keeps it across validator-set changes.
            provider: ConstantProvider::<_, Epoch>::new(Scheme::certificate_verifier(
                NAMESPACE,
                keys.group_key,
            )),
            epocher: epocher.clone(),
            // A synced node starts at its floor (a floor its durable progress passed is
            // ignored); every other node at genesis.
            start: match &keys.synced {
                Some(synced) => marshal::Start::Floor(synced.floor.clone()),
                None => marshal::Start::Genesis(Digested::precomputed(genesis, genesis_digest)),
            },
            partition_prefix: format!("{prefix}-marshal"),
            mailbox_size,
            view_retention: ViewDelta::new(10),
            prunable_items_per_section: NZU64!(10),
            page_cache: page_cache.clone(),
            replay_buffer: io,
            key_write_buffer: io,
            value_write_buffer: io,
            block_codec_config: (),
            max_repair: NZUsize!(10),
            max_pending_acks: NZUsize!(1),
            strategy: Sequential,
        },
    )
    .await;

    // The epochs' key resharing: epoch 0 starts from the genesis share.
    let mut secrets = keys.secrets;
    if let Some(share) = keys.genesis_share
        && secrets.get_share(Epoch::zero()).await.is_none()
    {
        secrets.put_share(Epoch::zero(), share).await;
    }
    let schemes = crate::epochs::EpochSchemes::new();
    let (fence, gate) = Fence::new();
    // The resharing and the orchestrator enter a synced node's floor epoch from its public
    // material (the node has no boundary block of it); glue drops the record once the node's
    // finalized blocks are past that epoch.
    let state_sync = commonware_glue::dkg::state_sync::Plan::init(
        context.child("state_sync"),
        commonware_glue::dkg::state_sync::Config {
            partition_prefix: format!("{prefix}-state-sync"),
            max_participants: std::num::NonZeroU32::new(crate::block::MAX_RESHARE_PARTICIPANTS)
                .expect("positive"),
            max_supported_mode:
                commonware_cryptography::bls12381::primitives::sharing::ModeVersion::v0(),
        },
        keys.synced
            .as_ref()
            .map(crate::statesync::SyncedStart::glue),
    )
    .await;
    let (reshare_actor, reshare_mailbox) = reshare::Actor::new(
        context.child("reshare"),
        reshare::Config {
            signer: keys.identity,
            manager: manager.clone(),
            blocker: blocker.clone(),
            participants_provider: crate::epochs::LedgerParticipants::new(
                context.child("participants"),
                ledger.clone(),
                blocks_per_epoch.get(),
            ),
            secret_store: secrets,
            strategy: Sequential,
            registrar: schemes.clone(),
            marshal: marshal_mailbox.clone(),
            state_sync: state_sync.clone(),
            fence,
            namespace: RESHARE_NAMESPACE,
            sharing_mode:
                commonware_cryptography::bls12381::primitives::sharing::Mode::NonZeroCounter,
            reveal: commonware_cryptography::bls12381::dkg::feldman_desmedt::Reveal::V1,
            mailbox_size,
            partition_prefix: format!("{prefix}-reshare"),
            page_cache: page_cache.clone(),
            write_buffer: io,
            replay_buffer: io,
            max_participants: std::num::NonZeroU32::new(crate::block::MAX_RESHARE_PARTICIPANTS)
                .expect("positive"),
            blocks_per_epoch,
        },
    );
    let reshare_handle = reshare_actor.start(channels.dkg);

    // The application, wrapped by the resharing (which puts its payloads in blocks and checks
    // them) and by marshal's Deferred (notarize votes once a block is available and its header
    // names its consensus context; execution before the finalize vote), and tapped for seeds.
    let deferred = Deferred::new(
        context.child("deferred"),
        reshare::Application::new(
            App::new(ledger.clone(), mempool.clone()),
            reshare_mailbox.clone(),
            blocks_per_epoch,
        ),
        marshal_mailbox.clone(),
        epocher,
    );
    let application = crate::app::Orchestrated::new(deferred, SeedRecorder::new(ledger.clone()));

    let (orchestrator_actor, orchestrator_mailbox) = orchestrator::Actor::new(
        context.child("orchestrator"),
        orchestrator::Config {
            oracle: blocker,
            manager,
            provider: schemes,
            marshal: marshal_mailbox.clone(),
            application,
            strategy: Sequential,
            simplex: orchestrator::SimplexConfig {
                elector: Random::<Sha256>::new(RandomVersion::V1),
                mailbox_size,
                replay_buffer: io,
                write_buffer: io,
                page_cache,
                leader_timeout: Duration::from_secs(1),
                certification_timeout: Duration::from_secs(2),
                timeout_retry: Duration::from_secs(10),
                fetch_timeout: NZDuration!(Duration::from_secs(1)),
                fetch_retry_delay: Duration::from_millis(100),
                view_retention: ViewDelta::new(10),
                skip: simplex::SkipPolicy::Enabled {
                    timeout: Duration::from_secs(12),
                    budget: simplex::SkipBudget::Participants,
                },
                track_historical_votes: false,
                forward: simplex::ForwardPolicy::Disabled,
            },
            gate,
            state_sync,
            blocks_per_epoch,
            mailbox_size,
            partition_prefix: format!("{prefix}-orchestrator"),
        },
    );
    let orchestrator_handle =
        orchestrator_actor.start(channels.votes, channels.certificates, channels.resolver);

    // marshal delivers finalized blocks in order to the applier, the orchestrator and the
    // resharing.
    let (finalizer, finalized) = Finalizer::new();
    let apply_handle = context.child("apply").spawn({
        let ledger = ledger.clone();
        let mempool = mempool.clone();
        move |ctx| apply_finalized(ctx, ledger, mempool, finalized)
    });
    let marshal_handle = marshal_actor.start(
        Reporters::from((
            finalizer,
            Reporters::from((orchestrator_mailbox, reshare_mailbox)),
        )),
        buffer,
        resolver,
    );

    Node {
        ledger,
        mempool,
        marshal: marshal_mailbox,
        handles: vec![
            relay_handle,
            reshare_handle,
            orchestrator_handle,
            marshal_handle,
            apply_handle,
        ],
    }
}
