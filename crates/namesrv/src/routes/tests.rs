//! Route-table rules, table-driven where it helps.

use super::*;

const T120: Duration = Duration::from_secs(120);

fn topic(name: &str, queues: i32, perm_bits: i32) -> TopicConfig {
    TopicConfig {
        topic_name: name.to_owned(),
        read_queue_nums: queues,
        write_queue_nums: queues,
        perm: perm_bits,
        ..TopicConfig::default()
    }
}

fn wrapper(counter: i64, topics: &[TopicConfig]) -> TopicConfigSerializeWrapper {
    TopicConfigSerializeWrapper {
        data_version: DataVersion {
            counter,
            state_version: 0,
            timestamp: 1_700_000_000_000,
        },
        topic_config_table: topics
            .iter()
            .map(|t| (t.topic_name.clone(), t.clone()))
            .collect(),
        ..TopicConfigSerializeWrapper::default()
    }
}

fn reg(name: &str, id: i64, addr: &str, topics: TopicConfigSerializeWrapper) -> Registration {
    Registration {
        cluster: "DefaultCluster".into(),
        broker_addr: addr.into(),
        broker_name: name.into(),
        broker_id: id,
        ha_server_addr: format!("{addr}-ha"),
        heartbeat_timeout: T120,
        enable_acting_master: Some(false),
        zone_name: None,
        grpc_addr: None,
        topics,
        conn: None,
    }
}

fn two_topics() -> TopicConfigSerializeWrapper {
    wrapper(1, &[topic("TopicA", 4, 6), topic("TBW102", 8, 7)])
}

#[test]
fn master_registration_publishes_its_topics() {
    let mut t = RouteTable::new();
    let now = Instant::now();
    let r = t
        .register(reg("broker-a", 0, "10.0.0.1:10911", two_topics()), now)
        .expect("registers");
    assert_eq!(r, Registered::default());
    let route = t.route("TopicA").expect("routed");
    assert_eq!(route.queue_datas.len(), 1);
    let q = &route.queue_datas[0];
    assert_eq!(
        (
            q.broker_name.as_str(),
            q.read_queue_nums,
            q.write_queue_nums,
            q.perm
        ),
        ("broker-a", 4, 4, 6)
    );
    assert_eq!(route.broker_datas[0].master_addr(), Some("10.0.0.1:10911"));
    assert_eq!(route.broker_datas[0].cluster, "DefaultCluster");
    assert_eq!(t.route("TBW102").expect("routed").queue_datas[0].perm, 7);
    assert!(t.route("Unknown").is_none());
    assert_eq!(t.topic_list().topic_list, ["TBW102", "TopicA"]);
}

#[test]
fn a_slave_learns_its_masters_addresses() {
    let mut t = RouteTable::new();
    let now = Instant::now();
    let slave_only = wrapper(1, &[topic("SlaveOnly", 4, 6), topic("X", 1, 6)]);
    // A slave before its master: no master to report.
    let r = t
        .register(
            reg("broker-a", 1, "10.0.0.2:10911", slave_only.clone()),
            now,
        )
        .expect("registers");
    assert_eq!(r, Registered::default());
    t.register(reg("broker-a", 0, "10.0.0.1:10911", two_topics()), now)
        .expect("registers");
    let r = t
        .register(reg("broker-a", 1, "10.0.0.2:10911", slave_only), now)
        .expect("registers");
    assert_eq!(r.master_addr.as_deref(), Some("10.0.0.1:10911"));
    assert_eq!(r.ha_server_addr.as_deref(), Some("10.0.0.1:10911-ha"));
    let route = t.route("TopicA").expect("routed");
    assert_eq!(route.broker_datas[0].broker_addrs.len(), 2);
    // The slave registered first as the smallest id of its group (prime slave), so its topics were
    // published then; the master's later registration does not remove them (as in Java).
    assert!(t.route("SlaveOnly").is_some());
}

#[test]
fn topics_are_reread_only_when_the_data_version_changes() {
    let mut t = RouteTable::new();
    let now = Instant::now();
    t.register(
        reg(
            "broker-a",
            0,
            "a:1",
            wrapper(1, &[topic("T", 4, 6), topic("U", 1, 6)]),
        ),
        now,
    )
    .expect("registers");
    // Same version, different content: a heartbeat, content ignored.
    t.register(
        reg(
            "broker-a",
            0,
            "a:1",
            wrapper(1, &[topic("T", 8, 6), topic("U", 1, 6)]),
        ),
        now,
    )
    .expect("registers");
    assert_eq!(
        t.route("T").expect("routed").queue_datas[0].write_queue_nums,
        4
    );
    // New version: re-read.
    t.register(
        reg(
            "broker-a",
            0,
            "a:1",
            wrapper(2, &[topic("T", 8, 6), topic("U", 1, 6)]),
        ),
        now,
    )
    .expect("registers");
    assert_eq!(
        t.route("T").expect("routed").queue_datas[0].write_queue_nums,
        8
    );
}

