//! Per-epoch signing schemes (docs/DESIGN.md §11): each epoch's validators sign with that
//! epoch's sharing of the same group key. The epochs' resharing (commonware-glue's
//! `dkg::reshare`) registers each epoch's scheme here once it knows this validator's share,
//! and the epoch orchestrator's simplex instances take their scheme from here.
//!
//! [`EpochSchemes`] is both: the reshare actor's [`Registrar`] and the orchestrator's
//! certificate [`Provider`], scoped by epoch. It keeps the schemes of the last
//! [`KEPT_EPOCHS`] epochs registered (an epoch's engine is dropped once the next one runs;
//! finality certificates of any epoch verify against the group key alone, without a scheme of
//! that epoch).

use crate::ledger::Ledger;
use crate::validators::{self, ValidatorSet};
use commonware_consensus::types::Epoch;
use commonware_cryptography::certificate::{Provider, Scoped};
use commonware_glue::dkg::{
    ParticipantsProvider, Registrar, network::Addresses, types::SchemeInfo,
};
use commonware_p2p::Address;
use commonware_runtime::Clock;
use commonware_utils::ordered::Set;
use hyperchain_types::consensus::{NAMESPACE, PublicKey, Scheme, Variant};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::error;

/// How many of the latest epochs' schemes are kept.
pub const KEPT_EPOCHS: u64 = 3;

/// The signing schemes of the latest epochs, by epoch.
#[derive(Clone, Debug, Default)]
pub struct EpochSchemes {
    schemes: Arc<Mutex<BTreeMap<Epoch, Arc<Scheme>>>>,
}

impl EpochSchemes {
    /// No epoch registered yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Installs `info`'s scheme for `epoch` (idempotent) and forgets schemes more than
    /// [`KEPT_EPOCHS`] epochs older.
    pub fn install(&self, epoch: Epoch, info: SchemeInfo<Variant, PublicKey>) {
        let scheme = scheme_of(epoch, info);
        let mut schemes = self.schemes.lock().expect("scheme lock");
        schemes.insert(epoch, Arc::new(scheme));
        let keep_from = epoch.get().saturating_sub(KEPT_EPOCHS - 1);
        schemes.retain(|e, _| e.get() >= keep_from);
    }

    /// The epochs whose schemes are kept.
    pub fn epochs(&self) -> Vec<Epoch> {
        self.schemes
            .lock()
            .expect("scheme lock")
            .keys()
            .copied()
            .collect()
    }
}

/// The scheme `info` describes: a signer with a share, a member without one, a verifier
/// outside the epoch's validators. A share that does not fit the epoch's sharing (a bug, or a
/// corrupted secret store) leaves this validator a member: it verifies but cannot sign, and
/// says why, rather than stopping consensus.
fn scheme_of(epoch: Epoch, info: SchemeInfo<Variant, PublicKey>) -> Scheme {
    match info {
        SchemeInfo::Verifier {
            participants,
            sharing,
        } => Scheme::verifier(NAMESPACE, participants, sharing),
        SchemeInfo::Member {
            participants,
            sharing,
            public_key,
        } => Scheme::member(
            NAMESPACE,
            participants.clone(),
            sharing.clone(),
            &public_key,
        )
        .unwrap_or_else(|| Scheme::verifier(NAMESPACE, participants, sharing)),
        SchemeInfo::Signer {
            participants,
            sharing,
            share,
        } => match Scheme::signer(
            NAMESPACE,
            participants.clone(),
            sharing.clone(),
            share.clone(),
        ) {
            Some(scheme) => scheme,
            None => {
                error!(
                    epoch = epoch.get(),
                    "this validator's share does not fit the epoch's sharing: it will not sign"
                );
                match participants.iter().nth(usize::from(share.index)).cloned() {
                    Some(me) => {
                        Scheme::member(NAMESPACE, participants.clone(), sharing.clone(), &me)
                            .unwrap_or_else(|| Scheme::verifier(NAMESPACE, participants, sharing))
                    }
                    None => Scheme::verifier(NAMESPACE, participants, sharing),
                }
            }
        },
    }
}

impl Provider for EpochSchemes {
    type Scope = Epoch;
    type Scheme = Scheme;

    fn scoped(&self, scope: Epoch) -> Option<Scoped<Scheme>> {
        self.scheme(scope).map(Scoped::scheme)
    }

    fn scheme(&self, scope: Epoch) -> Option<Arc<Scheme>> {
        self.schemes
            .lock()
            .expect("scheme lock")
            .get(&scope)
            .cloned()
    }
}

