//! The JSON API's errors: a status and `{"error": "..."}`, mapped from the broker's errors in one
//! place.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ferromq_broker::service::ConsoleDenied;
use ferromq_broker::BrokerError;

/// A refused or failed API call.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
        }
    }
}

impl From<BrokerError> for ApiError {
    fn from(e: BrokerError) -> Self {
        let status = match &e {
            BrokerError::BadHeader(_)
            | BrokerError::BadBody(_)
            | BrokerError::InvalidName { .. }
            | BrokerError::BadQueueId { .. }
            | BrokerError::InvalidArgument(_)
            | BrokerError::MessageIllegal(_) => StatusCode::BAD_REQUEST,
            BrokerError::TopicNotExist(_)
            | BrokerError::SubscriptionGroupNotExist(_)
            | BrokerError::NotFound(_)
            | BrokerError::Missing(_) => StatusCode::NOT_FOUND,
            BrokerError::NoPermission { .. }
            | BrokerError::Forbidden(_)
            | BrokerError::SendForbidden(_) => StatusCode::FORBIDDEN,
            BrokerError::ReplicaRefusesWrites(_) | BrokerError::LeaseExpired(_) => {
                StatusCode::CONFLICT
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self {
            status,
            message: e.to_string(),
        }
    }
}

impl From<ConsoleDenied> for ApiError {
    fn from(e: ConsoleDenied) -> Self {
        let status = match e {
            ConsoleDenied::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ConsoleDenied::Forbidden(_) => StatusCode::FORBIDDEN,
        };
        Self {
            status,
            message: e.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message }).to_string();
        let mut r = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            // A browser asks for the access key and secret key once and resends them itself.
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"ferromq\""),
            );
        }
        r
    }
}
