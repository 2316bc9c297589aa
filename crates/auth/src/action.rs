//! What a request does to a resource (`Action` in Apache's `auth` module).

use std::fmt;
use std::str::FromStr;

use crate::error::ModelError;

/// One action. A policy entry lists the actions it allows or denies; `All` stands for every one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    All,
    Pub,
    Sub,
    Create,
    Update,
    Delete,
    Get,
    List,
}

impl Action {
    /// The name RocketMQ writes (`Pub`, `Sub`, ...).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::All => "All",
            Self::Pub => "Pub",
            Self::Sub => "Sub",
            Self::Create => "Create",
            Self::Update => "Update",
            Self::Delete => "Delete",
            Self::Get => "Get",
            Self::List => "List",
        }
    }
}

impl FromStr for Action {
    type Err = ModelError;

    /// Case-insensitive, as Apache's `Action.getByName`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const ALL: [Action; 8] = [
            Action::All,
            Action::Pub,
            Action::Sub,
            Action::Create,
            Action::Update,
            Action::Delete,
            Action::Get,
            Action::List,
        ];
        ALL.into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ModelError::Action(s.to_owned()))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `Pub|Sub` as remarks and logs name a request's alternatives.
#[must_use]
pub fn names(actions: &[Action]) -> String {
    actions
        .iter()
        .map(|a| a.name())
        .collect::<Vec<_>>()
        .join("|")
}
