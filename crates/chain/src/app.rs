//! The consensus application (propose and verify, run by marshal's `Deferred` wrapper), the
//! finalized-block reporter and the seed reporter.

use crate::block::{Block, to_consensus};
use crate::ledger::{Ledger, LedgerError, Verdict};
use crate::mempool::Mempool;
use commonware_actor::Feedback;
use commonware_codec::Encode as _;
use commonware_consensus::{
    Application, Reporter,
    marshal::{Update, ancestry::Ancestry},
    simplex::{scheme::bls12381_threshold::vrf::Seedable as _, types::Activity},
};
use commonware_cryptography::{Digested, sha256::Digest as ConsensusDigest};
use commonware_runtime::{Clock, Metrics, Spawner};
use commonware_utils::{Acknowledgement as _, acknowledgement::Exact};
use futures::{StreamExt as _, channel::mpsc};
use hyperchain_types::{Header, Round, block_limits, tx_root};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};
use tracing::{debug, error, warn};

pub use hyperchain_types::consensus::{
    ConsensusContext, FinalizationCert, PublicKey, Scheme, Variant,
};

/// A block's timestamp may be at most this far ahead of the verifier's clock.
pub const MAX_CLOCK_DRIFT: Duration = Duration::from_secs(5);

/// How long a leader waits for the seed of its parent's view (its notarization's) before
/// giving up the view.
const PARENT_SEED_WAIT: Duration = Duration::from_secs(2);

/// How long a leader with nothing to propose (empty mempool, no job waiting for a seed) waits
/// for transactions before proposing an empty block. Well inside simplex's leader timeout
/// (1 s); without it, idle validators finalize empty blocks back to back, which costs a
/// 2-core machine most of its CPU.
pub const IDLE_PROPOSAL_WAIT: Duration = Duration::from_millis(200);

/// A block with few transactions is not proposed sooner than this after its parent's
/// timestamp: transactions that arrive meanwhile share one block, whose consensus cost
/// (threshold-BLS votes and certificates, fsyncs; about 12 ms of CPU per validator per block
/// here) is then paid once.
pub const MIN_BLOCK_INTERVAL: Duration = Duration::from_millis(100);

/// A mempool with at least this many transactions is proposed at once (the block's consensus
/// cost is already shared by many).
pub const FULL_ENOUGH: usize = 64;

/// Most encoded bytes of transactions a proposer puts in a block (leaves room for the header
/// and length prefixes).
pub const MAX_PROPOSAL_TX_BYTES: usize = block_limits::MAX_BLOCK_BYTES - 1024;

/// The runtime clock in milliseconds since the Unix epoch (0 before the epoch).
pub(crate) fn now_ms(clock: &impl Clock) -> u64 {
    clock
        .current()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// What glue's `reshare::Application` hands the application with each proposal: the reshare
/// payload the block must carry, if any.
pub type ReshareInput = commonware_glue::dkg::reshare::Input<
    (),
    hyperchain_types::consensus::Variant,
    commonware_cryptography::ed25519::PrivateKey,
    commonware_glue::dkg::network::Addresses<PublicKey>,
>;

/// The chain application: builds blocks from the mempool and verifies blocks by executing
/// them.
#[derive(Clone, Debug)]
pub struct App {
    ledger: Arc<Ledger>,
    mempool: Arc<Mempool>,
}

impl App {
    /// An application over `ledger`, proposing from `mempool`.
    pub fn new(ledger: Arc<Ledger>, mempool: Arc<Mempool>) -> Self {
        App { ledger, mempool }
    }

    /// Runs `work` on the ledger off the consensus task (a blocking-friendly pool on tokio).
    async fn off_task<E, T>(
        runtime: &E,
        ledger: &Arc<Ledger>,
        work: impl FnOnce(&Ledger) -> Result<T, LedgerError> + Send + 'static,
    ) -> Option<T>
    where
        E: Spawner + Metrics,
        T: Send + 'static,
    {
        let ledger = ledger.clone();
        let handle = runtime
            .child("execute")
            .shared(true)
            .spawn(move |_| async move { work(&ledger) });
        match handle.await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(e)) => {
                error!(error = %e, "execution failed on this node");
                None
            }
            Err(e) => {
                error!(error = ?e, "execution task failed");
                None
            }
        }
    }

    /// Makes sure `first` (and so every ancestor up to the committed tip) is executed, taking
    /// missing ancestors from `ancestry`. False if the chain does not lead to the committed tip
    /// or an ancestor is invalid.
    async fn catch_up<E>(
        &self,
        runtime: &E,
        first: Digested<Block>,
        mut ancestry: impl Ancestry<Block>,
    ) -> bool
    where
        E: Spawner + Metrics,
    {
        let mut missing = Vec::new();
        let mut current = first;
        loop {
            let block = current.inner();
            if self.ledger.is_known(&block.hash()) {
                break;
            }
            if block.header.height <= self.ledger.tip().0 {
                debug!(
                    height = block.header.height,
                    "ancestry forks below the committed tip"
                );
                return false;
            }
            missing.push(block.0.clone());
            match ancestry.next().await {
                Some(next) => current = next,
                None => return false,
            }
        }
        if missing.is_empty() {
            return true;
        }
        let verdicts = Self::off_task(runtime, &self.ledger, move |ledger| {
            for block in missing.iter().rev() {
                if let Verdict::Invalid(reason) = ledger.execute(block)? {
                    return Ok(Some((block.header.height, reason)));
                }
            }
            Ok(None)
        })
        .await;
        match verdicts {
            Some(None) => true,
            Some(Some((height, reason))) => {
                warn!(height, %reason, "invalid ancestor");
                false
            }
            None => false,
        }
    }
}

