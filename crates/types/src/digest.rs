//! 32-byte digests and addresses.

use bytes::BufMut;
use commonware_codec::{Buf, Error, FixedSize, Read, Write};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::str::FromStr;

macro_rules! bytes32 {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// All zero bytes.
            pub const ZERO: Self = Self([0; 32]);

            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            /// Lower-case hex, no prefix.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
        }

        impl From<[u8; 32]> for $name {
            fn from(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }
        }

        impl AsRef<[u8]> for $name {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), hex::encode(self.0))
            }
        }

        impl FromStr for $name {
            type Err = String;

            /// Parses 64 hex digits, with or without a `0x` prefix.
            fn from_str(s: &str) -> Result<Self, String> {
                let s = s.strip_prefix("0x").unwrap_or(s);
                let mut out = [0u8; 32];
                hex::decode_to_slice(s, &mut out).map_err(|e| {
                    format!("expected 64 hex digits for a {}: {e}", stringify!($name))
                })?;
                Ok(Self(out))
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }

        impl Write for $name {
            fn write(&self, buf: &mut impl BufMut) {
                buf.put_slice(&self.0);
            }
        }

        impl FixedSize for $name {
            const SIZE: usize = 32;
        }

        impl Read for $name {
            type Cfg = ();
            fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
                <[u8; 32]>::read_cfg(buf, &()).map(Self)
            }
        }
    };
}

bytes32!(
    /// A SHA-256 digest: code hashes, state roots, transaction ids.
    Digest
);

bytes32!(
    /// An account or contract address (32 bytes).
    Address
);

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Digest {
    Digest(Sha256::digest(data).into())
}

/// SHA-256 of the concatenation of `parts`, without building it.
pub fn sha256_parts(parts: &[&[u8]]) -> Digest {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    Digest(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{DecodeExt, Encode};

    #[test]
    fn sha256_known_vector() {
        assert_eq!(
            sha256(b"abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sha256_parts(&[b"a", b"bc"]), sha256(b"abc"));
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let d = sha256(b"x");
        assert_eq!(d.to_hex().parse::<Digest>().unwrap(), d);
        assert_eq!(format!("0x{d}").parse::<Digest>().unwrap(), d);
        let err = "abcd".parse::<Address>().unwrap_err();
        assert!(err.contains("64 hex digits"), "{err}");
    }

    #[test]
    fn codec_round_trip() {
        let a = Address([7; 32]);
        let enc = a.encode();
        assert_eq!(enc.len(), 32);
        assert_eq!(Address::decode(enc).unwrap(), a);
        assert!(Address::decode(commonware_codec::Copying(&[1u8; 31])).is_err());
    }
}
