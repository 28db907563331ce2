//! The router: each endpoint reads its request, picks its lane and runs its computation
//! there (see [`crate::work`]).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;

use crate::assets::asset;
use crate::work::{answer, parse_json, read_body, Deadline, Lane, Lanes, Work};
use crate::{book, compute, dto, labs, net, ApiError, Limits};

pub(crate) struct App {
    pub(crate) limits: Limits,
    pub(crate) lanes: Lanes,
    pub(crate) books: book::Books,
}

pub(crate) type Shared = Arc<App>;

/// A computation behind an endpoint.
type Compute<Q, A> = fn(&Q, &Limits, &Deadline) -> Result<A, ApiError>;

/// The app's router with the default [`Limits`].
pub fn router() -> Router {
    router_with(Limits::default())
}

/// The app's router with the given limits.
pub fn router_with(limits: Limits) -> Router {
    router_with_books(limits, book::Books::new())
}

/// The app's router with the given limits and workbooks already open (`gradsheet serve
/// --book FILE`).
pub fn router_with_books(limits: Limits, books: book::Books) -> Router {
    let app = Arc::new(App {
        lanes: Lanes::new(&limits),
        limits,
        books,
    });
    Router::new()
        .route("/", get(|| async { asset("index.html") }))
        .route(
            "/assets/{file}",
            get(|Path(f): Path<String>| async move { asset(&f) }),
        )
        .route("/api/formula", post(|s, r| json(s, r, compute::formula)))
        .route("/api/check", post(|s, r| json(s, r, compute::check)))
        .route("/api/train", post(|s, r| json(s, r, compute::train)))
        .route("/api/compare", post(|s, r| json(s, r, compute::compare)))
        .route("/api/sweep", post(|s, r| json(s, r, compute::sweep)))
        .route("/api/sheet", post(|s, r| json(s, r, compute::sheet)))
        .route("/api/step", post(|s, r| json(s, r, compute::step)))
        .route("/api/net", post(|s, r| json(s, r, net::net)))
        .route(
            "/api/lab",
            post(|s, r| json(s, r, |q, l, _| labs::lab(q, l))),
        )
        .route(
            "/api/labs",
            get(|State(app): State<Shared>| async move {
                let deadline = Deadline::after(app.limits.budget);
                answer(
                    app.lanes
                        .run(Lane::Light, &app.limits, deadline, |l, _| {
                            labs::labs(&(), l)
                        })
                        .await,
                )
            }),
        )
        .route(
            "/api/optimizers",
            get(|| async { axum::Json(compute::optimizers()) }),
        )
        .route("/api/book", post(book::upload).get(book::preloaded))
        .route("/api/book/{id}/{what}", post(book::ask).get(book::download))
        .route("/api/export/{file}", get(export))
        .route("/api/lab/file/{file}", get(lab_file))
        .route("/api/net/file/{file}", get(net_file))
        .fallback(|| async { ApiError::status(StatusCode::NOT_FOUND, "no such page") })
        .with_state(app)
}

/// The handler of a JSON endpoint: reads the request, runs `f` in the request's lane.
async fn json<Q: Work, A: Serialize + Send + 'static>(
    State(app): State<Shared>,
    req: Request<Body>,
    f: Compute<Q, A>,
) -> Response {
    // The budget counts from the request's arrival: reading and waiting included.
    let deadline = Deadline::after(app.limits.budget);
    let spec: Q = match read_body(req.into_body(), &app.limits).await {
        Ok(bytes) => match parse_json(&bytes) {
            Ok(spec) => spec,
            Err(e) => return e.into_response(),
        },
        Err(e) => return e.into_response(),
    };
    let lane = spec.lane(&app.limits);
    answer(
        app.lanes
            .run(lane, &app.limits, deadline, move |l, d| f(&spec, l, d))
            .await,
    )
}

impl Work for labs::LabSpec {
    /// A lab can take a good part of a second and does not poll the deadline.
    fn lane(&self, _: &Limits) -> Lane {
        Lane::Heavy
    }
}

