//! One-shot commands for scripts and people: `tufd check [--json] [--exit-code]`,
//! `tufd update [--yes]`, `tufd status [--json]`, `tufd rollback` (docs/protocol.md,
//! "One-shot commands"). Results go to stdout; logs and the progress bar (only when stderr is a terminal)
//! to stderr. The exit status is decided by the caller ([`crate::main`]).

use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::broadcast;
use tufd_engine::{CheckReport, Engine, Event};
use tufd_protocol::PlanSummary;

use crate::error::DaemonError;

/// Writes `line` and a newline to stdout and flushes it.
fn print_line(line: impl std::fmt::Display) -> Result<(), DaemonError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| DaemonError::io("write to stdout", e))
}

/// `value` as one line of JSON.
fn to_json(value: &impl serde::Serialize) -> Result<String, DaemonError> {
    serde_json::to_string(value).map_err(|source| DaemonError::Json { source })
}

fn describe(report: &CheckReport) -> String {
    let mut line = describe_plan(report);
    if let Some(downgrade) = &report.downgrade {
        line = format!(
            "{line}; {} was yanked by its publisher{}",
            downgrade.yanked,
            downgrade
                .reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        );
    }
    match &report.managed {
        Some(managed) => format!("{line} (updates are managed: {managed})"),
        None => line,
    }
}

fn describe_plan(report: &CheckReport) -> String {
    match &report.plan {
        None => format!("{} is up to date", report.current),
        Some(PlanSummary::Patches { patches, bytes }) => format!(
            "update available: {} -> {} via {} patch(es), {} bytes: {}",
            report.current,
            report.latest,
            patches.len(),
            bytes,
            patches.join(", ")
        ),
        Some(PlanSummary::Full {
            full,
            reason,
            bytes,
        }) => format!(
            "update available: {} -> {} via the full archive {full} ({bytes} bytes; {reason})",
            report.current, report.latest
        ),
    }
}

/// `tufd check`: prints the report (one JSON object with `--json`) and returns it.
///
/// # Errors
/// The engine's error; [`DaemonError::Io`] when stdout is closed.
pub async fn check(engine: &Engine, json: bool) -> Result<CheckReport, DaemonError> {
    let report = engine.check().await?;
    if json {
        print_line(to_json(&report)?)?;
    } else {
        print_line(describe(&report))?;
    }
    Ok(report)
}

/// `tufd status`: the installed version, the engine state and the platform whose releases
/// the install takes.
///
/// # Errors
/// The engine's error; [`DaemonError::Io`] when stdout is closed.
pub async fn status(engine: &Engine, json: bool) -> Result<(), DaemonError> {
    let status = engine.status().await?;
    if json {
        print_line(to_json(&status)?)
    } else {
        print_line(format_args!(
            "installed {} ({})",
            status.current, status.state
        ))?;
        match &status.platform {
            Some(platform) => print_line(format_args!("platform {platform}"))?,
            None => print_line("platform: none named for this build (flat releases only)")?,
        }
        if !status.kept.is_empty() {
            print_line(format_args!(
                "kept across updates: {}",
                status.kept.join(", ")
            ))?;
        }
        if !status.left_behind.is_empty() {
            print_line(format_args!(
                "not part of {}, moved to the backup (deleted at the next update): {}",
                status.current,
                status.left_behind.join(", ")
            ))?;
        }
        match &status.managed {
            Some(managed) => print_line(format_args!("updates are managed: {managed}")),
            None => Ok(()),
        }
    }
}

/// `tufd rollback`: restores the previous version from its backup.
///
/// # Errors
/// The engine's error (`no-backup` when there is none); [`DaemonError::Io`] when stdout is
/// closed.
pub async fn rollback(engine: &Engine) -> Result<(), DaemonError> {
    let before = engine.status().await?.current;
    let restored = engine.rollback().await?;
    print_line(format_args!("rolled back from {before} to {restored}"))
}

/// Shows download progress from `events` on stderr until the channel closes.
fn progress_bar(mut events: broadcast::Receiver<Event>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:30!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        let mut current = String::new();
        loop {
            match events.recv().await {
                Ok(Event::Progress {
                    target,
                    done_bytes,
                    total_bytes,
                }) => {
                    if target != current {
                        current = target.clone();
                        bar.set_message(target);
                        bar.set_length(total_bytes);
                    }
                    bar.set_position(done_bytes);
                }
                Ok(Event::State(state)) => bar.println(format!("state: {state}")),
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
        bar.finish_and_clear();
    })
}

/// Prints a line on stdout whenever the announced plan changes at run time (`plan-changed`:
/// the full archive instead of the patches, and why), in a terminal or not.
fn plan_notes(mut events: broadcast::Receiver<Event>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(Event::PlanChanged {
                    full,
                    bytes,
                    reason,
                }) => {
                    let _ = print_line(format_args!(
                        "plan changed: downloading the full archive {full} ({bytes} bytes) \
                         instead: {reason}"
                    ));
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    })
}

/// Asks on stderr whether to install, reading the answer from stdin.
fn confirm(report: &CheckReport) -> Result<bool, DaemonError> {
    if !std::io::stdin().is_terminal() {
        return Err(DaemonError::NotATerminal);
    }
    let mut err = std::io::stderr().lock();
    write!(err, "install {} now? [y/N] ", report.latest)
        .and_then(|()| err.flush())
        .map_err(|e| DaemonError::io("write to stderr", e))?;
    drop(err);
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| DaemonError::io("read the answer from stdin", e))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// `tufd update`: check, then download and install (asking first unless `--yes`).
///
/// # Errors
/// The engine's error; [`DaemonError::NotATerminal`] without `yes` when stdin is not a
/// terminal; [`DaemonError::Io`] when stdout is closed.
pub async fn update(engine: &Engine, yes: bool) -> Result<(), DaemonError> {
    let report = engine.check().await?;
    print_line(describe(&report))?;
    if !report.update_available {
        return Ok(());
    }
    if !yes && !confirm(&report)? {
        return print_line("not installed");
    }
    let bar = std::io::stderr()
        .is_terminal()
        .then(|| progress_bar(engine.subscribe()));
    let notes = plan_notes(engine.subscribe());
    let started = std::time::Instant::now();
    let result = engine.install().await;
    notes.abort();
    if let Some(bar) = bar {
        bar.abort();
    }
    let installed = result?;
    if installed.handed_off {
        return print_line(format_args!(
            "handed the install of {} to a copy of tufd outside the install folder: it swaps \
             once this process has exited (log: <data-dir>/helper/finish-install.log)",
            installed.version
        ));
    }
    print_line(format_args!(
        "installed {} in {:.1} s",
        installed.version,
        started.elapsed().as_secs_f64()
    ))
}
