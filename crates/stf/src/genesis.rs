//! Genesis: the document every validator of a chain starts from, the chain id derived from it,
//! validator and account key files, and a dealer for tests.
//!
//! The **genesis document** (`genesis.json`) names the chain, its genesis timestamp, the
//! validators (ed25519 identity keys and p2p addresses), the output of the validators' key
//! generation (the threshold-BLS public polynomial, whose constant term is the group public
//! key) and the initial policy. A **draft** ([`Draft`]) is the same document without the key
//! generation's output: its validators complete it with a ceremony (the node's `ceremony`
//! module), so that each holds only its own share. [`ChainSpec::from_doc`] validates all of it;
//! the **chain id** is the SHA-256 of its canonical encoding ([`ChainSpec::canonical_bytes`]).
//! Validator p2p addresses are operational data and are *not* part of the chain id, so a
//! validator can move without forking.
//!
//! The **dealer** ([`deal_devnet`]) is for tests only: one process generates every validator's
//! identity key and threshold share, so whoever runs it (or reads its output) can sign for the
//! whole chain.

use commonware_codec::{Decode as _, DecodeExt as _, Encode as _};
use commonware_cryptography::{
    Signer as _,
    bls12381::{
        dkg::feldman_desmedt::deal,
        primitives::{
            group::Share,
            sharing::{Mode, ModeVersion, Sharing},
        },
    },
    ed25519,
};
use commonware_utils::{
    N3f1, Participant, TryCollect as _,
    ordered::{Quorum as _, Set},
};
use hyperchain_attest::AttestationPolicy;
use hyperchain_types::consensus::{NAMESPACE, PublicKey, Scheme, Variant};
use hyperchain_types::{Address, Digest, ExecutionMode, account_address, sha256};
use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

/// Domain separation of the chain id.
pub const CHAIN_ID_DOMAIN: &[u8] = b"hyperchain/genesis/v1";
/// Most validators a genesis may name.
pub const MAX_VALIDATORS: usize = 1024;
/// Longest chain name.
pub const MAX_CHAIN_NAME: usize = 64;

/// Why a genesis document or a key file was refused.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// A file is not valid JSON of the expected shape.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: serde_json::Error,
    },
    /// A field is malformed or inconsistent with the rest of the document.
    #[error("`{field}`: {reason}")]
    Invalid {
        /// The field (JSON path).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A validator key file does not belong to this genesis.
    #[error("validator key {public_key} is not a validator of chain {chain}")]
    NotAValidator {
        /// The key file's public key.
        public_key: String,
        /// The chain's name.
        chain: String,
    },
    /// A key file may be read by other users.
    #[error("{path}: key file is readable by other users (mode {mode:o}); run `chmod 600` on it")]
    KeyFilePermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> GenesisError {
    GenesisError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> GenesisError + '_ {
    move |source| GenesisError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn decode_hex(field: &str, s: &str) -> Result<Vec<u8>, GenesisError> {
    hex::decode(s.strip_prefix("0x").unwrap_or(s))
        .map_err(|e| invalid(field, format!("not hex: {e}")))
}

fn decode_public_key(field: &str, s: &str) -> Result<PublicKey, GenesisError> {
    let raw = decode_hex(field, s)?;
    PublicKey::decode(bytes::Bytes::from(raw))
        .map_err(|e| invalid(field, format!("not an ed25519 public key: {e}")))
}

fn decode_private_key(field: &str, s: &str) -> Result<ed25519::PrivateKey, GenesisError> {
    let raw = decode_hex(field, s)?;
    ed25519::PrivateKey::decode(bytes::Bytes::from(raw))
        .map_err(|e| invalid(field, format!("not an ed25519 private key: {e}")))
}

/// Hex of a value's canonical encoding.
fn hex_of(value: &impl commonware_codec::Encode) -> String {
    hex::encode(value.encode())
}

/// One validator in the genesis document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorEntry {
    /// ed25519 identity key (hex).
    pub public_key: String,
    /// Where the validator accepts p2p connections.
    pub address: SocketAddr,
}

/// The initial chain policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDoc {
    /// Execution modes contracts may be deployed with: `replicated` (required), `single`,
    /// `committee(K)` (committees of 2..=K nodes) and `cross-vendor`.
    pub execution_modes: Vec<String>,
    /// Committee execution parameters (deadlines, liveness).
    #[serde(default)]
    pub compute: crate::registry::ComputeParams,
    /// The regions compute nodes may serve and cross-vendor contracts may name (default:
    /// `eu, us, ap, sa, af, me, oc, na, as, an`).
    #[serde(default = "crate::registry::default_regions")]
    pub regions: Vec<String>,
    /// The attestation policy (reference values) in force until governance changes it; see
    /// `docs/ATTESTATION.md`. Absent: the default policy (no measurements, so no node can
    /// register until governance registers a runtime release; simulated platforms refused).
    #[serde(default)]
    pub attestation: AttestationPolicy,
    /// The fee schedule (docs/DESIGN.md §10). Absent: the default prices; all zeros: a free
    /// chain.
    #[serde(default)]
    pub fees: crate::fees::FeeSchedule,
}

/// An account funded at genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllocationEntry {
    /// The account's address (hex).
    pub address: String,
    /// Its balance in base units (1 HYP = 10^9), as a decimal string: JSON numbers lose
    /// precision past 2^53.
    pub balance: String,
}

/// Most accounts a genesis may fund.
pub const MAX_ALLOCATIONS: usize = 10_000;

