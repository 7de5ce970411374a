//! The native token and fees (docs/DESIGN.md §10): who may send, what each transaction pays,
//! where fees go, and that the supply changes only by what is burned.

use crate::common::*;
use commonware_codec::EncodeSize as _;
use commonware_cryptography::Signer as _;
use hyperchain_chain::execute::{Base, BlockEnv, Execution, Executor, InvalidTx};
use hyperchain_chain::fees::{Account, FeeSchedule, SUPPLY_KEY, UNIT, account_key, decode_supply};
use hyperchain_chain::genesis::Genesis;
use hyperchain_chain::registry::RegistryConfig;
use hyperchain_contracts::{COUNTER, HOSTCALLS};
use hyperchain_sdk::encode;
use hyperchain_state::{Store, TreeId, WriteBatch};
use hyperchain_types::{
    Address, CallStatus, Digest, Fee, Payload, ReceiptStatus, SenderKey, SignedTransaction,
    Transaction, contract_address,
};
use proptest::prelude::*;
use std::sync::Arc;

/// The proposer of every block here.
const LEADER: [u8; 32] = [7; 32];

/// A chain on one in-memory store with a fee schedule and funded accounts.
struct Chain {
    store: Store,
    executor: Executor,
    height: u64,
}

impl Chain {
    fn new(schedule: FeeSchedule, allocations: Vec<(Address, u128)>) -> Chain {
        let store = Store::in_memory().unwrap();
        let genesis = Genesis {
            chain_id: chain_id(),
            timestamp_ms: 0,
            allocations,
            validators: Default::default(),
            reshare: None,
        };
        store.commit(&genesis.writes(), 0).unwrap();
        let executor = Executor::new(engine(), chain_id()).with_registry(RegistryConfig {
            fees: schedule,
            ..RegistryConfig::default()
        });
        Chain {
            store,
            executor,
            height: 0,
        }
    }

    /// Executes `txs` as the next block and commits it.
    fn block(&mut self, txs: &[SignedTransaction]) -> Execution {
        let env = BlockEnv {
            height: self.height + 1,
            parent: Digest([0; 32]),
            timestamp_ms: 1_000 * (self.height + 1),
            round: hyperchain_types::Round::new(0, self.height + 1),
            seed: None,
            leader: LEADER,
        };
        let base = Arc::new(Base::new(
            self.store.snapshot().unwrap(),
            Arc::new(WriteBatch::new()),
        ));
        let execution = self.executor.execute(&base, env, txs).unwrap();
        self.store.commit(&execution.batch, env.height).unwrap();
        self.height += 1;
        execution
    }

    fn account(&self, address: &Address) -> Account {
        let raw = self
            .store
            .get(&TreeId::ROOT, &account_key(address))
            .unwrap();
        Account::decode(raw.as_deref()).unwrap()
    }

    fn balance(&self, seed: u64) -> u128 {
        self.account(&address(&key(seed))).balance
    }

    fn supply(&self) -> u128 {
        let raw = self.store.get(&TreeId::ROOT, SUPPLY_KEY).unwrap();
        decode_supply(raw.as_deref()).unwrap()
    }

    fn schedule(&self) -> FeeSchedule {
        *self.executor.fees()
    }
}

fn proposer() -> Address {
    SenderKey(LEADER).address()
}

fn tx(seed: u64, nonce: u64, fee: Fee, payload: Payload) -> SignedTransaction {
    let key = key(seed);
    Transaction {
        chain_id: chain_id(),
        sender: key.public_key().into(),
        nonce,
        fee,
        payload,
    }
    .sign(&key)
}

fn deploy_payload(code: &[u8]) -> Payload {
    Payload::Deploy {
        code: code.to_vec(),
        mode: hyperchain_types::ExecutionMode::Replicated,
        regions: vec![],
    }
}

fn call_payload(contract: Address, method: &str, input: Vec<u8>) -> Payload {
    Payload::Call {
        contract,
        method: method.into(),
        input,
        fuel_limit: FUEL,
    }
}

/// `payload` from `seed` with the least fee limit the schedule accepts, plus `extra`.
fn priced(chain: &Chain, seed: u64, nonce: u64, payload: Payload, extra: u64) -> SignedTransaction {
    let unsigned = Transaction {
        chain_id: chain_id(),
        sender: key(seed).public_key().into(),
        nonce,
        fee: Fee::NONE,
        payload: payload.clone(),
    };
    let limit = chain.schedule().required_unsigned(&unsigned) + extra;
    tx(seed, nonce, Fee::limit(limit), payload)
}