/// Checks of a block against its parent that need no execution.
fn check_header(
    header: &Header,
    parent: &Header,
    tx_root_of_body: hyperchain_types::Digest,
    now: u64,
    round: Round,
) -> Result<(), String> {
    if header.round() != round {
        return Err(format!(
            "header names round {}, proposed in round {round}",
            header.round()
        ));
    }
    if header.round() <= parent.round() {
        return Err("round not after the parent's".into());
    }
    // Within an epoch the context's parent view is the parent's; a new epoch (the next one,
    // never further) starts its views from the previous epoch's last block, parent view 0.
    let expected_parent_view = if header.epoch == parent.epoch {
        parent.view
    } else if header.epoch == parent.epoch + 1 {
        0
    } else {
        return Err(format!(
            "epoch {} on a parent of epoch {}",
            header.epoch, parent.epoch
        ));
    };
    if header.parent_view != expected_parent_view {
        return Err(format!(
            "header names parent view {}, the context's is {expected_parent_view}",
            header.parent_view
        ));
    }
    if header.chain_id != parent.chain_id {
        return Err("wrong chain id".into());
    }
    if header.height != parent.height + 1 {
        return Err(format!(
            "height {} on parent {}",
            header.height, parent.height
        ));
    }
    if header.parent != parent.digest() {
        return Err("parent digest mismatch".into());
    }
    if header.timestamp_ms <= parent.timestamp_ms {
        return Err("timestamp not after the parent's".into());
    }
    if header.timestamp_ms > now.saturating_add(MAX_CLOCK_DRIFT.as_millis() as u64) {
        return Err("timestamp too far in the future".into());
    }
    if header.tx_root != tx_root_of_body {
        return Err("tx root mismatch".into());
    }
    // Where a block may carry a reshare payload, and which, glue's `reshare::Application`
    // checks before this (a dealer log from an epoch's middle on, the epoch's output in its
    // last block, nothing else); its bytes match the header's `reshare` once decoded.
    Ok(())
}

