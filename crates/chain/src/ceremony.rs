//! The genesis ceremony: the validators of a draft genesis generate the chain's threshold key
//! together, so that no process ever holds another's share (docs/OPERATORS.md, "Genesis by
//! ceremony"; docs/DESIGN.md §11).
//!
//! It runs commonware-glue's one-shot distributed key generation
//! ([`bootstrap::Engine`]): a short chain of its own (ed25519 simplex, round-robin leaders)
//! over authenticated p2p among the draft's validators, in which each validator deals shares
//! to all (Feldman–Desmedt), acknowledges the dealings it received, and posts its signed
//! dealer log in a block it leads during the second half. The final block of that chain
//! carries the output every participant agrees on — the public polynomial (threshold = the BFT
//! quorum), the dealers, the players, the players whose shares were revealed — and each
//! participant keeps its own share in a durable [`FileSecretStore`].
//!
//! A genesis is only completed from an output that revealed no share: a validator that missed
//! its dealings would otherwise start the chain with a public share, so the ceremony is run
//! again with every validator online ([`CeremonyError::Revealed`]).
//!
//! This module is generic over the runtime and the p2p network: `hyperchain genesis ceremony`
//! runs it on tokio over the lookup network (`run_process`), the tests on the deterministic
//! runtime over the simulated network.

use crate::genesis::{ChainSpec, DkgOutput, Draft, GenesisError, ValidatorIdentity, ValidatorKey};
use commonware_codec::Encode as _;
use commonware_consensus::types::Epoch;
use commonware_cryptography::{
    bls12381::{
        dkg::feldman_desmedt::{DealerPrivMsg, Reveal},
        primitives::{
            group::Share,
            sharing::{Mode, ModeVersion},
            variant::MinSig,
        },
    },
    transcript::Summary,
};
use commonware_glue::dkg::{
    SecretStore, bootstrap,
    network::{Addresses, Manager},
    types::EpochOutcome,
};
use commonware_p2p::{Address, Blocker, Receiver, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::{Clock, Handle, Metrics, Spawner, Storage, buffer::paged::CacheRef};
use commonware_utils::{NZDuration, NZU16, NZU64, NZUsize};
use hyperchain_types::consensus::PublicKey;
use rand_core::CryptoRng;
use std::num::{NonZeroU32, NonZeroU64};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Domain separation of the ceremony's transcript and its one-shot chain.
pub const CEREMONY_NAMESPACE: &[u8] = b"hyperchain/genesis-ceremony/v1";

/// The p2p channels of a ceremony: votes, certificates, resolver, backfill, broadcast, dealings.
pub const CHANNELS: [u64; 6] = [0, 1, 2, 3, 4, 5];

/// Blocks of the ceremony's one-shot chain for `validators` validators: the second half is the
/// window in which dealers post their logs, and a dealer posts only in a block it leads, so
/// with round-robin leaders each validator leads at least twice in it (`max(32, 4n)`).
pub fn ceremony_blocks(validators: usize) -> NonZeroU64 {
    NonZeroU64::new((4 * validators as u64).max(32)).expect("positive")
}

/// The six channels of one participant, as the network registered them.
#[allow(missing_debug_implementations)]
pub struct CeremonyChannels<S, R> {
    /// Simplex votes.
    pub votes: (S, R),
    /// Simplex certificates.
    pub certificates: (S, R),
    /// Simplex resolver.
    pub resolver: (S, R),
    /// Marshal backfill.
    pub backfill: (S, R),
    /// Block broadcast.
    pub broadcast: (S, R),
    /// Dealings and acknowledgements.
    pub dkg: (S, R),
}

/// Why a ceremony produced no genesis.
#[derive(Debug, thiserror::Error)]
pub enum CeremonyError {
    /// This identity is not one of the draft's validators.
    #[error("validator {0} is not in the draft genesis")]
    NotAParticipant(String),
    /// Too few dealer logs were included (validators offline or unreachable).
    #[error(
        "the ceremony failed: too few validators' dealings were included (were all of them \
         online and reachable at their addresses?); run it again with a new --data-dir"
    )]
    Failed,
    /// Some validators missed their dealings, so their shares are public.
    #[error(
        "the shares of {0} validator(s) were revealed because they missed their dealings: \
         run the ceremony again (with a new --data-dir) with every validator online"
    )]
    Revealed(usize),
    /// The ceremony stopped before it completed.
    #[error("the ceremony stopped before it completed")]
    Stopped,
    /// The ceremony completed but this participant holds no share for it.
    #[error("the ceremony completed but this validator's share is missing from {0}")]
    MissingShare(PathBuf),
    /// The output does not complete the draft (it cannot happen with an honest quorum).
    #[error("the ceremony's output does not complete the draft: {0}")]
    Genesis(#[from] GenesisError),
}

