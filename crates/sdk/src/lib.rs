//! Write hyperchain contracts in Rust: host API bindings, typed storage, argument encoding.
//!
//! A contract is a `#![no_std]` `cdylib` built for `wasm32-unknown-unknown`. Each method is an
//! exported function `() -> ()`: its arguments arrive as the call input (bytes) and its result
//! leaves as the call output (bytes), both in the [encoding](#encoding) below. The
//! [`entry!`] macro writes that glue; [`storage`] gives typed storage; the crate root wraps the
//! host API (`hyperchain_v1`, see `docs/HOST_API.md`).
//!
//! # Example
//!
//! ```rust,ignore
//! #![no_std]
//!
//! use hyperchain_sdk::storage::{StorageMap, StorageValue};
//! use hyperchain_sdk::{Address, caller, emit_encoded, entry};
//!
//! static OWNER: StorageValue<Address> = StorageValue::new(b"owner");
//! static BALANCES: StorageMap<Address, u64> = StorageMap::new(b"balance/");
//!
//! entry! {
//!     /// Make the caller the owner; only once.
//!     fn init() -> Result<(), &'static str> {
//!         if OWNER.exists() {
//!             return Err("already initialized");
//!         }
//!         OWNER.set(&caller());
//!         Ok(())
//!     }
//!
//!     /// Move `amount` from the caller to `to`.
//!     fn transfer(to: Address, amount: u64) -> Result<(), &'static str> {
//!         let from = caller();
//!         let balance = BALANCES.get_or_default(&from);
//!         let rest = balance.checked_sub(amount).ok_or("insufficient balance")?;
//!         BALANCES.set(&from, &rest);
//!         let credited = BALANCES.get_or_default(&to).checked_add(amount).ok_or("overflow")?;
//!         BALANCES.set(&to, &credited);
//!         emit_encoded(b"transfer", &(from, to, amount));
//!         Ok(())
//!     }
//!
//!     /// The balance of `who`.
//!     fn balance_of(who: Address) -> u64 {
//!         BALANCES.get_or_default(&who)
//!     }
//! }
//! ```
//!
//! with a `Cargo.toml` declaring `crate-type = ["cdylib"]` and, for small deterministic code,
//! a release profile with `panic = "abort"`, `lto = true`, `codegen-units = 1`. Build it with
//! `cargo build --target wasm32-unknown-unknown --release`; `contracts/template/` is a
//! ready-to-copy starting point.
//!
//! Each function in [`entry!`] becomes an export of the same name that
//! 1. decodes the input as the tuple of its argument types (trailing bytes are an error);
//!    malformed input reverts the call with `bad input: <reason>`;
//! 2. runs the body;
//! 3. sets the output to the encoding of the returned value (nothing for `()`); a body that
//!    returns `Result<T, E>` sets the encoding of `T` on `Ok` and reverts with the message
//!    `E`'s `Display` on `Err`.
//!
//! A panic reverts the call with `panicked: <message>` (feature `panic-handler`), and
//! [`abort`] reverts with any message. A reverted call changes no state and emits no events.
//!
//! # Encoding
//!
//! Arguments, return values, event data and typed storage values all use one canonical
//! encoding, which clients (the `hyperchain` CLI among them) reproduce byte for byte:
//!
//! | type | encoding |
//! |---|---|
//! | `u8`, `u16`, `u32`, `u64`, `u128` | little-endian, fixed width (1, 2, 4, 8, 16 bytes) |
//! | `i8`, `i16`, `i32`, `i64`, `i128` | two's complement, little-endian, fixed width |
//! | `bool` | 1 byte: `0` = false, `1` = true (any other byte is invalid) |
//! | `[u8; N]`, [`Address`] (`N` = 32) | the `N` raw bytes |
//! | `Vec<u8>`, `&[u8]`, `String`, `&str` | length as `u32` LE, then the bytes (`String` must be UTF-8) |
//! | `Vec<T>`, `&[T]` | item count as `u32` LE, then each item |
//! | `Option<T>` | `0` for `None`; `1` then `T` for `Some` (any other tag is invalid) |
//! | `()` | nothing |
//! | tuples `(A, B, ..)` (up to 12) | the items, concatenated, no framing |
//!
//! A method's input is the encoding of the *tuple* of its arguments, which is simply the
//! arguments concatenated: `transfer(to: Address, amount: u64)` takes 32 + 8 = 40 bytes, and
//! a method without arguments takes empty input. Decoding is strict: every value must span the
//! input exactly, so each value has exactly one encoding. `usize`, floats and `char` have no
//! encoding (their meaning would depend on the platform or be ambiguous).
//!
//! # Features
//!
//! - `allocator` (default): a bump allocator over `memory.grow` as the global allocator. When
//!   memory cannot grow any more it traps (`unreachable`), which the engine reports as
//!   `trap: memory limit`.
//! - `panic-handler` (default): the `#[panic_handler]` described above.
//!
//! Both apply to wasm32 only. The encoding, [`Address`] and the typed storage definitions also
//! compile on the host (for clients and tests); everything that calls the host is wasm32 only.

#![no_std]

extern crate alloc;

mod address;
pub mod codec;
pub mod storage;

