//! A cluster of separate `ferromq` processes for fault tests: a name server, 1 or 3 controllers and
//! the brokers of one group in controller mode, each a child process that can be SIGKILLed,
//! stopped and started again on its data. Every child is killed when its owner drops, also when a
//! test panics; the log (stderr) of every process is kept in the test's folder and its tail is
//! printed when a test fails, since the folder goes away with the test.
#![allow(dead_code)] // each test file uses a different part

pub mod group;
pub mod netns;
pub mod traffic;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Read as _};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ferromq_client::admin::{Admin, AdminConfig};

/// How long a process gets to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// One running `ferromq` child process.
pub struct Process {
    name: String,
    child: Option<Child>,
    /// The ready line it printed.
    pub ready: String,
    log: PathBuf,
}

impl Process {
    /// Spawns `command` (stderr appended to `log`) and waits for a stdout line starting with
    /// `ready_prefix`.
    pub fn spawn(name: &str, mut command: Command, ready_prefix: &str, log: &Path) -> Process {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("open the process log");
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(stderr)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        // The reader keeps draining stdout after the ready line, so a chatty child never blocks
        // on a full pipe; it ends when the child exits.
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let mut process = Process {
            name: name.to_owned(),
            child: Some(child),
            ready: String::new(),
            log: log.to_owned(),
        };
        match rx.recv_timeout(READY_TIMEOUT) {
            Ok(line) if line.starts_with(ready_prefix) => process.ready = line.trim().to_owned(),
            Ok(line) => panic!(
                "{name} did not start (stdout {line:?}); its log:\n{}",
                process.log_tail(40)
            ),
            Err(_) => panic!(
                "{name} printed no ready line within {READY_TIMEOUT:?}; its log:\n{}",
                process.log_tail(40)
            ),
        }
        process
    }

    /// The value of `key=` in the ready line.
    pub fn field(&self, key: &str) -> String {
        let prefix = format!("{key}=");
        self.ready
            .split_whitespace()
            .find_map(|w| w.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("no {key} in {:?}", self.ready))
            .to_owned()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGKILL, then reap it.
    pub fn kill9(mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("SIGKILL");
        child.wait().expect("wait");
    }

    /// SIGTERM, and check that it exits cleanly.
    pub fn stop(mut self) {
        let mut child = self.child.take().expect("running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success(), "kill -TERM {}", self.name);
        let exit = child.wait().expect("wait");
        assert!(
            exit.success(),
            "{} exited with {exit}; its log:\n{}",
            self.name,
            self.log_tail(40)
        );
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log, lines)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            if std::thread::panicking() {
                eprintln!("--- log of {} ---\n{}", self.name, self.log_tail(30));
            }
        }
    }
}

