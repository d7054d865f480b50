//! What the daemon's integration tests share.

use std::path::Path;

/// The flags of a client of app `demo` 1.0 in `dir` (`app/`, `data/`, an empty `repo/`) whose
/// trusted root is not a valid root: the engine starts, and any check fails with
/// `metadata-invalid`.
pub fn flags(dir: &Path) -> Vec<String> {
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::create_dir_all(dir.join("repo/metadata")).unwrap();
    std::fs::write(dir.join("1.root.json"), "{}").unwrap();
    let d = dir.display();
    vec![
        "--app-name=demo".to_owned(),
        "--current-version=1.0".to_owned(),
        format!("--install-dir={d}/app"),
        format!("--data-dir={d}/data"),
        format!("--metadata-url=file://{d}/repo/metadata/"),
        format!("--targets-url=file://{d}/repo/targets/"),
        format!("--trusted-root={d}/1.root.json"),
        "--poll-interval=0".to_owned(),
    ]
}
