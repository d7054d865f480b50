//! tufup's key files: securesystemslib 0.31's ed25519 private key files, as tufup 0.10 writes
//! them (`generate_and_write_ed25519_keypair*` in `securesystemslib/interface.py`), one file
//! `<keys_dir>/<name>` per key beside its public half `<name>.pub`:
//!
//! - plain: the key as JSON, `{"keytype": "ed25519", "scheme": "ed25519", "keyid": …,
//!   "keyval": {"public": <32 bytes hex>, "private": <32-byte seed hex>}}`;
//! - encrypted (`securesystemslib/rsa_keys.py`, `_encrypt`): five hex or decimal fields joined
//!   by `@@@@`: salt, PBKDF2 iterations, HMAC, IV, ciphertext. The key is
//!   PBKDF2-HMAC-SHA256(passphrase as UTF-8, salt, iterations, 32 bytes); the HMAC is
//!   HMAC-SHA256 of the ciphertext under that key (checked first, in constant time: a mismatch
//!   is a wrong passphrase); the plaintext is the plain JSON above, AES-256-CTR with the IV as
//!   the initial 128-bit big-endian counter.
//!
//! The primitives are RustCrypto's (`pbkdf2`, `hmac`, `aes`, `ctr`); the seed becomes a PKCS#8
//! document through aws-lc-rs, which checks it against the public half, and a tough signer.

use std::path::Path;

use aes::Aes256;
use aws_lc_rs::signature::Ed25519KeyPair;
use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::error::{Error, Result};
use crate::keys::Passphrase;

/// The separator of securesystemslib's encrypted key fields.
const DELIMITER: &str = "@@@@";

/// The most PBKDF2 iterations accepted (securesystemslib writes 100 000): a file asking for
/// more is refused rather than hashed for minutes.
const MAX_ITERATIONS: u32 = 10_000_000;

/// A decoded tufup key.
#[derive(Clone, PartialEq, Eq)]
pub struct TufupKey {
    /// The ed25519 seed (securesystemslib's `private`).
    seed: [u8; 32],
    /// The ed25519 public key.
    pub public: [u8; 32],
    /// The key id securesystemslib wrote into the file (its legacy id), if any.
    pub key_id: Option<String>,
    /// Whether the file was encrypted.
    pub encrypted: bool,
}

impl std::fmt::Debug for TufupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TufupKey({}, encrypted: {})",
            hex::encode(self.public),
            self.encrypted
        )
    }
}

#[derive(Deserialize)]
struct KeyJson {
    keytype: String,
    scheme: String,
    #[serde(default)]
    keyid: Option<String>,
    keyval: KeyVal,
}

#[derive(Deserialize)]
struct KeyVal {
    public: String,
    private: String,
}

/// Whether `bytes` look like a securesystemslib key file rather than PKCS#8 DER (a JSON object
/// or the encrypted format's text).
pub fn looks_like(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|text| {
        let text = text.trim_start();
        text.starts_with('{') || text.contains(DELIMITER)
    })
}

/// Reads the key file at `path`, decrypting it with `passphrase` when it is encrypted.
///
/// # Errors
/// [`Error::KeyRead`] (unreadable), [`Error::TufupKeyFormat`] (not one of the two formats, not
/// ed25519, a public half that does not match the seed), [`Error::PassphraseMissing`] (encrypted,
/// no passphrase), [`Error::TufupPassphraseWrong`].
pub fn read(path: &Path, passphrase: &Passphrase) -> Result<TufupKey> {
    let bytes = std::fs::read(path).map_err(|source| Error::KeyRead {
        path: path.to_path_buf(),
        source,
    })?;
    decode(path, &bytes, passphrase)
}