/// What a successful ceremony leaves this validator.
#[derive(Debug)]
pub struct Completed {
    /// The complete genesis (the same for every participant).
    pub spec: ChainSpec,
    /// This validator's key: its identity and its share.
    pub key: ValidatorKey,
}

/// The draft's validators and p2p addresses, as the ceremony's directory.
pub fn directory(draft: &Draft) -> Addresses<PublicKey> {
    draft
        .validators
        .iter()
        .map(|v| (v.public_key.clone(), Address::Symmetric(v.address)))
        .collect()
}

/// The largest message a ceremony among `validators` validators sends.
pub fn max_message_size(validators: usize) -> u32 {
    commonware_p2p::max_message_size(&[
        bootstrap::max_payload_size::<MinSig, Addresses<PublicKey>>(
            NonZeroU32::new(validators.max(1) as u32).expect("positive"),
            ModeVersion::v0(),
        ),
    ])
}

/// Runs this validator's part of the ceremony that completes `draft`, and returns the
/// complete genesis with this validator's key, and the engine's handle: the engine keeps
/// serving the ceremony's chain so that slower participants can finish, until the caller
/// aborts it.
///
/// Restarted on the same storage and `store`, a participant resumes the ceremony, or reports
/// the outcome it already reached.
#[allow(clippy::too_many_arguments)]
pub async fn run<E, M, X, S, R>(
    context: E,
    draft: Draft,
    identity: ValidatorIdentity,
    manager: M,
    blocker: X,
    channels: CeremonyChannels<S, R>,
    store: FileSecretStore,
    partition_prefix: &str,
) -> Result<(Completed, Handle<()>), CeremonyError>
where
    E: CryptoRng + Spawner + Metrics + Clock + Storage,
    M: Manager<PublicKey = PublicKey, Directory = Addresses<PublicKey>>,
    X: Blocker<PublicKey = PublicKey>,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
{
    let me = identity.public_key();
    if draft.participants.position(&me).is_none() {
        return Err(CeremonyError::NotAParticipant(hex::encode(me.encode())));
    }
    let io = NZUsize!(64 * 1024);
    let engine = bootstrap::Engine::<_, MinSig, _, _, _, _, _>::new(
        context,
        bootstrap::Config {
            signer: identity.private_key.clone(),
            manager,
            blocker,
            secret_store: store.clone(),
            strategy: Sequential,
            namespace: CEREMONY_NAMESPACE,
            sharing_mode: Mode::NonZeroCounter,
            reveal: Reveal::V1,
            max_supported_mode: ModeVersion::v0(),
            partition_prefix: partition_prefix.to_string(),
            page_cache: CacheRef::new(NZU16!(4096), NZUsize!(64)),
            write_buffer: io,
            replay_buffer: io,
            mailbox_size: NZUsize!(1024),
            fetch_timeout: NZDuration!(Duration::from_secs(2)),
            fetch_retry_delay: Duration::from_millis(100),
            items_per_section: NZU64!(1024),
            participants: draft.participants.clone(),
            directory: directory(&draft),
            blocks_per_epoch: ceremony_blocks(draft.validators.len()),
        },
    );
    let CeremonyChannels {
        votes,
        certificates,
        resolver,
        backfill,
        broadcast,
        dkg,
    } = channels;
    let (handle, completion) =
        engine.start(votes, certificates, resolver, backfill, broadcast, dkg);
    let Ok(completion) = completion.await else {
        return Err(CeremonyError::Stopped);
    };
    let info = completion.info.ok_or(CeremonyError::Failed)?;
    if info.outcome != EpochOutcome::Success {
        return Err(CeremonyError::Failed);
    }
    let output: DkgOutput = info.output;
    if !output.revealed().is_empty() {
        return Err(CeremonyError::Revealed(output.revealed().len()));
    }
    let share = store
        .clone()
        .get_share(Epoch::zero())
        .await
        .ok_or_else(|| CeremonyError::MissingShare(store.dir().to_path_buf()))?;
    let spec = ChainSpec::complete(draft, output)?;
    let key = ValidatorKey {
        private_key: identity.private_key,
        share,
    };
    // The share must fit the agreed polynomial at this validator's position.
    spec.signer(&key)?;
    Ok((Completed { spec, key }, handle))
}

/// A receiver that adds the size of every message it delivers to a shared count (what a
/// ceremony costs a participant in bytes received).
#[derive(Debug)]
pub struct CountingReceiver<R> {
    inner: R,
    bytes: Arc<std::sync::atomic::AtomicU64>,
}

