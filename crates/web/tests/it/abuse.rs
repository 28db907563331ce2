//! The server under abuse: heavy requests do not hold up light ones, work stops at its
//! time budget, unknown fields are refused by name, and connections that send nothing
//! (or stop part-way) are closed. Each test that needs other limits starts a server of
//! its own; the timings asserted are the server's own settings, not the machine's speed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use gradsheet_web::Limits;
use serde_json::json;

use crate::http::{post, request, start, Response, HEAVY};

fn post_to(addr: SocketAddr, path: &str, body: &serde_json::Value) -> Response {
    request(
        addr,
        "POST",
        path,
        Some(body.to_string().as_bytes()),
        Duration::from_secs(60),
    )
    .expect("request")
}

/// A stability map of `cells` runs of a billion epochs each: hours of work unless stopped.
fn endless_map(cells: usize) -> serde_json::Value {
    json!({"optimizer": "sgd", "epochs": 1_000_000_000u64,
           "x": {"name": "lr", "lo": 1e-5, "hi": 2e-5, "n": cells, "log": false}})
}

/// Limits that let a map run for hours, so that only the time budget stops it.
fn unbounded(budget: Duration) -> Limits {
    Limits {
        budget,
        max_heavy: 1,
        max_native_steps: usize::MAX,
        ..Limits::default()
    }
}

/// Four heavy maps are in flight (one computing on every core of the heavy lane, three
/// waiting for it); the page's light requests, a formula and a graddesc run with its
/// error surface, still answer, and before any of the heavy ones. The heavy ones answer
/// 503 at their budget.
#[test]
fn light_requests_answer_while_heavy_ones_run() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let budget = Duration::from_secs(4);
    let addr = start(unbounded(budget));
    let go = Arc::new(Barrier::new(5));
    let heavy: Vec<_> = (0..4)
        .map(|_| {
            let go = go.clone();
            thread::spawn(move || {
                go.wait();
                let r = post_to(addr, "/api/sweep", &endless_map(4));
                (r, Instant::now())
            })
        })
        .collect();
    go.wait();
    // Let the heavy requests arrive and the first start computing.
    thread::sleep(Duration::from_millis(500));
    let mut light_done = Vec::new();
    for (path, body) in [
        ("/api/formula", json!({"model": "c*MAX(a*x+b,0)+d"})),
        (
            "/api/train",
            json!({"hyper": {"lr": 1e-4}, "epochs": 100, "contours": {"n": 48}}),
        ),
        ("/api/formula", json!({"model": "a*x+b"})),
    ] {
        let t = Instant::now();
        let r = post_to(addr, path, &body);
        assert_eq!(
            r.status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        println!(
            "{path} with 4 heavy maps in flight: {:.1} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
        light_done.push(Instant::now());
    }
    let last_light = light_done.into_iter().max().expect("light requests");
    for h in heavy {
        let (r, done) = h.join().expect("a heavy client panicked");
        assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
        assert!(
            done > last_light,
            "a heavy request answered before the light ones"
        );
    }
}

/// A map that would run for hours answers 503 at its budget, and its work has stopped:
/// with one heavy slot, the next heavy request computes at once instead of waiting for it.
#[test]
fn work_past_its_budget_stops() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let budget = Duration::from_millis(1500);
    let addr = start(unbounded(budget));
    let t0 = Instant::now();
    let r = post_to(addr, "/api/sweep", &endless_map(1));
    let took = t0.elapsed();
    assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    let msg = v["error"].as_str().unwrap_or_default();
    assert!(
        msg.contains("took longer than the 1.5 seconds"),
        "the budget is named: {msg}"
    );
    assert!(took >= budget, "answered after {took:?}, before the budget");
    let r = post_to(
        addr,
        "/api/sweep",
        &json!({"optimizer": "sgd", "epochs": 3, "x": {"name": "lr", "lo": 1e-5, "hi": 1e-4, "n": 4}}),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// A field a request does not have is refused, named with its path, at every depth.
#[test]
fn unknown_fields_are_refused_by_name() {
    let cases = [
        ("/api/train", json!({"epcohs": 3}), "epcohs"),
        ("/api/train", json!({"hyper": {"bta1": 0.5}}), "hyper.bta1"),
        (
            "/api/train",
            json!({"data": {"sorce": "target"}}),
            "data.sorce",
        ),
        (
            "/api/train",
            json!({"contours": {"n": 10, "size": 3}}),
            "contours.size",
        ),
        (
            "/api/formula",
            json!({"model": "a*x", "los": "squared"}),
            "los",
        ),
        ("/api/check", json!({"claim": ["a", "x"]}), "claim"),
        (
            "/api/compare",
            json!({"runs": [{"optimizer": "sgd", "lr": 0.1}]}),
            "runs[0].lr",
        ),
        (
            "/api/sweep",
            json!({"x": {"name": "lr", "steps": 3}}),
            "x.steps",
        ),
        (
            "/api/sheet",
            json!({"sheet": "basic", "epochs": 3}),
            "epochs",
        ),
        ("/api/lab", json!({"name": "focal", "parms": {}}), "parms"),
    ];
    for (path, body, field) in cases {
        let r = post(path, &body);
        assert_eq!(r.status, 400, "{path} {body}");
        let v = r.json();
        assert_eq!(v["field"], field, "{path} {body}: {v}");
        let name = field.rsplit(['.', ']']).next().unwrap_or(field);
        let msg = v["error"].as_str().unwrap_or_default();
        assert!(msg.contains(&format!("unknown field `{name}`")), "{msg}");
    }
    // A value of the wrong type is located the same way.
    let v = post("/api/train", &json!({"hyper": {"lr": "fast"}})).json();
    assert_eq!(v["field"], "hyper.lr", "{v}");
}

/// Limits whose connection timeouts are short enough to wait out in a test.
fn impatient() -> Limits {
    Limits {
        read_timeout: Duration::from_millis(500),
        max_connections: 2,
        ..Limits::default()
    }
}

/// Reads until the server closes the connection; the time it took, and what was read.
fn until_closed(s: &mut TcpStream) -> (Duration, Vec<u8>) {
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let t0 = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (t0.elapsed(), got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (t0.elapsed(), got)
            }
            Err(e) => panic!(
                "the connection was not closed ({e}) after {:?}",
                t0.elapsed()
            ),
        }
    }
}

