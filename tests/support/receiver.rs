//! A local webhook receiver that records what it gets (standing in for a remote endpoint), and
//! the alert settings and dispatch loop the alert tests share.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use groupstate::alert::Dispatcher;
use groupstate::config::{AlertsConfig, Secret, SinkConfig, SinkKind};
use groupstate::reconcile::Severity;
use hmac::Mac;
use tokio_util::sync::CancellationToken;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: String,
    /// What the receiver answered.
    pub status: StatusCode,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }
    pub fn key(&self) -> String {
        self.header("x-groupstate-idempotency-key").to_string()
    }
}

/// A webhook receiver on a local port that records every request and answers `answer`.
#[derive(Clone)]
pub struct Receiver {
    state: Arc<Mutex<(Vec<Received>, StatusCode)>>,
    /// How long each answer takes.
    delay_ms: Arc<std::sync::atomic::AtomicU64>,
    pub url: String,
}

impl Receiver {
    pub async fn start() -> Receiver {
        Receiver::on(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
    }

    pub fn on(listener: tokio::net::TcpListener) -> Receiver {
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let r = Receiver {
            state: Arc::new(Mutex::new((Vec::new(), StatusCode::OK))),
            delay_ms: Default::default(),
            url,
        };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(r.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        r
    }

    pub fn delay(&self, d: Duration) {
        self.delay_ms
            .store(d.as_millis() as u64, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn answer(&self, status: StatusCode) {
        self.state.lock().unwrap().1 = status;
    }

    pub fn requests(&self) -> Vec<Received> {
        self.state.lock().unwrap().0.clone()
    }

    /// The requests answered 200.
    pub fn accepted(&self) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|r| r.status == StatusCode::OK)
            .collect()
    }
}

async fn hook(
    State(r): State<Receiver>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, [(&'static str, &'static str); 1]) {
    let status = {
        let mut s = r.state.lock().unwrap();
        let status = s.1;
        s.0.push(Received {
            headers,
            body,
            status,
            at: Instant::now(),
        });
        status
    };
    let delay = r.delay_ms.load(std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    (status, [("retry-after", "0")])
}

/// Checks a webhook request as a receiver would: the signature over the timestamp and the raw
/// body, in constant time, and a timestamp fresh when the request arrived.
pub fn assert_signed_with(r: &Received, secret: &str) {
    let ts = r.header("x-groupstate-timestamp");
    let now = (std::time::SystemTime::now() - r.at.elapsed())
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let ts_n: u64 = ts.parse().expect("a unix timestamp");
    assert!(now.abs_diff(ts_n) < 60, "timestamp {ts} is not fresh");
    let sig = r
        .header("x-groupstate-signature")
        .strip_prefix("sha256=")
        .expect("sha256= prefix");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}.{}", r.body).as_bytes());
    mac.verify_slice(&hex::decode(sig).unwrap())
        .expect("a valid signature");
    assert_eq!(
        r.header("content-type"),
        "application/json",
        "{:?}",
        r.headers
    );
    assert_eq!(r.key(), r.json()["key"].as_str().unwrap());
    assert_eq!(
        r.header("x-groupstate-event"),
        r.json()["event"].as_str().unwrap()
    );
}

pub fn webhook_with(name: &str, url: &str, secret: &str) -> SinkConfig {
    SinkConfig {
        name: name.into(),
        kind: SinkKind::Webhook,
        url: Some(url.parse().expect("a sink URL")),
        secret: Some(Secret::new(secret)),
        secret_env: None,
        min_severity: Severity::Low,
        groups: Vec::new(),
    }
}

/// Fast retries, so a test sees many attempts in little time.
pub fn alerts_config(sinks: Vec<SinkConfig>) -> AlertsConfig {
    AlertsConfig {
        max_attempts: 1000,
        backoff_initial_ms: 20,
        backoff_max_ms: 100,
        timeout_ms: 2000,
        poll_interval_ms: 20,
        lease_ms: 5000,
        sinks,
    }
}

/// Steps `d` until `done`, for at most 30 s.
pub async fn dispatch_until(d: &Dispatcher, what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let cancel = CancellationToken::new();
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        d.step(&cancel).await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
