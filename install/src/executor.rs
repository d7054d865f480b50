//! The journaled plan executor: runs a [`CheckedPlan`] (from a WASM hook or the built-in
//! native plan) step by step over the absolute [`Roots`], writing the journal ahead of every
//! disk action, and rolls back on a failing step; [`recover`] finishes or rolls back a plan
//! interrupted by a crash (docs/hooks.md, "How the daemon runs a plan").
//!
//! Paths are resolved at execution time, inside their root: every component below the root
//! is looked at with `symlink_metadata`, and a component that is a link, or a parent that is
//! not a folder, fails the step; the last component is never followed either (renames and
//! removals act on a link itself, `set-mode` refuses a link). The checker already refused
//! `..`, absolute paths and escaping link targets; this is the second, on-disk check.
//!
//! Failure and crash rules (the journal's actions: [`super::journal`]):
//! - A step fails before the point of no return (the start of the first `relaunch`): every
//!   action taken so far is undone in reverse; `remove`d things come back from the trash;
//!   `run` steps are not undoable and are logged as such. The install folder is as before.
//! - A step fails after the point of no return: its own actions are undone, the rest of the
//!   plan is skipped, and the install counts as done with a warning (the new version is
//!   already running; rolling back would change files under it).
//! - On restart ([`recover`]) a journal before the point of no return is rolled back; one past
//!   it is finished: the interrupted step's actions are undone and it and the remaining steps
//!   run again, except `wait-for-exit` and `relaunch` (the app was already started once).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tufd_core::Version;
use tufd_core::install_plan::{CheckedPlan, PlanPath, Program, Step};

use crate::error::InstallError;
use crate::journal::{self, Action, ActionKind, Journal, Recovery, Roots, Syncs};
use crate::process::{RunOutcome, run_with_deadline};

/// Longest a `run` step may take before it is killed and fails: 10 minutes.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(600);

/// What an executed plan did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Executed {
    /// Whether a `relaunch` step started the app.
    pub relaunched: bool,
    /// A step after the point of no return that failed (the install still counts as done).
    pub late_failure: Option<String>,
}

/// Why a run stopped.
enum Halt {
    /// The step failed; roll back.
    Fail(String),
    /// Test only: stop as if the daemon was killed (no rollback, journal kept).
    #[cfg(test)]
    Crash,
}

impl From<InstallError> for Halt {
    fn from(e: InstallError) -> Self {
        Halt::Fail(crate::error::report(&e))
    }
}

/// Faults a test injects.
#[derive(Clone, Copy, Debug, Default)]
struct Faults {
    /// Fail right after this step index completed.
    #[cfg(test)]
    fail_after_step: Option<usize>,
    /// Crash right after this many actions were journaled (before the last is taken).
    #[cfg(test)]
    crash_at_action: Option<usize>,
}

struct Runner<'a> {
    path: &'a Path,
    journal: Journal,
    steps: Vec<Step>,
    /// False during recovery: `wait-for-exit` and `relaunch` are skipped.
    live: bool,
    #[cfg_attr(not(test), allow(dead_code))]
    faults: Faults,
}

/// Runs `plan` over `roots` with the journal at `journal_path`. `roots.backup` must not
/// exist; `roots.trash` is created and removed again. Blocking (waits, renames, copies).
///
/// # Errors
/// [`InstallError::StepFailed`] naming the failing step, after the rollback left the install
/// folder as it was (or, if the rollback itself failed, saying so: the journal is then kept
/// and the next start retries it); [`InstallError::Io`] when the journal cannot be written
/// before the first step.
pub fn execute(
    journal_path: &Path,
    roots: &Roots,
    plan: &CheckedPlan,
    from: &Version,
    to: &Version,
) -> Result<Executed, InstallError> {
    execute_with(journal_path, roots, plan, from, to, Faults::default())
}

fn execute_with(
    journal_path: &Path,
    roots: &Roots,
    plan: &CheckedPlan,
    from: &Version,
    to: &Version,
    faults: Faults,
) -> Result<Executed, InstallError> {
    journal::remove_any(&roots.trash, Syncs::Required)?;
    fs::create_dir_all(&roots.trash).map_err(|e| InstallError::io(&roots.trash, e))?;
    let journal = Journal {
        from: from.clone(),
        to: to.clone(),
        roots: roots.clone(),
        plan: plan.steps().to_vec(),
        next_step: 0,
        committed: false,
        actions: Vec::new(),
    };
    journal::write(journal_path, &journal, Syncs::Required)?;
    let mut runner = Runner {
        path: journal_path,
        journal,
        steps: plan.steps().to_vec(),
        live: true,
        faults,
    };
    runner.run_from(0)
}

