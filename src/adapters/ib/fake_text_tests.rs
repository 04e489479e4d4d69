//! The text encoding: raw requests over a socket, and the `ib_async` Python client (an
//! independent implementation of the TWS API) run against the fake.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::*;
use crate::adapters::ib::fake_messages::Encoding;
use crate::adapters::ib::fake_orders::FakeFillMode;
use crate::adapters::ib::fake_server::tests::{start, state, ES};
use crate::adapters::ib::fake_server::{FakeIbServer, FakeIbState, TEXT_SERVER_VERSION};

/// A raw text-encoding client: hello, startApi, and the greeting read.
async fn text_client(server: &FakeIbServer, client_id: i32) -> TcpStream {
    let mut stream = TcpStream::connect(server.local_addr())
        .await
        .expect("connect");
    let mut hello = wire::API_PREFIX.to_vec();
    hello.extend(wire::frame(b"v157..178"));
    stream.write_all(&hello).await.expect("hello");
    let reply = wire::split_text_fields(&wire::read_frame(&mut stream).await.expect("version"));
    assert_eq!(reply[0], "178");
    send(
        &mut stream,
        outgoing::START_API,
        &["2", &client_id.to_string(), ""],
    )
    .await;
    assert_eq!(read(&mut stream).await, ["9", "1", "42"]);
    assert_eq!(read(&mut stream).await, ["15", "1", "DU1234567"]);
    stream
}

async fn send(stream: &mut TcpStream, id: i32, fields: &[&str]) {
    let body = wire::text_message(id, fields);
    stream.write_all(&wire::frame(&body)).await.expect("send");
}

/// The next message's fields, the message id first.
async fn read(stream: &mut TcpStream) -> Vec<String> {
    let body = tokio::time::timeout(Duration::from_secs(5), wire::read_frame(stream))
        .await
        .expect("a reply in time")
        .expect("a frame");
    wire::split_text_fields(&body)
}

const ES_FIELDS: [&str; 12] = [
    "0", "ES", "FUT", "202612", "0.0", "", "", "CME", "", "USD", "", "",
];

#[tokio::test]
async fn text_requests_are_answered_in_text_and_bad_ones_get_321() {
    let server = start().await;
    let mut stream = text_client(&server, 5).await;

    send(
        &mut stream,
        outgoing::REQ_ACCOUNT_SUMMARY,
        &["1", "7", "All", "NetLiquidation"],
    )
    .await;
    assert_eq!(
        read(&mut stream).await,
        [
            "63",
            "1",
            "7",
            "DU1234567",
            "NetLiquidation",
            "1000000.00",
            "USD"
        ]
    );
    assert_eq!(read(&mut stream).await, ["64", "1", "7"]);

    send(&mut stream, outgoing::REQ_POSITIONS, &["1"]).await;
    let position = read(&mut stream).await;
    assert_eq!(position.len(), 16, "{position:?}");
    assert_eq!(position[..4], ["61", "3", "DU1234567", &ES.to_string()]);
    assert_eq!(position[14..], ["3", "301250"]);
    assert_eq!(read(&mut stream).await, ["62", "1"]);

    let mut details = vec!["8", "9"];
    details.extend(ES_FIELDS);
    details.extend(["0", "", "", ""]);
    send(&mut stream, outgoing::REQ_CONTRACT_DATA, &details).await;
    let contract = read(&mut stream).await;
    assert_eq!(contract[..3], ["10", "9", "ES"]);
    assert_eq!(contract[12], ES.to_string());
    assert_eq!(read(&mut stream).await, ["52", "1", "9"]);

    // reqMktDepth is not implemented: 321 on its request id (version 5, req id 77).
    send(&mut stream, 10, &["5", "77", "0", "ES"]).await;
    let error = read(&mut stream).await;
    assert_eq!(error[..4], ["4", "2", "77", "321"]);
    assert_eq!(
        error.len(),
        6,
        "advanced order reject JSON from 166: {error:?}"
    );

    // Too few fields, and a request id that is not a number: errors, not panics.
    send(&mut stream, outgoing::REQ_HISTORICAL_DATA, &["3"]).await;
    assert_eq!(read(&mut stream).await[..4], ["4", "2", "-1", "321"]);
    send(
        &mut stream,
        outgoing::REQ_ACCOUNT_SUMMARY,
        &["1", "x", "All", ""],
    )
    .await;
    assert_eq!(read(&mut stream).await[..4], ["4", "2", "-1", "321"]);
    let garbage = b"\xff\xfe\0";
    stream
        .write_all(&wire::frame(garbage))
        .await
        .expect("garbage");
    assert_eq!(read(&mut stream).await[..4], ["4", "2", "-1", "321"]);

    send(&mut stream, outgoing::REQ_CURRENT_TIME, &["1"]).await;
    assert_eq!(read(&mut stream).await[..2], ["49", "1"]);
}

