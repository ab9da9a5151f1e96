//! Reading YAML and JSON input safely, the one way ageseal does it: documents split without
//! losing a byte of any of them, nesting bounded before the parser sees the text (deep flow
//! nesting is quadratic in the parser), duplicate keys refused, and errors that say where but
//! never quote the input, which may hold secrets.

use serde::de::DeserializeOwned;

/// Deepest nesting of collections accepted in one document (Kubernetes objects need about 10).
pub const MAX_NESTING: usize = 64;

/// Why input could not be read. Messages give positions and shapes, never input text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum YamlError {
    /// Collections nested deeper than [`MAX_NESTING`].
    #[error("document {doc}: collections nested deeper than {MAX_NESTING} levels (line {line})")]
    TooDeep {
        /// 1-based document number.
        doc: usize,
        /// 1-based line in the input.
        line: usize,
    },
    /// Not YAML or JSON, or not of the expected shape.
    #[error("document {doc}: {what}")]
    Invalid {
        /// 1-based document number.
        doc: usize,
        /// What is wrong and where, without input text.
        what: String,
    },
}

/// One document of the input: its exact text (from its `---` line, if any, up to the next).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawDocument<'a> {
    /// The document's bytes as they were.
    pub text: &'a str,
    /// 1-based document number.
    pub number: usize,
    /// 1-based input line the document starts on.
    pub first_line: usize,
}

impl RawDocument<'_> {
    /// The lines that hold content: markers, comments, directives and blank lines left out.
    fn content_lines(&self) -> impl Iterator<Item = &str> {
        self.text
            .lines()
            .map(|line| match line.strip_prefix("---") {
                Some(rest) if is_marker(line) => rest.trim(),
                _ => line.trim(),
            })
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('%') && *l != "...")
    }

    /// True when the document holds nothing but comments, directives, markers and blank lines.
    pub fn is_empty(&self) -> bool {
        self.content_lines().next().is_none()
    }

    /// True when its content is JSON (starts with `{` or `[` after comments and markers).
    pub fn is_json(&self) -> bool {
        self.content_lines()
            .next()
            .is_some_and(|l| l.starts_with('{') || l.starts_with('['))
    }
}

fn is_marker(line: &str) -> bool {
    line.strip_prefix("---")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r']))
}

/// Splits input into documents at `---` lines (a line starting `---` always starts a document in
/// YAML, even inside block scalars). Concatenating the texts gives the input back exactly. Lines
/// before the first marker that hold only comments or directives belong to the first document.
pub fn split(text: &str) -> Vec<RawDocument<'_>> {
    // A UTF-8 byte order mark (editors on Windows write one) is not part of the first document.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut starts: Vec<(usize, usize)> = Vec::new();
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if is_marker(line.trim_end_matches('\n')) {
            starts.push((offset, index + 1));
        }
        offset += line.len();
    }
    if starts.first().is_none_or(|(start, _)| *start != 0) {
        starts.insert(0, (0, 1));
    }
    let mut documents: Vec<RawDocument<'_>> = Vec::new();
    for (i, (start, line)) in starts.iter().enumerate() {
        let end = starts.get(i + 1).map_or(text.len(), |(next, _)| *next);
        documents.push(RawDocument {
            text: &text[*start..end],
            number: 0,
            first_line: *line,
        });
    }
    // A leading chunk of only comments or directives is the prelude of the next document.
    if documents.len() > 1 && *starts.first().map(|(s, _)| s).unwrap_or(&0) == 0 && documents[0].is_empty() {
        let prelude = documents.remove(0);
        let merged_end = prelude.text.len() + documents[0].text.len();
        documents[0] = RawDocument {
            text: &text[..merged_end],
            number: 0,
            first_line: 1,
        };
    }
    for (i, document) in documents.iter_mut().enumerate() {
        document.number = i + 1;
    }
    documents
}

