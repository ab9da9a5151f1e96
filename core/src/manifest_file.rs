//! A file of manifests as ageseal reads and rewrites it: every document keeps its exact bytes
//! unless ageseal changes it; SealedSecrets are found at the top level and inside `kind: List`
//! documents (what `seal --format json` writes for several); a changed document is written back
//! in its own format, YAML or JSON. What is a SealedSecret is decided after parsing, never by
//! searching the text.

use crate::crd::SealedSecret;
use crate::envelope::{is_dns_label, is_dns_subdomain};
use crate::manifest::ManifestError;
use crate::sealed_file::API_VERSION;
use crate::yaml::{self, RawDocument};

/// One item of a `kind: List` document.
#[derive(Debug, Clone)]
pub enum Item {
    /// A SealedSecret.
    Sealed(Box<SealedSecret>),
    /// Anything else, as parsed.
    Other(serde_yaml::Value),
}

/// What a document holds.
#[derive(Debug, Clone)]
pub enum Content {
    /// Only comments, markers or nothing.
    Empty,
    /// A SealedSecret.
    Sealed(Box<SealedSecret>),
    /// A `kind: List` (`list` is the whole document as parsed, `items` its items).
    List {
        /// The document as parsed.
        list: serde_yaml::Value,
        /// Its items.
        items: Vec<Item>,
    },
    /// Any other object, as parsed.
    Other(serde_yaml::Value),
}

#[derive(Debug, Clone)]
struct Document {
    text: String,
    number: usize,
    json: bool,
    content: Content,
    changed: bool,
}

/// A parsed file of manifests that can be written back without touching what did not change.
#[derive(Debug, Clone)]
pub struct ManifestFile {
    documents: Vec<Document>,
    /// The file's lines end in CRLF (Windows): rewritten documents keep that.
    crlf: bool,
}

fn is_ours(value: &serde_yaml::Value) -> Option<&str> {
    let kind = value.get("kind").and_then(serde_yaml::Value::as_str);
    let api_version = value.get("apiVersion").and_then(serde_yaml::Value::as_str)?;
    (kind == Some("SealedSecret") && api_version.starts_with("ageseal.io/")).then_some(api_version)
}

fn unsupported(doc: usize, api_version: &str) -> ManifestError {
    ManifestError::Syntax {
        doc,
        message: format!("apiVersion {api_version} is not supported (expected {API_VERSION})"),
    }
}

/// A SealedSecret's name and namespace must be Kubernetes names. Outside strict scope the name
/// is not authenticated, and tools build paths and messages from it (`edit` once named its
/// plaintext file after it: `../../x` put that file outside its private folder).
fn check_names(doc: usize, sealed: SealedSecret) -> Result<SealedSecret, ManifestError> {
    let bad = |field: &str, value: &str, rule: &str| ManifestError::Syntax {
        doc,
        message: format!("metadata.{field} {value:?} is not a Kubernetes name ({rule})"),
    };
    if let Some(name) = sealed.metadata.name.as_deref().filter(|n| !is_dns_subdomain(n)) {
        return Err(bad(
            "name",
            name,
            "lowercase letters, digits, '-' and '.', at most 253",
        ));
    }
    if let Some(ns) = sealed.metadata.namespace.as_deref().filter(|n| !is_dns_label(n)) {
        return Err(bad(
            "namespace",
            ns,
            "lowercase letters, digits and '-', at most 63",
        ));
    }
    Ok(sealed)
}

fn classify_item(doc: usize, item: serde_yaml::Value) -> Result<Item, ManifestError> {
    match is_ours(&item) {
        Some(API_VERSION) => serde_yaml::from_value(item)
            .map_err(|e| ManifestError::Syntax {
                doc,
                message: format!("a List item: {}", yaml::describe(&e)),
            })
            .and_then(|s| check_names(doc, s))
            .map(|s| Item::Sealed(Box::new(s))),
        Some(other) => Err(unsupported(doc, other)),
        None => Ok(Item::Other(item)),
    }
}

fn classify(raw: &RawDocument<'_>) -> Result<Content, ManifestError> {
    let Some(value) = yaml::value(raw)? else {
        return Ok(Content::Empty);
    };
    if let Some(api_version) = is_ours(&value) {
        if api_version != API_VERSION {
            return Err(unsupported(raw.number, api_version));
        }
        // From the value already parsed: scanning the text again would double the cost of
        // reading a repository (the base64 values are most of every file). Only a document that
        // does not fit the schema is read again, for an error that says where.
        return match serde_yaml::from_value(value) {
            Ok(sealed) => Ok(Content::Sealed(Box::new(check_names(raw.number, sealed)?))),
            Err(e) => Err(yaml::typed::<SealedSecret>(raw).err().map_or_else(
                || ManifestError::Syntax {
                    doc: raw.number,
                    message: yaml::describe(&e),
                },
                ManifestError::from,
            )),
        };
    }
    let is_list = value.get("kind").and_then(serde_yaml::Value::as_str) == Some("List");
    match value.get("items").and_then(serde_yaml::Value::as_sequence) {
        Some(items) if is_list => {
            let items = items
                .iter()
                .cloned()
                .map(|item| classify_item(raw.number, item))
                .collect::<Result<_, _>>()?;
            Ok(Content::List { list: value, items })
        }
        _ => Ok(Content::Other(value)),
    }
}