fn funded(seeds: &[u64]) -> Vec<(Address, u128)> {
    seeds
        .iter()
        .map(|s| (address(&key(*s)), 1_000 * UNIT))
        .collect()
}

#[test]
fn an_unfunded_account_cannot_deploy_and_changes_nothing() {
    let mut chain = Chain::new(FeeSchedule::default(), funded(&[1]));
    let deploy = priced(&chain, 9, 0, deploy_payload(COUNTER), 0);
    let execution = chain.block(std::slice::from_ref(&deploy));
    assert!(execution.receipts.is_empty());
    assert!(matches!(
        execution.invalid[..],
        [(0, InvalidTx::CannotPay { balance: 0, .. })]
    ));
    assert_eq!(chain.account(&address(&key(9))), Account::default());
    assert_eq!(chain.supply(), 1_000 * UNIT);
    // A fee limit below the schedule's charge is refused too, funded or not.
    let cheap = tx(1, 0, Fee::limit(1), deploy_payload(COUNTER));
    let execution = chain.block(&[cheap]);
    let required = chain
        .schedule()
        .base(&tx(1, 0, Fee::limit(1), deploy_payload(COUNTER)));
    assert_eq!(
        execution.invalid,
        vec![(0, InvalidTx::FeeLimit { required, limit: 1 })]
    );
    assert_eq!(chain.balance(1), 1_000 * UNIT);
}

#[test]
fn every_transaction_pays_what_it_used_and_the_proposer_gets_the_rest_of_the_burn() {
    let mut chain = Chain::new(FeeSchedule::default(), funded(&[1]));
    let schedule = chain.schedule();
    let deploy = priced(&chain, 1, 0, deploy_payload(COUNTER), 0);
    let deploy_base = schedule.base(&deploy);
    let receipt = chain.block(std::slice::from_ref(&deploy)).receipts[0].clone();
    // A deploy pays its base charge: bytes and code, whatever any node has cached.
    assert_eq!(receipt.fee, deploy_base);
    assert!(deploy_base > schedule.per_code_byte * COUNTER.len() as u64);
    let counter = contract_address(&address(&key(1)), 0);

    let mut increment = priced(
        &chain,
        1,
        1,
        call_payload(counter, "increment", encode(&5u64)),
        0,
    );
    increment.tx.fee.tip = 1_234;
    let increment = tx(1, 1, increment.tx.fee, increment.tx.payload);
    let execution = chain.block(std::slice::from_ref(&increment));
    let receipt = &execution.receipts[0];
    assert!(matches!(
        &receipt.status,
        ReceiptStatus::Called {
            status: CallStatus::Ok,
            ..
        }
    ));
    // Base + the fuel it used + the state it wrote (the counter's one value), + the tip.
    let written = execution
        .batch
        .tree(&TreeId(counter.0))
        .unwrap()
        .iter()
        .map(|(k, v)| (k.len() + v.as_ref().unwrap().len()) as u64)
        .sum::<u64>();
    let charged =
        schedule.base(&increment) + schedule.fuel(receipt.fuel_used) + schedule.state(written);
    assert_eq!(receipt.fee, charged + 1_234);

    // The payer paid exactly that; half of the charges were burned, the rest and the tip
    // went to the proposer, and nothing else moved.
    let paid = (deploy_base + charged + 1_234) as u128;
    assert_eq!(chain.balance(1), 1_000 * UNIT - paid);
    let burned = schedule.burned(deploy_base as u128) + schedule.burned(charged as u128);
    assert_eq!(chain.supply(), 1_000 * UNIT - burned);
    assert_eq!(chain.account(&proposer()).balance, paid - burned);
    assert_eq!(chain.account(&address(&key(1))).nonce, 2);
}

