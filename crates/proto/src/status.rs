//! The [`Status`] every v5 response carries: application errors travel here, with the gRPC status
//! left OK, and its code must always be set (clients fail a call whose code is unspecified).

use crate::v2::{Code, Status};

impl Status {
    /// A status with `code` and `message`.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Status {
            code: code as i32,
            message: message.into(),
        }
    }

    /// `OK`, with the message clients see on success.
    #[must_use]
    pub fn ok() -> Self {
        Status::new(Code::Ok, Code::Ok.meaning())
    }

    /// The code as an enum, or `None` for a number this crate does not know (a newer peer's).
    /// The generated `code()` accessor maps unknown numbers to `Unspecified` instead.
    #[must_use]
    pub fn known_code(&self) -> Option<Code> {
        Code::try_from(self.code).ok()
    }

    /// Whether the status reports success (see [`Code::is_success`]).
    #[must_use]
    pub fn is_success(&self) -> bool {
        self.known_code().is_some_and(Code::is_success)
    }
}

impl From<Code> for Status {
    /// A status with the code's [meaning](Code::meaning) as its message.
    fn from(code: Code) -> Self {
        Status::new(code, code.meaning())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_statuses_carry_their_code() {
        let status = Status::new(Code::TopicNotFound, "topic t does not exist");
        assert_eq!(status.code(), Code::TopicNotFound);
        assert_eq!(status.code, 40_402);
        assert_eq!(status.message, "topic t does not exist");
        assert!(!status.is_success());

        assert!(Status::ok().is_success());
        assert_eq!(Status::ok().code, 20_000);
        assert_eq!(Status::from(Code::Forbidden).message, "forbidden");
    }

    #[test]
    fn unknown_codes_are_not_success() {
        let status = Status {
            code: 20_001,
            message: String::new(),
        };
        assert_eq!(status.known_code(), None);
        assert_eq!(status.code(), Code::Unspecified);
        assert!(!status.is_success());
        assert!(!Status::default().is_success());
    }
}
