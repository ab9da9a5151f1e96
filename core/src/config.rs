//! `.ageseal.yaml`: the regions, recovery keys and path rules that decide who a value is sealed to.

use globset::{GlobBuilder, GlobMatcher};
use serde::{Deserialize, Serialize};

use crate::crd::RecipientHint;
use crate::envelope::is_dns_label;
use crate::keys::Recipient;

/// The repository config's file name.
pub const CONFIG_FILE: &str = ".ageseal.yaml";

/// A recipient with the region or recovery name it is recorded under in `spec.recipients`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedRecipient {
    /// Region or recovery key name.
    pub name: String,
    /// The public key.
    pub recipient: Recipient,
    /// The region says `pq: required`: its values must carry only hybrid post-quantum stanzas.
    pub pq_required: bool,
}

impl NamedRecipient {
    /// Pairs a name with a recipient.
    pub fn new(name: impl Into<String>, recipient: Recipient) -> Self {
        Self {
            name: name.into(),
            recipient,
            pq_required: false,
        }
    }

    /// The `spec.recipients` entry for this recipient.
    pub fn hint(&self) -> RecipientHint {
        RecipientHint {
            name: self.name.clone(),
            id: self.recipient.id().to_string(),
        }
    }
}

/// Why `.ageseal.yaml` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Not YAML of the expected shape.
    #[error("{0}")]
    Syntax(String),
    /// A field's value is wrong; `field` is a path like `regions[1].recipients[0]`.
    #[error("{field}: {problem}")]
    Invalid {
        /// Where.
        field: String,
        /// What.
        problem: String,
    },
    /// A region name that the config does not define.
    #[error("no region named {0:?} in .ageseal.yaml{suggestion}", suggestion = did_you_mean(.1.as_deref()))]
    UnknownRegion(String, Option<String>),
    /// `region add` of a name already in use.
    #[error("a region or recovery key named {0:?} already exists")]
    DuplicateRegion(String),
    /// A public key that another region or recovery key already uses.
    #[error("that public key is already used by {0}")]
    RecipientInUse(String),
    /// `recovery remove` of a name that does not exist.
    #[error("no recovery key named {0:?} in .ageseal.yaml")]
    UnknownRecovery(String),
    /// The file could not be changed without changing more than asked.
    #[error(".ageseal.yaml could not be edited in place: {0}")]
    NotEditable(String),
    /// Nothing to seal to.
    #[error(".ageseal.yaml defines no region")]
    NoRegions,
    /// Larger or deeper than any config needs: refused before it is parsed.
    #[error("{0}")]
    TooComplex(String),
}

fn did_you_mean(closest: Option<&str>) -> String {
    closest
        .map(|c| format!("; did you mean {c}?"))
        .unwrap_or_default()
}

/// Levenshtein distance in characters (names are short: the quadratic cost does not matter).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Largest `.ageseal.yaml` read. Thirty regions with two hybrid keys each (about 2 KB a key)
/// take about 120 KB; the bound keeps a planted or broken file from costing the parser (and
/// every Tab press, through completion) seconds.
pub const MAX_CONFIG_BYTES: usize = 256 * 1024;
/// Deepest nesting of flow collections (`[`, `{`) in a config; it needs 3.
pub const MAX_CONFIG_NESTING: usize = 16;

