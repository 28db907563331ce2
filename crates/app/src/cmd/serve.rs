//! `gradsheet serve` (and `gradsheet` alone): the web app on a local port.

use std::net::{IpAddr, SocketAddr};

use anyhow::{Context, Result};

/// The port the web app listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 8080;

/// Arguments of `gradsheet serve`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The port to listen on (0 picks a free one).
    #[arg(long, short, default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// The address to listen on. The default, 127.0.0.1, keeps the app on this machine.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
}

/// Runs the command: binds, prints the URL, serves until Ctrl-C.
pub fn run(a: Args) -> Result<()> {
    let addr = SocketAddr::new(a.host, a.port);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the web server's runtime")?;
    rt.block_on(async move {
        let server = match gradsheet_web::Server::bind(addr).await {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                return Err(super::usage(format!(
                    "port {} is already in use on {}: stop the program using it, or pick another port with --port",
                    a.port, a.host
                )));
            }
            Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot listen on {addr}"))),
        };
        println!("gradsheet is running at {}", server.url());
        println!("press Ctrl-C to stop");
        server.run().await.context("the web server stopped")
    })
}

/// `gradsheet` with no command: the web app with default settings.
pub fn run_default() -> Result<()> {
    run(Args {
        port: DEFAULT_PORT,
        host: IpAddr::from([127, 0, 0, 1]),
    })
}
