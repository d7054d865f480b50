//! Custom target metadata (the TUF `custom` field, signed with targets metadata).
//!
//! The shape is tufup's (≥ 0.7): `{"user": <any>, "tufup": {…}}`, with tufd's own fields kept
//! *inside* the `tufup` object, because tufup splits `custom` only when its top-level keys are
//! exactly `user` and `tufup` (docs/repository-format.md, "Custom target metadata"):
//!
//! - archive: `tufup.required` (bool), and tufd's `tufup.tar_hash` / `tufup.tar_size` /
//!   `tufup.tar_hash_algorithm` of the uncompressed tar, and `tufup.modes`, the permission
//!   bits of its members that differ from the defaults ([`TarModes`]); and who is offered the
//!   release ([`ReleaseControl`]): `tufup.published` (RFC 3339 UTC), `tufup.rollout`
//!   (`{"percent", "halted"}`) and `tufup.yanked` (`{"reason"}`), which tufup ignores;
//! - patch: `tufup.tar_hash`, `tufup.tar_size`, `tufup.tar_hash_algorithm` of the tar the patch
//!   produces, plus tufd's `tufup.codec` and `tufup.from`.
//!
//! Readers also accept tufup 0.6's flat form (the whole dict is both user and internal data) and
//! no custom at all. A patch without `codec` is `bsdiff4`; a patch without `tar_hash` cannot be
//! verified and is never applied.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value, json};

use crate::archive::TarModes;
use crate::error::{Error, Result};
use crate::hash::Sha256;
use crate::rollout::{Percent, ReleaseControl, Rollout, Yank};
use crate::version::Version;

/// A binary patch format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Codec {
    /// `bidiff-zstd`: a bidiff patch compressed with zstd (tufd's default before `bsdiff-lzma`).
    BidiffZstd,
    /// `bsdiff4`: Colin Percival's `BSDIFF40` format, what tufup clients apply.
    Bsdiff4,
    /// `bsdiff-lzma`: bsdiff-class matching with the streams coded apart by LZMA2 (tufd's
    /// default: the smallest patches, made fastest, applied in a few MiB; see
    /// `tufd_core::patch::bsdiff_lzma` and docs/performance.md).
    #[default]
    BsdiffLzma,
}

impl Codec {
    /// The name written into metadata and config: `bidiff-zstd`, `bsdiff4` or `bsdiff-lzma`.
    pub fn as_str(self) -> &'static str {
        match self {
            Codec::BidiffZstd => "bidiff-zstd",
            Codec::Bsdiff4 => "bsdiff4",
            Codec::BsdiffLzma => "bsdiff-lzma",
        }
    }
}

impl FromStr for Codec {
    type Err = Error;

    /// # Errors
    /// [`Error::InvalidCodec`] for names other than `bidiff-zstd`, `bsdiff4` and `bsdiff-lzma`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "bidiff-zstd" => Ok(Codec::BidiffZstd),
            "bsdiff4" => Ok(Codec::Bsdiff4),
            "bsdiff-lzma" => Ok(Codec::BsdiffLzma),
            _ => Err(Error::InvalidCodec { input: s.into() }),
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Codec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Codec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Size and digest of an uncompressed tar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TarDigest {
    /// sha256 of the uncompressed tar.
    pub sha256: Sha256,
    /// Length of the uncompressed tar, in bytes.
    pub size_bytes: u64,
}

/// Custom metadata of a full archive (`.tar.gz` / `.tar.zst`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ArchiveCustom {
    /// tufup's `required`: clients stop at this release before going further.
    pub required: bool,
    /// The uncompressed tar inside the archive (tufd; absent in tufup repositories). Lets a
    /// client rebuild the base tar from an install folder and verify it.
    pub tar: Option<TarDigest>,
    /// The permission bits of the tar's members that differ from the defaults (tufd; absent in
    /// tufup repositories and in tufd releases before it): lets a client on a file system
    /// without mode bits rebuild `tar` exactly.
    pub modes: Option<TarModes>,
    /// Who is offered the release: rollout, yank, publication time (tufd; absent means
    /// everyone, at once).
    pub control: ReleaseControl,
    /// The app developer's free JSON (release notes, …); `None` is written as `null`.
    pub user: Option<Value>,
}