/// Refuses documents nested deeper than [`MAX_NESTING`], by a linear scan of flow brackets
/// (outside quotes and comments) and of indentation, before any parser runs.
pub fn check_nesting(document: &RawDocument<'_>) -> Result<(), YamlError> {
    let too_deep = |offset_line: usize| YamlError::TooDeep {
        doc: document.number,
        line: document.first_line + offset_line,
    };
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    for (i, line) in document.text.lines().enumerate() {
        // Block nesting: indentation and compact "- - -" sequences.
        let indent = line.len() - line.trim_start_matches([' ', '-']).len();
        if quote.is_none() && depth == 0 && indent / 2 > MAX_NESTING {
            return Err(too_deep(i));
        }
        // Most lines (every base64 value) hold no delimiter at all: skip them in one pass.
        let delimiter = |b: &u8| matches!(b, b'[' | b']' | b'{' | b'}' | b'"' | b'\'' | b'#');
        if quote.is_none() && !line.as_bytes().iter().any(delimiter) {
            continue;
        }
        // Bytes, not chars: every delimiter is ASCII, and no byte of a multi-byte UTF-8
        // character is.
        let mut bytes = line.bytes().peekable();
        let mut previous = b' ';
        while let Some(c) = bytes.next() {
            match (quote, c) {
                (Some(b'"'), b'\\') => {
                    bytes.next();
                }
                (Some(q), c) if c == q => {
                    if q == b'\'' && bytes.peek() == Some(&b'\'') {
                        bytes.next();
                    } else {
                        quote = None;
                    }
                }
                (Some(_), _) => {}
                (None, b'#') if previous.is_ascii_whitespace() => break,
                (None, b'"' | b'\'') if depth > 0 || previous.is_ascii_whitespace() || previous == b':' => {
                    quote = Some(c)
                }
                (None, b'[' | b'{') => {
                    depth += 1;
                    if depth > MAX_NESTING {
                        return Err(too_deep(i));
                    }
                }
                (None, b']' | b'}') => depth = depth.saturating_sub(1),
                _ => {}
            }
            previous = c;
        }
    }
    Ok(())
}

/// A serde message without anything quoted from the input: literal values (in quotes or
/// backticks) after "invalid type", "invalid value" and "duplicate entry" are dropped; field
/// names from the schema ("missing field") are kept. Positions are kept.
pub fn describe(error: &serde_yaml::Error) -> String {
    let message = error.to_string();
    let position = error
        .location()
        .map(|l| format!(" at line {} column {}", l.line(), l.column()))
        .unwrap_or_default();
    let head = message.split(" at line ").next().unwrap_or(&message);
    // serde_yaml may name the field first ("stringData: invalid type: ..."); keep that path.
    let (path, head) = match [
        "invalid type: ",
        "invalid value",
        "duplicate entry",
        "unknown field",
        "missing field",
    ]
    .iter()
    .find_map(|kind| head.find(kind))
    {
        Some(at) if at > 0 => (head[..at].trim_end_matches([' ', ':']), &head[at..]),
        _ => ("", head),
    };
    let shape = if let Some(rest) = head.strip_prefix("invalid type: ") {
        let found = rest.split([' ', ',']).next().unwrap_or("value");
        let expected = rest
            .split_once(", expected ")
            .map(|(_, e)| e)
            .unwrap_or("another shape");
        format!("found a {found} where {} was expected", strip_literals(expected))
    } else if head.starts_with("invalid value") {
        let expected = head
            .split_once(", expected ")
            .map(|(_, e)| e)
            .unwrap_or("another value");
        format!("a value is not {}", strip_literals(expected))
    } else if head.starts_with("duplicate entry") {
        "a key appears twice in the same mapping".to_owned()
    } else if head.starts_with("missing field") || head.starts_with("recursion limit") {
        head.to_owned()
    } else if head.starts_with("unknown field") {
        "a field this object does not have".to_owned()
    } else {
        // Scanner and parser errors describe syntax ("did not find expected key"), not text.
        strip_literals(head)
    };
    if path.is_empty() {
        format!("{shape}{position}")
    } else {
        format!("{path}: {shape}{position}")
    }
}

fn strip_literals(text: &str) -> String {
    // "struct RawDoc" and the like name our types, not the user's: an object is what is meant.
    let text = match text.strip_prefix("struct ") {
        Some(_) => "an object (a mapping)",
        None => text,
    };
    let mut out = String::new();
    let mut inside: Option<char> = None;
    for c in text.chars() {
        match inside {
            Some(q) if c == q => {
                inside = None;
                out.push_str("...");
            }
            Some(_) => {}
            None if c == '"' || c == '`' => inside = Some(c),
            None => out.push(c),
        }
    }
    out
}