/// Finishes or rolls back an interrupted plan recorded at `journal_path` (see the module
/// doc); `None` when there is no journal. Blocking. Syncs are [`Syncs::BestEffort`] throughout:
/// a file system that cannot sync a folder is logged, never the reason a recovery stops.
///
/// # Errors
/// [`InstallError::JournalUnreadable`] or [`InstallError::UndoConflict`] when the journal is unreadable or an action cannot be
/// undone (the journal is then kept for a human or the next start); [`InstallError::Io`].
pub fn recover(journal_path: &Path) -> Result<Option<Recovery>, InstallError> {
    let Some(journal) = journal::read(journal_path)? else {
        return Ok(None);
    };
    let steps = journal.plan.clone();
    let mut runner = Runner {
        path: journal_path,
        journal,
        steps,
        live: false,
        faults: Faults::default(),
    };
    let outcome = if runner.journal.committed {
        let next = runner.journal.next_step;
        runner.undo_while(|a| a.step >= next)?;
        let done = runner.run_from(next)?;
        if let Some(failure) = done.late_failure {
            tracing::warn!(%failure, "a step after the point of no return failed during recovery");
        }
        Recovery::Completed {
            version: runner.journal.to.clone(),
        }
    } else {
        runner.undo_while(|_| true)?;
        runner.finish(Syncs::BestEffort)?;
        Recovery::RolledBack {
            version: runner.journal.from.clone(),
        }
    };
    tracing::info!(?outcome, "recovered an interrupted install");
    Ok(Some(outcome))
}