/// Connections that send nothing, send a head byte by byte for ever, stall in a body or
/// sit idle after an answer are closed after the read timeout; while two of them hold
/// the two connection slots, a third connection waits and is served once they close.
#[test]
fn idle_and_half_open_connections_are_closed() {
    let addr = start(impatient());
    let timeout = Duration::from_millis(500);

    // Silent, and a third connection queued behind it and the slow one below.
    let opened = Instant::now();
    let mut silent = TcpStream::connect(addr).expect("connect");
    // A head that never ends, one byte every 100 ms.
    let mut slow = TcpStream::connect(addr).expect("connect");
    let mut trickle = slow.try_clone().expect("clone");
    let writer = thread::spawn(move || -> std::io::Result<()> {
        trickle.write_all(b"GET / HTTP/1.1\r\nX-Slow: ")?;
        loop {
            thread::sleep(Duration::from_millis(100));
            trickle.write_all(b"a")?;
        }
    });
    thread::sleep(Duration::from_millis(100));
    let queued = request(
        addr,
        "GET",
        "/assets/style.css",
        None,
        Duration::from_secs(20),
    )
    .expect("the third connection is served");
    assert_eq!(queued.status, 200);
    assert!(
        opened.elapsed() >= timeout,
        "served after {:?}, before a slot was free",
        opened.elapsed()
    );
    until_closed(&mut silent);
    until_closed(&mut slow);
    assert!(writer.join().expect("writer").is_err());
    println!(
        "a silent and a trickling connection closed, a queued one served, within {:?}",
        opened.elapsed()
    );

    // A body that stops half-way: a 408 naming the wait, then the end.
    let mut stalled = TcpStream::connect(addr).expect("connect");
    stalled
        .write_all(
            b"POST /api/formula HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"model\":",
        )
        .expect("write");
    let (_, answer) = until_closed(&mut stalled);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive within"), "{answer}");

    // Kept alive after an answer, then idle.
    let mut kept = TcpStream::connect(addr).expect("connect");
    kept.write_all(b"GET /assets/favicon.svg HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let (idle, answer) = until_closed(&mut kept);
    assert!(answer.starts_with(b"HTTP/1.1 200"));
    assert!(idle >= timeout, "closed after {idle:?}, before the timeout");
}