/// As [`read`], from the file's bytes (`path` names it in errors).
///
/// # Errors
/// As [`read`].
pub fn decode(path: &Path, bytes: &[u8], passphrase: &Passphrase) -> Result<TufupKey> {
    let format = |reason| Error::TufupKeyFormat {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::str::from_utf8(bytes)
        .map_err(|_| format("not text"))?
        .trim();
    let (json, encrypted) = if text.starts_with('{') {
        (text.as_bytes().to_vec(), false)
    } else if text.contains(DELIMITER) {
        let Some(pw) = passphrase.bytes() else {
            return Err(Error::PassphraseMissing {
                key: path.to_path_buf(),
            });
        };
        (decrypt(path, text, pw)?, true)
    } else {
        return Err(format(
            "neither securesystemslib JSON nor its encrypted format",
        ));
    };
    let key: KeyJson = serde_json::from_slice(&json).map_err(|_| format("not a key object"))?;
    if key.keytype != "ed25519" || key.scheme != "ed25519" {
        return Err(format("not an ed25519 key"));
    }
    let hex32 = |s: &str| -> Option<[u8; 32]> { hex::decode(s).ok()?.try_into().ok() };
    let (Some(seed), Some(public)) = (hex32(&key.keyval.private), hex32(&key.keyval.public)) else {
        return Err(format("an ed25519 key is 32 bytes in hex"));
    };
    Ed25519KeyPair::from_seed_and_public_key(&seed, &public)
        .map_err(|_| format("its public half does not match its private half"))?;
    Ok(TufupKey {
        seed,
        public,
        key_id: key.keyid,
        encrypted,
    })
}

/// Decrypts securesystemslib's `salt@@@@iterations@@@@hmac@@@@iv@@@@ciphertext`.
fn decrypt(path: &Path, text: &str, passphrase: &[u8]) -> Result<Vec<u8>> {
    let format = |reason| Error::TufupKeyFormat {
        path: path.to_path_buf(),
        reason,
    };
    let fields: Vec<&str> = text.split(DELIMITER).collect();
    let [salt, iterations, mac, iv, ciphertext] = fields.as_slice() else {
        return Err(format("an encrypted key has five fields"));
    };
    let iterations: u32 = iterations
        .parse()
        .ok()
        .filter(|n| (1..=MAX_ITERATIONS).contains(n))
        .ok_or_else(|| format("unsupported PBKDF2 iteration count"))?;
    let unhex = |s: &str| hex::decode(s).map_err(|_| format("an encrypted field is not hex"));
    let (salt, mac, mut data) = (unhex(salt)?, unhex(mac)?, unhex(ciphertext)?);
    let iv: [u8; 16] = unhex(iv)?
        .try_into()
        .map_err(|_| format("the AES-CTR IV is not 16 bytes"))?;
    let mut key = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(passphrase, &salt, iterations, &mut key);
    let mut check =
        <Hmac<Sha256> as Mac>::new_from_slice(&key).map_err(|_| format("unusable HMAC key"))?;
    check.update(&data);
    check
        .verify_slice(&mac)
        .map_err(|_| Error::TufupPassphraseWrong {
            key: path.to_path_buf(),
        })?;
    ctr::Ctr128BE::<Aes256>::new(&key.into(), &iv.into()).apply_keystream(&mut data);
    Ok(data)
}

impl TufupKey {
    /// The key as PKCS#8 DER (v2, with the public key), what tough's `parse_keypair` reads.
    ///
    /// # Errors
    /// [`Error::TufupKeyFormat`] when aws-lc-rs refuses the seed (checked on decoding already).
    pub fn pkcs8(&self, path: &Path) -> Result<Vec<u8>> {
        let refused = || Error::TufupKeyFormat {
            path: path.to_path_buf(),
            reason: "its public half does not match its private half",
        };
        let pair = Ed25519KeyPair::from_seed_and_public_key(&self.seed, &self.public)
            .map_err(|_| refused())?;
        Ok(pair.to_pkcs8().map_err(|_| refused())?.as_ref().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written by securesystemslib 0.31 (`generate_and_write_ed25519_keypair(password="correct
    /// horse")`); public key and legacy key id as it printed them.
    const ENCRYPTED: &str = "6dcf890e85aa120e7c9f4d3727719c91@@@@100000@@@@3caa9bef209782a10ae1815bc8f2396e591a7d738503821c47b434ae2d199958@@@@09f8f65d8f580754010102c075a5762a@@@@61d27cc1abc7f7a81fe48219a15d514ca0bed5128552a1ad21c8a81d86508c827a75e4cf5c4fc888d661f5c45872e6af4365fdc7ff0b6077df177a7cefd1519140cff31b006b9f662d97844a776beb2276f89cb7591a0fe2ae78c479156c0ff6ce635c5b0000d6b867340be6bb6047987f0e8e81a60b9793133772dac4b0feeb55a4498deec716e9b239583e1a6dcd8b8fdf12399a7b915db97423f35f9166b252db2ca6ae5568111b50fb76b9c9d46f56943a67d64f050ae5e1101183526eb9af942c38a0323cd93039804035c245811d81b4f3ec42da598da8f9eb8e73735950ba5e42d7105e3d1269de99e500e34a95b05f39059261b76e2f34fbdb52534d13221bf5a9911ef571df8c419e3e794184d71e11a3d44aada5f1b0b2f2c615ef3d76e05d91793c93a82ed964e7ce6034ebc6d074a4989644b384e62b97f61f4300289d12a1a4c81fae373c98fdaa7cc9";
    const ENCRYPTED_PUBLIC: &str =
        "5be3b6c0b0e631e431452c6d77575d569430b39a8e61c6f3ae138cbe41273a2d";
    const ENCRYPTED_ID: &str = "9b0299896427d70df5c875e621a45e394f699a64d5b816e0e11f29ce819e7300";
    /// `generate_and_write_unencrypted_ed25519_keypair`.
    const PLAIN: &str = r#"{"keytype": "ed25519", "scheme": "ed25519", "keyid": "586d56c8bb1e9a7644473eb9b063002088ecf015c1d36c5e927e804e39156053", "keyid_hash_algorithms": ["sha256", "sha512"], "keyval": {"public": "5d4f17d54edaf9d7f39dde605f28a59657a7f8c076b1e91ddff4c2767f35dab4", "private": "936841c8e3c0d3db57fca89d73df84f500c438a8fba9c2c858d096b09abff2cb"}}"#;

    #[test]
    fn decrypts_what_securesystemslib_encrypted() {
        let key = decode(
            Path::new("enc"),
            ENCRYPTED.as_bytes(),
            &Passphrase::new("correct horse"),
        )
        .unwrap();
        assert!(key.encrypted);
        assert_eq!(hex::encode(key.public), ENCRYPTED_PUBLIC);
        assert_eq!(key.key_id.as_deref(), Some(ENCRYPTED_ID));
        let der = key.pkcs8(Path::new("enc")).unwrap();
        assert!(tough::sign::parse_keypair(&der).is_ok());
        assert!(looks_like(ENCRYPTED.as_bytes()) && looks_like(PLAIN.as_bytes()));
    }

    #[test]
    fn refuses_a_wrong_or_missing_passphrase() {
        let wrong = decode(
            Path::new("enc"),
            ENCRYPTED.as_bytes(),
            &Passphrase::new("nope"),
        );
        assert!(
            matches!(wrong, Err(Error::TufupPassphraseWrong { .. })),
            "{wrong:?}"
        );
        let none = decode(Path::new("enc"), ENCRYPTED.as_bytes(), &Passphrase::none());
        assert!(
            matches!(none, Err(Error::PassphraseMissing { .. })),
            "{none:?}"
        );
    }

    #[test]
    fn reads_a_plain_key_and_refuses_other_formats() {
        let key = decode(Path::new("plain"), PLAIN.as_bytes(), &Passphrase::none()).unwrap();
        assert!(!key.encrypted);
        assert_eq!(
            hex::encode(key.public),
            "5d4f17d54edaf9d7f39dde605f28a59657a7f8c076b1e91ddff4c2767f35dab4"
        );
        for bad in [
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
            &PLAIN.replace("\"ed25519\", \"scheme\"", "\"rsa\", \"scheme\""),
            &PLAIN.replace("936841c8", "036841c8"),
            "aa@@@@100000@@@@bb",
            "00@@@@0@@@@00@@@@00000000000000000000000000000000@@@@00",
        ] {
            let out = decode(Path::new("bad"), bad.as_bytes(), &Passphrase::new("x"));
            assert!(
                matches!(out, Err(Error::TufupKeyFormat { .. })),
                "{bad}: {out:?}"
            );
        }
    }
}
