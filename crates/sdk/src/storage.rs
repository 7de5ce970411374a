//! Contract storage: raw byte keys and values, and typed wrappers.
//!
//! Keys are at most 256 bytes and values at most 64 KiB (the host traps beyond). Storage is
//! the contract's own; a reverted or trapped call changes none of it.
//!
//! [`StorageValue`] stores one value under a fixed key; [`StorageMap`] stores values under
//! `prefix ‖ encode(key)`. Give every typed item its own prefix, and make sure no prefix is a
//! prefix of another item's key (for instance, end every prefix with `/`), or their keys may
//! collide.

#[cfg(target_arch = "wasm32")]
use crate::codec::Decode;
use crate::codec::Encode;
use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;

#[cfg(target_arch = "wasm32")]
pub use io::{get, has, remove, set};

#[cfg(target_arch = "wasm32")]
mod io {
    use crate::sys;
    use alloc::vec::Vec;

    /// Values up to this size are read in one host call.
    const FIRST_READ: usize = 256;

    /// The value stored under `key`, if any.
    pub fn get(key: &[u8]) -> Option<Vec<u8>> {
        let mut buf = [0u8; FIRST_READ];
        // SAFETY: the key comes from a live slice; the host writes at most `FIRST_READ` bytes
        // into `buf`.
        let len =
            unsafe { sys::storage_read(key.as_ptr(), key.len(), buf.as_mut_ptr(), FIRST_READ) };
        let len = usize::try_from(len).ok()?;
        if len <= FIRST_READ {
            return Some(buf[..len].to_vec());
        }
        let mut value = Vec::with_capacity(len);
        // SAFETY: the buffer has capacity `len`, the host writes `min(len, cap)` = `len` bytes
        // (the value cannot change within the call), and only then is the length set.
        unsafe {
            let again = sys::storage_read(key.as_ptr(), key.len(), value.as_mut_ptr(), len);
            debug_assert_eq!(usize::try_from(again).ok(), Some(len));
            value.set_len(len);
        }
        Some(value)
    }

    /// Whether `key` holds a value (reads no value bytes; the key joins the read set).
    pub fn has(key: &[u8]) -> bool {
        // SAFETY: the key comes from a live slice; with a capacity of 0 nothing is written.
        unsafe { sys::storage_read(key.as_ptr(), key.len(), core::ptr::null_mut(), 0) >= 0 }
    }

    /// Store `value` under `key`.
    pub fn set(key: &[u8], value: &[u8]) {
        // SAFETY: both pointer/length pairs come from live slices.
        unsafe { sys::storage_write(key.as_ptr(), key.len(), value.as_ptr(), value.len()) }
    }

    /// Delete `key` (a no-op if absent).
    pub fn remove(key: &[u8]) {
        // SAFETY: the pointer/length pair comes from a live slice.
        unsafe { sys::storage_remove(key.as_ptr(), key.len()) }
    }
}

/// One typed value stored under a fixed key.
pub struct StorageValue<T> {
    key: &'static [u8],
    _value: PhantomData<fn() -> T>,
}

impl<T> StorageValue<T> {
    /// A value stored under `key`.
    pub const fn new(key: &'static [u8]) -> Self {
        Self {
            key,
            _value: PhantomData,
        }
    }

    /// The storage key.
    pub const fn key(&self) -> &'static [u8] {
        self.key
    }
}

impl<T> fmt::Debug for StorageValue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StorageValue")
            .field("key", &self.key)
            .finish()
    }
}

#[cfg(target_arch = "wasm32")]
impl<T: Encode + Decode> StorageValue<T> {
    /// The stored value, if any. Aborts the call if the stored bytes do not decode as `T`.
    pub fn get(&self) -> Option<T> {
        get(self.key).map(|bytes| decode_stored(&bytes))
    }

    /// The stored value, or `T::default()` if there is none.
    pub fn get_or_default(&self) -> T
    where
        T: Default,
    {
        self.get().unwrap_or_default()
    }

    /// Store `value`.
    pub fn set(&self, value: &T) {
        set(self.key, &value.encode());
    }

    /// Delete the value.
    pub fn remove(&self) {
        remove(self.key);
    }

    /// Whether a value is stored.
    pub fn exists(&self) -> bool {
        has(self.key)
    }
}

/// Typed values stored under `prefix ‖ encode(key)`.
pub struct StorageMap<K, V> {
    prefix: &'static [u8],
    _entries: PhantomData<fn(K) -> V>,
}

impl<K, V> StorageMap<K, V> {
    /// A map whose keys all start with `prefix`.
    pub const fn new(prefix: &'static [u8]) -> Self {
        Self {
            prefix,
            _entries: PhantomData,
        }
    }

    /// The storage key of `key`: the prefix followed by the encoding of `key`.
    pub fn storage_key(&self, key: &K) -> Vec<u8>
    where
        K: Encode,
    {
        let mut out = Vec::with_capacity(self.prefix.len() + 32);
        out.extend_from_slice(self.prefix);
        key.encode_to(&mut out);
        out
    }
}

impl<K, V> fmt::Debug for StorageMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StorageMap")
            .field("prefix", &self.prefix)
            .finish()
    }
}

#[cfg(target_arch = "wasm32")]
impl<K: Encode, V: Encode + Decode> StorageMap<K, V> {
    /// The value stored for `key`, if any. Aborts the call if the stored bytes do not decode.
    pub fn get(&self, key: &K) -> Option<V> {
        get(&self.storage_key(key)).map(|bytes| decode_stored(&bytes))
    }

    /// The value stored for `key`, or `V::default()` if there is none.
    pub fn get_or_default(&self, key: &K) -> V
    where
        V: Default,
    {
        self.get(key).unwrap_or_default()
    }

    /// Store `value` for `key`.
    pub fn set(&self, key: &K, value: &V) {
        set(&self.storage_key(key), &value.encode());
    }

    /// Delete the value for `key`.
    pub fn remove(&self, key: &K) {
        remove(&self.storage_key(key));
    }

    /// Whether a value is stored for `key`.
    pub fn contains(&self, key: &K) -> bool {
        has(&self.storage_key(key))
    }
}

#[cfg(target_arch = "wasm32")]
fn decode_stored<T: Decode>(bytes: &[u8]) -> T {
    match crate::codec::decode_all(bytes) {
        Ok(value) => value,
        Err(err) => crate::__private::abort_fmt(format_args!("corrupt storage value: {err}")),
    }
}