impl<E> Application<E> for App
where
    E: Spawner + Clock + Metrics,
{
    type SigningScheme = Scheme;
    type Context = ConsensusContext;
    type Block = Block;
    type Input = ReshareInput;

    async fn propose(
        &mut self,
        (runtime, context): (E, Self::Context),
        mut ancestry: impl Ancestry<Self::Block>,
        input: ReshareInput,
    ) -> Option<Digested<Self::Block>> {
        use commonware_codec::Encode as _;
        let reshare = input.payload.map(|p| p.encode().to_vec());
        // In propose, the ancestry starts with the parent.
        let parent = ancestry.next().await?;
        if !self.catch_up(&runtime, parent.clone(), ancestry).await {
            return None;
        }
        let parent_header = parent.inner().header.clone();
        // Not sooner than MIN_BLOCK_INTERVAL after the parent; with nothing to order (empty
        // mempool, no job waiting for a seed), wait up to IDLE_PROPOSAL_WAIT for transactions.
        let idle_until = runtime.current() + IDLE_PROPOSAL_WAIT;
        let earliest_ms = parent_header.timestamp_ms + MIN_BLOCK_INTERVAL.as_millis() as u64;
        // The parent's state does not change while we wait: ask once.
        let awaits_seed = self
            .ledger
            .awaits_seed(&parent_header.digest())
            .unwrap_or(true);
        loop {
            let waiting = self.mempool.len();
            if waiting >= FULL_ENOUGH {
                break;
            }
            let busy = waiting > 0 || awaits_seed;
            if (busy && now_ms(&runtime) >= earliest_ms) || runtime.current() >= idle_until {
                break;
            }
            runtime.sleep(Duration::from_millis(5)).await;
        }
        // The block reveals the seed of its parent's view, carried by the parent's
        // notarization: wait for it briefly if the recorder has not seen it yet.
        let seed_until = runtime.current() + PARENT_SEED_WAIT;
        while matches!(
            self.ledger.parent_seed(parent_header.round()),
            Err(crate::ledger::LedgerError::SeedUnknown(_))
        ) {
            if runtime.current() >= seed_until {
                warn!(
                    round = %parent_header.round(),
                    "not proposing: the parent's seed is unknown"
                );
                return None;
            }
            runtime.sleep(Duration::from_millis(5)).await;
        }
        let timestamp_ms = now_ms(&runtime).max(parent_header.timestamp_ms + 1);
        let candidates = self
            .mempool
            .candidates(block_limits::MAX_BLOCK_TXS, MAX_PROPOSAL_TX_BYTES);
        let round = Round::new(context.round.epoch().get(), context.round.view().get());
        let leader = crate::block::leader_bytes(&context.leader);
        let block = Self::off_task(&runtime, &self.ledger, move |ledger| {
            ledger.build_with(
                &parent_header,
                timestamp_ms,
                round,
                leader,
                &candidates,
                reshare,
            )
        })
        .await?;
        debug!(
            height = block.header.height,
            txs = block.txs.len(),
            "proposing"
        );
        let digest = to_consensus(block.digest());
        Some(Digested::precomputed(Block(block), digest))
    }

    async fn verify(
        &mut self,
        (runtime, context): (E, Self::Context),
        mut ancestry: impl Ancestry<Self::Block>,
    ) -> bool {
        // In verify, the ancestry starts with the candidate, then its parent.
        let Some(candidate) = ancestry.next().await else {
            return false;
        };
        let Some(parent) = ancestry.next().await else {
            return false;
        };
        let block = candidate.inner().0.clone();
        if let Err(reason) = check_header(
            &block.header,
            &parent.inner().header,
            tx_root(&block.txs),
            now_ms(&runtime),
            Round::new(context.round.epoch().get(), context.round.view().get()),
        ) {
            warn!(height = block.header.height, %reason, "rejecting block");
            return false;
        }
        if self.ledger.is_known(&block.digest()) {
            return true;
        }
        if !self.catch_up(&runtime, parent, ancestry).await {
            return false;
        }
        let height = block.header.height;
        match Self::off_task(&runtime, &self.ledger, move |ledger| ledger.execute(&block)).await {
            Some(Verdict::Valid) => true,
            Some(Verdict::Invalid(reason)) => {
                warn!(height, %reason, "rejecting block");
                false
            }
            None => false,
        }
    }
}

/// A finalized block and the acknowledgement marshal waits for.
pub type FinalizedBlock = (Digested<Block>, Exact);

/// Receives finalized blocks from marshal (in height order, at least once) and hands them to
/// the applier task ([`apply_finalized`]).
#[derive(Clone, Debug)]
pub struct Finalizer {
    sender: mpsc::UnboundedSender<FinalizedBlock>,
}

impl Finalizer {
    /// A reporter and the receiving end for [`apply_finalized`].
    pub fn new() -> (Self, mpsc::UnboundedReceiver<FinalizedBlock>) {
        let (sender, receiver) = mpsc::unbounded();
        (Finalizer { sender }, receiver)
    }
}

impl Reporter for Finalizer {
    type Activity = Update<Block>;