#[test]
fn a_single_topic_registration_needs_a_full_one_first() {
    let mut t = RouteTable::new();
    let now = Instant::now();
    let err = t
        .register(
            reg("broker-a", 0, "a:1", wrapper(1, &[topic("T", 4, 6)])),
            now,
        )
        .expect_err("refused");
    assert!(matches!(err, RegisterError::NotRegisteredYet { .. }));
    assert!(t.route("T").is_none());
    t.register(reg("broker-a", 0, "a:1", two_topics()), now)
        .expect("registers");
    t.register(
        reg("broker-a", 0, "a:1", wrapper(2, &[topic("T", 4, 6)])),
        now,
    )
    .expect("incremental registration accepted now");
    assert!(t.route("T").is_some());
}

#[test]
fn two_brokers_of_one_cluster_share_a_topic() {
    let mut t = RouteTable::new();
    let now = Instant::now();
    t.register(reg("broker-a", 0, "a:1", two_topics()), now)
        .expect("a");
    t.register(reg("broker-b", 0, "b:1", two_topics()), now)
        .expect("b");
    let route = t.route("TopicA").expect("routed");
    let names: Vec<_> = route
        .queue_datas
        .iter()
        .map(|q| q.broker_name.as_str())
        .collect();
    assert_eq!(names, ["broker-a", "broker-b"]);
    assert_eq!(route.broker_datas.len(), 2);
    let info = t.cluster_info();
    assert_eq!(
        info.cluster_addr_table["DefaultCluster"]
            .iter()
            .collect::<Vec<_>>(),
        ["broker-a", "broker-b"]
    );
    assert_eq!(
        t.topics_by_cluster("DefaultCluster").topic_list,
        ["TBW102", "TopicA"]
    );
    assert!(t.topics_by_cluster("Other").topic_list.is_empty());
    let system = t.system_topic_list();
    assert_eq!(
        system.topic_list,
        ["DefaultCluster", "broker-a", "broker-b"]
    );
    assert!(system.broker_addr.is_some());
}

#[test]
fn unregistering_the_last_address_removes_the_group_and_its_queues() {
    let mut t = RouteTable::new();
    let now = Instant::now();
    t.register(reg("broker-a", 0, "a:1", two_topics()), now)
        .expect("a");
    t.register(reg("broker-a", 1, "a:2", two_topics()), now)
        .expect("a slave");
    t.register(reg("broker-b", 0, "b:1", two_topics()), now)
        .expect("b");
    let u = |id: i64, addr: &str| Unregistration {
        cluster: "DefaultCluster".into(),
        broker_addr: addr.into(),
        broker_name: "broker-a".into(),
        broker_id: id,
    };
    t.unregister(&u(0, "a:1"));
    let route = t.route("TopicA").expect("still routed");
    assert_eq!(route.queue_datas.len(), 2, "the slave keeps broker-a alive");
    t.unregister(&u(1, "a:2"));
    let route = t.route("TopicA").expect("broker-b left");
    assert_eq!(route.queue_datas.len(), 1);
    assert_eq!(route.queue_datas[0].broker_name, "broker-b");
    assert!(!t.cluster_info().broker_addr_table.contains_key("broker-a"));
}

#[test]
fn expiry_uses_each_brokers_timeout() {
    let mut t = RouteTable::new();
    let start = Instant::now();
    t.register(reg("broker-a", 0, "a:1", two_topics()), start)
        .expect("a");
    let mut short = reg("broker-b", 0, "b:1", two_topics());
    short.heartbeat_timeout = Duration::from_secs(10);
    t.register(short, start).expect("b");

    assert!(
        t.expire(start + Duration::from_secs(10)).is_empty(),
        "not strictly older yet"
    );
    let gone = t.expire(start + Duration::from_secs(11));
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].0.addr, "b:1");
    assert_eq!(t.route("TopicA").expect("a left").queue_datas.len(), 1);

    assert!(t.touch("DefaultCluster", "a:1", start + Duration::from_secs(100)));
    assert!(t.expire(start + Duration::from_secs(200)).is_empty());
    assert_eq!(t.expire(start + Duration::from_secs(221)).len(), 1);
    assert!(t.route("TopicA").is_none());
    assert!(t.cluster_info().cluster_addr_table.is_empty());
}

#[test]
fn delete_and_register_topic() {
    let mut t = RouteTable::new();
    let now = Instant::now();
    t.register(reg("broker-a", 0, "a:1", two_topics()), now)
        .expect("a");
    let mut other = reg("broker-c", 0, "c:1", two_topics());
    other.cluster = "Other".into();
    t.register(other, now).expect("c");

    t.delete_topic("TopicA", Some("Other"));
    let route = t.route("TopicA").expect("cluster deletion is partial");
    assert_eq!(route.queue_datas.len(), 1);
    t.delete_topic("TopicA", None);
    assert!(t.route("TopicA").is_none());

    let q = |b: &str| QueueData {
        broker_name: b.into(),
        perm: 6,
        read_queue_nums: 2,
        topic_sys_flag: FLAG_UNIT,
        write_queue_nums: 2,
    };
    assert!(!t.register_topic("New", vec![q("broker-a"), q("nobody")]));
    assert!(t.route("New").is_none());
    assert!(t.register_topic("New", vec![q("broker-a")]));
    assert_eq!(
        t.route("New").expect("routed").queue_datas[0].read_queue_nums,
        2
    );
    assert_eq!(
        t.topics_with_flag(|f| f & FLAG_UNIT != 0).topic_list,
        ["New"]
    );
}

