//! CPU cost of checking one request's signature: a SEND_MESSAGE_V2 shaped request (the header
//! fields a Java producer sends) with bodies of several sizes, verified many times in a row.
//! `cargo run --release -p ferromq-auth --example signature_cost`.

use std::time::Instant;

use ferromq_auth::signature::{verify, Credentials};
use ferromq_auth::{User, UserType};
use ferromq_remoting::RemotingCommand;

fn main() {
    let user = User::new("alice", "alice-secret-key-0123456789", UserType::Normal).expect("user");
    let creds = Credentials::new(&user.name, &user.password);
    for size in [128usize, 1024, 4096, 65536] {
        let mut cmd = RemotingCommand::request(310)
            .with_ext("a", "producer-group")
            .with_ext("b", "orders")
            .with_ext("c", "TBW102")
            .with_ext("d", "4")
            .with_ext("e", "0")
            .with_ext("f", "0")
            .with_ext("g", "1700000000000")
            .with_ext("h", "0")
            .with_ext(
                "i",
                "UNIQ_KEY\u{1}7F0000010001\u{2}WAIT\u{1}true\u{2}TAGS\u{1}tagA\u{2}",
            )
            .with_ext("j", "0")
            .with_ext("k", "false")
            .with_ext("m", "false")
            .with_body(vec![b'x'; size]);
        creds.sign(&mut cmd);
        let rounds = 200_000 / (1 + size / 4096);
        let start = Instant::now();
        for _ in 0..rounds {
            verify(std::hint::black_box(&cmd), &user).expect("verifies");
        }
        let per = start.elapsed().as_secs_f64() * 1e6 / rounds as f64;
        println!("body {size:>6} B: {per:.2} µs per verification ({rounds} rounds)");
    }
}
