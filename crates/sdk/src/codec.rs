//! The canonical argument and return-value encoding (see the crate docs for the format).
//!
//! Decoding never panics: short, malformed or non-canonical input yields a [`DecodeError`].

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Why a byte string is not a valid encoding of the requested type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended early: `needed` more bytes were required, `remaining` were left.
    UnexpectedEnd {
        /// Bytes the next value required.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// A `bool` byte other than 0 or 1.
    InvalidBool(u8),
    /// An `Option` tag other than 0 or 1.
    InvalidOptionTag(u8),
    /// A `String` whose bytes are not UTF-8.
    InvalidUtf8,
    /// The value was decoded but this many bytes were left over.
    TrailingBytes(usize),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedEnd { needed, remaining } => {
                write!(
                    f,
                    "unexpected end of input: needed {needed} bytes, {remaining} left"
                )
            }
            Self::InvalidBool(b) => write!(f, "invalid bool byte {b}"),
            Self::InvalidOptionTag(t) => write!(f, "invalid option tag {t}"),
            Self::InvalidUtf8 => f.write_str("string is not valid UTF-8"),
            Self::TrailingBytes(n) => write!(f, "{n} trailing bytes"),
        }
    }
}

impl core::error::Error for DecodeError {}

/// A type with a canonical encoding.
pub trait Encode {
    /// Append the encoding of `self` to `out`.
    fn encode_to(&self, out: &mut Vec<u8>);

    /// The encoding of `self` as a new vector.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_to(&mut out);
        out
    }

    /// Append the items of a slice (without the count). Overridden by `u8` to copy the bytes
    /// at once; other types encode item by item.
    #[doc(hidden)]
    fn encode_items(items: &[Self], out: &mut Vec<u8>)
    where
        Self: Sized,
    {
        for item in items {
            item.encode_to(out);
        }
    }
}

/// A type that can be read back from its canonical encoding.
pub trait Decode: Sized {
    /// Decode a value from the front of `input` and advance `input` past it.
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError>;

    /// Decode `count` items (the count was already read). Overridden by `u8` to copy the bytes
    /// at once; other types decode item by item.
    #[doc(hidden)]
    fn decode_items(input: &mut &[u8], count: usize) -> Result<Vec<Self>, DecodeError> {
        // Every item but `()` takes at least one byte, so the remaining input bounds the
        // allocation whatever count an adversary claims.
        let mut items = Vec::with_capacity(count.min(input.len()));
        for _ in 0..count {
            items.push(Self::decode(input)?);
        }
        Ok(items)
    }
}

/// Encode a value.
pub fn encode<T: Encode + ?Sized>(value: &T) -> Vec<u8> {
    value.encode()
}

/// Decode a value that must span the whole of `bytes` (trailing bytes are an error).
pub fn decode_all<T: Decode>(mut bytes: &[u8]) -> Result<T, DecodeError> {
    let value = T::decode(&mut bytes)?;
    if bytes.is_empty() {
        Ok(value)
    } else {
        Err(DecodeError::TrailingBytes(bytes.len()))
    }
}

/// Split `n` bytes off the front of `input`.
pub fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], DecodeError> {
    if input.len() < n {
        return Err(DecodeError::UnexpectedEnd {
            needed: n,
            remaining: input.len(),
        });
    }
    let (head, tail) = input.split_at(n);
    *input = tail;
    Ok(head)
}

fn take_array<const N: usize>(input: &mut &[u8]) -> Result<[u8; N], DecodeError> {
    let bytes = take(input, N)?;
    let mut array = [0u8; N];
    array.copy_from_slice(bytes);
    Ok(array)
}

fn encode_len(len: usize, out: &mut Vec<u8>) {
    // Host limits keep every length far below 2^32; saturating keeps the encoder total.
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
}

fn decode_len(input: &mut &[u8]) -> Result<usize, DecodeError> {
    Ok(u32::from_le_bytes(take_array(input)?) as usize)
}

macro_rules! impl_int {
    ($($t:ty),*) => {$(
        impl Encode for $t {
            fn encode_to(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
        impl Decode for $t {
            fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
                Ok(<$t>::from_le_bytes(take_array(input)?))
            }
        }
    )*};
}
impl_int!(u16, u32, u64, u128, i8, i16, i32, i64, i128);

impl Encode for u8 {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(*self);
    }
    fn encode_items(items: &[Self], out: &mut Vec<u8>) {
        out.extend_from_slice(items);
    }
}

impl Decode for u8 {
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        Ok(take(input, 1)?[0])
    }
    fn decode_items(input: &mut &[u8], count: usize) -> Result<Vec<Self>, DecodeError> {
        Ok(take(input, count)?.to_vec())
    }
}

impl Encode for bool {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}

impl Decode for bool {
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        match u8::decode(input)? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(DecodeError::InvalidBool(b)),
        }
    }
}

impl<const N: usize> Encode for [u8; N] {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

impl<const N: usize> Decode for [u8; N] {
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        take_array(input)
    }
}

impl<T: Encode> Encode for [T] {
    fn encode_to(&self, out: &mut Vec<u8>) {
        encode_len(self.len(), out);
        T::encode_items(self, out);
    }
}

impl<T: Encode> Encode for Vec<T> {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.as_slice().encode_to(out);
    }
}

impl<T: Decode> Decode for Vec<T> {
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        let count = decode_len(input)?;
        T::decode_items(input, count)
    }
}

impl Encode for str {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.as_bytes().encode_to(out);
    }
}

impl Encode for String {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.as_str().encode_to(out);
    }
}

impl Decode for String {
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        String::from_utf8(Vec::<u8>::decode(input)?).map_err(|_| DecodeError::InvalidUtf8)
    }
}

impl<T: Encode> Encode for Option<T> {
    fn encode_to(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(value) => {
                out.push(1);
                value.encode_to(out);
            }
        }
    }
}

impl<T: Decode> Decode for Option<T> {
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        match u8::decode(input)? {
            0 => Ok(None),
            1 => Ok(Some(T::decode(input)?)),
            tag => Err(DecodeError::InvalidOptionTag(tag)),
        }
    }
}

impl<T: Encode + ?Sized> Encode for &T {
    fn encode_to(&self, out: &mut Vec<u8>) {
        (**self).encode_to(out);
    }
}

impl Encode for () {
    fn encode_to(&self, _out: &mut Vec<u8>) {}
}

impl Decode for () {
    fn decode(_input: &mut &[u8]) -> Result<Self, DecodeError> {
        Ok(())
    }
}

macro_rules! impl_tuple {
    ($($name:ident)+) => {
        impl<$($name: Encode),+> Encode for ($($name,)+) {
            fn encode_to(&self, out: &mut Vec<u8>) {
                #[allow(non_snake_case)]
                let ($($name,)+) = self;
                $($name.encode_to(out);)+
            }
        }
        impl<$($name: Decode),+> Decode for ($($name,)+) {
            fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
                Ok(($($name::decode(input)?,)+))
            }
        }
    };
}
impl_tuple!(A);
impl_tuple!(A B);
impl_tuple!(A B C);
impl_tuple!(A B C D);
impl_tuple!(A B C D E);
impl_tuple!(A B C D E F);
impl_tuple!(A B C D E F G);
impl_tuple!(A B C D E F G H);
impl_tuple!(A B C D E F G H I);
impl_tuple!(A B C D E F G H I J);
impl_tuple!(A B C D E F G H I J K);
impl_tuple!(A B C D E F G H I J K L);
