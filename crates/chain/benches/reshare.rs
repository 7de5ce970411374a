//! What the genesis ceremony and one epoch's resharing cost each validator, for several
//! validator counts: the commonware Feldman/Desmedt key generation the node runs (`bootstrap`
//! and `reshare::Actor`: MinSig, `N3f1`, non-zero-counter sharing, reveal V1), driven in one
//! process without a network so that 100 validators fit on one machine. In a resharing every
//! validator is a dealer of the previous epoch and a player of the next (the same set), as in
//! an epoch without set changes; in the ceremony the same set deals without previous shares.
//!
//! Per validator it reports the CPU of each step and the bytes it sends; per epoch, the bytes
//! of dealer logs the chain's blocks carry. Run with
//! `cargo bench -p hyperchain-chain --bench reshare` (`RESHARE_SIZES=4,7,100` by default).

use commonware_codec::{Encode as _, EncodeSize as _};
use commonware_cryptography::bls12381::dkg::feldman_desmedt::{
    Dealer, Info, Logs, Player, Reveal, deal, observe,
};
use commonware_cryptography::bls12381::primitives::{sharing::Mode, variant::MinSig};
use commonware_cryptography::{Signer as _, ed25519};
use commonware_parallel::Sequential;
use commonware_utils::{N3f1, TestRng, TryCollect as _, ordered::Set};
use std::time::{Duration, Instant};

const NAMESPACE: &[u8] = b"hyperchain/bench/reshare";

struct Cost {
    n: usize,
    reshare: bool,
    deal: Duration,
    verify_dealing: Duration,
    take_ack: Duration,
    finalize_log: Duration,
    check_log: Duration,
    observe: Duration,
    player_finalize: Duration,
    public_msg: usize,
    private_msg: usize,
    ack: usize,
    log: usize,
}

impl Cost {
    /// One validator's CPU over the epoch: it deals once, verifies n dealings, takes n acks,
    /// signs its log, checks n logs (as the blocks carrying them are verified) and computes its
    /// share of the next epoch.
    fn cpu_per_validator(&self) -> Duration {
        let n = self.n as u32;
        self.deal
            + self.verify_dealing * n
            + self.take_ack * n
            + self.finalize_log
            + self.check_log * n
            + self.player_finalize
    }

    /// Bytes one validator sends: a dealing (commitment + private share) to each player and an
    /// acknowledgement to each dealer.
    fn sent_per_validator(&self) -> usize {
        self.n * (self.public_msg + self.private_msg + self.ack)
    }
}