impl Registrar for EpochSchemes {
    type Variant = Variant;
    type PublicKey = PublicKey;

    async fn register(&self, epoch: Epoch, info: SchemeInfo<Variant, PublicKey>) {
        self.install(epoch, info);
    }
}

/// The resharing's participants and directories, read from the validator sets the chain
/// committed (`val/epoch/ ‖ e`: the middle block of epoch e−2 commits epoch e's set) in this
/// validator's finalized state: the same on every honest validator, and fixed long before the
/// last block of epoch e−2 names them.
#[derive(Clone)]
pub struct LedgerParticipants<E> {
    context: E,
    ledger: Arc<Ledger>,
    blocks_per_epoch: u64,
}

impl<E> std::fmt::Debug for LedgerParticipants<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerParticipants")
            .field("blocks_per_epoch", &self.blocks_per_epoch)
            .finish_non_exhaustive()
    }
}

impl<E> LedgerParticipants<E> {
    /// Participants read from `ledger`, whose chain has epochs of `blocks_per_epoch` blocks.
    pub fn new(context: E, ledger: Arc<Ledger>, blocks_per_epoch: u64) -> Self {
        LedgerParticipants {
            context,
            ledger,
            blocks_per_epoch,
        }
    }
}

impl<E: Clock> LedgerParticipants<E> {
    /// Epoch `epoch`'s committed set, once this validator finalized the block that commits it.
    ///
    /// # Panics
    ///
    /// If the finalized state has no such set (it was pruned, or the state is corrupt): the
    /// resharing cannot go on with a set other validators might not share.
    pub async fn committed(&self, epoch: u64) -> ValidatorSet {
        let needed = match epoch.checked_sub(2) {
            None => 0,
            Some(e) => validators::commit_height(e, self.blocks_per_epoch),
        };
        while self.ledger.tip().0 < needed {
            self.context.sleep(Duration::from_millis(50)).await;
        }
        let snapshot = self
            .ledger
            .snapshot()
            .unwrap_or_else(|e| panic!("cannot read the finalized state: {e}"));
        match validators::epoch_set(&snapshot, epoch) {
            Ok(Some(set)) if !set.0.is_empty() => set,
            other => panic!(
                "the finalized state has no validator set for epoch {epoch} ({other:?}): it \
                 keeps the last {} epochs' sets",
                validators::KEPT_EPOCH_SETS
            ),
        }
    }
}

/// A committed validator's consensus key and address (validated when they were accepted).
fn decode(v: &validators::Validator) -> (PublicKey, Address) {
    use commonware_codec::DecodeExt as _;
    let key = PublicKey::decode(bytes::Bytes::copy_from_slice(&v.public_key))
        .unwrap_or_else(|e| panic!("a committed validator key does not decode: {e}"));
    let address = v
        .address
        .parse()
        .unwrap_or_else(|e| panic!("a committed validator address does not parse: {e}"));
    (key, Address::Symmetric(address))
}

