//! The server under test, started once in-process, and a minimal blocking HTTP/1.1 client.
//!
//! The client is hand-written (std `TcpStream`, one request per connection) because the
//! tests need no more of HTTP than that; chunked answers are de-chunked.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

/// Held by the tests that load the machine (the load test, the browser test), so that
/// their timings measure the app rather than each other.
pub static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The address of the app, started on an ephemeral loopback port on first use.
pub fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| start(gradsheet_web::Limits::default()))
}

/// Gives the labs course22's numbers (which gradsheet does not ship) from the shared
/// folder, once; whether they are there.
pub fn course22() -> bool {
    static THERE: OnceLock<bool> = OnceLock::new();
    *THERE.get_or_init(|| {
        gradsheet_testkit::course22().is_some_and(|dir| {
            use gradsheet_report::labs::gradsheet_labs::material::{install, Material};
            install(Material::from_folder(|rel| {
                std::fs::read(dir.join(rel)).ok()
            }));
            true
        })
    })
}

/// A server of its own with these limits, on an ephemeral loopback port; it runs until
/// the test binary ends.
pub fn start(limits: gradsheet_web::Limits) -> SocketAddr {
    start_with(limits, gradsheet_web::book::Books::new())
}

/// [`start`] with workbooks already open (`gradsheet serve --book FILE`).
pub fn start_with(limits: gradsheet_web::Limits, books: gradsheet_web::book::Books) -> SocketAddr {
    course22();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let server =
                gradsheet_web::Server::bind_with_books(([127, 0, 0, 1], 0).into(), limits, books)
                    .await
                    .expect("bind");
            tx.send(server.local_addr()).expect("send addr");
            server.run().await.expect("serve");
        });
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the server did not start")
}

/// A response: status, headers (lower-case names) and body.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// Sends one request and reads the whole answer.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    timeout: Duration,
) -> std::io::Result<Response> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let body = body.unwrap_or(b"");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    // Read the head, then as much body as Content-Length says (chromedriver keeps the
    // connection open whatever the request asked), a chunked body to its last chunk, or
    // anything else to the end of the stream.
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let mut head_end = None;
    loop {
        if let Some(split) = head_end {
            let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            let done = match length {
                Some(n) => raw.len() >= split + 4 + n,
                None if head.contains("transfer-encoding: chunked") => raw.ends_with(b"0\r\n\r\n"),
                None => false,
            };
            if done {
                break;
            }
        }
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if head_end.is_none() {
            head_end = raw.windows(4).position(|w| w == b"\r\n\r\n");
        }
    }
    let split = head_end.ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body)?;
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut b: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| bad("bad chunk"))?;
        let size_text = String::from_utf8_lossy(&b[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| bad("bad chunk size"))?;
        b = &b[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size + 2 {
            return Err(bad("short chunk"));
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

fn bad(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg)
}

/// POSTs JSON to the app.
pub fn post(path: &str, body: &serde_json::Value) -> Response {
    request(
        server(),
        "POST",
        path,
        Some(body.to_string().as_bytes()),
        Duration::from_secs(30),
    )
    .expect("request")
}

/// GETs a path of the app.
pub fn get(path: &str) -> Response {
    request(server(), "GET", path, None, Duration::from_secs(30)).expect("request")
}

/// A query value with every byte but letters and digits percent-encoded, as a page's
/// `encodeURIComponent` (and more) does.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
