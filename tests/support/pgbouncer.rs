//! A PgBouncer process in front of the test PostgreSQL server, on a free port, with a generated
//! configuration (trust authentication, every database passed through).

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's package puts it here (`scripts/install-system-packages`).
pub const PGBOUNCER: &str = "/usr/sbin/pgbouncer";

/// A running PgBouncer, stopped when dropped.
pub struct PgBouncer {
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl PgBouncer {
    /// Starts PgBouncer in `pool_mode` (`session`, `transaction`, `statement`) in front of the
    /// server of [`super::pg_admin_url`], with `extra` lines in its `[pgbouncer]` section.
    pub fn start(pool_mode: &str, extra: &str) -> PgBouncer {
        assert!(
            std::path::Path::new(PGBOUNCER).exists(),
            "{PGBOUNCER} is missing: run scripts/install-system-packages"
        );
        let admin = url::Url::parse(&super::pg_admin_url()).unwrap();
        let host = admin.host_str().unwrap_or("127.0.0.1").to_string();
        let upstream = admin.port().unwrap_or(5432);
        let dir = tempfile::tempdir().unwrap();
        // PgBouncer refuses to run as root; as root it is started as `nobody`, who must read
        // its files.
        let root = effective_uid() == 0;
        if root {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let port = free_port();
        let users = dir.path().join("users.txt");
        std::fs::write(&users, "\"postgres\" \"\"\n").unwrap();
        let ini = dir.path().join("pgbouncer.ini");
        std::fs::write(
            &ini,
            format!(
                "[databases]\n* = host={host} port={upstream}\n\
                 [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = trust\nauth_file = {}\npool_mode = {pool_mode}\n\
                 max_client_conn = 200\ndefault_pool_size = 20\n\
                 ignore_startup_parameters = extra_float_digits\n{extra}",
                users.display()
            ),
        )
        .unwrap();
        let mut cmd = Command::new(PGBOUNCER);
        if root {
            cmd.args(["-u", "nobody"]);
        }
        let child = cmd
            .arg(&ini)
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("pgbouncer.log")).unwrap(),
            ))
            .spawn()
            .unwrap();
        let bouncer = PgBouncer { port, child, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "PgBouncer did not listen: {}",
                bouncer.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        bouncer
    }

    /// The URL of database `name` through this PgBouncer.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// What PgBouncer logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pgbouncer.log")).unwrap_or_default()
    }

    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The effective user id, read from `id -u` (no libc call).
fn effective_uid() -> u32 {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
