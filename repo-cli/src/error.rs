//! [`Error`]: every way a `tufd-repo` operation can fail. A variant names the facts (the path,
//! the role, the version) and keeps the error of the layer below whole as its `source` (io,
//! TOML, JSON, tough, `tufd-core`), instead of turning it into text on the way up.
//! [`Error::kind`] maps each variant to a stable [`ErrorKind`], which `main` prints as
//! `error[<kind>]: <message>: <cause>: …` on stderr ([`Error::report`]), as the daemon `tufd`
//! does. Scripts and tests match on the kind (or the variant), never on message text.
//!
//! No variant with a `source` repeats it in its own message: [`chain`] appends the causes.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use tufd_core::archive::ArchiveError;
use tufd_core::patch::PatchError;
use tufd_core::{Codec, Version};

use crate::keys::PASSPHRASE_ENV;

/// Result alias of `tufd-repo`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed error of a library that returns one (tough's `Sign`, key encryption).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The stable kind of a `tufd-repo` error: the `<kind>` of `error[<kind>]:` on stderr. The names
/// (kebab-case, [`ErrorKind::as_str`]) never change meaning; new kinds may be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `usage`: the command line does not parse (unknown flag, bad value). Exit code 2.
    Usage,
    /// `config`: `tufd-repo.toml` is missing, unreadable or invalid (TOML, a missing role, a
    /// threshold outside 1..=keys, a bad key name, a setting its `compat` mode refuses; tufup's
    /// `.tufup-repo-config` or a folder it names missing or invalid), or a setting given on the command line
    /// cannot be used (an app name with other characters than ASCII letters, digits, `_`, `-`;
    /// an expiry too far in the future; a platform that is not `<os>-<arch>`; a `delegate`
    /// threshold outside 1..=keys).
    Config,
    /// `already-exists`: the command refuses to overwrite what is there: `init` with an existing
    /// config or a non-empty repository folder, a key file that exists, a target file that exists
    /// with other content.
    AlreadyExists,
    /// `passphrase`: a key is encrypted and no passphrase was given, the passphrase is wrong,
    /// the passphrase file is unreadable or empty, or `init --encrypt-keys` has no passphrase.
    Passphrase,
    /// `key`: a key file named in the config is missing, unreadable or not a PKCS#8 private
    /// key; the keystore holds fewer keys of a role (top-level, or a platform's delegated role)
    /// than its threshold; a `delegate --key` is neither a public nor a private key; the `--key` of
    /// `sign` is not listed for the role; generating, encrypting or signing with a key failed.
    Key,
    /// `metadata-invalid`: the published metadata is missing (not a repository, no
    /// `N.root.json`), unreadable, not valid TUF metadata, or its roles do not name each other.
    MetadataInvalid,
    /// `bundle`: the bundle folder of `add` is missing, a file, empty, or cannot be archived
    /// (an unsupported file type, a name that is not UTF-8, a file changing while read).
    Bundle,
    /// `release`: the release asked for is refused: `--version` is not PEP 440 or not newer than
    /// the latest release, the release cannot be named, `--meta` is not a JSON object,
    /// `remove-latest` finds no release (of the platform asked for), a rollout is not 0-100,
    /// `halt` or `resume`, `rollout` or `yank` names no published release, or `yank` would leave
    /// no release.
    Release,
    /// `target-mismatch`: the published previous release, the base of the new patch, does not
    /// match its signed length, sha256 or tar digest, or cannot be read or decompressed.
    TargetMismatch,
    /// `locked`: another `tufd-repo` command is changing the same repository.
    Locked,
    /// `verify-failed`: `verify` found problems (listed on stdout).
    VerifyFailed,
    /// `expiring`: a role expires within the threshold of `expiry` (or `renew` could not renew
    /// it: root, which is signed offline), or `import-tufup` found a role already expired.
    Expiring,
    /// `io`: a local file or network operation failed (writing, renaming, binding a port).
    Io,
    /// `internal`: serialisation of metadata or config, canonical JSON, or a worker thread
    /// failed (a bug).
    Internal,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 14] = [
        ErrorKind::Usage,
        ErrorKind::Config,
        ErrorKind::AlreadyExists,
        ErrorKind::Passphrase,
        ErrorKind::Key,
        ErrorKind::MetadataInvalid,
        ErrorKind::Bundle,
        ErrorKind::Release,
        ErrorKind::TargetMismatch,
        ErrorKind::Locked,
        ErrorKind::VerifyFailed,
        ErrorKind::Expiring,
        ErrorKind::Io,
        ErrorKind::Internal,
    ];

    /// The stable name (`config`, `metadata-invalid`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Usage => "usage",
            ErrorKind::Config => "config",
            ErrorKind::AlreadyExists => "already-exists",
            ErrorKind::Passphrase => "passphrase",
            ErrorKind::Key => "key",
            ErrorKind::MetadataInvalid => "metadata-invalid",
            ErrorKind::Bundle => "bundle",
            ErrorKind::Release => "release",
            ErrorKind::TargetMismatch => "target-mismatch",
            ErrorKind::Locked => "locked",
            ErrorKind::VerifyFailed => "verify-failed",
            ErrorKind::Expiring => "expiring",
            ErrorKind::Io => "io",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a `tufd-repo` operation failed. Grouped below by [`ErrorKind`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- usage
    /// The command line does not parse (clap's error; `--help` and `--version` are not errors).
    #[error("{} (see --help)", usage_line(.0))]
    Usage(clap::Error),

    // ---- config
    /// The config file cannot be read (usually: it does not exist).
    #[error(
        "cannot read config {}: run `tufd-repo init --app-name NAME` in the working folder or pass --config FILE",
        path.display()
    )]
    ConfigRead {
        /// The config path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid TOML of the expected shape.
    #[error("config {} is not valid: fix the file", path.display())]
    ConfigParse {
        /// The config path.
        path: PathBuf,
        /// The TOML error (line, column, what was expected).
        #[source]
        source: Box<toml::de::Error>,
    },
    /// The config's `app_name` is not a valid app name.
    #[error("config {}", path.display())]
    ConfigAppName {
        /// The config path.
        path: PathBuf,
        /// `tufd-core`'s refusal ([`tufd_core::Error::InvalidAppName`]).
        #[source]
        source: tufd_core::Error,
    },
    /// The config lacks the `[roles.<role>]` section of a top-level role.
    #[error("config {} has no [roles.{role}] section: add it", path.display())]
    ConfigMissingRole {
        /// The config path.
        path: PathBuf,
        /// `root`, `targets`, `snapshot` or `timestamp`.
        role: &'static str,
    },
    /// A role's threshold is 0 or above its number of keys.
    #[error(
        "config {}: role {role} has threshold {threshold} with {keys} keys: use 1 <= threshold <= number of keys",
        path.display()
    )]
    ConfigThreshold {
        /// The config path.
        path: PathBuf,
        /// The role.
        role: &'static str,
        /// The configured threshold (signatures).
        threshold: u64,
        /// Number of keys listed for the role.
        keys: usize,
    },
    /// A key name holds other characters than ASCII letters, digits, `_` and `-`.
    #[error(
        "config {}: key name `{name}` is not valid: use ASCII letters, digits, `_` and `-`",
        path.display()
    )]
    ConfigKeyName {
        /// The config path.
        path: PathBuf,
        /// The refused name.
        name: String,
    },
    /// `init --app-name` is not a valid app name.
    #[error(transparent)]
    AppName(tufd_core::Error),
    /// With `compat = "tufup"`, a setting tufup clients cannot read.
    #[error(
        "config {}: {setting} is not readable by tufup clients (compat = \"tufup\"): remove the setting, or remove `compat` once every install runs tufd (docs/coming-from-tufup.md)",
        path.display()
    )]
    ConfigCompat {
        /// The config path.
        path: PathBuf,
        /// The refused setting (`consistent_snapshot = true`, …).
        setting: &'static str,
    },
    /// `add --codec` asks for a codec tufup clients cannot apply (`compat = "tufup"`).
    #[error(
        "--codec {codec}: tufup clients apply only bsdiff4 patches (compat = \"tufup\" in the config): drop --codec"
    )]
    CodecNotCompat {
        /// The refused codec.
        codec: Codec,
    },
    /// tufup's `.tufup-repo-config` cannot be read (usually: not in this folder).
    #[error(
        "cannot read tufup's config {}: run import-tufup in the folder holding .tufup-repo-config (where tufup ran)",
        path.display()
    )]
    TufupConfigRead {
        /// The `.tufup-repo-config` path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// tufup's `.tufup-repo-config` is not the JSON tufup 0.10 writes.
    #[error("tufup's config {} is not valid: fix the file or save it again with tufup", path.display())]
    TufupConfigParse {
        /// The `.tufup-repo-config` path.
        path: PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A folder tufup's config names does not exist.
    #[error(
        "tufup's {what} {} does not exist: fix {what} in .tufup-repo-config, or run import-tufup where tufup ran",
        path.display()
    )]
    TufupFolderMissing {
        /// `repo_dir`, `keys_dir`, `repo_dir/metadata`.
        what: &'static str,
        /// The missing folder.
        path: PathBuf,
    },
    /// tufup's config names a custom `binary_diff` class: its patches are not bsdiff4.
    #[error(
        "tufup's config uses the binary_diff class {class}: tufd-repo writes bsdiff4 patches only, which clients with that class cannot apply; publish with tufup, or remove binary_diff once no client uses it"
    )]
    TufupBinaryDiff {
        /// The fully qualified class name.
        class: String,
    },
    /// An expiry `lifetime` from now is past the largest representable date.
    #[error("an expiry {lifetime} from now is out of range: use a shorter lifetime")]
    ExpiryOutOfRange {
        /// The requested lifetime.
        lifetime: crate::lifetime::Lifetime,
    },
    /// `--platform` or `delegate`'s platform is not `<os>-<arch>` (`linux-x86_64`, …).
    #[error("bad platform")]
    Platform(#[source] tufd_core::Error),
    /// `delegate --threshold` is 0 or above the number of `--key`s.
    #[error("threshold {threshold} of role {role} is outside 1..={keys} (its number of keys)")]
    DelegateThreshold {
        /// The delegated role.
        role: String,
        /// The threshold given.
        threshold: u64,
        /// Keys given.
        keys: usize,
    },

    // ---- already-exists
    /// `import-tufup` found an existing `tufd-repo.toml`.
    #[error(
        "config {} already exists: import-tufup refuses to overwrite it; pass --force to replace it",
        path.display()
    )]
    ImportConfigExists {
        /// The config path.
        path: PathBuf,
    },
    /// `init` found an existing config.
    #[error(
        "config {} already exists: init refuses to overwrite it; use another folder or --config FILE",
        path.display()
    )]
    ConfigExists {
        /// The config path.
        path: PathBuf,
    },
    /// `init` found a non-empty repository folder.
    #[error(
        "repository folder {} already exists and is not empty: init refuses to overwrite it",
        path.display()
    )]
    RepositoryNotEmpty {
        /// The repository folder.
        path: PathBuf,
    },
    /// A new key's file already exists in the keystore.
    #[error("key file {} already exists: pick another key name", path.display())]
    KeyExists {
        /// The key file.
        path: PathBuf,
    },
    /// A target file to publish exists in `targets/` with other content.
    #[error(
        "target file {} already exists with other content: delete it (it is not listed in the current metadata) and run again",
        path.display()
    )]
    TargetConflict {
        /// The existing file.
        path: PathBuf,
    },
    /// Something other than a regular file is where a file is to be published.
    #[error("{} is not a regular file: remove it", path.display())]
    NotRegularFile {
        /// The path.
        path: PathBuf,
    },

    // ---- passphrase
    /// The `--passphrase-file` cannot be read.
    #[error("cannot read passphrase file {}", path.display())]
    PassphraseRead {
        /// The passphrase file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The `--passphrase-file` is empty (after removing trailing newlines).
    #[error("passphrase file {} is empty: write the passphrase into it", path.display())]
    PassphraseEmpty {
        /// The passphrase file.
        path: PathBuf,
    },
    /// A key is encrypted and no passphrase was given.
    #[error(
        "key {} is encrypted: set {PASSPHRASE_ENV} or pass --passphrase-file FILE",
        key.display()
    )]
    PassphraseMissing {
        /// The key file.
        key: PathBuf,
    },
    /// A key is encrypted and the passphrase does not decrypt it.
    #[error(
        "cannot decrypt key {}: wrong passphrase; check {PASSPHRASE_ENV} or --passphrase-file",
        key.display()
    )]
    PassphraseWrong {
        /// The key file.
        key: PathBuf,
        /// The decryption error (`pkcs8`/PKCS#5).
        #[source]
        source: pkcs8::Error,
    },
    /// A tufup (securesystemslib) key is encrypted and the passphrase does not decrypt it (its
    /// HMAC does not match).
    #[error(
        "cannot decrypt tufup key {}: wrong passphrase; check {PASSPHRASE_ENV} or --passphrase-file (one passphrase for every encrypted key)",
        key.display()
    )]
    TufupPassphraseWrong {
        /// The key file.
        key: PathBuf,
    },
    /// `init --encrypt-keys` without a passphrase.
    #[error(
        "--encrypt-keys needs a passphrase: set {PASSPHRASE_ENV} or pass --passphrase-file FILE"
    )]
    EncryptNeedsPassphrase,

    // ---- key
    /// A key file cannot be read (usually: missing from the keystore).
    #[error(
        "cannot read key {}: restore the keystore or fix the key names in the config",
        path.display()
    )]
    KeyRead {
        /// The key file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A key file is not a PKCS#8 ed25519, ECDSA or RSA private key.
    #[error(
        "key {} is not a PKCS#8 private key; if it is encrypted, the passphrase is wrong",
        path.display()
    )]
    KeyInvalid {
        /// The key file.
        path: PathBuf,
        /// tough's refusal.
        #[source]
        source: Box<tough::error::Error>,
    },
    /// The TUF key id of a loaded key cannot be computed.
    #[error("cannot compute the key id of {}", path.display())]
    KeyId {
        /// The key file.
        path: PathBuf,
        /// tough's error.
        #[source]
        source: Box<tough::schema::Error>,
    },
    /// Generating an ed25519 key failed.
    #[error("cannot generate an ed25519 key")]
    KeyGenerate(#[source] aws_lc_rs::error::Unspecified),
    /// Encrypting a new key failed.
    #[error("cannot encrypt the key: {step} failed")]
    KeyEncrypt {
        /// `random salt and IV`, `scrypt parameters`, `encryption` or `DER encoding`.
        step: &'static str,
        /// The cause (`aws_lc_rs`, `pkcs8` or `der` error).
        #[source]
        source: BoxError,
    },
    /// A key tufup's `key_map` names for a role is not in its keystore.
    #[error(
        "role {role}'s key {name} is not in the keystore ({}): copy the private key file there, or fix key_map in .tufup-repo-config",
        path.display()
    )]
    TufupKeyMissing {
        /// The role.
        role: &'static str,
        /// The key name.
        name: String,
        /// The missing file.
        path: PathBuf,
    },
    /// A tufup key file is in a format `tufd-repo` does not read.
    #[error(
        "key {} is not a tufup 0.10 ed25519 key file ({reason}): tufd-repo reads securesystemslib's plain JSON and its encrypted (PBKDF2, AES-256-CTR) format; rotate the key with tufup (`tufup keys`) first",
        path.display()
    )]
    TufupKeyFormat {
        /// The key file.
        path: PathBuf,
        /// What is wrong (`not JSON`, `key type rsa`, …).
        reason: &'static str,
    },
    /// A key tufup's `key_map` names for a role is not one the current root lists for it.
    #[error(
        "key {name} is not listed for role {role} in the current root: fix key_map in .tufup-repo-config (tufup updates it on `tufup keys replace`)"
    )]
    TufupKeyNotInRoot {
        /// The role.
        role: &'static str,
        /// The key name.
        name: String,
    },
    /// The key of `sign --key` is not listed for the role in the current root.
    #[error(
        "the key in --key is not listed for role {role} in the current root: use a key of that role"
    )]
    KeyNotListed {
        /// The role.
        role: &'static str,
    },
    /// Fewer of a delegated role's keys are in the keystore than its threshold: `add
    /// --platform` cannot sign the platform's role.
    #[error(
        "role {role} needs {threshold} signatures but only {available} of its keys are in the keystore: put the platform's key (`tufd-repo keygen`) into the keystore of this machine"
    )]
    DelegatedKeyMissing {
        /// The delegated role (the platform name).
        role: String,
        /// Signatures required.
        threshold: u64,
        /// Keys of the role in the keystore.
        available: usize,
    },
    /// A `--key` of `delegate` is neither a TUF public key (JSON) nor a private key file.
    #[error("{} is neither a TUF public key (JSON) nor a PKCS#8 private key", path.display())]
    PublicKey {
        /// The file.
        path: PathBuf,
        /// Why the JSON reading failed.
        #[source]
        source: serde_json::Error,
    },
    /// Fewer of a role's keys are in the keystore than its threshold.
    #[error(
        "role {role} needs {threshold} signatures but only {available} of its keys are in the keystore: add the missing keys (see `[roles.{role}]` in the config)"
    )]
    TooFewKeys {
        /// The role.
        role: &'static str,
        /// Signatures required.
        threshold: u64,
        /// Keys of the role in the keystore.
        available: usize,
    },
    /// Fewer root keys are in the keystore than the new or the current root's threshold.
    #[error(
        "the {which} root needs {threshold} root signatures but only {available} of its root keys are in the keystore: add the missing root keys"
    )]
    TooFewRootKeys {
        /// `new` or `current`.
        which: &'static str,
        /// Signatures required.
        threshold: u64,
        /// Root keys of that root in the keystore.
        available: usize,
    },
    /// Signing a role with a key failed.
    #[error("signing {role} with key {key} failed")]
    Sign {
        /// The role.
        role: String,
        /// The key name.
        key: String,
        /// The signer's error.
        #[source]
        source: BoxError,
    },

    // ---- metadata-invalid
    /// A published target's custom metadata does not parse (`status`).
    #[error("the custom metadata of {target} does not parse")]
    InvalidCustom {
        /// The target name.
        target: String,
        /// The parser's error.
        #[source]
        source: tufd_core::Error,
    },
    /// The metadata folder holds no `N.root.json`.
    #[error(
        "no N.root.json in {}: run `tufd-repo init` first or fix repository_dir in the config",
        metadata.display()
    )]
    NotARepository {
        /// The metadata folder.
        metadata: PathBuf,
    },
    /// The repository folder holds no `metadata/` folder (`serve`).
    #[error(
        "{} holds no metadata/ folder: run `tufd-repo init` first or fix repository_dir",
        dir.display()
    )]
    NoMetadataFolder {
        /// The repository folder.
        dir: PathBuf,
    },
    /// A metadata file cannot be read.
    #[error(
        "cannot read {}: is this a tufd-repo repository? run `tufd-repo init` first",
        path.display()
    )]
    MetadataRead {
        /// The metadata file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A metadata file is not valid TUF metadata of its role.
    #[error("{} is not valid TUF metadata", path.display())]
    MetadataParse {
        /// The metadata file.
        path: PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A role does not list the role it must name (`timestamp.json lists no snapshot.json`).
    #[error("{file} lists no {entry}")]
    MetadataMissingEntry {
        /// The listing file (`timestamp.json`, `snapshot`).
        file: &'static str,
        /// The missing entry (`snapshot.json`, `targets.json`).
        entry: &'static str,
    },
    /// The current root lists no keys for a top-level role.
    #[error("the current root lists no role {role}")]
    RootLacksRole {
        /// The role.
        role: &'static str,
    },

    // ---- bundle
    /// The bundle path does not exist.
    #[error("bundle folder {} does not exist: pass the folder holding the built app", path.display())]
    BundleMissing {
        /// The given path.
        path: PathBuf,
    },
    /// The bundle path is a file.
    #[error(
        "bundle {} is a file, not a folder: pass the folder holding the built app",
        path.display()
    )]
    BundleNotFolder {
        /// The given path.
        path: PathBuf,
    },
    /// The bundle folder is empty.
    #[error("bundle folder {} is empty: build the app into it first", path.display())]
    BundleEmpty {
        /// The given path.
        path: PathBuf,
    },
    /// The bundle folder holds one folder and nothing else: almost always the parent of the real
    /// bundle (tufup#55).
    #[error(
        "bundle folder {} holds only the folder `{folder}`: pass {}/{folder} instead, or add --allow-single-folder if the app really is that one folder",
        path.display(),
        path.display()
    )]
    BundleSingleFolder {
        /// The given path.
        path: PathBuf,
        /// The one folder inside.
        folder: String,
    },
    /// The bundle cannot be archived (see the cause; kind `io` when writing the tar failed).
    #[error("cannot archive bundle {}", bundle.display())]
    Archive {
        /// The bundle folder.
        bundle: PathBuf,
        /// `tufd-core`'s archive error.
        #[source]
        source: Box<ArchiveError>,
    },

    // ---- release
    /// `--version` is not a PEP 440 version.
    #[error("--version {given}: use a PEP 440 version such as 1.0 or 2.0rc1")]
    InvalidVersion {
        /// What was given.
        given: String,
        /// `tufd-core`'s refusal.
        #[source]
        source: tufd_core::Error,
    },
    /// The version is not newer than the newest published one.
    #[error("version {given} is not newer than the latest release {latest}: pass a higher version")]
    NotNewer {
        /// The given version.
        given: Version,
        /// The newest published version.
        latest: Version,
    },
    /// No target name can be made of the app name and version (a local version `+…`).
    #[error("cannot name release {version} of {app}")]
    ReleaseName {
        /// The app name.
        app: String,
        /// The version.
        version: Version,
        /// `tufd-core`'s refusal.
        #[source]
        source: tufd_core::Error,
    },
    /// `--meta` is not JSON (the cause says why) or not a JSON object (no cause).
    #[error(
        "--meta must be a JSON object such as '{{\"changes\": [\"...\"]}}'{}",
        if source.is_some() { "" } else { ": not an object" }
    )]
    BadMeta {
        /// The JSON error, when the text is not JSON at all.
        #[source]
        source: Option<serde_json::Error>,
    },
    /// `remove-latest` found no release of the app: no flat release, or (with `--platform`)
    /// none of that platform.
    #[error(
        "no {}release of {app}{} is published: nothing to remove",
        if platform.is_none() { "flat " } else { "" },
        platform.as_deref().map(|p| format!(" for {p}")).unwrap_or_default()
    )]
    NothingToRemove {
        /// The app name.
        app: String,
        /// The platform asked for (`--platform`), if any.
        platform: Option<String>,
    },
    /// The rollout of `add --rollout` or `rollout` is neither a whole percentage from 0 to
    /// 100 nor (for `rollout`) `halt` or `resume [PERCENT]`.
    #[error(
        "`{given}` is not a rollout: use a whole percentage from 0 to 100, `halt` or `resume [PERCENT]`"
    )]
    InvalidRollout {
        /// What was given.
        given: String,
    },
    /// `rollout`, `yank` or `status` names a version the repository has no archive of.
    #[error("no release {version}{} is published", platform.as_deref().map(|p| format!(" for {p}")).unwrap_or_default())]
    NoSuchRelease {
        /// The version asked for.
        version: Version,
        /// The platform asked for, if any.
        platform: Option<String>,
    },
    /// `yank` of the only release that is not yanked: installs would have nothing to go back
    /// to.
    #[error(
        "{version} is the only release that is not yanked: publish a fixed release first, then yank {version}"
    )]
    YankOnlyRelease {
        /// The version asked for.
        version: Version,
    },

    // ---- target-mismatch
    /// The previous release's archive cannot be read.
    #[error(
        "cannot read the previous release {} ({PREVIOUS_FIX})",
        path.display()
    )]
    PreviousUnreadable {
        /// The archive file in `targets/`.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The previous release's archive does not match its signed length and sha256.
    #[error(
        "previous release file {} does not match its signed length and sha256 ({PREVIOUS_FIX})",
        path.display()
    )]
    PreviousMismatch {
        /// The archive file in `targets/`.
        path: PathBuf,
    },
    /// The previous release's archive cannot be decompressed.
    #[error(
        "cannot decompress the previous release {} ({PREVIOUS_FIX})",
        path.display()
    )]
    PreviousCorrupt {
        /// The archive file in `targets/`.
        path: PathBuf,
        /// `tufd-core`'s archive error.
        #[source]
        source: Box<ArchiveError>,
    },
    /// The tar inside the previous release does not match its signed tar digest.
    #[error(
        "the tar inside {} does not match its signed tar_hash ({PREVIOUS_FIX})",
        path.display()
    )]
    PreviousTarMismatch {
        /// The archive file in `targets/`.
        path: PathBuf,
    },

    // ---- locked
    /// Another `tufd-repo` command holds the working folder's lock.
    #[error(
        "another tufd-repo command is changing this repository ({} is locked): wait for it to finish",
        path.display()
    )]
    Locked {
        /// The lock file (`.tufd-repo/lock`).
        path: PathBuf,
    },

    // ---- verify-failed
    /// `import-tufup` found a role whose metadata expired.
    #[error(
        "{role}.json of the tufup repository expired at {expires}: re-sign it with tufup first (`tufup sign {role} -e`), then run import-tufup again"
    )]
    TufupExpired {
        /// The role.
        role: &'static str,
        /// When it expired.
        expires: jiff::Timestamp,
    },
    /// A role expires within the threshold.
    #[error(
        "{roles} expire(s) within {within}: run `tufd-repo renew` (root: `tufd-repo sign root`)"
    )]
    ExpiringSoon {
        /// The roles, comma-separated.
        roles: String,
        /// The threshold.
        within: crate::lifetime::Lifetime,
    },
    /// `verify` found problems.
    #[error("{problems} problem(s) in {}", dir.display())]
    VerifyFailed {
        /// Number of problems.
        problems: usize,
        /// The repository folder.
        dir: PathBuf,
    },

    // ---- io
    /// A file operation failed: `cannot <op> <path>`.
    #[error("cannot {op} {}", path.display())]
    Io {
        /// What was being done (`create`, `write`, `rename into`, …).
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The archive cannot be compressed (kind `io` for write failures, else `internal`).
    #[error("cannot compress the archive")]
    Compress(#[source] Box<ArchiveError>),
    /// A patch cannot be created (kind `io` for read/write failures, else `internal`).
    #[error("cannot create the {codec} patch")]
    Patch {
        /// The codec.
        codec: Codec,
        /// The codec's error.
        #[source]
        source: Box<PatchError>,
    },
    /// `serve` cannot bind its address.
    #[error("cannot bind {addr}: pick another --port")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The Tokio runtime cannot start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// Publishing staged files failed; the repository was rolled back to what it was (the kind
    /// is the cause's).
    #[error("while publishing {what} (the repository is unchanged)")]
    Publish {
        /// `the release`, `the removal`, `the new root`.
        what: &'static str,
        /// The failure.
        #[source]
        source: Box<Error>,
    },

    // ---- publish (kinds: config, already-exists, io)
    /// `publish` cannot use its destination (an unknown scheme, no bucket, an S3 setting the
    /// environment gets wrong). Kind `config`.
    #[error("cannot publish to {dest}: {reason}")]
    PublishDestination {
        /// The destination as given.
        dest: String,
        /// Why.
        reason: String,
    },
    /// `publish` (or `--publish`) without a destination, and none in the config's `[publish]`.
    /// Kind `config`.
    #[error(
        "no destination to publish to: give one (`publish DEST`, `--publish DEST`) or set `destination` in the [publish] table of {}",
        config.display()
    )]
    NoPublishDestination {
        /// The config path.
        config: PathBuf,
    },
    /// A `[publish]` setting of the config cannot be used (a cache header that is not a valid
    /// HTTP header value, an endpoint without a destination). Kind `config`.
    #[error("config {}: [publish] {setting}: {reason}", path.display())]
    ConfigPublish {
        /// The config path.
        path: PathBuf,
        /// The setting (`cache_control_immutable`, …).
        setting: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// A `gs://` or `az://` destination without credentials in the environment (refused
    /// before any request). Kind `config`.
    #[error("cannot publish to {dest}: no credentials in the environment: set {needed}")]
    PublishCredentials {
        /// The destination as given.
        dest: String,
        /// The variables to set.
        needed: &'static str,
    },
    /// The AWS profile an `s3://` destination would use cannot be used: the profile
    /// `AWS_PROFILE` names has no keys in the shared credentials or config file, a file is not
    /// INI, or a key pair is incomplete. Kind `config`.
    #[error("AWS profile {profile} in {}: {reason}", file.display())]
    AwsProfile {
        /// The shared credentials file (or the file that is not INI).
        file: PathBuf,
        /// The profile name.
        profile: String,
        /// Why.
        reason: String,
    },
    /// The destination's `metadata/1.root.json` is not ours. Kind `already-exists`.
    #[error(
        "{dest} holds a different repository (its metadata/1.root.json is not ours): publish to an empty destination or to this repository's own"
    )]
    ForeignDestination {
        /// The destination as given.
        dest: String,
    },
    /// Listing, reading or writing the destination failed (credentials, a missing bucket, an
    /// unreachable endpoint). Kind `io`.
    #[error("cannot {op} {dest}{}{key}", if key.is_empty() { "" } else { "/" })]
    PublishStore {
        /// The destination as given.
        dest: String,
        /// `list`, `read`, `delete`.
        op: &'static str,
        /// The key under the destination, empty for the destination itself.
        key: String,
        /// `object_store`'s error.
        #[source]
        source: Box<object_store::Error>,
    },
    /// Uploading an object failed (the object is not there; what is complete stays as it was).
    /// Kind `io`.
    #[error("cannot upload {key} to {dest}")]
    PublishUpload {
        /// The destination as given.
        dest: String,
        /// The key under the destination.
        key: String,
        /// The cause (`object_store`'s error inside an io error).
        #[source]
        source: std::io::Error,
    },

    // ---- internal
    /// The config cannot be serialised.
    #[error("cannot serialise the config")]
    ConfigSerialize(#[source] toml::ser::Error),
    /// Metadata cannot be serialised.
    #[error("cannot serialise metadata")]
    MetadataSerialize(#[source] serde_json::Error),
    /// The canonical JSON (the signed bytes) of a role cannot be made.
    #[error("cannot make the canonical JSON of {role}")]
    CanonicalForm {
        /// The role.
        role: String,
        /// tough's error.
        #[source]
        source: Box<tough::schema::Error>,
    },
    /// tough refuses a target name that `tufd-core` made.
    #[error("target name {name}")]
    TargetName {
        /// The name.
        name: String,
        /// tough's refusal.
        #[source]
        source: Box<tough::error::Error>,
    },
    /// A folder path cannot be turned into a `file://` URL.
    #[error("cannot make a URL of {}", path.display())]
    FileUrl {
        /// The (absolute) path.
        path: PathBuf,
    },
    /// `tufd-net`'s HTTP client, which `verify` reads the repository through, cannot be built.
    #[error("cannot set up the client's transport")]
    Client(#[source] tufd_net::transport::TransportError),
    /// A blocking task (archiving, diffing) panicked or was cancelled.
    #[error("the {task} task failed")]
    Task {
        /// `archiving`, `patch`.
        task: &'static str,
        /// Tokio's error.
        #[source]
        source: tokio::task::JoinError,
    },
}

/// What to do when the previous release cannot serve as the base of a patch.
const PREVIOUS_FIX: &str = "run `tufd-repo verify`, or publish with --skip-patch";

/// The first line of clap's message without its `error: ` prefix.
fn usage_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or("invalid command line");
    first.strip_prefix("error: ").unwrap_or(first).to_owned()
}

impl Error {
    /// The stable kind of this error (see [`ErrorKind`]).
    pub fn kind(&self) -> ErrorKind {
        use Error as E;
        match self {
            E::Usage(_) => ErrorKind::Usage,
            E::ConfigRead { .. }
            | E::ConfigParse { .. }
            | E::ConfigAppName { .. }
            | E::ConfigMissingRole { .. }
            | E::ConfigThreshold { .. }
            | E::ConfigKeyName { .. }
            | E::ConfigCompat { .. }
            | E::CodecNotCompat { .. }
            | E::TufupConfigRead { .. }
            | E::TufupConfigParse { .. }
            | E::TufupFolderMissing { .. }
            | E::TufupBinaryDiff { .. }
            | E::AppName(_)
            | E::Platform(_)
            | E::DelegateThreshold { .. }
            | E::ExpiryOutOfRange { .. } => ErrorKind::Config,
            E::ConfigExists { .. }
            | E::RepositoryNotEmpty { .. }
            | E::KeyExists { .. }
            | E::TargetConflict { .. }
            | E::NotRegularFile { .. }
            | E::ImportConfigExists { .. } => ErrorKind::AlreadyExists,
            E::PassphraseRead { .. }
            | E::PassphraseEmpty { .. }
            | E::PassphraseMissing { .. }
            | E::PassphraseWrong { .. }
            | E::EncryptNeedsPassphrase
            | E::TufupPassphraseWrong { .. } => ErrorKind::Passphrase,
            E::KeyRead { .. }
            | E::KeyInvalid { .. }
            | E::KeyId { .. }
            | E::KeyGenerate(_)
            | E::KeyEncrypt { .. }
            | E::KeyNotListed { .. }
            | E::TooFewKeys { .. }
            | E::DelegatedKeyMissing { .. }
            | E::PublicKey { .. }
            | E::TooFewRootKeys { .. }
            | E::Sign { .. }
            | E::TufupKeyMissing { .. }
            | E::TufupKeyFormat { .. }
            | E::TufupKeyNotInRoot { .. } => ErrorKind::Key,
            E::InvalidCustom { .. }
            | E::NotARepository { .. }
            | E::NoMetadataFolder { .. }
            | E::MetadataRead { .. }
            | E::MetadataParse { .. }
            | E::MetadataMissingEntry { .. }
            | E::RootLacksRole { .. } => ErrorKind::MetadataInvalid,
            E::BundleMissing { .. }
            | E::BundleNotFolder { .. }
            | E::BundleEmpty { .. }
            | E::BundleSingleFolder { .. } => ErrorKind::Bundle,
            E::Archive { source, .. } => match **source {
                ArchiveError::Stream { .. } => ErrorKind::Io,
                _ => ErrorKind::Bundle,
            },
            E::InvalidVersion { .. }
            | E::NotNewer { .. }
            | E::ReleaseName { .. }
            | E::BadMeta { .. }
            | E::NothingToRemove { .. }
            | E::InvalidRollout { .. }
            | E::NoSuchRelease { .. }
            | E::YankOnlyRelease { .. } => ErrorKind::Release,
            E::PreviousUnreadable { .. }
            | E::PreviousMismatch { .. }
            | E::PreviousCorrupt { .. }
            | E::PreviousTarMismatch { .. } => ErrorKind::TargetMismatch,
            E::Locked { .. } => ErrorKind::Locked,
            E::VerifyFailed { .. } => ErrorKind::VerifyFailed,
            E::ExpiringSoon { .. } | E::TufupExpired { .. } => ErrorKind::Expiring,
            E::Io { .. } | E::Bind { .. } | E::Runtime(_) => ErrorKind::Io,
            E::Compress(source) => match **source {
                ArchiveError::Io { .. } | ArchiveError::Stream { .. } => ErrorKind::Io,
                _ => ErrorKind::Internal,
            },
            E::Patch { source, .. } => match **source {
                PatchError::Io { .. } => ErrorKind::Io,
                _ => ErrorKind::Internal,
            },
            E::Publish { source, .. } => source.kind(),
            E::PublishDestination { .. }
            | E::NoPublishDestination { .. }
            | E::PublishCredentials { .. }
            | E::AwsProfile { .. }
            | E::ConfigPublish { .. } => ErrorKind::Config,
            E::ForeignDestination { .. } => ErrorKind::AlreadyExists,
            E::PublishStore { .. } | E::PublishUpload { .. } => ErrorKind::Io,
            E::ConfigSerialize(_)
            | E::MetadataSerialize(_)
            | E::CanonicalForm { .. }
            | E::TargetName { .. }
            | E::FileUrl { .. }
            | E::Client(_)
            | E::Task { .. } => ErrorKind::Internal,
        }
    }

    /// The process exit code for this error: 2 for [`ErrorKind::Usage`], 1 for the rest.
    pub fn exit_code(&self) -> u8 {
        if self.kind() == ErrorKind::Usage {
            2
        } else {
            1
        }
    }

    /// The line `main` prints on stderr: `error[<kind>]: <message>: <cause>: …` ([`chain`]).
    pub fn report(&self) -> String {
        format!("error[{}]: {}", self.kind(), chain(self))
    }

    /// `map_err` helper: wraps an io error as [`Error::Io`] with `op` and `path`.
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { op, path, source }
    }
}

