//! Validators on commonware's deterministic runtime and simulated network, as the simulation
//! tests run them (feature `testkit`; not part of a node): the network with a threshold key
//! dealt by a trusted dealer (tests only), each validator's ledger, and a validator task whose
//! handle, when aborted, crashes it.

use crate::execute::Executor;
use crate::genesis::{Genesis, GroupPublicKey};
use crate::ledger::Ledger;
use crate::light::LightClient;
use crate::mempool::Mempool;
use crate::node::{self, Channels, MAX_MESSAGE_SIZE, MarshalMailbox, NAMESPACE};
use crate::registry::RegistryConfig;
use commonware_cryptography::{
    Signer as _,
    bls12381::{
        dkg::feldman_desmedt::deal,
        primitives::{
            group::Share,
            sharing::{Mode, Sharing},
        },
    },
    ed25519,
};
use commonware_p2p::simulated::{Config, Link, Network, Oracle};
use commonware_runtime::{Clock as _, Handle, Quota, Spawner as _, Supervisor as _, deterministic};
use commonware_utils::{
    N3f1, NZU32, NZUsize, TryCollect as _,
    ordered::{Map, Set},
    probability,
};
use futures::channel::oneshot;
use hyperchain_types::Digest;
use hyperchain_types::consensus::{PublicKey, Scheme, Variant};
use hyperchain_vm::Engine;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Good links: 50 ms, little jitter, 2% loss.
pub fn good_link() -> Link {
    Link {
        latency: Duration::from_millis(50),
        jitter: Duration::from_millis(10),
        success_rate: probability!(0.98),
    }
}

/// Links every pair of `peers` for which `connected` holds with `link`, and unlinks the others.
pub async fn set_links(
    oracle: &Oracle<PublicKey, deterministic::Context>,
    peers: &[PublicKey],
    link: &Link,
    connected: impl Fn(usize, usize) -> bool,
) {
    for (i, a) in peers.iter().enumerate() {
        for (j, b) in peers.iter().enumerate() {
            if i == j {
                continue;
            }
            let _ = oracle.remove_link(a.clone(), b.clone()).await; // absent at first
            if connected(i, j) {
                oracle
                    .add_link(a.clone(), b.clone(), link.clone())
                    .await
                    .expect("link");
            }
        }
    }
}

/// The validators of a simulated network: identity keys (seeds `0..n`), a threshold key dealt
/// by a trusted dealer (tests only), and the simulated network with `link` between all.
pub struct Testnet {
    /// The validators' identity keys, in participant order.
    pub peers: Vec<PublicKey>,
    participants: Set<PublicKey>,
    /// The dealt polynomial (its constant term is the group key).
    pub polynomial: Sharing<Variant>,
    output: crate::genesis::DkgOutput,
    keys: Vec<ed25519::PrivateKey>,
    shares: Map<PublicKey, Share>,
    /// Blocks per epoch (default: one epoch for the whole run; [`Testnet::with_epochs`]).
    pub blocks_per_epoch: std::num::NonZeroU64,
    /// The simulated network's control.
    pub oracle: Oracle<PublicKey, deterministic::Context>,
}

impl std::fmt::Debug for Testnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Testnet")
            .field("validators", &self.peers.len())
            .finish_non_exhaustive()
    }
}

impl Testnet {
    /// `n` validators linked by `link`.
    pub async fn new(context: &mut deterministic::Context, n: usize, link: &Link) -> Testnet {
        let keys: Vec<ed25519::PrivateKey> =
            (0..n as u64).map(ed25519::PrivateKey::from_seed).collect();
        let participants: Set<PublicKey> = keys
            .iter()
            .map(|k| k.public_key())
            .try_collect()
            .expect("distinct keys");
        let peers: Vec<PublicKey> = participants.iter().cloned().collect();
        let (output, shares) =
            deal::<Variant, _, N3f1>(&mut *context, Mode::NonZeroCounter, participants.clone())
                .expect("deal");
        let polynomial = output.public().clone();
        // In participant order, like `peers`.
        let mut keys = keys;
        keys.sort_by_key(|k| k.public_key());
        let (network, oracle) = Network::new_with_peers(
            context.child("network"),
            Config {
                max_size: MAX_MESSAGE_SIZE,
                max_peers_per_set: NZUsize!(3 * n + 3),
                disconnect_on_block: true,
                tracked_peer_sets: NZUsize!(1),
            },
            peers.clone(),
        )
        .await;
        network.start();
        set_links(&oracle, &peers, link, |_, _| true).await;
        Testnet {
            peers,
            participants,
            polynomial,
            output,
            keys,
            shares,
            blocks_per_epoch: std::num::NonZeroU64::new(1 << 40).expect("positive"),
            oracle,
        }
    }