/// The genesis document as stored in `genesis.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisDoc {
    /// Human-readable chain name (part of the chain id).
    pub chain: String,
    /// The chain id: SHA-256 of the canonical genesis (derived; checked when present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<String>,
    /// Timestamp of the genesis block (milliseconds since the Unix epoch).
    pub timestamp_ms: u64,
    /// The validators.
    pub validators: Vec<ValidatorEntry>,
    /// Blocks per consensus epoch (each epoch runs its own simplex instance and a reshare of
    /// the threshold key to the next epoch's validators). At least
    /// [`min_blocks_per_epoch`] of the validator count; default
    /// [`DEFAULT_BLOCKS_PER_EPOCH`].
    #[serde(default = "default_blocks_per_epoch")]
    pub blocks_per_epoch: u64,
    /// The distributed key generation's output (hex of its codec encoding): the threshold-BLS
    /// (MinSig) public polynomial, the dealers, the players (the validators) and the players
    /// whose shares were revealed (none in a valid genesis). Absent in a **draft**, which its
    /// validators complete with `hyperchain genesis ceremony`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dkg_output: String,
    /// The threshold public polynomial (hex; derived from `dkg_output`; checked when present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_polynomial: Option<String>,
    /// The group public key (the polynomial's constant term; derived; checked when present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_public_key: Option<String>,
    /// The initial policy.
    pub policy: PolicyDoc,
    /// Accounts funded at genesis; their sum is the initial supply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allocations: Vec<AllocationEntry>,
}

/// A validator of a validated genesis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorInfo {
    /// Identity key.
    pub public_key: PublicKey,
    /// p2p address.
    pub address: SocketAddr,
}

/// A distributed key generation's output: the public polynomial, the dealers, the players
/// and the players whose shares were revealed.
pub type DkgOutput =
    commonware_cryptography::bls12381::dkg::feldman_desmedt::Output<Variant, PublicKey>;

