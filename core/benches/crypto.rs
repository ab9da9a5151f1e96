//! Unseal and seal against their yardsticks (DESIGN §10): one raw X25519 Diffie-Hellman, the age
//! crate's own encryption, and for hybrid post-quantum recipients the X25519 figures. Prints each
//! result as a ratio after criterion's own report, and the sealed size per recipient.
//!
//! Run: `cargo bench -p ageseal-core --bench crypto` (figures in core/benches/README.md).

use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ageseal_core::{Binding, Identity, Keyring, Location, Recipient, RecipientId, Scope, seal, unseal};
use criterion::Criterion;
use x25519_dalek::{PublicKey, StaticSecret};

const VALUE: &[u8] = b"a typical secret value: 32 bytes";

fn location() -> Location {
    Location::new("payments", "db", "password")
}

/// `dh/x25519` is the Diffie-Hellman opening does (AWS-LC's, through the same calls as
/// `core/src/x25519.rs`); `dh/x25519_dalek` is x25519-dalek's, which opening used before.
fn bench_dh(c: &mut Criterion) {
    use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey, X25519};
    let secret = StaticSecret::random_from_rng(rand::rngs::OsRng);
    let public = PublicKey::from(&StaticSecret::random_from_rng(rand::rngs::OsRng));
    let mut group = c.benchmark_group("dh");
    let ours = PrivateKey::from_private_key(&X25519, secret.as_bytes()).expect("an X25519 key");
    group.bench_function("x25519", |b| {
        b.iter(|| {
            let peer = UnparsedPublicKey::new(&X25519, black_box(public.as_bytes()));
            agreement::agree(&ours, peer, (), |shared| Ok(black_box(shared[0]))).expect("agrees")
        })
    });
    group.bench_function("x25519_dalek", |b| {
        b.iter(|| black_box(secret.diffie_hellman(black_box(&public))))
    });
    group.finish();
}

/// A fresh identity of either type.
fn identity(hybrid: bool) -> Identity {
    if hybrid {
        Identity::generate_hybrid()
    } else {
        Identity::generate()
    }
}

/// R recipients; the keyring holds K identities and only the last one matches the last stanza,
/// which is the worst case for a reader that tries every pairing. Hybrid benchmarks are named
/// `pq_R{r}_K{k}`; `nohint` ones open without `spec.recipients` (every pairing may be tried).
fn bench_unseal(c: &mut Criterion) {
    let binding = Binding::new(Scope::Strict, &location()).expect("valid");
    let mut group = c.benchmark_group("unseal");
    for hybrid in [false, true] {
        let prefix = if hybrid { "pq_" } else { "" };
        for r in [1, 3, 5] {
            for k in [1, 5] {
                let ours: Vec<Identity> = (0..k).map(|_| identity(hybrid)).collect();
                let mut recipients: Vec<Recipient> =
                    (1..r).map(|_| identity(hybrid).recipient().clone()).collect();
                recipients.push(ours[k - 1].recipient().clone());
                let sealed = seal(VALUE, &binding, &recipients).expect("seals");
                let hint: Vec<Option<RecipientId>> = recipients.iter().map(|r| Some(r.id())).collect();
                let keyring = Keyring::new(ours);
                group.bench_function(format!("{prefix}R{r}_K{k}"), |b| {
                    b.iter(|| unseal(black_box(&sealed), &keyring, &location(), &hint).expect("opens"))
                });
                if r == 5 && k == 5 {
                    group.bench_function(format!("{prefix}nohint_R{r}_K{k}"), |b| {
                        b.iter(|| unseal(black_box(&sealed), &keyring, &location(), &[]).expect("opens"))
                    });
                }
            }
        }
    }
}

fn age_crate_encrypt(plaintext: &[u8], recipients: &[age::x25519::Recipient]) -> Vec<u8> {
    let encryptor = age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
        .expect("recipients");
    let mut out = Vec::new();
    let mut writer = encryptor.wrap_output(&mut out).expect("header");
    writer.write_all(plaintext).expect("write");
    writer.finish().expect("finish");
    out
}

fn bench_seal(c: &mut Criterion) {
    let binding = Binding::new(Scope::Strict, &location()).expect("valid");
    let envelope_sized = ageseal_core::envelope::encode(&binding, VALUE);
    let mut group = c.benchmark_group("seal");
    for r in [1, 3, 5] {
        let recipients: Vec<Recipient> = (0..r).map(|_| Identity::generate().recipient().clone()).collect();
        let age_recipients: Vec<age::x25519::Recipient> = recipients
            .iter()
            .map(|r| r.to_string().parse().expect("valid"))
            .collect();
        group.bench_function(format!("ageseal_R{r}"), |b| {
            b.iter(|| seal(black_box(VALUE), &binding, &recipients).expect("seals"))
        });
        group.bench_function(format!("age_crate_R{r}"), |b| {
            b.iter(|| age_crate_encrypt(black_box(&envelope_sized), &age_recipients))
        });
        let hybrid: Vec<Recipient> = (0..r).map(|_| identity(true).recipient().clone()).collect();
        group.bench_function(format!("pq_R{r}"), |b| {
            b.iter(|| seal(black_box(VALUE), &binding, &hybrid).expect("seals"))
        });
    }
}

