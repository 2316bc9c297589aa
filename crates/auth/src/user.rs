//! Users: the access key a client signs with is the user name, the secret key its password.

use std::fmt;
use std::str::FromStr;

use crate::error::ModelError;

/// A super user passes every authorization check; a normal user needs policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserType {
    Super,
    Normal,
}

/// A disabled user is refused at authentication, its policies kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    Enabled,
    Disabled,
}

#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    /// The secret key. Kept in clear because an HMAC is checked by recomputing it.
    pub password: String,
    pub kind: UserType,
    pub status: UserStatus,
}

impl User {
    /// # Errors
    /// `Empty` for an empty name or password.
    pub fn new(name: &str, password: &str, kind: UserType) -> Result<Self, ModelError> {
        if name.trim().is_empty() {
            return Err(ModelError::Empty("username"));
        }
        if password.is_empty() {
            return Err(ModelError::Empty("password"));
        }
        Ok(Self {
            name: name.to_owned(),
            password: password.to_owned(),
            kind,
            status: UserStatus::Enabled,
        })
    }
}

// The password never reaches a log line.
impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl UserType {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Super => "Super",
            Self::Normal => "Normal",
        }
    }
}

impl FromStr for UserType {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            t if t.eq_ignore_ascii_case("super") => Ok(Self::Super),
            t if t.eq_ignore_ascii_case("normal") => Ok(Self::Normal),
            _ => Err(ModelError::UserType(s.to_owned())),
        }
    }
}

impl UserStatus {
    /// Apache's names (`UserStatus.ENABLE` is written `enable`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Enabled => "enable",
            Self::Disabled => "disable",
        }
    }
}

impl FromStr for UserStatus {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            t if t.eq_ignore_ascii_case("enable") || t.eq_ignore_ascii_case("enabled") => {
                Ok(Self::Enabled)
            }
            t if t.eq_ignore_ascii_case("disable") || t.eq_ignore_ascii_case("disabled") => {
                Ok(Self::Disabled)
            }
            _ => Err(ModelError::UserStatus(s.to_owned())),
        }
    }
}
