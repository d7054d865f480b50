//! Which targets a client of one platform considers (docs/repository-format.md, "Platforms"),
//! before any other planner rule.
//!
//! - A client of platform `P` considers only targets published under `P/` when the repository
//!   has at least one such target of its app; another platform's targets never count.
//! - Otherwise (a flat repository, or one with no release for `P` yet) it considers the flat
//!   targets (`<app>-<version><suffix>`), as every client did before platforms existed.
//! - A client with no platform (`None`: a system outside the known `<os>-<arch>` names)
//!   considers only flat targets.

use super::TargetInfo;
use crate::platform::Platform;

/// The targets of `targets` a client of `platform` plans from, by the rules in the module
/// documentation; targets of other apps are kept as they are (the planner ignores them).
pub fn select(
    targets: &[TargetInfo],
    app_name: &str,
    platform: Option<&Platform>,
) -> Vec<TargetInfo> {
    let ours = |t: &TargetInfo| t.name.app() == app_name;
    let has_own = platform.is_some()
        && targets
            .iter()
            .any(|t| ours(t) && t.name.platform() == platform);
    let wanted = if has_own { platform } else { None };
    targets
        .iter()
        .filter(|t| !ours(t) || t.name.platform() == wanted)
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custom::{ArchiveCustom, TargetCustom};
    use crate::target_name::TargetName;

    fn t(name: &str) -> TargetInfo {
        TargetInfo {
            name: TargetName::parse(name).unwrap(),
            length: 1,
            custom: TargetCustom::Archive(ArchiveCustom::default()),
        }
    }

    fn names(v: &[TargetInfo]) -> Vec<&str> {
        v.iter().map(|t| t.name.as_str()).collect()
    }

    #[test]
    fn own_platform_only_else_flat() {
        let linux = Platform::parse("linux-x86_64").unwrap();
        let mac = Platform::parse("macos-aarch64").unwrap();
        let all = [
            t("app-1.0.tar.gz"),
            t("linux-x86_64/app-2.0.tar.gz"),
            t("windows-x86_64/app-2.0.tar.gz"),
            t("windows-x86_64/app-3.0.tar.gz"),
            t("other-1.0.tar.gz"),
        ];
        assert_eq!(
            names(&select(&all, "app", Some(&linux))),
            ["linux-x86_64/app-2.0.tar.gz", "other-1.0.tar.gz"]
        );
        assert_eq!(
            names(&select(&all, "app", Some(&mac))),
            ["app-1.0.tar.gz", "other-1.0.tar.gz"],
            "no release for the platform yet: the flat ones"
        );
        assert_eq!(
            names(&select(&all, "app", None)),
            ["app-1.0.tar.gz", "other-1.0.tar.gz"]
        );
    }
}