impl<R> CountingReceiver<R> {
    /// `inner`, counting into `bytes`.
    pub fn new(inner: R, bytes: Arc<std::sync::atomic::AtomicU64>) -> Self {
        CountingReceiver { inner, bytes }
    }
}

impl<R: Receiver> Receiver for CountingReceiver<R> {
    type Error = R::Error;
    type PublicKey = R::PublicKey;

    async fn recv(&mut self) -> Result<commonware_p2p::Message<Self::PublicKey>, Self::Error> {
        let message = self.inner.recv().await?;
        self.bytes
            .fetch_add(message.1.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(message)
    }

    fn capacity(&self) -> std::num::NonZeroUsize {
        self.inner.capacity()
    }
}

/// A [`SecretStore`] in a directory (mode 0700): one file (mode 0600) per share, dealer seed
/// and received dealing, each written to a temporary file, synced and renamed into place, so
/// a write is durable once it returns and a crash leaves the old value or the new one.
///
/// The trait cannot return errors: a store that cannot write panics rather than let a dealer
/// forget what it dealt (it could then deal twice, differently).
#[derive(Clone, Debug)]
pub struct FileSecretStore {
    dir: Arc<PathBuf>,
}

impl FileSecretStore {
    /// Opens (creating) the store in `dir`.
    pub fn open(dir: &Path) -> std::io::Result<FileSecretStore> {
        use std::os::unix::fs::DirBuilderExt as _;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        Ok(FileSecretStore {
            dir: Arc::new(dir.to_path_buf()),
        })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn put(&self, name: &str, value: &[u8]) {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let path = self.dir.join(name);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(value)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(self.dir.as_path())?.sync_all()
        };
        if let Err(e) = write() {
            panic!("cannot write the secret {}: {e}", path.display());
        }
    }

    fn get(&self, name: &str) -> Option<Vec<u8>> {
        let path = self.dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => panic!("cannot read the secret {}: {e}", path.display()),
        }
    }

    fn decoded<T: commonware_codec::DecodeExt<()>>(&self, name: &str) -> Option<T> {
        let bytes = self.get(name)?;
        match T::decode(bytes::Bytes::from(bytes)) {
            Ok(value) => Some(value),
            Err(e) => panic!(
                "the secret {} is corrupt: {e}",
                self.dir.join(name).display()
            ),
        }
    }
}

fn share_name(epoch: Epoch) -> String {
    format!("share-{}", epoch.get())
}

fn seed_name(epoch: Epoch) -> String {
    format!("seed-{}", epoch.get())
}

fn dealing_name(epoch: Epoch, dealer: &[u8]) -> String {
    format!("dealing-{}-{}", epoch.get(), hex::encode(dealer))
}

/// The epoch a secret's file name belongs to.
fn epoch_of(name: &str) -> Option<u64> {
    name.split('-').nth(1)?.parse().ok()
}

impl SecretStore for FileSecretStore {
    async fn put_share(&mut self, epoch: Epoch, share: Share) {
        self.put(&share_name(epoch), &share.encode());
    }

    async fn get_share(&mut self, epoch: Epoch) -> Option<Share> {
        self.decoded(&share_name(epoch))
    }

    async fn put_seed(&mut self, epoch: Epoch, seed: Summary) {
        self.put(&seed_name(epoch), &seed.encode());
    }

    async fn get_seed(&mut self, epoch: Epoch) -> Option<Summary> {
        self.decoded(&seed_name(epoch))
    }

    async fn put_dealing<P: commonware_cryptography::PublicKey>(
        &mut self,
        epoch: Epoch,
        dealer: P,
        private: DealerPrivMsg,
    ) {
        self.put(&dealing_name(epoch, &dealer.encode()), &private.encode());
    }

    async fn get_dealing<P: commonware_cryptography::PublicKey>(
        &mut self,
        epoch: Epoch,
        dealer: &P,
    ) -> Option<DealerPrivMsg> {
        self.decoded(&dealing_name(epoch, &dealer.encode()))
    }