    /// Keys of a validator that is not in the genesis (identity seed `seed`): it joins the
    /// simulated network (linked by `link` to every validator) and receives its share in a
    /// resharing once governance admits it.
    pub async fn joiner(&self, seed: u64, link: &Link, secrets: &Path) -> node::Keys {
        let identity = ed25519::PrivateKey::from_seed(seed);
        let me = identity.public_key();
        for peer in &self.peers {
            for (a, b) in [(me.clone(), peer.clone()), (peer.clone(), me.clone())] {
                let _ = self.oracle.add_link(a, b, link.clone()).await;
            }
        }
        node::Keys {
            identity,
            genesis_share: None,
            secrets: crate::ceremony::FileSecretStore::open(secrets).expect("secret store"),
            group_key: *self.polynomial.public(),
            blocks_per_epoch: self.blocks_per_epoch,
            synced: None,
        }
    }

    /// This network with epochs of `blocks` blocks (the key reshared at each boundary).
    pub fn with_epochs(mut self, blocks: u64) -> Testnet {
        self.blocks_per_epoch = std::num::NonZeroU64::new(blocks).expect("positive");
        self
    }

    /// What every validator's genesis block carries: epoch 0's key generation output, the
    /// validators as players and next players, and (simulated) addresses.
    pub fn genesis(&self) -> TestnetGenesis {
        use commonware_codec::Encode as _;
        use commonware_glue::dkg::types::{EpochInfo, EpochOutcome, Payload};
        let directory = self
            .peers
            .iter()
            .enumerate()
            .map(|(i, p)| {
                (
                    p.clone(),
                    commonware_p2p::Address::Symmetric(std::net::SocketAddr::from((
                        [127, 0, 0, 1],
                        7000 + i as u16,
                    ))),
                )
            })
            .collect();
        let info: crate::block::ResharePayload = Payload::EpochInfo(EpochInfo {
            outcome: EpochOutcome::Success,
            epoch: commonware_consensus::types::Epoch::zero(),
            output: self.output.clone(),
            players: self.participants.clone(),
            next_players: self.participants.clone(),
            directory,
        });
        let validators = crate::validators::ValidatorSet::new(
            self.peers
                .iter()
                .enumerate()
                .map(|(i, p)| crate::validators::Validator {
                    public_key: hyperchain_types::SenderKey::from(p.clone()).0,
                    address: format!("127.0.0.1:{}", 7000 + i),
                })
                .collect(),
        );
        TestnetGenesis {
            group: *self.polynomial.public(),
            reshare: info.encode().to_vec(),
            validators,
            blocks_per_epoch: self.blocks_per_epoch.get(),
        }
    }

    /// Validator `i`'s keys, its secrets kept in `secrets`.
    pub fn keys(&self, i: usize, secrets: &Path) -> node::Keys {
        node::Keys {
            identity: self.keys[i].clone(),
            genesis_share: Some(
                self.shares
                    .get_value(&self.peers[i])
                    .expect("a share")
                    .clone(),
            ),
            secrets: crate::ceremony::FileSecretStore::open(secrets).expect("secret store"),
            group_key: *self.polynomial.public(),
            blocks_per_epoch: self.blocks_per_epoch,
            synced: None,
        }
    }

    /// Validator `i`'s signing scheme (its share of the threshold key).
    pub fn scheme(&self, i: usize) -> Scheme {
        Scheme::signer(
            NAMESPACE,
            self.participants.clone(),
            self.polynomial.clone(),
            self.shares
                .get_value(&self.peers[i])
                .expect("a share")
                .clone(),
        )
        .expect("a signer")
    }

    /// The group public key finality certificates verify against.
    pub fn group(&self) -> GroupPublicKey {
        *self.polynomial.public()
    }
}

