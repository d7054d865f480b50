//! The keystore: ed25519 private keys, one file per key name, `<keystore>/<name>.der`.
//!
//! A key file is PKCS#8 DER as made by aws-lc-rs (`Ed25519KeyPair::generate_pkcs8`, readable by
//! tough's `LocalKeySource`), or the same DER wrapped as a standard *encrypted* PKCS#8
//! (`EncryptedPrivateKeyInfo`, PBES2 with scrypt and AES-256-CBC, RustCrypto `pkcs8` crate). The passphrase comes from the environment variable
//! [`PASSPHRASE_ENV`] or a file given with `--passphrase-file`, never from a prompt.
//! Decrypted keys stay in memory: they are parsed straight into tough signers.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::Ed25519KeyPair;
use pkcs8::der::Encode;
use pkcs8::pkcs5::pbes2;
use tough::schema::decoded::{Decoded, Hex};
use tough::schema::key::Key;
use tough::sign::{Sign, parse_keypair};

/// Environment variable holding the keystore passphrase.
pub const PASSPHRASE_ENV: &str = "TUFD_REPO_PASSPHRASE";

/// Where the passphrase comes from, if keys are (to be) encrypted.
#[derive(Clone, Debug, Default)]
pub struct Passphrase(Option<Vec<u8>>);

impl Passphrase {
    /// Reads the passphrase from `file` (trailing newline removed) or else from
    /// [`PASSPHRASE_ENV`]; none when neither is set.
    ///
    /// # Errors
    /// An unreadable or empty passphrase file.
    pub fn from_sources(file: Option<&Path>) -> anyhow::Result<Self> {
        if let Some(file) = file {
            let mut bytes = std::fs::read(file)
                .with_context(|| format!("cannot read passphrase file {}", file.display()))?;
            while matches!(bytes.last(), Some(b'\n' | b'\r')) {
                bytes.pop();
            }
            if bytes.is_empty() {
                bail!(
                    "passphrase file {} is empty: write the passphrase into it",
                    file.display()
                );
            }
            return Ok(Self(Some(bytes)));
        }
        match std::env::var_os(PASSPHRASE_ENV) {
            Some(v) if !v.is_empty() => Ok(Self(Some(v.into_encoded_bytes()))),
            _ => Ok(Self(None)),
        }
    }

    /// Whether a passphrase was given.
    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }
}

/// A loaded private key ready to sign, with its TUF key and key id.
pub struct Signer {
    /// The key name (file stem in the keystore).
    pub name: String,
    /// The TUF public key.
    pub key: Key,
    /// The spec key id (sha256 of the canonical public key).
    pub key_id: Decoded<Hex>,
    /// The signing half.
    pub sign: Box<dyn Sign>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({}, {})", self.name, hex::encode(&*self.key_id))
    }
}

/// The file of key `name` in `keystore`.
pub fn key_path(keystore: &Path, name: &str) -> PathBuf {
    keystore.join(format!("{name}.der"))
}

/// Generates an ed25519 key and writes it as `<keystore>/<name>.der`, encrypted when
/// `passphrase` is set. Refuses to overwrite an existing file. Returns the written path.
///
/// # Errors
/// An existing file, key generation, encryption or I/O errors.
pub fn generate(keystore: &Path, name: &str, passphrase: &Passphrase) -> anyhow::Result<PathBuf> {
    let rng = SystemRandom::new();
    let doc = Ed25519KeyPair::generate_pkcs8(&rng).context("while generating an ed25519 key")?;
    let der = doc.as_ref().to_vec();
    let bytes = match &passphrase.0 {
        Some(pw) => encrypt(&der, pw)?,
        None => der,
    };
    let path = key_path(keystore, name);
    std::fs::create_dir_all(keystore)
        .with_context(|| format!("cannot create keystore {}", keystore.display()))?;
    crate::repo::fsutil::write_new_private(&path, &bytes)?;
    Ok(path)
}