impl<E: Clock + Send + Sync + 'static> ParticipantsProvider for LedgerParticipants<E> {
    type PublicKey = PublicKey;
    type Directory = Addresses<PublicKey>;

    async fn participants(&mut self, epoch: Epoch) -> Set<PublicKey> {
        let set = self.committed(epoch.get()).await;
        Set::from_iter_dedup(set.0.iter().map(|v| decode(v).0))
    }

    async fn directory(&mut self, epoch: Epoch, peers: Set<PublicKey>) -> Addresses<PublicKey> {
        // The epoch's dealers, players and next players are validators of epochs e−1, e and
        // e+1; a later set's address wins (a validator that moved announced it).
        let e = epoch.get();
        let mut known = std::collections::BTreeMap::new();
        for epoch in [e.saturating_sub(1), e, e + 1] {
            for v in &self.committed(epoch).await.0 {
                let (key, address) = decode(v);
                known.insert(key, address);
            }
        }
        peers
            .iter()
            .map(|p| {
                let address = known
                    .get(p)
                    .unwrap_or_else(|| panic!("peer {p:?} of epoch {e} has no committed address"));
                (p.clone(), address.clone())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::Signer as _;
    use commonware_cryptography::bls12381::dkg::feldman_desmedt::deal;
    use commonware_cryptography::bls12381::primitives::sharing::Mode;
    use commonware_cryptography::certificate::{Membership, Scheme as _};
    use commonware_cryptography::ed25519;
    use commonware_utils::{N3f1, TryCollect as _, ordered::Set};

    /// The committed sets of the genesis epochs are there at once, their directory names every
    /// peer, and a later epoch's set is waited for until its committing block is finalized.
    #[test]
    fn participants_come_from_the_committed_sets() {
        use commonware_runtime::{Runner as _, deterministic};
        let devnet = crate::genesis::deal_devnet(
            commonware_utils::test_rng(),
            "epochs",
            1_000,
            &(0..4)
                .map(|i| std::net::SocketAddr::from(([127, 0, 0, 1], 9000 + i)))
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let engine = hyperchain_vm::Engine::new(hyperchain_vm::EngineConfig::default()).unwrap();
        let ledger = Arc::new(
            Ledger::open(
                dir.path(),
                devnet.spec.ledger_genesis(),
                crate::execute::Executor::new(engine, devnet.spec.chain_id)
                    .with_registry(devnet.spec.registry_config()),
            )
            .unwrap(),
        );
        let spec = devnet.spec.clone();
        deterministic::Runner::default().start(|context| async move {
            use commonware_runtime::Supervisor as _;
            let mut provider = LedgerParticipants::new(context.child("participants"), ledger, 8);
            let genesis = provider.participants(Epoch::zero()).await;
            assert_eq!(genesis, spec.participants);
            assert_eq!(
                provider.participants(Epoch::new(1)).await,
                spec.participants
            );
            let directory = provider
                .directory(Epoch::zero(), spec.participants.clone())
                .await;
            for v in &spec.validators {
                assert_eq!(
                    directory.get(&v.public_key),
                    Some(&Address::Symmetric(v.address))
                );
            }
            // Epoch 2's set is committed by block 4, not finalized here: it is waited for.
            let waited = commonware_macros::select! {
                _ = provider.participants(Epoch::new(2)) => false,
                _ = context.sleep(Duration::from_secs(5)) => true,
            };
            assert!(waited, "epoch 2's set is not known before block 4");
        });
    }

    /// Each kind of registration installs the scheme it describes, registering twice changes
    /// nothing, old epochs are forgotten, and a share that does not fit leaves a member.
    #[test]
    fn registrations_install_each_epochs_scheme() {
        let mut rng = commonware_utils::test_rng();
        let keys: Vec<ed25519::PrivateKey> = (0..4).map(ed25519::PrivateKey::from_seed).collect();
        let participants: Set<PublicKey> =
            keys.iter().map(|k| k.public_key()).try_collect().unwrap();
        let (output, shares) =
            deal::<Variant, _, N3f1>(&mut rng, Mode::NonZeroCounter, participants.clone()).unwrap();
        let me = participants.iter().next().unwrap().clone();
        let share = shares.get_value(&me).unwrap().clone();
        let sharing = output.public().clone();
        let schemes = EpochSchemes::new();
        let signer = |share| SchemeInfo::Signer {
            participants: participants.clone(),
            sharing: sharing.clone(),
            share,
        };

        schemes.install(Epoch::zero(), signer(share.clone()));
        schemes.install(Epoch::zero(), signer(share.clone()));
        assert!(matches!(
            schemes.scheme(Epoch::zero()).unwrap().me(),
            Some(Membership::Signer(_))
        ));
        schemes.install(
            Epoch::new(1),
            SchemeInfo::Member {
                participants: participants.clone(),
                sharing: sharing.clone(),
                public_key: me.clone(),
            },
        );
        assert!(matches!(
            schemes.scheme(Epoch::new(1)).unwrap().me(),
            Some(Membership::Member(_))
        ));
        schemes.install(
            Epoch::new(2),
            SchemeInfo::Verifier {
                participants: participants.clone(),
                sharing: sharing.clone(),
            },
        );
        assert_eq!(schemes.scheme(Epoch::new(2)).unwrap().me(), None);
        assert!(schemes.scoped(Epoch::new(7)).is_none());

        // Another validator's share under my position: not a signer.
        let other = shares.values().get(1).unwrap().clone();
        let misplaced = commonware_cryptography::bls12381::primitives::group::Share::new(
            share.index,
            other.private.clone(),
        );
        schemes.install(Epoch::new(3), signer(misplaced));
        assert!(matches!(
            schemes.scheme(Epoch::new(3)).unwrap().me(),
            Some(Membership::Member(_))
        ));
        assert_eq!(
            schemes.epochs(),
            vec![Epoch::new(1), Epoch::new(2), Epoch::new(3)],
            "the last three epochs are kept"
        );
    }
}
