//! Validators on the deterministic runtime and the simulated network, as
//! `crates/chain/tests/sim.rs` runs them, with each validator's marshal mailbox handed out
//! (compute nodes' in-process clients serve finality certificates from it).

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
use hyperchain_chain::app::{PublicKey, Scheme, Variant};
use hyperchain_chain::execute::Executor;
use hyperchain_chain::genesis::GroupPublicKey;
use hyperchain_chain::ledger::{Genesis, Ledger};
use hyperchain_chain::light::LightClient;
use hyperchain_chain::mempool::Mempool;
use hyperchain_chain::node::{self, Channels, MAX_MESSAGE_SIZE, MarshalMailbox, NAMESPACE};
use hyperchain_chain::registry::RegistryConfig;
use hyperchain_types::Digest;
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

/// The validators of a simulated network: identity keys (seeds `0..n`), a threshold key dealt
/// by a trusted dealer (devnets only), and the simulated network with `link` between all.
pub struct Testnet {
    pub peers: Vec<PublicKey>,
    participants: Set<PublicKey>,
    pub polynomial: Sharing<Variant>,
    shares: Map<PublicKey, Share>,
    pub oracle: Oracle<PublicKey, deterministic::Context>,
}

impl Testnet {
    pub async fn new(context: &mut deterministic::Context, n: usize, link: &Link) -> Testnet {
        let keys: Vec<ed25519::PrivateKey> =
            (0..n as u64).map(ed25519::PrivateKey::from_seed).collect();
        let participants: Set<PublicKey> =
            keys.iter().map(|k| k.public_key()).try_collect().unwrap();
        let peers: Vec<PublicKey> = participants.iter().cloned().collect();
        let (output, shares) =
            deal::<Variant, _, N3f1>(&mut *context, Mode::NonZeroCounter, participants.clone())
                .unwrap();
        let polynomial = output.public().clone();
        let (network, oracle) = Network::new_with_peers(
            context.child("network"),
            Config {
                max_size: MAX_MESSAGE_SIZE,
                max_peers_per_set: NZUsize!(n),
                disconnect_on_block: true,
                tracked_peer_sets: NZUsize!(1),
            },
            peers.clone(),
        )
        .await;
        network.start();
        for (i, a) in peers.iter().enumerate() {
            for (j, b) in peers.iter().enumerate() {
                if i != j {
                    oracle
                        .add_link(a.clone(), b.clone(), link.clone())
                        .await
                        .unwrap();
                }
            }
        }
        Testnet {
            peers,
            participants,
            polynomial,
            shares,
            oracle,
        }
    }

    /// Validator `i`'s signing scheme (its share of the threshold key).
    pub fn scheme(&self, i: usize) -> Scheme {
        Scheme::signer(
            NAMESPACE,
            self.participants.clone(),
            self.polynomial.clone(),
            self.shares.get_value(&self.peers[i]).unwrap().clone(),
        )
        .unwrap()
    }

    /// The group public key finality certificates verify against.
    pub fn group(&self) -> GroupPublicKey {
        *self.polynomial.public()
    }
}

/// A validator's ledger with `registry` (governance, policy, execution modes); blocks reveal
/// consensus seeds, checked against `group`.
pub fn open_ledger(
    dir: &Path,
    chain_id: Digest,
    engine: Engine,
    group: &GroupPublicKey,
    registry: RegistryConfig,
) -> Arc<Ledger> {
    let genesis = Genesis {
        chain_id,
        timestamp_ms: 0,
    };
    let executor = Executor::new(engine, chain_id)
        .with_registry(registry)
        .with_seed_verifier(LightClient::new(chain_id, *group));
    Arc::new(Ledger::open(dir, genesis, executor).unwrap())
}

/// Runs validator `i` in its own task (aborting the handle aborts every actor it spawned,
/// which is how a validator crashes); its marshal mailbox arrives on the returned channel once
/// it runs.
pub fn spawn_validator(
    context: &deterministic::Context,
    net: &Testnet,
    i: usize,
    ledger: Arc<Ledger>,
    mempool: Arc<Mempool>,
) -> (Handle<()>, oneshot::Receiver<MarshalMailbox>) {
    let oracle = net.oracle.clone();
    let me = net.peers[i].clone();
    let scheme = net.scheme(i);
    let (sender, receiver) = oneshot::channel();
    let handle =
        context
            .child("validator")
            .with_attribute("index", i)
            .spawn(move |ctx| async move {
                let quota = Quota::per_second(NZU32!(10_000));
                let control = oracle.control(me.clone());
                let channels = Channels {
                    votes: control.register(0, quota).await.unwrap(),
                    certificates: control.register(1, quota).await.unwrap(),
                    resolver: control.register(2, quota).await.unwrap(),
                    backfill: control.register(3, quota).await.unwrap(),
                    relay: control.register(4, quota).await.unwrap(),
                };
                let node = node::start(
                    ctx,
                    &format!("validator-{i}"),
                    me,
                    scheme,
                    ledger,
                    mempool,
                    oracle.manager(),
                    control,
                    channels,
                )
                .await;
                let _ = sender.send(node.marshal);
                futures::future::join_all(node.handles).await;
            });
    (handle, receiver)
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
