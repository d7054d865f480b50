//! The keystore: ed25519 private keys, one file per key name, `<keystore>/<name>.der`.
//!
//! A key file is PKCS#8 DER as made by aws-lc-rs (`Ed25519KeyPair::generate_pkcs8`, readable by
//! tough's `LocalKeySource`), or the same DER wrapped as a standard *encrypted* PKCS#8
//! (`EncryptedPrivateKeyInfo`, PBES2 with scrypt and AES-256-CBC, RustCrypto `pkcs8` crate). The passphrase comes from the environment variable
//! [`PASSPHRASE_ENV`] or a file given with `--passphrase-file`, never from a prompt.
//! Decrypted keys stay in memory: they are parsed straight into tough signers.

use std::path::{Path, PathBuf};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::Ed25519KeyPair;
use pkcs8::der::Encode;
use pkcs8::pkcs5::pbes2;
use tough::schema::decoded::{Decoded, Hex};
use tough::schema::key::Key;
use tough::sign::{Sign, parse_keypair};

use crate::error::{Error, Result};

/// Environment variable holding the keystore passphrase.
pub const PASSPHRASE_ENV: &str = "TUFD_REPO_PASSPHRASE";

/// The keystore passphrase, if keys are (to be) encrypted. Never printed (`Debug` hides it).
#[derive(Clone, Default)]
pub struct Passphrase(Option<Vec<u8>>);

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = if self.is_set() { "set" } else { "none" };
        write!(f, "Passphrase({shown})")
    }
}

