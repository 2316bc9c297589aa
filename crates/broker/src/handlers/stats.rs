//! VIEW_BROKER_STATS_DATA (315): one statistic of one key over the last minute, hour and day.

use ferromq_remoting::body::admin::{BrokerStatsData, BrokerStatsItem};
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::headers::admin::ViewBrokerStatsDataRequestHeader;
use ferromq_remoting::RemotingCommand;

use super::{ok, Reply};
use crate::rolling::WindowTotals;
use crate::service::BrokerService;

fn item(w: WindowTotals) -> BrokerStatsItem {
    BrokerStatsItem {
        sum: i64::try_from(w.sum).unwrap_or(i64::MAX),
        tps: w.tps,
        avgpt: w.avgpt,
    }
}

pub(crate) fn view_stats(service: &BrokerService, req: &RemotingCommand) -> Reply {
    let h: ViewBrokerStatsDataRequestHeader = req.decode_header()?;
    let w = service.stats_data(&h.stats_name, &h.stats_key)?;
    let body = BrokerStatsData {
        stats_minute: item(w.minute),
        stats_hour: item(w.hour),
        stats_day: item(w.day),
    };
    Ok(ok(req).with_body(body.to_json()))
}
