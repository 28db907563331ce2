//! gradsheet's web app: the labs of the command line as pages where moving a slider
//! recomputes every number of a run and redraws its charts at once.
//!
//! The server is a small axum [`Router`](axum::Router): JSON endpoints over the pure
//! crates, and a few hand-written static assets (HTML, CSS, ES modules) compiled into the
//! binary, so the app works offline and needs no build step beyond cargo. Charts are
//! drawn by the page itself as SVG from the numbers the endpoints send.
//!
//! | endpoint | does |
//! |---|---|
//! | `POST /api/formula` | parses a model and loss: parameters, ∂e/∂p in Excel syntax and mathematics, or the error with its span and caret |
//! | `POST /api/check` | symbolic, reverse-mode and central-difference derivatives on every row; recognises a typed derivative |
//! | `POST /api/train` | a training run: one epoch's step rows, the path, epoch summaries, how it stopped, the diagnosis, the error surface |
//! | `POST /api/compare` | several optimizers from one start: error curves and paths |
//! | `POST /api/step` | one step of a run as formulas with its numbers: prediction, error, derivatives, update |
//! | `POST /api/sheet` | a graddesc workbook sheet replayed with its macros (Reset, onestep), cell for cell |
//! | `POST /api/sweep` | a grid of two settings, the final error of each run (the stability map) |
//! | `GET /api/optimizers` | every optimizer rule of `gradsheet_train::rules`: name, label, settings with meaning, default, range and slider slot, state |
//! | `GET /api/labs` | every lab (concept and workbook labs): name, description, parameters with defaults, ranges, choices |
//! | `POST /api/lab` | one lab run by name with its settings: notes, tables, SVG figures, grayscale images |
//! | `POST /api/book`, `/api/book/{id}/{grad,values,run}` | a learner's own workbook: its sheets, recalculation, typed derivative columns' verdicts, exact derivatives of a cell, new values after typing an input, its loop ([`book`]) |
//! | `GET /api/export/{file}?spec=JSON` | downloads: `run.xlsx` (live formulas), `trace.csv`, `path.svg`, `recipe.toml` |
//!
//! Every request is bounded ([`Limits`]): body size, formula length, steps (epochs ×
//! rows), grid size, and time. A request past a limit, or with bad input (a field the
//! request does not have included), gets a 4xx answer with a JSON [`dto::ErrorBody`]
//! naming the field at fault; one past its time budget a 503; nothing a client sends
//! makes the server panic. The numeric work runs off the async threads in two lanes, so
//! that small requests answer in milliseconds while heavy ones compute ([`work`]).
//! Connections that send nothing, or stop reading, are closed after a timeout
//! ([`server`]).
//!
//! | module | holds |
//! |---|---|
//! | [`dto`] | the JSON shapes of requests and answers |
//! | [`compute`] | the work behind each endpoint: DTOs in, calls into the pure crates, DTOs out |
//! | [`labs`] | the labs page's endpoints |
//! | [`book`] | the "Your workbook" page's endpoints, and the workbooks kept open |
//! | [`work`] | lanes, the per-request deadline, reading requests |
//! | [`server`] | the connection loop and its timeouts |
//! | [`error`] | error answers and the field each names |
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let server = gradsheet_web::Server::bind("127.0.0.1:8080".parse().unwrap()).await?;
//! println!("gradsheet is running at {}", server.url());
//! server.run().await
//! # }
//! ```

use std::time::Duration;

mod assets;
pub mod book;
pub mod compute;
pub mod dto;
pub mod error;
pub mod labs;
pub mod net;
mod routes;
pub mod server;
pub mod work;

pub use error::ApiError;
pub use routes::{router, router_with, router_with_books};
pub use server::{serve, Server};

/// The bounds on the work of one request, and on connections.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Largest request body in bytes.
    pub max_body: usize,
    /// Largest workbook uploaded, in bytes (graddesc.xlsm is 300 KB, titanic.xlsx 1 MB).
    pub max_book: usize,
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
    /// The time a request has from its arrival to its answer, waiting included; past it
    /// the work stops and the answer is a 503.
    pub budget: Duration,
    /// Light requests computing at the same time; the others wait their turn.
    pub max_light: usize,
    /// Heavy requests computing at the same time; the others wait their turn.
    pub max_heavy: usize,
    /// The time a request's head, and then its body, may take to arrive; also the
    /// longest a connection may sit idle between requests.
    pub read_timeout: Duration,
    /// The longest an answer may wait for the client to read any of it.
    pub send_timeout: Duration,
    /// Connections served at once; further ones wait to be accepted.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 64 * 1024,
            max_book: 16 * 1024 * 1024,
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
            budget: Duration::from_secs(10),
            max_light: 8,
            max_heavy: 2,
            read_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(30),
            max_connections: 512,
        }
    }
}
