//! Headless Chromium driven through chromedriver with the W3C WebDriver protocol.
//!
//! Why hand-written rather than the `fantoccini` crate: the tests use a dozen WebDriver
//! commands, each a small JSON request over HTTP, and the blocking client of `http.rs`
//! already speaks enough HTTP for them. fantoccini would bring hyper, hyper-util, a TLS
//! stack, `url`, `cookie` and the `webdriver` crate into the workspace's build for that.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::http::request;

/// The element key of the W3C protocol.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Where the browser and its driver are, if installed.
pub struct Browser {
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
}

impl Browser {
    /// Chromium and chromedriver from PATH. When either is missing the test skips
    /// loudly, or fails in CI ([`gradsheet_testkit::tool`]).
    pub fn find() -> Option<Browser> {
        let hint = "apt-get install chromium chromium-driver, or run .ci/run as root";
        let chromium =
            gradsheet_testkit::tool(&["chromium", "chromium-browser", "google-chrome"], hint)?;
        let chromedriver = gradsheet_testkit::tool(&["chromedriver"], hint)?;
        Some(Browser {
            chromium,
            chromedriver,
        })
    }
}

/// A running chromedriver and one browser session; both end when this is dropped.
pub struct Session {
    driver: Child,
    addr: SocketAddr,
    id: String,
    _profile: TempDir,
    pub downloads: PathBuf,
    _downloads: TempDir,
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!(
            "gradsheet-web-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Session {
    /// Starts chromedriver on a free port and opens a headless Chromium session.
    pub fn start(b: &Browser) -> Session {
        let port = free_port();
        let driver = Command::new(&b.chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let profile = TempDir::new("profile");
        let downloads = TempDir::new("downloads");
        let mut s = Session {
            driver,
            addr,
            id: String::new(),
            downloads: downloads.0.clone(),
            _profile: profile,
            _downloads: downloads,
        };
        let t0 = Instant::now();
        loop {
            if let Ok(r) = request(addr, "GET", "/status", None, Duration::from_secs(5)) {
                if r.status == 200 && r.json()["value"]["ready"] == json!(true) {
                    break;
                }
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": b.chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    format!("--user-data-dir={}", s._profile.0.display()),
                    "--window-size=1400,1000", "--hide-scrollbars",
                ],
                "prefs": {
                    "download.default_directory": s.downloads,
                    "download.prompt_for_download": false,
                    "download.directory_upgrade": true,
                },
            },
        }}});
        let v = s.raw("POST", "/session", Some(caps));
        s.id = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_string();
        s
    }

    fn raw(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string());
        let r = request(
            self.addr,
            method,
            path,
            body.as_deref().map(str::as_bytes),
            Duration::from_secs(60),
        )
        .unwrap_or_else(|e| panic!("webdriver {method} {path}: {e}"));
        let v = r.json();
        assert!(
            r.status < 300,
            "webdriver {method} {path} answered {}: {v}",
            r.status
        );
        v["value"].clone()
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.raw(method, &format!("/session/{}{path}", self.id), body)
    }

    /// Opens a URL.
    pub fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    /// Runs a script (its `return` value comes back).
    pub fn js(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// Waits until `script` returns something truthy, and returns it.
    pub fn wait(&self, what: &str, script: &str) -> Value {
        let t0 = Instant::now();
        loop {
            let v = self.js(script);
            let truthy = match &v {
                Value::Null | Value::Bool(false) => false,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return v;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The element matching a CSS selector.
    pub fn find(&self, css: &str) -> String {
        let v = self.cmd(
            "POST",
            "/element",
            Some(json!({ "using": "css selector", "value": css })),
        );
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    /// Types text into an element (WebDriver key codes such as `\u{E014}` work too).
    pub fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.cmd(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Clears an input.
    pub fn clear(&self, css: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{e}/clear"), Some(json!({})));
    }

    /// Clicks an element.
    pub fn click(&self, css: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{e}/click"), Some(json!({})));
    }

    /// Shows pages as a phone of this size does (CSS pixels, a touch screen's mobile
    /// layout): Chromium's windows are at least 500 pixels wide, so the size is emulated
    /// through the DevTools protocol rather than set on the window.
    pub fn phone(&self, width: u32, height: u32) {
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(
                json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": {
                    "width": width, "height": height, "deviceScaleFactor": 2, "mobile": true,
                }}),
            ),
        );
    }

    /// Back to the window's own size after [`Session::phone`].
    pub fn desktop(&self) {
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": "Emulation.clearDeviceMetricsOverride", "params": {}})),
        );
    }

    /// Moves the mouse to a point of an element (relative to its centre).
    pub fn hover(&self, css: &str, dx: i64, dy: i64) {
        let mut origin = serde_json::Map::new();
        origin.insert(ELEMENT.into(), Value::String(self.find(css)));
        self.cmd(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
                "actions": [{"type": "pointerMove", "origin": origin, "x": dx, "y": dy}]}]})),
        );
    }

    /// Saves a screenshot of the window as PNG.
    pub fn screenshot(&self, path: &Path) {
        let b64 = self.cmd("GET", "/screenshot", None);
        let png = base64_decode(b64.as_str().expect("screenshot data"));
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot dir");
        }
        std::fs::write(path, png).expect("write screenshot");
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.id.is_empty() {
            let _ = request(
                self.addr,
                "DELETE",
                &format!("/session/{}", self.id),
                None,
                Duration::from_secs(20),
            );
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Standard base64, as WebDriver sends screenshots.
fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for v in s.bytes().filter_map(val) {
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

#[test]
fn base64_round_trip() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("iVBORw=="), b"\x89PNG");
}
