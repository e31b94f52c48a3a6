//! Replicas of the real daemon (`groupstate run`) as processes of their own, for the chaos test
//! and the replica benchmark: start, `kill -9`, `SIGSTOP`/`SIGCONT`, `SIGTERM`, each replica's
//! log appended to a file across its restarts, and its id given as `GROUPSTATE__REPLICA__ID`.
//!
//! Include it from a benchmark with `#[path = "../tests/support/cluster.rs"] mod cluster;`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The line written to a replica's log before each start, to tell its runs apart.
pub const START_MARK: &str = "=== replica started";

/// Where a replica is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Running,
    /// `SIGSTOP`ped, to be continued at that moment.
    Stopped(Instant),
    /// Not running (killed, stopped, or not yet started), to be started at that moment.
    Down(Instant),
}

/// One `groupstate run` process, across its restarts.
pub struct Replica {
    pub id: String,
    binary: PathBuf,
    config: PathBuf,
    /// Where its stderr goes (appended), with `RUST_LOG` and the log format chosen below.
    pub log: PathBuf,
    /// The replica id is passed to the daemon (once it knows the setting).
    pass_id: bool,
    /// `RUST_LOG` for the process.
    pub rust_log: String,
    child: Option<tokio::process::Child>,
    pub phase: Phase,
    /// How many times it was started.
    pub starts: u32,
}

impl Replica {
    /// A replica not yet started, running `binary --config config run`, logging JSON lines to
    /// `dir/<id>.log`.
    pub fn new(id: &str, binary: &str, config: &Path, dir: &Path, pass_id: bool) -> Replica {
        Replica {
            id: id.to_string(),
            binary: binary.into(),
            config: config.to_path_buf(),
            log: dir.join(format!("{id}.log")),
            pass_id,
            rust_log: "info".into(),
            child: None,
            phase: Phase::Down(Instant::now()),
            starts: 0,
        }
    }

    pub fn start(&mut self) {
        use std::io::Write;
        assert!(self.child.is_none(), "{} is already running", self.id);
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        writeln!(log, "{START_MARK} ({})", self.starts + 1).unwrap();
        let mut command = tokio::process::Command::new(&self.binary);
        command
            .arg("--config")
            .arg(&self.config)
            .arg("run")
            .env("RUST_LOG", &self.rust_log)
            .env("GROUPSTATE__LOG__FORMAT", "json")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .kill_on_drop(true);
        if self.pass_id {
            command.env("GROUPSTATE__REPLICA__ID", &self.id);
        }
        self.child = Some(command.spawn().unwrap());
        self.phase = Phase::Running;
        self.starts += 1;
    }

    pub fn is_running(&self) -> bool {
        self.phase == Phase::Running
    }

    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .and_then(|c| c.id())
            .unwrap_or_else(|| panic!("{} is not running", self.id))
    }

    /// Sends `signal` (a name `kill` knows: `STOP`, `CONT`, `TERM`).
    pub fn signal(&self, signal: &str) {
        let ok = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{signal} {}", self.id);
    }

    /// `SIGSTOP` until `until` (see [`Replica::resume_if_due`]).
    pub fn pause(&mut self, until: Instant) {
        self.signal("STOP");
        self.phase = Phase::Stopped(until);
    }

    /// `kill -9`, to be started again at `until`; returns once the process is gone.
    pub async fn kill(&mut self, until: Instant) {
        let mut child = self.child.take().expect("a running replica");
        child.start_kill().unwrap();
        child.wait().await.unwrap();
        self.phase = Phase::Down(until);
    }

    /// Continues a stopped replica, or starts a downed one, whose time has come (any time when
    /// `now` is `None`); what was done, if anything.
    pub fn resume_if_due(&mut self, now: Option<Instant>) -> Option<&'static str> {
        let due = |until: Instant| now.is_none_or(|now| until <= now);
        match self.phase {
            Phase::Stopped(until) if due(until) => {
                self.signal("CONT");
                self.phase = Phase::Running;
                Some("SIGCONT")
            }
            Phase::Down(until) if due(until) => {
                self.start();
                Some("started again")
            }
            _ => None,
        }
    }

    /// `SIGTERM`, then the exit status, which must come within `within`.
    pub async fn terminate(&mut self, within: Duration) -> std::process::ExitStatus {
        if let Phase::Stopped(_) = self.phase {
            self.signal("CONT");
        }
        self.signal("TERM");
        let mut child = self.child.take().unwrap();
        self.phase = Phase::Down(Instant::now());
        match tokio::time::timeout(within, child.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => panic!(
                "{} did not stop within {within:?} of SIGTERM; its log:\n{}",
                self.id,
                self.tail(40)
            ),
        }
    }

    /// Every line the replica logged so far.
    pub fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The last `n` lines of its log.
    pub fn tail(&self, n: usize) -> String {
        let lines = self.lines();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}