#[test]
fn state_growth_pays_per_byte_and_a_limit_that_cannot_pay_drops_the_writes() {
    let mut chain = Chain::new(FeeSchedule::default(), funded(&[1]));
    let schedule = chain.schedule();
    chain.block(&[priced(&chain, 1, 0, deploy_payload(HOSTCALLS), 0)]);
    let contract = contract_address(&address(&key(1)), 0);
    let write = |chain: &Chain, nonce: u64, len: u32, extra: u64| {
        priced(
            chain,
            1,
            nonce,
            call_payload(contract, "write_pattern", encode(&(b"k".to_vec(), len))),
            extra,
        )
    };
    // What is charged beyond the base and fuel is per byte written: 1 key byte + the value.
    let mut nonce = 1;
    for len in [10u32, 5_000, 60_000] {
        let call = write(&chain, nonce, len, schedule.state(1 + len as u64));
        nonce += 1;
        let receipt = chain.block(std::slice::from_ref(&call)).receipts[0].clone();
        assert!(
            matches!(
                &receipt.status,
                ReceiptStatus::Called {
                    status: CallStatus::Ok,
                    ..
                }
            ),
            "{:?}",
            receipt.status
        );
        let state = receipt.fee - schedule.base(&call) - schedule.fuel(receipt.fuel_used);
        assert_eq!(
            state,
            schedule.state(1 + len as u64),
            "value of {len} bytes"
        );
    }
    // A limit that covers the fuel but not the state: the call fails, its writes are dropped
    // and it pays its base and fuel (never more than its limit).
    let value_before = chain.store.get(&TreeId(contract.0), b"k").unwrap();
    let short = write(&chain, nonce, 50_000, schedule.state(10));
    let execution = chain.block(std::slice::from_ref(&short));
    let receipt = &execution.receipts[0];
    assert!(matches!(
        &receipt.status,
        ReceiptStatus::Called { status: CallStatus::OutOfFee, output, events }
            if output.is_empty() && events.is_empty()
    ));
    assert_eq!(
        receipt.fee,
        schedule.base(&short) + schedule.fuel(receipt.fuel_used)
    );
    assert!(receipt.fee <= short.tx.fee.limit);
    assert_eq!(
        chain.store.get(&TreeId(contract.0), b"k").unwrap(),
        value_before
    );
}

#[test]
fn transfers_move_balances_and_a_short_one_still_pays_its_fee() {
    let mut chain = Chain::new(FeeSchedule::default(), funded(&[1]));
    let schedule = chain.schedule();
    let to = address(&key(2));
    let send = priced(
        &chain,
        1,
        0,
        Payload::Transfer {
            to,
            amount: 10 * UNIT,
        },
        0,
    );
    let receipt = chain.block(std::slice::from_ref(&send)).receipts[0].clone();
    assert_eq!(receipt.status, ReceiptStatus::Accepted);
    assert_eq!(receipt.fee, schedule.base(&send));
    assert_eq!(chain.balance(2), 10 * UNIT);
    assert_eq!(chain.balance(1), 990 * UNIT - schedule.base(&send) as u128);
    // More than the sender can spend beside its fee: rejected, the fee is still paid.
    let before = chain.balance(2);
    let too_much = priced(
        &chain,
        2,
        0,
        Payload::Transfer {
            to: address(&key(1)),
            amount: 10 * UNIT,
        },
        0,
    );
    let receipt = chain.block(std::slice::from_ref(&too_much)).receipts[0].clone();
    assert!(
        matches!(&receipt.status, ReceiptStatus::Rejected(r) if r.contains("insufficient balance"))
    );
    assert_eq!(chain.balance(2), before - schedule.base(&too_much) as u128);
    assert_eq!(chain.account(&address(&key(2))).nonce, 1);
    // Base units: nothing is created or lost.
    let held: u128 =
        [1, 2].iter().map(|s| chain.balance(*s)).sum::<u128>() + chain.account(&proposer()).balance;
    assert_eq!(held, chain.supply());
}

#[test]
fn a_chain_without_fees_charges_nothing() {
    let mut chain = Chain::new(FeeSchedule::FREE, vec![]);
    let deploy = tx(3, 0, Fee::NONE, deploy_payload(COUNTER));
    let execution = chain.block(&[deploy]);
    assert_eq!(execution.receipts[0].fee, 0);
    assert!(execution.invalid.is_empty());
    assert_eq!(chain.supply(), 0);
}