#[test]
fn no_request_shape_makes_the_text_decoder_panic() {
    let encoding = Encoding::Text {
        version: TEXT_SERVER_VERSION,
    };
    for id in 0..=110 {
        for count in 0..40 {
            for filler in ["", "x", "1", "BAG", "-5"] {
                let fields: Vec<String> = std::iter::once(id.to_string())
                    .chain(std::iter::repeat_n(filler.to_string(), count))
                    .collect();
                let _ = encoding.decode(&wire::text_fields(&fields));
            }
        }
    }
}

#[test]
fn replies_differ_by_version_where_the_api_changed() {
    let contract = state().contracts[0].clone();
    let details = |version| {
        wire::split_text_fields(&encode(
            &Reply::ContractDetails {
                req_id: 1,
                contract: contract.clone(),
            },
            version,
        ))
    };
    // Before 164: a message version after the id and a size multiplier after the min tick;
    // 163 adds the suggested size increment, 164 the min size and size increment.
    assert_eq!(details(163)[1], "8");
    assert_eq!(details(178)[1], "1");
    assert_eq!(details(162).len() + 1, details(163).len());
    assert_eq!(details(163).len(), details(178).len());
    let error =
        |version| wire::split_text_fields(&encode(&Reply::error(1, 200, "no"), version)).len();
    assert_eq!((error(157), error(166)), (5, 6));
}

#[tokio::test]
async fn fills_pushed_to_a_text_client_are_text() {
    let server = start().await;
    server.update_state(|s| s.fill_mode = FakeFillMode::Hold);
    let mut stream = text_client(&server, 6).await;
    let mut order = vec!["42"];
    order.extend(ES_FIELDS);
    order.extend([
        "", "", "BUY", "2", "LMT", "6000.5", "", "", "", "", "", "0", "ref-1",
    ]);
    send(&mut stream, outgoing::PLACE_ORDER, &order).await;
    assert_eq!(read(&mut stream).await[..2], ["5", "42"]);
    assert_eq!(read(&mut stream).await[..3], ["3", "42", "Submitted"]);

    server.fill_working_orders();
    let execution = read(&mut stream).await;
    assert_eq!(execution[..3], ["11", "-1", "42"]);
    assert_eq!(execution[18..21], ["BOT", "2", "6000.5"]);
    assert_eq!(execution[26], "ref-1");
    assert_eq!(read(&mut stream).await[..2], ["59", "1"]);
    assert_eq!(read(&mut stream).await[..2], ["5", "42"]);
    let status = read(&mut stream).await;
    assert_eq!(status[..6], ["3", "42", "Filled", "2", "0", "6000.5"]);
}

/// The venv holding `ib_async`, from `SYSTRADE_IB_ASYNC_VENV` or the install script's default.
fn ib_async_python() -> PathBuf {
    let venv = std::env::var_os("SYSTRADE_IB_ASYNC_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_default();
            PathBuf::from(home).join(".cache/systrade-ib-async-venv")
        });
    venv.join("bin/python")
}

fn rows<'a>(json: &'a serde_json::Value, key: &str) -> &'a Vec<serde_json::Value> {
    json[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is not a list: {json}"))
}

/// Runs `tests/ib_async_client.py` against a fresh fake with ib_async's version range
/// topped at `max_version`; returns its JSON and the server.
async fn run_ib_async(python: &Path, max_version: i32) -> (serde_json::Value, FakeIbServer) {
    let server = start().await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ib_async_client.py");
    let port = server.local_addr().port().to_string();
    let run = tokio::process::Command::new(python)
        .arg(&script)
        .args(["127.0.0.1", &port, "11", &max_version.to_string()])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the ib_async client finishes in time")
        .expect("run python");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "ib_async client (max version {max_version}) failed:\n{stderr}"
    );
    let json = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)));
    (json, server)
}