/// Reads a genesis document (draft or complete) without validating it.
pub fn read_doc(path: &Path) -> Result<GenesisDoc, GenesisError> {
    let text = std::fs::read_to_string(path).map_err(io_error(path))?;
    serde_json::from_str(&text).map_err(|source| GenesisError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// The default epoch length in blocks (about five minutes at a block per 150 ms).
pub const DEFAULT_BLOCKS_PER_EPOCH: u64 = 2048;

fn default_blocks_per_epoch() -> u64 {
    DEFAULT_BLOCKS_PER_EPOCH
}

/// The shortest epoch (in blocks) a chain of `validators` validators may have. A reshare's
/// dealers post their logs only in blocks they lead, during the second half of the epoch,
/// and a quorum of them must: with the random leader election simplex runs here, every
/// validator leads a given view with probability 1/n, so the second half must span
/// `4·n·ln n + 64` blocks, after which the chance that some validator has led none is at most
/// `n^-3·e^(-64/n)` (a union bound over `(1 − 1/n)^(4·n·ln n + 64)`) — far less for the
/// quorum that is needed.
pub fn min_blocks_per_epoch(validators: usize) -> u64 {
    let n = validators.max(2) as f64;
    2 * (4.0 * n * n.ln() + 64.0).ceil() as u64
}

/// A validated genesis **draft**: everything but the key generation's output, which its
/// validators produce together (`hyperchain genesis ceremony`) and [`ChainSpec::complete`]
/// adds.
#[derive(Clone, Debug)]
pub struct Draft {
    /// The chain name.
    pub name: String,
    /// Timestamp of the genesis block.
    pub timestamp_ms: u64,
    /// The validators, in document order.
    pub validators: Vec<ValidatorInfo>,
    /// The validators' identity keys, ordered (a key's position is its share index).
    pub participants: Set<PublicKey>,
    /// Blocks per consensus epoch.
    pub blocks_per_epoch: u64,
    /// The genesis attestation policy.
    pub attestation_policy: AttestationPolicy,
    /// Execution modes contracts may be deployed with.
    pub execution_modes: Vec<ExecutionMode>,
    /// Committee execution parameters.
    pub compute: crate::registry::ComputeParams,
    /// The regions compute nodes may serve.
    pub regions: Vec<String>,
    /// The fee schedule.
    pub fees: crate::fees::FeeSchedule,
    /// Accounts funded at genesis, in document order.
    pub allocations: Vec<(Address, u128)>,
}

/// A validated genesis: its [`Draft`] (reachable through `Deref`: `spec.validators`, …)
/// completed by its validators' key generation.
#[derive(Clone, Debug)]
pub struct ChainSpec {
    /// Everything but the key generation's output.
    pub draft: Draft,
    /// The chain id.
    pub chain_id: Digest,
    /// The threshold public polynomial (of [`ChainSpec::dkg_output`]).
    pub polynomial: Sharing<Variant>,
    /// The key generation's output.
    pub dkg_output: DkgOutput,
}

impl std::ops::Deref for ChainSpec {
    type Target = Draft;
    fn deref(&self) -> &Draft {
        &self.draft
    }
}

impl Draft {
    /// Validates a genesis document, except its key generation's output (which a draft
    /// lacks and a complete genesis has; [`ChainSpec::from_doc`] checks it).
    pub fn from_doc(doc: &GenesisDoc) -> Result<Draft, GenesisError> {
        if doc.chain.is_empty() || doc.chain.len() > MAX_CHAIN_NAME {
            return Err(invalid(
                "chain",
                format!("must be 1 to {MAX_CHAIN_NAME} bytes"),
            ));
        }
        if doc.validators.is_empty() {
            return Err(invalid("validators", "no validators"));
        }
        if doc.validators.len() > MAX_VALIDATORS {
            return Err(invalid(
                "validators",
                format!(
                    "{} validators, at most {MAX_VALIDATORS}",
                    doc.validators.len()
                ),
            ));
        }
        let mut validators = Vec::with_capacity(doc.validators.len());
        let mut addresses = BTreeSet::new();
        for (i, v) in doc.validators.iter().enumerate() {
            let public_key =
                decode_public_key(&format!("validators[{i}].public_key"), &v.public_key)?;
            if validators
                .iter()
                .any(|o: &ValidatorInfo| o.public_key == public_key)
            {
                return Err(invalid(
                    format!("validators[{i}].public_key"),
                    "listed twice",
                ));
            }
            if !addresses.insert(v.address) {
                return Err(invalid(
                    format!("validators[{i}].address"),
                    format!("{} is used by another validator", v.address),
                ));
            }
            validators.push(ValidatorInfo {
                public_key,
                address: v.address,
            });
        }
        let participants: Set<PublicKey> = validators
            .iter()
            .map(|v| v.public_key.clone())
            .try_collect()
            .map_err(|_| invalid("validators", "duplicate public key"))?;

        doc.policy
            .attestation
            .validate()
            .map_err(|e| invalid("policy.attestation", e))?;

        let mut execution_modes = Vec::new();
        for (i, m) in doc.policy.execution_modes.iter().enumerate() {
            let field = format!("policy.execution_modes[{i}]");
            let mode: ExecutionMode = m.parse().map_err(|e: String| invalid(&field, e))?;
            let same_kind = |other: &ExecutionMode| {
                std::mem::discriminant(other) == std::mem::discriminant(&mode)
            };
            if execution_modes.iter().any(same_kind) {
                return Err(invalid(field, "listed twice"));
            }
            execution_modes.push(mode);
        }
        doc.policy
            .compute
            .validate()
            .map_err(|e| invalid("policy.compute", e))?;
        crate::registry::check_region_list(&doc.policy.regions)
            .map_err(|e| invalid("policy.regions", e))?;
        if !execution_modes.contains(&ExecutionMode::Replicated) {
            return Err(invalid(
                "policy.execution_modes",
                "must contain `replicated`",
            ));
        }
        doc.policy
            .fees
            .validate()
            .map_err(|e| invalid("policy.fees", e))?;
        let allocations = parse_allocations(&doc.allocations)?;

        let min = min_blocks_per_epoch(validators.len());
        if doc.blocks_per_epoch < min {
            return Err(invalid(
                "blocks_per_epoch",
                format!(
                    "{} is too short for {} validators: a reshare needs at least {min} blocks \
                     (its second half must let a quorum of them each lead a block under the \
                     random leader election)",
                    doc.blocks_per_epoch,
                    validators.len()
                ),
            ));
        }
        Ok(Draft {
            name: doc.chain.clone(),
            timestamp_ms: doc.timestamp_ms,
            validators,
            participants,
            blocks_per_epoch: doc.blocks_per_epoch,
            attestation_policy: doc.policy.attestation.clone(),
            execution_modes,
            compute: doc.policy.compute,
            regions: doc.policy.regions.clone(),
            fees: doc.policy.fees,
            allocations,
        })
    }

    /// The document form (no key generation output).
    pub fn to_doc(&self) -> GenesisDoc {
        GenesisDoc {
            chain: self.name.clone(),
            chain_id: None,
            timestamp_ms: self.timestamp_ms,
            validators: self
                .validators
                .iter()
                .map(|v| ValidatorEntry {
                    public_key: hex_of(&v.public_key),
                    address: v.address,
                })
                .collect(),
            blocks_per_epoch: self.blocks_per_epoch,
            dkg_output: String::new(),
            threshold_polynomial: None,
            group_public_key: None,
            policy: PolicyDoc {
                execution_modes: self.execution_modes.iter().map(|m| m.to_string()).collect(),
                compute: self.compute,
                regions: self.regions.clone(),
                attestation: self.attestation_policy.clone(),
                fees: self.fees,
            },
            allocations: self
                .allocations
                .iter()
                .map(|(address, balance)| AllocationEntry {
                    address: address.to_hex(),
                    balance: balance.to_string(),
                })
                .collect(),
        }
    }

    /// Reads and validates a draft (or complete) genesis document.
    pub fn load(path: &Path) -> Result<Draft, GenesisError> {
        Draft::from_doc(&read_doc(path)?)
    }
}

impl ChainSpec {
    /// Validates a genesis document.
    pub fn from_doc(doc: &GenesisDoc) -> Result<ChainSpec, GenesisError> {
        let draft = Draft::from_doc(doc)?;
        if doc.dkg_output.is_empty() {
            return Err(invalid(
                "dkg_output",
                "missing: this genesis is a draft; its validators complete it with \
                 `hyperchain genesis ceremony`",
            ));
        }
        let raw = decode_hex("dkg_output", &doc.dkg_output)?;
        let max = NonZeroU32::new(draft.validators.len() as u32).expect("at least one validator");
        let output = DkgOutput::decode_cfg(bytes::Bytes::from(raw), &(max, ModeVersion::v0()))
            .map_err(|e| invalid("dkg_output", format!("does not decode: {e}")))?;
        let spec = ChainSpec::complete(draft, output)?;
        if let Some(stated) = &doc.threshold_polynomial {
            let derived = hex_of(&spec.polynomial);
            if stated.strip_prefix("0x").unwrap_or(stated) != derived {
                return Err(invalid(
                    "threshold_polynomial",
                    "differs from the key generation output's",
                ));
            }
        }
        if let Some(stated) = &doc.group_public_key {
            let derived = hex_of(spec.polynomial.public());
            if stated.strip_prefix("0x").unwrap_or(stated) != derived {
                return Err(invalid(
                    "group_public_key",
                    format!("differs from the polynomial's ({derived})"),
                ));
            }
        }
        if let Some(stated) = &doc.chain_id {
            let stated = stated.strip_prefix("0x").unwrap_or(stated);
            if stated != spec.chain_id.to_hex() {
                return Err(invalid(
                    "chain_id",
                    format!(
                        "differs from the SHA-256 of the canonical genesis ({})",
                        spec.chain_id.to_hex()
                    ),
                ));
            }
        }
        Ok(spec)
    }

    /// Completes `draft` with its validators' key generation `output`: the output's players
    /// must be exactly the draft's validators, no share may have been revealed, and the
    /// threshold must be the BFT quorum.
    pub fn complete(draft: Draft, output: DkgOutput) -> Result<ChainSpec, GenesisError> {
        let (validators, participants) = (&draft.validators, &draft.participants);
        if output.players() != participants {
            return Err(invalid(
                "dkg_output",
                "its players are not the genesis validators",
            ));
        }
        if !output.revealed().is_empty() {
            return Err(invalid(
                "dkg_output",
                format!(
                    "the shares of {} validator(s) were revealed (they missed their dealings): \
                     run the ceremony again with every validator online",
                    output.revealed().len()
                ),
            ));
        }
        let polynomial = output.public().clone();
        if polynomial.total().get() as usize != validators.len() {
            return Err(invalid(
                "threshold_polynomial",
                format!(
                    "shares {} participants, the genesis has {} validators",
                    polynomial.total(),
                    validators.len()
                ),
            ));
        }
        let quorum = participants.quorum::<N3f1>();
        if polynomial.required() != quorum {
            return Err(invalid(
                "threshold_polynomial",
                format!(
                    "threshold is {}, {} validators need {quorum}",
                    polynomial.required(),
                    validators.len()
                ),
            ));
        }
        let mut spec = ChainSpec {
            draft,
            chain_id: Digest::ZERO,
            polynomial,
            dkg_output: output,
        };
        spec.chain_id = sha256(&spec.canonical_bytes());
        Ok(spec)
    }

    /// Reads and validates `genesis.json`.
    pub fn load(path: &Path) -> Result<ChainSpec, GenesisError> {
        ChainSpec::from_doc(&read_doc(path)?)
    }

    /// The canonical encoding hashed into the chain id:
    ///
    /// ```text
    /// "hyperchain/genesis/v1" ‖ u32 len ‖ name ‖ u64 timestamp_ms
    /// ‖ u32 n ‖ n × public key (32, in participant order) ‖ u64 blocks_per_epoch
    /// ‖ u32 len ‖ key generation output encoding (polynomial, dealers, players, revealed)
    /// ‖ u32 m ‖ m × execution mode encoding
    /// ‖ u32 len ‖ attestation policy encoding
    /// ‖ u64 job_deadline_ms ‖ u32 suspend_after_failures ‖ u32 pipeline_depth
    /// ‖ u64 suspension_ms ‖ u64 max_stall_ms ‖ u64 deadline_fuel_per_ms
    /// ‖ u32 deadline_grace_blocks ‖ u64 stall_retry_ms
    /// ‖ u32 r ‖ r × (u8 len ‖ region)
    /// ‖ u64 per_tx ‖ u64 per_byte ‖ u64 per_fuel ‖ u64 per_state_byte ‖ u64 per_code_byte
    /// ‖ u64 per_registration ‖ u8 burn_percent ‖ u64 node_bond ‖ u64 unbonding_ms
    /// ‖ u32 a ‖ a × (address (32) ‖ u128 balance)
    /// ```
    /// (integers big-endian; addresses are excluded).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = CHAIN_ID_DOMAIN.to_vec();
        out.extend((self.name.len() as u32).to_be_bytes());
        out.extend(self.name.as_bytes());
        out.extend(self.timestamp_ms.to_be_bytes());
        out.extend((self.participants.len() as u32).to_be_bytes());
        for pk in self.participants.iter() {
            out.extend(pk.encode());
        }
        out.extend(self.blocks_per_epoch.to_be_bytes());
        let output = self.dkg_output.encode();
        out.extend((output.len() as u32).to_be_bytes());
        out.extend(output);
        out.extend((self.execution_modes.len() as u32).to_be_bytes());
        for mode in &self.execution_modes {
            out.extend(mode.encode());
        }
        let policy = self.attestation_policy.encode();
        out.extend((policy.len() as u32).to_be_bytes());
        out.extend(policy);
        out.extend(self.compute.job_deadline_ms.to_be_bytes());
        out.extend(self.compute.suspend_after_failures.to_be_bytes());
        out.extend(self.compute.pipeline_depth.to_be_bytes());
        out.extend(self.compute.suspension_ms.to_be_bytes());
        out.extend(self.compute.max_stall_ms.to_be_bytes());
        out.extend(self.compute.deadline_fuel_per_ms.to_be_bytes());
        out.extend(self.compute.deadline_grace_blocks.to_be_bytes());
        out.extend(self.compute.stall_retry_ms.to_be_bytes());
        out.extend((self.regions.len() as u32).to_be_bytes());
        for region in &self.regions {
            out.push(region.len() as u8);
            out.extend(region.as_bytes());
        }
        let fees = &self.fees;
        for price in [
            fees.per_tx,
            fees.per_byte,
            fees.per_fuel,
            fees.per_state_byte,
            fees.per_code_byte,
            fees.per_registration,
        ] {
            out.extend(price.to_be_bytes());
        }
        out.push(fees.burn_percent);
        out.extend(fees.node_bond.to_be_bytes());
        out.extend(fees.unbonding_ms.to_be_bytes());
        out.extend((self.allocations.len() as u32).to_be_bytes());
        for (address, balance) in &self.allocations {
            out.extend(address.as_ref());
            out.extend(balance.to_be_bytes());
        }
        out
    }

    /// The registry's genesis configuration (attestation policy, validators' accounts).
    pub fn registry_config(&self) -> crate::registry::RegistryConfig {
        crate::registry::RegistryConfig {
            genesis_policy: self.attestation_policy.clone(),
            execution_modes: self.execution_modes.clone(),
            compute: self.compute,
            regions: self.regions.clone(),
            max_nodes: crate::registry::MAX_NODES,
            fees: self.fees,
            blocks_per_epoch: self.blocks_per_epoch,
            validators: self
                .participants
                .iter()
                .map(|key| hyperchain_types::SenderKey::from(key).address())
                .collect(),
        }
    }

    /// The document form (with the derived chain id and group key filled in).
    pub fn to_doc(&self) -> GenesisDoc {
        GenesisDoc {
            chain_id: Some(self.chain_id.to_hex()),
            dkg_output: hex_of(&self.dkg_output),
            threshold_polynomial: Some(hex_of(&self.polynomial)),
            group_public_key: Some(self.group_public_key_hex()),
            ..self.draft.to_doc()
        }
    }

    /// Writes the document form to `path` (refusing to overwrite).
    pub fn save(&self, path: &Path) -> Result<(), GenesisError> {
        let json = serde_json::to_string_pretty(&self.to_doc()).expect("serializable");
        write_new(path, format!("{json}\n").as_bytes(), 0o644)
    }

    /// The group public key (certificates verify against it).
    pub fn group_public_key(&self) -> &GroupPublicKey {
        self.polynomial.public()
    }

    /// Hex of the group public key.
    pub fn group_public_key_hex(&self) -> String {
        hex_of(self.polynomial.public())
    }

    /// What the ledger needs to create the genesis block.
    pub fn ledger_genesis(&self) -> Genesis {
        Genesis {
            chain_id: self.chain_id,
            timestamp_ms: self.timestamp_ms,
            allocations: self.allocations.clone(),
            validators: crate::validators::ValidatorSet::new(
                self.validators
                    .iter()
                    .map(|v| crate::validators::Validator {
                        public_key: hyperchain_types::SenderKey::from(&v.public_key).0,
                        address: v.address.to_string(),
                    })
                    .collect(),
            ),
            reshare: None,
        }
    }

    /// The signing scheme of the validator holding `key`, after checking that the key belongs
    /// to this chain and its share to this polynomial.
    pub fn signer(&self, key: &ValidatorKey) -> Result<Scheme, GenesisError> {
        let public_key = key.public_key();
        let Some(position) = self.participants.position(&public_key) else {
            return Err(GenesisError::NotAValidator {
                public_key: hex_of(&public_key),
                chain: self.name.clone(),
            });
        };
        if key.share.index != Participant::from_usize(position) {
            return Err(invalid(
                "bls_share",
                format!(
                    "share index {} does not match the validator's position {position}",
                    key.share.index
                ),
            ));
        }
        let expected = self
            .polynomial
            .partial_public(key.share.index)
            .map_err(|e| invalid("bls_share", format!("{e}")))?;
        if expected != key.share.public::<Variant>() {
            return Err(invalid(
                "bls_share",
                "does not match the genesis threshold polynomial",
            ));
        }
        Scheme::signer(
            NAMESPACE,
            self.participants.clone(),
            self.polynomial.clone(),
            key.share.clone(),
        )
        .ok_or_else(|| invalid("bls_share", "rejected by the signing scheme"))
    }

    /// The validator with `public_key`, if any.
    pub fn validator(&self, public_key: &PublicKey) -> Option<&ValidatorInfo> {
        self.validators.iter().find(|v| &v.public_key == public_key)
    }
}

/// Writes `contents` to a new file with permission bits `mode` (never overwrites).
pub fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), GenesisError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io_error(path))?;
    file.write_all(contents).map_err(io_error(path))?;
    file.sync_all().map_err(io_error(path))
}