/// `GET /api/export/{file}?spec=<TrainSpec as JSON>`: a download of the run.
async fn export(
    State(app): State<Shared>,
    Path(file): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let deadline = Deadline::after(app.limits.budget);
    let spec: dto::TrainSpec = match query_spec(q, &app.limits) {
        Ok(s) => s.unwrap_or_default(),
        Err(e) => return e.into_response(),
    };
    let (mime, f): (&str, Compute<dto::TrainSpec, Vec<u8>>) = match file.as_str() {
        "trace.csv" => ("text/csv; charset=utf-8", |s, l, d| {
            compute::csv(s, l, d).map(String::into_bytes)
        }),
        "recipe.toml" => ("application/toml; charset=utf-8", |s, l, d| {
            compute::recipe(s, l, d).map(String::into_bytes)
        }),
        "run.xlsx" => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            compute::xlsx,
        ),
        "path.svg" => ("image/svg+xml", compute::svg),
        _ => {
            return ApiError::status(StatusCode::NOT_FOUND, format!("no export named {file}"))
                .into_response()
        }
    };
    let result = app
        .lanes
        .run(Lane::Heavy, &app.limits, deadline, move |l, d| {
            f(&spec, l, d)
        })
        .await;
    match result {
        Ok(bytes) => attachment(bytes, mime, &file),
        Err(e) => e.into_response(),
    }
}

/// A download: the bytes with their type, saved as `gradsheet-<file>`.
fn attachment(bytes: Vec<u8>, mime: &'static str, file: &str) -> Response {
    let disposition = format!("attachment; filename=\"gradsheet-{file}\"");
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// The JSON of a download's `spec=` query value, or `None` when there is none.
fn query_spec<T: serde::de::DeserializeOwned>(
    raw: Option<String>,
    limits: &Limits,
) -> Result<Option<T>, ApiError> {
    let raw = raw.unwrap_or_default();
    if raw.len() > limits.max_body {
        return Err(ApiError::status(
            StatusCode::URI_TOO_LONG,
            "the download request is too long",
        ));
    }
    let json = raw
        .split('&')
        .find_map(|kv| kv.strip_prefix("spec="))
        .map(percent_decode)
        .unwrap_or_default();
    if json.is_empty() {
        return Ok(None);
    }
    parse_json(json.as_bytes()).map(Some)
}

/// `GET /api/lab/file/{file}?spec=<LabSpec as JSON>`: a lab's download (see
/// [`labs::file`]).
async fn lab_file(
    State(app): State<Shared>,
    Path(file): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let deadline = Deadline::after(app.limits.budget);
    let spec: labs::LabSpec = match query_spec(q, &app.limits) {
        Ok(Some(s)) => s,
        Ok(None) => {
            return ApiError::bad("give the lab as spec={\"name\": …}", "spec").into_response()
        }
        Err(e) => return e.into_response(),
    };
    let name = file.clone();
    let result = app
        .lanes
        .run(Lane::Heavy, &app.limits, deadline, move |_, _| {
            labs::file(&spec, &name)
        })
        .await;
    match result {
        Ok((bytes, mime)) => attachment(bytes, mime, &file),
        Err(e) => e.into_response(),
    }
}

/// `GET /api/net/file/net.xlsx?spec=<NetRequest as JSON>`: the trained network as a
/// workbook of live formulas (see [`net::xlsx`]).
async fn net_file(
    State(app): State<Shared>,
    Path(file): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let deadline = Deadline::after(app.limits.budget);
    if file != "net.xlsx" {
        return ApiError::status(StatusCode::NOT_FOUND, format!("no export named {file}"))
            .into_response();
    }
    let spec: net::NetRequest = match query_spec(q, &app.limits) {
        Ok(s) => s.unwrap_or_default(),
        Err(e) => return e.into_response(),
    };
    let result = app
        .lanes
        .run(Lane::Heavy, &app.limits, deadline, move |l, d| {
            net::xlsx(&spec, l, d)
        })
        .await;
    match result {
        Ok(bytes) => attachment(
            bytes,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            &file,
        ),
        Err(e) => e.into_response(),
    }
}

/// Decodes `%XX` escapes and `+` (a space) of a query value; bad escapes stay as they are.
pub(crate) fn percent_decode(s: &str) -> String {
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