fn measure(n: usize, reshare: bool) -> Cost {
    let mut rng = TestRng::new(n as u64);
    let keys: Vec<ed25519::PrivateKey> = (0..n as u64)
        .map(|i| ed25519::PrivateKey::from_seed(10_000 + i))
        .collect();
    let set: Set<ed25519::PublicKey> = keys.iter().map(|k| k.public_key()).try_collect().unwrap();
    let (previous, shares) =
        deal::<MinSig, _, N3f1>(&mut rng, Mode::NonZeroCounter, set.clone()).unwrap();
    let info = Info::<MinSig, _>::new::<N3f1>(
        NAMESPACE,
        u64::from(reshare),
        reshare.then(|| previous.clone()),
        Mode::NonZeroCounter,
        Reveal::V1,
        set.clone(),
        set.clone(),
    )
    .unwrap();
    let by_key = |pk: &ed25519::PublicKey| keys.iter().find(|k| &k.public_key() == pk).unwrap();
    let mut players: Vec<(ed25519::PublicKey, Player<MinSig, ed25519::PrivateKey>)> = set
        .iter()
        .map(|pk| {
            (
                pk.clone(),
                Player::new(info.clone(), by_key(pk).clone()).unwrap(),
            )
        })
        .collect();

    let (mut deal_t, mut verify_t, mut ack_t, mut finalize_t) = Default::default();
    let (mut public_msg, mut private_msg, mut ack_bytes, mut log_bytes) = (0, 0, 0, 0);
    let mut signed_logs = Vec::new();
    for dealer_pk in set.iter() {
        let share = shares.get_value(dealer_pk).filter(|_| reshare).cloned();
        let started = Instant::now();
        let (mut dealer, pub_msg, priv_msgs) =
            Dealer::start::<N3f1>(&mut rng, info.clone(), by_key(dealer_pk).clone(), share)
                .unwrap();
        deal_t += started.elapsed();
        public_msg = pub_msg.encode_size();
        for (player_pk, priv_msg) in priv_msgs {
            private_msg = priv_msg.encode_size();
            let player = &mut players
                .iter_mut()
                .find(|(pk, _)| *pk == player_pk)
                .unwrap()
                .1;
            let started = Instant::now();
            let ack = player
                .dealer_message::<N3f1>(dealer_pk.clone(), pub_msg.clone(), priv_msg)
                .unwrap()
                .expect("an honest dealing is acknowledged");
            verify_t += started.elapsed();
            ack_bytes = ack.encode_size();
            let started = Instant::now();
            dealer.receive_player_ack(player_pk, ack).unwrap();
            ack_t += started.elapsed();
        }
        let started = Instant::now();
        let log = dealer.finalize::<N3f1>();
        finalize_t += started.elapsed();
        log_bytes += log.encode().len();
        signed_logs.push(log);
    }

    // Every validator checks every dealer's signed log, as the blocks carrying them are verified.
    let started = Instant::now();
    let mut logs = Logs::<MinSig, ed25519::PublicKey, N3f1>::new(info.clone());
    for signed in signed_logs {
        let (dealer, log) = signed.check(&info).expect("an honest log verifies");
        logs.record(dealer, log);
    }
    let check_t = started.elapsed();
    let started = Instant::now();
    let output = observe::<MinSig, _, N3f1>(&mut rng, logs.clone(), &Sequential).unwrap();
    let observe_t = started.elapsed();
    if reshare {
        assert_eq!(
            output.public().public(),
            previous.public().public(),
            "a resharing keeps the group key"
        );
    }
    let (_, player) = players.swap_remove(0);
    let started = Instant::now();
    player
        .finalize::<N3f1>(&mut rng, logs, &Sequential)
        .expect("the player gets its share");
    let player_finalize = started.elapsed();

    let per = |d: Duration, count: usize| d / count as u32;
    Cost {
        n,
        reshare,
        deal: per(deal_t, n),
        verify_dealing: per(verify_t, n * n),
        take_ack: per(ack_t, n * n),
        finalize_log: per(finalize_t, n),
        check_log: per(check_t, n),
        observe: observe_t,
        player_finalize,
        public_msg,
        private_msg,
        ack: ack_bytes,
        log: log_bytes / n,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn kib(bytes: usize) -> String {
    format!("{:.1}", bytes as f64 / 1024.0)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter is not supported.
    let sizes: Vec<usize> = std::env::var("RESHARE_SIZES")
        .map(|v| v.split(',').map(|n| n.trim().parse().unwrap()).collect())
        .unwrap_or_else(|_| vec![4, 7, 100]);
    println!(
        "| validators | run | deal (ms) | verify a dealing (ms) | check a log (ms) | observe (ms) | \
         own share (ms) | CPU per validator (ms) | dealing bytes (public + private) | \
         sent per validator (KiB) | log bytes | logs on chain per epoch (KiB) |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (n, reshare) in sizes.iter().flat_map(|&n| [(n, false), (n, true)]) {
        let started = Instant::now();
        let c = measure(n, reshare);
        let run = if c.reshare { "reshare" } else { "ceremony" };
        eprintln!(
            "{n} validators, {run}: measured in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        println!(
            "| {n} | {run} | {} | {} | {} | {} | {} | {} | {} + {} | {} | {} | {} |",
            ms(c.deal),
            ms(c.verify_dealing),
            ms(c.check_log),
            ms(c.observe),
            ms(c.player_finalize),
            ms(c.cpu_per_validator()),
            c.public_msg,
            c.private_msg,
            kib(c.sent_per_validator()),
            c.log,
            kib(c.log * n),
        );
    }
}