#[test]
fn write_permission_can_be_wiped_and_restored() {
    let mut t = RouteTable::new();
    t.register(reg("broker-a", 0, "a:1", two_topics()), Instant::now())
        .expect("a");
    assert_eq!(t.wipe_write_perm("broker-a"), 2);
    assert_eq!(
        t.route("TopicA").expect("r").queue_datas[0].perm,
        perm::READ
    );
    assert_eq!(
        t.route("TBW102").expect("r").queue_datas[0].perm,
        perm::READ | perm::INHERIT
    );
    assert_eq!(t.add_write_perm("broker-a"), 2);
    assert_eq!(t.route("TopicA").expect("r").queue_datas[0].perm, 6);
    assert_eq!(t.wipe_write_perm("nobody"), 0);
}

#[test]
fn an_address_moving_to_another_id_keeps_one_entry() {
    let mut t = RouteTable::new();
    let now = Instant::now();
    t.register(reg("broker-a", 1, "a:2", two_topics()), now)
        .expect("slave");
    // The same process comes back as master.
    t.register(
        reg(
            "broker-a",
            0,
            "a:2",
            wrapper(2, &[topic("TopicA", 4, 6), topic("Z", 1, 6)]),
        ),
        now,
    )
    .expect("master");
    let info = t.cluster_info();
    let addrs = &info.broker_addr_table["broker-a"].broker_addrs;
    assert_eq!(addrs.len(), 1);
    assert_eq!(addrs.get(&0).map(String::as_str), Some("a:2"));
}

#[test]
fn acting_master_presents_the_smallest_slave_as_master() {
    let mut t = RouteTable::new();
    let now = Instant::now();
    let mut master = reg("broker-a", 0, "a:1", two_topics());
    master.enable_acting_master = Some(true);
    let mut slave = reg("broker-a", 1, "a:2", two_topics());
    slave.enable_acting_master = Some(true);
    t.register(master, now).expect("master");
    t.register(slave, now).expect("slave");
    t.unregister(&Unregistration {
        cluster: "DefaultCluster".into(),
        broker_addr: "a:1".into(),
        broker_name: "broker-a".into(),
        broker_id: 0,
    });
    let route = t.route("TopicA").expect("still routed");
    assert_eq!(route.broker_datas[0].master_addr(), Some("a:2"));
    assert_eq!(
        route.queue_datas[0].perm & perm::WRITE,
        0,
        "read-only without a master"
    );
}

#[test]
fn liveness_records_the_registered_data_version() {
    let mut t = RouteTable::new();
    t.register(reg("broker-a", 0, "a:1", two_topics()), Instant::now())
        .expect("a");
    let live = t.live("DefaultCluster", "a:1").expect("live");
    assert_eq!(live.data_version.counter, 1);
    assert_eq!(live.ha_server_addr, "a:1-ha");
    assert_eq!(
        t.data_version("DefaultCluster", "a:1").map(|v| v.counter),
        Some(1)
    );
    assert!(!t.touch("DefaultCluster", "nobody:1", Instant::now()));
}

#[test]
fn routes_name_the_grpc_endpoint_each_address_registered_with() {
    let mut t = RouteTable::new();
    let now = Instant::now();
    let with_grpc = |name: &str, id: i64, addr: &str, grpc: Option<&str>| Registration {
        grpc_addr: grpc.map(str::to_owned),
        ..reg(name, id, addr, two_topics())
    };
    for r in [
        with_grpc("broker-a", 0, "10.0.0.1:10911", Some("10.0.0.1:8081")),
        with_grpc("broker-a", 1, "10.0.0.2:10911", Some("10.0.0.2:8081")),
        with_grpc("broker-b", 0, "10.0.0.3:10911", None),
    ] {
        t.register(r, now).expect("registers");
    }
    let route = t.route("TopicA").expect("routed");
    let grpc = |name: &str| {
        route
            .broker_datas
            .iter()
            .find(|b| b.broker_name == name)
            .map(|b| b.grpc_addrs.clone())
            .expect("broker listed")
    };
    assert_eq!(
        grpc("broker-a"),
        BTreeMap::from([
            (0, "10.0.0.1:8081".to_owned()),
            (1, "10.0.0.2:8081".to_owned())
        ])
    );
    assert!(grpc("broker-b").is_empty());
    // Re-registering without the endpoint withdraws it.
    t.register(with_grpc("broker-a", 1, "10.0.0.2:10911", None), now)
        .expect("registers");
    let route = t.route("TopicA").expect("routed");
    assert_eq!(
        route.broker_datas[0].grpc_addrs,
        BTreeMap::from([(0, "10.0.0.1:8081".to_owned())])
    );
}
