//! gradsheet's web app: the labs of the command line as pages where moving a slider
//! recomputes every number of a run and redraws its charts at once.
//!
//! The server is a small axum [`Router`]: JSON endpoints over the pure crates, and a few
//! hand-written static assets (HTML, CSS, JS) compiled into the binary, so the app works
//! offline and needs no build step beyond cargo. Charts are drawn by the page itself as
//! SVG from the numbers the endpoints send.
//!
//! | endpoint | does |
//! |---|---|
//! | `POST /api/formula` | parses a model and loss: parameters, ∂e/∂p in Excel syntax and mathematics, or the error with its span and caret |
//! | `POST /api/check` | symbolic, reverse-mode and central-difference derivatives on every row; recognises a typed derivative |
//! | `POST /api/train` | a training run: one epoch's step rows, the path, epoch summaries, how it stopped, the diagnosis, the error surface |
//! | `POST /api/compare` | several optimizers from one start: error curves and paths |
//! | `POST /api/sheet` | a graddesc workbook sheet replayed with its macros (Reset, onestep), cell for cell |
//! | `POST /api/sweep` | a grid of two settings, the final error of each run (the stability map) |
//! | `GET /api/optimizers` | every optimizer rule of `gradsheet_train::rules`: name, label, settings with meaning, default, range and slider slot, state |
//! | `GET /api/labs` | every lab (concept and workbook labs): name, description, parameters with defaults, ranges, choices |
//! | `POST /api/lab` | one lab run by name with its settings: notes, tables, SVG figures, grayscale images |
//! | `GET /api/export/{file}?spec=JSON` | downloads: `run.xlsx` (live formulas), `trace.csv`, `path.svg`, `recipe.toml` |
//!
//! Every request is bounded ([`Limits`]): body size, formula length, steps (epochs ×
//! rows), grid size. A request past a limit, or with bad input, gets a 4xx answer with a
//! JSON [`dto::ErrorBody`]; nothing a client sends makes the server panic. The numeric
//! work runs on tokio's blocking pool, at most a few requests at a time, so the server
//! keeps answering while it computes.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let server = gradsheet_web::Server::bind("127.0.0.1:8080".parse().unwrap()).await?;
//! println!("gradsheet is running at {}", server.url());
//! server.run().await
//! # }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::Semaphore;

pub mod compute;
pub mod dto;
pub mod labs;

use dto::ErrorBody;

/// The bounds on the work of one request.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Largest request body in bytes.
    pub max_body: usize,
    /// Longest formula, in characters.
    pub max_formula_len: usize,
    /// Most training steps (epochs × steps per epoch, summed over runs) per request.
    pub max_steps: usize,
    /// The same for a stability map whose every run is compiled to native code (about
    /// 10⁸ steps a second per core: the default is about a second on two cores).
    pub max_native_steps: usize,
    /// Most grid points × rows of an error surface (computed as native code, several
    /// hundred million a second per core: the default is a few tenths of a second).
    pub max_surface: usize,
    /// Most points per axis of an error surface.
    pub max_grid: usize,
    /// Most rows of generated data.
    pub max_rows: usize,
    /// Most step rows sent for the table.
    pub max_rows_shown: usize,
    /// Most optimizers in one comparison.
    pub max_runs: usize,
    /// Most values per axis of a sweep.
    pub max_sweep_axis: usize,
    /// Longest derivative sent, in bytes (a derivative can be much longer than its formula).
    pub max_shown_formula: usize,
    /// Most steps of a run downloaded as a workbook (one sheet row per step).
    pub max_xlsx_steps: usize,
    /// Requests computing at the same time; the others wait their turn.
    pub max_concurrent: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 64 * 1024,
            max_formula_len: 1000,
            max_steps: 2_000_000,
            max_native_steps: 200_000_000,
            max_surface: 200_000_000,
            max_grid: 120,
            max_rows: 10_000,
            max_rows_shown: 1000,
            max_runs: 8,
            max_sweep_axis: 100,
            max_shown_formula: 20_000,
            max_xlsx_steps: 50_000,
            max_concurrent: 4,
        }
    }
}