impl ManifestFile {
    /// Parses YAML or JSON text, one or many documents.
    pub fn parse(text: &str) -> Result<Self, ManifestError> {
        let documents = yaml::split(text)
            .iter()
            .map(|raw| {
                Ok(Document {
                    text: raw.text.to_owned(),
                    number: raw.number,
                    json: raw.is_json(),
                    content: classify(raw)?,
                    changed: false,
                })
            })
            .collect::<Result<_, ManifestError>>()?;
        Ok(Self {
            documents,
            crlf: text.contains("\r\n"),
        })
    }

    /// Every SealedSecret, in file order, List items included.
    pub fn sealed(&self) -> Vec<&SealedSecret> {
        let mut out = Vec::new();
        for document in &self.documents {
            match &document.content {
                Content::Sealed(s) => out.push(s.as_ref()),
                Content::List { items, .. } => out.extend(items.iter().filter_map(|i| match i {
                    Item::Sealed(s) => Some(s.as_ref()),
                    Item::Other(_) => None,
                })),
                Content::Empty | Content::Other(_) => {}
            }
        }
        out
    }

    /// Every other object (top level or List item) with its document number.
    pub fn others(&self) -> Vec<(usize, &serde_yaml::Value)> {
        let mut out = Vec::new();
        for document in &self.documents {
            match &document.content {
                Content::Other(value) => out.push((document.number, value)),
                Content::List { items, .. } => out.extend(items.iter().filter_map(|i| match i {
                    Item::Other(v) => Some((document.number, v)),
                    Item::Sealed(_) => None,
                })),
                Content::Empty | Content::Sealed(_) => {}
            }
        }
        out
    }

    /// True when every document is JSON (a file written by `--format json`, or a `.json` file).
    pub fn is_json(&self) -> bool {
        let mut contents = self
            .documents
            .iter()
            .filter(|d| !matches!(d.content, Content::Empty));
        contents.next().is_some_and(|d| d.json) && contents.all(|d| d.json)
    }

    /// Calls `edit` on every SealedSecret; a document is rewritten only if `edit` said it
    /// changed one of its objects. Returns how many objects changed.
    pub fn edit<E>(
        &mut self,
        mut edit: impl FnMut(&mut SealedSecret) -> Result<bool, E>,
    ) -> Result<usize, E> {
        let mut changed = 0;
        for document in &mut self.documents {
            let mut here = false;
            match &mut document.content {
                Content::Sealed(s) => here |= edit(s)?,
                Content::List { items, .. } => {
                    for item in items.iter_mut() {
                        if let Item::Sealed(s) = item
                            && edit(s)?
                        {
                            here = true;
                            changed += 1;
                        }
                    }
                    document.changed |= here;
                    continue;
                }
                Content::Empty | Content::Other(_) => {}
            }
            if here {
                changed += 1;
                document.changed = true;
            }
        }
        Ok(changed)
    }

    /// Calls `convert` on every object that is not a SealedSecret of ours (top level or List
    /// item); where it gives a SealedSecret, that takes the object's place and its document is
    /// rewritten. Returns how many objects were replaced.
    pub fn replace_others<E>(
        &mut self,
        mut convert: impl FnMut(&serde_yaml::Value) -> Result<Option<SealedSecret>, E>,
    ) -> Result<usize, E> {
        let mut replaced = 0;
        for document in &mut self.documents {
            match &mut document.content {
                Content::Other(value) => {
                    if let Some(sealed) = convert(value)? {
                        document.content = Content::Sealed(Box::new(sealed));
                        document.changed = true;
                        replaced += 1;
                    }
                }
                Content::List { items, .. } => {
                    for item in items.iter_mut() {
                        if let Item::Other(value) = item
                            && let Some(sealed) = convert(value)?
                        {
                            *item = Item::Sealed(Box::new(sealed));
                            document.changed = true;
                            replaced += 1;
                        }
                    }
                }
                Content::Empty | Content::Sealed(_) => {}
            }
        }
        Ok(replaced)
    }

    /// The file's text: unchanged documents byte for byte, changed ones written anew in their
    /// own format after their `---` line (comments inside a changed document are not kept).
    pub fn to_text(&self) -> Result<String, ManifestError> {
        let mut out = String::new();
        for (i, document) in self.documents.iter().enumerate() {
            if !document.changed {
                out.push_str(&document.text);
                continue;
            }
            if i > 0 && !out.is_empty() && !out.ends_with('\n') {
                out.push_str(if self.crlf { "\r\n" } else { "\n" });
            }
            let rewritten = prelude(&document.text, i > 0 || !out.is_empty()) + &render(document)?;
            if self.crlf {
                out.push_str(&rewritten.replace("\r\n", "\n").replace('\n', "\r\n"));
            } else {
                out.push_str(&rewritten);
            }
        }
        Ok(out)
    }
}

