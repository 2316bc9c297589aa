//! A `ferromq dev` child process for `bench pop-crash`: started on free loopback ports over a data
//! folder, ready once it printed its ready line, and killed with SIGKILL (no shutdown of any kind,
//! as a crash), then started again over the same folder.

use std::fs::File;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context as _, Result};

/// How long a start (recovery included) may take before the tool gives up.
const READY_WAIT: Duration = Duration::from_secs(120);

/// A running `ferromq dev`.
#[derive(Debug)]
pub struct DevChild {
    child: Option<Child>,
    /// `namesrv=` of the ready line.
    pub namesrv: String,
    /// `grpc=` of the ready line.
    pub grpc: String,
}

impl DevChild {
    /// Starts `binary dev` over `data`, its log (stderr) appended to `log`, and waits for its
    /// ready line.
    pub async fn start(binary: &Path, data: &Path, log: &Path) -> Result<DevChild> {
        let log_file = File::options()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let mut child = Command::new(binary)
            .args(["--log-level", "warn", "dev"])
            .args(["--namesrv-listen", "127.0.0.1:0"])
            .args(["--broker-listen", "127.0.0.1:0"])
            .args(["--grpc-listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {} dev", binary.display()))?;
        let stdout = child.stdout.take().context("the child's stdout")?;
        let read = tokio::task::spawn_blocking(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            reader.read_line(&mut line).map(|_| (line, reader))
        });
        let (line, reader) = match tokio::time::timeout(READY_WAIT, read).await {
            Ok(Ok(Ok(read))) => read,
            other => {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "ferromq dev printed no ready line within {READY_WAIT:?} ({other:?}); see {}",
                    log.display()
                );
            }
        };
        // Anything the child prints later must not block it on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut reader.into_inner(), &mut std::io::sink()));
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .map(str::to_owned)
        };
        let (Some(namesrv), Some(grpc)) = (field("namesrv="), field("grpc=")) else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("unexpected ready line of ferromq dev: {line:?}");
        };
        Ok(DevChild {
            child: Some(child),
            namesrv,
            grpc,
        })
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL, then reaps the process.
    pub fn kill9(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            // `Child::kill` is SIGKILL on Unix: no handler runs, nothing is flushed by the process.
            child.kill().context("SIGKILL ferromq dev")?;
            child.wait().context("reaping ferromq dev")?;
        }
        Ok(())
    }

    /// SIGTERM and a clean exit (the end of the run).
    pub fn stop(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            let status = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .context("kill -TERM")?;
            if !status.success() {
                let _ = child.kill();
            }
            let exit = child.wait().context("waiting for ferromq dev")?;
            if !exit.success() {
                bail!("ferromq dev exited with {exit} after SIGTERM");
            }
        }
        Ok(())
    }
}

impl Drop for DevChild {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The default binary: this one (`ferromq bench pop-crash` runs `ferromq dev`).
pub fn this_binary() -> Result<PathBuf> {
    std::env::current_exe().context("locating the ferromq binary")
}
