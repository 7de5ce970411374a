//! Example contract: a fungible token with an owner who mints.
//!
//! | method | arguments | returns |
//! |---|---|---|
//! | `init` | `owner: Address` | — ; reverts `already initialized` after the first call |
//! | `mint` | `to: Address, amount: u64` | — ; caller must be the owner (`only the owner can mint`), reverts `supply overflow` |
//! | `transfer` | `to: Address, amount: u64` | — ; from the caller, reverts `insufficient balance` |
//! | `balance_of` | `who: Address` | `u64` |
//! | `total_supply` | — | `u64` |
//! | `owner` | — | `Option<Address>` |
//!
//! Events: `init` with `owner: Address`; `mint` with `(to: Address, amount: u64)`;
//! `transfer` with `(from: Address, to: Address, amount: u64)`.

#![no_std]

use hyperchain_sdk::storage::{StorageMap, StorageValue};
use hyperchain_sdk::{Address, caller, emit_encoded, entry};

static OWNER: StorageValue<Address> = StorageValue::new(b"owner");
static SUPPLY: StorageValue<u64> = StorageValue::new(b"supply");
static BALANCES: StorageMap<Address, u64> = StorageMap::new(b"balance/");

entry! {
    /// Set the owner, who alone may mint. Only the first call succeeds.
    fn init(owner: Address) -> Result<(), &'static str> {
        if OWNER.exists() {
            return Err("already initialized");
        }
        OWNER.set(&owner);
        emit_encoded(b"init", &owner);
        Ok(())
    }

    /// Create `amount` new tokens for `to`.
    fn mint(to: Address, amount: u64) -> Result<(), &'static str> {
        let owner = OWNER.get().ok_or("not initialized")?;
        if caller() != owner {
            return Err("only the owner can mint");
        }
        let supply = SUPPLY.get_or_default().checked_add(amount).ok_or("supply overflow")?;
        // Every balance is at most the supply, so this cannot overflow.
        let balance = BALANCES.get_or_default(&to) + amount;
        SUPPLY.set(&supply);
        BALANCES.set(&to, &balance);
        emit_encoded(b"mint", &(to, amount));
        Ok(())
    }

    /// Move `amount` tokens from the caller to `to`.
    fn transfer(to: Address, amount: u64) -> Result<(), &'static str> {
        let from = caller();
        let from_balance = BALANCES.get_or_default(&from);
        let rest = from_balance.checked_sub(amount).ok_or("insufficient balance")?;
        BALANCES.set(&from, &rest);
        // Read after the debit so that a transfer to oneself is a no-op.
        let to_balance = BALANCES.get_or_default(&to) + amount;
        BALANCES.set(&to, &to_balance);
        emit_encoded(b"transfer", &(from, to, amount));
        Ok(())
    }

    /// The balance of `who`.
    fn balance_of(who: Address) -> u64 {
        BALANCES.get_or_default(&who)
    }

    /// All tokens minted so far.
    fn total_supply() -> u64 {
        SUPPLY.get_or_default()
    }

    /// The owner, once initialized.
    fn owner() -> Option<Address> {
        OWNER.get()
    }
}
