//! The client's verified reads: blocks and state proofs checked with a light client (the chain
//! id and group public key) instead of trusting the node.
//!
//! Real certificates come from a one-validator devnet: with a single participant the threshold
//! is one, so the validator's own finalize signature is the group's (the recovered certificate).
//! The finality checks themselves are exercised on a simulated multi-validator chain in the
//! chain crate's tests (`light`).

use crate::common::*;
use axum::{Json, Router, routing::get};
use commonware_codec::Encode as _;
use commonware_consensus::{
    simplex::{
        scheme::bls12381_threshold::vrf::Certificate,
        types::{Finalization, Finalize, Proposal},
    },
    types::{Epoch, Round, View},
};
use commonware_cryptography::transcript::{Transcript, Version};
use futures::future::BoxFuture;
use hyperchain_chain::{
    app::{FinalizationCert, Scheme},
    block::to_consensus,
    genesis::deal_devnet,
    ledger::Ledger,
    light::{LightClient, LightError},
};
use hyperchain_contracts::COUNTER;
use hyperchain_merkle::{MemoryNodeStore, StateProof, TreeId};
use hyperchain_rpc::api::{BlockView, Hex, ProofResponse};
use hyperchain_rpc::{Client, ClientError, FinalityCertificates, RpcContext, serve_with_shutdown};
use hyperchain_sdk::encode;
use hyperchain_types::{Block, Digest, Header, contract_address, tx_root};
use std::net::SocketAddr;
use std::sync::Arc;

/// The signing scheme of a one-validator devnet, and a light client of `chain_id()` for it.
fn one_validator(seed: u64) -> (Scheme, LightClient) {
    let address = SocketAddr::from(([127, 0, 0, 1], 9000));
    // A deterministic dealer: the keys differ by seed.
    let mut transcript = Transcript::new(b"rpc light test dealer", Version::V1);
    transcript.commit(seed.to_be_bytes().as_slice());
    let devnet = deal_devnet(transcript.noise(b"rng"), "rpc-light", 1_000, &[address]).unwrap();
    let scheme = devnet.spec.signer(&devnet.validator_keys[0]).unwrap();
    let light = LightClient::new(chain_id(), *devnet.spec.group_public_key());
    (scheme, light)
}

/// The encoded finalization of `header` by the one validator of `scheme`.
fn finalize(scheme: &Scheme, header: &Header) -> Vec<u8> {
    let view = header.height + 1;
    let proposal = Proposal::new(
        Round::new(Epoch::zero(), View::new(view)),
        View::new(view - 1),
        to_consensus(header.digest()),
    );
    let vote = Finalize::sign(scheme, proposal).expect("a signer");
    let signature = vote
        .attestation
        .signature
        .get()
        .expect("own signature decodes")
        .clone();
    let finalization: FinalizationCert = Finalization {
        proposal: vote.proposal,
        certificate: Certificate::from(signature),
    };
    finalization.encode().to_vec()
}

/// Certificates signed on request for the ledger's finalized blocks.
struct SignedCertificates {
    ledger: Arc<Ledger>,
    scheme: Scheme,
}

impl FinalityCertificates for SignedCertificates {
    fn finalization(&self, height: u64) -> BoxFuture<'_, Option<Vec<u8>>> {
        let certificate = match self.ledger.block(height) {
            Ok(Some(block)) if height > 0 => Some(finalize(&self.scheme, &block.header)),
            _ => None,
        };
        Box::pin(async move { certificate })
    }
}

