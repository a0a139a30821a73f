//! Diagnostics: errors and warnings about a manifest, each pointing at a file, line and column.
//!
//! A [`Diagnostic`] renders like a cargo/rustc message:
//!
//! ```text
//! error: unknown field `sorce` in [component.hello]
//!   --> examples/hello/spin.toml:12:1
//!   = help: did you mean `source`? expected one of `source`, `description`, ...
//! ```

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// How serious a [`Diagnostic`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The manifest cannot be used.
    Error,
    /// The manifest can be used, but something is probably not what the author meant.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One error or warning about a manifest, located at a 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// One-line description of the problem, e.g. "unknown field `sorce` in [component.hello]".
    pub message: String,
    /// The manifest file, as the user named it.
    pub file: PathBuf,
    /// 1-based line number.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// Optional suggestion on how to fix the problem (rendered as `= help: ...`).
    pub hint: Option<String>,
}

impl Diagnostic {
    /// Builds an error diagnostic at `line:column`.
    pub fn error(message: impl Into<String>, file: &Path, line: usize, column: usize) -> Self {
        Self {
            severity: Severity::Error,
            message: message.into(),
            file: file.to_path_buf(),
            line,
            column,
            hint: None,
        }
    }

    /// Builds a warning diagnostic at `line:column`.
    pub fn warning(message: impl Into<String>, file: &Path, line: usize, column: usize) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(message, file, line, column)
        }
    }

    /// Adds (or replaces) the help text.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// True for [`Severity::Error`].
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}\n  --> {}:{}:{}",
            self.severity,
            self.message,
            self.file.display(),
            self.line,
            self.column
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  = help: {hint}")?;
        }
        Ok(())
    }
}

/// Why a manifest could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The manifest has one or more errors (never empty). `Display` prints them all.
    #[error("{}", render_all(.0))]
    Invalid(Vec<Diagnostic>),
    /// The manifest file could not be read.
    #[error("{}", render_io(.path, .source))]
    Io {
        /// The path that was tried.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl ManifestError {
    /// The error diagnostics (empty for [`ManifestError::Io`]).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ManifestError::Invalid(d) => d,
            ManifestError::Io { .. } => &[],
        }
    }
}

fn render_all(diags: &[Diagnostic]) -> String {
    let mut out = diags
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n\n");
    let n = diags.iter().filter(|d| d.is_error()).count();
    if n > 1 {
        out.push_str(&format!("\n\nerror: the manifest has {n} errors"));
    }
    out
}

fn render_io(path: &Path, err: &std::io::Error) -> String {
    if err.kind() == std::io::ErrorKind::NotFound {
        format!(
            "error: manifest file `{}` not found\n  = help: run in the app's directory, or pass the manifest path: `spindle up -f <path>`",
            path.display()
        )
    } else {
        format!(
            "error: cannot read manifest file `{}`: {err}\n  = help: pass a readable manifest path: `spindle up -f <path>`",
            path.display()
        )
    }
}

/// Converts byte offsets in a text into 1-based (line, column) positions.
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { text, line_starts }
    }

    /// 1-based line and column (in chars) of byte `offset`.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let column = self
            .text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(offset - start);
        (line + 1, column + 1)
    }
}

/// Collects diagnostics for one manifest file.
pub(crate) struct Sink<'a> {
    pub(crate) file: &'a Path,
    index: LineIndex<'a>,
    pub(crate) diags: Vec<Diagnostic>,
}

impl<'a> Sink<'a> {
    pub(crate) fn new(file: &'a Path, text: &'a str) -> Self {
        Self {
            file,
            index: LineIndex::new(text),
            diags: Vec::new(),
        }
    }

    pub(crate) fn at(
        &self,
        severity: Severity,
        span: &Range<usize>,
        message: String,
    ) -> Diagnostic {
        let (line, column) = self.index.position(span.start);
        Diagnostic {
            severity,
            message,
            file: self.file.to_path_buf(),
            line,
            column,
            hint: None,
        }
    }

    pub(crate) fn line_of(&self, span: &Range<usize>) -> usize {
        self.index.position(span.start).0
    }

    pub(crate) fn error(&mut self, span: &Range<usize>, message: impl Into<String>) {
        let d = self.at(Severity::Error, span, message.into());
        self.diags.push(d);
    }

    pub(crate) fn error_hint(
        &mut self,
        span: &Range<usize>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let d = self
            .at(Severity::Error, span, message.into())
            .with_hint(hint);
        self.diags.push(d);
    }

    pub(crate) fn warn(&mut self, span: &Range<usize>, message: impl Into<String>) {
        let d = self.at(Severity::Warning, span, message.into());
        self.diags.push(d);
    }

    pub(crate) fn warn_hint(
        &mut self,
        span: &Range<usize>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let d = self
            .at(Severity::Warning, span, message.into())
            .with_hint(hint);
        self.diags.push(d);
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.diags.iter().any(Diagnostic::is_error)
    }

    /// Splits into (errors, warnings).
    /// Both are sorted by position (stable, so same-position diagnostics keep their order).
    pub(crate) fn split(mut self) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
        self.diags.sort_by_key(|d| (d.line, d.column));
        self.diags.into_iter().partition(Diagnostic::is_error)
    }
}

/// Levenshtein distance between two short strings.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The candidate closest to `word`, if it is close enough to be a plausible typo.
pub(crate) fn closest<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let limit = std::cmp::max(2, word.chars().count() / 3);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= limit && *d < c.chars().count())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// "`a`, `b`, `c`"
pub(crate) fn backticked<'c>(items: impl IntoIterator<Item = &'c str>) -> String {
    items
        .into_iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_cargo_like() {
        let d = Diagnostic::error(
            "unknown field `sorce` in [component.hello]",
            Path::new("examples/hello/spin.toml"),
            12,
            1,
        )
        .with_hint("did you mean `source`?");
        assert_eq!(
            d.to_string(),
            "error: unknown field `sorce` in [component.hello]\n  --> examples/hello/spin.toml:12:1\n  = help: did you mean `source`?"
        );
        let w = Diagnostic::warning("w", Path::new("spin.toml"), 3, 4);
        assert_eq!(w.to_string(), "warning: w\n  --> spin.toml:3:4");
    }

    #[test]
    fn line_index_positions() {
        let idx = LineIndex::new("ab\ncdé\nx");
        assert_eq!(idx.position(0), (1, 1));
        assert_eq!(idx.position(1), (1, 2));
        assert_eq!(idx.position(3), (2, 1));
        // 'é' is two bytes (5..7): column counts chars
        assert_eq!(idx.position(7), (2, 4));
        assert_eq!(idx.position(8), (3, 1));
        assert_eq!(idx.position(100), (3, 2));
    }

    #[test]
    fn closest_suggests_typos_only() {
        let keys = ["source", "files", "description"];
        assert_eq!(closest("sorce", keys), Some("source"));
        assert_eq!(closest("file", keys), Some("files"));
        assert_eq!(closest("zzzzzz", keys), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn io_error_mentions_path_and_flag() {
        let e = ManifestError::Io {
            path: PathBuf::from("nope/spin.toml"),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        let s = e.to_string();
        assert!(s.contains("`nope/spin.toml` not found"), "{s}");
        assert!(s.contains("spindle up -f <path>"), "{s}");
        assert!(e.diagnostics().is_empty());
    }
}
