//! The public status page in a real browser: anvil with the real Safe contracts, a group whose
//! Safe gains an owner nobody declared, the API on a real socket, and headless Chromium driven
//! over the W3C WebDriver protocol by ChromeDriver. The test reads what a person would see,
//! checks the same words are in the HTML as served (so the page needs no JavaScript), and keeps
//! a screenshot in `target/test-artifacts/`. The group also declares a real OpenZeppelin
//! governor, its timelock and a token's roles: their observed side reads in the declared form
//! (decimals, periods in time, holders under the declared rows, roles by name). On SQLite and
//! on PostgreSQL.

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use alloy::primitives::{Address, U256};
use base64::Engine;
use devnet::{
    self, Devnet, DevnetOptions, GovernanceContracts, GovernanceParams, SafeContracts, SafeVersion,
};
use groupstate::manifest::Manifest;
use serde_json::{json, Value};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const EXPLORER: &str = "https://explorer.example";

/// ChromeDriver as a child process, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start(http: &reqwest::Client) -> Driver {
        assert!(
            std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
            "{CHROMEDRIVER} or {CHROMIUM} is missing: run `scripts/install-browser` (installs the \
             Debian packages chromium and chromium-driver)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http.get(format!("{}/status", driver.url)).send().await {
                let body: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
                if body["value"]["ready"] == true {
                    return driver;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// One WebDriver call: the answer's `value`, or a panic with the driver's error.
async fn webdriver(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> Value {
    let mut request = http.request(method, &url);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body).unwrap());
    }
    let response = request.send().await.expect("webdriver request");
    let status = response.status();
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert!(status.is_success(), "webdriver {url}: {status} {body}");
    body["value"].clone()
}

/// Loads `url` in headless Chromium: the page's visible text and a PNG screenshot.
async fn browse(http: &reqwest::Client, url: &str) -> (String, Vec<u8>) {
    let (answers, png) = browse_and_run(http, url, &["return document.body.innerText"]).await;
    (answers[0].as_str().unwrap().to_string(), png)
}

/// `target/test-artifacts/NAME` (under `CARGO_TARGET_DIR` when set), directory created.
fn artifact(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The text of an HTML page as served: tags dropped, entities read.
fn visible_text(html: &str) -> String {
    let body = html.split_once("<body>").map_or(html, |(_, b)| b);
    let mut text = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// An address as the page shortens it: `0x1234…abcd`.
fn short(a: Address) -> String {
    let a = a.to_checksum(None);
    format!("{}…{}", &a[..6], &a[38..])
}

/// What a person must see on the page, in the browser's text and in the served HTML alike.
fn check_visible(
    text: &str,
    intruder: Address,
    g: &GovernanceContracts,
    payment_tx: &str,
    what: &str,
) {
    for expected in [
        "River Guild",
        "Fund the river network's shared tooling.",
        "coordination",
        "✗ 1 disagreement",
        &format!("{} ✗ differs (safe.owner_undeclared)", short(intruder)),
        // The governance side, observed in the declared form: periods in time at the chain's
        // one-second blocks, the delay in days and seconds, roles by name.
        "10 blocks ≈ 10 s",
        "2 s",
        "proposers (PROPOSER_ROLE)",
        "executors (EXECUTOR_ROLE)",
        "cancellers (CANCELLER_ROLE)",
        "MINTER_ROLE",
        "DEFAULT_ADMIN_ROLE",
        &short(g.governor),
        "Open divergences",
        "safe.owner_undeclared",
        "critical",
        "Recent decisions",
        "Safe execution",
        &payment_tx[..10],
        "Data fresh to block",
        "chain head",
        "last follower step",
        "Page generated",
    ] {
        assert!(
            text.contains(expected),
            "{what}: `{expected}` is not on the page:\n{text}"
        );
    }
    // No value in the structure is written in hex but addresses (shortened, so not hex) and
    // hashes: no `0x1` or `0xa` for a governor's settings.
    let structure = text
        .split("Declared beside observed")
        .nth(1)
        .and_then(|s| s.split("Open divergences").next())
        .unwrap_or_else(|| panic!("{what}: no structure section in\n{text}"));
    for token in structure.split_whitespace() {
        let hex = token
            .strip_prefix("0x")
            .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(
            !hex || token.len() > 2 + 16,
            "{what}: `{token}` is a raw hex value in\n{structure}"
        );
    }
}

/// The served HTML's table row of a field (its `<tr>`), where the row's header starts with
/// `header`.
fn row<'a>(html: &'a str, header: &str) -> &'a str {
    let start = html
        .find(&format!("<th class=\"mono\">{header}"))
        .unwrap_or_else(|| panic!("no row {header} in\n{html}"));
    let end = html[start..].find("</tr>").unwrap() + start;
    &html[start..end]
}

