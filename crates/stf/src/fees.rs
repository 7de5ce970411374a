//! The native token and the fee schedule (docs/DESIGN.md §10).
//!
//! Every account is one record, `acct/ ‖ address` → [`Account`] (next nonce and balance), so a
//! transaction's fee is charged in the record its nonce already rewrites. The total supply is
//! kept under [`SUPPLY_KEY`]; it changes only at genesis (allocations) and when fees are
//! burned.
//!
//! The [`FeeSchedule`] is part of the chain policy. A transaction pays for what every validator
//! spends on it: bytes received and kept in the block history, its signature check and
//! records, the fuel its call used, the state it left behind, the code it deployed (storage
//! and compilation, by size: never by whether a node had the module cached) and the evidence
//! it asked validators to verify. [`FeeSchedule::required`] is what a transaction's fee limit
//! must cover before a block may include it; the charge is what it used, at most the limit.
//! Of every charge, `burn_percent` is burned and the rest goes to the block's proposer, with
//! the tips: a proposer filling its own blocks pays at least the burned part of every fee.

use commonware_codec::EncodeSize as _;
use hyperchain_types::{Address, Payload, SignedTransaction};
use serde::{Deserialize, Serialize};

/// Base units in one HYP.
pub const UNIT: u128 = 1_000_000_000;

/// Root-tree key prefix of account records.
pub const ACCOUNT_PREFIX: &[u8] = b"acct/";
/// Root-tree key of the total supply (u128 BE).
pub const SUPPLY_KEY: &[u8] = b"supply";

/// The root-tree key of `account`'s record.
pub fn account_key(account: &Address) -> Vec<u8> {
    [ACCOUNT_PREFIX, account.as_ref()].concat()
}

/// An account: its next nonce and its balance in base units. An absent record is the zero
/// account (nonce 0, nothing held).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Account {
    /// The next transaction's nonce.
    pub nonce: u64,
    /// Base units held.
    pub balance: u128,
}

impl Account {
    /// Encoded size: `nonce (u64 BE) ‖ balance (u128 BE)`.
    pub const SIZE: usize = 24;

    /// The stored form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::SIZE);
        out.extend(self.nonce.to_be_bytes());
        out.extend(self.balance.to_be_bytes());
        out
    }

    /// Decodes a stored record (`None`: absent, the zero account).
    pub fn decode(raw: Option<&[u8]>) -> Result<Account, String> {
        let Some(raw) = raw else {
            return Ok(Account::default());
        };
        if raw.len() != Self::SIZE {
            return Err(format!(
                "account record of {} bytes, expected {}",
                raw.len(),
                Self::SIZE
            ));
        }
        Ok(Account {
            nonce: u64::from_be_bytes(raw[..8].try_into().expect("8 bytes")),
            balance: u128::from_be_bytes(raw[8..].try_into().expect("16 bytes")),
        })
    }
}

/// Decodes the stored total supply (absent: 0).
pub fn decode_supply(raw: Option<&[u8]>) -> Result<u128, String> {
    match raw {
        None => Ok(0),
        Some(raw) => <[u8; 16]>::try_from(raw)
            .map(u128::from_be_bytes)
            .map_err(|_| "supply is not 16 bytes".to_string()),
    }
}

/// What each resource costs, in base units. Part of the chain policy (the genesis; governance
/// changes it later).
///
/// The defaults price one unit of fuel at one base unit and the rest by what it costs a
/// validator next to fuel: this machine runs about 25 million fuel per millisecond, so a
/// millisecond of a validator's CPU is worth about 25 million base units (0.025 HYP).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeeSchedule {
    /// Every transaction: its signature check, its account record, its receipt (about 40 µs
    /// of every validator's time).
    pub per_tx: u64,
    /// Per encoded byte of the transaction: every validator receives it and keeps it in the
    /// block history.
    pub per_byte: u64,
    /// Per unit of fuel a call used (a compute job's committee's fuel is paid from its
    /// escrow).
    pub per_fuel: u64,
    /// Per byte of state a call writes (key and value of every value it sets): every
    /// validator keeps it until it is deleted.
    pub per_state_byte: u64,
    /// Per byte of code a `Deploy` carries: stored for good and compiled by every validator,
    /// priced by size whatever any node has cached.
    pub per_code_byte: u64,
    /// Per `Register` or `Reattest`: every validator verifies the evidence (about 3.5 ms).
    pub per_registration: u64,
    /// Percent of every charge that is burned; the rest and the tips go to the proposer.
    pub burn_percent: u8,
    /// The bond a compute node's owner posts with its `Register`: forfeited if the node
    /// provably lies, returned once its membership ended and `unbonding_ms` passed.
    pub node_bond: u64,
    /// How long (block time, ms) after a node's membership ends its bond stays locked: long
    /// enough for a lie it signed to be arbitrated.
    pub unbonding_ms: u64,
}

