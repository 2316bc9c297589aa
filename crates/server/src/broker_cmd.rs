//! `ferromq broker`: one broker until SIGINT/SIGTERM.

use anyhow::Context;
use ferromq_broker::{Broker, BrokerConfig};

use crate::cli::BrokerArgs;
use crate::signals;

/// Reads the broker config (broker.conf or TOML), or the defaults.
pub fn load_config(path: Option<&std::path::Path>) -> anyhow::Result<BrokerConfig> {
    match path {
        None => Ok(BrokerConfig::default()),
        Some(p) => BrokerConfig::load(p).with_context(|| format!("loading {}", p.display())),
    }
}

pub fn run(args: BrokerArgs) -> anyhow::Result<()> {
    let mut config = load_config(args.config.as_deref())?;
    if let Some(addrs) = &args.namesrv {
        config.namesrv_addrs = addrs
            .split(';')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect();
    }
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    config.validate().context("invalid broker configuration")?;
    if config.namesrv_addrs.is_empty() {
        tracing::warn!(
            "no name server configured (namesrvAddr / -n): clients will not find this broker"
        );
    }
    tracing::info!(?config, "effective broker configuration");
    signals::runtime()?.block_on(async move {
        let listener = ferromq_net::listen::bind(config.listen)
            .with_context(|| format!("binding {}", config.listen))?;
        // Under a controller a former master may restart in place, log cut; each start prints
        // its ready line.
        Broker::run(
            config,
            listener,
            async {
                if let Err(e) = signals::shutdown_signal().await {
                    tracing::warn!(error = %e, "waiting for a signal failed; stopping");
                }
            },
            |broker| {
                println!(
                    "ferromq broker ready: listen={} advertised={}",
                    broker.local_addr(),
                    broker.advertised_addr()
                );
            },
        )
        .await
        .context("running the broker")?;
        Ok(())
    })
}