async fn status_page(backend: support::Backend) {
    // A Safe of three owners, threshold 2, declared as such; it pays someone, then gains an
    // owner nobody declared.
    let devnet = Devnet::start(DevnetOptions::default()).await.unwrap();
    let contracts = SafeContracts::deploy(&devnet).await.unwrap();
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    let keys = devnet::signers(4);
    let owners: Vec<Address> = keys[..3].iter().map(|k| k.address()).collect();
    let safe = contracts
        .create_safe(&devnet, SafeVersion::V141L2, &owners, 2, 1)
        .await
        .unwrap();
    devnet::fund(&devnet, safe, U256::from(10u64.pow(18)))
        .await
        .unwrap();
    // A governor, its timelock (its own only admin) and a token, wired as declared.
    let g = GovernanceContracts::deploy(&devnet, GovernanceParams::default())
        .await
        .unwrap();
    let pay = devnet::exec_transaction(
        &devnet,
        safe,
        Address::repeat_byte(0x77),
        U256::from(1000),
        Default::default(),
        0,
        &[&keys[0], &keys[1]],
    )
    .await
    .unwrap();
    let intruder = keys[3].address();
    devnet::add_owner_with_threshold(&devnet, safe, intruder, 2, &[&keys[0], &keys[1]])
        .await
        .unwrap();

    let yaml = support::safe_manifest("river-guild", 0, &[(safe, owners, 2)])
        .replace("name: Test river-guild", "name: River Guild")
        .replace(
            "purpose: Testing.",
            "purpose: \"Fund the river network's shared tooling.\"",
        )
        + &format!(
            "governance:\n  governors:\n    - {{ address: \"{gov}\", timelock: \"{tl}\", voting_delay: 1, voting_period: 10, proposal_threshold: \"0\", quorum_numerator: 4 }}\n  timelocks:\n    - {{ address: \"{tl}\", min_delay: 2, proposers: [\"{gov}\"], executors: [\"{zero}\"], cancellers: [\"{gov}\"] }}\nroles:\n  - contract: \"{token}\"\n    members: {{ DEFAULT_ADMIN_ROLE: [\"{dep}\"], MINTER_ROLE: [\"{dep}\"] }}\n",
            gov = g.governor,
            tl = g.timelock,
            dep = g.deployer,
            token = g.token,
            zero = Address::ZERO,
        );
    store
        .add_group(&Manifest::parse(&yaml).unwrap())
        .await
        .unwrap();

    let metrics = groupstate::metrics::Metrics::new();
    let follower = support::follower(&store, &devnet.rpc_url(), devnet.chain_id())
        .with_metrics(metrics.chain("local", 10));
    support::sync(&follower).await;

    // The page's bounded read of recent decisions agrees with the whole history's newest.
    let all = groupstate::decisions::decisions(&store, "river-guild")
        .await
        .unwrap();
    assert_eq!(all.len(), 2, "the payment and the owner change: {all:?}");
    for n in 0..=3 {
        let recent = groupstate::decisions::recent_decisions(&store, "river-guild", n)
            .await
            .unwrap();
        let newest: Vec<_> = all.iter().rev().take(n).cloned().collect();
        assert_eq!(recent, newest, "the {n} newest decisions");
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let state = groupstate::api::ApiState {
        metrics,
        explorers: [("local".to_string(), EXPLORER.to_string())].into(),
        block_times: [("local".to_string(), Duration::from_secs(1))].into(),
        ..groupstate::api::ApiState::new(store.clone(), vec!["local".into()])
    };
    let server = tokio::spawn(groupstate::api::serve(listener, state, cancel.clone()));
    let http = reqwest::Client::new();
    // The follower has stepped and is at the head: ready, and the figures are exported.
    let ready = http
        .get(format!("http://{addr}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready["chains"][0]["lag"], 0, "{ready}");
    let exported = http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let head = devnet.head().await.unwrap() as f64;
    let exported = support::prom::Exposition::parse(&exported);
    let local = [("chain", "local")];
    for (name, labels, value) in [
        ("groupstate_chain_head_block", &local[..], head),
        ("groupstate_chain_indexed_block", &local, head),
        ("groupstate_chain_lag_blocks", &local, 0.0),
        ("groupstate_ready", &local, 1.0),
        (
            "groupstate_divergences_open",
            &[("severity", "critical")],
            1.0,
        ),
    ] {
        assert_eq!(exported.value(name, labels), Some(value), "{name}");
    }
    assert!(exported.value("groupstate_records_total", &local).is_some());
    let page_url = format!("http://{addr}/groups/river-guild");
    let payment_tx = pay.transaction_hash.to_string();

    // Without a browser, so without JavaScript: the served HTML says it all.
    let response = http.get(&page_url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    assert_eq!(
        header("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(header("cache-control").as_deref(), Some("no-cache"));
    let html = response.text().await.unwrap();
    let html_text = visible_text(&html);
    check_visible(&html_text, intruder, &g, &payment_tx, "served HTML");
    // The timelock's PROPOSER_ROLE holders stand under the declared proposers, both sides the
    // governor, shortened, the full address on hover and linked to the explorer.
    let governor = g.governor.to_checksum(None);
    let proposers = row(&html, "proposers");
    assert!(
        proposers.starts_with(
            "<th class=\"mono\">proposers <span class=\"muted role\">(PROPOSER_ROLE)</span>"
        ),
        "{proposers}"
    );
    let link = format!(
        "<a class=\"mono address\" href=\"{EXPLORER}/address/{governor}\" title=\"{governor}\">{}</a>",
        short(g.governor)
    );
    assert_eq!(proposers.matches(&link).count(), 2, "{proposers}");
    assert!(proposers.contains("✓"), "{proposers}");
    assert!(row(&html, "voting_period")
        .contains("<span class=\"mono\">10</span> <span class=\"unit\">blocks ≈ 10 s</span>"));
    assert!(row(&html, "quorum_numerator").contains("<span class=\"mono\">4</span>"));
    let intruder_full = intruder.to_checksum(None);
    assert!(row(&html, "owners").contains(&format!("title=\"{intruder_full}\"")));
    assert!(html.contains("No checkpoint yet"), "{html}");
    assert!(!html.contains("<script"), "the page carries no script");
    // Evidence links: the explorer's transaction page and the API's records of the block.
    let block = pay.block_number.unwrap();
    assert!(html.contains(&format!("href=\"{EXPLORER}/tx/{payment_tx}\"")));
    assert!(html.contains(&format!(
        "href=\"/v1/groups/river-guild/records?from_block={block}&amp;to_block={block}\""
    )));
    let evidence = http
        .get(format!(
            "http://{addr}/v1/groups/river-guild/records?from_block={block}&to_block={block}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(evidence.status(), 200);
    assert!(evidence.text().await.unwrap().contains(&payment_tx));

    // An unknown group: an HTML 404.
    let missing = http
        .get(format!("http://{addr}/groups/no-such-group"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"].to_str().unwrap(),
        "text/html; charset=utf-8"
    );
    assert!(missing.text().await.unwrap().contains("No such group"));

    // A signed checkpoint appears on the page.
    let root: groupstate::ledger::merkle::Hash = [7u8; 32].into();
    let note = "local\n3\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n\n— local+1234abcd+sig\n";
    store
        .insert_checkpoint("local", 3, &alloy::primitives::B256::from(root.0), note)
        .await
        .unwrap();

    // In the browser: what a person sees.
    let (text, png) = browse(&http, &page_url).await;
    check_visible(&text, intruder, &g, &payment_tx, "browser");
    assert!(text.contains("Tree size"), "{text}");
    assert!(text.contains(&root.to_string()), "{text}");
    assert!(text.contains("local+1234abcd+sig"), "{text}");
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
    let name = match backend {
        support::Backend::Sqlite => "status-page.png",
        support::Backend::Postgres => "status-page-postgres.png",
    };
    let path = artifact(name);
    std::fs::write(&path, &png).unwrap();
    println!("status page screenshot: {}", path.display());

    cancel.cancel();
    server.await.unwrap().unwrap();
}

on_both_backends!(status_page_in_chromium, status_page);

/// Markup, both quotes and an ampersand, as a group (or anyone) can write them.
const HOSTILE: &str = "Fish & \"chips\" 'n' <script>alert(1)</script> &amp; </td>";

/// A group that puts markup, quotes and ampersands in every free text the page shows (its
/// manifest's name and purpose; a proposal's description; a divergence's item, expected and
/// observed values and acknowledgement note; the checkpoint's note) gets them shown as text:
/// escaped in the served HTML, never markup. No browser needed: the HTML says it all.
async fn hostile_text_is_escaped(backend: support::Backend) {
    use groupstate::model::Rule;
    use support::writes;
    use tower::ServiceExt;

    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    let text = |label: &str| format!("{label} {HOSTILE}");
    // A JSON string is a YAML double-quoted scalar.
    let yaml_text = |label: &str| serde_json::to_string(&text(label)).unwrap();
    let yaml = support::safe_manifest(
        "river-guild",
        0,
        &[(Address::repeat_byte(0xaa), vec![Address::repeat_byte(1)], 1)],
    )
    .replace(
        "name: Test river-guild",
        &format!("name: {}", yaml_text("Name")),
    )
    .replace(
        "purpose: Testing.",
        &format!("purpose: {}", yaml_text("Purpose")),
    );
    let manifest = Manifest::parse(&yaml).unwrap();
    assert_eq!(manifest.name, text("Name"));
    store.add_group(&manifest).await.unwrap();

    let mut open = writes::divergence("river-guild", 0, Rule::SafeOwnerUndeclared, 5);
    open.item = text("Item");
    open.expected = text("Expected");
    open.observed = text("Observed");
    writes::open(&store, open).await;
    let acked = writes::open_at(&store, "river-guild", 6).await;
    store
        .acknowledge_divergence("river-guild", acked, &text("Note"), None)
        .await
        .unwrap();
    writes::records(
        &store,
        vec![groupstate::store::RecordRow {
            group_id: "river-guild".into(),
            chain_id: 31337,
            block_number: 7,
            block_hash: format!("0x{:064x}", 7),
            block_timestamp: Some(1_700_000_000),
            tx_hash: format!("0x{:064x}", 70),
            tx_index: 0,
            log_index: 0,
            address: Address::repeat_byte(0xcc).to_checksum(None),
            kind: "governor.proposal_created".into(),
            category: "decision".into(),
            fields: json!({
                "proposal_id": "1",
                "proposer": Address::repeat_byte(1).to_checksum(None),
                "description": format!("{}\nsecond line", text("Description")),
            })
            .to_string(),
            topics: "[]".into(),
            data: "0x".into(),
            manifest_hash: None,
        }],
    )
    .await;
    store
        .insert_checkpoint(
            "local",
            1,
            &alloy::primitives::B256::repeat_byte(7),
            &text("Checkpoint"),
        )
        .await
        .unwrap();

    let app = groupstate::api::router(groupstate::api::ApiState::new(
        store.clone(),
        vec!["local".into()],
    ));
    let response = app
        .oneshot(
            axum::http::Request::get("/groups/river-guild")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let html = String::from_utf8(body.to_vec()).unwrap();

    assert!(!html.contains("<script"), "a script got through:\n{html}");
    assert!(!html.contains("\"chips\""), "a quote got through:\n{html}");
    assert!(!html.contains("& \""), "an ampersand got through:\n{html}");
    // The title too: it is read before the body.
    assert!(
        html.contains("<title>Name Fish &amp; &quot;chips&quot; 'n' &lt;script&gt;"),
        "{html}"
    );
    let shown = visible_text(&html);
    for label in [
        "Name",
        "Purpose",
        "Item",
        "Expected",
        "Observed",
        "Note",
        "Description",
        "Checkpoint",
    ] {
        let expected = text(label);
        assert!(
            shown.contains(&expected),
            "`{expected}` is not shown as written:\n{shown}\n\nin\n{html}"
        );
        let escaped = expected
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;");
        assert!(html.contains(&escaped), "`{escaped}` is not in\n{html}");
    }
}

on_both_backends!(hostile_text_on_the_page, hostile_text_is_escaped);

/// Loads `url` in headless Chromium and runs each of `scripts` there: their answers, and a PNG
/// screenshot of the page.
async fn browse_and_run(
    http: &reqwest::Client,
    url: &str,
    scripts: &[&str],
) -> (Vec<Value>, Vec<u8>) {
    let driver = Driver::start(http).await;
    let created = webdriver(
        http,
        reqwest::Method::POST,
        format!("{}/session", driver.url),
        Some(json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--window-size=1280,2000"],
            },
        }}})),
    )
    .await;
    let id = created["sessionId"].as_str().unwrap().to_string();
    let base = format!("{}/session/{id}", driver.url);
    webdriver(
        http,
        reqwest::Method::POST,
        format!("{base}/url"),
        Some(json!({ "url": url })),
    )
    .await;
    let mut answers = Vec::new();
    for script in scripts {
        answers.push(
            webdriver(
                http,
                reqwest::Method::POST,
                format!("{base}/execute/sync"),
                Some(json!({"script": script, "args": []})),
            )
            .await,
        );
    }
    let shot = webdriver(
        http,
        reqwest::Method::GET,
        format!("{base}/screenshot"),
        None,
    )
    .await;
    webdriver(http, reqwest::Method::DELETE, base, None).await;
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot.as_str().unwrap())
        .unwrap();
    (answers, png)
}

/// A Safe that received 100 ETH and paid 1 ETH and 0.5 ETH: the page's treasury section shows
/// 98.5 ETH, and its chart is an SVG polyline through the balance after each block with flows
/// and the balance before the first (four points), drawn by the browser with a real size.
async fn treasury_chart(backend: support::Backend) {
    let devnet = Devnet::start(DevnetOptions::default()).await.unwrap();
    let contracts = SafeContracts::deploy(&devnet).await.unwrap();
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    let keys = devnet::signers(3);
    let owners: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let safe = contracts
        .create_safe(&devnet, SafeVersion::V141, &owners, 2, 3)
        .await
        .unwrap();
    let ether = U256::from(10u64.pow(18));
    devnet::fund(&devnet, safe, ether * U256::from(100))
        .await
        .unwrap();
    for wei in [ether, ether / U256::from(2)] {
        devnet::exec_transaction(
            &devnet,
            safe,
            Address::repeat_byte(0x77),
            wei,
            Default::default(),
            0,
            &[&keys[0], &keys[1]],
        )
        .await
        .unwrap();
    }
    let yaml = support::safe_manifest("treasury-guild", 0, &[(safe, owners, 2)]);
    store
        .add_group(&Manifest::parse(&yaml).unwrap())
        .await
        .unwrap();
    let follower = support::follower(&store, &devnet.rpc_url(), devnet.chain_id());
    support::sync(&follower).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let state = groupstate::api::ApiState::new(store.clone(), vec!["local".into()]);
    let server = tokio::spawn(groupstate::api::serve(listener, state, cancel.clone()));
    let http = reqwest::Client::new();
    let page_url = format!("http://{addr}/groups/treasury-guild");

    // The served HTML carries the chart itself: no script draws it.
    let html = http
        .get(&page_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("98.5 ETH"), "{html}");
    assert!(
        html.contains("<svg") && html.contains("<polyline"),
        "{html}"
    );
    assert!(!html.contains("<script"));

    let (answers, png) = browse_and_run(
        &http,
        &page_url,
        &[
            "return document.querySelector('#treasury').innerText",
            "return document.querySelectorAll('#treasury svg polyline').length",
            "const p = document.querySelector('#treasury tr[data-asset=\"native\"] svg polyline'); \
             return p.points.numberOfItems",
            "const s = document.querySelector('#treasury tr[data-asset=\"native\"] svg'); \
             const r = s.getBoundingClientRect(); return [r.width, r.height]",
            "return document.querySelector('#treasury tr[data-asset=\"native\"] svg') instanceof SVGSVGElement",
        ],
    )
    .await;
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::write(artifact(&format!("treasury-{backend:?}.png")), &png).unwrap();
    let text = answers[0].as_str().unwrap();
    assert!(text.contains("98.5 ETH"), "{text}");
    assert!(text.contains("1.5 ETH"), "the 30-day outflow: {text}");
    assert!(text.contains("no recorded decision") || text.contains("safe execution"));
    assert_eq!(answers[1], 1, "one chart: the native balance");
    assert_eq!(answers[2], 4, "0, 100, 99, 98.5 ETH");
    let size = answers[3].as_array().unwrap();
    assert!(size[0].as_f64().unwrap() > 100.0 && size[1].as_f64().unwrap() > 20.0);
    assert_eq!(answers[4], true, "parsed as SVG, not as unknown HTML");

    cancel.cancel();
    server.await.unwrap().unwrap();
}

on_both_backends!(treasury_chart_in_chromium, treasury_chart);
