//! Ten cloud regions and the round-trip times between them.
//!
//! The figures are rounded medians of public inter-region ping measurements between the
//! major clouds' regions of these names (they move by a few milliseconds from month to month);
//! within a region, peers sit in different availability zones about 2 ms apart.

/// Region names, in the order of [`RTT_MS`].
pub const REGIONS: [&str; 10] = [
    "us-east",
    "us-west",
    "ca-central",
    "sa-east",
    "eu-west",
    "eu-central",
    "ap-south",
    "ap-southeast",
    "ap-northeast",
    "au-southeast",
];

/// Round-trip time between two peers in the same region (different zones), in milliseconds.
pub const INTRA_REGION_RTT_MS: f64 = 2.0;

/// Round-trip times in milliseconds; symmetric, indexed like [`REGIONS`].
pub const RTT_MS: [[f64; 10]; 10] = [
    //  use    usw    cac    sae    euw    euc    aps    apse   apne   ause
    [
        0.0, 65.0, 15.0, 115.0, 68.0, 90.0, 185.0, 215.0, 145.0, 195.0,
    ],
    [
        65.0, 0.0, 60.0, 175.0, 125.0, 140.0, 215.0, 165.0, 100.0, 140.0,
    ],
    [
        15.0, 60.0, 0.0, 125.0, 70.0, 90.0, 190.0, 215.0, 145.0, 200.0,
    ],
    [
        115.0, 175.0, 125.0, 0.0, 180.0, 200.0, 300.0, 320.0, 255.0, 310.0,
    ],
    [
        68.0, 125.0, 70.0, 180.0, 0.0, 25.0, 120.0, 170.0, 200.0, 255.0,
    ],
    [
        90.0, 140.0, 90.0, 200.0, 25.0, 0.0, 110.0, 155.0, 225.0, 250.0,
    ],
    [
        185.0, 215.0, 190.0, 300.0, 120.0, 110.0, 0.0, 60.0, 120.0, 150.0,
    ],
    [
        215.0, 165.0, 215.0, 320.0, 170.0, 155.0, 60.0, 0.0, 70.0, 92.0,
    ],
    [
        145.0, 100.0, 145.0, 255.0, 200.0, 225.0, 120.0, 70.0, 0.0, 105.0,
    ],
    [
        195.0, 140.0, 200.0, 310.0, 255.0, 250.0, 150.0, 92.0, 105.0, 0.0,
    ],
];

/// One-way latency between regions `a` and `b` in milliseconds (half the round trip).
pub fn one_way_ms(a: usize, b: usize) -> f64 {
    if a == b {
        INTRA_REGION_RTT_MS / 2.0
    } else {
        RTT_MS[a][b] / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_symmetric_with_zero_diagonal() {
        for a in 0..REGIONS.len() {
            assert_eq!(RTT_MS[a][a], 0.0);
            for b in 0..REGIONS.len() {
                assert_eq!(
                    RTT_MS[a][b], RTT_MS[b][a],
                    "{} ↔ {}",
                    REGIONS[a], REGIONS[b]
                );
                if a != b {
                    assert!(RTT_MS[a][b] >= 10.0);
                }
            }
        }
        assert_eq!(one_way_ms(4, 5), 12.5);
        assert_eq!(one_way_ms(3, 3), 1.0);
    }
}
