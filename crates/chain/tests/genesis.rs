//! Genesis documents, key files and node configurations: round trips and refusals.

use hyperchain_chain::config::{ConfigError, NodeConfig, ValidatorSetup};
use hyperchain_chain::genesis::{
    AccountKey, ChainSpec, Devnet, GenesisDoc, GenesisError, ValidatorKey, deal_devnet,
};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

fn addresses(n: u16) -> Vec<SocketAddr> {
    (0..n)
        .map(|i| SocketAddr::from(([127, 0, 0, 1], 40_000 + i)))
        .collect()
}

fn devnet(n: u16) -> Devnet {
    deal_devnet(commonware_utils::sys_rng(), "test", 1_000, &addresses(n)).unwrap()
}

type Tamper = fn(&mut GenesisDoc);

fn refused(doc: &GenesisDoc) -> String {
    ChainSpec::from_doc(doc).unwrap_err().to_string()
}

#[test]
fn devnet_genesis_round_trips_through_files() {
    let dir = tempfile::tempdir().unwrap();
    let net = devnet(4);
    let path = dir.path().join("genesis.json");
    net.spec.save(&path).unwrap();
    let loaded = ChainSpec::load(&path).unwrap();
    assert_eq!(loaded.chain_id, net.spec.chain_id);
    assert_eq!(loaded.validators, net.spec.validators);
    assert_eq!(loaded.to_doc(), net.spec.to_doc());
    assert_eq!(loaded.group_public_key(), net.spec.group_public_key());
    // Never overwritten.
    assert!(net.spec.save(&path).is_err());

    for (i, key) in net.validator_keys.iter().enumerate() {
        let file = dir.path().join(format!("v{i}.key"));
        key.save(&file).unwrap();
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let back = ValidatorKey::load(&file).unwrap();
        assert_eq!(back.public_key(), key.public_key());
        assert_eq!(back.share, key.share);
        loaded.signer(&back).unwrap();
    }

    let account = dir.path().join("account.key");
    net.faucet.save(&account).unwrap();
    let back = AccountKey::load(&account).unwrap();
    assert_eq!(back.address(), net.faucet.address());
}

#[test]
fn chain_id_covers_the_genesis_but_not_addresses() {
    let net = devnet(4);
    let doc = net.spec.to_doc();
    let id = |d: &GenesisDoc| ChainSpec::from_doc(d).unwrap().chain_id;
    assert_eq!(id(&doc), net.spec.chain_id);

    let mut moved = doc.clone();
    moved.chain_id = None;
    moved.validators[0].address = "10.0.0.1:1".parse().unwrap();
    assert_eq!(id(&moved), net.spec.chain_id, "addresses are operational");
    // The validators' order in the document does not matter either.
    let mut reordered = moved.clone();
    reordered.validators.reverse();
    assert_eq!(id(&reordered), net.spec.chain_id);

    let mut renamed = moved.clone();
    renamed.chain = "other".into();
    assert_ne!(id(&renamed), net.spec.chain_id);
    let mut later = moved.clone();
    later.timestamp_ms += 1;
    assert_ne!(id(&later), net.spec.chain_id);
    let mut pipelined = moved.clone();
    pipelined.policy.compute.pipeline_depth = 1;
    assert_ne!(
        id(&pipelined),
        net.spec.chain_id,
        "the compute policy is consensus"
    );
    let mut longer = moved.clone();
    longer.blocks_per_epoch += 1;
    assert_ne!(
        id(&longer),
        net.spec.chain_id,
        "the epoch length is consensus"
    );
    let mut funded = moved;
    funded.allocations[0].balance = "1".into();
    assert_ne!(id(&funded), net.spec.chain_id, "allocations are consensus");

    // A document written before `pipeline_depth` existed gets the default.
    let mut json = serde_json::to_value(&doc).unwrap();
    json["policy"]["compute"]
        .as_object_mut()
        .unwrap()
        .remove("pipeline_depth");
    let older: GenesisDoc = serde_json::from_value(json).unwrap();
    assert_eq!(
        older.policy.compute.pipeline_depth,
        hyperchain_chain::registry::DEFAULT_PIPELINE_DEPTH
    );
}