impl Runner<'_> {
    /// How syncs count while running forward: required live, best effort in recovery (undoing
    /// is always best effort: [`Runner::undo_while`]).
    fn forward_syncs(&self) -> Syncs {
        if self.live {
            Syncs::Required
        } else {
            Syncs::BestEffort
        }
    }

    fn run_from(&mut self, start: usize) -> Result<Executed, InstallError> {
        let mut executed = Executed::default();
        for index in start..self.steps.len() {
            let step = self.steps[index].clone();
            self.journal.next_step = index;
            if matches!(step, Step::Relaunch { .. }) {
                self.journal.committed = true;
            }
            journal::write(self.path, &self.journal, self.forward_syncs())?;
            tufd_core::faults::point("install.before-step");
            let result = self.run_step(index, &step, &mut executed);
            #[cfg(test)]
            let result = result.and_then(|()| match self.faults.fail_after_step {
                Some(i) if i == index => Err(Halt::Fail("injected failure".into())),
                _ => Ok(()),
            });
            match result {
                Ok(()) => {}
                #[cfg(test)]
                Err(Halt::Crash) => {
                    return Err(InstallError::SimulatedCrash);
                }
                Err(Halt::Fail(reason)) => {
                    let what = format!("step {index} ({}) failed: {reason}", describe(&step));
                    let failed = |rollback: Option<InstallError>| InstallError::StepFailed {
                        index,
                        step: describe(&step),
                        reason: reason.clone(),
                        rollback: rollback.map(Box::new),
                    };
                    if self.journal.committed {
                        tracing::warn!(failure = %what, "a step after the relaunch failed; keeping the new version");
                        self.undo_while(|a| a.step >= index)?;
                        executed.late_failure = Some(what);
                        break;
                    }
                    tracing::error!(failure = %what, "install step failed; rolling back");
                    return Err(
                        match self
                            .undo_while(|_| true)
                            .and_then(|()| self.finish(Syncs::BestEffort))
                        {
                            Ok(()) => failed(None),
                            Err(e) => failed(Some(e)),
                        },
                    );
                }
            }
        }
        self.journal.next_step = self.steps.len();
        self.finish(self.forward_syncs())?;
        Ok(executed)
    }

    /// Undoes the journaled actions from the last back while `keep_going` holds, rewriting
    /// the journal after each; syncs are [`Syncs::BestEffort`] (undo is idempotent).
    fn undo_while(&mut self, keep_going: impl Fn(&Action) -> bool) -> Result<(), InstallError> {
        while let Some(action) = self.journal.actions.last() {
            if !keep_going(action) {
                break;
            }
            action.kind.undo()?;
            self.journal.actions.pop();
            journal::write(self.path, &self.journal, Syncs::BestEffort)?;
        }
        Ok(())
    }

    /// Empties the trash and removes the journal, syncing as `syncs` says.
    fn finish(&mut self, syncs: Syncs) -> Result<(), InstallError> {
        journal::remove_any(&self.journal.roots.trash, syncs)?;
        journal::remove(self.path, syncs)
    }

    /// Journals `kind` ahead of taking it.
    fn record(&mut self, step: usize, kind: ActionKind) -> Result<(), Halt> {
        self.journal.actions.push(Action { step, kind });
        journal::write(self.path, &self.journal, self.forward_syncs())?;
        tufd_core::faults::point("install.after-journal-action");
        #[cfg(test)]
        if self.faults.crash_at_action == Some(self.journal.actions.len()) {
            return Err(Halt::Crash);
        }
        Ok(())
    }

    fn roots(&self) -> &Roots {
        &self.journal.roots
    }

    /// An existing path inside its root (see the module doc).
    fn existing(&self, p: &PlanPath) -> Result<PathBuf, Halt> {
        let (path, missing) = resolve(self.roots(), p)?;
        if !missing.is_empty() || !journal::exists(&path) {
            return Err(Halt::Fail(format!("`{p}` does not exist")));
        }
        Ok(path)
    }

    /// A path that must not exist yet, creating its missing parent folders (journaled).
    fn fresh(&mut self, step: usize, p: &PlanPath) -> Result<PathBuf, Halt> {
        let (path, missing) = resolve(self.roots(), p)?;
        if journal::exists(&path) {
            return Err(Halt::Fail(format!("`{p}` already exists")));
        }
        for dir in missing {
            self.record(step, ActionKind::Created { path: dir.clone() })?;
            fs::create_dir(&dir).map_err(|e| InstallError::io(&dir, e))?;
        }
        Ok(path)
    }

    fn rename(&mut self, step: usize, from: PathBuf, to: PathBuf) -> Result<(), Halt> {
        self.record(
            step,
            ActionKind::Rename {
                from: from.clone(),
                to: to.clone(),
            },
        )?;
        journal::rename(&from, &to, self.forward_syncs())?;
        Ok(())
    }

    /// Exchanges `a` and `b` in one atomic step, journaled; `false` (nothing done, nothing
    /// journaled) where the OS or file system has no atomic exchange.
    fn exchange(&mut self, step: usize, a: &Path, b: &Path) -> Result<bool, Halt> {
        let Some(a_id) = crate::sys::file_id(a) else {
            return Ok(false);
        };
        self.record(
            step,
            ActionKind::Exchanged {
                a: a.to_path_buf(),
                b: b.to_path_buf(),
                a_id,
            },
        )?;
        match journal::exchange(a, b, self.forward_syncs()) {
            Ok(()) => Ok(true),
            Err(InstallError::Rename { source, .. })
                if source.kind() == std::io::ErrorKind::Unsupported =>
            {
                tracing::debug!(a = %a.display(), "no atomic exchange here; swapping by three renames");
                self.journal.actions.pop();
                journal::write(self.path, &self.journal, self.forward_syncs())?;
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn run_step(&mut self, index: usize, step: &Step, executed: &mut Executed) -> Result<(), Halt> {
        match step {
            Step::WaitForExit { pid, timeout } => {
                if self.live {
                    wait_for_exit(*pid, *timeout)?;
                }
            }
            Step::Move { from, to } => {
                let src = self.existing(from)?;
                let dst = self.fresh(index, to)?;
                self.rename(index, src, dst)?;
            }
            Step::Swap { a, b } => {
                let a = self.existing(a)?;
                let b = self.existing(b)?;
                if self.exchange(index, &a, &b)? {
                    return Ok(());
                }
                let mut name = a.file_name().unwrap_or_default().to_os_string();
                name.push(format!(".tufd-swap-{index}"));
                let tmp = journal::parent(&a).join(name);
                if journal::exists(&tmp) {
                    return Err(Halt::Fail(format!("{} is in the way", tmp.display())));
                }
                self.rename(index, a.clone(), tmp.clone())?;
                self.rename(index, b.clone(), a)?;
                self.rename(index, tmp, b)?;
            }
            Step::Remove { path } => {
                let (abs, missing) = resolve(self.roots(), path)?;
                if !missing.is_empty() || !journal::exists(&abs) {
                    tracing::info!(path = %path, "nothing to remove");
                    return Ok(());
                }
                let trash = self
                    .roots()
                    .trash
                    .join(format!("{index}-{}", self.journal.actions.len()));
                self.rename(index, abs, trash)?;
            }
            Step::Copy { from, to } => {
                let src = self.existing(from)?;
                let dst = self.fresh(index, to)?;
                self.record(index, ActionKind::Created { path: dst.clone() })?;
                copy_tree(&src, &dst, self.forward_syncs())?;
            }
            Step::SetMode { path, mode } => {
                let abs = self.existing(path)?;
                let meta = fs::symlink_metadata(&abs).map_err(|e| InstallError::io(&abs, e))?;
                if meta.file_type().is_symlink() {
                    return Err(Halt::Fail(format!(
                        "`{path}` is a link; its mode is not set"
                    )));
                }
                self.record(
                    index,
                    ActionKind::Mode {
                        path: abs.clone(),
                        old_mode: crate::sys::mode_of(&meta),
                    },
                )?;
                journal::set_mode_no_follow(&abs, *mode)?;
            }
            Step::Symlink { path, target } => {
                let abs = self.fresh(index, path)?;
                self.record(index, ActionKind::Created { path: abs.clone() })?;
                make_symlink(target, &abs, self.forward_syncs())?;
            }
            Step::Run { program, args } => {
                tracing::info!(step = index, %program, "running a plan program (not undoable)");
                let exe = self.program(program)?;
                run(&exe, args, &self.roots().install)?;
            }
            Step::Relaunch { program, args } => {
                if self.live {
                    let exe = self.program(program)?;
                    relaunch(&exe, args, &self.roots().install)?;
                    executed.relaunched = true;
                }
            }
        }
        Ok(())
    }

    fn program(&self, program: &Program) -> Result<PathBuf, Halt> {
        match program {
            Program::InRoot(p) => {
                let abs = self.existing(p)?;
                let meta = fs::symlink_metadata(&abs).map_err(|e| InstallError::io(&abs, e))?;
                if !meta.is_file() {
                    return Err(Halt::Fail(format!("`{p}` is not a regular file")));
                }
                Ok(abs)
            }
            Program::System(abs) => Ok(PathBuf::from(abs)),
        }
    }
}

/// `p` as an absolute path inside its root, and the folders between the root and it that do
/// not exist (the root itself included when missing), outermost first.
///
/// # Errors
/// A component below the root that is a link, or a parent that is not a folder.
fn resolve(roots: &Roots, p: &PlanPath) -> Result<(PathBuf, Vec<PathBuf>), Halt> {
    let root = roots.dir(p.root).to_path_buf();
    if p.is_root() {
        return Ok((root, Vec::new()));
    }
    let mut missing = Vec::new();
    if !journal::exists(&root) {
        missing.push(root.clone());
    }
    let components: Vec<&str> = p.rel.split('/').collect();
    let mut current = root;
    for (i, part) in components.iter().enumerate() {
        current.push(part);
        let last = i + 1 == components.len();
        if last || !missing.is_empty() {
            if !last {
                missing.push(current.clone());
            }
            continue;
        }
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(Halt::Fail(format!(
                    "`{p}`: {} is a link; plans never go through links",
                    current.display()
                )));
            }
            Ok(meta) if !meta.is_dir() => {
                return Err(Halt::Fail(format!(
                    "`{p}`: {} is not a folder",
                    current.display()
                )));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => missing.push(current.clone()),
            Err(e) => return Err(InstallError::io(&current, e).into()),
        }
    }
    Ok((current, missing))
}

fn make_symlink(target: &str, at: &Path, syncs: Syncs) -> Result<(), Halt> {
    crate::sys::symlink(target, at).map_err(|e| InstallError::io(at, e))?;
    journal::sync_dir(journal::parent(at), syncs)?;
    Ok(())
}

/// Copies a file, link (as a link) or folder tree from `src` to `dst`, keeping modes; the
/// folders of links are synced as `syncs` says.
fn copy_tree(src: &Path, dst: &Path, syncs: Syncs) -> Result<(), Halt> {
    let meta = fs::symlink_metadata(src).map_err(|e| InstallError::io(src, e))?;
    let kind = meta.file_type();
    if kind.is_symlink() {
        let target = fs::read_link(src).map_err(|e| InstallError::io(src, e))?;
        let text = target.to_string_lossy().into_owned();
        make_symlink(&text, dst, syncs)?;
    } else if kind.is_dir() {
        fs::create_dir(dst).map_err(|e| InstallError::io(dst, e))?;
        let mut entries: Vec<_> = fs::read_dir(src)
            .map_err(|e| InstallError::io(src, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| InstallError::io(src, e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            copy_tree(&entry.path(), &dst.join(entry.file_name()), syncs)?;
        }
        fs::set_permissions(dst, meta.permissions()).map_err(|e| InstallError::io(dst, e))?;
    } else if kind.is_file() {
        fs::copy(src, dst).map_err(|e| InstallError::io(dst, e))?;
    } else {
        return Err(Halt::Fail(format!(
            "{} is neither a file, a folder nor a link",
            src.display()
        )));
    }
    Ok(())
}

fn wait_for_exit(pid: u32, timeout: Duration) -> Result<(), Halt> {
    let deadline = Instant::now() + timeout;
    let mut logged = false;
    while crate::sys::process_alive(pid) {
        if Instant::now() >= deadline {
            return Err(Halt::Fail(format!(
                "process {pid} still runs after {timeout:?}"
            )));
        }
        if !logged {
            tracing::info!(pid, "waiting for the app to exit");
            logged = true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// Runs `exe` to completion (no shell), working folder `cwd`, stdout discarded (it belongs to
/// the protocol), at most [`RUN_TIMEOUT`].
fn run(exe: &Path, args: &[String], cwd: &Path) -> Result<(), Halt> {
    match run_with_deadline(exe, args, cwd, RUN_TIMEOUT) {
        Ok(RunOutcome::Exited(status)) if status.success() => Ok(()),
        Ok(RunOutcome::Exited(status)) => Err(Halt::Fail(format!(
            "{} exited with {status}",
            exe.display()
        ))),
        Ok(RunOutcome::TimedOut) => Err(Halt::Fail(format!(
            "{} ran longer than {RUN_TIMEOUT:?}",
            exe.display()
        ))),
        Err(e) => Err(Halt::Fail(crate::error::report(&e))),
    }
}

/// Starts `exe` detached (working folder `cwd`, no stdin or stdout) and reaps it in a thread.
fn relaunch(exe: &Path, args: &[String], cwd: &Path) -> Result<(), Halt> {
    let mut child = std::process::Command::new(exe)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| Halt::Fail(format!("cannot relaunch {}: {e}", exe.display())))?;
    tracing::info!(program = %exe.display(), pid = child.id(), "relaunched the app");
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// A short description of a step for messages (`move install:. -> backup:.`).
pub fn describe(step: &Step) -> String {
    match step {
        Step::WaitForExit { pid, timeout } => format!("wait-for-exit {pid} {timeout:?}"),
        Step::Move { from, to } => format!("move {from} -> {to}"),
        Step::Swap { a, b } => format!("swap {a} <-> {b}"),
        Step::Remove { path } => format!("remove {path}"),
        Step::Copy { from, to } => format!("copy {from} -> {to}"),
        Step::SetMode { path, mode } => format!("set-mode {path} {mode:o}"),
        Step::Symlink { path, target } => format!("symlink {path} -> {target}"),
        Step::Run { program, .. } => format!("run {program}"),
        Step::Relaunch { program, .. } => format!("relaunch {program}"),
    }
}

// Unix only: the snapshots compare permission bits. The Windows renames and removals the
// executor relies on are tested in src/sys/windows.rs and src/fsops.rs.
#[cfg(all(test, unix))]
mod tests {
    use std::collections::BTreeMap;
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use tufd_core::install_plan::{PlanLimits, Root, check_plan};

    /// Every entry below `dir`: kind, permission bits, and content or link text.
    fn snapshot(dir: &Path) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(d) = pending.pop() {
            for entry in fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                let rel = path.strip_prefix(dir).unwrap().display().to_string();
                let meta = fs::symlink_metadata(&path).unwrap();
                let mode = meta.permissions().mode() & 0o7777;
                let value = if meta.file_type().is_symlink() {
                    format!("link {}", fs::read_link(&path).unwrap().display())
                } else if meta.is_dir() {
                    pending.push(path.clone());
                    format!("dir {mode:o}")
                } else {
                    format!("file {mode:o} {}", fs::read_to_string(&path).unwrap())
                };
                out.insert(rel, value);
            }
        }
        out
    }

    struct Fixture {
        dir: tempfile::TempDir,
        roots: Roots,
        journal: PathBuf,
    }

    fn write(path: &Path, text: &str, mode: u32) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let install = dir.path().join("app");
        let staging = dir.path().join("data/staging/demo-2.0");
        write(&install.join("bin/app"), "v1", 0o755);
        write(&install.join("version.txt"), "1.0", 0o644);
        write(&install.join("user-data/settings.json"), "mine", 0o600);
        std::os::unix::fs::symlink("bin/app", install.join("current")).unwrap();
        write(&staging.join("bin/app"), "v2", 0o644);
        write(&staging.join("version.txt"), "2.0", 0o644);
        write(&staging.join("user-data/defaults.json"), "defaults", 0o644);
        write(&staging.join("a.txt"), "a", 0o644);
        write(&staging.join("b.txt"), "b", 0o644);
        fs::create_dir_all(dir.path().join("data/backup")).unwrap();
        let roots = Roots {
            install,
            staging,
            backup: dir.path().join("data/backup/demo-1.0"),
            trash: dir.path().join("data/trash"),
        };
        Fixture {
            journal: dir.path().join("data/journal.json"),
            roots,
            dir,
        }
    }

    fn p(root: Root, rel: &str) -> PlanPath {
        PlanPath::new(root, rel)
    }

    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    /// One of every step kind before the relaunch.
    fn every_step() -> Vec<Step> {
        vec![
            Step::WaitForExit {
                pid: dead_pid(),
                timeout: Duration::from_secs(1),
            },
            Step::Move {
                from: PlanPath::root(Root::Install),
                to: PlanPath::root(Root::Backup),
            },
            Step::Move {
                from: PlanPath::root(Root::Staging),
                to: PlanPath::root(Root::Install),
            },
            Step::Remove {
                path: p(Root::Install, "user-data"),
            },
            Step::Move {
                from: p(Root::Backup, "user-data"),
                to: p(Root::Install, "user-data"),
            },
            Step::Copy {
                from: p(Root::Install, "bin"),
                to: p(Root::Install, "old/bin-copy"),
            },
            Step::SetMode {
                path: p(Root::Install, "bin/app"),
                mode: 0o755,
            },
            Step::Symlink {
                path: p(Root::Install, "lib/current"),
                target: "../bin/app".into(),
            },
            Step::Swap {
                a: p(Root::Install, "a.txt"),
                b: p(Root::Install, "b.txt"),
            },
            Step::Run {
                program: Program::System("/bin/true".into()),
                args: vec![],
            },
        ]
    }

    fn checked(steps: &[Step]) -> CheckedPlan {
        let limits = PlanLimits {
            allowed_programs: vec!["/bin/true".into(), "/bin/false".into()],
            ..PlanLimits::default()
        };
        check_plan(steps, &limits).expect("test plan passes the checker")
    }

    fn v(text: &str) -> Version {
        text.parse().unwrap()
    }

    fn run_with(f: &Fixture, steps: &[Step], faults: Faults) -> Result<Executed, InstallError> {
        execute_with(
            &f.journal,
            &f.roots,
            &checked(steps),
            &v("1.0"),
            &v("2.0"),
            faults,
        )
    }

    #[test]
    fn every_step_kind_runs() {
        let f = fixture();
        let mut steps = every_step();
        steps.push(Step::Relaunch {
            program: Program::System("/bin/true".into()),
            args: vec![],
        });
        let done = run_with(&f, &steps, Faults::default()).unwrap();
        assert!(done.relaunched);
        assert_eq!(done.late_failure, None);
        let install = &f.roots.install;
        let read = |rel: &str| fs::read_to_string(install.join(rel)).unwrap();
        assert_eq!(read("version.txt"), "2.0");
        assert_eq!(read("user-data/settings.json"), "mine");
        assert!(!install.join("user-data/defaults.json").exists());
        assert_eq!(read("old/bin-copy/app"), "v2");
        let mode = fs::metadata(install.join("bin/app"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(
            fs::read_link(install.join("lib/current")).unwrap(),
            Path::new("../bin/app")
        );
        assert_eq!(read("lib/current"), "v2");
        assert_eq!((read("a.txt").as_str(), read("b.txt").as_str()), ("b", "a"));
        assert_eq!(
            fs::read_to_string(f.roots.backup.join("version.txt")).unwrap(),
            "1.0"
        );
        assert!(!f.roots.staging.exists());
        assert!(!f.roots.trash.exists(), "trash emptied");
        assert!(!f.journal.exists(), "journal removed");
    }

    #[test]
    fn a_failure_after_each_step_rolls_back_to_the_identical_tree() {
        for index in 0..every_step().len() {
            let f = fixture();
            let before = snapshot(f.dir.path());
            let faults = Faults {
                fail_after_step: Some(index),
                ..Faults::default()
            };
            let err = run_with(&f, &every_step(), faults).unwrap_err();
            assert!(
                matches!(&err, InstallError::StepFailed { index: i, rollback: None, .. } if *i == index),
                "{err}"
            );
            assert_eq!(
                snapshot(f.dir.path()),
                before,
                "after a failure at step {index}"
            );
        }
    }

    #[test]
    fn a_crash_at_every_action_recovers_the_identical_tree() {
        // Crash after each journaled action in turn, until a run takes fewer actions.
        let mut crashed = 0;
        for crash_at in 1..=40 {
            let f = fixture();
            let before = snapshot(f.dir.path());
            let faults = Faults {
                crash_at_action: Some(crash_at),
                ..Faults::default()
            };
            match run_with(&f, &every_step(), faults) {
                Err(InstallError::SimulatedCrash) => {}
                Ok(_) => break, // fewer actions than `crash_at`: done
                Err(e) => panic!("{e}"),
            }
            let outcome = recover(&f.journal).unwrap();
            assert_eq!(outcome, Some(Recovery::RolledBack { version: v("1.0") }));
            assert_eq!(snapshot(f.dir.path()), before, "crash at action {crash_at}");
            assert_eq!(recover(&f.journal).unwrap(), None);
            crashed += 1;
        }
        // `swap` is one atomic exchange where the OS has one (one action), else three renames.
        assert!(crashed >= 10, "only {crashed} crash points");
    }

    #[test]
    fn an_app_that_never_exits_fails_the_wait_untouched_and_the_next_install_works() {
        let f = fixture();
        let before = snapshot(f.dir.path());
        let plan = |pid| {
            vec![
                Step::WaitForExit {
                    pid,
                    timeout: Duration::from_millis(300),
                },
                Step::Swap {
                    a: PlanPath::root(Root::Install),
                    b: PlanPath::root(Root::Staging),
                },
                Step::Move {
                    from: PlanPath::root(Root::Staging),
                    to: PlanPath::root(Root::Backup),
                },
            ]
        };
        // This test process stands for the app: it never exits within the wait.
        let err = run_with(&f, &plan(std::process::id()), Faults::default()).unwrap_err();
        assert!(
            matches!(
                err,
                InstallError::StepFailed {
                    index: 0,
                    rollback: None,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(snapshot(f.dir.path()), before);
        assert!(
            !f.journal.exists(),
            "no journal left to wedge the next start"
        );
        run_with(&f, &plan(dead_pid()), Faults::default()).unwrap();
        assert_eq!(
            fs::read_to_string(f.roots.install.join("version.txt")).unwrap(),
            "2.0"
        );
    }

    #[test]
    fn swap_plan_leaves_a_whole_install_folder_at_every_crash_point() {
        let plan = vec![
            Step::Swap {
                a: PlanPath::root(Root::Install),
                b: PlanPath::root(Root::Staging),
            },
            Step::Move {
                from: PlanPath::root(Root::Staging),
                to: PlanPath::root(Root::Backup),
            },
        ];
        let mut crashed = 0;
        for crash_at in 1..=10 {
            let f = fixture();
            let before = snapshot(f.dir.path());
            let faults = Faults {
                crash_at_action: Some(crash_at),
                ..Faults::default()
            };
            match run_with(&f, &plan, faults) {
                Err(InstallError::SimulatedCrash) => {}
                Ok(_) => break,
                Err(e) => panic!("{e}"),
            }
            // Before any recovery the install folder holds one whole version.
            let version = fs::read_to_string(f.roots.install.join("version.txt")).unwrap();
            assert!(version == "1.0" || version == "2.0", "{version}");
            assert_eq!(
                recover(&f.journal).unwrap(),
                Some(Recovery::RolledBack { version: v("1.0") })
            );
            assert_eq!(snapshot(f.dir.path()), before, "crash at action {crash_at}");
            crashed += 1;
        }
        assert!(crashed >= 2, "only {crashed} crash points");
        // A failure after the exchange was taken: undone by exchanging back.
        let f = fixture();
        let before = snapshot(f.dir.path());
        let faults = Faults {
            fail_after_step: Some(0),
            ..Faults::default()
        };
        assert!(matches!(
            run_with(&f, &plan, faults),
            Err(InstallError::StepFailed { rollback: None, .. })
        ));
        assert_eq!(snapshot(f.dir.path()), before);
    }

    #[test]
    fn native_plan_crash_points_recover_old_or_new() {
        let native = |pid: Option<u32>| {
            vec![
                Step::WaitForExit {
                    pid: pid.unwrap_or_else(dead_pid),
                    timeout: Duration::from_secs(1),
                },
                Step::Move {
                    from: PlanPath::root(Root::Install),
                    to: PlanPath::root(Root::Backup),
                },
                Step::Move {
                    from: PlanPath::root(Root::Staging),
                    to: PlanPath::root(Root::Install),
                },
                Step::Relaunch {
                    program: Program::System("/bin/true".into()),
                    args: vec![],
                },
            ]
        };
        // Crashes before the relaunch roll back; the journal written as the relaunch
        // starts (committed) finishes forward.
        for crash_at in 1..=2 {
            let f = fixture();
            let faults = Faults {
                crash_at_action: Some(crash_at),
                ..Faults::default()
            };
            assert!(run_with(&f, &native(None), faults).is_err());
            assert_eq!(
                recover(&f.journal).unwrap(),
                Some(Recovery::RolledBack { version: v("1.0") })
            );
            assert_eq!(
                fs::read_to_string(f.roots.install.join("version.txt")).unwrap(),
                "1.0"
            );
        }
        let f = fixture();
        let plan = checked(&native(None));
        journal::write(
            &f.journal,
            &Journal {
                from: v("1.0"),
                to: v("2.0"),
                roots: f.roots.clone(),
                plan: plan.steps().to_vec(),
                next_step: 3,
                committed: true,
                actions: vec![],
            },
            Syncs::Required,
        )
        .unwrap();
        fs::rename(&f.roots.install, &f.roots.backup).unwrap();
        fs::rename(&f.roots.staging, &f.roots.install).unwrap();
        assert_eq!(
            recover(&f.journal).unwrap(),
            Some(Recovery::Completed { version: v("2.0") })
        );
        assert_eq!(
            fs::read_to_string(f.roots.install.join("version.txt")).unwrap(),
            "2.0"
        );
        assert!(!f.journal.exists());
    }

    #[test]
    fn a_failing_run_and_a_link_parent_roll_back() {
        let f = fixture();
        let before = snapshot(f.dir.path());
        let mut steps = every_step();
        steps[9] = Step::Run {
            program: Program::System("/bin/false".into()),
            args: vec![],
        };
        let err = run_with(&f, &steps, Faults::default()).unwrap_err();
        assert!(
            matches!(
                err,
                InstallError::StepFailed {
                    index: 9,
                    rollback: None,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(snapshot(f.dir.path()), before);

        // `current` is a link in the install folder: going through it is refused.
        let f = fixture();
        let outside = f.dir.path().join("outside");
        fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, f.roots.install.join("out")).unwrap();
        let before = snapshot(f.dir.path());
        let steps = [Step::Copy {
            from: p(Root::Staging, "a.txt"),
            to: p(Root::Install, "out/a.txt"),
        }];
        let err = run_with(&f, &steps, Faults::default()).unwrap_err();
        assert!(
            matches!(
                err,
                InstallError::StepFailed {
                    index: 0,
                    rollback: None,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(snapshot(f.dir.path()), before);
        assert!(!outside.join("a.txt").exists());

        // set-mode on a link is refused, the link's target keeps its mode.
        let steps = [Step::SetMode {
            path: p(Root::Install, "current"),
            mode: 0o700,
        }];
        let err = run_with(&f, &steps, Faults::default()).unwrap_err();
        assert!(
            matches!(
                err,
                InstallError::StepFailed {
                    index: 0,
                    rollback: None,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(snapshot(f.dir.path()), before);
    }

    #[test]
    fn a_failure_after_the_relaunch_keeps_the_new_version() {
        let f = fixture();
        let steps = [
            Step::Move {
                from: PlanPath::root(Root::Install),
                to: PlanPath::root(Root::Backup),
            },
            Step::Move {
                from: PlanPath::root(Root::Staging),
                to: PlanPath::root(Root::Install),
            },
            Step::Relaunch {
                program: Program::System("/bin/true".into()),
                args: vec![],
            },
            Step::Run {
                program: Program::System("/bin/false".into()),
                args: vec![],
            },
        ];
        let done = run_with(&f, &steps, Faults::default()).unwrap();
        assert!(done.relaunched);
        assert!(done.late_failure.unwrap().contains("step 3"));
        assert_eq!(
            fs::read_to_string(f.roots.install.join("version.txt")).unwrap(),
            "2.0"
        );
        assert!(!f.journal.exists());
    }
}
