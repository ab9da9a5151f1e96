//! After every other test: the output of every controller process of the run (at debug level,
//! ageseal at trace) holds no secret value any test sealed, plain or base64, and no private key.

use std::sync::Arc;

use ageseal_testenv::{ControlPlane, Test, secrets};

pub fn tests() -> Vec<Test> {
    vec![Test::new("logs_of_every_controller_hold_no_secret_or_private_key", no_leaks).last()]
}

fn no_leaks(plane: Arc<ControlPlane>) {
    assert!(
        secrets::count() > 0,
        "no test remembered a secret value: this check would prove nothing"
    );
    let mut files = 0;
    let mut bytes = 0;
    for entry in std::fs::read_dir(plane.log_dir()).expect("log folder") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("log");
        files += 1;
        bytes += text.len();
        let leaks = secrets::leaks(&text);
        assert!(leaks.is_empty(), "{} holds {}", path.display(), leaks.join(", "));
    }
    assert!(
        files > 0 && bytes > 10_000,
        "too little logged to prove anything ({files} files, {bytes} bytes)"
    );
    println!(
        "logs: {files} controller logs, {bytes} bytes, checked against {} secret values",
        secrets::count()
    );
}