/// An error answer: a status and a JSON body.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// The HTTP status (4xx for anything the client can fix).
    pub status: StatusCode,
    /// What went wrong.
    pub body: ErrorBody,
}

impl ApiError {
    /// A 400 about the input `field`.
    pub fn bad(msg: impl Into<String>, field: &str) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: ErrorBody {
                error: msg.into(),
                field: Some(field.to_string()),
                span: None,
                caret: None,
            },
        }
    }

    /// An error with this status and message.
    pub fn status(status: StatusCode, msg: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorBody {
                error: msg.into(),
                field: None,
                span: None,
                caret: None,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

struct App {
    limits: Limits,
    cpu: Arc<Semaphore>,
}

type Shared = Arc<App>;

/// The app's router with the default [`Limits`].
pub fn router() -> Router {
    router_with(Limits::default())
}

/// The app's router with the given limits.
pub fn router_with(limits: Limits) -> Router {
    let app = Arc::new(App {
        cpu: Arc::new(Semaphore::new(limits.max_concurrent.max(1))),
        limits: limits.clone(),
    });
    Router::new()
        .route("/", get(|| async { asset("index.html") }))
        .route(
            "/assets/{file}",
            get(|Path(f): Path<String>| async move { asset(&f) }),
        )
        .route(
            "/api/formula",
            post(|s: State<Shared>, b| json_api(s, b, compute::formula)),
        )
        .route(
            "/api/check",
            post(|s: State<Shared>, b| json_api(s, b, compute::check)),
        )
        .route(
            "/api/train",
            post(|s: State<Shared>, b| json_api(s, b, compute::train)),
        )
        .route(
            "/api/compare",
            post(|s: State<Shared>, b| json_api(s, b, compute::compare)),
        )
        .route(
            "/api/sweep",
            post(|s: State<Shared>, b| json_api(s, b, compute::sweep)),
        )
        .route(
            "/api/sheet",
            post(|s: State<Shared>, b| json_api(s, b, compute::sheet)),
        )
        .route(
            "/api/lab",
            post(|s: State<Shared>, b| json_api(s, b, labs::lab)),
        )
        .route(
            "/api/labs",
            get(|State(app): State<Shared>| async move {
                match blocking(&app, |l| labs::labs(&(), l)).await {
                    Ok(out) => Json(out).into_response(),
                    Err(e) => e.into_response(),
                }
            }),
        )
        .route(
            "/api/optimizers",
            get(|| async { Json(compute::optimizers()) }),
        )
        .route("/api/export/{file}", get(export))
        .fallback(|| async { ApiError::status(StatusCode::NOT_FOUND, "no such page") })
        .layer(DefaultBodyLimit::max(limits.max_body))
        .with_state(app)
}

/// Parses a JSON request, runs `f` on the blocking pool, answers JSON.
async fn json_api<Q, A>(
    State(app): State<Shared>,
    body: Result<Bytes, BytesRejection>,
    f: fn(&Q, &Limits) -> Result<A, ApiError>,
) -> Response
where
    Q: DeserializeOwned + Send + 'static,
    A: Serialize + Send + 'static,
{
    let spec: Q = match parse_body(body, &app.limits) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    match blocking(&app, move |lim| f(&spec, lim)).await {
        Ok(out) => Json(out).into_response(),
        Err(e) => e.into_response(),
    }
}

fn parse_body<Q: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
    lim: &Limits,
) -> Result<Q, ApiError> {
    let bytes = body.map_err(|e| {
        let status = e.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::status(
                status,
                format!("the request is larger than {} bytes", lim.max_body),
            )
        } else {
            ApiError::status(status, e.body_text())
        }
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::status(StatusCode::BAD_REQUEST, format!("invalid request: {e}")))
}

/// Runs CPU-bound work on the blocking pool, a few requests at a time.
async fn blocking<A: Send + 'static>(
    app: &Shared,
    f: impl FnOnce(&Limits) -> Result<A, ApiError> + Send + 'static,
) -> Result<A, ApiError> {
    let permit = app.cpu.clone().acquire_owned().await.map_err(|_| {
        ApiError::status(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down",
        )
    })?;
    let lim = app.limits.clone();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        f(&lim)
    })
    .await
    .map_err(|_| {
        ApiError::status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the computation failed unexpectedly",
        )
    })?
}

