//! The canonical encoding: exact byte layouts, round trips, and strict, panic-free decoding.

use hyperchain_sdk::storage::{StorageMap, StorageValue};
use hyperchain_sdk::{Address, Decode, DecodeError, Encode, decode_all, encode};
use proptest::prelude::*;

fn round_trip<T: Encode + Decode + PartialEq + std::fmt::Debug>(value: T) {
    let bytes = value.encode();
    assert_eq!(decode_all::<T>(&bytes), Ok(value));
}

#[test]
fn layouts() {
    assert_eq!(encode(&0x0102_0304u32), [4, 3, 2, 1]);
    assert_eq!(encode(&-2i16), [0xfe, 0xff]);
    assert_eq!(encode(&1u128).len(), 16);
    assert_eq!(encode(&true), [1]);
    assert_eq!(encode(&[7u8; 3]), [7, 7, 7]);
    assert_eq!(encode(&vec![7u8, 8]), [2, 0, 0, 0, 7, 8]);
    assert_eq!(encode(&[7u8, 8][..]), [2, 0, 0, 0, 7, 8]);
    assert_eq!(encode("hi"), [2, 0, 0, 0, b'h', b'i']);
    assert_eq!(encode(&String::from("hi")), [2, 0, 0, 0, b'h', b'i']);
    assert_eq!(encode(&vec![1u16, 2]), [2, 0, 0, 0, 1, 0, 2, 0]);
    assert_eq!(encode(&None::<u8>), [0]);
    assert_eq!(encode(&Some(5u8)), [1, 5]);
    assert_eq!(encode(&()), [0u8; 0]);
    assert_eq!(encode(&(1u8, 2u16, true)), [1, 2, 0, 1]);
    let address = Address([9; 32]);
    assert_eq!(encode(&address), [9; 32]);
    // A method `transfer(to: Address, amount: u64)` takes 40 bytes.
    assert_eq!(encode(&(address, 5u64)).len(), 40);
}

#[test]
fn strict_decoding() {
    assert_eq!(
        decode_all::<u32>(&[1, 2, 3]),
        Err(DecodeError::UnexpectedEnd {
            needed: 4,
            remaining: 3
        })
    );
    assert_eq!(
        decode_all::<u8>(&[1, 2]),
        Err(DecodeError::TrailingBytes(1))
    );
    assert_eq!(decode_all::<()>(&[0]), Err(DecodeError::TrailingBytes(1)));
    assert_eq!(decode_all::<bool>(&[2]), Err(DecodeError::InvalidBool(2)));
    assert_eq!(
        decode_all::<Option<u8>>(&[2, 0]),
        Err(DecodeError::InvalidOptionTag(2))
    );
    assert_eq!(
        decode_all::<String>(&[1, 0, 0, 0, 0xff]),
        Err(DecodeError::InvalidUtf8)
    );
    // A huge claimed length with little data fails without allocating for the claim.
    assert_eq!(
        decode_all::<Vec<u8>>(&[0xff, 0xff, 0xff, 0xff, 1]),
        Err(DecodeError::UnexpectedEnd {
            needed: 0xffff_ffff,
            remaining: 1
        })
    );
    assert!(decode_all::<Vec<u64>>(&[0xff, 0xff, 0xff, 0xff, 1]).is_err());
    assert_eq!(
        DecodeError::UnexpectedEnd {
            needed: 8,
            remaining: 3
        }
        .to_string(),
        "unexpected end of input: needed 8 bytes, 3 left"
    );
}

#[test]
fn storage_keys() {
    let map: StorageMap<Address, u64> = StorageMap::new(b"balance/");
    let key = map.storage_key(&Address([1; 32]));
    assert_eq!(&key[..8], b"balance/");
    assert_eq!(&key[8..], &[1; 32]);
    let by_name: StorageMap<String, u8> = StorageMap::new(b"n/");
    assert_eq!(by_name.storage_key(&"ab".to_string()), b"n/\x02\0\0\0ab");
    let value: StorageValue<u64> = StorageValue::new(b"count");
    assert_eq!(value.key(), b"count");
}

#[test]
fn address_formatting() {
    let address = Address([0xab; 32]);
    assert_eq!(address.to_string(), "ab".repeat(32));
    assert_eq!(
        format!("{address:?}"),
        format!("Address({})", "ab".repeat(32))
    );
}

proptest! {
    #[test]
    fn integers_round_trip(a: u8, b: u16, c: u32, d: u64, e: u128, f: i8, g: i16, h: i32, i: i64, j: i128) {
        round_trip((a, b, c, d, e, f, g, h, i, j));
    }

    #[test]
    fn containers_round_trip(
        bytes: Vec<u8>,
        words: Vec<u64>,
        text: String,
        maybe: Option<(bool, [u8; 32])>,
        nested: Vec<Option<Vec<u8>>>,
    ) {
        round_trip((bytes, words, text, maybe, nested));
    }

    #[test]
    fn addresses_round_trip(bytes: [u8; 32], amount: u64) {
        round_trip((Address(bytes), amount));
    }

    #[test]
    fn encoding_is_canonical(value: (Vec<u8>, Option<String>, bool, i64)) {
        // Decoding then re-encoding gives back the same bytes.
        let bytes = value.encode();
        let decoded: (Vec<u8>, Option<String>, bool, i64) = decode_all(&bytes).unwrap();
        prop_assert_eq!(decoded.encode(), bytes);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes: Vec<u8>) {
        let _ = decode_all::<(Vec<u8>, Option<String>, bool, Vec<Vec<u16>>)>(&bytes);
        let _ = decode_all::<(Address, u64)>(&bytes);
        let _ = decode_all::<Vec<Option<i128>>>(&bytes);
        // Whatever decodes re-encodes to the same bytes (no two encodings of one value).
        if let Ok(value) = decode_all::<(Vec<u8>, Option<bool>)>(&bytes) {
            prop_assert_eq!(value.encode(), bytes);
        }
    }

    #[test]
    fn truncation_is_an_error(value: (u32, Vec<u8>, String), cut in 1usize..8) {
        let bytes = value.encode();
        let cut = cut.min(bytes.len());
        let short = &bytes[..bytes.len() - cut];
        prop_assert!(decode_all::<(u32, Vec<u8>, String)>(short).is_err());
    }
}