/// Custom metadata of a patch.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchCustom {
    /// The uncompressed tar the patch produces. `None` for tufup ≤ 0.5 patches, which can't be
    /// verified and are never applied.
    pub tar: Option<TarDigest>,
    /// Patch format; `bsdiff4` when the field is absent (tufup).
    pub codec: Codec,
    /// The version the patch applies to; `None` means "the previous release" (tufup).
    pub from: Option<Version>,
    /// The app developer's free JSON.
    pub user: Option<Value>,
}

/// Custom metadata of any target.
#[derive(Clone, Debug, PartialEq)]
pub enum TargetCustom {
    /// Of an archive.
    Archive(ArchiveCustom),
    /// Of a patch.
    Patch(PatchCustom),
}

fn tar_fields(tar: &TarDigest, obj: &mut Map<String, Value>) {
    obj.insert("tar_hash".into(), json!(tar.sha256.to_string()));
    obj.insert("tar_size".into(), json!(tar.size_bytes));
    obj.insert("tar_hash_algorithm".into(), json!("sha256"));
}

impl ArchiveCustom {
    /// The TUF `custom` map in tufup's shape: `{"user": …, "tufup": {"required", "tar_hash",
    /// "tar_size", "tar_hash_algorithm", "modes", "published", "rollout", "yanked"}}` (the last
    /// three only when set).
    pub fn to_custom(&self) -> HashMap<String, Value> {
        let mut tufup = Map::new();
        tufup.insert("required".into(), json!(self.required));
        if let Some(tar) = &self.tar {
            tar_fields(tar, &mut tufup);
        }
        if let Some(modes) = &self.modes {
            tufup.insert("modes".into(), modes.to_json());
        }
        control_fields(&self.control, &mut tufup);
        HashMap::from([
            ("user".into(), self.user.clone().unwrap_or(Value::Null)),
            ("tufup".into(), Value::Object(tufup)),
        ])
    }
}

impl PatchCustom {
    /// The TUF `custom` map: `{"user": …, "tufup": {"tar_hash", "tar_size",
    /// "tar_hash_algorithm", "codec", "from"}}`.
    pub fn to_custom(&self) -> HashMap<String, Value> {
        let mut tufup = Map::new();
        if let Some(tar) = &self.tar {
            tar_fields(tar, &mut tufup);
        }
        tufup.insert("codec".into(), json!(self.codec.as_str()));
        if let Some(from) = &self.from {
            tufup.insert("from".into(), json!(from.to_string()));
        }
        HashMap::from([
            ("user".into(), self.user.clone().unwrap_or(Value::Null)),
            ("tufup".into(), Value::Object(tufup)),
        ])
    }
}

fn control_fields(control: &ReleaseControl, obj: &mut Map<String, Value>) {
    if let Some(published) = control
        .published
        .and_then(|s| i64::try_from(s).ok())
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
    {
        obj.insert("published".into(), json!(published.to_string()));
    }
    if let Some(rollout) = control.rollout {
        obj.insert(
            "rollout".into(),
            json!({"percent": rollout.percent.get(), "halted": rollout.halted}),
        );
    }
    if let Some(yank) = &control.yanked {
        obj.insert("yanked".into(), json!({"reason": yank.reason}));
    }
}

/// Replaces the release control fields (`published`, `rollout`, `yanked`) of an archive's
/// TUF `custom` map in place, leaving every other field as it is: inside `tufup` when the map
/// has tufup's split shape, at the top level of a flat (tufup 0.6) map, where tufd reads them
/// too.
pub fn write_control(custom: &mut HashMap<String, Value>, control: &ReleaseControl) {
    let keys_are_split =
        custom.len() == 2 && custom.contains_key("user") && custom.contains_key("tufup");
    let mut fields = Map::new();
    control_fields(control, &mut fields);
    if keys_are_split {
        let tufup = custom
            .entry("tufup".into())
            .or_insert_with(|| Value::Object(Map::new()));
        if !tufup.is_object() {
            *tufup = Value::Object(Map::new());
        }
        let Value::Object(obj) = tufup else {
            unreachable!("made an object above")
        };
        for key in CONTROL_KEYS {
            obj.remove(key);
        }
        obj.extend(fields);
    } else {
        for key in CONTROL_KEYS {
            custom.remove(key);
        }
        custom.extend(fields);
    }
}