    fn report(&mut self, activity: Self::Activity) -> Feedback {
        match activity {
            Update::Block(block, ack) => {
                if self.sender.unbounded_send((block, ack)).is_err() {
                    return Feedback::Closed;
                }
                Feedback::Ok
            }
            Update::Tip(..) => Feedback::Ok,
        }
    }
}

/// Applies finalized blocks in order: commit (idempotent by height), drop their transactions
/// from the mempool, then acknowledge to marshal. Stops (without acknowledging, which halts
/// marshal) if this node cannot apply a finalized block.
pub async fn apply_finalized<E>(
    runtime: E,
    ledger: Arc<Ledger>,
    mempool: Arc<Mempool>,
    mut blocks: mpsc::UnboundedReceiver<FinalizedBlock>,
) where
    E: Spawner + Metrics + Clock,
{
    while let Some((block, ack)) = blocks.next().await {
        let block = block.inner().0.clone();
        let height = block.header.height;
        // The contract engine never fails for want of an instance slot (a call waits for one),
        // so an error here is this node's own failure.
        let applied = App::off_task(&runtime, &ledger, move |ledger| {
            ledger.finalize(&block)?;
            Ok(block)
        })
        .await;
        let Some(block) = applied else {
            error!(height, "cannot apply a finalized block; stopping");
            return;
        };
        mempool.remove_included(&block.txs);
        debug!(height, "applied finalized block");
        ack.acknowledge();
    }
}

/// Taps simplex activity to record each notarization's and finalization's VRF seed (by view)
/// in the ledger: the next block this node proposes reveals the newest.
#[derive(Clone, Debug)]
pub struct SeedRecorder {
    ledger: Arc<Ledger>,
}

impl SeedRecorder {
    /// A recorder writing to `ledger`.
    pub fn new(ledger: Arc<Ledger>) -> Self {
        SeedRecorder { ledger }
    }
}

impl Reporter for SeedRecorder {
    type Activity = Activity<Scheme, ConsensusDigest>;

    fn report(&mut self, activity: Self::Activity) -> Feedback {
        let seed = match activity {
            Activity::Notarization(n) => n.seed(),
            Activity::Finalization(f) => f.seed(),
            _ => return Feedback::Ok,
        };
        match <[u8; 48]>::try_from(seed.signature.encode().as_ref()) {
            Ok(signature) => self.ledger.record_seed(
                Round::new(seed.round.epoch().get(), seed.round.view().get()),
                signature,
            ),
            Err(_) => warn!("seed signature is not 48 bytes"),
        }
        Feedback::Ok
    }
}

/// The one application object the epoch orchestrator gives every epoch's simplex instance:
/// marshal's `Deferred` (automaton, relay, reporter), with every notarization's and
/// finalization's seed also handed to the [`SeedRecorder`] (a block reveals its parent
/// round's seed). Everything else is `Deferred`'s, `prepare` and `certify` included (their
/// defaults would skip execution before the finalize vote).
#[derive(Clone)]
pub struct Orchestrated<D> {
    inner: D,
    seeds: SeedRecorder,
}

impl<D> std::fmt::Debug for Orchestrated<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Orchestrated").finish_non_exhaustive()
    }
}

impl<D> Orchestrated<D> {
    /// `inner`, with seeds recorded by `seeds`.
    pub fn new(inner: D, seeds: SeedRecorder) -> Self {
        Orchestrated { inner, seeds }
    }
}

impl<D: commonware_consensus::Automaton> commonware_consensus::Automaton for Orchestrated<D> {
    type Context = D::Context;
    type Digest = D::Digest;

    fn propose(
        &mut self,
        context: Self::Context,
    ) -> impl std::future::Future<
        Output = commonware_utils::channel::oneshot::Receiver<Self::Digest>,
    > + Send {
        self.inner.propose(context)
    }

    fn verify(
        &mut self,
        context: Self::Context,
        payload: Self::Digest,
    ) -> impl std::future::Future<Output = commonware_utils::channel::oneshot::Receiver<bool>> + Send
    {
        self.inner.verify(context, payload)
    }
}

