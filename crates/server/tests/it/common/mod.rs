//! The `ferromq dev` process the binary's tests run against: spawned on free ports, ready when it
//! prints its ready line, stopped with SIGTERM (and killed if a test fails first).
#![allow(dead_code)] // each test file uses a different part

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running `ferromq dev`.
pub struct Dev {
    child: Option<Child>,
    /// Its ready line: `ferromq dev ready: namesrv=... broker=... data=... grpc=...`.
    pub ready: String,
}

impl Dev {
    /// Starts `ferromq dev` with its data in `data`, the name server and broker(s) on free loopback
    /// ports, plus `extra` arguments; returns once it printed its ready line.
    pub fn start(data: &Path, extra: &[&str]) -> Dev {
        Dev::spawn(Command::new(env!("CARGO_BIN_EXE_ferromq")), data, extra)
    }

    /// As [`Dev::start`], with the process's descriptor limit (soft and hard) set to `nofile`.
    pub fn start_with_nofile(data: &Path, extra: &[&str], nofile: u32) -> Dev {
        let mut sh = Command::new("sh");
        // `exec` keeps the pid, so signals and /proc reach ferromq itself.
        sh.arg("-c")
            .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_ferromq"));
        Dev::spawn(sh, data, extra)
    }

    fn spawn(mut command: Command, data: &Path, extra: &[&str]) -> Dev {
        let mut child = command
            .args([
                "--log-level",
                "warn",
                "dev",
                "--namesrv-listen",
                "127.0.0.1:0",
            ])
            .args(["--broker-listen", "127.0.0.1:0"])
            .args(["--grpc-listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn ferromq dev");
        let mut ready = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut ready)
            .expect("read the ready line");
        assert!(ready.starts_with("ferromq dev ready: "), "got {ready:?}");
        Dev {
            child: Some(child),
            ready,
        }
    }

    /// The value of `name=` in the ready line (`namesrv`, `broker`, `broker-a`, ...).
    pub fn field(&self, name: &str) -> String {
        let prefix = format!("{name}=");
        self.ready
            .split_whitespace()
            .find_map(|w| w.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("no {name} in {:?}", self.ready))
            .to_owned()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Kills it with SIGKILL, as a crash (no handler runs, nothing is flushed by the process), and
    /// reaps it.
    pub fn kill9(mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("SIGKILL");
        child.wait().expect("wait");
    }

    /// Stops it with SIGTERM and checks that it exits cleanly.
    pub fn stop(mut self) {
        let mut child = self.child.take().expect("running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let exit = child.wait().expect("wait");
        assert!(exit.success(), "ferromq dev exited with {exit}");
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A CA and a certificate for 127.0.0.1 it signed, as PEM files in `dir`: `ca.pem`, `server.pem`,
/// `server.key`.
pub fn write_pki(dir: &Path) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().expect("key"))
        .expect("ca");
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("params")
        .signed_by(&key, &ca)
        .expect("sign");
    std::fs::write(dir.join("ca.pem"), ca.pem()).expect("write");
    std::fs::write(dir.join("server.pem"), cert.pem()).expect("write");
    std::fs::write(dir.join("server.key"), key.serialize_pem()).expect("write");
}
