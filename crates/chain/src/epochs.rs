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

use commonware_consensus::types::Epoch;
use commonware_cryptography::certificate::{Provider, Scoped};
use commonware_glue::dkg::{Registrar, types::SchemeInfo};
use hyperchain_types::consensus::{NAMESPACE, PublicKey, Scheme, Variant};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
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

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::Signer as _;
    use commonware_cryptography::bls12381::dkg::feldman_desmedt::deal;
    use commonware_cryptography::bls12381::primitives::sharing::Mode;
    use commonware_cryptography::certificate::{Membership, Scheme as _};
    use commonware_cryptography::ed25519;
    use commonware_utils::{N3f1, TryCollect as _, ordered::Set};

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