impl<D: commonware_consensus::CertifiableAutomaton> commonware_consensus::CertifiableAutomaton
    for Orchestrated<D>
{
    fn prepare(
        &mut self,
        context: Self::Context,
    ) -> impl std::future::Future<
        Output = commonware_utils::channel::oneshot::Receiver<
            commonware_consensus::Handoff<Self::Digest>,
        >,
    > + Send {
        self.inner.prepare(context)
    }

    fn certify(
        &mut self,
        round: commonware_consensus::types::Round,
        payload: Self::Digest,
    ) -> impl std::future::Future<Output = commonware_utils::channel::oneshot::Receiver<bool>> + Send
    {
        self.inner.certify(round, payload)
    }
}

impl<D: commonware_consensus::Relay> commonware_consensus::Relay for Orchestrated<D> {
    type Digest = D::Digest;
    type PublicKey = D::PublicKey;
    type Plan = D::Plan;

    fn broadcast(&mut self, payload: Self::Digest, plan: Self::Plan) -> Feedback {
        self.inner.broadcast(payload, plan)
    }
}

impl<D> Reporter for Orchestrated<D>
where
    D: Reporter<Activity = Activity<Scheme, ConsensusDigest>>,
{
    type Activity = Activity<Scheme, ConsensusDigest>;

    fn report(&mut self, activity: Self::Activity) -> Feedback {
        self.seeds.report(activity.clone());
        self.inner.report(activity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyperchain_types::{Block as HcBlock, Digest, sha256};

    type Tamper = fn(&mut Header);

    #[test]
    fn header_checks_name_the_problem() {
        let genesis = HcBlock::genesis(sha256(b"c"), 1_000, Digest::ZERO).header;
        let good = Header {
            chain_id: genesis.chain_id,
            height: 1,
            parent: genesis.digest(),
            timestamp_ms: 2_000,
            tx_root: tx_root(&[]),
            state_root: Digest::ZERO,
            epoch: 0,
            view: 3,
            parent_view: 0,
            leader: [1; 32],
            seed: None,
            reshare: hyperchain_types::Digest::ZERO,
        };
        let now = 2_000;
        let r = Round::new;
        assert_eq!(
            check_header(&good, &genesis, tx_root(&[]), now, r(0, 3)),
            Ok(())
        );
        assert!(
            check_header(&good, &genesis, tx_root(&[]), now, r(0, 4))
                .unwrap_err()
                .contains("proposed in round 0/4")
        );
        let cases: [(Tamper, &str); 8] = [
            (|h| h.parent_view = 2, "parent view"),
            (|h| h.chain_id = Digest([1; 32]), "wrong chain id"),
            (|h| h.height = 2, "height"),
            (|h| h.parent = Digest([1; 32]), "parent digest"),
            (|h| h.timestamp_ms = 1_000, "not after"),
            (|h| h.timestamp_ms = 7_001, "future"),
            (|h| h.view = 0, "round not after"),
            (|h| h.epoch = 2, "epoch 2 on a parent of epoch 0"),
        ];
        for (tamper, expected) in cases {
            let mut header = good.clone();
            tamper(&mut header);
            let err =
                check_header(&header, &genesis, tx_root(&[]), now, header.round()).unwrap_err();
            assert!(err.contains(expected), "{err}");
        }
        let err = check_header(&good, &genesis, sha256(b"x"), now, r(0, 3)).unwrap_err();
        assert!(err.contains("tx root"));
        // Up to the allowed drift ahead of the local clock is fine.
        let mut ahead = good.clone();
        ahead.timestamp_ms = now + MAX_CLOCK_DRIFT.as_millis() as u64;
        assert_eq!(
            check_header(&ahead, &genesis, tx_root(&[]), now, r(0, 3)),
            Ok(())
        );
        // The first block of the next epoch: views start again (round 1/1 follows 0/3), its
        // context's parent view is 0.
        let mut next = good.clone();
        next.height = 2;
        next.parent = good.digest();
        next.timestamp_ms = 2_001;
        next.epoch = 1;
        next.view = 1;
        next.parent_view = 0;
        assert_eq!(
            check_header(&next, &good, tx_root(&[]), now, r(1, 1)),
            Ok(())
        );
        next.parent_view = 3;
        assert!(
            check_header(&next, &good, tx_root(&[]), now, r(1, 1))
                .unwrap_err()
                .contains("parent view")
        );
    }
}
