//! Whether TWS / IB Gateway answers at an address, without logging in: the socket's opening
//! handshake only (`API\0` and a version range; the server answers its version and time), then
//! the connection is closed. No client id is used, so nothing is leased or written
//! (`systrade doctor --broker`).

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::wire;

/// What the server said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReply {
    pub server_version: String,
    pub connection_time: String,
}

/// The version range offered: every version the text encoding spans, so any TWS answers.
const RANGE: &str = "v100..187";

/// Connects to `host:port` and makes the handshake within `timeout`.
pub async fn probe(host: &str, port: u16, timeout: Duration) -> Result<ProbeReply, String> {
    let talk = async {
        let mut stream = TcpStream::connect((host, port))
            .await
            .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
        let mut hello = wire::API_PREFIX.to_vec();
        hello.extend(wire::frame(RANGE.as_bytes()));
        stream
            .write_all(&hello)
            .await
            .map_err(|e| format!("{host}:{port}: the handshake could not be sent: {e}"))?;
        let body = wire::read_frame(&mut stream)
            .await
            .map_err(|e| format!("{host}:{port} did not answer as TWS / IB Gateway: {e}"))?;
        let _ = stream.shutdown().await;
        let fields = wire::split_text_fields(&body);
        match fields.as_slice() {
            [version, time, ..] if version.parse::<i32>().is_ok() => Ok(ProbeReply {
                server_version: version.clone(),
                connection_time: time.clone(),
            }),
            _ => Err(format!(
                "{host}:{port} answered, but not as TWS / IB Gateway ({fields:?})"
            )),
        }
    };
    tokio::time::timeout(timeout, talk)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "{host}:{port} did not answer within {:.0} s",
                timeout.as_secs_f64()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_fake_gateway_answers_and_a_closed_port_does_not() {
        let server = crate::adapters::ib::fake_server::tests::start().await;
        let addr = server.local_addr();
        let reply = probe("127.0.0.1", addr.port(), Duration::from_secs(5))
            .await
            .unwrap();
        assert!(
            reply.server_version.parse::<i32>().unwrap() >= 100,
            "{reply:?}"
        );
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        let e = probe("127.0.0.1", port, Duration::from_secs(2))
            .await
            .unwrap_err();
        assert!(e.contains("cannot connect to 127.0.0.1:"), "{e}");
    }
}