impl Default for FeeSchedule {
    fn default() -> Self {
        FeeSchedule::DEFAULT
    }
}

/// A schedule's charge for a transaction, split by resource (for receipts and estimates).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Charge {
    /// `per_tx + per_byte × size`, plus code bytes for deploys and the evidence fee for
    /// registrations.
    pub base: u64,
    /// `per_fuel × fuel used`.
    pub fuel: u64,
    /// `per_state_byte × bytes written`.
    pub state: u64,
}

impl Charge {
    /// The sum, saturating.
    pub fn total(&self) -> u64 {
        self.base
            .saturating_add(self.fuel)
            .saturating_add(self.state)
    }
}

impl FeeSchedule {
    /// The default schedule.
    pub const DEFAULT: FeeSchedule = FeeSchedule {
        per_tx: 1_000_000,
        per_byte: 2_000,
        per_fuel: 1,
        per_state_byte: 50_000,
        per_code_byte: 60_000,
        per_registration: 100_000_000,
        burn_percent: 50,
        node_bond: 100 * UNIT as u64,
        unbonding_ms: 24 * 3_600_000,
    };

    /// A schedule that charges nothing (private chains and tests).
    pub const FREE: FeeSchedule = FeeSchedule {
        per_tx: 0,
        per_byte: 0,
        per_fuel: 0,
        per_state_byte: 0,
        per_code_byte: 0,
        per_registration: 0,
        burn_percent: 0,
        node_bond: 0,
        unbonding_ms: 0,
    };

    /// Checks the schedule: `burn_percent` is at most 100.
    pub fn validate(&self) -> Result<(), String> {
        if self.burn_percent > 100 {
            return Err(format!(
                "burn_percent is {}, at most 100",
                self.burn_percent
            ));
        }
        Ok(())
    }

    /// Whether every price is zero.
    pub fn is_free(&self) -> bool {
        FeeSchedule {
            burn_percent: 0,
            unbonding_ms: 0,
            ..*self
        } == FeeSchedule::FREE
    }

    /// The charge every inclusion of `tx` pays whatever happens: per transaction, per byte,
    /// and for deploys the code, for registrations the evidence. Receipts pay nothing (their
    /// job's escrow does).
    pub fn base(&self, tx: &SignedTransaction) -> u64 {
        self.base_of(&tx.tx.payload, tx.encode_size())
    }

    /// [`Self::base`] of a transaction with `payload` and encoded `size`.
    pub fn base_of(&self, payload: &Payload, size: usize) -> u64 {
        let extra = match payload {
            Payload::Receipt(_) => return 0,
            Payload::Deploy { code, .. } => mul(self.per_code_byte, code.len() as u64),
            Payload::Register(_) | Payload::Reattest(_) => self.per_registration,
            _ => 0,
        };
        self.per_tx
            .saturating_add(mul(self.per_byte, size as u64))
            .saturating_add(extra)
    }

    /// The smallest fee limit a block may include `tx` with: its base charge, plus for a call
    /// its whole fuel limit, so that the fuel a call uses can always be paid.
    pub fn required(&self, tx: &SignedTransaction) -> u64 {
        self.required_of(&tx.tx.payload, self.base(tx))
    }

    /// [`Self::required`] of `tx` once signed (a signature adds 64 bytes; the fee's own
    /// fields have a fixed size, so the limit chosen does not change it).
    pub fn required_unsigned(&self, tx: &hyperchain_types::Transaction) -> u64 {
        self.required_of(
            &tx.payload,
            self.base_of(&tx.payload, tx.encode_size() + 64),
        )
    }