pub fn log_tail(path: &Path, lines: usize) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The `ferromq` binary with quiet-enough logs.
fn ferromq(netns: Option<&str>) -> Command {
    let mut c = match netns {
        Some(ns) => {
            // `ip netns exec` execs the command in place: the child's pid is the broker's.
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_ferromq")]);
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_ferromq")),
    };
    c.args(["--log-level", "info,openraft=warn"]);
    c
}

/// A free TCP port on `ip`, for servers whose address others must know before they start (the
/// controllers list each other). The port is released before use; nothing else on a test machine
/// races for it within milliseconds in practice.
pub fn free_port(ip: IpAddr) -> u16 {
    TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// `ferromq namesrv`.
pub struct NameServer {
    pub process: Process,
    pub addr: String,
}

impl NameServer {
    pub fn start(dir: &Path, ip: IpAddr) -> NameServer {
        let mut c = ferromq(None);
        c.args(["namesrv", "--listen", &SocketAddr::new(ip, 0).to_string()]);
        let process = Process::spawn(
            "namesrv",
            c,
            "ferromq namesrv ready: ",
            &dir.join("namesrv.log"),
        );
        let addr = process
            .ready
            .rsplit(' ')
            .next()
            .expect("address")
            .to_owned();
        NameServer { process, addr }
    }
}

/// The controller group: 1 (alone) or 3 (a Raft group on fixed ports, so members can restart).
pub struct Controllers {
    dir: PathBuf,
    /// (id, address) of every member.
    pub peers: Vec<(u64, SocketAddr)>,
    running: BTreeMap<u64, Process>,
}

impl Controllers {
    /// Starts `n` controllers on `ip` with data under `dir`; returns once each printed its ready
    /// line (a 3-member group elects its Raft leader right after).
    pub fn start(dir: &Path, ip: IpAddr, n: u64) -> Controllers {
        let peers = (1..=n)
            .map(|id| (id, SocketAddr::new(ip, free_port(ip))))
            .collect();
        let mut c = Controllers {
            dir: dir.to_owned(),
            peers,
            running: BTreeMap::new(),
        };
        for id in 1..=n {
            c.start_one(id);
        }
        c
    }

    /// `host:port` of every controller, as brokers configure them.
    pub fn addrs(&self) -> Vec<String> {
        self.peers.iter().map(|(_, a)| a.to_string()).collect()
    }

    /// Starts controller `id` (again), on its address and data.
    pub fn start_one(&mut self, id: u64) {
        assert!(!self.running.contains_key(&id), "controller {id} runs");
        let addr = self.peers.iter().find(|(i, _)| *i == id).expect("peer").1;
        let mut c = ferromq(None);
        c.args(["controller", "--id", &id.to_string()])
            .args(["--listen", &addr.to_string(), "--data"])
            .arg(self.dir.join(format!("controller-{id}")));
        if self.peers.len() > 1 {
            let peers: Vec<String> = self.peers.iter().map(|(i, a)| format!("{i}@{a}")).collect();
            c.args(["--peers", &peers.join(",")]);
        }
        let p = Process::spawn(
            &format!("controller-{id}"),
            c,
            "ferromq controller ready: ",
            &self.dir.join(format!("controller-{id}.log")),
        );
        self.running.insert(id, p);
    }

    pub fn kill9(&mut self, id: u64) {
        self.running.remove(&id).expect("running").kill9();
    }

    /// The group's view of broker group `group`, from whichever controller leads.
    pub async fn replica_info(&self, group: &str) -> Option<ferromq_controller::ReplicaInfo> {
        self.leader_and_info(group).await.map(|(_, info)| info)
    }

    /// The id of the controller that leads (it answered about `group`).
    pub async fn leader(&self, group: &str) -> Option<u64> {
        self.leader_and_info(group).await.map(|(id, _)| id)
    }

    async fn leader_and_info(&self, group: &str) -> Option<(u64, ferromq_controller::ReplicaInfo)> {
        let client = ferromq_controller::ControllerClient::with_options(
            self.addrs(),
            ferromq_controller::client::ClientOptions {
                request_timeout: Duration::from_millis(500),
                rounds: 1,
                round_pause: Duration::from_millis(10),
                ..ferromq_controller::client::ClientOptions::default()
            },
        );
        let info = client.replica_info(group).await.ok();
        let leader = client.leader();
        client.shutdown().await;
        let leader = leader?;
        let id = self
            .peers
            .iter()
            .find(|(_, a)| a.to_string() == leader)
            .map(|(id, _)| *id)?;
        Some((id, info?))
    }
}

/// What differs between the brokers of the test group.
#[derive(Debug, Clone)]
pub struct BrokerSpec {
    pub id: u64,
    /// `SYNC_MASTER` or `ASYNC_MASTER`: the kind of master it is when elected.
    pub role: &'static str,
    /// Address to listen on (port 0).
    pub listen: SocketAddr,
    /// Address to publish, when `listen` is a wildcard.
    pub advertised_ip: Option<IpAddr>,
    /// Network namespace to run in.
    pub netns: Option<String>,
}

impl BrokerSpec {
    /// A SYNC_MASTER-kind broker on loopback, in the root namespace.
    pub fn loopback(id: u64) -> Self {
        Self {
            id,
            role: "SYNC_MASTER",
            listen: SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0),
            advertised_ip: None,
            netns: None,
        }
    }
}

/// One broker of group [`GROUP`], in controller mode; restartable on its data.
pub struct Broker {
    pub spec: BrokerSpec,
    pub store_dir: PathBuf,
    config: PathBuf,
    log: PathBuf,
    process: Option<Process>,
    /// The address it advertised at its last start.
    pub addr: String,
}

/// The broker group every fault test uses.
pub const GROUP: &str = "broker-a";
pub const CLUSTER: &str = "FailoverCluster";
/// Small commit-log segments: the tests write a few MiB, and the byte comparison reads them all.
const SEGMENT_BYTES: u64 = 8 << 20;

impl Broker {
    /// Writes its config under `dir` and starts it.
    pub fn start(dir: &Path, spec: BrokerSpec, namesrv: &str, controllers: &[String]) -> Broker {
        let id = spec.id;
        let store_dir = dir.join(format!("broker-{id}"));
        let quote = |v: &[String]| {
            v.iter()
                .map(|a| format!("\"{a}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut toml = String::new();
        let _ = writeln!(toml, "cluster_name = \"{CLUSTER}\"");
        let _ = writeln!(toml, "broker_name = \"{GROUP}\"");
        let _ = writeln!(toml, "broker_id = {id}");
        let _ = writeln!(toml, "broker_role = \"{}\"", spec.role);
        let _ = writeln!(toml, "flush_disk_type = \"SYNC_FLUSH\"");
        let _ = writeln!(toml, "enable_controller_mode = true");
        let _ = writeln!(toml, "controller_addrs = [{}]", quote(controllers));
        let _ = writeln!(toml, "namesrv_addrs = [\"{namesrv}\"]");
        let _ = writeln!(toml, "listen = \"{}\"", spec.listen);
        if let Some(ip) = spec.advertised_ip {
            let _ = writeln!(toml, "advertised_ip = \"{ip}\"");
        }
        let _ = writeln!(toml, "ha_listen_port = 0");
        let _ = writeln!(toml, "store_root_dir = \"{}\"", store_dir.display());
        let _ = writeln!(toml, "commit_log_file_size = {SEGMENT_BYTES}");
        let _ = writeln!(toml, "max_message_size = {}", 1 << 20);
        // Routes follow a new master within a second of its election.
        let _ = writeln!(toml, "register_name_server_period_ms = 1000");
        // A replica that stopped acknowledging is out of sync quickly, instead of after 20 s.
        let _ = writeln!(toml, "ha_housekeeping_interval_ms = 2000");
        let _ = writeln!(toml, "sync_flush_timeout_ms = 2000");
        let config = dir.join(format!("broker-{id}.toml"));
        std::fs::write(&config, toml).expect("write the broker config");
        let mut b = Broker {
            log: dir.join(format!("broker-{id}.log")),
            spec,
            store_dir,
            config,
            process: None,
            addr: String::new(),
        };
        b.restart();
        b
    }

    /// Starts it (again) on its data; waits for its ready line.
    pub fn restart(&mut self) {
        assert!(self.process.is_none(), "broker {} runs", self.spec.id);
        let mut c = ferromq(self.spec.netns.as_deref());
        c.args(["broker", "--config"]).arg(&self.config);
        let p = Process::spawn(
            &format!("broker-{}", self.spec.id),
            c,
            "ferromq broker ready: ",
            &self.log,
        );
        self.addr = p.field("advertised");
        self.process = Some(p);
    }

    pub fn is_running(&self) -> bool {
        self.process.is_some()
    }

    pub fn kill9(&mut self) {
        self.process.take().expect("running").kill9();
    }

    /// SIGTERM and a clean exit.
    pub fn stop(&mut self) {
        self.process.take().expect("running").stop();
    }

    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log, lines)
    }

    /// Its commit log from offset 0 up to `end`: the segment files in offset order.
    pub fn commit_log_bytes(&self, end: u64) -> Vec<u8> {
        let dir = self.store_dir.join("commitlog");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .expect("commitlog dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.len() == 20 && n.bytes().all(|b| b.is_ascii_digit()))
            .collect();
        names.sort();
        let mut out = Vec::new();
        for n in names {
            let start: u64 = n.parse().expect("segment name");
            if start >= end {
                break;
            }
            assert_eq!(start, out.len() as u64, "segments are contiguous from 0");
            out.extend(std::fs::read(dir.join(&n)).expect("read segment"));
        }
        assert!(
            out.len() as u64 >= end,
            "broker {} holds {} bytes, fewer than {end}",
            self.spec.id,
            out.len()
        );
        out.truncate(usize::try_from(end).expect("fits"));
        out
    }
}

/// A broker's runtime info (GET_BROKER_RUNTIME_INFO), `None` when it does not answer.
pub async fn runtime_info(addr: &str, namesrv: &str) -> Option<BTreeMap<String, String>> {
    let admin = Admin::start(AdminConfig {
        namesrv_addrs: vec![namesrv.to_owned()],
        timeout: Duration::from_millis(1000),
        tls: None,
    })
    .await
    .ok()?;
    let info = admin.broker_runtime_info(addr).await.ok();
    admin.shutdown().await;
    info
}

/// Polls `check` every 20 ms until it returns `Some`, or panics naming `what` after `limit`.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
