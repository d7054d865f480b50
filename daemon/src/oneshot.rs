//! One-shot commands for scripts and people: `tufd check [--json]`, `tufd update [--yes]`,
//! `tufd status [--json]` (contract: "Command line of `tufd`"). Results go to stdout; logs
//! and the progress bar (only when stderr is a terminal) to stderr.

use std::io::{IsTerminal, Write};

use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::broadcast;
use tufd_protocol::PlanSummary;
use tufd_engine::{CheckReport, Engine, Event};

fn describe(report: &CheckReport) -> String {
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

/// `tufd check`: prints the report (one JSON object with `--json`).
///
/// # Errors
/// The engine's error.
pub async fn check(engine: &Engine, json: bool) -> anyhow::Result<()> {
    let report = engine.check().await?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{}", describe(&report));
    }
    Ok(())
}

/// `tufd status`: the installed version and the engine state.
///
/// # Errors
/// The engine's error.
pub async fn status(engine: &Engine, json: bool) -> anyhow::Result<()> {
    let status = engine.status().await?;
    if json {
        println!("{}", serde_json::to_string(&status)?);
    } else {
        println!("installed {} ({})", status.current, status.state);
    }
    Ok(())
}

/// `tufd rollback`: restores the previous version from its backup.
///
/// # Errors
/// The engine's error (`no-backup` when there is none).
pub async fn rollback(engine: &Engine) -> anyhow::Result<()> {
    let before = engine.status().await?.current;
    let restored = engine.rollback().await?;
    println!("rolled back from {before} to {restored}");
    Ok(())
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

fn confirm(report: &CheckReport) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("not a terminal: run `tufd update --yes` to install without asking");
    }
    eprint!("install {} now? [y/N] ", report.latest);
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// `tufd update`: check, then download and install (asking first unless `--yes`).
///
/// # Errors
/// The engine's error.
pub async fn update(engine: &Engine, yes: bool) -> anyhow::Result<()> {
    let report = engine.check().await?;
    println!("{}", describe(&report));
    if !report.update_available {
        return Ok(());
    }
    if !yes && !confirm(&report)? {
        println!("not installed");
        return Ok(());
    }
    let bar = std::io::stderr()
        .is_terminal()
        .then(|| progress_bar(engine.subscribe()));
    let started = std::time::Instant::now();
    let result = engine.install().await;
    if let Some(bar) = bar {
        bar.abort();
    }
    let installed = result?;
    println!(
        "installed {} in {:.1} s",
        installed.version,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
