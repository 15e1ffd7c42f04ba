// SPDX-License-Identifier: MIT
// Rust's zmq crate (Debian's librust-zmq-dev; zmq-sys links libzmq).
//   shared  main starts a worker, then sends on its PAIR; the worker then
//           sends on the same socket, shared by reference (a Socket is
//           Send but not Sync: the wrapper below claims Sync, wrongly)
//   ok      the PAIR is moved into the worker, which alone uses it
use std::sync::mpsc;
use std::thread;

struct Shared(zmq::Socket);
unsafe impl Sync for Shared {}

#[inline(never)]
fn send_job(sock: &zmq::Socket) {
    sock.send("job", 0).expect("send"); // @send
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "ok".into());
    let ctx = zmq::Context::new();
    let tx = ctx.socket(zmq::PAIR).expect("socket");
    let rx = ctx.socket(zmq::PAIR).expect("socket");
    tx.bind("inproc://rust").expect("bind");
    rx.connect("inproc://rust").expect("connect");
    if mode == "shared" {
        let shared = Shared(tx);
        let (go, wait) = mpsc::channel::<()>();
        thread::scope(|s| {
            let sh = &shared;
            thread::Builder::new()
                .name("rust-worker".into())
                .spawn_scoped(s, move || {
                    wait.recv().expect("go");
                    send_job(&sh.0);
                })
                .expect("spawn");
            send_job(&shared.0);
            go.send(()).expect("go");
        });
        for _ in 0..2 {
            rx.recv_bytes(0).expect("recv");
        }
    } else {
        let worker = thread::Builder::new()
            .name("rust-worker".into())
            .spawn(move || {
                send_job(&tx);
                send_job(&tx);
            })
            .expect("spawn");
        for _ in 0..2 {
            rx.recv_bytes(0).expect("recv");
        }
        worker.join().expect("join");
    }
    println!("rust done");
}