#[cfg(target_arch = "wasm32")]
mod env;
#[cfg(target_arch = "wasm32")]
pub mod sys;

#[cfg(all(target_arch = "wasm32", feature = "allocator"))]
mod allocator;
#[cfg(all(target_arch = "wasm32", feature = "panic-handler"))]
mod panic;

pub use address::Address;
pub use codec::{Decode, DecodeError, Encode, decode_all, encode};
#[cfg(target_arch = "wasm32")]
pub use env::{
    abort, block_height, block_time, caller, compute_node_active, ed25519_verify, emit,
    emit_encoded, input, self_address, set_output, set_output_encoded, sha256,
};

/// Revert with a formatted message, without allocating: `abort_fmt(format_args!("..."))`.
#[cfg(target_arch = "wasm32")]
pub use __private::abort_fmt;

#[cfg(all(target_arch = "wasm32", feature = "allocator"))]
pub use allocator::BumpAllocator;

#[cfg(all(target_arch = "wasm32", feature = "allocator"))]
#[global_allocator]
static ALLOCATOR: BumpAllocator = BumpAllocator::new();

/// Alias for `Vec<u8>`, for signatures that take or return raw bytes.
pub type Bytes = alloc::vec::Vec<u8>;

/// What a method body may return: any [`Encode`] value, or a `Result` whose error reverts.
pub trait Outcome {
    /// Set the output from `self`, or revert.
    fn finish(self);
}

#[cfg(target_arch = "wasm32")]
impl<T: Encode> Outcome for T {
    fn finish(self) {
        let bytes = self.encode();
        if !bytes.is_empty() {
            set_output(&bytes);
        }
    }
}

#[cfg(target_arch = "wasm32")]
impl<T: Encode, E: core::fmt::Display> Outcome for Result<T, E> {
    fn finish(self) {
        match self {
            Ok(value) => value.finish(),
            Err(err) => __private::abort_fmt(format_args!("{err}")),
        }
    }
}

/// Export contract methods.
///
/// ```rust,ignore
/// hyperchain_sdk::entry! {
///     /// Doc comments and attributes are kept.
///     fn add(a: u64, b: u64) -> Result<u64, &'static str> {
///         a.checked_add(b).ok_or("overflow")
///     }
///     fn ping() {}
/// }
/// ```
///
/// Every function becomes `#[unsafe(no_mangle)] pub extern "C" fn name()`, exported as the
/// method `name`. The body is a closure over the decoded arguments, so `return` and `?` work
/// as in a normal function. See the crate docs for the exact input/output behaviour.
#[macro_export]
macro_rules! entry {
    () => {};
    (
        $(#[$attr:meta])*
        $vis:vis fn $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) -> $ret:ty $body:block
        $($rest:tt)*
    ) => {
        $(#[$attr])*
        #[unsafe(no_mangle)]
        pub extern "C" fn $name() {
            $crate::__private::run(|($($arg,)*): ($($ty,)*)| -> $ret { $body });
        }
        $crate::entry!($($rest)*);
    };
    (
        $(#[$attr:meta])*
        $vis:vis fn $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) $body:block
        $($rest:tt)*
    ) => {
        $crate::entry! {
            $(#[$attr])*
            $vis fn $name($($arg: $ty),*) -> () $body
            $($rest)*
        }
    };
}

#[doc(hidden)]
pub mod __private {
    use core::fmt;

    /// Decode the input as `Args`, run `body`, and finish with its outcome.
    #[cfg(target_arch = "wasm32")]
    #[inline(always)]
    pub fn run<Args: crate::Decode, R: crate::Outcome>(body: impl FnOnce(Args) -> R) {
        let input = crate::input();
        let args = match crate::decode_all::<Args>(&input) {
            Ok(args) => args,
            Err(err) => abort_fmt(format_args!("bad input: {err}")),
        };
        drop(input);
        body(args).finish();
    }

    /// Revert with a formatted message, without allocating (so it also works when the
    /// allocator is exhausted). Messages are cut at 1 KiB, as the host keeps no more.
    #[cfg(target_arch = "wasm32")]
    pub fn abort_fmt(args: fmt::Arguments<'_>) -> ! {
        let mut message = MessageBuf {
            buf: [0; 1024],
            len: 0,
        };
        // `MessageBuf` never fails, it truncates.
        let _ = fmt::write(&mut message, args);
        crate::abort(message.as_str())
    }

    /// A fixed buffer that keeps the first 1 KiB of what is written to it.
    pub struct MessageBuf {
        pub(crate) buf: [u8; 1024],
        pub(crate) len: usize,
    }

    impl fmt::Debug for MessageBuf {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_tuple("MessageBuf").field(&self.as_str()).finish()
        }
    }

    impl MessageBuf {
        /// What was written so far.
        pub fn as_str(&self) -> &str {
            // Only whole characters are ever copied in, so this never fails.
            core::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
        }
    }

    impl fmt::Write for MessageBuf {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let room = self.buf.len() - self.len;
            let mut n = s.len().min(room);
            while !s.is_char_boundary(n) {
                n -= 1;
            }
            self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
            self.len += n;
            Ok(())
        }
    }
}