    async fn prune(&mut self, min: Epoch) {
        let Ok(entries) = std::fs::read_dir(self.dir.as_path()) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if epoch_of(&name).is_some_and(|e| e < min.get()) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::Signer as _;
    use commonware_math::algebra::Random as _;

    #[test]
    fn secrets_survive_reopening_and_pruning_drops_older_epochs() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = FileSecretStore::open(&dir.path().join("s")).unwrap();
        let mut rng = commonware_utils::test_rng();
        let share = Share::new(
            commonware_utils::Participant::new(2),
            commonware_cryptography::bls12381::primitives::group::Private::random(&mut rng),
        );
        let dealer = commonware_cryptography::ed25519::PrivateKey::random(&mut rng).public_key();
        futures::executor::block_on(async {
            assert_eq!(store.get_share(Epoch::zero()).await, None);
            store.put_share(Epoch::zero(), share.clone()).await;
            store.put_share(Epoch::new(3), share.clone()).await;
            let mut reopened = FileSecretStore::open(store.dir()).unwrap();
            assert_eq!(reopened.get_share(Epoch::zero()).await, Some(share.clone()));
            assert_eq!(reopened.get_dealing(Epoch::zero(), &dealer).await, None);
            reopened.prune(Epoch::new(1)).await;
            assert_eq!(reopened.get_share(Epoch::zero()).await, None);
            assert_eq!(reopened.get_share(Epoch::new(3)).await, Some(share));
        });
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(store.dir().join("share-3"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

/// What one operator's part of a ceremony across hosts needs (`hyperchain genesis ceremony`).
#[derive(Debug)]
pub struct ProcessOptions {
    /// The draft every participant was given.
    pub draft: Draft,
    /// This validator's identity.
    pub identity: ValidatorIdentity,
    /// Where to listen for the other validators (by default its address in the draft).
    pub listen: std::net::SocketAddr,
    /// The ceremony's storage (its one-shot chain and this validator's secrets, 0700).
    pub data_dir: PathBuf,
    /// How long to keep serving the ceremony's chain after completing, so that slower
    /// participants finish too.
    pub linger: Duration,
}

/// Rate of each ceremony channel (messages per second per peer).
const CEREMONY_QUOTA: u32 = 10_000;

/// Runs this validator's part of a ceremony on tokio over authenticated p2p (the lookup
/// network, dialing the draft's addresses): returns once it completed and lingered.
/// `progress` is told what is happening about every ten seconds while it waits.
pub fn run_process(
    options: ProcessOptions,
    progress: impl Fn(&str) + Send + 'static,
) -> Result<Completed, CeremonyError> {
    use commonware_p2p::authenticated::lookup;
    use commonware_runtime::{Quota, Runner as _, Supervisor as _, tokio};
    use commonware_utils::NZU32;

    let ProcessOptions {
        draft,
        identity,
        listen,
        data_dir,
        linger,
    } = options;
    let store = FileSecretStore::open(&data_dir.join("secrets")).map_err(|e| {
        CeremonyError::Genesis(GenesisError::Io {
            path: data_dir.join("secrets"),
            source: e,
        })
    })?;
    let runtime = tokio::Config::new()
        .with_worker_threads(2)
        .with_storage_directory(data_dir.join("chain"));
    tokio::Runner::new(runtime).start(|context| async move {
        let n = draft.validators.len();
        let p2p = crate::runner::p2p_config(
            &identity.private_key,
            CEREMONY_NAMESPACE,
            listen,
            NZUsize!(n),
            max_message_size(n),
        );
        // The engine activates the participants itself: no peer set is tracked here.
        let (mut network, oracle) = lookup::Network::new(context.child("p2p"), p2p);
        let quota = Quota::per_second(NZU32!(CEREMONY_QUOTA));
        let mut register = |c: u64| network.register(c, quota);
        let channels = CeremonyChannels {
            votes: register(CHANNELS[0]),
            certificates: register(CHANNELS[1]),
            resolver: register(CHANNELS[2]),
            backfill: register(CHANNELS[3]),
            broadcast: register(CHANNELS[4]),
            dkg: register(CHANNELS[5]),
        };
        let network_handle = network.start();
        progress(&format!(
            "listening on {listen}; running the ceremony with the other {} validator(s) \
             ({} blocks)",
            n - 1,
            ceremony_blocks(n)
        ));
        let ticker = context.child("progress").spawn(move |ctx| async move {
            let mut waited = 0;
            loop {
                ctx.sleep(Duration::from_secs(10)).await;
                waited += 10;
                progress(&format!(
                    "still running after {waited} s (every validator must be online and \
                     reachable at its draft address)"
                ));
            }
        });
        let result = run(
            context.child("ceremony"),
            draft,
            identity,
            commonware_glue::dkg::network::AddressableManager::new(oracle.clone()),
            oracle,
            channels,
            store,
            "ceremony",
        )
        .await;
        ticker.abort();
        let completed = match result {
            Ok((completed, engine)) => {
                context.sleep(linger).await;
                engine.abort();
                Ok(completed)
            }
            Err(e) => Err(e),
        };
        network_handle.abort();
        completed
    })
}
