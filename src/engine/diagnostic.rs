//! Validation diagnostics: what is wrong, in which file, on which line, under which key.
//! Errors are collected, not returned at the first, so a user fixes a file in one pass.

use std::fmt;

/// A position in a source file, computed from byte offsets.
#[derive(Debug, Clone)]
pub struct SourceText {
    pub path: String,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceText {
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self {
            path: path.into(),
            text,
            line_starts,
        }
    }

    /// 1-based (line, column) of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let col = offset.saturating_sub(self.line_starts[line]) + 1;
        (line + 1, col)
    }

    pub fn line_of(&self, offset: usize) -> usize {
        self.position(offset).0
    }
}

/// One problem found in an input file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Dotted key path such as `node.fx.after`, when one applies.
    pub key: Option<String>,
    pub message: String,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(file: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: None,
            column: None,
            key: None,
            message: message.into(),
            help: None,
        }
    }

    pub fn at(mut self, source: &SourceText, offset: usize) -> Self {
        let (line, col) = source.position(offset);
        self.line = Some(line);
        self.column = Some(col);
        self
    }

    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn help_opt(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": ")?;
        if let Some(key) = &self.key {
            write!(f, "`{key}`: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// A non-empty list of diagnostics; the error type of every validation step.
#[derive(Debug, Clone, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {d}")?;
        }
        Ok(())
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

/// The closest candidate to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

/// Converts a `toml` deserialization error into a diagnostic with line and a "did you mean" for
/// unknown keys (serde reports `unknown field `x`, expected one of `a`, `b``).
pub fn from_toml_error(source: &SourceText, err: &toml::de::Error) -> Diagnostic {
    let message = err.message().trim().to_string();
    let mut diag = Diagnostic::new(&source.path, message.clone());
    if let Some(span) = err.span() {
        diag = diag.at(source, span.start);
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, expected)) = rest.split_once('`') {
            let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            diag = diag
                .key(field.to_string())
                .help_opt(did_you_mean(field, candidates.iter().copied()));
            diag.message = format!("unknown key `{field}`;{}", expected.trim_start_matches(','));
        }
    }
    diag
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let s = SourceText::new("f.toml", "a\nbc\n\nd");
        assert_eq!(s.position(0), (1, 1));
        assert_eq!(s.position(3), (2, 2));
        assert_eq!(s.position(6), (4, 1));
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("retires", ["retries", "backoff"]).as_deref(),
            Some("did you mean `retries`?")
        );
        assert_eq!(did_you_mean("zzz", ["retries", "backoff"]), None);
    }

    #[test]
    fn unknown_key_errors_get_line_and_suggestion() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct T {
            retries: u32,
        }
        let src = SourceText::new("w.toml", "\nretires = 3\n");
        let err = toml::from_str::<T>(&src.text).unwrap_err();
        let d = from_toml_error(&src, &err);
        assert_eq!(d.line, Some(2));
        assert_eq!(d.key.as_deref(), Some("retires"));
        assert_eq!(d.help.as_deref(), Some("did you mean `retries`?"));
    }
}
