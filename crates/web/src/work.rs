//! How a request's computation is run: in which lane it waits, on which threads it runs,
//! and how long it may take.
//!
//! # Two lanes
//!
//! A request is *light* when what it asks for is small (short formulas, a graddesc-size
//! run, a small error surface: what a slider move sends) and *heavy* otherwise (stability
//! maps, downloads, labs, long runs, long formulas). Each lane has its own bounded number
//! of requests computing at once, so a few heavy requests never make a light one wait;
//! heavy work runs on its own rayon pool, so that it cannot fill the global pool that the
//! light requests' error surfaces use. Both lanes share the machine's cores, which the
//! operating system divides between them.
//!
//! # The time budget
//!
//! Every request has a [`Deadline`]: [`Limits::budget`] from its arrival, waiting
//! included. Work that cannot start before it answers 503 at once; work that runs past it
//! stops, because the loops poll the deadline (a blocking thread cannot be killed): the
//! training loops through [`gradsheet_train::Hooks::should_stop`], stability maps between
//! cells and within runs, gradient checks between rows, the rest between stages. The
//! answer is sent at the deadline even if some uninterruptible piece (differentiating one
//! huge formula, a lab) is still finishing; its thread keeps its lane's slot until then.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use gradsheet_jit::rayon::{ThreadPool, ThreadPoolBuilder};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::{ApiError, Limits};

/// How long past its deadline a request's answer waits for work that does not poll the
/// deadline before answering anyway.
const GRACE: Duration = Duration::from_millis(100);

/// Which lane a request waits and runs in (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// Small work: answered in milliseconds whatever the heavy lane is doing.
    Light,
    /// Everything else.
    Heavy,
}

impl Lane {
    /// [`Lane::Light`] if `light`, else [`Lane::Heavy`].
    pub fn light_if(light: bool) -> Lane {
        if light {
            Lane::Light
        } else {
            Lane::Heavy
        }
    }
}

/// A request body the server computes an answer from.
pub trait Work: DeserializeOwned + Send + 'static {
    /// The lane of this request, judged from what it asks for before any work starts.
    fn lane(&self, lim: &Limits) -> Lane;
}

/// The moment a request's answer is due. The work polls it and stops past it.
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    at: Instant,
    budget: Duration,
}

impl Deadline {
    /// `budget` from now.
    pub fn after(budget: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + budget,
            budget,
        }
    }

    /// Whether the time is up.
    pub fn passed(&self) -> bool {
        Instant::now() >= self.at
    }

    /// `Err` (503, [`Deadline::exceeded`]) once the time is up.
    ///
    /// # Errors
    ///
    /// The answer for a request past its budget.
    pub fn check(&self) -> Result<(), ApiError> {
        if self.passed() {
            Err(self.exceeded())
        } else {
            Ok(())
        }
    }

    /// The answer for work that ran past the budget.
    pub fn exceeded(&self) -> ApiError {
        ApiError::status(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the computation took longer than the {} the web app gives a request, and was stopped: ask for less \
                 (fewer epochs, rows or grid points, a shorter formula), or use the command line, which has no such limit",
                seconds(self.budget)
            ),
        )
    }

    /// The answer for work that could not start before the deadline.
    fn busy(&self) -> ApiError {
        ApiError::status(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the server is busy: this request waited the whole {} it is given without its turn coming; try again shortly",
                seconds(self.budget)
            ),
        )
    }
}

fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s == 1.0 {
        "second".into()
    } else {
        format!("{} seconds", (s * 1000.0).round() / 1000.0)
    }
}

/// The two lanes: a bound on the requests computing in each, and the heavy lane's threads.
pub(crate) struct Lanes {
    light: Arc<Semaphore>,
    heavy: Arc<Semaphore>,
    heavy_pool: Option<Arc<ThreadPool>>,
}

impl Lanes {
    pub(crate) fn new(lim: &Limits) -> Lanes {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        // Without its own pool (threads refused by the system), heavy work shares the
        // global one: slower light answers, but answers.
        let heavy_pool = ThreadPoolBuilder::new()
            .num_threads(cores)
            .thread_name(|i| format!("gradsheet-heavy-{i}"))
            .build()
            .ok()
            .map(Arc::new);
        Lanes {
            light: Arc::new(Semaphore::new(lim.max_light.max(1))),
            heavy: Arc::new(Semaphore::new(lim.max_heavy.max(1))),
            heavy_pool,
        }
    }

    /// Runs `work` in `lane` on the blocking pool, answering by `deadline` (+ [`GRACE`]).
    pub(crate) async fn run<A: Send + 'static>(
        &self,
        lane: Lane,
        lim: &Limits,
        deadline: Deadline,
        work: impl FnOnce(&Limits, &Deadline) -> Result<A, ApiError> + Send + 'static,
    ) -> Result<A, ApiError> {
        let (slots, pool) = match lane {
            Lane::Light => (&self.light, None),
            Lane::Heavy => (&self.heavy, self.heavy_pool.clone()),
        };
        let due = tokio::time::Instant::from_std(deadline.at);
        let permit = match tokio::time::timeout_at(due, slots.clone().acquire_owned()).await {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => {
                return Err(ApiError::status(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the server is shutting down",
                ))
            }
            Err(_) => return Err(deadline.busy()),
        };
        let lim = lim.clone();
        let task = tokio::task::spawn_blocking(move || {
            // The slot is held until the work has really finished, answered or not.
            let _permit = permit;
            match pool {
                Some(p) => p.install(|| work(&lim, &deadline)),
                None => work(&lim, &deadline),
            }
        });
        match tokio::time::timeout_at(due + GRACE, task).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(ApiError::status(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the computation failed unexpectedly",
            )),
            Err(_) => Err(deadline.exceeded()),
        }
    }
}

/// Reads a request's body within [`Limits::read_timeout`] and [`Limits::max_body`].
///
/// # Errors
///
/// 413 past the size limit, 408 when the body does not arrive in time, 400 when the
/// connection breaks.
pub(crate) async fn read_body(body: Body, lim: &Limits) -> Result<Bytes, ApiError> {
    match tokio::time::timeout(lim.read_timeout, axum::body::to_bytes(body, lim.max_body)).await {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(e)) => {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            Err(if too_large {
                ApiError::status(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the request is larger than {} bytes", lim.max_body),
                )
            } else {
                ApiError::status(
                    StatusCode::BAD_REQUEST,
                    format!("the request's body could not be read: {e}"),
                )
            })
        }
        Err(_) => Err(ApiError::status(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request's body did not arrive within {}",
                seconds(lim.read_timeout)
            ),
        )),
    }
}

/// Reads a JSON request. A field the request type does not have is an error naming it.
///
/// # Errors
///
/// [`ApiError::json`].
pub fn parse_json<Q: DeserializeOwned>(bytes: &[u8]) -> Result<Q, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let q = serde_path_to_error::deserialize(&mut de).map_err(ApiError::json)?;
    de.end()
        .map_err(|e| ApiError::status(StatusCode::BAD_REQUEST, format!("invalid request: {e}")))?;
    Ok(q)
}

/// Answers JSON: the value, or the error with its status.
pub(crate) fn answer<A: Serialize>(r: Result<A, ApiError>) -> Response {
    match r {
        Ok(out) => Json(out).into_response(),
        Err(e) => e.into_response(),
    }
}