#[test]
fn invalid_genesis_documents_are_refused_with_the_field() {
    let net = devnet(4);
    let good = net.spec.to_doc();
    let cases: Vec<(Tamper, &str)> = vec![
        (|d| d.chain.clear(), "`chain`"),
        (|d| d.validators.clear(), "no validators"),
        (
            |d| d.validators[1] = d.validators[0].clone(),
            "listed twice",
        ),
        (
            |d| d.validators[1].address = d.validators[0].address,
            "used by another validator",
        ),
        (
            |d| d.validators[2].public_key = "zz".into(),
            "`validators[2].public_key`: not hex",
        ),
        (
            |d| d.validators[2].public_key = "00".into(),
            "not an ed25519 public key",
        ),
        (|d| d.chain_id = Some("00".repeat(32)), "`chain_id`"),
        (
            |d| d.group_public_key = Some("00".into()),
            "`group_public_key`",
        ),
        (
            |d| d.dkg_output.truncate(20),
            "`dkg_output`: does not decode",
        ),
        (
            |d| d.dkg_output.clear(),
            "`dkg_output`: missing: this genesis is a draft",
        ),
        (
            |d| d.blocks_per_epoch = 100,
            "`blocks_per_epoch`: 100 is too short for 4 validators",
        ),
        (
            |d| d.threshold_polynomial = Some("00".into()),
            "`threshold_polynomial`: differs",
        ),
        (
            |d| d.policy.execution_modes = vec!["single".into()],
            "must contain `replicated`",
        ),
        (
            |d| {
                d.policy.execution_modes = vec![
                    "replicated".into(),
                    "committee(3)".into(),
                    "committee(5)".into(),
                ]
            },
            "listed twice",
        ),
        (|d| d.policy.compute.job_deadline_ms = 10, "policy.compute"),
        (
            |d| d.policy.compute.pipeline_depth = 0,
            "pipeline_depth must be between 1 (off) and 64",
        ),
        (|d| d.policy.compute.pipeline_depth = 65, "pipeline_depth"),
        (
            |d| d.policy.execution_modes = vec!["fast".into()],
            "unknown mode",
        ),
        (
            |d| d.policy.execution_modes.clear(),
            "must contain `replicated`",
        ),
    ];
    for (tamper, expected) in cases {
        let mut doc = good.clone();
        tamper(&mut doc);
        let err = refused(&doc);
        assert!(err.contains(expected), "expected `{expected}` in `{err}`");
    }

    // A polynomial dealt to another validator set.
    let mut doc = good.clone();
    doc.chain_id = None;
    doc.group_public_key = None;
    doc.threshold_polynomial = devnet(5).spec.to_doc().threshold_polynomial;
    let err = refused(&doc);
    assert!(err.contains("threshold_polynomial"), "{err}");

    // Unknown fields are typos, not extensions.
    let mut json = serde_json::to_value(&good).unwrap();
    json["validatorz"] = serde_json::json!([]);
    assert!(serde_json::from_value::<GenesisDoc>(json).is_err());
}

#[test]
fn keys_that_do_not_belong_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let net = devnet(4);
    let other = devnet(4);
    assert!(matches!(
        net.spec.signer(&other.validator_keys[0]),
        Err(GenesisError::NotAValidator { .. })
    ));
    // Validator 0's identity with validator 1's share.
    let swapped = ValidatorKey {
        private_key: net.validator_keys[0].private_key.clone(),
        share: net.validator_keys[1].share.clone(),
    };
    let err = net.spec.signer(&swapped).unwrap_err().to_string();
    assert!(err.contains("bls_share"), "{err}");
    // The right index, another polynomial's share.
    let position = net
        .spec
        .participants
        .position(&net.validator_keys[0].public_key())
        .unwrap();
    let foreign = other
        .validator_keys
        .iter()
        .find(|k| other.spec.participants.position(&k.public_key()) == Some(position))
        .unwrap();
    let forged = ValidatorKey {
        private_key: net.validator_keys[0].private_key.clone(),
        share: foreign.share.clone(),
    };
    let err = net.spec.signer(&forged).unwrap_err().to_string();
    assert!(err.contains("threshold polynomial"), "{err}");

    // A key file others may read.
    let path = dir.path().join("open.key");
    net.validator_keys[0].save(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(
        ValidatorKey::load(&path),
        Err(GenesisError::KeyFilePermissions { mode: 0o644, .. })
    ));
    // A public key that is not the private key's.
    let mut file = net.validator_keys[0].to_file();
    file.public_key = net.validator_keys[1].to_file().public_key;
    let err = ValidatorKey::from_file(&file).unwrap_err().to_string();
    assert!(err.contains("does not match the private key"), "{err}");
}

