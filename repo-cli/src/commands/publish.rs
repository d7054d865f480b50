//! `tufd-repo publish DEST`: copies the served tree (`repository/{metadata,targets}`) to object
//! storage (`s3://bucket/prefix`, any S3-compatible service with `--endpoint URL`;
//! `gs://bucket/prefix`; `az://container/prefix`, see [`cloud`]) or a local folder, through
//! the `object_store` crate.
//!
//! It uploads what the destination lacks, in an order that keeps every state a client can
//! observe consistent: targets first, then the versioned metadata of targets (and delegated
//! roles), then snapshot, then `N.root.json` and `root.json`, and `timestamp.json` last; each
//! group is complete before the next one starts. Objects under a consistent-snapshot name
//! (`N.role.json`, `<sha256>.<target>`) never change content, so one that exists with the same
//! size is skipped; the other names (`timestamp.json`, `root.json`) are compared byte for byte.
//! Metadata is sent as `Content-Type: application/json`; consistent-snapshot names carry
//! `Cache-Control: public, max-age=31536000, immutable`, the others `no-cache`, both
//! configurable in the config's `[publish]` table (a local folder has no object metadata: its
//! web server decides). Without `DEST`, the destination (and its endpoint) come from that table. Nothing is deleted unless asked:
//! `--prune-older-than DAYS` deletes, after `timestamp.json` is up, the objects no current
//! metadata references that are older than DAYS ([`prune`] says which), and does not upload
//! such objects either. Progress (bytes uploaded) goes to stderr as `add`'s does.
//!
//! A destination whose `metadata/1.root.json` differs from ours holds another repository: it is
//! refused before anything is uploaded.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use clap::Args;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{Attribute, Attributes, ObjectStore, ObjectStoreExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Ctx;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::progress;

pub mod aws_profile;
pub mod cloud;
pub mod prune;

/// `Cache-Control` of objects whose name never changes content.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of `timestamp.json`, `root.json` and other names that change content.
pub const NO_CACHE: &str = "no-cache";

/// Uploads running at the same time within one group.
const CONCURRENCY: usize = 4;
/// Objects up to this size go in one PUT; larger ones as a multipart upload.
const PART_BYTES: usize = 16 << 20;

/// Arguments of `publish`.
#[derive(Debug, Default, Args)]
pub struct PublishArgs {
    /// Where to publish: `s3://bucket/prefix` (credentials and region from the standard AWS
    /// environment variables, else the `AWS_PROFILE` profile of `~/.aws/credentials` and
    /// `~/.aws/config`), `gs://bucket/prefix` (`GOOGLE_APPLICATION_CREDENTIALS`, …),
    /// `az://container/prefix` (`AZURE_STORAGE_ACCOUNT_NAME`, `AZURE_STORAGE_ACCOUNT_KEY`, …)
    /// or a local folder. Default: `destination` in the config's `[publish]` table.
    pub dest: Option<String>,
    /// S3-compatible endpoint URL (MinIO, R2, …), e.g. `http://127.0.0.1:9000`; path-style
    /// requests. Default, when DEST is not given: `endpoint` in the config's `[publish]` table.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// List what would be uploaded (and deleted), change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// After the upload, delete from the destination the objects under `metadata/` and
    /// `targets/` that no current metadata references and that were uploaded more than DAYS
    /// days ago (every root, `timestamp.json` and the current release's files stay).
    #[arg(long, value_name = "DAYS")]
    pub prune_older_than: Option<u64>,
}

/// One object of the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    /// The key under the destination (`metadata/timestamp.json`).
    pub key: String,
    /// Its size in bytes.
    pub len: u64,
    /// `Cache-Control` sent with it.
    pub cache_control: String,
}

/// What `publish` did (or, with `--dry-run`, would do).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishOutcome {
    /// The destination as given.
    pub dest: String,
    /// Whether nothing was uploaded on purpose.
    pub dry_run: bool,
    /// The objects uploaded (or to upload), in order.
    pub uploaded: Vec<Upload>,
    /// Objects already at the destination, or (when pruning) not referenced and not uploaded.
    pub skipped: usize,
    /// The keys deleted (or to delete), sorted; `None` without `--prune-older-than`.
    pub pruned: Option<Vec<String>>,
}