/// `GET /api/export/{file}?spec=<TrainSpec as JSON>`: a download of the run.
async fn export(
    State(app): State<Shared>,
    Path(file): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let raw = q.unwrap_or_default();
    if raw.len() > app.limits.max_body {
        return ApiError::status(StatusCode::URI_TOO_LONG, "the export request is too long")
            .into_response();
    }
    let spec_json = raw
        .split('&')
        .find_map(|kv| kv.strip_prefix("spec="))
        .map(percent_decode)
        .unwrap_or_default();
    let spec: dto::TrainSpec = if spec_json.is_empty() {
        dto::TrainSpec::default()
    } else {
        match serde_json::from_str(&spec_json) {
            Ok(s) => s,
            Err(e) => {
                return ApiError::status(
                    StatusCode::BAD_REQUEST,
                    format!("invalid export request: {e}"),
                )
                .into_response()
            }
        }
    };
    let (mime, result): (&str, Result<Vec<u8>, ApiError>) = match file.as_str() {
        "trace.csv" => (
            "text/csv; charset=utf-8",
            blocking(&app, move |l| compute::csv(&spec, l))
                .await
                .map(String::into_bytes),
        ),
        "recipe.toml" => (
            "application/toml; charset=utf-8",
            blocking(&app, move |l| compute::recipe(&spec, l))
                .await
                .map(String::into_bytes),
        ),
        "run.xlsx" => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            blocking(&app, move |l| compute::xlsx(&spec, l)).await,
        ),
        "path.svg" => (
            "image/svg+xml",
            blocking(&app, move |l| compute::svg(&spec, l)).await,
        ),
        _ => (
            "",
            Err(ApiError::status(
                StatusCode::NOT_FOUND,
                format!("no export named {file}"),
            )),
        ),
    };
    match result {
        Ok(bytes) => {
            let disposition = format!("attachment; filename=\"gradsheet-{file}\"");
            let mut r = bytes.into_response();
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
            if let Ok(v) = HeaderValue::from_str(&disposition) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            r
        }
        Err(e) => e.into_response(),
    }
}

/// Decodes `%XX` escapes and `+` (a space) of a query value; bad escapes stay as they are.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The embedded static files.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../assets/index.html"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../assets/style.css"),
    ),
    (
        "charts.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/charts.js"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/app.js"),
    ),
    (
        "labs.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/labs.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../assets/favicon.svg"),
    ),
];

fn asset(name: &str) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, mime, body)) => {
            let mut r = (*body).into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            r
        }
        None => ApiError::status(StatusCode::NOT_FOUND, format!("no asset named {name}"))
            .into_response(),
    }
}

/// A bound listener and the router, ready to serve.
pub struct Server {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    router: Router,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port) with the default limits.
    ///
    /// # Errors
    ///
    /// The bind error, e.g. [`std::io::ErrorKind::AddrInUse`] when the port is taken.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Server> {
        Server::bind_with(addr, Limits::default()).await
    }

    /// Binds `addr` with the given limits.
    ///
    /// # Errors
    ///
    /// The bind error.
    pub async fn bind_with(addr: SocketAddr, limits: Limits) -> std::io::Result<Server> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        Ok(Server {
            listener,
            addr,
            router: router_with(limits),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The app's URL, e.g. `http://127.0.0.1:8080/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Serves until the process ends.
    ///
    /// # Errors
    ///
    /// An IO error of the listener.
    pub async fn run(self) -> std::io::Result<()> {
        axum::serve(self.listener, self.router).await
    }
}

/// Binds `addr` and serves the app until the process ends.
///
/// # Errors
///
/// The bind error or an IO error of the listener.
pub async fn serve(addr: SocketAddr) -> std::io::Result<()> {
    Server::bind(addr).await?.run().await
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Bb+c%7B%22"), "a+b c{\"");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