/// One step of a random schedule.
#[derive(Clone, Debug)]
enum Op {
    Transfer { from: u64, to: u64, amount: u128 },
    Increment { from: u64, extra: u64, tip: u64 },
    Write { from: u64, len: u32, extra: u64 },
    Underpay { from: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    let account = 1u64..5;
    prop_oneof![
        (account.clone(), account.clone(), 0u128..2_000 * UNIT)
            .prop_map(|(from, to, amount)| Op::Transfer { from, to, amount }),
        (account.clone(), 0u64..1_000_000, 0u64..10_000)
            .prop_map(|(from, extra, tip)| Op::Increment { from, extra, tip }),
        (account.clone(), 0u32..20_000, 0u64..2_000_000_000)
            .prop_map(|(from, len, extra)| Op::Write { from, len, extra }),
        account.prop_map(|from| Op::Underpay { from }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Over random transfers, calls (some out of fee, some unaffordable) and refused
    /// transactions: after every block the accounts and the proposer hold exactly the supply,
    /// the supply fell by exactly the burned half of the charges, and nobody paid more than
    /// its fee limit and tip.
    #[test]
    fn the_supply_changes_only_by_what_is_burned(blocks in prop::collection::vec(prop::collection::vec(op(), 1..6), 1..6)) {
        // Account 4 starts with little, so it runs out.
        let mut allocations = funded(&[1, 2, 3]);
        allocations.push((address(&key(4)), UNIT / 100));
        let mut chain = Chain::new(FeeSchedule::default(), allocations);
        let schedule = chain.schedule();
        let genesis_supply = chain.supply();
        chain.block(&[priced(&chain, 1, 0, deploy_payload(COUNTER), 0)]);
        chain.block(&[priced(&chain, 1, 1, deploy_payload(HOSTCALLS), 0)]);
        let counter = contract_address(&address(&key(1)), 0);
        let hostcalls = contract_address(&address(&key(1)), 1);
        let mut burned: u128 = genesis_supply - chain.supply();
        for ops in blocks {
            let mut nonces: std::collections::HashMap<u64, u64> = (1..5)
                .map(|s| (s, chain.account(&address(&key(s))).nonce))
                .collect();
            let mut txs = Vec::new();
            for op in ops {
                let (from, tx) = match op {
                    Op::Transfer { from, to, amount } => {
                        let payload = Payload::Transfer { to: address(&key(to)), amount };
                        (from, priced(&chain, from, nonces[&from], payload, 0))
                    }
                    Op::Increment { from, extra, tip } => {
                        let t = priced(&chain, from, nonces[&from], call_payload(counter, "increment", encode(&1u64)), extra);
                        (from, tx(from, nonces[&from], Fee { limit: t.tx.fee.limit, tip }, t.tx.payload))
                    }
                    Op::Write { from, len, extra } => {
                        let payload = call_payload(hostcalls, "write_pattern", encode(&(from.to_be_bytes().to_vec(), len)));
                        (from, priced(&chain, from, nonces[&from], payload, extra))
                    }
                    Op::Underpay { from } => {
                        (from, tx(from, nonces[&from], Fee::limit(1), call_payload(counter, "increment", encode(&1u64))))
                    }
                };
                *nonces.get_mut(&from).unwrap() += 1;
                txs.push(tx);
            }
            let before: Vec<u128> = (1..5).map(|s| chain.balance(s)).collect();
            let supply_before = chain.supply();
            let execution = chain.block(&txs);
            // Invalid transactions (unaffordable, under the required limit, behind a
            // refused nonce) are left out and change nothing.
            let mut charged: u128 = 0;
            for (receipt, &i) in execution.receipts.iter().zip(&execution.included) {
                let fee = txs[i].tx.fee;
                prop_assert!(receipt.fee as u128 <= fee.max_total());
                charged += (receipt.fee - fee.tip) as u128;
            }
            let block_burned = schedule.burned(charged);
            prop_assert_eq!(chain.supply(), supply_before - block_burned);
            burned += block_burned;
            let held: u128 = (1..5).map(|s| chain.balance(s)).sum::<u128>()
                + chain.account(&proposer()).balance;
            prop_assert_eq!(held, chain.supply());
            prop_assert_eq!(chain.supply(), genesis_supply - burned);
            // Every sender's balance fell by at most what its included transactions allow.
            for s in 1..5u64 {
                let spent_max: u128 = execution.included.iter()
                    .map(|&i| &txs[i])
                    .filter(|t| t.tx.sender_address() == address(&key(s)))
                    .map(|t| t.tx.fee.max_total() + match t.tx.payload { Payload::Transfer { amount, .. } => amount, _ => 0 })
                    .sum();
                prop_assert!(before[s as usize - 1] <= chain.balance(s) + spent_max);
            }
        }
    }
}

#[test]
fn transaction_sizes_are_what_the_schedule_prices() {
    // The schedule prices the signed encoding: a signature adds 64 bytes to the unsigned one.
    let unsigned = Transaction {
        chain_id: chain_id(),
        sender: key(1).public_key().into(),
        nonce: 0,
        fee: Fee::limit(5),
        payload: deploy_payload(COUNTER),
    };
    let signed = unsigned.clone().sign(&key(1));
    assert_eq!(signed.encode_size(), unsigned.encode_size() + 64);
    let schedule = FeeSchedule::default();
    assert_eq!(
        schedule.required_unsigned(&unsigned),
        schedule.required(&signed)
    );
}