/// What a simulated chain's genesis gives every validator's ledger: the group key seeds are
/// checked against, and the genesis block's reshare payload.
#[derive(Clone, Debug)]
pub struct TestnetGenesis {
    /// The group public key.
    pub group: GroupPublicKey,
    /// Epoch 0's key generation output, encoded.
    pub reshare: Vec<u8>,
    /// The validator set of epoch 0 (in state: the resharing reads each epoch's from there).
    pub validators: crate::validators::ValidatorSet,
    /// Blocks per epoch.
    pub blocks_per_epoch: u64,
}

/// A validator's ledger with `registry` (governance, policy, execution modes); blocks reveal
/// consensus seeds, checked against the group key.
pub fn open_ledger(
    dir: &Path,
    chain_id: Digest,
    engine: Engine,
    genesis: &TestnetGenesis,
    registry: RegistryConfig,
) -> Arc<Ledger> {
    let (genesis, executor) = ledger_parts(chain_id, engine, genesis, registry);
    Arc::new(Ledger::open(dir, genesis, executor).expect("ledger"))
}

fn ledger_parts(
    chain_id: Digest,
    engine: Engine,
    genesis: &TestnetGenesis,
    registry: RegistryConfig,
) -> (Genesis, Executor) {
    let group = genesis.group;
    let registry = RegistryConfig {
        blocks_per_epoch: genesis.blocks_per_epoch,
        ..registry
    };
    let genesis = Genesis {
        reshare: Some(genesis.reshare.clone()),
        validators: genesis.validators.clone(),
        ..Genesis::unfunded(chain_id, 0)
    };
    let executor = Executor::new(engine, chain_id)
        .with_registry(registry)
        .with_seed_verifier(LightClient::new(chain_id, group));
    (genesis, executor)
}

/// A joining node's ledger in `dir`, synced from `source`'s newest checkpoint (as
/// `hyperchain node --sync-from` does over RPC), and where it starts.
pub async fn sync_ledger(
    dir: &Path,
    chain_id: Digest,
    engine: Engine,
    genesis: &TestnetGenesis,
    source: &crate::statesync::LedgerSource,
) -> Result<(Arc<Ledger>, crate::statesync::SyncedStart), crate::statesync::SyncError> {
    let light = LightClient::new(chain_id, genesis.group);
    let (genesis, executor) = ledger_parts(chain_id, engine, genesis, RegistryConfig::default());
    let start = crate::statesync::sync(
        source,
        dir,
        &genesis,
        &light,
        source.blocks_per_epoch,
        |_, _| {},
    )
    .await?;
    Ok((Arc::new(Ledger::open(dir, genesis, executor)?), start))
}

/// Runs validator `index` (its `incarnation`-th start) in its own task: aborting the handle
/// aborts every actor it spawned (tasks form a tree), which is how a validator crashes; its
/// consensus partitions survive in the runtime's storage, its ledger on disk. Its marshal
/// mailbox arrives on the returned channel once it runs (in-process clients serve finality
/// certificates from it).
#[allow(clippy::too_many_arguments)]
pub fn spawn_validator(
    context: &deterministic::Context,
    oracle: &Oracle<PublicKey, deterministic::Context>,
    index: usize,
    incarnation: u32,
    keys: node::Keys,
    ledger: Arc<Ledger>,
    mempool: Arc<Mempool>,
) -> (Handle<()>, oneshot::Receiver<MarshalMailbox>) {
    use commonware_cryptography::Signer as _;
    let me = keys.identity.public_key();
    let oracle = oracle.clone();
    let (sender, receiver) = oneshot::channel();
    let handle = context
        .child("validator")
        .with_attribute("index", index)
        .with_attribute("incarnation", incarnation)
        .spawn(move |ctx| async move {
            let quota = Quota::per_second(NZU32!(10_000));
            let control = oracle.control(me.clone());
            let channels = Channels {
                votes: control.register(0, quota).await.expect("channel"),
                certificates: control.register(1, quota).await.expect("channel"),
                resolver: control.register(2, quota).await.expect("channel"),
                backfill: control.register(3, quota).await.expect("channel"),
                relay: control.register(4, quota).await.expect("channel"),
                dkg: control.register(5, quota).await.expect("channel"),
            };
            let node = node::start(
                ctx,
                &format!("validator-{index}"),
                keys,
                ledger,
                mempool,
                addressable(&oracle),
                control,
                channels,
            )
            .await;
            let _ = sender.send(node.marshal);
            futures::future::join_all(node.handles).await;
        });
    (handle, receiver)
}