impl fmt::Display for PublishOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes: u64 = self.uploaded.iter().map(|u| u.len).sum();
        if self.dry_run {
            for u in &self.uploaded {
                writeln!(f, "would upload {} ({} bytes)", u.key, u.len)?;
            }
            for key in self.pruned.iter().flatten() {
                writeln!(f, "would delete {key}")?;
            }
            write!(
                f,
                "dry run: would upload {} object(s), {bytes} bytes, to {}; {} already there",
                self.uploaded.len(),
                self.dest,
                self.skipped
            )?;
            if let Some(pruned) = &self.pruned {
                write!(f, "; would delete {} object(s)", pruned.len())?;
            }
        } else {
            write!(
                f,
                "published {} object(s), {bytes} bytes, to {}; {} already there",
                self.uploaded.len(),
                self.dest,
                self.skipped
            )?;
            if let Some(pruned) = &self.pruned {
                write!(f, "; deleted {} object(s)", pruned.len())?;
            }
        }
        Ok(())
    }
}

/// A file of the served tree and where it goes.
#[derive(Clone, Debug)]
struct Local {
    path: PathBuf,
    key: String,
    len: u64,
    group: u8,
    version: u64,
    immutable: bool,
    json: bool,
}

/// Where to publish, after the command line and the config are merged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The destination as given (on the command line, or in the config).
    pub dest: String,
    /// A local folder's path (a relative one in the config is relative to the config's folder).
    pub local: PathBuf,
    /// The S3-compatible endpoint.
    pub endpoint: Option<String>,
    /// `Cache-Control` of consistent-snapshot names.
    pub immutable: String,
    /// `Cache-Control` of the names that change content.
    pub mutable: String,
}

impl Target {
    /// Merges `args` with the config's `[publish]` table: a destination on the command line wins
    /// and takes only `--endpoint`; without one, the table's `destination` and `endpoint` are
    /// used (`--endpoint` still wins). The cache headers come from the table or the defaults
    /// ([`IMMUTABLE`], [`NO_CACHE`]).
    ///
    /// # Errors
    /// [`Error::NoPublishDestination`] when neither gives a destination.
    pub fn resolve(args: &PublishArgs, config: &Config) -> Result<Self> {
        let table = config.publish.clone().unwrap_or_default();
        let (dest, local, endpoint) = match (&args.dest, table.destination) {
            (Some(dest), _) => (dest.clone(), PathBuf::from(dest), args.endpoint.clone()),
            (None, Some(dest)) => (
                dest.clone(),
                config.base_dir().join(&dest),
                args.endpoint.clone().or(table.endpoint),
            ),
            (None, None) => {
                return Err(Error::NoPublishDestination {
                    config: config.path.clone(),
                });
            }
        };
        Ok(Self {
            dest,
            local,
            endpoint,
            immutable: table
                .cache_control_immutable
                .unwrap_or_else(|| IMMUTABLE.into()),
            mutable: table
                .cache_control_mutable
                .unwrap_or_else(|| NO_CACHE.into()),
        })
    }

    fn cache_control(&self, immutable: bool) -> &str {
        if immutable {
            &self.immutable
        } else {
            &self.mutable
        }
    }
}

/// The opened destination.
struct Dest {
    store: Arc<dyn ObjectStore>,
    attributes: bool,
}

