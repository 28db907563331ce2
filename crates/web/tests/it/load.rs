//! A bounded load test on loopback: 200 concurrent graddesc-size runs.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crate::http::{request, server};

#[test]
fn two_hundred_concurrent_train_requests() {
    const N: usize = 200;
    let _heavy = crate::http::HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    // Each request is the graddesc lab's: 29 rows × 100 epochs, with the error surface.
    let body = serde_json::json!({
        "optimizer": "momentum", "hyper": {"lr": 1e-4, "beta1": 0.9}, "epochs": 100, "contours": {"n": 48}
    })
    .to_string();
    let addr = server();
    let start = Arc::new(Barrier::new(N));
    let t0 = Instant::now();
    let handles: Vec<_> = (0..N)
        .map(|_| {
            let (body, start) = (body.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let t = Instant::now();
                let r = request(
                    addr,
                    "POST",
                    "/api/train",
                    Some(body.as_bytes()),
                    Duration::from_secs(60),
                );
                (r.map(|r| (r.status, r.body.len())), t.elapsed())
            })
        })
        .collect();
    let mut times = Vec::new();
    for h in handles {
        let (r, t) = h.join().expect("a client thread panicked");
        let (status, len) = r.expect("a request failed");
        assert_eq!(status, 200);
        assert!(len > 10_000, "a short answer: {len} bytes");
        times.push(t);
    }
    let wall = t0.elapsed();
    times.sort();
    let p50 = times[N / 2];
    let max = times[N - 1];
    println!(
        "load: {N} concurrent /api/train requests in {wall:?}; median {p50:?}, slowest {max:?}"
    );
    // Generous bounds for a shared 2-core machine running a debug build.
    assert!(
        max < Duration::from_secs(30),
        "the slowest request took {max:?}"
    );
    assert!(
        wall < Duration::from_secs(45),
        "the whole load took {wall:?}"
    );
}
