//! Error answers: a status and a JSON [`ErrorBody`] naming the input at fault.
//!
//! The field comes from the error's own data, never from its wording: a formula error
//! knows which formula it is about, an optimizer error which hyperparameter
//! ([`OptimizerError::field`]), a JSON error the path of the value it could not read.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use gradsheet_engine::FormulaError;
use gradsheet_train::{OptimizerError, TrainError};

use crate::dto::ErrorBody;

/// An error answer: a status and a JSON body.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// The HTTP status (4xx for anything the client can fix, 503 past the time budget).
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

    /// A formula error in the input `field`, with its span in characters for the page
    /// and the caret line under the fault.
    pub fn formula(field: &str, e: &FormulaError) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: ErrorBody {
                error: format!("in the {field}: {}", e.kind),
                field: Some(field.to_string()),
                span: Some(char_span(e)),
                caret: Some(e.render()),
            },
        }
    }

    /// A request whose JSON cannot be read: a syntax error, a value of the wrong type, or
    /// a field the request does not have, with the path of the value at fault as the
    /// field (`hyper.bta1`, `runs[0].optimizer`).
    pub fn json(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
        let path = e.path().to_string();
        let mut err = ApiError::status(
            StatusCode::BAD_REQUEST,
            format!("invalid request: {}", e.inner()),
        );
        if path != "." {
            err.body.field = Some(path);
        }
        err
    }
}

impl From<OptimizerError> for ApiError {
    fn from(e: OptimizerError) -> ApiError {
        ApiError::bad(e.to_string(), e.field())
    }
}

impl From<TrainError> for ApiError {
    fn from(e: TrainError) -> ApiError {
        let field = match e {
            TrainError::MissingColumn(..) | TrainError::NoData => "data",
            TrainError::InitLength { .. } => "init",
            TrainError::Invalid(_) => "optimizer",
        };
        ApiError::bad(e.to_string(), field)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// The fault of a formula error as character positions `[start, end)` of its text.
fn char_span(e: &FormulaError) -> [usize; 2] {
    let (start, end) = e.char_span();
    [start, end]
}
