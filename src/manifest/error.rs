//! The manifest's error: every problem found in a document, each named by its path.
//!
//! A manifest that is wrong is refused whole, so the error never stops at the first problem: it
//! lists all of them as `path: message` lines. Within each mapping of fields, unknown and
//! duplicate keys come first (in document order), then the problems of its fields in the order
//! the manifest format lists them; within a mapping of assets or roles, and within a list, in
//! document order.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The path used for problems that concern the document as a whole (empty, not a mapping, too
/// large, unreadable without a known position).
pub const DOCUMENT_PATH: &str = "(document)";

/// One thing wrong with a manifest: where (`treasury.safes[0].threshold`) and what.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Problem {
    /// Dotted path to the offending value, with `[i]` for list items, e.g.
    /// `treasury.safes[0].owners[2]`; `line L, column C` for syntax errors; the file name for
    /// I/O errors; [`DOCUMENT_PATH`] for the document as a whole.
    pub path: String,
    /// What is wrong, in words meant for the person who wrote the manifest.
    pub message: String,
}

impl Problem {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Why a manifest was refused: every problem found, one `path: message` line each when displayed.
///
/// The same type covers the three ways a manifest can fail: it cannot be read
/// ([`ManifestError::io`]), it is not valid YAML or JSON ([`ManifestError::syntax`], with the
/// line and column the parser reports), or it parses but breaks the rules (one [`Problem`] per
/// broken rule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}", render(.problems))]
pub struct ManifestError {
    /// Every problem found, in the order described in the module docs.
    pub problems: Vec<Problem>,
}

fn render(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl ManifestError {
    /// An error listing `problems`.
    pub fn new(problems: Vec<Problem>) -> Self {
        Self { problems }
    }

    /// An error with a single problem at `path`.
    pub fn single(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(vec![Problem::new(path, message)])
    }

    /// The text could not be parsed as `format` (`"YAML"` or `"JSON"`). `location` is the
    /// 1-based `(line, column)` the parser reported, when it reported one; it becomes the
    /// problem's path (`line 3, column 7`).
    pub fn syntax(
        format: &str,
        location: Option<(usize, usize)>,
        message: impl fmt::Display,
    ) -> Self {
        let path = match location {
            Some((line, column)) => format!("line {line}, column {column}"),
            None => DOCUMENT_PATH.to_owned(),
        };
        Self::single(path, format!("invalid {format}: {message}"))
    }

    /// The manifest file at `path` could not be read; the problem's path is the file name.
    pub fn io(path: &Path, error: &std::io::Error) -> Self {
        Self::single(
            path.display().to_string(),
            format!("cannot read the manifest: {error}"),
        )
    }

    /// The problems' `path: message` lines, in order.
    pub fn lines(&self) -> Vec<String> {
        self.problems.iter().map(Problem::to_string).collect()
    }
}

impl From<Problem> for ManifestError {
    fn from(problem: Problem) -> Self {
        Self::new(vec![problem])
    }
}
