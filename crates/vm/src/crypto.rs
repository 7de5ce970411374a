//! Signature verification offered to contracts.

/// Verifies a raw Ed25519 signature under the ZIP-215 rules (the rules commonware's consensus
/// signatures follow too), so every validator accepts exactly the same set of signatures.
/// Malformed keys or signatures are simply invalid.
pub(crate) fn ed25519_verify(public_key: &[u8], msg: &[u8], signature: &[u8]) -> bool {
    let (Ok(pk), Ok(sig)) = (
        <[u8; 32]>::try_from(public_key),
        <[u8; 64]>::try_from(signature),
    ) else {
        return false;
    };
    let Ok(vk) = ed25519_consensus::VerificationKey::try_from(pk) else {
        return false;
    };
    vk.verify(&ed25519_consensus::Signature::from(sig), msg)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_only_the_signed_message() {
        let sk = ed25519_consensus::SigningKey::from([3u8; 32]);
        let pk = sk.verification_key().to_bytes();
        let sig = sk.sign(b"hello").to_bytes();
        assert!(ed25519_verify(&pk, b"hello", &sig));
        assert!(!ed25519_verify(&pk, b"hellO", &sig));
        let mut bad = sig;
        bad[0] ^= 1;
        assert!(!ed25519_verify(&pk, b"hello", &bad));
        assert!(!ed25519_verify(&pk[..31], b"hello", &sig));
    }
}
