//! `hello_rs`: an example app that keeps itself up to date through the tufd sidecar, with
//! `tufd-client` (see `examples/rust-app/README.md`).
//!
//! The app is a folder: `bin/hello_rs` (this program), `VERSION` (its version, e.g. `1.0`) and
//! `1.root.json` (the repository's trusted root, shipped with the app). At start it spawns
//! `tufd sidecar`, checks, shows the download progress, asks the user (`--yes` answers for
//! them), downloads and starts the install, then exits; tufd waits for it to exit
//! (`--app-pid`), swaps the folder and relaunches `bin/hello_rs --relaunched`. A relaunched app
//! has stdin and stdout closed (stdout is tufd's protocol pipe), so it greets on stderr.
//!
//! ```text
//! hello_rs --server http://127.0.0.1:8080 [--data-dir DIR] [--tufd PATH] [--yes]
//! ```

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use tufd_client::{Client, ClientError, Method, Notification, PlanSummary, SidecarOptions, State};

const APP_NAME: &str = "hello_rs";

/// The command line.
struct Args {
    server: String,
    data_dir: PathBuf,
    tufd: PathBuf,
    yes: bool,
    relaunched: bool,
}

fn parse_args() -> Result<Args, String> {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    let mut args = Args {
        server: "http://127.0.0.1:8080".into(),
        data_dir: home.join(".local/share/hello_rs-tufd"),
        tufd: std::env::var_os("TUFD").map_or_else(|| PathBuf::from("tufd"), PathBuf::from),
        yes: false,
        relaunched: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--server" => args.server = value()?,
            "--data-dir" => args.data_dir = PathBuf::from(value()?),
            "--tufd" => args.tufd = PathBuf::from(value()?),
            "--yes" => args.yes = true,
            "--relaunched" => args.relaunched = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

/// The install folder: the parent of the `bin/` folder holding this program.
fn install_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("where am I: {e}"))?;
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("{} is not in <app>/bin/", exe.display()))
}

fn read_version(install: &Path) -> Result<String, String> {
    let path = install.join("VERSION");
    std::fs::read_to_string(&path)
        .map(|text| text.trim().to_owned())
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn ask(question: &str) -> bool {
    print!("{question} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_lowercase().as_str(), "y" | "yes")
}

/// What the reader thread tells the main thread.
enum Signal {
    Installing,
    Failed(String),
}

/// Checks, asks, downloads and starts the install; returns whether it went well.
fn update(args: &Args, install: &Path, version: &str) -> Result<(), ClientError> {
    std::fs::create_dir_all(&args.data_dir).map_err(|source| ClientError::Spawn {
        program: format!("mkdir {}", args.data_dir.display()),
        source,
    })?;
    let data_dir = std::path::absolute(&args.data_dir).unwrap_or_else(|_| args.data_dir.clone());
    let relaunch = format!(
        "bin/hello_rs --relaunched --server {} --data-dir {} --tufd {}",
        args.server,
        data_dir.display(),
        args.tufd.display()
    );
    let options = SidecarOptions::new(APP_NAME, version)
        .program(&args.tufd)
        .install_dir(install)
        .data_dir(&data_dir)
        .repository(&args.server)
        .trusted_root(&install.join("1.root.json"))
        .poll_interval(Duration::ZERO)
        .app_pid(std::process::id())
        .relaunch(&relaunch)
        .log_file(&data_dir.join("tufd.log"));
    let (signals, signal) = mpsc::channel();
    let tty = std::io::stdout().is_terminal();
    let client = Client::spawn(&options, move |note| match note {
        Notification::Progress {
            target,
            done_bytes,
            total_bytes,
        } => {
            let percent = (done_bytes * 100).checked_div(total_bytes).unwrap_or(100);
            let line = format!("  {target}: {done_bytes}/{total_bytes} bytes ({percent}%)");
            if tty {
                print!("\r{line}");
                if done_bytes == total_bytes {
                    println!();
                }
                let _ = std::io::stdout().flush();
            } else if done_bytes == total_bytes {
                println!("{line}");
            }
        }
        Notification::State(State::Installing) => {
            let _ = signals.send(Signal::Installing);
        }
        Notification::Error { kind, message } => {
            let _ = signals.send(Signal::Failed(format!("{kind}: {message}")));
        }
        _ => {}
    })?;

    let report = client.check(Duration::from_secs(300))?;
    let Some(plan) = report.plan.filter(|_| report.update_available) else {
        println!("{APP_NAME} {version} is up to date");
        client.shutdown(Duration::from_secs(30))?;
        return Ok(());
    };
    let how = match &plan {
        PlanSummary::Patches { patches, .. } => format!("{} patch(es)", patches.len()),
        PlanSummary::Full { reason, .. } => format!("the full archive ({reason})"),
    };
    println!(
        "update available: {} -> {}, {} bytes to download as {how}",
        report.current,
        report.latest,
        plan.bytes()
    );
    if !(args.yes || ask(&format!("install {} now?", report.latest))) {
        println!("not now");
        client.shutdown(Duration::from_secs(30))?;
        return Ok(());
    }
    let staged = client.download(Duration::from_secs(3600))?;
    println!("downloaded and verified {}", staged.version);
    // tufd swaps the folders once this process has exited (--app-pid), then relaunches it.
    let install_call = client.send(Method::Install)?;
    match signal.recv_timeout(Duration::from_secs(300)) {
        Ok(Signal::Installing) => {
            println!(
                "installing {}; {APP_NAME} restarts when it is in place",
                staged.version
            );
            // Exiting closes tufd's stdin: it finishes the swap, relaunches us and exits.
            Ok(())
        }
        Ok(Signal::Failed(why)) => {
            eprintln!("install did not start: {why}");
            install_call
                .try_wait::<tufd_client::Installed>()
                .transpose()?;
            Err(ClientError::Disconnected {
                method: "install".into(),
            })
        }
        Err(_) => Err(ClientError::Timeout {
            method: "install".into(),
            timeout: Duration::from_secs(300),
        }),
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("hello_rs: {e}");
            return ExitCode::from(2);
        }
    };
    let (install, version) = match install_dir().and_then(|dir| Ok((read_version(&dir)?, dir))) {
        Ok((version, dir)) => (dir, version),
        Err(e) => {
            eprintln!("hello_rs: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.relaunched {
        // stdout is closed after a relaunch: greet on stderr. The old tufd may still be shutting
        // down (it holds the data folder's lock), so no update check right now.
        eprintln!("{APP_NAME} {version}: hello! (relaunched after the update)");
        return ExitCode::SUCCESS;
    }
    println!("{APP_NAME} {version}: hello!");
    match update(&args, &install, &version) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("update failed: {e}");
            ExitCode::FAILURE
        }
    }
}