/// Reads a key file, refusing one that other users may read.
fn read_key_file<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, GenesisError> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(path).map_err(io_error(path))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(GenesisError::KeyFilePermissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    let text = std::fs::read_to_string(path).map_err(io_error(path))?;
    serde_json::from_str(&text).map_err(|source| GenesisError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// A validator's secrets: its identity key and its threshold share.
#[derive(Clone, Debug)]
pub struct ValidatorKey {
    /// ed25519 identity key (p2p authentication, consensus identity).
    pub private_key: ed25519::PrivateKey,
    /// Threshold-BLS share.
    pub share: Share,
}

/// A validator key file (`validator.key`, mode 0600).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorKeyFile {
    /// ed25519 public key (hex; checked against the private key).
    pub public_key: String,
    /// ed25519 private key (hex).
    pub private_key: String,
    /// Threshold-BLS share (hex of its codec encoding: index ‖ scalar); absent until the
    /// genesis ceremony (`hyperchain genesis ceremony`) has produced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bls_share: Option<String>,
}

impl ValidatorKey {
    /// The identity public key.
    pub fn public_key(&self) -> PublicKey {
        self.private_key.public_key()
    }

    /// The file form.
    pub fn to_file(&self) -> ValidatorKeyFile {
        ValidatorKeyFile {
            public_key: hex_of(&self.public_key()),
            private_key: hex_of(&self.private_key),
            bls_share: Some(hex_of(&self.share)),
        }
    }

    /// Validates the file form.
    pub fn from_file(file: &ValidatorKeyFile) -> Result<ValidatorKey, GenesisError> {
        let private_key = decode_private_key("private_key", &file.private_key)?;
        let stated = decode_public_key("public_key", &file.public_key)?;
        if private_key.public_key() != stated {
            return Err(invalid("public_key", "does not match the private key"));
        }
        let Some(share_hex) = &file.bls_share else {
            return Err(invalid(
                "bls_share",
                "missing: this validator has no threshold share yet (run `hyperchain genesis \
                 ceremony` with the other validators)",
            ));
        };
        let raw = decode_hex("bls_share", share_hex)?;
        let share = Share::decode(bytes::Bytes::from(raw))
            .map_err(|e| invalid("bls_share", format!("not a BLS share: {e}")))?;
        Ok(ValidatorKey { private_key, share })
    }

    /// Reads a key file (which must not be readable by other users).
    pub fn load(path: &Path) -> Result<ValidatorKey, GenesisError> {
        ValidatorKey::from_file(&read_key_file(path)?)
    }

    /// Writes a new key file with mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), GenesisError> {
        let json = serde_json::to_string_pretty(&self.to_file()).expect("serializable");
        write_new(path, format!("{json}\n").as_bytes(), 0o600)
    }

    /// Replaces the key file at `path` (e.g. the identity-only file the ceremony started
    /// from) with this key, atomically: a crash leaves the old file or the new one.
    pub fn replace(&self, path: &Path) -> Result<(), GenesisError> {
        let json = serde_json::to_string_pretty(&self.to_file()).expect("serializable");
        let tmp = path.with_extension("key.tmp");
        let _ = std::fs::remove_file(&tmp);
        write_new(&tmp, format!("{json}\n").as_bytes(), 0o600)?;
        std::fs::rename(&tmp, path).map_err(io_error(path))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io_error(dir))?;
        }
        Ok(())
    }
}

