//! Where a configuration error sits in its TOML file, taken from the parser's own spans.
//!
//! The file is parsed once into a spanned document ([`toml::de::DeTable`]): every key and value
//! keeps the byte range it was read from. Syntax and serde errors carry such a range, validation
//! errors carry the path of their field; both are looked up in the document to name the key, and
//! the byte offset becomes a 1-based line and column. Reusing the parser's ranges means inline
//! tables, dotted keys, multi-line arrays and `[[tables]]` are located exactly as TOML reads them,
//! with no second, approximate reading of the file.

use crate::error::Error;
use std::fmt;
use std::ops::Range;
use std::path::Path;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// One step into a document: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Key(String),
    Index(usize),
}

/// The path of a value in a document, shown as `optimizers[1].lr`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TomlPath(Vec<Step>);

impl TomlPath {
    /// The path of a field as validation names it (`depths`, `dataset_options.samples`).
    pub(crate) fn field(field: &str) -> Self {
        TomlPath(field.split('.').map(|key| Step::Key(key.to_string())).collect())
    }

    pub(crate) fn key(mut self, key: &str) -> Self {
        self.0.push(Step::Key(key.to_string()));
        self
    }

    pub(crate) fn index(mut self, index: usize) -> Self {
        self.0.push(Step::Index(index));
        self
    }

    /// The innermost key: what a user searches the file for.
    fn last_key(&self) -> Option<&str> {
        self.0.iter().rev().find_map(|step| match step {
            Step::Key(key) => Some(key.as_str()),
            Step::Index(_) => None,
        })
    }
}

impl fmt::Display for TomlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Key(key) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    let bare =
                        !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                    if bare {
                        f.write_str(key)?;
                    } else {
                        write!(f, "{key:?}")?;
                    }
                }
                Step::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// A key or array element of the document with the byte ranges it came from.
#[derive(Debug)]
struct Entry {
    path: TomlPath,
    /// None for array elements.
    key: Option<Range<usize>>,
    /// For a `[table]` or `[[table]]`, the range of its header.
    value: Range<usize>,
    /// Scalars and inline arrays of scalars: worth quoting in a message.
    quotable: bool,
}

/// A parsed TOML file that can say where any of its values sits.
pub(crate) struct Document<'i> {
    file: &'i Path,
    text: &'i str,
    root: Spanned<DeTable<'i>>,
    entries: Vec<Entry>,
}

impl<'i> Document<'i> {
    /// Parses `text` (read from `file`); a syntax error names the file, line, column and, where the
    /// parser recovered enough of the document, the key it belongs to.
    pub(crate) fn parse(text: &'i str, file: &'i Path) -> Result<Self, Error> {
        // Recovery keeps the keys around a syntax error, so the error can name its key; on valid
        // input it gives the same document as `DeTable::parse`.
        let (root, errors) = DeTable::parse_recoverable(text);
        let mut entries = Vec::new();
        collect(root.get_ref(), &TomlPath::default(), &mut entries);
        let document = Document { file, text, root, entries };
        match errors.first() {
            Some(error) => Err(document.syntax_error(error)),
            None => Ok(document),
        }
    }