/// `err` with its causes on one line ([`tufd_core::error::report`]).
pub use tufd_core::error::report as chain;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_are_kebab_case_and_distinct() {
        let names: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        for n in &names {
            assert!(
                n.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{n}"
            );
        }
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
        assert_eq!(ErrorKind::MetadataInvalid.to_string(), "metadata-invalid");
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer: {inner}")]
    struct Repeats {
        inner: std::io::Error,
        #[source]
        source: std::io::Error,
    }

    #[test]
    fn chain_joins_causes_without_repeating_them() {
        let e = Error::KeyRead {
            path: "k.der".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
        };
        assert_eq!(
            e.report(),
            "error[key]: cannot read key k.der: restore the keystore or fix the key names in the config: gone"
        );
        assert_eq!(e.exit_code(), 1);
        // A library error that prints its cause itself: the cause is not added again.
        let r = Repeats {
            inner: std::io::Error::other("disk full"),
            source: std::io::Error::other("disk full"),
        };
        assert_eq!(chain(&r), "outer: disk full");
        // Wrapped errors keep the inner kind and show every layer once.
        let p = Error::Publish {
            what: "the release",
            source: Box::new(Error::TargetConflict { path: "t".into() }),
        };
        assert_eq!(p.kind(), ErrorKind::AlreadyExists);
        assert!(
            p.report().starts_with(
                "error[already-exists]: while publishing the release (the repository is unchanged): target file t already exists"
            ),
            "{}",
            p.report()
        );
        let multi = Error::ConfigParse {
            path: "c.toml".into(),
            source: Box::new(toml::from_str::<toml::Table>("a = ").unwrap_err()),
        };
        assert!(!multi.report().contains('\n'), "{}", multi.report());
    }

    #[test]
    fn bad_meta_says_why() {
        let not_object = Error::BadMeta { source: None };
        assert!(chain(&not_object).ends_with("': not an object"));
        let not_json = Error::BadMeta {
            source: serde_json::from_str::<serde_json::Value>("{").err(),
        };
        assert!(chain(&not_json).contains("'{\"changes\": [\"...\"]}': EOF"));
    }
}