/// Sealed size of one 32-byte value, binary and as the base64 stored in `encryptedData`, by
/// recipient type and count, and the cost of one more recipient.
fn print_sizes() {
    let binding = Binding::new(Scope::Strict, &location()).expect("valid");
    println!(
        "\nsealed size of one {}-byte value (binary / base64 in encryptedData):",
        VALUE.len()
    );
    for hybrid in [false, true] {
        let size = |r: usize| {
            let recipients: Vec<Recipient> = (0..r).map(|_| identity(hybrid).recipient().clone()).collect();
            seal(VALUE, &binding, &recipients).expect("seals").len()
        };
        let (one, three, five) = (size(1), size(3), size(5));
        let b64 = |n: usize| n.div_ceil(3) * 4;
        println!(
            "  {}: R=1 {one} / {} B, R=3 {three} / {} B, R=5 {five} / {} B; per extra recipient {} / {} B",
            if hybrid { "hybrid mlkem768x25519" } else { "X25519" },
            b64(one),
            b64(three),
            b64(five),
            (five - one) / 4,
            (b64(five) - b64(one)) / 4
        );
    }
}

fn mean_ns(dir: &Path, id: &str) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join(id).join("new/estimates.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

fn print_ratios(dir: &Path) {
    let Some(dh) = mean_ns(dir, "dh/x25519") else {
        println!("ratios: no dh/x25519 estimate (was it filtered out?)");
        return;
    };
    println!("\nratios (mean time; target unseal <= 1.5x DH, seal <= 1.2x age crate):");
    println!("  dh/x25519 (AWS-LC, what opening does) = {:.1} us", dh / 1000.0);
    if let Some(dalek) = mean_ns(dir, "dh/x25519_dalek") {
        println!("  dh/x25519_dalek = {:.1} us", dalek / 1000.0);
    }
    for r in [1, 3, 5] {
        for k in [1, 5] {
            if let Some(t) = mean_ns(dir, &format!("unseal/R{r}_K{k}")) {
                println!("  unseal R={r} K={k}: {:.1} us = {:.2}x DH", t / 1000.0, t / dh);
            }
        }
    }
    println!("hybrid post-quantum (target: unseal <= 3x the X25519 unseal):");
    for (r, k) in [(1, 1), (1, 5), (3, 1), (3, 5), (5, 1), (5, 5)] {
        let classic = mean_ns(dir, &format!("unseal/R{r}_K{k}"));
        let hybrid = mean_ns(dir, &format!("unseal/pq_R{r}_K{k}"));
        if let (Some(classic), Some(hybrid)) = (classic, hybrid) {
            println!(
                "  unseal pq R={r} K={k}: {:.1} us = {:.2}x X25519 unseal ({:.1} us)",
                hybrid / 1000.0,
                hybrid / classic,
                classic / 1000.0
            );
        }
    }
    let classic = mean_ns(dir, "unseal/nohint_R5_K5");
    let hybrid = mean_ns(dir, "unseal/pq_nohint_R5_K5");
    if let (Some(classic), Some(hybrid)) = (classic, hybrid) {
        println!(
            "  unseal without hint R=5 K=5: X25519 {:.1} us, hybrid {:.1} us = {:.2}x (cost of a hybrid trial)",
            classic / 1000.0,
            hybrid / 1000.0,
            hybrid / classic
        );
    }
    for r in [1, 3, 5] {
        let classic = mean_ns(dir, &format!("seal/ageseal_R{r}"));
        let hybrid = mean_ns(dir, &format!("seal/pq_R{r}"));
        if let (Some(classic), Some(hybrid)) = (classic, hybrid) {
            println!(
                "  seal pq R={r}: {:.1} us = {:.2}x X25519 seal",
                hybrid / 1000.0,
                hybrid / classic
            );
        }
    }
    for r in [1, 3, 5] {
        let ours = mean_ns(dir, &format!("seal/ageseal_R{r}"));
        let theirs = mean_ns(dir, &format!("seal/age_crate_R{r}"));
        if let (Some(ours), Some(theirs)) = (ours, theirs) {
            println!(
                "  seal R={r}: {:.1} us = {:.2}x age crate ({:.1} us) = {:.2}x DH",
                ours / 1000.0,
                ours / theirs,
                theirs / 1000.0,
                ours / dh
            );
        }
    }
}

fn main() {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        // target/release/deps/crypto-HASH: the target folder is three levels up.
        || {
            let exe = std::env::current_exe().expect("own path");
            exe.ancestors()
                .nth(3)
                .map_or_else(|| PathBuf::from("target"), PathBuf::from)
        },
        PathBuf::from,
    );
    let dir = target.join("criterion");
    let mut c = Criterion::default()
        .sample_size(40)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .output_directory(&dir)
        .configure_from_args();
    bench_dh(&mut c);
    bench_unseal(&mut c);
    bench_seal(&mut c);
    c.final_summary();
    print_ratios(&dir);
    print_sizes();
}
