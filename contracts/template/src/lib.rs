//! A minimal hyperchain contract: a greeting anyone can read and the first caller can change.
//!
//! | method | arguments | returns |
//! |---|---|---|
//! | `greet` | `name: String` | `String` |
//! | `set_greeting` | `greeting: String` | — ; reverts `only the first setter may change the greeting` |

#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use hyperchain_sdk::storage::StorageValue;
use hyperchain_sdk::{Address, caller, emit_encoded, entry};

static GREETING: StorageValue<String> = StorageValue::new(b"greeting");
static ADMIN: StorageValue<Address> = StorageValue::new(b"admin");

entry! {
    /// Greet `name` with the stored greeting ("Hello" until one is set).
    fn greet(name: String) -> String {
        let greeting = GREETING.get().unwrap_or_else(|| String::from("Hello"));
        format!("{greeting}, {name}!")
    }

    /// Change the greeting. The first caller becomes the admin; only the admin may change it.
    fn set_greeting(greeting: String) -> Result<(), &'static str> {
        let sender = caller();
        match ADMIN.get() {
            Some(admin) if admin != sender => {
                return Err("only the first setter may change the greeting");
            }
            Some(_) => {}
            None => ADMIN.set(&sender),
        }
        GREETING.set(&greeting);
        emit_encoded(b"greeting", &greeting);
        Ok(())
    }
}
