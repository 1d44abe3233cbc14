//! Helpers for tests that run the real `rampart` binary as a server: a child that is killed
//! and reaped on drop, a free loopback port, the command with a private HOME, an HTTP client.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A child process killed and reaped when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `rampart` with HOME (and the working directory) set to `home` and no inherited token.
pub fn rampart(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rampart"));
    c.env("HOME", home)
        .env_remove("RAMPART_TOKEN")
        .current_dir(home);
    c
}

/// `rampart serve` on loopback `port` with its audit trail in `audit`, output discarded.
pub fn serve(home: &Path, port: u16, audit: &Path) -> Command {
    let mut c = rampart(home);
    c.args(["serve", "--port", &port.to_string()])
        .arg("--audit-dir")
        .arg(audit)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// An HTTP client that reports every status as a response and never follows redirects.
///
/// Its time limit only keeps a hung server from hanging the test; it is not a latency check.
/// A decision's audit write waits for the directory lock (up to 5 s) and an fsync, so on a
/// loaded machine an answer can take longer than 5 s and still be right.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}