/// A validator's identity key alone: what a validator has before the genesis ceremony (a
/// `validator.key` without `bls_share`; `hyperchain genesis keygen`), and the part of a
/// complete key the ceremony needs.
#[derive(Clone, Debug)]
pub struct ValidatorIdentity {
    /// ed25519 identity key (p2p authentication, consensus identity, ceremony messages).
    pub private_key: ed25519::PrivateKey,
}

impl ValidatorIdentity {
    /// A new random identity.
    pub fn generate(rng: &mut impl CryptoRng) -> ValidatorIdentity {
        use commonware_math::algebra::Random as _;
        ValidatorIdentity {
            private_key: ed25519::PrivateKey::random(rng),
        }
    }

    /// The identity public key.
    pub fn public_key(&self) -> PublicKey {
        self.private_key.public_key()
    }

    /// Reads a validator key file, with or without a share (which is ignored).
    pub fn load(path: &Path) -> Result<ValidatorIdentity, GenesisError> {
        let file: ValidatorKeyFile = read_key_file(path)?;
        let private_key = decode_private_key("private_key", &file.private_key)?;
        let stated = decode_public_key("public_key", &file.public_key)?;
        if private_key.public_key() != stated {
            return Err(invalid("public_key", "does not match the private key"));
        }
        Ok(ValidatorIdentity { private_key })
    }