/// What comes before a rewritten document: its own comments and `---` line, kept as they were,
/// or a `---` line when it follows another document and had none.
fn prelude(text: &str, needs_marker: bool) -> String {
    let mut prelude = String::new();
    let mut marked = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with("---") && !marked {
            marked = true;
            // Content on the marker line itself is rewritten with the rest.
            prelude.push_str(if trimmed == "---" { line } else { "---\n" });
            continue;
        }
        if !(trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('%')) {
            break;
        }
        prelude.push_str(line);
    }
    if needs_marker && !marked {
        prelude.insert_str(0, "---\n");
    }
    prelude
}

fn render(document: &Document) -> Result<String, ManifestError> {
    let unwritable = |what: String| ManifestError::Syntax {
        doc: document.number,
        message: format!("cannot be written back: {what}"),
    };
    let value = match &document.content {
        Content::Sealed(s) => serde_yaml::to_value(s).map_err(|e| unwritable(yaml::describe(&e)))?,
        Content::List { list, items } => {
            let mut list = list.clone();
            let items = items
                .iter()
                .map(|item| match item {
                    Item::Sealed(s) => serde_yaml::to_value(s),
                    Item::Other(v) => Ok(v.clone()),
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| unwritable(yaml::describe(&e)))?;
            list["items"] = serde_yaml::Value::Sequence(items);
            list
        }
        Content::Other(value) => value.clone(),
        Content::Empty => return Ok(document.text.clone()),
    };
    if document.json {
        let mut text = serde_json::to_string_pretty(&value).map_err(|e| unwritable(e.to_string()))?;
        text.push('\n');
        Ok(text)
    } else {
        serde_yaml::to_string(&value).map_err(|e| unwritable(yaml::describe(&e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NamedRecipient;
    use crate::keys::Identity;
    use crate::manifest::{SealOptions, parse_secrets, seal_secret};

    fn sealed(name: &str) -> SealedSecret {
        let input = format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: ns}}\nstringData: {{k: v}}\n"
        );
        let secret = &parse_secrets(&input).expect("parses")[0];
        let to = [NamedRecipient::new("r", Identity::generate().recipient().clone())];
        seal_secret(secret, &SealOptions::default(), &to).expect("seals")
    }

    const NEIGHBOURS: &str = "# keep this comment\n---\n? [complex, key]\n: value\nplain:   'spacing kept'\n";

    #[test]
    fn unchanged_documents_keep_their_bytes_and_only_edited_ones_change() {
        let yaml = serde_yaml::to_string(&sealed("db")).expect("yaml");
        let text = format!("{NEIGHBOURS}---\n# about db\n{yaml}--- {{\"kind\": \"ConfigMap\"}}\n");
        let mut file = ManifestFile::parse(&text).expect("parses");
        assert_eq!(
            file.to_text().expect("writes"),
            text,
            "nothing changed, nothing rewritten"
        );
        let changed = file
            .edit(|s| {
                s.spec.encrypted_data.insert("new".into(), "x".into());
                Ok::<bool, ()>(true)
            })
            .expect("edits");
        assert_eq!(changed, 1);
        let written = file.to_text().expect("writes");
        assert!(written.starts_with(NEIGHBOURS), "{written}");
        assert!(
            written.contains("---\n# about db\napiVersion: ageseal.io/v1alpha1\n"),
            "{written}"
        );
        assert!(written.ends_with("--- {\"kind\": \"ConfigMap\"}\n"), "{written}");
        let reread = ManifestFile::parse(&written).expect("parses");
        assert_eq!(reread.sealed()[0].spec.encrypted_data["new"], "x");
        assert_eq!(reread.others().len(), 2);
    }

    #[test]
    fn lists_are_walked_and_json_stays_json() {
        let list = serde_json::json!({
            "apiVersion": "v1",
            "kind": "List",
            "items": [sealed("a"), {"apiVersion": "v1", "kind": "ConfigMap"}, sealed("b")],
        });
        let text = serde_json::to_string_pretty(&list).expect("json");
        let mut file = ManifestFile::parse(&text).expect("parses");
        assert!(file.is_json());
        let names: Vec<_> = file.sealed().iter().map(|s| s.metadata.name.clone()).collect();
        assert_eq!(names, [Some("a".to_owned()), Some("b".to_owned())]);
        file.edit(|s| Ok::<bool, ()>(s.metadata.name.as_deref() == Some("b")))
            .expect("edits");
        let written = file.to_text().expect("writes");
        let value: serde_json::Value = serde_json::from_str(&written).expect("still JSON");
        assert_eq!(value["items"][1]["kind"], "ConfigMap");
    }

    #[test]
    fn escaped_api_versions_are_recognised_after_parsing() {
        let mut value = serde_json::to_value(sealed("db")).expect("json");
        value["apiVersion"] = "ageseal.io/v1alpha1".into();
        let text = serde_json::to_string(&value)
            .expect("json")
            .replace("ageseal.io/", "ageseal\\u002eio/");
        assert!(!text.contains("ageseal.io/"));
        assert_eq!(ManifestFile::parse(&text).expect("parses").sealed().len(), 1);
    }
}