/// Wraps PKCS#8 DER into encrypted PKCS#8 (PBES2, scrypt with the crate's default cost
/// log2(N)=15 r=8 p=1, AES-256-CBC, random 16-byte salt and IV).
///
/// # Errors
/// Encryption or DER encoding failures.
pub fn encrypt(der: &[u8], passphrase: &[u8]) -> anyhow::Result<Vec<u8>> {
    let rng = SystemRandom::new();
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    rng.fill(&mut salt)
        .and_then(|()| rng.fill(&mut iv))
        .map_err(|_| anyhow::anyhow!("system random generator failed"))?;
    let params = pbes2::Parameters::scrypt_aes256cbc(Default::default(), &salt, &iv)
        .map_err(|e| anyhow::anyhow!("scrypt parameters: {e}"))?;
    let encrypted_data = params
        .encrypt(passphrase, der)
        .map_err(|e| anyhow::anyhow!("key encryption failed: {e}"))?;
    pkcs8::EncryptedPrivateKeyInfo {
        encryption_algorithm: params.into(),
        encrypted_data: &encrypted_data,
    }
    .to_der()
    .map_err(|e| anyhow::anyhow!("encoding the encrypted key: {e}"))
}

/// Returns the plain PKCS#8 DER of a key file's bytes, decrypting when it is encrypted PKCS#8.
///
/// # Errors
/// An encrypted key without passphrase, or with the wrong one.
pub fn plain_der(path: &Path, bytes: &[u8], passphrase: &Passphrase) -> anyhow::Result<Vec<u8>> {
    let Ok(enc) = pkcs8::EncryptedPrivateKeyInfo::try_from(bytes) else {
        return Ok(bytes.to_vec());
    };
    let Some(pw) = &passphrase.0 else {
        bail!(
            "key {} is encrypted: set {PASSPHRASE_ENV} or pass --passphrase-file FILE",
            path.display()
        );
    };
    let doc = enc.decrypt(pw).map_err(|_| {
        anyhow::anyhow!(
            "cannot decrypt key {}: wrong passphrase; check {PASSPHRASE_ENV} or --passphrase-file",
            path.display()
        )
    })?;
    Ok(doc.as_bytes().to_vec())
}

/// Loads key `name` from `keystore`.
///
/// # Errors
/// A missing key file, a wrong passphrase, a file that is not an ed25519/RSA/ECDSA PKCS#8 key.
pub async fn load(keystore: &Path, name: &str, passphrase: &Passphrase) -> anyhow::Result<Signer> {
    load_file(&key_path(keystore, name), name, passphrase).await
}

/// Loads the key in `path` (plain or encrypted PKCS#8), naming it `name`.
///
/// # Errors
/// As [`load`].
pub async fn load_file(path: &Path, name: &str, passphrase: &Passphrase) -> anyhow::Result<Signer> {
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "cannot read key {}: restore the keystore or fix the key names in the config",
            path.display()
        )
    })?;
    let der = plain_der(path, &bytes, passphrase)?;
    let pair = parse_keypair(&der).map_err(|e| {
        anyhow::anyhow!(
            "key {} is not a PKCS#8 private key ({e}); if it is encrypted, the passphrase is wrong",
            path.display()
        )
    })?;
    let sign: Box<dyn Sign> = Box::new(pair);
    let key = sign.tuf_key();
    let key_id = key
        .key_id()
        .map_err(|e| anyhow::anyhow!("cannot compute the key id of {}: {e}", path.display()))?;
    Ok(Signer {
        name: name.to_owned(),
        key,
        key_id,
        sign,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn plain_and_encrypted_keys_load_to_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let plain = generate(dir.path(), "a", &Passphrase::default()).unwrap();
        let plain_signer = load(dir.path(), "a", &Passphrase::default()).await.unwrap();
        let der = std::fs::read(&plain).unwrap();
        let enc = encrypt(&der, b"secret").unwrap();
        assert_ne!(enc, der);
        std::fs::write(dir.path().join("b.der"), &enc).unwrap();
        let pw = Passphrase(Some(b"secret".to_vec()));
        let enc_signer = load(dir.path(), "b", &pw).await.unwrap();
        assert_eq!(plain_signer.key_id, enc_signer.key_id);
        let wrong = load(dir.path(), "b", &Passphrase(Some(b"nope".to_vec())))
            .await
            .unwrap_err();
        assert!(
            format!("{wrong:#}").contains("wrong passphrase"),
            "{wrong:#}"
        );
        let none = load(dir.path(), "b", &Passphrase::default())
            .await
            .unwrap_err();
        assert!(format!("{none:#}").contains(PASSPHRASE_ENV), "{none:#}");
        assert!(
            generate(dir.path(), "a", &Passphrase::default()).is_err(),
            "no overwrite"
        );
    }
}