/// Publishes the served tree to `args.dest`, or to the config's destination.
///
/// # Errors
/// [`Error::PublishDestination`] for a destination that cannot be used and
/// [`Error::NoPublishDestination`] (kind `config`),
/// [`Error::ForeignDestination`] when it holds another repository (`already-exists`),
/// [`Error::PublishStore`] when listing, reading, uploading or deleting fails (`io`:
/// credentials, a missing bucket, an unreachable endpoint), [`Error::Io`] for local files, and
/// with `--prune-older-than` the metadata errors of [`prune::referenced`].
pub async fn run(ctx: &Ctx, args: PublishArgs) -> Result<PublishOutcome> {
    let layout = &ctx.layout;
    if !layout.metadata.is_dir() {
        return Err(Error::NoMetadataFolder {
            dir: layout.dir.clone(),
        });
    }
    let mut files = Vec::new();
    collect(&layout.targets, "targets", &mut files)?;
    collect(&layout.metadata, "metadata", &mut files)?;
    if !files.iter().any(|f| f.key == "metadata/1.root.json") {
        return Err(Error::NotARepository {
            metadata: layout.metadata.clone(),
        });
    }
    files.sort_by(|a, b| (a.group, a.version, &a.key).cmp(&(b.group, b.version, &b.key)));

    let target = Target::resolve(&args, &ctx.config)?;
    let dest = open(&target)?;
    let store_err = |op: &'static str, key: &str| {
        let dest = target.dest.clone();
        let key = key.to_owned();
        move |source| Error::PublishStore {
            dest,
            op,
            key,
            source: Box::new(source),
        }
    };

    // Refuse another repository before anything is uploaded.
    let ours = std::fs::read(layout.metadata.join("1.root.json"))
        .map_err(Error::io("read", layout.metadata.join("1.root.json")))?;
    if let Some(theirs) = get(&dest, "metadata/1.root.json")
        .await
        .map_err(store_err("read", "metadata/1.root.json"))?
        && theirs != ours
    {
        return Err(Error::ForeignDestination { dest: target.dest });
    }

    let listed: Vec<object_store::ObjectMeta> = dest
        .store
        .list(None)
        .try_collect()
        .await
        .map_err(store_err("list", ""))?;
    let existing: HashMap<String, u64> = listed
        .iter()
        .map(|m| (m.location.to_string(), m.size))
        .collect();
    // When pruning, what no current metadata references is neither uploaded nor kept.
    let referenced = match args.prune_older_than {
        Some(_) => Some(prune::referenced(layout)?),
        None => None,
    };

    let mut plan = Vec::new();
    let mut skipped = 0;
    for file in files {
        if let Some(referenced) = &referenced
            && !referenced.contains(&file.key)
            && !prune::always_kept(&file.key)
        {
            skipped += 1;
            continue;
        }
        let there = match existing.get(&file.key) {
            Some(&len) if len == file.len && file.immutable => true,
            Some(&len) if len == file.len => {
                let theirs = get(&dest, &file.key)
                    .await
                    .map_err(store_err("read", &file.key))?;
                let ours = std::fs::read(&file.path).map_err(Error::io("read", &file.path))?;
                theirs.is_some_and(|t| t == ours)
            }
            _ => false,
        };
        if there {
            skipped += 1;
        } else {
            plan.push(file);
        }
    }

    let uploaded = plan
        .iter()
        .map(|f| Upload {
            key: f.key.clone(),
            len: f.len,
            cache_control: target.cache_control(f.immutable).to_owned(),
        })
        .collect();
    if !args.dry_run && !plan.is_empty() {
        let bar = progress::bytes_bar("uploading", plan.iter().map(|f| f.len).sum());
        let mut start = 0;
        while start < plan.len() {
            let group = plan[start].group;
            let end = plan[start..]
                .iter()
                .position(|f| f.group != group)
                .map_or(plan.len(), |n| start + n);
            futures::stream::iter(
                plan[start..end]
                    .iter()
                    .map(|f| upload(&dest, &target, f, &bar)),
            )
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
            start = end;
        }
        bar.finish_and_clear();
    }
    let pruned = match (args.prune_older_than, &referenced) {
        (Some(days), Some(referenced)) => {
            let cutoff = SystemTime::now() - Duration::from_secs(days.saturating_mul(86_400));
            let listed: Vec<prune::Listed> = listed
                .iter()
                .map(|m| prune::Listed {
                    key: m.location.to_string(),
                    modified: m.last_modified.into(),
                })
                .collect();
            let doomed = prune::select(&listed, referenced, cutoff);
            if !args.dry_run {
                // Last, after timestamp.json: nothing the new metadata names is deleted.
                futures::stream::iter(doomed.iter().map(|key| {
                    let store = Arc::clone(&dest.store);
                    let err = store_err("delete", key);
                    async move {
                        match store.delete(&ObjectPath::from(key.as_str())).await {
                            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                            Err(e) => Err(err(e)),
                        }
                    }
                }))
                .buffer_unordered(CONCURRENCY)
                .try_collect::<Vec<()>>()
                .await?;
            }
            Some(doomed)
        }
        _ => None,
    };
    Ok(PublishOutcome {
        dest: target.dest,
        dry_run: args.dry_run,
        uploaded,
        skipped,
        pruned,
    })
}

