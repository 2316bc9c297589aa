//! A command's result in both output forms: a table for people, JSON for scripts. Field names of
//! the JSON are part of the interface (docs/admin.md lists them) and only ever gain fields.

use serde_json::Value;

/// What a command printed.
#[derive(Debug, Clone)]
pub struct Report {
    pub json: Value,
    /// Ends with a newline.
    pub table: String,
}

impl Report {
    #[must_use]
    pub fn new(json: Value, table: String) -> Self {
        Self { json, table }
    }
}
