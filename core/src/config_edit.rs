//! Edits of `.ageseal.yaml` that keep its comments and layout. Each edit is made twice: on the
//! config model, which validates it, and on the file's lossless syntax tree (yaml-edit). The
//! edited text must read back as exactly the edited model, or the edit is refused and nothing
//! changes, so an edit can never mean more than it says.

use std::str::FromStr;

use yaml_edit::{Document, Mapping, Sequence};

use crate::config::{ConfigError, RepoConfig};
use crate::keys::Recipient;

/// One change to `.ageseal.yaml`.
#[derive(Debug, Clone, Copy)]
pub enum Edit<'a> {
    /// `region add NAME`: a region with one key, after the others.
    AddRegion {
        /// Region name.
        name: &'a str,
        /// Its controller's public key.
        recipient: &'a Recipient,
    },
    /// `region set-key NAME`: a new current key, older keys kept after it.
    SetRegionKey {
        /// Region name.
        name: &'a str,
        /// The new current key.
        recipient: &'a Recipient,
    },
    /// `region remove NAME` (also from the rules that name it).
    RemoveRegion {
        /// Region name.
        name: &'a str,
    },
    /// `recovery add NAME`.
    AddRecovery {
        /// Recovery key name.
        name: &'a str,
        /// Its public key.
        recipient: &'a Recipient,
        /// Where its private half is kept, relative to the config.
        identity: Option<&'a str>,
    },
    /// `recovery remove NAME`.
    RemoveRecovery {
        /// Recovery key name.
        name: &'a str,
    },
}

impl Edit<'_> {
    fn apply_to_model(&self, config: &mut RepoConfig) -> Result<(), ConfigError> {
        match *self {
            Edit::AddRegion { name, recipient } => config.add_region(name, recipient),
            Edit::SetRegionKey { name, recipient } => config.set_region_key(name, recipient),
            Edit::RemoveRegion { name } => config.remove_region(name),
            Edit::AddRecovery {
                name,
                recipient,
                identity,
            } => config.add_recovery(name, recipient, identity),
            Edit::RemoveRecovery { name } => config.remove_recovery(name),
        }
    }
}

/// Applies `edit` to the text of `.ageseal.yaml` (empty for a new file). Returns the new text and
/// the config it reads as.
pub fn apply(text: &str, edit: &Edit<'_>) -> Result<(String, RepoConfig), ConfigError> {
    let before = RepoConfig::parse(text)?;
    let mut after = before.clone();
    edit.apply_to_model(&mut after)?;
    let edited = match Document::from_str(text)
        .ok()
        .and_then(|d| d.as_mapping().map(|m| (d, m)))
    {
        Some((document, mapping)) => {
            edit_tree(&mapping, &before, edit)?;
            document.to_string()
        }
        // Empty, or comments only: the file gains the new entries after what it had.
        None => append_to_plain(text, &after),
    };
    let reread = RepoConfig::parse(&edited)
        .map_err(|e| ConfigError::NotEditable(format!("the edited file would not read back: {e}")))?;
    if reread != after {
        return Err(ConfigError::NotEditable(
            "the edit would change more than asked".to_owned(),
        ));
    }
    Ok((edited, after))
}

fn not_editable(what: &str) -> ConfigError {
    ConfigError::NotEditable(format!("{what} is not a list this edit can change"))
}

/// The top-level list `key`, created (as an empty block list) if the file has none.
fn list(mapping: &Mapping, key: &str) -> Result<Sequence, ConfigError> {
    if mapping.get(key).is_none() {
        let empty = Document::from_str(&format!("{key}: []\n")).map_err(|_| not_editable(key))?;
        let value = empty
            .as_mapping()
            .and_then(|m| m.get_sequence(key))
            .ok_or_else(|| not_editable(key))?;
        mapping.set(key, value);
    }
    mapping.get_sequence(key).ok_or_else(|| not_editable(key))
}

/// The list `key` of entry `index` of `items` (a region's recipients, a rule's regions).
fn nested_list(items: &Sequence, index: usize, key: &str) -> Result<Sequence, ConfigError> {
    let node = items.get(index).ok_or_else(|| not_editable(key))?;
    let entry = node.as_mapping().ok_or_else(|| not_editable(key))?;
    entry.get_sequence(key).ok_or_else(|| not_editable(key))
}

fn flow_entry(text: &str) -> Result<Mapping, ConfigError> {
    Document::from_str(text)
        .ok()
        .and_then(|d| d.as_mapping())
        .ok_or_else(|| ConfigError::NotEditable("could not write the new entry".to_owned()))
}

fn position<T>(items: &[T], name: &str, name_of: impl Fn(&T) -> &str) -> Option<usize> {
    items.iter().position(|item| name_of(item) == name)
}