    /// Writes a new identity-only key file with mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), GenesisError> {
        let file = ValidatorKeyFile {
            public_key: hex_of(&self.public_key()),
            private_key: hex_of(&self.private_key),
            bls_share: None,
        };
        let json = serde_json::to_string_pretty(&file).expect("serializable");
        write_new(path, format!("{json}\n").as_bytes(), 0o600)
    }
}

/// An account key file (`keys generate`, e.g. a faucet; mode 0600).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountKeyFile {
    /// The account address (derived from the public key; checked).
    pub address: String,
    /// ed25519 public key (hex).
    pub public_key: String,
    /// ed25519 private key (hex).
    pub private_key: String,
}

/// An account's signing key.
#[derive(Clone, Debug)]
pub struct AccountKey(pub ed25519::PrivateKey);

impl AccountKey {
    /// A fresh key from `rng`.
    pub fn generate(rng: impl CryptoRng) -> AccountKey {
        use commonware_math::algebra::Random as _;
        AccountKey(ed25519::PrivateKey::random(rng))
    }

    /// The account address.
    pub fn address(&self) -> Address {
        account_address(&self.0.public_key())
    }

    /// The file form.
    pub fn to_file(&self) -> AccountKeyFile {
        AccountKeyFile {
            address: self.address().to_hex(),
            public_key: hex_of(&self.0.public_key()),
            private_key: hex_of(&self.0),
        }
    }

