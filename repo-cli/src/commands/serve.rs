//! `tufd-repo serve`: a static HTTP server of the repository folder (axum + tower-http
//! `ServeDir`, which answers `Range` requests), bound to 127.0.0.1 by default. [`bind`] returns
//! the bound [`Server`] (port 0 picks a free port); the command prints one line
//! `serving http://ADDR:PORT/` on stdout before [`Server::run`], so tests and scripts can read
//! the port. For demos and tests; production uses any static host.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use clap::Args;
use tower_http::services::ServeDir;

use super::Ctx;
use crate::error::{Error, Result};

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

/// A bound, not yet running, static server of the repository folder.
#[derive(Debug)]
pub struct Server {
    dir: PathBuf,
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
}

/// Binds `args.bind:args.port` for the repository folder of `ctx`.
///
/// # Errors
/// [`Error::NoMetadataFolder`] when the repository has no `metadata/` folder,
/// [`Error::Bind`] when the address cannot be bound.
pub async fn bind(ctx: &Ctx, args: ServeArgs) -> Result<Server> {
    let dir = ctx.layout.dir.clone();
    if !dir.join("metadata").is_dir() {
        return Err(Error::NoMetadataFolder { dir });
    }
    let addr = SocketAddr::new(args.bind, args.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| Error::Bind { addr, source })?;
    Ok(Server {
        dir,
        listener,
        addr,
    })
}

impl Server {
    /// The bound address (with the port picked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until interrupted (Ctrl-C / SIGINT).
    ///
    /// # Errors
    /// [`Error::Io`] when serving fails.
    pub async fn run(self) -> Result<()> {
        let app = axum::Router::new().fallback_service(ServeDir::new(&self.dir));
        axum::serve(self.listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(Error::io("serve", &self.dir))
    }
}
