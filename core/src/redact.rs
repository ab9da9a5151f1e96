//! Keeps private keys out of what the binaries print. A user who passes a key where a path or a
//! name is expected (`-i AGE-SECRET-KEY-1...`, `--context`, `--region`, a file argument) must not
//! see it echoed in `error: cannot read ...`, a warning or a log line, where terminals, CI logs
//! and screen shares keep it. Every message the CLI and the controller print on stderr passes
//! through [`private_keys`]; it replaces anything shaped like an age X25519 or hybrid identity
//! (`AGE-SECRET-KEY-1...`, `AGE-SECRET-KEY-PQ-1...`) or a plugin identity (`AGE-PLUGIN-NAME-1...`),
//! in either case, wherever it stands in the text.

use std::borrow::Cow;

/// What stands in the text instead of a key.
pub const REDACTED: &str = "<private key, not shown>";

/// The hint that goes with a redacted key: it was given on a command line.
pub const ROTATE_HINT: &str = "a private key was given where a path or a name is expected: it is now in your shell history and was visible to other processes; treat it as leaked and rotate it (docs/OPERATIONS.md, \"A key leaked\")";

/// Prefixes of identity encodings (bech32 human-readable parts, compared case-insensitively).
const PREFIXES: [&str; 2] = ["AGE-SECRET-KEY-", "AGE-PLUGIN-"];

/// Shortest data part that can hold a key: 32 bytes in bech32 are 52 characters plus the
/// checksum. Shorter runs are text about keys ("AGE-SECRET-KEY-1..." in a hint), not keys.
const MIN_DATA: usize = 40;

fn is_key_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-'
}

/// `text` with every private key in it replaced by [`REDACTED`]; borrowed when there was none.
pub fn private_keys(text: &str) -> Cow<'_, str> {
    let upper = text.to_ascii_uppercase();
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut at = 0;
    while let Some(start) = PREFIXES
        .iter()
        .filter_map(|p| upper[at..].find(p))
        .min()
        .map(|i| at + i)
    {
        let mut end = start;
        while end < bytes.len() && is_key_char(bytes[end]) {
            end += 1;
        }
        // The data part follows the last '1' (bech32's separator).
        let token = &upper[start..end];
        let data = token.rfind('1').map_or(0, |one| token.len() - one - 1);
        if data >= MIN_DATA {
            out.push_str(&text[copied..start]);
            out.push_str(REDACTED);
            copied = end;
        }
        at = end.max(start + 1);
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// True when `text` holds something shaped like a private key (see [`private_keys`]).
pub fn holds_private_key(text: &str) -> bool {
    matches!(private_keys(text), Cow::Owned(_))
}

/// The first command-line argument (counting from 1) that holds a private key. Neither binary
/// takes a key on its command line (identities come from files, values from stdin), so such an
/// argument is refused before anything runs.
pub fn argument_with_private_key(args: impl Iterator<Item = std::ffi::OsString>) -> Option<usize> {
    args.skip(1)
        .position(|arg| holds_private_key(&arg.to_string_lossy()))
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const X25519: &str = "AGE-SECRET-KEY-1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSTH8VF6";

    #[test]
    fn keys_anywhere_in_any_case_are_replaced() {
        let hybrid = format!("AGE-SECRET-KEY-PQ-1{}", "Q".repeat(300));
        let plugin = format!("AGE-PLUGIN-YUBIKEY-1{}", "Z".repeat(60));
        let text = format!(
            "error: cannot read {X25519}: No such file; also /tmp/{}x and {hybrid},{plugin}",
            X25519.to_ascii_lowercase()
        );
        let redacted = private_keys(&text);
        let r = REDACTED;
        assert_eq!(
            redacted,
            format!("error: cannot read {r}: No such file; also /tmp/{r} and {r},{r}")
        );
        for leaked in [&X25519[16..50], &hybrid[20..60], &plugin[21..60]] {
            assert!(!redacted.to_ascii_uppercase().contains(leaked), "{redacted}");
        }
    }

    #[test]
    fn text_about_keys_and_other_text_stay_as_they_are() {
        for text in [
            "expected a line starting with AGE-SECRET-KEY-1 or AGE-SECRET-KEY-PQ-1",
            "holds an age private key (AGE-SECRET-KEY-...)",
            "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq is a public key",
            "AGE-SECRET-KEY-",
            "",
        ] {
            assert!(
                matches!(private_keys(text), Cow::Borrowed(t) if t == text),
                "{text}"
            );
        }
    }
}