fn write_config(dir: &Path, key: &str) -> std::path::PathBuf {
    let config = NodeConfig {
        genesis: "genesis.json".into(),
        key: key.into(),
        data_dir: "data".into(),
        p2p_listen: "127.0.0.1:40000".parse().unwrap(),
        rpc_listen: "127.0.0.1:40100".parse().unwrap(),
        mempool_capacity: 10,
        worker_threads: 1,
    };
    let path = dir.join(format!("{key}.json"));
    config.save(&path).unwrap();
    path
}

#[test]
fn node_configs_resolve_paths_and_check_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let net = devnet(4);
    net.spec.save(&d.join("genesis.json")).unwrap();
    net.validator_keys[0].save(&d.join("mine.key")).unwrap();
    devnet(4).validator_keys[0]
        .save(&d.join("theirs.key"))
        .unwrap();

    let setup = ValidatorSetup::load(&write_config(d, "mine.key")).unwrap();
    assert_eq!(setup.config.data_dir, d.join("data"));
    assert_eq!(setup.spec.chain_id, net.spec.chain_id);

    let err = ValidatorSetup::load(&write_config(d, "theirs.key")).unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::Genesis {
                source: GenesisError::NotAValidator { .. },
                ..
            }
        ),
        "{err}"
    );
    let err = ValidatorSetup::load(&write_config(d, "missing.key")).unwrap_err();
    assert!(err.to_string().contains("missing.key"), "{err}");
    // An identity alone, not in the genesis: a validator that joins later, with no share.
    hyperchain_chain::genesis::ValidatorIdentity::generate(&mut commonware_utils::test_rng())
        .save(&d.join("joiner.key"))
        .unwrap();
    let joiner = ValidatorSetup::load(&write_config(d, "joiner.key")).unwrap();
    assert!(joiner.genesis_share.is_none());
}

/// The shortest epoch grows with the validator count (the reshare's inclusion window under
/// random leader election), and the default covers a devnet.
#[test]
fn the_epoch_length_covers_a_reshare_inclusion_window() {
    use hyperchain_chain::genesis::{DEFAULT_BLOCKS_PER_EPOCH, min_blocks_per_epoch};
    let mins: Vec<u64> = [4, 7, 100]
        .iter()
        .map(|n| min_blocks_per_epoch(*n))
        .collect();
    assert_eq!(mins, vec![174, 238, 3814]);
    assert!(mins.windows(2).all(|w| w[0] < w[1]));
    // The default serves up to 58 validators; larger sets need longer epochs.
    assert!(DEFAULT_BLOCKS_PER_EPOCH >= min_blocks_per_epoch(58));
    assert!(DEFAULT_BLOCKS_PER_EPOCH < min_blocks_per_epoch(59));
    assert_eq!(devnet(4).spec.blocks_per_epoch, DEFAULT_BLOCKS_PER_EPOCH);
}

/// A validator's genesis block carries epoch 0's key-generation output, from which the epochs'
/// resharing starts: the genesis's DKG output, the validators as players and next players, and
/// their addresses; the block's header commits to it.
#[test]
fn the_genesis_block_carries_epoch_0s_key_generation_output() {
    use commonware_glue::dkg::ReshareBlock as _;
    use commonware_glue::dkg::types::{EpochOutcome, Payload};
    use hyperchain_chain::block::{Block, genesis_epoch_info};
    use hyperchain_chain::execute::Executor;
    use hyperchain_chain::ledger::Ledger;
    let net = devnet(4);
    let dir = tempfile::tempdir().unwrap();
    let genesis = hyperchain_chain::genesis::Genesis {
        reshare: Some(genesis_epoch_info(&net.spec)),
        ..net.spec.ledger_genesis()
    };
    let ledger = Ledger::open(
        dir.path(),
        genesis,
        Executor::new(crate::common::engine(), net.spec.chain_id)
            .with_registry(net.spec.registry_config()),
    )
    .unwrap();
    let block = ledger.genesis().clone();
    assert_eq!(
        block.header.reshare,
        hyperchain_types::reshare_digest(block.reshare.as_deref())
    );
    let Some(Payload::EpochInfo(info)) = Block(block).payload() else {
        panic!("no epoch info in the genesis block");
    };
    assert_eq!(info.outcome, EpochOutcome::Success);
    assert_eq!(info.epoch.get(), 0);
    assert!(
        info.output == net.spec.dkg_output,
        "the genesis's own output"
    );
    assert_eq!(info.players, net.spec.participants);
    assert_eq!(info.next_players, net.spec.participants);
    for v in &net.spec.validators {
        assert!(info.directory.get(&v.public_key).is_some());
    }
}