    /// The spanned table, for `toml::de::Deserializer::from`.
    pub(crate) fn table(&self) -> Spanned<DeTable<'i>> {
        self.root.clone()
    }

    fn syntax_error(&self, error: &toml::de::Error) -> Error {
        let span = error.span();
        let mut message = error.message().trim().to_string();
        match span.as_ref().and_then(|span| self.entry_at(span)) {
            Some(entry) => message = self.describe(entry, message),
            // A duplicate key is not in the recovered document; its range is the key itself.
            None => {
                if let Some(text) = span.and_then(|span| self.quote(span)) {
                    message = format!("{message} at `{text}`");
                }
            }
        }
        self.toml_error(error.span().map(|span| span.start), message)
    }

    /// A serde error (unknown key, wrong type, unknown name, missing key), located by its range.
    pub(crate) fn schema_error(&self, error: &toml::de::Error) -> Error {
        let message = error.message().trim().to_string();
        let span = error.span();
        // The root table's range is empty at offset 0: an error there (a missing top-level key)
        // belongs to the whole file, not to whichever key happens to start the file.
        let span = span.filter(|span| *span != self.root.span());
        let Some(span) = span else {
            return self.toml_error(None, message);
        };
        let message = match self.entry_at(&span) {
            Some(entry) => {
                let mut message = self.describe(entry, message);
                // serde names most bad values itself ("string \"many\"", "variant `foo`");
                // quote the source only when it does not.
                let named = |value: &str| message.contains(value.trim_matches(|c| c == '"' || c == '\''));
                if let Some(value) = self.quote(entry.value.clone()).filter(|v| entry.quotable && !named(v)) {
                    message = format!("{message} (value `{value}`)");
                }
                message
            }
            None => message,
        };
        self.toml_error(Some(span.start), message)
    }

    /// A validation error about the value at `path`; where the value is absent (a defaulted
    /// field) the nearest enclosing key that is present gives the line.
    pub(crate) fn field_error(&self, error: Error, path: &TomlPath) -> Error {
        let mut message = error.to_string();
        if let Error::InvalidField { field, .. } = &error {
            let shown = path.to_string();
            if !shown.is_empty() && shown != *field {
                message = format!("{message} (at `{shown}`)");
            }
        }
        let entry = (1..=path.0.len())
            .rev()
            .find_map(|len| self.entries.iter().find(|entry| entry.path.0[..] == path.0[..len]));
        self.toml_error(entry.map(|entry| entry.value.start), message)
    }

    /// The innermost entry whose key or value range holds `span`.
    fn entry_at(&self, span: &Range<usize>) -> Option<&Entry> {
        let holds = |outer: &Range<usize>| outer.start <= span.start && span.end <= outer.end;
        self.entries.iter().filter(|entry| holds(&entry.value) || entry.key.as_ref().is_some_and(holds)).min_by_key(
            |entry| {
                let own = if holds(&entry.value) { entry.value.len() } else { usize::MAX };
                let key = entry.key.as_ref().filter(|key| holds(key)).map_or(usize::MAX, |key| key.len());
                (own.min(key), std::cmp::Reverse(entry.path.0.len()))
            },
        )
    }

    /// `` `key`: message (at `path`) ``: the key first, unless the message already names it, and
    /// the full path when it says more than the key (a value inside a table or an array).
    fn describe(&self, entry: &Entry, message: String) -> String {
        let Some(key) = entry.path.last_key() else { return message };
        let mut message = if message.contains(&format!("`{key}`")) { message } else { format!("`{key}`: {message}") };
        let shown = entry.path.to_string();
        if shown != key {
            message = format!("{message} (at `{shown}`)");
        }
        message
    }

    /// The source text of `span` when it is short enough to quote on one line.
    fn quote(&self, span: Range<usize>) -> Option<&'i str> {
        let text = self.text.get(span)?.trim();
        (!text.is_empty() && !text.contains('\n') && text.chars().count() <= 60).then_some(text)
    }

    fn toml_error(&self, offset: Option<usize>, message: String) -> Error {
        let (line, column) = match offset {
            Some(offset) => {
                let (line, column) = line_column(self.text, offset);
                (Some(line), Some(column))
            }
            None => (None, None),
        };
        Error::Toml { path: self.file.to_path_buf(), line, column, message }
    }
}

/// Appends every key and array element under `table` (depth first) to `out`.
fn collect(table: &DeTable<'_>, path: &TomlPath, out: &mut Vec<Entry>) {
    for (key, value) in table.iter() {
        let path = path.clone().key(key.get_ref());
        collect_value(value, path, Some(key.span()), out);
    }
}

