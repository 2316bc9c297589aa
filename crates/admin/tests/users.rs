//! The user and ACL commands with `--accessKey/--secretKey` against a broker with ACL on.

use clap::Parser;
use ferromq_admin::{execute, AdminArgs};
use ferromq_broker::config::auth::InitUser;
use ferromq_testkit::TestCluster;

async fn admin(
    cluster: &TestCluster,
    who: Option<(&str, &str)>,
    args: &[&str],
) -> Result<serde_json::Value, String> {
    let mut all = vec!["admin".to_owned(), "-n".to_owned(), cluster.namesrv()];
    if let Some((ak, sk)) = who {
        all.extend([
            "--accessKey".to_owned(),
            ak.to_owned(),
            "--secretKey".to_owned(),
            sk.to_owned(),
        ]);
    }
    all.extend(args.iter().map(|a| (*a).to_owned()));
    let parsed = AdminArgs::try_parse_from(all).map_err(|e| e.to_string())?;
    execute(parsed)
        .await
        .map(|r| r.json)
        .map_err(|f| f.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_acls_from_the_command_line() {
    let cluster = TestCluster::start_with(|c| {
        c.authentication_enabled = true;
        c.authorization_enabled = true;
        c.init_authentication_user = Some(InitUser {
            username: "root".into(),
            password: "root-secret".into(),
        });
    })
    .await;
    let b = cluster.broker_addr();
    let root = Some(("root", "root-secret"));

    let unsigned = admin(&cluster, None, &["listUser", "-b", &b]).await;
    let err = unsigned.expect_err("unsigned is refused");
    assert!(err.contains("not signed"), "{err}");

    admin(
        &cluster,
        root,
        &["createUser", "-b", &b, "-u", "alice", "-p", "alice-secret"],
    )
    .await
    .expect("createUser");
    admin(
        &cluster,
        root,
        &[
            "createAcl",
            "-b",
            &b,
            "-s",
            "User:alice",
            "-r",
            "Topic:orders,Group:g1",
            "-a",
            "Pub,Sub",
            "-d",
            "Allow",
            "-i",
            "127.0.0.1",
        ],
    )
    .await
    .expect("createAcl");
    let users = admin(&cluster, root, &["listUser", "-b", &b])
        .await
        .expect("listUser");
    let names: Vec<&str> = users["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["username"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["alice", "root"]);
    assert!(
        users.to_string().find("alice-secret").is_none(),
        "passwords are not printed"
    );

    let acl = admin(&cluster, root, &["getAcl", "-b", &b, "-s", "User:alice"])
        .await
        .expect("getAcl");
    let entries = &acl["acls"][0]["acl"]["policies"][0]["entries"];
    assert_eq!(entries[0]["resource"], "Topic:orders");
    assert_eq!(entries[1]["resource"], "Group:g1");
    assert_eq!(entries[0]["sourceIps"][0], "127.0.0.1");

    // alice may not administer users.
    let err = admin(
        &cluster,
        Some(("alice", "alice-secret")),
        &["listUser", "-b", &b],
    )
    .await
    .expect_err("alice has no Cluster List");
    assert!(err.contains("User:alice") && err.contains("List"), "{err}");

    let bad = admin(
        &cluster,
        root,
        &[
            "createAcl",
            "-b",
            &b,
            "-s",
            "User:alice",
            "-r",
            "Queue:x",
            "-a",
            "Pub",
            "-d",
            "Allow",
        ],
    )
    .await;
    assert!(bad.expect_err("bad resource").contains("unknown resource"));

    admin(&cluster, root, &["deleteUser", "-b", &b, "-u", "alice"])
        .await
        .expect("deleteUser");
    let err = admin(&cluster, root, &["getUser", "-b", &b, "-u", "alice"])
        .await
        .expect_err("gone");
    assert!(err.contains("alice is not found"), "{err}");
    cluster.shutdown().await;
}
