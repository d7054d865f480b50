//! python-tuf 7, the independent TUF writer and client the interop and attack tests check
//! against: the Python interpreter of the venv that has it (`scripts/test.sh` creates `.venv/`
//! with python-tuf 7 and bsdiff4).

use std::path::PathBuf;

use super::bins;

/// The Python with python-tuf 7: `TUFD_PYTHON`, else `<workspace>/.venv/bin/python`.
pub fn tuf7() -> PathBuf {
    std::env::var_os("TUFD_PYTHON").map_or_else(
        || bins::workspace_root().join(".venv/bin/python"),
        PathBuf::from,
    )
}
