//! `groupstate demo --exit` as a newcomer sees it: the story alone, with no log line and no
//! colour code in between, the log kept in a file it names, and at the end the address of the
//! group's status page.

use std::process::Command;

#[test]
fn the_demo_tells_its_story_and_ends_at_the_status_page() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_groupstate"))
        .args(["demo", "--exit"])
        .env("GROUPSTATE__DATA_DIR", dir.path())
        // Any free port: other tests and daemons may hold the default one.
        .env("GROUPSTATE__API__BIND", "127.0.0.1:0")
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "the demo failed:\n{stdout}\n--- stderr:\n{stderr}"
    );

    for (name, output) in [("stdout", &stdout), ("stderr", &stderr)] {
        assert!(
            !output.contains('\x1b'),
            "an ANSI escape in the demo's {name}:\n{output}"
        );
        for level in ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] {
            let logged = output
                .lines()
                .find(|l| l.split_whitespace().take(2).any(|w| w == level));
            assert!(
                logged.is_none(),
                "a log line in the demo's {name}: {logged:?}\n{output}"
            );
        }
    }
    // The story, then the page's address.
    for expected in [
        "== a payment of 1 ETH, signed by two owners",
        "== an owner nobody documented is added",
        "safe.owner_undeclared",
        "== groupstate group state river-guild",
        "FIELD",
        "== groupstate log checkpoint",
    ] {
        assert!(stdout.contains(expected), "`{expected}` missing:\n{stdout}");
    }
    let page = stdout
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("http://127.0.0.1:") && l.ends_with("/groups/river-guild"))
        .unwrap_or_else(|| panic!("no status page address in\n{stdout}"));
    let port = &page["http://127.0.0.1:".len()..page.len() - "/groups/river-guild".len()];
    assert!(port.parse::<u16>().is_ok_and(|p| p > 0), "{page}");

    // The log went to the file the demo named.
    let log = dir.path().join("demo.log");
    assert!(
        stdout.contains(&log.display().to_string()),
        "the log file is not named:\n{stdout}"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("INFO"), "{logged}");
    assert!(!logged.contains('\x1b'), "colour codes in the log file");
}
