//! The SEV-SNP certificate table the host hands the guest (configfs-tsm `auxblob`, the
//! extended-report certificate buffer), as the SEV-SNP firmware ABI and GHCB specifications
//! lay it out:
//!
//! ```text
//! entry*  = GUID (16 bytes) ‖ offset (u32 LE) ‖ length (u32 LE)   -- offsets from the table start
//! end     = 24 zero bytes
//! data    = the certificates (DER), anywhere after the table
//! ```
//!
//! GUIDs are stored in RFC 4122 byte order (`63da758d-…` is the bytes `63 da 75 8d …`). The host
//! is untrusted: every offset and length is bounds-checked, and a malformed table is an error,
//! never a panic.

use super::ProviderError;

/// VCEK certificate GUID, `63da758d-e664-4564-adc5-f4b93be8accd`.
pub const VCEK_GUID: [u8; 16] = [
    0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64, 0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd,
];
/// ASK certificate GUID, `4ab7b379-bbac-4fe4-a02f-05aef327c782`.
pub const ASK_GUID: [u8; 16] = [
    0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4, 0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82,
];
/// ARK certificate GUID, `c0b406a4-a803-4952-9743-3fb6014cd0ae`.
pub const ARK_GUID: [u8; 16] = [
    0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52, 0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae,
];
/// VLEK certificate GUID, `a8074bc2-a25a-483e-aae6-39c045a0b8a1` (recognised only to say that
/// validators do not accept VLEK-signed reports).
pub const VLEK_GUID: [u8; 16] = [
    0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e, 0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1,
];

const ENTRY_LEN: usize = 24;
/// More entries than any host supplies (VCEK/VLEK, ASK, ARK, CRL and a few extras).
const MAX_ENTRIES: usize = 64;

/// The certificates found in a table; unknown GUIDs (CRLs, vendor extras) are skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertTable {
    /// AMD Root Key.
    pub ark: Option<Vec<u8>>,
    /// AMD SEV Signing Key.
    pub ask: Option<Vec<u8>>,
    /// Versioned Chip Endorsement Key.
    pub vcek: Option<Vec<u8>>,
    /// Whether the table holds a VLEK (Versioned Loaded Endorsement Key).
    pub has_vlek: bool,
}

fn malformed(detail: String) -> ProviderError {
    ProviderError::Malformed {
        what: "SEV-SNP certificate table",
        detail,
    }
}

fn u32_at(bytes: &[u8], at: usize) -> Option<usize> {
    let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    usize::try_from(u32::from_le_bytes(b)).ok()
}

/// Parses a certificate table. Errors (never panics) on a table without its terminating
/// entry, an entry pointing outside the buffer or into the table, an empty certificate, or a
/// GUID listed twice.
pub fn parse_cert_table(bytes: &[u8]) -> Result<CertTable, ProviderError> {
    let mut table = CertTable::default();
    let mut seen: Vec<[u8; 16]> = Vec::new();
    let mut entries = Vec::new();
    let mut at = 0usize;
    let table_end = loop {
        let Some(entry) = bytes.get(at..at + ENTRY_LEN) else {
            return Err(malformed(format!(
                "{} bytes end before the terminating all-zero entry (after {} entries)",
                bytes.len(),
                at / ENTRY_LEN
            )));
        };
        if entry.iter().all(|&b| b == 0) {
            break at + ENTRY_LEN;
        }
        if entries.len() == MAX_ENTRIES {
            return Err(malformed(format!("more than {MAX_ENTRIES} entries")));
        }
        let mut guid = [0u8; 16];
        guid.copy_from_slice(&entry[..16]);
        let (offset, length) = match (u32_at(entry, 16), u32_at(entry, 20)) {
            (Some(o), Some(l)) => (o, l),
            _ => return Err(malformed("entry offset or length unreadable".into())),
        };
        if guid == [0u8; 16] {
            return Err(malformed(format!(
                "entry {} has a zero GUID but a non-zero offset or length",
                entries.len()
            )));
        }
        if seen.contains(&guid) {
            return Err(malformed(format!(
                "GUID {} listed twice",
                guid_string(&guid)
            )));
        }
        seen.push(guid);
        entries.push((guid, offset, length));
        at += ENTRY_LEN;
    };
    for (guid, offset, length) in entries {
        let name = guid_string(&guid);
        let Some(end) = offset.checked_add(length).filter(|&e| e <= bytes.len()) else {
            return Err(malformed(format!(
                "certificate {name} at offset {offset}, length {length} runs past the {}-byte buffer",
                bytes.len()
            )));
        };
        if offset < table_end {
            return Err(malformed(format!(
                "certificate {name} at offset {offset} overlaps the {table_end}-byte table"
            )));
        }
        let data = &bytes[offset..end];
        let slot = match guid {
            VCEK_GUID => &mut table.vcek,
            ASK_GUID => &mut table.ask,
            ARK_GUID => &mut table.ark,
            VLEK_GUID => {
                table.has_vlek = true;
                continue;
            }
            _ => continue,
        };
        if data.is_empty() {
            return Err(malformed(format!("certificate {name} is empty")));
        }
        *slot = Some(data.to_vec());
    }
    Ok(table)
}

