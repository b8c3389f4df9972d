//! One error type for the analysis crate. Every variant names what is at fault (a file, a
//! line, a field) so a user can fix the input without reading code; `main` prints it and
//! exits non-zero.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input directory given on the command line does not exist or is not a directory.
    #[error("{path}: not a {what} directory (it does not exist or is a file)")]
    MissingDir { path: PathBuf, what: &'static str },

    /// A file every input of this kind must have is absent.
    #[error("{path}: missing ({why})")]
    MissingFile { path: PathBuf, why: &'static str },

    /// A line of runs.jsonl is not a valid run record.
    #[error("{path}:{line}: {message}")]
    Line { path: PathBuf, line: usize, message: String },

    /// A whole JSON file (machine.json, estimates.json, benchmark.json) is not what we expect.
    #[error("{path}: {message}")]
    Json { path: PathBuf, message: String },

    /// A required field is absent or has the wrong type.
    #[error("{path}: field `{field}`: {message}")]
    Field { path: PathBuf, field: String, message: String },

    /// runs.jsonl holds no run at all.
    #[error("{path}: no run records (is the sweep still running, or did it fail?)")]
    EmptyResults { path: PathBuf },

    /// A criterion directory in which no benchmark has estimates.
    #[error("{path}: no criterion estimates found (expected <group>/<function>/<param>/new/estimates.json; run `cargo bench` first)")]
    NoEstimates { path: PathBuf },

    /// `--out` names an existing directory that is not an earlier report.
    #[error("{path}: exists and is not a report written by analyze; refusing to replace it (choose another --out)")]
    NotAReport { path: PathBuf },

    /// The same run (machine and run id) appears twice with different results.
    #[error("run `{run_id}` appears in {first} and in {second} with different results; remove one of the two inputs")]
    ConflictingRun { run_id: String, first: PathBuf, second: PathBuf },

    /// `--pool-seeds EXTRA=BASE` cannot pool these inputs.
    #[error("--pool-seeds {pool}: {message}")]
    PoolSeeds { pool: String, message: String },

    /// Two sections of one report would write the same file.
    #[error("two parts of the report would both write `{file}`")]
    DuplicateOutput { file: String },

    /// Nothing to analyse.
    #[error("no inputs: give --input DIR (sweep results), --criterion DIR, or --run PRESET")]
    NoInputs,

    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A polars operation failed while building the named table.
    #[error("building table `{table}`: {source}")]
    Polars {
        table: &'static str,
        #[source]
        source: polars::prelude::PolarsError,
    },

    /// Drawing a chart failed.
    #[error("{path}: drawing chart: {message}")]
    Chart { path: PathBuf, message: String },

    /// The core library (the sweep behind `--run`, or an experiment file) failed.
    #[error(transparent)]
    Core(#[from] degradation_bench::Error),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    pub fn field(path: impl Into<PathBuf>, field: &str, message: impl Into<String>) -> Self {
        Error::Field { path: path.into(), field: field.to_string(), message: message.into() }
    }

    /// Wraps a polars error with the table being built; used as `.map_err(Error::polars("…"))`.
    pub fn polars(table: &'static str) -> impl Fn(polars::prelude::PolarsError) -> Self {
        move |source| Error::Polars { table, source }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// A problem that does not stop the report (a truncated last line, a skipped benchmark);
/// printed to stderr and listed in the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning(pub String);

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