/// Refuses a config text larger or more deeply nested than [`MAX_CONFIG_BYTES`] and
/// [`MAX_CONFIG_NESTING`] allow, in one pass and before any YAML parsing (a 600 KB file of
/// nested `[` took the parser over 30 s).
pub fn check_bounds(text: &str) -> Result<(), ConfigError> {
    if text.len() > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooComplex(format!(
            "the file is {} KiB; a config is at most {} KiB",
            text.len() / 1024,
            MAX_CONFIG_BYTES / 1024
        )));
    }
    let (mut depth, mut quote, mut comment, mut previous) = (0usize, None::<u8>, false, b'\n');
    for &c in text.as_bytes() {
        match (comment, quote, c) {
            (true, _, b'\n') => comment = false,
            (true, _, _) => {}
            (false, Some(q), _) if c == q => quote = None,
            (false, Some(_), _) => {}
            (false, None, b'#') if previous.is_ascii_whitespace() => comment = true,
            (false, None, b'"' | b'\'') => quote = Some(c),
            (false, None, b'[' | b'{') => {
                depth += 1;
                if depth > MAX_CONFIG_NESTING {
                    return Err(ConfigError::TooComplex(format!(
                        "lists or maps nested more than {MAX_CONFIG_NESTING} deep"
                    )));
                }
            }
            (false, None, b']' | b'}') => depth = depth.saturating_sub(1),
            _ => {}
        }
        previous = c;
    }
    Ok(())
}

impl ConfigError {
    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            ConfigError::Syntax(_) | ConfigError::Invalid { .. } => {
                "fix .ageseal.yaml; see the example in the README (regions, recovery, rules)"
            }
            ConfigError::UnknownRegion(..) => "list the regions with `ageseal region list`",
            ConfigError::DuplicateRegion(_) => {
                "pick another name, or `ageseal region remove` the old one first"
            }
            ConfigError::NoRegions => "add one with `ageseal region add NAME --recipient age1...`",
            ConfigError::RecipientInUse(_) => {
                "every region and recovery key has a key of its own: check that this is the right key (ageseal region list)"
            }
            ConfigError::UnknownRecovery(_) => "list them with `ageseal region list`",
            ConfigError::NotEditable(_) => {
                "make the change by hand, or write the entry in block or flow style like the others"
            }
            ConfigError::TooComplex(_) => {
                "this is not a config ageseal wrote: check where it came from, or remove it"
            }
        }
    }
}

/// One region: its controller's public keys, current key first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RegionConfig {
    /// Region name, e.g. `us-east-1`.
    pub name: String,
    /// `age1...` or hybrid `age1pq1...` recipients; the first is the current key and the one
    /// values are sealed to.
    pub recipients: Vec<String>,
    /// `required`: the region's current key must be hybrid post-quantum, and `ageseal verify`
    /// reports any value for this region sealed with X25519 stanzas. Absent means `optional`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pq: Option<PqPolicy>,
}

/// Whether a region requires hybrid post-quantum recipients.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PqPolicy {
    /// X25519 or hybrid recipients.
    Optional,
    /// Hybrid recipients only.
    Required,
}

impl RegionConfig {
    /// True when the region says `pq: required`.
    pub fn pq_required(&self) -> bool {
        self.pq == Some(PqPolicy::Required)
    }
}

/// A recovery (break-glass) recipient every value is also sealed to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RecoveryConfig {
    /// Name recorded in `spec.recipients`.
    pub name: String,
    /// `age1...` recipient.
    pub recipient: String,
    /// Where the (KMS-wrapped) private half is kept, relative to the config file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
}

/// Sends files under `path` (a glob relative to the config file) to some regions only.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Glob such as `eu/**`; `*` stops at `/`, `**` crosses folders.
    pub path: String,
    /// Region names.
    pub regions: Vec<String>,
}

/// The whole `.ageseal.yaml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RepoConfig {
    /// Regions, in the order their stanzas are written.
    #[serde(default)]
    pub regions: Vec<RegionConfig>,
    /// Recovery recipients, written after the regions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovery: Vec<RecoveryConfig>,
    /// Path rules; the first match wins, no match means every region.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    /// The rules' globs, compiled once: `verify` and `rekey` match every file of a tree.
    #[serde(skip)]
    compiled: CompiledRules,
}

/// Compiled rule globs, with the paths they were compiled from so edits to `rules` are noticed.
/// Clones share it (a config is cloned per file by the CLI's config finder); it is not part of
/// the config's value, so every cache compares equal.
#[derive(Debug, Default, Clone)]
struct CompiledRules(std::sync::Arc<std::sync::Mutex<Vec<CompiledRule>>>);