/// The simulated network's peer manager as the epochs' resharing and orchestrator use it
/// (peers activated per epoch with their addresses).
pub fn addressable(
    oracle: &Oracle<PublicKey, deterministic::Context>,
) -> commonware_glue::dkg::network::AddressableManager<
    commonware_p2p::simulated::SocketManager<PublicKey, deterministic::Context>,
> {
    commonware_glue::dkg::network::AddressableManager::new(oracle.socket_manager())
}

/// Waits until every validator in `who` finalized `height`.
pub async fn wait_for(
    context: &deterministic::Context,
    ledgers: &[Arc<Ledger>],
    who: &[usize],
    height: u64,
) {
    while !who.iter().all(|&i| ledgers[i].tip().0 >= height) {
        context.sleep(Duration::from_millis(100)).await;
    }
}

/// A simulated network for a genesis ceremony among `peers` (no validators yet), linked by
/// `link`, with messages up to the ceremony's bound.
pub async fn ceremony_network(
    context: &deterministic::Context,
    peers: &[PublicKey],
    link: &Link,
) -> Oracle<PublicKey, deterministic::Context> {
    let (network, oracle) = Network::new(
        context.child("ceremony_network"),
        Config {
            max_size: crate::ceremony::max_message_size(peers.len()),
            max_peers_per_set: NZUsize!(peers.len()),
            disconnect_on_block: true,
            tracked_peer_sets: NZUsize!(1),
        },
    );
    network.start();
    set_links(&oracle, peers, link, |_, _| true).await;
    oracle
}

/// Runs validator `index`'s part of the ceremony completing `draft` on the simulated network,
/// with its secrets in `store`, adding the bytes it receives to `received`; the receiver gets
/// its outcome. The participant keeps serving
/// the ceremony's chain after it completed, until `handle` is aborted.
pub fn spawn_ceremony(
    context: &deterministic::Context,
    oracle: &Oracle<PublicKey, deterministic::Context>,
    index: usize,
    draft: crate::genesis::Draft,
    identity: crate::genesis::ValidatorIdentity,
    store: &Path,
    received: Arc<std::sync::atomic::AtomicU64>,
) -> (
    Handle<()>,
    oneshot::Receiver<Result<crate::ceremony::Completed, crate::ceremony::CeremonyError>>,
) {
    use crate::ceremony::{self, CeremonyChannels, FileSecretStore};
    let oracle = oracle.clone();
    let store = FileSecretStore::open(store).expect("secret store");
    let (sender, receiver) = oneshot::channel();
    let handle = context
        .child("ceremony")
        .with_attribute("index", index)
        .spawn(move |ctx| async move {
            let me = identity.public_key();
            let quota = Quota::per_second(NZU32!(10_000));
            let control = oracle.control(me);
            let mut ch = Vec::new();
            for c in ceremony::CHANNELS {
                let (sender, receiver) = control.register(c, quota).await.expect("channel");
                let receiver = ceremony::CountingReceiver::new(receiver, received.clone());
                ch.push(Some((sender, receiver)));
            }
            let mut take = |i: usize| ch[i].take().expect("registered once");
            let channels = CeremonyChannels {
                votes: take(0),
                certificates: take(1),
                resolver: take(2),
                backfill: take(3),
                broadcast: take(4),
                dkg: take(5),
            };
            let manager =
                commonware_glue::dkg::network::AddressableManager::new(oracle.socket_manager());
            let result = ceremony::run(
                ctx.child("dkg"),
                draft,
                identity,
                manager,
                control,
                channels,
                store,
                &format!("ceremony-{index}"),
            )
            .await;
            match result {
                Ok((completed, engine)) => {
                    let _ = sender.send(Ok(completed));
                    // Keep serving the ceremony's chain to slower participants.
                    let _ = engine.await;
                }
                Err(e) => {
                    let _ = sender.send(Err(e));
                }
            }
        });
    (handle, receiver)
}