fn collect_value(value: &Spanned<DeValue<'_>>, path: TomlPath, key: Option<Range<usize>>, out: &mut Vec<Entry>) {
    let quotable = match value.get_ref() {
        DeValue::Table(_) => false,
        DeValue::Array(items) => !items.iter().any(|item| matches!(item.get_ref(), DeValue::Table(_))),
        _ => true,
    };
    out.push(Entry { path: path.clone(), key, value: value.span(), quotable });
    match value.get_ref() {
        DeValue::Table(table) => collect(table, &path, out),
        DeValue::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                collect_value(item, path.clone().index(index), None, out);
            }
        }
        _ => {}
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`; an offset past the end
/// or inside a character still gives a position rather than a panic.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let column = match text.get(line_start..offset) {
        Some(prefix) => prefix.chars().count(),
        None => offset - line_start,
    };
    (line, column + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(text: &str) -> Document<'_> {
        Document::parse(text, Path::new("t.toml")).unwrap()
    }

    fn line_of(document: &Document<'_>, path: &TomlPath) -> Option<usize> {
        match document.field_error(Error::invalid("f", "v", "r"), path) {
            Error::Toml { line, .. } => line,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn offsets_become_lines_and_character_columns() {
        let text = "a = 1\nβγ = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 4), (1, 5));
        assert_eq!(line_column(text, 6), (2, 1));
        // After the two-byte β and γ: the third character.
        assert_eq!(line_column(text, 10), (2, 3));
        // Inside β, and past the end: a position, not a panic.
        assert_eq!(line_column(text, 7), (2, 2));
        assert_eq!(line_column(text, 999), (3, 1));
    }

    #[test]
    fn paths_display_as_toml_addresses() {
        assert_eq!(TomlPath::field("dataset_options.samples").to_string(), "dataset_options.samples");
        assert_eq!(TomlPath::default().key("optimizers").index(1).key("lr").to_string(), "optimizers[1].lr");
        assert_eq!(TomlPath::default().key("a b").to_string(), "\"a b\"");
        assert_eq!(TomlPath::field("x").index(2).last_key(), Some("x"));
    }

    #[test]
    fn values_are_found_in_multi_line_arrays_and_inline_tables() {
        let text =
            "name = \"x\"\ndepths = [\n  2,\n  \"4\",\n]\nopt = { kind = \"sgd\", lr = 1 }\n[optimizer]\nlr = 1\n";
        let doc = document(text);
        let four = text.find("\"4\"").unwrap();
        let entry = doc.entry_at(&(four..four + 3)).unwrap();
        assert_eq!(entry.path.to_string(), "depths[1]");
        let kind = text.find("kind").unwrap();
        assert_eq!(doc.entry_at(&(kind..kind + 4)).unwrap().path.to_string(), "opt.kind");
        assert_eq!(line_of(&doc, &TomlPath::field("depths").index(1)), Some(4));
        assert_eq!(line_of(&doc, &TomlPath::field("opt.lr")), Some(6));
        assert_eq!(line_of(&doc, &TomlPath::field("optimizer.lr")), Some(8));
        assert_eq!(line_of(&doc, &TomlPath::field("name")), Some(1));
    }

    #[test]
    fn fields_are_located_in_their_table_or_the_nearest_present_parent() {
        let text = "lr = 3\n[optimizer]\nkind = \"sgd\"\nlr = 0.1\n";
        let doc = document(text);
        assert_eq!(line_of(&doc, &TomlPath::field("optimizer.lr")), Some(4));
        assert_eq!(line_of(&doc, &TomlPath::field("lr")), Some(1));
        assert_eq!(line_of(&doc, &TomlPath::field("depths")), None);
        // A defaulted key inside a present table: the table's header.
        assert_eq!(line_of(&doc, &TomlPath::field("optimizer.momentum")), Some(2));
        let list = "[[optimizers]]\nlr = 0.1\n[[optimizers]]\nlr = nan\n[[optimizers]]\nlr = -1.0\n";
        let doc = document(list);
        assert_eq!(line_of(&doc, &TomlPath::field("optimizers").index(1).key("lr")), Some(4));
        assert_eq!(line_of(&doc, &TomlPath::field("optimizers").index(2).key("lr")), Some(6));
        assert_eq!(line_of(&doc, &TomlPath::field("optimizers").index(2)), Some(5));
    }

    #[test]
    fn syntax_errors_name_their_key_where_the_parser_recovered_it() {
        let message = |text: &str| match Document::parse(text, Path::new("t.toml")) {
            Ok(_) => panic!("accepted {text:?}"),
            Err(e) => e.to_string(),
        };
        let m = message("a = 1\nlr = 0.0.1\n");
        assert!(m.starts_with("t.toml:2:") && m.contains("`lr`"), "{m}");
        // The parser notices the unclosed array where the next line's key starts.
        let m = message("a = 1\ndepths = [1, 2\nb = 2\n");
        assert!(m.starts_with("t.toml:3:1:") && m.contains("`depths`") && m.contains("comma"), "{m}");
        let m = message("a = 1\nb = 2\na = 3\n");
        assert!(m.starts_with("t.toml:3:1:") && m.contains("duplicate key") && m.contains("`a`"), "{m}");
    }
}