fn edit_tree(mapping: &Mapping, before: &RepoConfig, edit: &Edit<'_>) -> Result<(), ConfigError> {
    match *edit {
        Edit::AddRegion { name, recipient } => {
            let entry = flow_entry(&format!("{{name: {name}, recipients: [{recipient}]}}"))?;
            list(mapping, "regions")?.push(entry);
        }
        Edit::SetRegionKey { name, recipient } => {
            let index =
                position(&before.regions, name, |r| &r.name).ok_or_else(|| not_editable("regions"))?;
            let keys = nested_list(&list(mapping, "regions")?, index, "recipients")?;
            let key = recipient.to_string();
            if let Some(old) = before.regions[index]
                .recipients
                .iter()
                .position(|k| k.trim() == key)
            {
                keys.remove(old);
            }
            keys.insert(0, key);
        }
        Edit::RemoveRegion { name } => {
            let index =
                position(&before.regions, name, |r| &r.name).ok_or_else(|| not_editable("regions"))?;
            list(mapping, "regions")?.remove(index);
            for (i, rule) in before.rules.iter().enumerate() {
                if let Some(at) = rule.regions.iter().position(|r| r == name) {
                    nested_list(&list(mapping, "rules")?, i, "regions")?.remove(at);
                }
            }
        }
        Edit::AddRecovery {
            name,
            recipient,
            identity,
        } => {
            let identity = identity
                .map(|f| format!(", identity: {}", quoted(f)))
                .unwrap_or_default();
            let entry = flow_entry(&format!("{{name: {name}, recipient: {recipient}{identity}}}"))?;
            list(mapping, "recovery")?.push(entry);
        }
        Edit::RemoveRecovery { name } => {
            let index =
                position(&before.recovery, name, |r| &r.name).ok_or_else(|| not_editable("recovery"))?;
            list(mapping, "recovery")?.remove(index);
        }
    }
    Ok(())
}

/// A file path as a YAML flow scalar, quoted when it needs to be.
fn quoted(path: &str) -> String {
    let plain = path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '_' | '-'));
    if plain {
        path.to_owned()
    } else {
        serde_json::to_string(path).unwrap_or_else(|_| format!("{path:?}"))
    }
}

/// An empty or comment-only file: its lines, then the config written out.
fn append_to_plain(text: &str, config: &RepoConfig) -> String {
    let mut out = text.to_owned();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    if out.trim().is_empty() {
        out = "# ageseal repository config: who values under this folder are sealed to.\n".to_owned();
    }
    out.push_str(&serde_yaml::to_string(config).expect("config serializes"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Identity;

    fn key() -> Recipient {
        Identity::generate().recipient().clone()
    }

    #[test]
    fn edits_keep_comments_layout_and_untouched_entries() {
        let (east, old, west, recovery) = (key(), key(), key(), key());
        let text = format!(
            "# our regions\nregions:\n- {{name: us-east-1, recipients: [{east}, {old}]}}  # active\n- name: us-west-2   # standby\n  recipients:\n  - {west}\n\nrecovery:\n- {{name: break-glass, recipient: {recovery}, identity: recovery.age.kms}}\nrules:\n- {{path: \"eu/**\", regions: [us-west-2, us-east-1]}}  # eu rule\n"
        );
        let (south, new_east) = (key(), key());
        let (text2, config) = apply(
            &text,
            &Edit::AddRegion {
                name: "ap-south-1",
                recipient: &south,
            },
        )
        .expect("adds");
        let regions_part = &text[..text.find("\n\nrecovery:").expect("recovery") + 1];
        assert!(text2.starts_with(regions_part), "{text2}");
        assert!(
            text2.contains(&format!(
                "- {{name: ap-south-1, recipients: [{south}]}}\n\nrecovery:"
            )),
            "{text2}"
        );
        assert!(
            text2.contains("# active") && text2.contains("# standby") && text2.contains("# eu rule"),
            "{text2}"
        );
        assert_eq!(config.regions[2].name, "ap-south-1");
        let (text3, config) = apply(
            &text2,
            &Edit::SetRegionKey {
                name: "us-west-2",
                recipient: &new_east,
            },
        )
        .expect("sets");
        assert_eq!(
            config.regions[1].recipients,
            [new_east.to_string(), west.to_string()]
        );
        assert!(text3.contains("# standby"), "{text3}");
        let (text4, config) = apply(&text3, &Edit::RemoveRegion { name: "us-west-2" }).expect("removes");
        assert_eq!(config.rules[0].regions, ["us-east-1"]);
        assert!(
            text4.contains("# active") && text4.contains("# eu rule") && !text4.contains("us-west-2"),
            "{text4}"
        );
        let extra = key();
        let (text5, config) = apply(
            &text4,
            &Edit::AddRecovery {
                name: "offline",
                recipient: &extra,
                identity: Some("keys/offline key.kms"),
            },
        )
        .expect("adds recovery");
        assert_eq!(
            config.recovery[1].identity.as_deref(),
            Some("keys/offline key.kms")
        );
        let (text6, config) = apply(&text5, &Edit::RemoveRecovery { name: "break-glass" }).expect("removes");
        assert_eq!(config.recovery.len(), 1);
        assert!(text6.starts_with("# our regions\n"), "{text6}");
    }

    #[test]
    fn refused_edits_change_nothing_and_new_files_start_plain() {
        let east = key();
        let (text, _) = apply(
            "",
            &Edit::AddRegion {
                name: "us-east-1",
                recipient: &east,
            },
        )
        .expect("new file");
        assert!(
            text.starts_with("# ageseal repository config") && text.contains("us-east-1"),
            "{text}"
        );
        let (with_comment, _) = apply(
            "# just a comment\n",
            &Edit::AddRegion {
                name: "a",
                recipient: &east,
            },
        )
        .expect("adds");
        assert!(with_comment.starts_with("# just a comment\n"), "{with_comment}");
        for edit in [
            Edit::AddRegion {
                name: "us-east-1",
                recipient: &key(),
            },
            Edit::AddRegion {
                name: "eu-west-1",
                recipient: &east,
            },
            Edit::AddRecovery {
                name: "r",
                recipient: &east,
                identity: None,
            },
            Edit::RemoveRegion { name: "mars-1" },
            Edit::RemoveRecovery { name: "none" },
        ] {
            assert!(apply(&text, &edit).is_err(), "{edit:?}");
        }
    }
}
