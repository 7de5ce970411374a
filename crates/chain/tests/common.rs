//! Helpers shared by the test modules.

use commonware_cryptography::{Signer as _, ed25519};
use hyperchain_types::{
    Address, Digest, ExecutionMode, Payload, SignedTransaction, Transaction, sha256,
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
