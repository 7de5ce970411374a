//! Test contract: produces NaNs with various payloads and returns their raw bits, so that the
//! engine's NaN canonicalization can be checked. Without canonicalization the bits depend on
//! the CPU (for example x86 and ARM differ on the sign and payload of `0.0 / 0.0` and on which
//! input payload survives `NaN + NaN`).
//!
//! Operands come from the input or pass through [`std::hint::black_box`], so every operation
//! below runs at call time as a WASM float instruction rather than being folded by the compiler.
//!
//! Unlike the other contracts this one links `std`: `f64::sqrt` (the `f64.sqrt` instruction)
//! is not available in `core` on stable Rust. It therefore uses std's panic handler (a panic
//! traps with `unreachable`) and allocator, and is a workspace of its own so that its SDK
//! features (`default-features = false`) are not unified with the other contracts'.
//!
//! | method | arguments | returns |
//! |---|---|---|
//! | `f64_zero_div_zero`, `f64_sqrt_neg_one`, `f64_inf_sub_inf`, `f64_zero_mul_inf`, `f64_nan_add_nan` | — | `u64` bits |
//! | `f32_zero_div_zero`, `f32_sqrt_neg_one`, `f32_inf_sub_inf`, `f32_zero_mul_inf`, `f32_nan_add_nan` | — | `u32` bits |
//! | `f64_promote_nan`, `f32_demote_nan` | — | `u64` / `u32` bits of a converted NaN |
//! | `f64_op` | `op: u8, a: u64, b: u64` | `u64`: bits of `a op b` on the `f64`s with bits `a`, `b` |
//! | `f32_op` | `op: u8, a: u32, b: u32` | `u32`: the same for `f32` |
//! | `store_nans` | — | — ; stores the bits of `f64_zero_div_zero` and `f32_zero_div_zero` under `f64` and `f32` |
//!
//! `op`: 0 add, 1 sub, 2 mul, 3 div, 4 sqrt (of `a`; `b` ignored), 5 Rust `min`, 6 Rust `max`
//! (these return the non-NaN operand, so they need not compile to `f64.min`/`f64.max`),
//! 7 `a * 1.0`, 8 `a + (-0.0)`; anything else reverts `unknown op`.

use hyperchain_sdk::{entry, storage};
use std::hint::black_box;

/// A signalling NaN with a non-zero payload, positive sign.
const F64_SNAN: u64 = 0x7ff0_0000_0000_0001;
/// A quiet NaN with another payload, negative sign.
const F64_QNAN_NEG: u64 = 0xfff8_0000_0000_1234;
/// A signalling NaN with a non-zero payload, positive sign.
const F32_SNAN: u32 = 0x7f80_0001;
/// A quiet NaN with another payload, negative sign.
const F32_QNAN_NEG: u32 = 0xffc0_1234;

fn f64_op_bits(op: u8, a: u64, b: u64) -> Result<u64, &'static str> {
    let (a, b) = (f64::from_bits(a), f64::from_bits(b));
    let r = match op {
        0 => a + b,
        1 => a - b,
        2 => a * b,
        3 => a / b,
        4 => sqrt64(a),
        5 => a.min(b),
        6 => a.max(b),
        7 => a * 1.0,
        8 => a + -0.0,
        _ => return Err("unknown op"),
    };
    Ok(r.to_bits())
}

fn f32_op_bits(op: u8, a: u32, b: u32) -> Result<u32, &'static str> {
    let (a, b) = (f32::from_bits(a), f32::from_bits(b));
    let r = match op {
        0 => a + b,
        1 => a - b,
        2 => a * b,
        3 => a / b,
        4 => sqrt32(a),
        5 => a.min(b),
        6 => a.max(b),
        7 => a * 1.0,
        8 => a + -0.0,
        _ => return Err("unknown op"),
    };
    Ok(r.to_bits())
}

/// `f64.sqrt`.
fn sqrt64(x: f64) -> f64 {
    x.sqrt()
}

/// `f32.sqrt`.
fn sqrt32(x: f32) -> f32 {
    x.sqrt()
}

fn f64_zero_div_zero_bits() -> u64 {
    (black_box(0.0f64) / black_box(0.0f64)).to_bits()
}

fn f32_zero_div_zero_bits() -> u32 {
    (black_box(0.0f32) / black_box(0.0f32)).to_bits()
}

entry! {
    /// `0.0 / 0.0` in `f64`.
    fn f64_zero_div_zero() -> u64 {
        f64_zero_div_zero_bits()
    }

    /// `sqrt(-1.0)` in `f64`.
    fn f64_sqrt_neg_one() -> u64 {
        sqrt64(black_box(-1.0f64)).to_bits()
    }

    /// `inf - inf` in `f64`.
    fn f64_inf_sub_inf() -> u64 {
        (black_box(f64::INFINITY) - black_box(f64::INFINITY)).to_bits()
    }

    /// `0.0 * inf` in `f64`.
    fn f64_zero_mul_inf() -> u64 {
        (black_box(0.0f64) * black_box(f64::INFINITY)).to_bits()
    }

    /// A signalling NaN plus a negative quiet NaN with another payload, in `f64`.
    fn f64_nan_add_nan() -> u64 {
        (black_box(f64::from_bits(F64_SNAN)) + black_box(f64::from_bits(F64_QNAN_NEG))).to_bits()
    }

    /// `0.0 / 0.0` in `f32`.
    fn f32_zero_div_zero() -> u32 {
        f32_zero_div_zero_bits()
    }

    /// `sqrt(-1.0)` in `f32`.
    fn f32_sqrt_neg_one() -> u32 {
        sqrt32(black_box(-1.0f32)).to_bits()
    }

    /// `inf - inf` in `f32`.
    fn f32_inf_sub_inf() -> u32 {
        (black_box(f32::INFINITY) - black_box(f32::INFINITY)).to_bits()
    }

    /// `0.0 * inf` in `f32`.
    fn f32_zero_mul_inf() -> u32 {
        (black_box(0.0f32) * black_box(f32::INFINITY)).to_bits()
    }

    /// A signalling NaN plus a negative quiet NaN with another payload, in `f32`.
    fn f32_nan_add_nan() -> u32 {
        (black_box(f32::from_bits(F32_SNAN)) + black_box(f32::from_bits(F32_QNAN_NEG))).to_bits()
    }

    /// A signalling `f32` NaN with a payload, promoted to `f64`.
    fn f64_promote_nan() -> u64 {
        f64::from(black_box(f32::from_bits(F32_SNAN))).to_bits()
    }

    /// A negative `f64` NaN with a payload, demoted to `f32`.
    fn f32_demote_nan() -> u32 {
        (black_box(f64::from_bits(F64_QNAN_NEG)) as f32).to_bits()
    }

    /// `a op b` on the `f64`s with bits `a` and `b`.
    fn f64_op(op: u8, a: u64, b: u64) -> Result<u64, &'static str> {
        f64_op_bits(op, a, b)
    }

    /// `a op b` on the `f32`s with bits `a` and `b`.
    fn f32_op(op: u8, a: u32, b: u32) -> Result<u32, &'static str> {
        f32_op_bits(op, a, b)
    }

    /// Store NaN bits in state: a state root would diverge without canonicalization.
    fn store_nans() {
        storage::set(b"f64", &f64_zero_div_zero_bits().to_le_bytes());
        storage::set(b"f32", &f32_zero_div_zero_bits().to_le_bytes());
    }
}