impl Passphrase {
    /// A passphrase of these bytes (as read from a file or the environment).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(Some(bytes.into()))
    }

    /// No passphrase: keys are written and read unencrypted.
    pub fn none() -> Self {
        Self(None)
    }

    /// Reads the passphrase from `file` (trailing newline removed) or else from
    /// [`PASSPHRASE_ENV`]; none when neither is set.
    ///
    /// # Errors
    /// [`Error::PassphraseRead`] or [`Error::PassphraseEmpty`] for the file.
    pub fn from_sources(file: Option<&Path>) -> Result<Self> {
        if let Some(file) = file {
            let mut bytes = std::fs::read(file).map_err(|source| Error::PassphraseRead {
                path: file.to_path_buf(),
                source,
            })?;
            while matches!(bytes.last(), Some(b'\n' | b'\r')) {
                bytes.pop();
            }
            if bytes.is_empty() {
                return Err(Error::PassphraseEmpty {
                    path: file.to_path_buf(),
                });
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

    /// The passphrase's bytes, if one was given.
    pub fn bytes(&self) -> Option<&[u8]> {
        self.0.as_deref()
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
/// [`Error::KeyExists`], [`Error::KeyGenerate`], [`Error::KeyEncrypt`] or [`Error::Io`].
pub fn generate(keystore: &Path, name: &str, passphrase: &Passphrase) -> Result<PathBuf> {
    let rng = SystemRandom::new();
    let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(Error::KeyGenerate)?;
    let der = doc.as_ref().to_vec();
    let bytes = match &passphrase.0 {
        Some(pw) => encrypt(&der, pw)?,
        None => der,
    };
    let path = key_path(keystore, name);
    std::fs::create_dir_all(keystore).map_err(Error::io("create keystore", keystore))?;
    crate::repo::fsutil::write_new_private(&path, &bytes).map_err(|e| match e {
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists => {
            Error::KeyExists { path: path.clone() }
        }
        other => other,
    })?;
    Ok(path)
}

/// Wraps PKCS#8 DER into encrypted PKCS#8 (PBES2, scrypt with the crate's default cost
/// log2(N)=15 r=8 p=1, AES-256-CBC, random 16-byte salt and IV).
///
/// # Errors
/// [`Error::KeyEncrypt`], naming the failed step.
pub fn encrypt(der: &[u8], passphrase: &[u8]) -> Result<Vec<u8>> {
    fn failed<E: Into<crate::error::BoxError>>(step: &'static str) -> impl FnOnce(E) -> Error {
        move |e| Error::KeyEncrypt {
            step,
            source: e.into(),
        }
    }
    let rng = SystemRandom::new();
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    rng.fill(&mut salt)
        .and_then(|()| rng.fill(&mut iv))
        .map_err(failed("random salt and IV"))?;
    // pkcs5's error implements no `std::error::Error`; pkcs8's wrapper of it does.
    let params = pbes2::Parameters::scrypt_aes256cbc(Default::default(), &salt, &iv)
        .map_err(|e| failed("scrypt parameters")(pkcs8::Error::from(e)))?;
    let encrypted_data = params
        .encrypt(passphrase, der)
        .map_err(|e| failed("encryption")(pkcs8::Error::from(e)))?;
    pkcs8::EncryptedPrivateKeyInfo {
        encryption_algorithm: params.into(),
        encrypted_data: &encrypted_data,
    }
    .to_der()
    .map_err(failed("DER encoding"))
}

/// Returns the plain PKCS#8 DER of a key file's bytes, decrypting when it is encrypted PKCS#8.
/// `path` only names the key in errors.
///
/// # Errors
/// [`Error::PassphraseMissing`] for an encrypted key without passphrase,
/// [`Error::PassphraseWrong`] when the passphrase does not decrypt it.
pub fn plain_der(path: &Path, bytes: &[u8], passphrase: &Passphrase) -> Result<Vec<u8>> {
    let Ok(enc) = pkcs8::EncryptedPrivateKeyInfo::try_from(bytes) else {
        return Ok(bytes.to_vec());
    };
    let Some(pw) = &passphrase.0 else {
        return Err(Error::PassphraseMissing {
            key: path.to_path_buf(),
        });
    };
    let doc = enc.decrypt(pw).map_err(|source| Error::PassphraseWrong {
        key: path.to_path_buf(),
        source,
    })?;
    Ok(doc.as_bytes().to_vec())
}

/// Loads key `name` from `keystore`: `<name>.der`, or else tufup's key file `<name>`
/// (securesystemslib's format, [`crate::tufup::keyfile`]) when only that exists.
///
/// # Errors
/// As [`load_file`].
pub async fn load(keystore: &Path, name: &str, passphrase: &Passphrase) -> Result<Signer> {
    let der = key_path(keystore, name);
    let tufup = keystore.join(name);
    if !der.exists() && tufup.is_file() {
        return load_file(&tufup, name, passphrase).await;
    }
    load_file(&der, name, passphrase).await
}

/// Loads the key in `path` (plain or encrypted PKCS#8, or a tufup key file), naming it `name`.
///
/// # Errors
/// [`Error::KeyRead`] (a missing key file), the passphrase errors of [`plain_der`] and
/// [`crate::tufup::keyfile::decode`], [`Error::KeyInvalid`] (not an ed25519/RSA/ECDSA PKCS#8
/// key), [`Error::TufupKeyFormat`], [`Error::KeyId`].
pub async fn load_file(path: &Path, name: &str, passphrase: &Passphrase) -> Result<Signer> {
    let bytes = std::fs::read(path).map_err(|source| Error::KeyRead {
        path: path.to_path_buf(),
        source,
    })?;
    let der = if crate::tufup::keyfile::looks_like(&bytes) {
        crate::tufup::keyfile::decode(path, &bytes, passphrase)?.pkcs8(path)?
    } else {
        plain_der(path, &bytes, passphrase)?
    };
    let pair = parse_keypair(&der).map_err(|e| Error::KeyInvalid {
        path: path.to_path_buf(),
        source: Box::new(e),
    })?;
    let sign: Box<dyn Sign> = Box::new(pair);
    let key = sign.tuf_key();
    let key_id = key.key_id().map_err(|e| Error::KeyId {
        path: path.to_path_buf(),
        source: Box::new(e),
    })?;
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
        let pw = Passphrase::new("secret");
        let enc_signer = load(dir.path(), "b", &pw).await.unwrap();
        assert_eq!(plain_signer.key_id, enc_signer.key_id);
        let wrong = load(dir.path(), "b", &Passphrase::new("nope"))
            .await
            .unwrap_err();
        assert!(matches!(wrong, Error::PassphraseWrong { .. }), "{wrong:?}");
        let none = load(dir.path(), "b", &Passphrase::default())
            .await
            .unwrap_err();
        assert!(matches!(none, Error::PassphraseMissing { .. }), "{none:?}");
        assert!(
            matches!(
                generate(dir.path(), "a", &Passphrase::default()),
                Err(Error::KeyExists { .. })
            ),
            "no overwrite"
        );
        let garbage = dir.path().join("g.der");
        std::fs::write(&garbage, b"not a key").unwrap();
        assert!(matches!(
            load_file(&garbage, "g", &Passphrase::none()).await,
            Err(Error::KeyInvalid { .. })
        ));
    }
}
