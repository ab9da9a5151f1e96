//! `ageseal keygen`: a new age identity, written 0600 and never over an existing file.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use ageseal_core::Identity;
use zeroize::Zeroizing;

use crate::args::KeygenArgs;
use crate::failure::Failure;

pub fn run(args: KeygenArgs) -> Result<ExitCode, Failure> {
    let identity = if args.pq {
        Identity::generate_hybrid()
    } else {
        Identity::generate()
    };
    let file = match &args.kms_key {
        Some(arn) => Zeroizing::new(wrap(&identity, arn)?),
        None => identity.to_identity_file(&now_rfc3339()),
    };
    let Some(path) = args.output else {
        // No file asked for: printing the identity is the point, as with age-keygen.
        let public_key = identity.recipient();
        crate::note!("Public key: {public_key}");
        crate::output::print(file.as_str())?;
        return Ok(ExitCode::SUCCESS);
    };
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Failure::input(
                format!(
                    "{} already exists; ageseal never overwrites an identity",
                    path.display()
                ),
                "choose another path, or move the old identity away first",
            ),
            _ => Failure::io("create", &path, &e),
        })?;
    if let Err(e) = out.write_all(file.as_bytes()).and_then(|()| out.sync_all()) {
        drop(out);
        let _ = std::fs::remove_file(&path);
        return Err(Failure::io("write", &path, &e));
    }
    if args.kms_key.is_none()
        && let Some(root) = unignored_in_git(&path)
    {
        crate::note!(
            "warning: {} holds a private key and is inside the Git work tree {}: add it to .gitignore or keep it outside the repository, or make it with --kms-key so that only KMS can open it",
            path.display(),
            root.display()
        );
    }
    let public_key = identity.recipient();
    crate::output::print(&format!("{public_key}\n"))?;
    Ok(ExitCode::SUCCESS)
}

/// The Git work tree `path` lies in, unless Git ignores the file (or no work tree holds it).
fn unignored_in_git(path: &std::path::Path) -> Option<std::path::PathBuf> {
    let file = std::path::absolute(path).ok()?;
    let root = file.ancestors().skip(1).find(|dir| dir.join(".git").exists())?;
    let ignored = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["check-ignore", "-q", "--"])
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    (!ignored).then(|| root.to_path_buf())
}

/// The identity wrapped by AWS KMS under `arn`, as file text (holds no plaintext key).
fn wrap(identity: &Identity, arn: &str) -> Result<String, Failure> {
    use ageseal_core::wrapped::{PURPOSE_IDENTITY, context_for};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::io("start", std::path::Path::new("the AWS client"), &e))?;
    let context = context_for(PURPOSE_IDENTITY, identity.recipient(), &[]);
    let wrapped = runtime
        .block_on(ageseal_kms::wrap_identity(
            &ageseal_kms::AwsKms::new(),
            arn,
            identity,
            context,
        ))
        .map_err(|e| Failure::kms("wrapping the new identity", &e))?;
    Ok(wrapped.to_text())
}

/// UTC now as `YYYY-MM-DDThh:mm:ssZ`, for the identity file's comment.
fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_779), (2026, 11, 22));
    }
}