/// Opens the destination: S3 with the standard AWS environment or shared files
/// ([`aws_profile`]), GCS or Azure with theirs ([`cloud`]), or a local folder (created).
fn open(target: &Target) -> Result<Dest> {
    let bad = |reason: String| Error::PublishDestination {
        dest: target.dest.clone(),
        reason,
    };
    let cloud = match target.dest.split_once("://") {
        Some(("gs", rest)) => Some(cloud::gcs(&target.dest, rest, &env_vars())?),
        Some(("az", rest)) => Some(cloud::azure(&target.dest, rest, &env_vars())?),
        _ => None,
    };
    if let Some((store, prefix)) = cloud {
        if target.endpoint.is_some() {
            return Err(bad("an endpoint goes with s3:// destinations only".into()));
        }
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            store
        } else {
            Arc::new(PrefixStore::new(store, prefix.as_str()))
        };
        return Ok(Dest {
            store,
            attributes: true,
        });
    }
    if let Some(rest) = target.dest.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad("no bucket: use s3://bucket/prefix".into()));
        }
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        let profile = aws_profile::load(&env_vars())?.unwrap_or_default();
        if let Some(key) = profile.access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = profile.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        if let Some(token) = profile.session_token {
            builder = builder.with_token(token);
        }
        if let Some(region) = profile.region {
            builder = builder.with_region(region);
        }
        let endpoint = target.endpoint.clone().or(profile.endpoint);
        if let Some(endpoint) = &endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        let s3 = builder.build().map_err(|e| bad(e.to_string()))?;
        let prefix = prefix.trim_matches('/');
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(PrefixStore::new(s3, prefix))
        };
        return Ok(Dest {
            store,
            attributes: true,
        });
    }
    if let Some((scheme, _)) = target.dest.split_once("://") {
        return Err(bad(format!(
            "{scheme}:// destinations are not supported: use s3://, gs://, az:// or a local folder"
        )));
    }
    if target.endpoint.is_some() {
        return Err(bad("--endpoint needs an s3:// destination".into()));
    }
    let dir = target.local.as_path();
    std::fs::create_dir_all(dir).map_err(Error::io("create", dir))?;
    let local = LocalFileSystem::new_with_prefix(dir).map_err(|e| bad(e.to_string()))?;
    Ok(Dest {
        store: Arc::new(local),
        attributes: false,
    })
}