/// The keys of [`ReleaseControl`] in custom metadata.
const CONTROL_KEYS: [&str; 3] = ["published", "rollout", "yanked"];

/// Reads `published`, `rollout` and `yanked` (each absent or `null` when unset).
fn read_control(
    internal: &Map<String, Value>,
    bad: impl Fn(String) -> Error,
) -> Result<ReleaseControl> {
    let published = match internal.get("published") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            let t: jiff::Timestamp = s
                .parse()
                .map_err(|e| bad(format!("published {s:?} is not an RFC 3339 time: {e}")))?;
            Some(u64::try_from(t.as_second()).unwrap_or(0))
        }
        Some(other) => return Err(bad(format!("published {other} is not a string"))),
    };
    let rollout = match internal.get("rollout") {
        None | Some(Value::Null) => None,
        Some(Value::Object(r)) => {
            let percent = r
                .get("percent")
                .and_then(Value::as_u64)
                .and_then(|p| u8::try_from(p).ok())
                .and_then(Percent::new)
                .ok_or_else(|| bad("rollout.percent is not a whole number 0-100".into()))?;
            let halted = match r.get("halted") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(other) => return Err(bad(format!("rollout.halted {other} is not a bool"))),
            };
            Some(Rollout { percent, halted })
        }
        Some(other) => return Err(bad(format!("rollout {other} is not an object"))),
    };
    let yanked = match internal.get("yanked") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => None,
        Some(Value::Bool(true)) => Some(Yank::default()),
        Some(Value::Object(y)) => Some(Yank {
            reason: y.get("reason").and_then(Value::as_str).map(str::to_owned),
        }),
        Some(other) => return Err(bad(format!("yanked {other} is not an object"))),
    };
    Ok(ReleaseControl {
        rollout,
        yanked,
        published,
    })
}

