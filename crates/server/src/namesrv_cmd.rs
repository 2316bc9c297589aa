//! `ferromq namesrv`: one name server until SIGINT/SIGTERM.

use anyhow::Context;
use ferromq_namesrv::{NameServer, NameServerConfig};

use crate::cli::NamesrvArgs;
use crate::http;
use crate::signals;

/// Reads the name-server config file (TOML), or the defaults.
pub fn load_config(path: Option<&std::path::Path>) -> anyhow::Result<NameServerConfig> {
    let Some(path) = path else {
        return Ok(NameServerConfig::default());
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

pub fn run(args: NamesrvArgs) -> anyhow::Result<()> {
    let mut config = load_config(args.config.as_deref())?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    signals::runtime()?.block_on(async move {
        let listener = ferromq_net::listen::bind(config.listen)
            .with_context(|| format!("binding {}", config.listen))?;
        let tls = config.tls.clone();
        let ns = NameServer::start(config, listener).context("starting the name server")?;
        let (http, http_field) = match http::start_process(args.http_listen, &tls, args.http_tls) {
            Ok(started) => started,
            Err(e) => {
                ns.shutdown().await;
                return Err(e);
            }
        };
        let signal = signals::ShutdownSignal::install()?;
        println!("ferromq namesrv ready: {}{http_field}", ns.local_addr());
        let waited = signal.wait().await;
        if let Some(h) = http {
            h.shutdown().await;
        }
        ns.shutdown().await;
        waited
    })
}
