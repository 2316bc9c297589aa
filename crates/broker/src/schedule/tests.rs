//! The send-path rewrite, case by case against the Java broker's rules.

use ferromq_model::properties::{self, keys};

use super::*;

fn schedule() -> Schedule {
    Schedule::new(&BrokerConfig {
        message_delay_level: "1s 5s 10s".into(),
        timer_max_delay_sec: 60,
        ..BrokerConfig::default()
    })
    .expect("valid")
}

const NOW: i64 = 1_700_000_000_000;

fn route(props: &[(&str, &str)]) -> Result<Option<Target>, BrokerError> {
    let p = properties::encode(props.iter().copied());
    reroute(&schedule(), "Orders", 3, 0, &p, &SendProps::scan(&p), NOW)
}

#[test]
fn plain_messages_are_untouched() {
    assert_eq!(route(&[("TAGS", "a")]).expect("ok"), None);
    assert_eq!(route(&[(keys::DELAY_TIME_LEVEL, "0")]).expect("ok"), None);
    assert_eq!(route(&[(keys::DELAY_TIME_LEVEL, "-2")]).expect("ok"), None);
}

#[test]
fn delay_level_parks_in_the_level_queue_and_clamps() {
    let t = route(&[("TAGS", "a"), (keys::DELAY_TIME_LEVEL, "2")])
        .expect("ok")
        .expect("parked");
    assert_eq!((t.topic.as_str(), t.queue_id), (SCHEDULE_TOPIC, 1));
    assert_eq!(
        properties::get(&t.properties, keys::REAL_TOPIC),
        Some("Orders")
    );
    assert_eq!(
        properties::get(&t.properties, keys::REAL_QUEUE_ID),
        Some("3")
    );
    assert_eq!(properties::get(&t.properties, "TAGS"), Some("a"));
    let t = route(&[(keys::DELAY_TIME_LEVEL, "99")])
        .expect("ok")
        .expect("parked");
    assert_eq!(t.queue_id, 2, "levels above the table use the last one");
    assert_eq!(
        properties::get(&t.properties, keys::DELAY_TIME_LEVEL),
        Some("3")
    );
}

#[test]
fn delay_level_wins_over_timer_properties() {
    let t = route(&[
        (keys::DELAY_TIME_LEVEL, "1"),
        (keys::TIMER_DELAY_MS, "5000"),
    ])
    .expect("ok")
    .expect("parked");
    assert_eq!(t.topic, SCHEDULE_TOPIC);
    assert_eq!(properties::get(&t.properties, keys::TIMER_DELAY_MS), None);
}

#[test]
fn timer_properties_park_with_the_delivery_time() {
    let at = (NOW + 30_000).to_string();
    for (key, value, want) in [
        (keys::TIMER_DELIVER_MS, at.as_str(), NOW + 30_000),
        (keys::TIMER_DELAY_MS, "2500", NOW + 2_500),
        (keys::TIMER_DELAY_SEC, "7", NOW + 7_000),
        (props::START_DELIVER_TIME, at.as_str(), NOW + 30_000),
    ] {
        let t = route(&[(key, value)]).expect("ok").expect("parked");
        assert_eq!((t.topic.as_str(), t.queue_id), (TIMER_TOPIC, 0), "{key}");
        let out = want.to_string();
        assert_eq!(
            properties::get(&t.properties, props::TIMER_OUT_MS),
            Some(out.as_str())
        );
        assert_eq!(
            properties::get(&t.properties, keys::REAL_QUEUE_ID),
            Some("3")
        );
    }
}

#[test]
fn timer_in_the_past_is_delivered_at_once_and_too_far_is_refused() {
    let past = (NOW - 1).to_string();
    assert_eq!(route(&[(keys::TIMER_DELIVER_MS, &past)]).expect("ok"), None);
    assert_eq!(route(&[(keys::TIMER_DELAY_MS, "0")]).expect("ok"), None);
    let err = route(&[(keys::TIMER_DELAY_SEC, "61")]).expect_err("beyond max");
    assert!(matches!(err, BrokerError::MessageIllegal(_)), "{err}");
    let err = route(&[(keys::TIMER_DELAY_MS, "soon")]).expect_err("not a number");
    assert!(matches!(err, BrokerError::MessageIllegal(_)), "{err}");
}

#[test]
fn disabled_timers_are_refused_and_halves_untouched() {
    let off = Schedule::new(&BrokerConfig {
        timer_wheel_enable: false,
        ..BrokerConfig::default()
    })
    .expect("valid");
    let p = properties::encode([(keys::TIMER_DELAY_MS, "1000")]);
    let err = reroute(&off, "T", 0, 0, &p, &SendProps::scan(&p), NOW).expect_err("disabled");
    assert!(matches!(err, BrokerError::Unsupported(_)), "{err}");
    let half = properties::encode([(keys::DELAY_TIME_LEVEL, "1")]);
    assert_eq!(
        reroute(&off, "T", 0, 0x4, &half, &SendProps::scan(&half), NOW).expect("ok"),
        None
    );
}

#[test]
fn broker_conf_keys_and_validation() {
    let c = crate::config::java::parse(
        "messageDelayLevel=100ms 1s 2m\ntimerWheelEnable=false\ntimerPrecisionMs=100\n\
         timerRollWindowSlot=600\ntimerMaxDelaySec=3600\ntimerFlushIntervalMs=50\n\
         mappedFileSizeTimerLog=4096\n",
        "broker.conf",
    )
    .expect("parses");
    assert_eq!(c.message_delay_level, "100ms 1s 2m");
    assert!(!c.timer_wheel_enable);
    assert_eq!(
        (
            c.timer_precision_ms,
            c.timer_roll_window_slot,
            c.timer_max_delay_sec
        ),
        (100, 600, 3600)
    );
    assert_eq!(
        (c.timer_flush_interval_ms, c.mapped_file_size_timer_log),
        (50, 4096)
    );
    assert_eq!(c.validate(), Ok(()));
    let bad = BrokerConfig {
        message_delay_level: "1s 5q".into(),
        ..BrokerConfig::default()
    };
    assert!(bad.validate().is_err());
    let bad = BrokerConfig {
        timer_precision_ms: 0,
        ..BrokerConfig::default()
    };
    assert!(bad.validate().is_err());
}
