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
    /// The address to listen on. The default, 127.0.0.1, keeps the app on this machine;
    /// 0.0.0.0 makes it reachable from the network (the command says so when it starts).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// A workbook (.xlsx, .xlsm or .ods) to open: the page "Your workbook" opens on it.
    #[arg(long, value_name = "FILE")]
    pub book: Option<std::path::PathBuf>,
}

/// Runs the command: binds, prints the URL, serves until Ctrl-C.
pub fn run(a: Args) -> Result<()> {
    let addr = SocketAddr::new(a.host, a.port);
    let books = gradsheet_web::book::Books::new();
    if let Some(path) = &a.book {
        let bytes = crate::output::import::read_bounded(path)?;
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        books
            .preload(&name, &bytes)
            .map_err(|e| super::usage(format!("{}: {}", path.display(), e.body.error)))?;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the web server's runtime")?;
    rt.block_on(async move {
        let limits = gradsheet_web::Limits::default();
        let server = match gradsheet_web::Server::bind_with_books(addr, limits, books).await {
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
        if let Some(path) = &a.book {
            println!("{} is open at {}#book", path.display(), server.url());
        }
        if let Some(note) = exposure(a.host) {
            eprintln!("{note}");
        }
        println!("press Ctrl-C to stop");
        server.run().await.context("the web server stopped")
    })
}

/// What listening on `host` exposes, when it is more than this machine: the app has no
/// login, so anyone who can reach the address can use it (and keep its cores busy).
fn exposure(host: IpAddr) -> Option<String> {
    if host.is_loopback() {
        return None;
    }
    let whom = if host.is_unspecified() {
        format!("on every network interface of this machine ({host})")
    } else {
        format!("at {host}")
    };
    Some(format!(
        "note: the server is reachable from the network {whom}: anyone who can reach this machine can use the app, \
         which has no login; use --host 127.0.0.1 (the default) to keep it on this machine"
    ))
}

/// `gradsheet` with no command: the web app with default settings.
pub fn run_default() -> Result<()> {
    run(Args {
        port: DEFAULT_PORT,
        host: IpAddr::from([127, 0, 0, 1]),
        book: None,
    })
}

#[cfg(test)]
mod tests {
    use super::exposure;
    use std::net::IpAddr;

    #[test]
    fn only_loopback_is_silent() {
        let note = |h: &str| exposure(h.parse::<IpAddr>().unwrap());
        assert_eq!(note("127.0.0.1"), None);
        assert_eq!(note("::1"), None);
        for h in ["0.0.0.0", "::", "192.168.1.20"] {
            let n = note(h).unwrap();
            assert!(n.contains("reachable from the network"), "{n}");
            assert!(n.contains(h), "{n}");
        }
    }
}
