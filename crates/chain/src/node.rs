//! Wiring of one validator: simplex (threshold-BLS VRF) + marshal (`standard::Deferred`:
//! notarize votes after checking a block's consensus context, execution before the finalize
//! vote) +
//! the block relay (transaction gossip and compact blocks, [`crate::relay`]) + marshal's
//! backfill resolver + the applier task.
//!
//! Network-agnostic: it takes p2p channels, a peer [`Provider`] and a [`Blocker`], so the same
//! code runs on `commonware_p2p::simulated` (tests) and `authenticated` (real nodes), and it is
//! generic over the runtime (deterministic in tests, tokio in production).

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
use commonware_p2p::{Blocker, Provider, Receiver, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::{Clock, Handle, Metrics, Spawner, Storage, buffer::paged::CacheRef};
use commonware_storage::archive::immutable;
use commonware_utils::{NZDuration, NZU16, NZU64, NZUsize};
use rand_core::CryptoRng;
use std::sync::Arc;
use std::time::Duration;

/// Namespace of all consensus signatures (light clients need it to verify certificates).
pub use hyperchain_types::consensus::NAMESPACE;

/// One epoch for the whole chain (no reconfiguration yet). `Deferred` re-proposes the last block
/// of an epoch, so the boundary is kept out of reach.
pub const BLOCKS_PER_EPOCH: u64 = 1 << 40;

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
}

/// Channel numbers used by [`Channels`] (votes, certificates, resolver, backfill, relay).
pub const CHANNELS: [u64; 5] = [0, 1, 2, 3, 4];

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
/// partitions prefixed by `partition_prefix`.
#[allow(clippy::too_many_arguments)]
pub async fn start<E, S, R, P, B>(
    context: E,
    partition_prefix: &str,
    me: PublicKey,
    scheme: Scheme,
    ledger: Arc<Ledger>,
    mempool: Arc<Mempool>,
    peers: P,
    blocker: B,
    channels: Channels<S, R>,
) -> Node
where
    E: Spawner + Clock + Metrics + Storage + CryptoRng + rand_core::Rng,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
    P: Provider<PublicKey = PublicKey>,
    B: Blocker<PublicKey = PublicKey>,
{
    let prefix = partition_prefix;
    let page_cache = CacheRef::new(NZU16!(4096), NZUsize!(64));
    let mailbox_size = NZUsize!(1024);
    let io = NZUsize!(64 * 1024);

    // Backfill: fetch missing blocks and finalizations from peers.
    let resolver = marshal_resolver::init(
        context.child("marshal_resolver"),
        marshal_resolver::Config {
            public_key: me.clone(),
            peer_provider: peers.clone(),
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
    let epocher = FixedEpocher::new(NZU64!(BLOCKS_PER_EPOCH));
    let (marshal_actor, marshal_mailbox, _floor) = MarshalActor::init(
        context.child("marshal"),
        finalizations_by_height,
        finalized_blocks,
        marshal::Config {
            // Finality certificates of every epoch verify against the group key alone: the
            // key resharing keeps it across validator-set changes.
            provider: ConstantProvider::<_, Epoch>::new(Scheme::certificate_verifier(
                NAMESPACE,
                *scheme.identity(),
            )),
            epocher: epocher.clone(),
            start: marshal::Start::Genesis(Digested::precomputed(genesis, genesis_digest)),
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

    // The application, wrapped by marshal's Deferred (automaton, relay and reporter for
    // simplex): a validator votes to notarize a block once it is available and its header
    // names the consensus context it was proposed in, executes it meanwhile, and votes to
    // finalize only once the execution matched the header (certification). Execution thus
    // leaves the notarization round's critical path.
    let wrapped = Deferred::new(
        context.child("deferred"),
        App::new(ledger.clone(), mempool.clone()),
        marshal_mailbox.clone(),
        epocher,
    );
    let reporter = Reporters::from((wrapped.clone(), SeedRecorder::new(ledger.clone())));

    let engine = simplex::Engine::new(
        context.child("simplex"),
        simplex::Config {
            scheme,
            elector: Random::<Sha256>::new(RandomVersion::V1),
            blocker,
            automaton: wrapped.clone(),
            relay: wrapped,
            reporter,
            track_historical_votes: false,
            strategy: Sequential,
            partition: format!("{prefix}-simplex"),
            mailbox_size,
            epoch: Epoch::zero(),
            floor: simplex::Floor::Genesis(genesis_digest),
            replay_buffer: io,
            write_buffer: io,
            page_cache,
            leader_timeout: Duration::from_secs(1),
            certification_timeout: Duration::from_secs(2),
            timeout_retry: Duration::from_secs(10),
            view_retention: ViewDelta::new(10),
            skip: simplex::SkipPolicy::Enabled {
                timeout: Duration::from_secs(12),
                budget: simplex::SkipBudget::Participants,
            },
            fetch_timeout: NZDuration!(Duration::from_secs(1)),
            fetch_retry_delay: Duration::from_millis(100),
            forward: simplex::ForwardPolicy::Disabled,
        },
    );
    let engine_handle = engine.start(channels.votes, channels.certificates, channels.resolver);

    // marshal delivers finalized blocks in order to the applier.
    let (finalizer, finalized) = Finalizer::new();
    let apply_handle = context.child("apply").spawn({
        let ledger = ledger.clone();
        let mempool = mempool.clone();
        move |ctx| apply_finalized(ctx, ledger, mempool, finalized)
    });
    let marshal_handle = marshal_actor.start(finalizer, buffer, resolver);

    Node {
        ledger,
        mempool,
        marshal: marshal_mailbox,
        handles: vec![relay_handle, engine_handle, marshal_handle, apply_handle],
    }
}