/// Splits `custom` by tufup's rule: exactly the keys {`user`, `tufup`} → (user, internal);
/// otherwise the whole map serves as both (tufup 0.6's flat form); absent → nothing.
fn split(custom: &HashMap<String, Value>) -> (Option<Value>, Map<String, Value>) {
    let keys_are_split =
        custom.len() == 2 && custom.contains_key("user") && custom.contains_key("tufup");
    if keys_are_split {
        let user = custom.get("user").filter(|u| !u.is_null()).cloned();
        let internal = match custom.get("tufup") {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        (user, internal)
    } else {
        let whole: Map<String, Value> =
            custom.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let user = (!whole.is_empty()).then(|| Value::Object(whole.clone()));
        (user, whole)
    }
}

fn read_tar(internal: &Map<String, Value>, target: &str) -> Result<Option<TarDigest>> {
    let bad = |reason: String| Error::InvalidCustom {
        target: target.to_owned(),
        reason,
    };
    let (Some(hash), Some(size)) = (internal.get("tar_hash"), internal.get("tar_size")) else {
        return Ok(None);
    };
    if let Some(alg) = internal.get("tar_hash_algorithm")
        && alg != "sha256"
    {
        return Err(bad(format!("tar_hash_algorithm {alg} is not sha256")));
    }
    let sha256 = hash
        .as_str()
        .ok_or_else(|| bad("tar_hash is not a string".into()))?
        .parse::<Sha256>()
        .map_err(|e| bad(e.to_string()))?;
    let size_bytes = size
        .as_u64()
        .ok_or_else(|| bad("tar_size is not a non-negative integer".into()))?;
    Ok(Some(TarDigest { sha256, size_bytes }))
}

impl TargetCustom {
    /// Reads the custom metadata of the target `target` (a file name; `.patch` selects the
    /// patch reading). `custom` is TUF's `custom` object, empty when absent.
    ///
    /// # Errors
    /// [`Error::InvalidCustom`] when a field tufd relies on has the wrong type (`required` not a
    /// bool, `tar_hash` not hex sha256, `tar_size` not an integer, an unknown `codec`, a `from`
    /// that is not PEP 440). Unknown fields are ignored.
    pub fn parse(target: &str, is_patch: bool, custom: &HashMap<String, Value>) -> Result<Self> {
        let bad = |reason: String| Error::InvalidCustom {
            target: target.to_owned(),
            reason,
        };
        let (user, internal) = split(custom);
        let tar = read_tar(&internal, target)?;
        if is_patch {
            let codec = match internal.get("codec") {
                None | Some(Value::Null) => Codec::Bsdiff4,
                Some(Value::String(s)) => s.parse().map_err(|e: Error| bad(e.to_string()))?,
                Some(other) => return Err(bad(format!("codec {other} is not a string"))),
            };
            let from = match internal.get("from") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.parse().map_err(|e: Error| bad(e.to_string()))?),
                Some(other) => return Err(bad(format!("from {other} is not a string"))),
            };
            Ok(TargetCustom::Patch(PatchCustom {
                tar,
                codec,
                from,
                user,
            }))
        } else {
            let required = match internal.get("required") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(other) => return Err(bad(format!("required {other} is not a bool"))),
            };
            let modes = match internal.get("modes") {
                None | Some(Value::Null) => None,
                Some(value) => Some(TarModes::from_json(value).map_err(bad)?),
            };
            let control = read_control(&internal, bad)?;
            Ok(TargetCustom::Archive(ArchiveCustom {
                required,
                tar,
                modes,
                control,
                user,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> HashMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    const H: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn archive_round_trip() {
        let a = ArchiveCustom {
            required: true,
            tar: Some(TarDigest {
                sha256: H.parse().unwrap(),
                size_bytes: 10240,
            }),
            modes: None,
            control: ReleaseControl {
                rollout: Some(Rollout {
                    percent: Percent::new(10).unwrap(),
                    halted: true,
                }),
                yanked: Some(Yank {
                    reason: Some("crashes".into()),
                }),
                published: Some(1_764_900_000),
            },
            user: Some(json!({"changes": ["x"]})),
        };
        let custom = a.to_custom();
        assert_eq!(custom["tufup"]["required"], json!(true));
        assert_eq!(custom["tufup"]["tar_hash"], json!(H));
        assert_eq!(custom["tufup"]["published"], json!("2025-12-05T02:00:00Z"));
        assert_eq!(
            custom["tufup"]["rollout"],
            json!({"percent": 10, "halted": true})
        );
        assert_eq!(custom["tufup"]["yanked"], json!({"reason": "crashes"}));
        let keys: Vec<_> = {
            let mut k: Vec<_> = custom.keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(
            keys,
            ["tufup", "user"],
            "tufup only splits exactly these keys"
        );
        assert_eq!(
            TargetCustom::parse("a-1.tar.gz", false, &custom).unwrap(),
            TargetCustom::Archive(a)
        );
    }

    #[test]
    fn control_is_rewritten_in_place() {
        let mut custom = map(
            json!({"user": {"notes": 1}, "tufup": {"required": true, "tar_hash": H, "tar_size": 3, "rollout": {"percent": 5}}}),
        );
        let control = ReleaseControl {
            yanked: Some(Yank {
                reason: Some("bad".into()),
            }),
            ..ReleaseControl::default()
        };
        write_control(&mut custom, &control);
        assert_eq!(
            custom["tufup"],
            json!({"required": true, "tar_hash": H, "tar_size": 3, "yanked": {"reason": "bad"}})
        );
        assert_eq!(custom["user"], json!({"notes": 1}));
        let TargetCustom::Archive(a) = TargetCustom::parse("a-1.tar.gz", false, &custom).unwrap()
        else {
            panic!()
        };
        assert_eq!(a.control, control);
        let mut flat = map(json!({"required": true}));
        write_control(&mut flat, &control);
        let TargetCustom::Archive(a) = TargetCustom::parse("a-1.tar.gz", false, &flat).unwrap()
        else {
            panic!()
        };
        assert!(a.required);
        assert_eq!(a.control, control);
    }

    #[test]
    fn patch_round_trip() {
        let p = PatchCustom {
            tar: Some(TarDigest {
                sha256: H.parse().unwrap(),
                size_bytes: 3,
            }),
            codec: Codec::BidiffZstd,
            from: Some("1.0".parse().unwrap()),
            user: None,
        };
        let custom = p.to_custom();
        assert_eq!(custom["user"], Value::Null);
        assert_eq!(custom["tufup"]["codec"], json!("bidiff-zstd"));
        assert_eq!(
            TargetCustom::parse("a-2.patch", true, &custom).unwrap(),
            TargetCustom::Patch(p)
        );
    }

    #[test]
    fn reads_tufup_07_patch_without_codec_as_bsdiff4() {
        let custom = map(
            json!({"user": null, "tufup": {"tar_hash": H, "tar_size": 7, "tar_hash_algorithm": "sha256"}}),
        );
        let TargetCustom::Patch(p) = TargetCustom::parse("a-2.patch", true, &custom).unwrap()
        else {
            panic!()
        };
        assert_eq!(p.codec, Codec::Bsdiff4);
        assert_eq!(p.from, None);
        assert_eq!(p.tar.unwrap().size_bytes, 7);
    }

    #[test]
    fn reads_tufup_06_flat_form() {
        let custom = map(json!({"tar_hash": H, "tar_size": 7, "tar_hash_algorithm": "sha256"}));
        let TargetCustom::Patch(p) = TargetCustom::parse("a-2.patch", true, &custom).unwrap()
        else {
            panic!()
        };
        assert_eq!(p.tar.unwrap().sha256.to_string(), H);
        let flat_archive = map(json!({"changes": ["new"], "required": true}));
        let TargetCustom::Archive(a) =
            TargetCustom::parse("a-2.tar.gz", false, &flat_archive).unwrap()
        else {
            panic!()
        };
        assert!(a.required);
        assert_eq!(a.user.unwrap()["changes"], json!(["new"]));
    }

    #[test]
    fn a_third_key_means_flat_reading() {
        let custom = map(json!({"user": null, "tufup": {"required": true}, "other": 1}));
        let TargetCustom::Archive(a) = TargetCustom::parse("a-2.tar.gz", false, &custom).unwrap()
        else {
            panic!()
        };
        assert!(
            !a.required,
            "tufup reads the whole dict; `required` is not at top level"
        );
    }

    #[test]
    fn no_custom_at_all() {
        let empty = HashMap::new();
        assert_eq!(
            TargetCustom::parse("a-1.tar.gz", false, &empty).unwrap(),
            TargetCustom::Archive(ArchiveCustom::default())
        );
        let TargetCustom::Patch(p) = TargetCustom::parse("a-2.patch", true, &empty).unwrap() else {
            panic!()
        };
        assert_eq!(p.tar, None);
    }

    #[test]
    fn refuses_wrong_types() {
        for bad in [
            json!({"user": null, "tufup": {"required": "yes"}}),
            json!({"user": null, "tufup": {"tar_hash": "zz", "tar_size": 1}}),
            json!({"user": null, "tufup": {"tar_hash": H, "tar_size": -1}}),
            json!({"user": null, "tufup": {"tar_hash": H, "tar_size": 1, "tar_hash_algorithm": "md5"}}),
        ] {
            assert!(
                TargetCustom::parse("a-1.tar.gz", false, &map(bad.clone())).is_err(),
                "{bad}"
            );
        }
        for bad in [
            json!({"user": null, "tufup": {"rollout": {"percent": 101}}}),
            json!({"user": null, "tufup": {"rollout": 10}}),
            json!({"user": null, "tufup": {"published": "yesterday"}}),
            json!({"user": null, "tufup": {"yanked": "yes"}}),
        ] {
            assert!(
                TargetCustom::parse("a-1.tar.gz", false, &map(bad.clone())).is_err(),
                "{bad}"
            );
        }
        let bad_codec = map(json!({"user": null, "tufup": {"codec": "xdelta"}}));
        assert!(TargetCustom::parse("a-2.patch", true, &bad_codec).is_err());
        let bad_from = map(json!({"user": null, "tufup": {"from": "latest"}}));
        assert!(TargetCustom::parse("a-2.patch", true, &bad_from).is_err());
    }
}