/// A rule's path and its compiled glob (`None` only for a glob that failed validation).
type CompiledRule = (String, Option<GlobMatcher>);

impl PartialEq for CompiledRules {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for CompiledRules {}

fn invalid(field: String, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field,
        problem: problem.into(),
    }
}

fn parse_recipient(field: String, text: &str) -> Result<Recipient, ConfigError> {
    text.parse()
        .map_err(|e: crate::keys::KeyError| invalid(field, e.to_string()))
}

fn rule_matcher(index: usize, glob: &str) -> Result<GlobMatcher, ConfigError> {
    GlobBuilder::new(glob)
        .literal_separator(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| invalid(format!("rules[{index}].path"), e.kind().to_string()))
}

impl RepoConfig {
    /// Parses and validates the file's text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        check_bounds(text)?;
        let config: RepoConfig = if text.trim().is_empty() {
            RepoConfig::default()
        } else {
            serde_yaml::from_str(text).map_err(|e| ConfigError::Syntax(crate::yaml::describe(&e)))?
        };
        config.validate()?;
        Ok(config)
    }

    /// The YAML to write back.
    pub fn to_yaml(&self) -> String {
        let body = serde_yaml::to_string(self).expect("config serializes");
        format!("# ageseal repository config: who values under this folder are sealed to.\n{body}")
    }

    /// Checks names, keys, globs and references, naming the first bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check_keys_unique()?;
        let mut names: Vec<&str> = Vec::new();
        for (i, region) in self.regions.iter().enumerate() {
            check_name(format!("regions[{i}].name"), &region.name, &names)?;
            names.push(&region.name);
            if region.recipients.is_empty() {
                return Err(invalid(
                    format!("regions[{i}].recipients"),
                    "needs at least one age1... recipient",
                ));
            }
            for (j, text) in region.recipients.iter().enumerate() {
                let recipient = parse_recipient(format!("regions[{i}].recipients[{j}]"), text)?;
                if j == 0 && region.pq_required() && !recipient.is_hybrid() {
                    return Err(invalid(
                        format!("regions[{i}].recipients[0]"),
                        "is an X25519 key, but the region says pq: required: make its current key a hybrid age1pq1... key (ageseal-controller run --pq-keys publishes one)",
                    ));
                }
            }
        }
        for (i, recovery) in self.recovery.iter().enumerate() {
            check_name(format!("recovery[{i}].name"), &recovery.name, &names)?;
            names.push(&recovery.name);
            parse_recipient(format!("recovery[{i}].recipient"), &recovery.recipient)?;
        }
        for (i, rule) in self.rules.iter().enumerate() {
            rule_matcher(i, &rule.path)?;
            if rule.regions.is_empty() {
                return Err(invalid(
                    format!("rules[{i}].regions"),
                    "needs at least one region",
                ));
            }
            for (j, name) in rule.regions.iter().enumerate() {
                if self.region(name).is_none() {
                    return Err(invalid(
                        format!("rules[{i}].regions[{j}]"),
                        "names a region that regions does not define",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Refuses a public key used by two regions, or by a region and a recovery key.
    fn check_keys_unique(&self) -> Result<(), ConfigError> {
        let mut owners: Vec<(String, &str)> = Vec::new();
        let keys = self
            .regions
            .iter()
            .flat_map(|r| {
                r.recipients
                    .iter()
                    .map(move |k| (format!("region {}", r.name), k.as_str()))
            })
            .chain(
                self.recovery
                    .iter()
                    .map(|r| (format!("recovery key {}", r.name), r.recipient.as_str())),
            );
        for (owner, key) in keys {
            let key = key.trim();
            if let Some((first, _)) = owners.iter().find(|(o, k)| *k == key && *o != owner) {
                return Err(ConfigError::RecipientInUse(first.clone()));
            }
            owners.push((owner, key));
        }
        Ok(())
    }

    /// The region called `name`.
    pub fn region(&self, name: &str) -> Option<&RegionConfig> {
        self.regions.iter().find(|r| r.name == name)
    }

    /// Who a file at `path` (relative to the config's folder, `/`-separated) is sealed to:
    /// `only` regions if given, else the first matching rule's regions, else every region;
    /// each region's current recipient in config order, then every recovery recipient.
    pub fn recipients_for(
        &self,
        path: Option<&str>,
        only: &[String],
    ) -> Result<Vec<NamedRecipient>, ConfigError> {
        for name in only {
            if self.region(name).is_none() {
                return Err(self.unknown_region(name));
            }
        }
        let rule = path.and_then(|p| self.matching_rule(p));
        let selected = self.regions.iter().filter(|region| {
            if !only.is_empty() {
                only.contains(&region.name)
            } else {
                rule.is_none_or(|r| r.regions.contains(&region.name))
            }
        });
        let mut out = Vec::new();
        for (i, region) in selected.enumerate() {
            let current = parse_recipient(format!("regions[{i}].recipients[0]"), &region.recipients[0])?;
            let mut named = NamedRecipient::new(region.name.clone(), current);
            named.pq_required = region.pq_required();
            out.push(named);
        }
        if out.is_empty() {
            return Err(ConfigError::NoRegions);
        }
        for (i, recovery) in self.recovery.iter().enumerate() {
            let recipient = parse_recipient(format!("recovery[{i}].recipient"), &recovery.recipient)?;
            out.push(NamedRecipient::new(recovery.name.clone(), recipient));
        }
        Ok(out)
    }

    fn matching_rule(&self, path: &str) -> Option<&Rule> {
        let path = path.trim_start_matches("./");
        let mut compiled = self
            .compiled
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let current = compiled.len() == self.rules.len()
            && compiled
                .iter()
                .zip(&self.rules)
                .all(|((glob, _), rule)| *glob == rule.path);
        if !current {
            *compiled = self
                .rules
                .iter()
                .enumerate()
                .map(|(i, rule)| (rule.path.clone(), rule_matcher(i, &rule.path).ok()))
                .collect();
        }
        let index = compiled
            .iter()
            .position(|(_, m)| m.as_ref().is_some_and(|m| m.is_match(path)))?;
        self.rules.get(index)
    }

    /// Adds a region with one recipient, after the existing ones.
    pub fn add_region(&mut self, name: &str, recipient: &Recipient) -> Result<(), ConfigError> {
        let taken: Vec<&str> = self
            .regions
            .iter()
            .map(|r| r.name.as_str())
            .chain(self.recovery.iter().map(|r| r.name.as_str()))
            .collect();
        if taken.contains(&name) {
            return Err(ConfigError::DuplicateRegion(name.to_owned()));
        }
        check_name("region name".into(), name, &[])?;
        self.regions.push(RegionConfig {
            name: name.to_owned(),
            recipients: vec![recipient.to_string()],
            pq: None,
        });
        self.check_keys_unique().inspect_err(|_| {
            self.regions.pop();
        })
    }

    /// Makes `recipient` the region's current key (first); older keys stay listed after it.
    pub fn set_region_key(&mut self, name: &str, recipient: &Recipient) -> Result<(), ConfigError> {
        let before = self.clone();
        let region = self
            .regions
            .iter_mut()
            .find(|r| r.name == name)
            .ok_or_else(|| before.unknown_region(name))?;
        let key = recipient.to_string();
        region.recipients.retain(|k| k.trim() != key);
        region.recipients.insert(0, key);
        self.check_keys_unique().inspect_err(|_| *self = before)
    }

    /// Adds a recovery key (with where its private half is kept, if given).
    pub fn add_recovery(
        &mut self,
        name: &str,
        recipient: &Recipient,
        identity: Option<&str>,
    ) -> Result<(), ConfigError> {
        let taken =
            self.regions.iter().any(|r| r.name == name) || self.recovery.iter().any(|r| r.name == name);
        if taken {
            return Err(ConfigError::DuplicateRegion(name.to_owned()));
        }
        check_name("recovery name".into(), name, &[])?;
        self.recovery.push(RecoveryConfig {
            name: name.to_owned(),
            recipient: recipient.to_string(),
            identity: identity.map(str::to_owned),
        });
        self.check_keys_unique().inspect_err(|_| {
            self.recovery.pop();
        })
    }

    /// Removes a recovery key.
    pub fn remove_recovery(&mut self, name: &str) -> Result<(), ConfigError> {
        let index = self
            .recovery
            .iter()
            .position(|r| r.name == name)
            .ok_or_else(|| ConfigError::UnknownRecovery(name.to_owned()))?;
        self.recovery.remove(index);
        Ok(())
    }

    /// The error for a region name the config does not define, with the closest name it does
    /// define when one is near (a typo such as `us-est-1`).
    fn unknown_region(&self, name: &str) -> ConfigError {
        let closest = self
            .regions
            .iter()
            .map(|r| (edit_distance(name, &r.name), &r.name))
            .filter(|(d, _)| *d <= 2)
            .min()
            .map(|(_, known)| known.clone());
        ConfigError::UnknownRegion(name.to_owned(), closest)
    }

    /// Removes a region; a rule that would be left with no region is an error.
    pub fn remove_region(&mut self, name: &str) -> Result<(), ConfigError> {
        let index = self
            .regions
            .iter()
            .position(|r| r.name == name)
            .ok_or_else(|| self.unknown_region(name))?;
        let orphaned = self
            .rules
            .iter()
            .position(|rule| rule.regions.iter().all(|r| r == name));
        if let Some(i) = orphaned {
            return Err(invalid(
                format!("rules[{i}]"),
                format!("would target no region once {name:?} is removed; edit the rule first"),
            ));
        }
        for rule in &mut self.rules {
            rule.regions.retain(|r| r != name);
        }
        self.regions.remove(index);
        Ok(())
    }
}

fn check_name(field: String, name: &str, taken: &[&str]) -> Result<(), ConfigError> {
    if !is_dns_label(name) {
        return Err(invalid(
            field,
            "names are lowercase letters, digits and '-' (like us-east-1)",
        ));
    }
    if taken.contains(&name) {
        return Err(invalid(field, format!("{name:?} is used twice")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Identity;

    fn key() -> String {
        Identity::generate().recipient().to_string()
    }

    fn sample() -> RepoConfig {
        let text = format!(
            "regions:\n- {{name: us-east-1, recipients: [{a}, {old}]}}\n- {{name: us-west-2, recipients: [{b}]}}\n- {{name: eu-west-1, recipients: [{c}]}}\nrecovery:\n- {{name: break-glass, recipient: {r}, identity: recovery.age.kms}}\nrules:\n- {{path: \"eu/**\", regions: [eu-west-1]}}\n- {{path: \"*.us.yaml\", regions: [us-east-1, us-west-2]}}\n",
            a = key(),
            old = key(),
            b = key(),
            c = key(),
            r = key()
        );
        RepoConfig::parse(&text).expect("valid")
    }

    fn names(recipients: &[NamedRecipient]) -> Vec<&str> {
        recipients.iter().map(|r| r.name.as_str()).collect()
    }

    #[test]
    fn rules_pick_regions_by_path_and_recovery_is_always_added() {
        let config = sample();
        let all = config.recipients_for(Some("apps/db.yaml"), &[]).expect("ok");
        assert_eq!(
            names(&all),
            ["us-east-1", "us-west-2", "eu-west-1", "break-glass"]
        );
        assert_eq!(all[0].recipient.to_string(), config.regions[0].recipients[0]);
        let eu = config
            .recipients_for(Some("eu/payments/db.yaml"), &[])
            .expect("ok");
        assert_eq!(names(&eu), ["eu-west-1", "break-glass"]);
        let us = config.recipients_for(Some("db.us.yaml"), &[]).expect("ok");
        assert_eq!(names(&us), ["us-east-1", "us-west-2", "break-glass"]);
        // `*` does not cross folders.
        let nested = config.recipients_for(Some("x/db.us.yaml"), &[]).expect("ok");
        assert_eq!(nested.len(), 4);
        let only = config
            .recipients_for(Some("eu/a.yaml"), &["us-west-2".into()])
            .expect("ok");
        assert_eq!(names(&only), ["us-west-2", "break-glass"]);
        assert_eq!(
            config.recipients_for(None, &["mars-1".into()]),
            Err(ConfigError::UnknownRegion("mars-1".into(), None))
        );
        let typo = config.recipients_for(None, &["us-wset-2".into()]).unwrap_err();
        assert_eq!(
            typo,
            ConfigError::UnknownRegion("us-wset-2".into(), Some("us-west-2".into()))
        );
        assert!(typo.to_string().ends_with("; did you mean us-west-2?"), "{typo}");
    }

    #[test]
    fn edited_rules_are_matched_as_edited() {
        let mut config = sample();
        assert_eq!(
            names(&config.recipients_for(Some("eu/a.yaml"), &[]).expect("ok")),
            ["eu-west-1", "break-glass"]
        );
        config.rules[0].path = "asia/**".into();
        assert_eq!(
            config.recipients_for(Some("eu/a.yaml"), &[]).expect("ok").len(),
            4
        );
        assert_eq!(
            names(
                &config
                    .clone()
                    .recipients_for(Some("asia/a.yaml"), &[])
                    .expect("ok")
            )[0],
            "eu-west-1"
        );
    }

    #[test]
    fn validation_names_the_bad_field() {
        let k = key();
        let cases = [
            (
                format!("regions:\n- {{name: a, recipients: [{k}, age1nope]}}\n"),
                "regions[0].recipients[1]",
            ),
            (
                format!("regions:\n- {{name: A_1, recipients: [{k}]}}\n"),
                "regions[0].name",
            ),
            (
                format!("regions:\n- {{name: a, recipients: [{k}]}}\n- {{name: a, recipients: [{k}]}}\n"),
                "regions[1].name",
            ),
            (
                format!("regions:\n- {{name: a, recipients: [{k}]}}\nrules:\n- {{path: x, regions: [b]}}\n"),
                "rules[0].regions[0]",
            ),
            (
                format!(
                    "regions:\n- {{name: a, recipients: [{k}]}}\nrules:\n- {{path: \"[\", regions: [a]}}\n"
                ),
                "rules[0].path",
            ),
            (
                "regions:\n- {name: a, recipients: []}\n".to_owned(),
                "regions[0].recipients",
            ),
        ];
        for (text, field) in cases {
            match RepoConfig::parse(&text) {
                Err(ConfigError::Invalid { field: f, .. }) => assert_eq!(f, field, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(matches!(
            RepoConfig::parse("regoins: []\n"),
            Err(ConfigError::Syntax(_))
        ));
        assert_eq!(
            RepoConfig::parse("")
                .expect("empty is fine")
                .recipients_for(None, &[]),
            Err(ConfigError::NoRegions)
        );
    }

    #[test]
    fn add_and_remove_regions_round_trip_through_yaml() {
        let mut config = sample();
        let recipient: Recipient = key().parse().expect("valid");
        config.add_region("ap-south-1", &recipient).expect("added");
        assert_eq!(
            config.add_region("ap-south-1", &recipient),
            Err(ConfigError::DuplicateRegion("ap-south-1".into()))
        );
        assert_eq!(
            config.add_region("break-glass", &recipient),
            Err(ConfigError::DuplicateRegion("break-glass".into()))
        );
        let reread = RepoConfig::parse(&config.to_yaml()).expect("valid");
        assert_eq!(reread, config);
        let before = config.clone();
        assert!(
            config.remove_region("eu-west-1").is_err(),
            "the eu rule would target nothing"
        );
        assert_eq!(config, before, "a refused removal changes nothing");
        config.remove_region("us-west-2").expect("removed");
        assert_eq!(config.rules[1].regions, ["us-east-1"]);
        assert_eq!(
            config.remove_region("us-west-2"),
            Err(ConfigError::UnknownRegion("us-west-2".into(), None))
        );
    }
}