    /// Validates the file form.
    pub fn from_file(file: &AccountKeyFile) -> Result<AccountKey, GenesisError> {
        let key = AccountKey(decode_private_key("private_key", &file.private_key)?);
        if decode_public_key("public_key", &file.public_key)? != key.0.public_key() {
            return Err(invalid("public_key", "does not match the private key"));
        }
        if file.address.strip_prefix("0x").unwrap_or(&file.address) != key.address().to_hex() {
            return Err(invalid("address", "does not match the public key"));
        }
        Ok(key)
    }

    /// Reads a key file (which must not be readable by other users).
    pub fn load(path: &Path) -> Result<AccountKey, GenesisError> {
        AccountKey::from_file(&read_key_file(path)?)
    }

    /// Writes a new key file with mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), GenesisError> {
        let json = serde_json::to_string_pretty(&self.to_file()).expect("serializable");
        write_new(path, format!("{json}\n").as_bytes(), 0o600)
    }
}

/// The largest committee a devnet allows (`committee(8)`).
pub const DEVNET_MAX_COMMITTEE: u8 = 8;

/// What the devnet dealer produces.
#[derive(Debug)]
pub struct Devnet {
    /// The validated genesis.
    pub spec: ChainSpec,
    /// Each validator's secrets, in the order of the addresses given to [`deal_devnet`].
    pub validator_keys: Vec<ValidatorKey>,
    /// The faucet account's key (funded with [`DEVNET_FAUCET_BALANCE`]).
    pub faucet: AccountKey,
}

/// What a devnet's faucet holds at genesis: one billion HYP.
pub const DEVNET_FAUCET_BALANCE: u128 = 1_000_000_000 * crate::fees::UNIT;
/// What each devnet validator's account holds at genesis, for its governance transactions' fees.
pub const DEVNET_VALIDATOR_BALANCE: u128 = 1_000_000 * crate::fees::UNIT;

/// What a dealt devnet's policy and accounts are.
#[derive(Clone, Debug, Default)]
pub struct DevnetOptions {
    /// Committee execution parameters (`policy.compute`).
    pub compute: crate::registry::ComputeParams,
    /// The fee schedule (`policy.fees`).
    pub fees: crate::fees::FeeSchedule,
    /// Accounts funded besides the faucet and the validators' accounts.
    pub allocations: Vec<(Address, u128)>,
    /// Blocks per epoch (`None`: [`DEFAULT_BLOCKS_PER_EPOCH`], or the validator count's
    /// minimum if larger).
    pub blocks_per_epoch: Option<u64>,
}

impl DevnetOptions {
    /// The defaults with a schedule that charges nothing.
    pub fn free() -> DevnetOptions {
        DevnetOptions {
            fees: crate::fees::FeeSchedule::FREE,
            ..DevnetOptions::default()
        }
    }
}

/// **Devnets only**: generates `addresses.len()` validator identity keys, deals a threshold-BLS
/// key (`feldman_desmedt::deal`, threshold = the BFT quorum), with an
/// attestation policy that accepts simulated platforms. The caller holds every secret, so it
/// alone could forge any certificate of this chain.
pub fn deal_devnet(
    rng: impl CryptoRng,
    name: &str,
    timestamp_ms: u64,
    addresses: &[SocketAddr],
) -> Result<Devnet, GenesisError> {
    deal_devnet_with(rng, name, timestamp_ms, addresses, DevnetOptions::default())
}

/// [`deal_devnet`] with the given policy and accounts.
pub fn deal_devnet_with(
    mut rng: impl CryptoRng,
    name: &str,
    timestamp_ms: u64,
    addresses: &[SocketAddr],
    options: DevnetOptions,
) -> Result<Devnet, GenesisError> {
    use commonware_math::algebra::Random as _;
    if addresses.is_empty() {
        return Err(invalid("validators", "no validators"));
    }
    let keys: Vec<ed25519::PrivateKey> = addresses
        .iter()
        .map(|_| ed25519::PrivateKey::random(&mut rng))
        .collect();
    let faucet = AccountKey::generate(&mut rng);
    let validators: Vec<(PublicKey, SocketAddr)> = keys
        .iter()
        .map(|k| k.public_key())
        .zip(addresses.iter().copied())
        .collect();
    let draft = devnet_draft(
        name,
        timestamp_ms,
        &validators,
        Some(faucet.address()),
        options,
    )?;
    let (output, shares) =
        deal::<Variant, _, N3f1>(&mut rng, Mode::NonZeroCounter, draft.participants.clone())
            .map_err(|e| invalid("dkg_output", format!("dealing failed: {e}")))?;
    let spec = ChainSpec::complete(draft, output)?;
    let validator_keys = keys
        .into_iter()
        .map(|private_key| {
            let share = shares
                .get_value(&private_key.public_key())
                .expect("every participant is dealt a share")
                .clone();
            ValidatorKey { private_key, share }
        })
        .collect();
    Ok(Devnet {
        spec,
        validator_keys,
        faucet,
    })
}