/// A server over `node`'s ledger and mempool that serves real certificates.
struct Certified {
    client: Client,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Certified {
    async fn start(node: &TestNode, scheme: Scheme) -> Certified {
        let certificates = Arc::new(SignedCertificates {
            ledger: node.ledger.clone(),
            scheme,
        });
        let ctx = RpcContext::new(node.ledger.clone(), node.mempool.clone(), certificates);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_with_shutdown(listener, ctx, async move {
            let _ = stopped.await;
        }));
        Certified {
            client: Client::new(&url).unwrap(),
            stop,
            server,
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.server.await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_blocks_and_proofs_of_a_certified_node() {
    let node = TestNode::start().await;
    let (scheme, light) = one_validator(1);
    let certified = Certified::start(&node, scheme).await;
    let client = &certified.client;

    let alice = key(1);
    let counter = contract_address(&address(&alice), 0);
    let b1 = node
        .finalize_txs(vec![
            deploy(&alice, 0, COUNTER),
            call(&alice, 1, counter, "increment", encode(&5u64)),
        ])
        .await;
    node.finalize_txs(vec![]).await;

    let view = client.verified_block(1, &light).await.unwrap().unwrap();
    assert_eq!(view.digest, b1.digest());
    assert_eq!(view.txs.len(), 2);
    assert!(client.verified_block(2, &light).await.unwrap().is_some());
    assert_eq!(client.verified_block(3, &light).await.unwrap(), None);
    // Genesis has no certificate: it is not proven by one.
    assert!(matches!(
        client.verified_block(0, &light).await,
        Err(ClientError::Unverified {
            height: 0,
            light: None,
            ..
        })
    ));

    let tree = TreeId(counter.0);
    let proven = client
        .verified_proof(&tree, b"count", &light)
        .await
        .unwrap();
    assert_eq!(proven.value, Some(encode(&5u64)));
    assert_eq!(proven.height, 2);
    let absent = client
        .verified_proof(&tree, b"nothing", &light)
        .await
        .unwrap();
    assert_eq!(absent.value, None);

    // Another group key (another dealer run), another chain id.
    let (_, stranger) = one_validator(2);
    assert_ne!(stranger.group_public_key(), light.group_public_key());
    for result in [
        client.verified_block(1, &stranger).await.map(|_| ()),
        client
            .verified_proof(&tree, b"count", &stranger)
            .await
            .map(|_| ()),
    ] {
        assert!(
            matches!(
                result,
                Err(ClientError::Unverified {
                    light: Some(LightError::BadSignature),
                    ..
                })
            ),
            "{result:?}"
        );
    }
    let elsewhere = LightClient::new(Digest([9; 32]), *light.group_public_key());
    let err = client.verified_block(1, &elsewhere).await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Unverified {
                height: 1,
                light: Some(LightError::WrongChain { .. }),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("header of chain"), "{err}");

    certified.stop().await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_certificates_are_not_verified() {
    // The plain test node serves placeholder bytes as certificates.
    let node = TestNode::start().await;
    let (_, light) = one_validator(1);
    let alice = key(1);
    let counter = contract_address(&address(&alice), 0);
    node.finalize_txs(vec![deploy(&alice, 0, COUNTER)]).await;

    assert!(node.client.block(1).await.unwrap().is_some());
    let err = node.client.verified_block(1, &light).await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Unverified {
                height: 1,
                light: Some(LightError::MalformedCertificate(_)),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("malformed certificate"), "{err}");

    // The unverified read takes the node's word for the state root; the verified one does not.
    let tree = TreeId(counter.0);
    node.client.proof(&tree, b"count").await.unwrap();
    assert!(matches!(
        node.client.verified_proof(&tree, b"count", &light).await,
        Err(ClientError::Unverified {
            light: Some(LightError::MalformedCertificate(_)),
            ..
        })
    ));
    node.stop().await;
}

/// Serves fixed answers for `/block/1` and `/state/proof`.
async fn lying_node(
    block: BlockView,
    proof: ProofResponse,
) -> (Client, tokio::task::JoinHandle<()>) {
    let app = Router::new()
        .route(
            "/block/1",
            get(move || {
                let block = block.clone();
                async move { Json(block) }
            }),
        )
        .route(
            "/state/proof",
            get(move || {
                let proof = proof.clone();
                async move { Json(proof) }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (Client::new(&url).unwrap(), server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_lying_consistently_is_caught() {
    let (scheme, light) = one_validator(1);

    // The real block 1 (empty, finalized with a valid certificate) and a forged state in which
    // `key` holds `forged`.
    let genesis = Block::genesis(chain_id(), 1_000, Digest::ZERO).header;
    let real = Header {
        chain_id: chain_id(),
        height: 1,
        parent: genesis.digest(),
        timestamp_ms: 2_000,
        tx_root: tx_root(&[]),
        state_root: Digest::ZERO,
        epoch: 0,
        view: 1,
        parent_view: 0,
        leader: [1; 32],
        seed: None,
        reshare: hyperchain_types::Digest::ZERO,
    };
    let certificate = finalize(&scheme, &real);
    let mut forged_state = MemoryNodeStore::new();
    let forged_root = forged_state.update([(b"key", Some(b"forged"))]);
    let proof = StateProof {
        subtree: None,
        link: forged_state.prove(b"key"),
    };
    let answer = ProofResponse {
        tree: Digest(TreeId::ROOT.0),
        key: Hex(b"key".to_vec()),
        value: Some(Hex(b"forged".to_vec())),
        proof: Hex(proof.encode()),
        state_root: Digest(forged_root),
        height: 1,
    };

    // 1. The block view claims the forged root (its digest recomputed to match) with the real
    //    certificate: the unverified read accepts, the verified ones do not.
    let lie = Block {
        header: Header {
            state_root: Digest(forged_root),
            ..real.clone()
        },
        txs: vec![],
        reshare: None,
    };
    let (client, server) = lying_node(
        BlockView::new(&lie, Some(certificate.clone())),
        answer.clone(),
    )
    .await;
    let taken = client.proof(&TreeId::ROOT, b"key").await.unwrap();
    assert_eq!(taken.value, Some(b"forged".to_vec()));
    for result in [
        client.verified_block(1, &light).await.map(|_| ()),
        client
            .verified_proof(&TreeId::ROOT, b"key", &light)
            .await
            .map(|_| ()),
    ] {
        assert!(
            matches!(
                result,
                Err(ClientError::Unverified {
                    height: 1,
                    light: Some(LightError::WrongBlock { .. }),
                    ..
                })
            ),
            "{result:?}"
        );
    }
    server.abort();

    // 2. The real header and certificate, but transaction ids that are not the block's.
    let mut view = BlockView::new(
        &Block {
            header: real.clone(),
            txs: vec![],
            reshare: None,
        },
        Some(certificate.clone()),
    );
    view.txs.push(Digest([5; 32]));
    let (client, server) = lying_node(view, answer.clone()).await;
    let err = client.verified_block(1, &light).await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Unverified {
                height: 1,
                light: None,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("tx root"), "{err}");
    server.abort();

    // 3. The real header and certificate, with a proof against the forged root: the proof is
    //    checked against the certified header's root.
    let view = BlockView::new(
        &Block {
            header: real.clone(),
            txs: vec![],
            reshare: None,
        },
        Some(certificate),
    );
    let (client, server) = lying_node(view, answer).await;
    client.verified_block(1, &light).await.unwrap().unwrap();
    assert!(matches!(
        client.verified_proof(&TreeId::ROOT, b"key", &light).await,
        Err(ClientError::InvalidProof(_))
    ));
    server.abort();
}
