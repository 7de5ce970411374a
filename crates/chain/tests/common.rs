//! Helpers shared by the test modules.

use commonware_cryptography::{Signer as _, ed25519};
use hyperchain_chain::genesis::Devnet;
use hyperchain_types::{
    Address, Digest, ExecutionMode, Payload, SeedReveal, SignedTransaction, Transaction, sha256,
};
use hyperchain_vm::{Engine, EngineConfig};
use std::sync::OnceLock;

pub const FUEL: u64 = 10_000_000;

pub fn chain_id() -> Digest {
    sha256(b"hyperchain test chain")
}

/// One engine per test process (it reserves a pool of instance slots).
pub fn engine() -> Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE
        .get_or_init(|| Engine::new(EngineConfig::default()).expect("engine"))
        .clone()
}

pub fn key(seed: u64) -> ed25519::PrivateKey {
    ed25519::PrivateKey::from_seed(seed)
}

pub fn address(key: &ed25519::PrivateKey) -> Address {
    hyperchain_types::account_address(&key.public_key())
}

pub fn deploy(key: &ed25519::PrivateKey, nonce: u64, code: &[u8]) -> SignedTransaction {
    deploy_mode(key, nonce, code, ExecutionMode::Replicated)
}

pub fn deploy_mode(
    key: &ed25519::PrivateKey,
    nonce: u64,
    code: &[u8],
    mode: ExecutionMode,
) -> SignedTransaction {
    Transaction {
        chain_id: chain_id(),
        sender: key.public_key().into(),
        nonce,
        fee: hyperchain_types::Fee::NONE,
        payload: Payload::Deploy {
            code: code.to_vec(),
            mode,
            regions: vec![],
        },
    }
    .sign(key)
}

pub fn call(
    key: &ed25519::PrivateKey,
    nonce: u64,
    contract: Address,
    method: &str,
    input: Vec<u8>,
) -> SignedTransaction {
    Transaction {
        chain_id: chain_id(),
        sender: key.public_key().into(),
        nonce,
        fee: hyperchain_types::Fee::NONE,
        payload: Payload::Call {
            contract,
            method: method.into(),
            input,
            fuel_limit: FUEL,
        },
    }
    .sign(key)
}

/// The counter's address when `key` deploys it with `nonce`.
pub fn counter_address(key: &ed25519::PrivateKey, nonce: u64) -> Address {
    hyperchain_types::contract_address(&address(key), nonce)
}

/// A devnet of `n` validators dealt from `seed`.
pub fn devnet(seed: u64, n: u16) -> Devnet {
    let addresses: Vec<std::net::SocketAddr> = (0..n)
        .map(|i| std::net::SocketAddr::from(([127, 0, 0, 1], 9000 + i)))
        .collect();
    hyperchain_chain::genesis::deal_devnet(
        commonware_utils::TestRng::new(seed),
        "light",
        1_000,
        &addresses,
    )
    .unwrap()
}

/// The seed of `at`, as the notarization of a proposal in that round carries it.
pub fn seed_of(devnet: &Devnet, at: hyperchain_types::Round) -> SeedReveal {
    use commonware_codec::Encode as _;
    use commonware_consensus::simplex::scheme::bls12381_threshold::vrf::Seedable as _;
    use commonware_consensus::simplex::types::{Notarization, Notarize, Proposal};
    use commonware_consensus::types::{Epoch, Round, View};
    let round = Round::new(Epoch::new(at.epoch), View::new(at.view));
    let proposal = Proposal::new(
        round,
        View::new(at.view - 1),
        hyperchain_chain::block::to_consensus(Digest([at.view as u8; 32])),
    );
    let schemes: Vec<hyperchain_chain::app::Scheme> = devnet
        .validator_keys
        .iter()
        .map(|key| devnet.spec.signer(key).unwrap())
        .collect();
    let votes: Vec<_> = schemes
        .iter()
        .map(|s| Notarize::sign(s, proposal.clone()).unwrap())
        .collect();
    let notarization = Notarization::from_notarizes(
        &schemes[0],
        commonware_utils::non_empty![@votes.iter()],
        &commonware_parallel::Sequential,
    )
    .unwrap();
    SeedReveal {
        round: at,
        signature: notarization
            .seed()
            .signature
            .encode()
            .as_ref()
            .try_into()
            .unwrap(),
    }
}
