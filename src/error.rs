//! One error type for the core crate. Every variant names what is at fault
//! (a file, a line, a field and its value) so a user can fix it without reading code.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value is out of its allowed range or inconsistent with another.
    #[error("invalid value for `{field}`: {value} ({reason})")]
    InvalidField { field: String, value: String, reason: String },

    /// A TOML file could not be parsed or did not match the schema.
    #[error("{path}{location}: {message}", location = line_col(*.line, *.column))]
    Toml { path: PathBuf, line: Option<usize>, column: Option<usize>, message: String },

    /// A results file line is not a valid record.
    #[error("{path}:{line}: {message}")]
    Record { path: PathBuf, line: usize, message: String },

    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A data file is missing, or its contents are not what its format promises.
    #[error("{path}: {message}")]
    DataFile { path: PathBuf, message: String },

    /// A preset name that is not shipped under experiments/.
    #[error("unknown preset `{name}` (available: {available})")]
    UnknownPreset { name: String, available: String },

    /// A `--shard` argument that is not `I/N` with I < N.
    #[error("invalid shard `{0}`: expected I/N with 0 <= I < N")]
    Shard(String),
}

fn line_col(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

impl Error {
    pub fn invalid(field: &str, value: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        Error::InvalidField { field: field.to_string(), value: value.to_string(), reason: reason.into() }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    pub fn data_file(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::DataFile { path: path.into(), message: message.into() }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