/// The process environment, the variables that are valid UTF-8.
fn env_vars() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// The object at `key`, or `None` when there is none.
async fn get(dest: &Dest, key: &str) -> object_store::Result<Option<Vec<u8>>> {
    match dest.store.get(&ObjectPath::from(key)).await {
        Ok(r) => Ok(Some(r.bytes().await?.to_vec())),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn upload(
    dest: &Dest,
    target: &Target,
    file: &Local,
    bar: &indicatif::ProgressBar,
) -> Result<()> {
    let mut attributes = Attributes::new();
    if dest.attributes {
        let content_type = if file.json {
            "application/json"
        } else {
            "application/octet-stream"
        };
        attributes.insert(Attribute::ContentType, content_type.into());
        attributes.insert(
            Attribute::CacheControl,
            target.cache_control(file.immutable).to_owned().into(),
        );
    }
    let mut reader = tokio::fs::File::open(&file.path)
        .await
        .map_err(Error::io("open", &file.path))?;
    let mut writer = BufWriter::with_capacity(
        Arc::clone(&dest.store),
        ObjectPath::from(file.key.as_str()),
        PART_BYTES,
    )
    .with_attributes(attributes);
    let copied = async {
        let mut buf = vec![0; 1 << 20];
        loop {
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            writer.write_all(&buf[..n]).await?;
            bar.inc(n as u64);
        }
        writer.shutdown().await
    }
    .await;
    copied.map_err(|source| Error::PublishUpload {
        dest: target.dest.clone(),
        key: file.key.clone(),
        source,
    })
}

/// Adds every regular file under `dir` (recursively, hidden names left out) as `<prefix>/…`.
fn collect(dir: &Path, prefix: &str, out: &mut Vec<Local>) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("list", dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(Error::io("list", dir))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let meta = std::fs::metadata(&path).map_err(Error::io("read", &path))?;
        let key = format!("{prefix}/{name}");
        if meta.is_dir() {
            collect(&path, &key, out)?;
        } else if meta.is_file() {
            let (group, version, immutable) = classify(&key, &name);
            out.push(Local {
                path,
                json: key.starts_with("metadata/"),
                key,
                len: meta.len(),
                group,
                version,
                immutable,
            });
        }
    }
    Ok(())
}

/// Upload group (0 targets, 1 targets and delegated roles, 2 snapshot, 3 root, 4 timestamp),
/// version for ordering within the group, and whether the name never changes content.
fn classify(key: &str, name: &str) -> (u8, u64, bool) {
    if key.starts_with("targets/") {
        let hashed = name
            .split_once('.')
            .is_some_and(|(h, _)| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
        return (0, 0, hashed);
    }
    let (version, role) = match name.split_once('.') {
        Some((v, rest)) if v.parse::<u64>().is_ok() => (v.parse().ok(), rest),
        _ => (None, name),
    };
    let group = match role {
        "snapshot.json" => 2,
        "root.json" => 3,
        "timestamp.json" => 4,
        _ => 1,
    };
    // Unversioned names sort after every versioned one of their group.
    (group, version.unwrap_or(u64::MAX), version.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_wins_over_the_config_destination() {
        let mut config = Config::new("demo", PathBuf::from("work/tufd-repo.toml"));
        let args = |dest: Option<&str>, endpoint: Option<&str>| PublishArgs {
            dest: dest.map(str::to_owned),
            endpoint: endpoint.map(str::to_owned),
            ..PublishArgs::default()
        };
        assert!(matches!(
            Target::resolve(&args(None, None), &config),
            Err(Error::NoPublishDestination { .. })
        ));
        config.publish = Some(crate::config::PublishConfig {
            destination: Some("site".into()),
            endpoint: Some("http://127.0.0.1:9000".into()),
            cache_control_immutable: None,
            cache_control_mutable: Some("max-age=60".into()),
        });
        let t = Target::resolve(&args(None, None), &config).unwrap();
        assert_eq!(t.dest, "site");
        assert_eq!(t.local, PathBuf::from("work/site"));
        assert_eq!(t.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(
            (t.immutable.as_str(), t.mutable.as_str()),
            (IMMUTABLE, "max-age=60")
        );
        let t = Target::resolve(&args(None, Some("http://other")), &config).unwrap();
        assert_eq!(t.endpoint.as_deref(), Some("http://other"));
        // A destination on the command line takes only --endpoint, and the config's headers.
        let t = Target::resolve(&args(Some("s3://b/p"), None), &config).unwrap();
        assert_eq!((t.dest.as_str(), t.endpoint), ("s3://b/p", None));
        assert_eq!(t.mutable, "max-age=60");
    }

    #[test]
    fn order_and_cache_control_follow_the_names() {
        let sha = "a".repeat(64);
        assert_eq!(
            classify(
                &format!("targets/{sha}.demo-1.0.tar.gz"),
                &format!("{sha}.demo-1.0.tar.gz")
            ),
            (0, 0, true)
        );
        assert_eq!(
            classify("targets/demo-1.0.tar.gz", "demo-1.0.tar.gz"),
            (0, 0, false)
        );
        assert_eq!(
            classify("metadata/3.targets.json", "3.targets.json"),
            (1, 3, true)
        );
        assert_eq!(
            classify("metadata/3.snapshot.json", "3.snapshot.json"),
            (2, 3, true)
        );
        assert_eq!(
            classify("metadata/2.root.json", "2.root.json"),
            (3, 2, true)
        );
        assert_eq!(
            classify("metadata/root.json", "root.json"),
            (3, u64::MAX, false)
        );
        assert_eq!(
            classify("metadata/timestamp.json", "timestamp.json"),
            (4, u64::MAX, false)
        );
    }
}