/// A GUID in its usual text form.
fn guid_string(g: &[u8; 16]) -> String {
    let h = hex::encode(g);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Builds a table (test helper; the inverse of [`parse_cert_table`]).
#[cfg(test)]
pub(crate) fn build_cert_table(certs: &[([u8; 16], &[u8])]) -> Vec<u8> {
    let table_len = (certs.len() + 1) * ENTRY_LEN;
    let mut out = Vec::new();
    let mut data = Vec::new();
    for (guid, cert) in certs {
        out.extend_from_slice(guid);
        let offset = u32::try_from(table_len + data.len()).expect("small");
        let length = u32::try_from(cert.len()).expect("small");
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&length.to_le_bytes());
        data.extend_from_slice(cert);
    }
    out.extend_from_slice(&[0u8; ENTRY_LEN]);
    out.extend_from_slice(&data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_match_the_spec_text() {
        assert_eq!(
            guid_string(&VCEK_GUID),
            "63da758d-e664-4564-adc5-f4b93be8accd"
        );
        assert_eq!(
            guid_string(&ASK_GUID),
            "4ab7b379-bbac-4fe4-a02f-05aef327c782"
        );
        assert_eq!(
            guid_string(&ARK_GUID),
            "c0b406a4-a803-4952-9743-3fb6014cd0ae"
        );
        assert_eq!(
            guid_string(&VLEK_GUID),
            "a8074bc2-a25a-483e-aae6-39c045a0b8a1"
        );
    }

    #[test]
    fn round_trip_and_unknown_guids_skipped() {
        let other = [0x11u8; 16];
        let bytes = build_cert_table(&[
            (ASK_GUID, b"ask"),
            (other, b"crl"),
            (VCEK_GUID, b"vcek"),
            (ARK_GUID, b"ark"),
        ]);
        let t = parse_cert_table(&bytes).expect("parses");
        assert_eq!(t.vcek.as_deref(), Some(&b"vcek"[..]));
        assert_eq!(t.ask.as_deref(), Some(&b"ask"[..]));
        assert_eq!(t.ark.as_deref(), Some(&b"ark"[..]));
        assert!(!t.has_vlek);

        let t = parse_cert_table(&build_cert_table(&[(VLEK_GUID, b"vlek")])).expect("parses");
        assert!(t.has_vlek && t.vcek.is_none());
        assert_eq!(
            parse_cert_table(&build_cert_table(&[])).expect("empty table"),
            CertTable::default()
        );
    }

    #[test]
    fn malformed_tables_are_errors() {
        let good = build_cert_table(&[(VCEK_GUID, b"vcek"), (ASK_GUID, b"ask")]);
        // Empty, and cut before the terminator.
        for cut in [0, 10, ENTRY_LEN, 2 * ENTRY_LEN + 5] {
            let err = parse_cert_table(&good[..cut]).expect_err("truncated");
            assert!(err.to_string().contains("terminating"), "{cut}: {err}");
        }
        // Certificate data cut off.
        let err = parse_cert_table(&good[..good.len() - 1]).expect_err("data cut");
        assert!(err.to_string().contains("runs past"), "{err}");
        // Offset past the end, and offset + length overflowing.
        let mut bad = good.clone();
        bad[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        bad[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse_cert_table(&bad).is_err());
        // Offset into the table.
        let mut bad = good.clone();
        bad[16..20].copy_from_slice(&0u32.to_le_bytes());
        let err = parse_cert_table(&bad).expect_err("overlap");
        assert!(err.to_string().contains("overlaps"), "{err}");
        // Zero length.
        let mut bad = good.clone();
        bad[20..24].copy_from_slice(&0u32.to_le_bytes());
        let err = parse_cert_table(&bad).expect_err("empty");
        assert!(err.to_string().contains("empty"), "{err}");
        // Duplicate GUID.
        let dup = build_cert_table(&[(VCEK_GUID, b"a"), (VCEK_GUID, b"b")]);
        let err = parse_cert_table(&dup).expect_err("dup");
        assert!(err.to_string().contains("twice"), "{err}");
        // Zero GUID with a non-zero offset.
        let mut bad = good;
        bad[..16].fill(0);
        assert!(parse_cert_table(&bad).is_err());
        // Endless table.
        let many: Vec<_> = (0..=MAX_ENTRIES as u8)
            .map(|i| ([i.wrapping_add(1); 16], &b"x"[..]))
            .collect();
        assert!(parse_cert_table(&build_cert_table(&many)).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A deterministic sweep: every prefix of a valid table with every byte flipped.
        let good =
            build_cert_table(&[(VCEK_GUID, b"vcek"), (ASK_GUID, b"ask"), (ARK_GUID, b"ark")]);
        for i in 0..good.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut b = good.clone();
                b[i] ^= flip;
                let _ = parse_cert_table(&b);
                let _ = parse_cert_table(&b[..i]);
            }
        }
    }
}
