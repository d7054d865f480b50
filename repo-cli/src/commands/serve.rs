//! `tufd-repo serve`: a static HTTP server of the repository folder (axum + tower-http
//! `ServeDir`, which answers `Range` requests), bound to 127.0.0.1 by default. Prints one line
//! `serving http://ADDR:PORT/` on stdout once bound (port 0 picks a free port), so tests and
//! scripts can read the port. For demos and tests; production uses any static host.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use tower_http::services::ServeDir;

use super::Ctx;

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TCP port; 0 picks a free one.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,
}

/// Runs `serve` until interrupted (Ctrl-C / SIGINT).
///
/// # Errors
/// A missing repository folder or a port that cannot be bound.
pub async fn run(ctx: Ctx, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let dir = ctx.layout.dir.clone();
    if !dir.join("metadata").is_dir() {
        anyhow::bail!(
            "{} holds no metadata/ folder: run `tufd-repo init` first or fix repository_dir",
            dir.display()
        );
    }
    let app = axum::Router::new().fallback_service(ServeDir::new(&dir));
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.bind, args.port))
        .await
        .with_context(|| {
            format!(
                "cannot bind {}:{}: pick another --port",
                args.bind, args.port
            )
        })?;
    let addr = listener.local_addr()?;
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "serving http://{addr}/")?;
        out.flush()?;
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("while serving")?;
    Ok(ExitCode::SUCCESS)
}