/// A devnet's genesis draft: `validators` (identity keys and p2p addresses), every execution
/// mode, simulated platforms allowed (governance still registers the runtime release), the
/// faucet (if any, with [`DEVNET_FAUCET_BALANCE`]) and each validator's account funded. Its
/// validators complete it with a ceremony
/// (`hyperchain genesis ceremony`), or a dealer does ([`deal_devnet`]).
pub fn devnet_draft(
    name: &str,
    timestamp_ms: u64,
    validators: &[(PublicKey, SocketAddr)],
    faucet: Option<Address>,
    options: DevnetOptions,
) -> Result<Draft, GenesisError> {
    // The validators' accounts pay for their governance proposals and approvals.
    let accounts = validators.iter().map(|(k, _)| {
        (
            hyperchain_types::SenderKey::from(k.clone()).address(),
            DEVNET_VALIDATOR_BALANCE,
        )
    });
    let allocations = faucet
        .map(|f| (f, DEVNET_FAUCET_BALANCE))
        .into_iter()
        .chain(accounts)
        .chain(options.allocations)
        .map(|(address, balance)| AllocationEntry {
            address: address.to_hex(),
            balance: balance.to_string(),
        })
        .collect();
    let doc = GenesisDoc {
        chain: name.to_string(),
        chain_id: None,
        timestamp_ms,
        validators: validators
            .iter()
            .map(|(k, a)| ValidatorEntry {
                public_key: hex_of(k),
                address: *a,
            })
            .collect(),
        blocks_per_epoch: options.blocks_per_epoch.unwrap_or_else(|| {
            DEFAULT_BLOCKS_PER_EPOCH.max(min_blocks_per_epoch(validators.len()))
        }),
        dkg_output: String::new(),
        threshold_polynomial: None,
        group_public_key: None,
        policy: PolicyDoc {
            execution_modes: [
                ExecutionMode::Replicated,
                ExecutionMode::Single,
                ExecutionMode::Committee(DEVNET_MAX_COMMITTEE),
                ExecutionMode::CrossVendor,
            ]
            .iter()
            .map(ExecutionMode::to_string)
            .collect(),
            compute: options.compute,
            fees: options.fees,
            regions: crate::registry::default_regions(),
            attestation: AttestationPolicy {
                allow_simulated: true,
                ..AttestationPolicy::default()
            },
        },
        allocations,
    };
    Draft::from_doc(&doc)
}

pub use hyperchain_types::consensus::GroupPublicKey;

/// What every validator of a chain starts from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Genesis {
    /// The chain id (transactions name it; it is the genesis block's `chain_id`).
    pub chain_id: Digest,
    /// The genesis block's timestamp.
    pub timestamp_ms: u64,
    /// Accounts funded at genesis.
    pub allocations: Vec<(Address, u128)>,
    /// The validator set of epoch 0 (none: the registry configuration's validators govern,
    /// as in tests).
    pub validators: crate::validators::ValidatorSet,
    /// The genesis block's reshare payload: epoch 0's key-generation output, from which the
    /// epochs' resharing starts (the node encodes it: `block::genesis_epoch_info`; `None` in
    /// tests without epochs).
    pub reshare: Option<Vec<u8>>,
}

impl Genesis {
    /// A genesis with no funded accounts.
    pub fn unfunded(chain_id: Digest, timestamp_ms: u64) -> Genesis {
        Genesis {
            chain_id,
            timestamp_ms,
            allocations: Vec::new(),
            validators: Default::default(),
            reshare: None,
        }
    }

    /// The genesis state: every allocation's account record and the total supply.
    pub fn writes(&self) -> hyperchain_state::WriteBatch {
        let mut batch = hyperchain_state::WriteBatch::new();
        let mut supply: u128 = 0;
        for (address, balance) in &self.allocations {
            let account = crate::fees::Account {
                nonce: 0,
                balance: *balance,
            };
            batch.put(
                hyperchain_state::TreeId::ROOT,
                crate::fees::account_key(address),
                account.encode(),
            );
            supply = supply.saturating_add(*balance);
        }
        if supply > 0 {
            batch.put(
                hyperchain_state::TreeId::ROOT,
                crate::fees::SUPPLY_KEY.to_vec(),
                supply.to_be_bytes().to_vec(),
            );
        }
        if !self.validators.0.is_empty() {
            for (tree, key, value) in crate::validators::genesis_writes(&self.validators) {
                batch.put(tree, key, value.expect("genesis writes set values"));
            }
        }
        batch
    }
}

/// Validates the genesis allocations: at most [`MAX_ALLOCATIONS`], distinct addresses,
/// positive balances, a total that fits in a u128.
fn parse_allocations(entries: &[AllocationEntry]) -> Result<Vec<(Address, u128)>, GenesisError> {
    if entries.len() > MAX_ALLOCATIONS {
        return Err(invalid(
            "allocations",
            format!("{} accounts, at most {MAX_ALLOCATIONS}", entries.len()),
        ));
    }
    let mut out: Vec<(Address, u128)> = Vec::with_capacity(entries.len());
    let mut seen = BTreeSet::new();
    let mut total: u128 = 0;
    for (i, entry) in entries.iter().enumerate() {
        let raw = decode_hex(&format!("allocations[{i}].address"), &entry.address)?;
        let address = Address(raw.try_into().map_err(|_| {
            invalid(
                format!("allocations[{i}].address"),
                "an address is 32 bytes",
            )
        })?);
        if !seen.insert(address) {
            return Err(invalid(format!("allocations[{i}].address"), "listed twice"));
        }
        let balance: u128 = entry.balance.parse().map_err(|_| {
            invalid(
                format!("allocations[{i}].balance"),
                "a balance is a decimal number of base units (1 HYP = 10^9)",
            )
        })?;
        if balance == 0 {
            return Err(invalid(format!("allocations[{i}].balance"), "is zero"));
        }
        total = total
            .checked_add(balance)
            .ok_or_else(|| invalid("allocations", "the total overflows"))?;
        out.push((address, balance));
    }
    Ok(out)
}