/// `tests/ib_async_client.py` (ib_async 2.1, Python, text encoding) against the fake, at
/// server version 178 and on either side of the versions where the text messages change
/// (178: execution's price revision; 177: FA profile; 170, 162, 160, 159: order fields;
/// 166: error JSON; 164 and 163: contract details; 157, the lowest): every call completes,
/// ib_async decodes every message, and the results are the state's data.
#[tokio::test]
#[cfg_attr(
    not(ib_async),
    ignore = "needs ib_async: run `bash scripts/install-ib-async.sh`"
)]
async fn ib_async_completes_every_call_against_the_fake() {
    let python = ib_async_python();
    assert!(
        python.exists(),
        "ib_async is not installed ({} is missing): run `bash scripts/install-ib-async.sh`",
        python.display()
    );
    for version in [178, 176, 169, 165, 163, 161, 159, 157] {
        let (json, server) = run_ib_async(&python, version).await;
        assert_eq!(json["server_version"], version);
        check_ib_async_results(&json, &server.state());
    }
}

fn check_ib_async_results(json: &serde_json::Value, state: &FakeIbState) {
    assert!(
        json["connect_seconds"].as_f64().unwrap_or(99.0) < 5.0,
        "connect waited for something unanswered: {json}"
    );
    assert_eq!(json["managed_accounts"], serde_json::json!(["DU1234567"]));
    let summary = rows(json, "account_summary");
    let net_liq = summary
        .iter()
        .find(|v| v["tag"] == "NetLiquidation")
        .expect("NetLiquidation in the summary");
    assert_eq!(
        (&net_liq["account"], &net_liq["value"], &net_liq["currency"]),
        (&"DU1234567".into(), &"1000000.00".into(), &"USD".into())
    );
    assert!(summary.iter().any(|v| v["tag"] == "TotalCashValue"));
    assert!(rows(json, "account_values")
        .iter()
        .any(|v| v["tag"] == "NetLiquidation" && v["value"] == "1000000.00"));
    assert_eq!(rows(json, "portfolio")[0]["con_id"], ES);

    let positions = rows(json, "positions");
    assert_eq!(positions.len(), 1, "{positions:?}");
    assert_eq!(positions[0]["con_id"], ES);
    assert_eq!(positions[0]["position"], 3.0);
    assert_eq!(positions[0]["avg_cost"], 301_250.0);

    let details = rows(json, "contract_details");
    assert_eq!(details[0]["con_id"], ES);
    assert_eq!(details[0]["last_trade"], "20261218");
    assert_eq!(details[0]["multiplier"], "50");

    let closes = |key: &str| -> Vec<f64> {
        rows(json, key)
            .iter()
            .filter_map(|b| b["close"].as_f64())
            .collect()
    };
    assert_eq!(
        closes("daily_bars"),
        [6005.0, 6004.0, 6003.0, 6002.0, 6001.0]
    );
    assert_eq!(closes("hourly_bars"), [6103.0, 6102.0, 6101.0]);

    let quote = &json["quote"];
    assert_eq!(
        (&quote["bid"], &quote["ask"]),
        (&6000.25.into(), &6000.5.into())
    );
    assert_eq!(
        (&quote["last"], &quote["bid_size"]),
        (&6000.5.into(), &12.0.into())
    );

    assert_eq!(json["streamed_quote"]["ask"], 6000.5);
    let market = &json["market_order"];
    assert_eq!(market["status"], "Filled");
    assert_eq!(market["avg_fill_price"], 6000.5, "filled at the ask");
    assert_eq!(market["fills"][0]["price"], 6000.5);
    assert_eq!(market["fills"][0]["commission"], 2.0);
    let executions = rows(json, "executions");
    assert_eq!(executions.len(), 1, "{executions:?}");
    assert_eq!(executions[0]["order_ref"], "systrade-ib-async");
    assert_eq!(executions[0]["price"], 6000.5);
    assert_eq!(executions[0]["side"], "BOT");

    let limit_ref = serde_json::json!("systrade-ib-async-limit");
    assert!(rows(json, "open_trades")
        .iter()
        .any(|t| t["order_ref"] == limit_ref && t["status"] == "Submitted"));
    assert!(rows(json, "all_open_orders")
        .iter()
        .any(|t| t["order_ref"] == limit_ref));
    assert_eq!(json["limit_order"]["status"], "Cancelled");
    assert!(rows(json, "open_trades_after_cancel").is_empty());
    assert_eq!(rows(json, "completed_orders").len(), 2);

    let statuses: Vec<(&str, &str)> = state
        .orders
        .iter()
        .map(|o| (o.order_ref.as_str(), o.status.as_str()))
        .collect();
    assert_eq!(json["global_cancel"]["status"], "Cancelled");
    assert_eq!(
        statuses,
        [
            ("systrade-ib-async", "Filled"),
            ("systrade-ib-async-limit", "Cancelled"),
            ("systrade-ib-async-gc", "Cancelled")
        ]
    );
    assert_eq!(state.orders[0].client_id, 11);
    assert_eq!(state.positions[0].position, 4.0);
}
