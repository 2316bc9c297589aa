//! Waiting for the signal that stops a server.

use anyhow::Context;

/// The signals that stop a server (SIGINT, i.e. Ctrl-C, and on Unix SIGTERM), listened for from
/// [`ShutdownSignal::install`] on.
///
/// Install before printing a ready line: a script (or a test) may send SIGTERM the moment it
/// reads the line, and until a handler is installed the default action kills the process
/// without a clean shutdown.
pub struct ShutdownSignal {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    /// Installs the handlers now (inside a tokio runtime).
    ///
    /// # Errors
    /// A handler could not be installed.
    pub fn install() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(ShutdownSignal {
                interrupt: signal(SignalKind::interrupt())
                    .context("installing the SIGINT handler")?,
                terminate: signal(SignalKind::terminate())
                    .context("installing the SIGTERM handler")?,
            })
        }
        #[cfg(not(unix))]
        Ok(ShutdownSignal {})
    }

    /// Resolves once one of the signals arrived (also one that arrived since `install`).
    ///
    /// # Errors
    /// Waiting for Ctrl-C failed (not on Unix).
    pub async fn wait(mut self) -> anyhow::Result<()> {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => {}
                _ = self.terminate.recv() => {}
            }
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        tracing::info!("shutdown signal received");
        Ok(())
    }
}

/// Installs the handlers and waits: for a server that prints nothing before it waits.
pub async fn shutdown_signal() -> anyhow::Result<()> {
    ShutdownSignal::install()?.wait().await
}

/// The multi-threaded runtime the servers run on.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")
}
