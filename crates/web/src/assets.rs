//! The page's static files, compiled into the binary: the app works offline and needs no
//! build step beyond cargo.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::ApiError;

/// An embedded file: its name under `/assets/`, its type, its text.
macro_rules! embed {
    ($name:literal, $mime:expr) => {
        ($name, $mime, include_str!(concat!("../assets/", $name)))
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// The embedded static files: the page, its style, and its ES modules (one per page,
/// and the shared ones they import).
const ASSETS: &[(&str, &str, &str)] = &[
    embed!("index.html", "text/html; charset=utf-8"),
    embed!("style.css", "text/css; charset=utf-8"),
    embed!("favicon.svg", "image/svg+xml"),
    // Pages.
    embed!("app.js", JS),
    embed!("lab.js", JS),
    embed!("playground.js", JS),
    embed!("compare.js", JS),
    embed!("stability.js", JS),
    embed!("labs.js", JS),
    embed!("net.js", JS),
    embed!("net.css", "text/css; charset=utf-8"),
    embed!("book.js", JS),
    embed!("book.css", "text/css; charset=utf-8"),
    // What they share.
    embed!("charts.js", JS),
    embed!("controls.js", JS),
    embed!("dom.js", JS),
    embed!("numbers.js", JS),
    embed!("optimizers.js", JS),
    embed!("player.js", JS),
    embed!("server.js", JS),
    embed!("url.js", JS),
    embed!("views.js", JS),
];

pub(crate) fn asset(name: &str) -> Response {
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