fn invalid(document: &RawDocument<'_>, error: &serde_yaml::Error) -> YamlError {
    let mut what = describe(error);
    // serde_yaml counts lines within the document; say where it is in the input.
    if let Some(location) = error.location() {
        let line = document.first_line + location.line() - 1;
        what = what.replace(&format!("line {}", location.line()), &format!("line {line}"));
    }
    YamlError::Invalid {
        doc: document.number,
        what,
    }
}

/// Parses one document as a YAML value: nesting bounded first, duplicate keys refused.
/// `None` for a document with no content.
pub fn value(document: &RawDocument<'_>) -> Result<Option<serde_yaml::Value>, YamlError> {
    if document.is_empty() {
        return Ok(None);
    }
    check_nesting(document)?;
    let value: serde_yaml::Value = serde_yaml::from_str(document.text).map_err(|e| invalid(document, &e))?;
    Ok((!value.is_null()).then_some(value))
}

/// What is wrong with bytes that are not UTF-8, when the reason can be named: UTF-16 (with its
/// byte order mark, as Windows tools write it) says so; `None` for anything else.
pub fn not_utf8(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0xFF, 0xFE, ..] | [0xFE, 0xFF, ..] => {
            Some("is UTF-16 text; ageseal reads UTF-8: convert it (iconv -f UTF-16 -t UTF-8)")
        }
        _ => None,
    }
}

/// Parses one document into `T` (after [`value`] accepted it, so duplicates and depth are checked).
pub fn typed<T: DeserializeOwned>(document: &RawDocument<'_>) -> Result<T, YamlError> {
    serde_yaml::from_str(document.text).map_err(|e| invalid(document, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting_keeps_every_byte_and_numbers_documents() {
        let text = "# header\n---\na: 1\n--- # second\nb: [x]\n---\n\n--- {c: 2}\n...\n";
        let documents = split(text);
        let joined: String = documents.iter().map(|d| d.text).collect();
        assert_eq!(joined, text);
        assert_eq!(documents.len(), 4);
        assert!(documents[0].text.starts_with("# header\n---\na: 1"));
        assert_eq!((documents[1].number, documents[1].first_line), (2, 4));
        assert!(documents[2].is_empty() && !documents[1].is_empty());
        assert!(documents[3].is_json());
        assert_eq!(split("").len(), 1);
        assert_eq!(split("x: '---'\n----\n").len(), 1, "not markers");
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        for text in [
            "[".repeat(100_000),
            "{a: ".repeat(100_000),
            format!("{}x\n", "- ".repeat(200)),
        ] {
            let document = split(&text)[0];
            let started = std::time::Instant::now();
            assert!(matches!(value(&document), Err(YamlError::TooDeep { .. })));
            assert!(started.elapsed() < std::time::Duration::from_secs(5));
        }
        let fine = split("a: ['[[[[', \"{{{\", [1, [2]]] # [[[\n")[0];
        assert!(value(&fine).is_ok());
    }

    #[test]
    fn errors_never_quote_the_input() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Shape {
            data: std::collections::BTreeMap<String, String>,
            count: Option<u32>,
        }
        for text in [
            "data: AGE-SECRET-KEY-1QQQSECRET\n",
            "data: {a: [AGE-SECRET-KEY-1QQQSECRET]}\n",
            "data: {}\ncount: AGE-SECRET-KEY-1QQQSECRET\n",
            "data: {}\ncount: 424242424242424242\n",
            "data: {x: 1}\ndata: {AGE-SECRET-KEY-1QQQSECRET: 2}\n",
            "data: {k: \"AGE-SECRET-KEY-1QQQSECRET\n",
        ] {
            let document = split(text)[0];
            let err = value(&document)
                .and_then(|_| typed::<Shape>(&document).map(drop))
                .expect_err(text);
            let message = err.to_string();
            assert!(
                !message.contains("SECRET") && !message.contains("4242"),
                "{message}"
            );
            assert!(message.starts_with("document 1: "), "{message}");
        }
    }
}
