//! `ageseal keygen`, plain and KMS-wrapped (moto).

use super::support::*;

#[test]
fn keygen_writes_0600_prints_the_public_key_and_never_overwrites() {
    use std::os::unix::fs::PermissionsExt;
    let repo = Repo::new();
    let mode = std::fs::metadata(repo.path("../keys/east.key"))
        .expect("exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let text = repo.read("../keys/east.key");
    assert!(text.contains(&format!("# public key: {}", repo.east)));
    assert!(repo.east.starts_with("age1"));
    assert_fails(
        &repo.run(&["keygen", "-o", "../keys/east.key"], ""),
        3,
        "already exists",
    );
    assert_eq!(repo.read("../keys/east.key"), text);
    let out = repo.run(&["keygen"], "");
    assert!(stdout(&out).contains("AGE-SECRET-KEY-1") && stderr(&out).contains("Public key: age1"));
}

#[test]
fn a_kms_wrapped_recovery_key_is_made_by_keygen_and_opens_sealed_files() {
    use ageseal_kms::moto::Moto;
    let moto = Moto::start();
    let arn = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(moto.create_key("us-east-1"));
    let repo = Repo::new();
    let with_moto = |args: &[&str], env: &[(&'static str, String)]| repo.run_env(args, env);
    let out = with_moto(&["keygen", "--kms-key", &arn, "-o", "recovery.kms"], &moto.env());
    assert!(out.status.success(), "{}", stderr(&out));
    let recipient = stdout(&out).trim().to_owned();
    let file = repo.read("recovery.kms");
    assert!(
        file.contains("ageseal-kms-identity/v1") && file.contains(&arn) && !file.contains("AGE-SECRET-KEY")
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(repo.path("recovery.kms"))
        .expect("exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let config = format!(
        "regions:\n- {{name: us-east-1, recipients: [{}]}}\nrecovery:\n- {{name: break-glass, recipient: {recipient}, identity: recovery.kms}}\n",
        repo.east
    );
    repo.write(".ageseal.yaml", &config);
    repo.seal("db.yaml", DB);
    let out = with_moto(&["unseal", "-f", "db.yaml", "-i", "recovery.kms"], &moto.env());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(secret_value(&stdout(&out), "password"), b"hunter2");
    // Without -i, the recovery identity .ageseal.yaml names is used.
    let out = with_moto(&["unseal", "-f", "db.yaml"], &moto.env());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(secret_value(&stdout(&out), "password"), b"hunter2");

    repo.write(
        "tampered.kms",
        &file.replace("purpose=ageseal-identity", "purpose=something-else"),
    );
    let out = with_moto(&["unseal", "-f", "db.yaml", "-i", "tampered.kms"], &moto.env());
    assert_fails(&out, 6, "encryption context");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let mut unreachable = moto.env();
    unreachable[0].1 = format!("http://127.0.0.1:{closed}");
    let out = with_moto(&["unseal", "-f", "db.yaml", "-i", "recovery.kms"], &unreachable);
    assert_fails(&out, 6, "cannot reach AWS KMS");
    let out = with_moto(&["keygen", "--kms-key", "not-an-arn", "-o", "x.kms"], &moto.env());
    assert_fails(&out, 6, "no AWS region for the KMS key given");
    let out = with_moto(
        &["keygen", "--kms-key", "arn:aws:kms:x", "-o", "x.kms"],
        &moto.env(),
    );
    assert_fails(&out, 6, "not a valid ARN");
    assert!(!repo.path("x.kms").exists(), "a failed keygen left a file");
}

#[test]
fn kms_errors_tell_missing_credentials_from_an_unreachable_endpoint_and_aliases_work() {
    use ageseal_kms::moto::Moto;
    let moto = Moto::start();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let arn = runtime.block_on(moto.create_key("us-east-1"));
    runtime
        .block_on(async {
            let client = moto.kms().sdk_client("us-east-1").await;
            client
                .create_alias()
                .alias_name("alias/recovery")
                .target_key_id(&arn)
                .send()
                .await
        })
        .expect("alias");
    let repo = Repo::new();
    let without_credentials: Vec<(&str, String)> = moto
        .env()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("AWS_ACCESS_KEY_ID") && !k.starts_with("AWS_SECRET"))
        .collect();
    let out = repo.run_env(
        &["keygen", "--kms-key", &arn, "-o", "a.kms"],
        &without_credentials,
    );
    assert_fails(&out, 6, "no usable AWS credentials");
    assert!(!stderr(&out).contains("network"), "{}", stderr(&out));
    let mut with_region = moto.env();
    with_region.push(("AWS_REGION", "us-east-1".to_owned()));
    let out = repo.run_env(
        &["keygen", "--kms-key", "alias/recovery", "-o", "b.kms"],
        &with_region,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        repo.read("b.kms").contains(&format!("kms-key: {arn}")),
        "the file names the key's ARN"
    );
}
