//! A network namespace joined to the root namespace by two veth pairs: the *link*, which the test
//! cuts and heals (`ip link set <root end> down|up`), and the *probe* path, which stays up so that
//! the test can still reach a server in the namespace while it is cut off from everything else.
//! Both are removed when the guard drops, also when a test panics.

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;

pub struct Netns {
    pub name: String,
    link_root: String,
    probe_root: String,
    /// Root-side and namespace-side addresses of the link (a /30).
    pub link_root_ip: IpAddr,
    pub link_ns_ip: IpAddr,
    /// Namespace-side address of the probe path.
    pub probe_ns_ip: IpAddr,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running ip {args:?}: {e}"));
    assert!(
        out.status.success(),
        "ip {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

impl Netns {
    /// Creates the namespace and both pairs, with addresses from 10.x.y.0/29 picked from the pid.
    /// Needs root (CAP_NET_ADMIN) and iproute2. Without them: `None` (the caller says it did not
    /// run), unless `FERROMQ_REQUIRE_NETNS` is set, as CI sets it, where that is a failure.
    pub fn create() -> Option<Netns> {
        let probe = Command::new("ip").args(["netns", "list"]).output();
        let usable = matches!(&probe, Ok(o) if o.status.success());
        let root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        if !(usable && root) {
            let why = "the partition test needs `ip netns` from iproute2 and root (CAP_NET_ADMIN) \
                       to create network namespaces and veth pairs";
            assert!(
                std::env::var_os("FERROMQ_REQUIRE_NETNS").is_none(),
                "{why}; FERROMQ_REQUIRE_NETNS is set"
            );
            eprintln!("NOT RUN: {why}; run the tests as root (CI does) to include it");
            return None;
        }
        let pid = std::process::id();
        let name = format!("fmq{pid}");
        let octet = |v: u32| u8::try_from(v % 250).expect("below 250");
        let (b, c) = (octet(pid / 250) + 1, octet(pid));
        let addr = |d: u8| IpAddr::V4(Ipv4Addr::new(10, 200u8.wrapping_add(b % 50), c, d));
        let ns = Netns {
            link_root: format!("{name}a"),
            probe_root: format!("{name}c"),
            link_root_ip: addr(1),
            link_ns_ip: addr(2),
            probe_ns_ip: addr(6),
            name,
        };
        ip(&["netns", "add", &ns.name]);
        let pairs = [
            (&ns.link_root, format!("{}b", ns.name), addr(1), addr(2)),
            (&ns.probe_root, format!("{}d", ns.name), addr(5), addr(6)),
        ];
        for (root_end, ns_end, root_ip, ns_ip) in pairs {
            ip(&[
                "link", "add", root_end, "type", "veth", "peer", "name", &ns_end,
            ]);
            ip(&["link", "set", &ns_end, "netns", &ns.name]);
            ip(&["addr", "add", &format!("{root_ip}/30"), "dev", root_end]);
            ip(&["link", "set", root_end, "up"]);
            ns.exec_ip(&["addr", "add", &format!("{ns_ip}/30"), "dev", &ns_end]);
            ns.exec_ip(&["link", "set", &ns_end, "up"]);
        }
        ns.exec_ip(&["link", "set", "lo", "up"]);
        Some(ns)
    }

    fn exec_ip(&self, args: &[&str]) {
        let mut all = vec!["netns", "exec", &self.name, "ip"];
        all.extend_from_slice(args);
        ip(&all);
    }

    /// Cuts the link: nothing passes between the namespace and the root namespace's link address.
    pub fn cut(&self) {
        ip(&["link", "set", &self.link_root, "down"]);
    }

    pub fn heal(&self) {
        ip(&["link", "set", &self.link_root, "up"]);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting one end of a veth pair deletes both.
        for link in [&self.link_root, &self.probe_root] {
            let _ = Command::new("ip").args(["link", "del", link]).output();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}