    /// The required charge of a transaction with `payload` and base charge `base`: for a
    /// call, the base and its whole fuel limit.
    pub fn required_of(&self, payload: &Payload, base: u64) -> u64 {
        let fuel = match payload {
            Payload::Call { fuel_limit, .. } => self.fuel(*fuel_limit),
            _ => 0,
        };
        base.saturating_add(fuel)
    }

    /// `per_fuel × fuel`, saturating.
    pub fn fuel(&self, fuel: u64) -> u64 {
        mul(self.per_fuel, fuel)
    }

    /// `per_state_byte × bytes`, saturating.
    pub fn state(&self, bytes: u64) -> u64 {
        mul(self.per_state_byte, bytes)
    }

    /// The burned part of `charged`.
    pub fn burned(&self, charged: u128) -> u128 {
        charged * self.burn_percent as u128 / 100
    }
}

fn mul(price: u64, amount: u64) -> u64 {
    price.saturating_mul(amount)
}

/// Parses an amount of HYP: a whole number or a decimal with up to 9 places (`1.5`), or base
/// units with the suffix `u` (`1500u`).
pub fn parse_amount(text: &str) -> Result<u128, String> {
    let bad = || format!("`{text}` is not an amount (e.g. 10, 0.25 or 2500u for base units)");
    let text = text.trim();
    if let Some(units) = text.strip_suffix('u') {
        return units.parse::<u128>().map_err(|_| bad());
    }
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    if fraction.len() > 9 {
        return Err(format!("`{text}` has more than 9 decimal places"));
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let fraction: u128 = format!("{fraction:0<9}").parse().map_err(|_| bad())?;
    whole
        .checked_mul(UNIT)
        .and_then(|w| w.checked_add(fraction))
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// Formats base units as HYP (`1.5 HYP`, `0.000000001 HYP`).
pub fn format_amount(units: u128) -> String {
    let whole = units / UNIT;
    let fraction = units % UNIT;
    if fraction == 0 {
        format!("{whole} HYP")
    } else {
        let digits = format!("{fraction:09}");
        format!("{whole}.{} HYP", digits.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_records_round_trip_and_absent_is_zero() {
        let account = Account {
            nonce: 7,
            balance: u128::MAX - 3,
        };
        assert_eq!(Account::decode(Some(&account.encode())).unwrap(), account);
        assert_eq!(Account::decode(None).unwrap(), Account::default());
        assert!(Account::decode(Some(&[0; 8])).is_err());
    }

    #[test]
    fn amounts_parse_and_print() {
        assert_eq!(parse_amount("1").unwrap(), UNIT);
        assert_eq!(parse_amount("0.25").unwrap(), UNIT / 4);
        assert_eq!(parse_amount(".5").unwrap(), UNIT / 2);
        assert_eq!(parse_amount("2500u").unwrap(), 2500);
        assert!(parse_amount("1.0000000001").is_err());
        assert!(parse_amount("-1").is_err());
        assert!(parse_amount("").is_err());
        assert!(parse_amount("1e9").is_err());
        assert_eq!(format_amount(UNIT * 3 / 2), "1.5 HYP");
        assert_eq!(format_amount(1), "0.000000001 HYP");
        assert_eq!(format_amount(0), "0 HYP");
    }

    #[test]
    fn the_required_limit_covers_the_base_and_the_whole_fuel_limit() {
        use commonware_cryptography::{Signer as _, ed25519};
        use hyperchain_types::{Fee, Transaction};
        let key = ed25519::PrivateKey::from_seed(1);
        let schedule = FeeSchedule::default();
        let call = Transaction {
            chain_id: hyperchain_types::Digest::ZERO,
            sender: key.public_key().into(),
            nonce: 0,
            fee: Fee::limit(1),
            payload: Payload::Call {
                contract: Address([1; 32]),
                method: "m".into(),
                input: vec![],
                fuel_limit: 1_000,
            },
        }
        .sign(&key);
        let size = call.encode_size() as u64;
        assert_eq!(schedule.base(&call), 1_000_000 + 2_000 * size);
        assert_eq!(schedule.required(&call), schedule.base(&call) + 1_000);
        assert_eq!(FeeSchedule::FREE.required(&call), 0);
        assert!(FeeSchedule::FREE.is_free());
        assert_eq!(schedule.burned(101), 50);
    }
}
