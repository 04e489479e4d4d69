//! The TWS / IB Gateway socket protocol: framing, text fields and message ids.
//!
//! What goes over the socket, in order:
//! 1. client → server: the bytes `API\0`, then one frame holding the text
//!    `v{min}..{max}` (the client's server-version range).
//! 2. server → client: one frame holding NUL-terminated text fields
//!    `{server_version}\0{connection_time}\0` (no message id).
//! 3. From then on every frame body opens with a 4-byte big-endian message id.
//!    An id above [`PROTOBUF_OFFSET`] means "id + 200, protobuf payload";
//!    otherwise the payload is NUL-terminated text fields.
//!
//!    Below server version 201 (the text encoding that older clients such as
//!    `ib_async` speak) the body is NUL-terminated text fields only, the message id
//!    the first of them, in decimal ([`decode_text_body`], [`text_message`]).
//!
//! Every frame is a 4-byte big-endian length followed by that many bytes.

use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The magic that opens a client connection.
pub const API_PREFIX: &[u8; 4] = b"API\0";
/// Added to a message id to mark a protobuf payload.
pub const PROTOBUF_OFFSET: i32 = 200;
/// Frames longer than this are refused (TWS's own limit is 16 MiB).
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// Message ids the client sends (TWS `OutgoingMessages`).
pub mod outgoing {
    pub const REQ_MKT_DATA: i32 = 1;
    pub const CANCEL_MKT_DATA: i32 = 2;
    pub const PLACE_ORDER: i32 = 3;
    pub const CANCEL_ORDER: i32 = 4;
    pub const REQ_OPEN_ORDERS: i32 = 5;
    pub const REQ_ACCOUNT_UPDATES: i32 = 6;
    pub const REQ_EXECUTIONS: i32 = 7;
    pub const REQ_IDS: i32 = 8;
    pub const REQ_AUTO_OPEN_ORDERS: i32 = 15;
    pub const REQ_ALL_OPEN_ORDERS: i32 = 16;
    pub const REQ_CONTRACT_DATA: i32 = 9;
    pub const REQ_MANAGED_ACCTS: i32 = 17;
    pub const REQ_HISTORICAL_DATA: i32 = 20;
    pub const CANCEL_HISTORICAL_DATA: i32 = 25;
    pub const REQ_CURRENT_TIME: i32 = 49;
    pub const REQ_GLOBAL_CANCEL: i32 = 58;
    pub const REQ_MARKET_DATA_TYPE: i32 = 59;
    pub const REQ_POSITIONS: i32 = 61;
    pub const REQ_ACCOUNT_SUMMARY: i32 = 62;
    pub const CANCEL_ACCOUNT_SUMMARY: i32 = 63;
    pub const CANCEL_POSITIONS: i32 = 64;
    pub const START_API: i32 = 71;
    pub const REQ_ACCOUNT_UPDATES_MULTI: i32 = 76;
    pub const CANCEL_ACCOUNT_UPDATES_MULTI: i32 = 77;
    pub const REQ_COMPLETED_ORDERS: i32 = 99;
    pub const CANCEL_CONTRACT_DATA: i32 = 106;
}

/// Message ids the server sends (TWS `IncomingMessages`).
pub mod incoming {
    pub const TICK_PRICE: i32 = 1;
    pub const TICK_SIZE: i32 = 2;
    pub const ORDER_STATUS: i32 = 3;
    pub const ERR_MSG: i32 = 4;
    pub const OPEN_ORDER: i32 = 5;
    pub const ACCT_VALUE: i32 = 6;
    pub const PORTFOLIO_VALUE: i32 = 7;
    pub const ACCT_UPDATE_TIME: i32 = 8;
    pub const NEXT_VALID_ID: i32 = 9;
    pub const CONTRACT_DATA: i32 = 10;
    pub const EXECUTION_DATA: i32 = 11;
    pub const MANAGED_ACCTS: i32 = 15;
    pub const HISTORICAL_DATA: i32 = 17;
    pub const CURRENT_TIME: i32 = 49;
    pub const CONTRACT_DATA_END: i32 = 52;
    pub const OPEN_ORDER_END: i32 = 53;
    pub const ACCT_DOWNLOAD_END: i32 = 54;
    pub const EXECUTION_DATA_END: i32 = 55;
    pub const TICK_SNAPSHOT_END: i32 = 57;
    pub const COMMISSION_REPORT: i32 = 59;
    pub const POSITION_DATA: i32 = 61;
    pub const POSITION_END: i32 = 62;
    pub const ACCOUNT_SUMMARY: i32 = 63;
    pub const ACCOUNT_SUMMARY_END: i32 = 64;
    pub const ACCOUNT_UPDATE_MULTI: i32 = 73;
    pub const ACCOUNT_UPDATE_MULTI_END: i32 = 74;
    pub const COMPLETED_ORDER: i32 = 101;
    pub const COMPLETED_ORDERS_END: i32 = 102;
    pub const HISTORICAL_DATA_END: i32 = 108;
}

/// TWS error codes the fake server reports.
pub mod codes {
    /// The request id used for errors that belong to no request.
    pub const NO_REQUEST: i32 = -1;
    /// "No security definition has been found for the request".
    pub const NO_SECURITY_DEFINITION: i32 = 200;
    /// "Historical Market Data Service error message: HMDS query returned no data".
    pub const HISTORICAL_DATA_ERROR: i32 = 162;
    /// "Requested market data is not subscribed".
    pub const MARKET_DATA_NOT_SUBSCRIBED: i32 = 354;
    /// "Error validating request" (used for requests the fake does not implement).
    pub const REQUEST_VALIDATION: i32 = 321;
    /// "Unable to connect as the client id is already in use".
    pub const CLIENT_ID_IN_USE: i32 = 326;
    /// "Duplicate order id".
    pub const DUPLICATE_ORDER_ID: i32 = 103;
    /// "Incorrect client version / unsupported version".
    pub const UNSUPPORTED_VERSION: i32 = 503;
}

#[derive(Debug, Error)]
pub enum WireError {
    #[error("connection closed")]
    Closed,
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("frame of {0} bytes exceeds the {MAX_FRAME_LEN}-byte limit")]
    FrameTooLong(usize),
    #[error("connection did not open with API\\0 (got {0:?})")]
    BadPrefix([u8; 4]),
    #[error("malformed version range {0:?} (expected v<min>..<max>)")]
    BadVersionRange(String),
    #[error("frame body of {0} bytes cannot hold a message id")]
    ShortBody(usize),
    #[error("protobuf payload of message {id}: {source}")]
    Protobuf {
        id: i32,
        #[source]
        source: prost::DecodeError,
    },
    #[error("text message {id}: {reason}")]
    Text { id: i32, reason: String },
}

/// One frame: 4-byte big-endian length, then the body.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Reads one frame body. `Err(Closed)` on a clean end of stream before the length.
pub async fn read_frame<R: AsyncRead + Unpin>(reader: &mut R) -> Result<Vec<u8>, WireError> {
    let mut len = [0u8; 4];
    match reader.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(WireError::Closed),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME_LEN {
        return Err(WireError::FrameTooLong(len));
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).await?;
    Ok(body)
}

/// Reads the client's opening: `API\0` then the version-range frame. Returns `(min, max)`.
pub async fn read_client_hello<R: AsyncRead + Unpin>(
    reader: &mut R,
) -> Result<(i32, i32), WireError> {
    let mut prefix = [0u8; 4];
    match reader.read_exact(&mut prefix).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(WireError::Closed),
        Err(e) => return Err(e.into()),
    }
    if &prefix != API_PREFIX {
        return Err(WireError::BadPrefix(prefix));
    }
    let body = read_frame(reader).await?;
    parse_version_range(&String::from_utf8_lossy(&body))
}

/// Parses `v100..187` (or a bare `v187`, meaning min = max).
pub fn parse_version_range(text: &str) -> Result<(i32, i32), WireError> {
    let bad = || WireError::BadVersionRange(text.to_string());
    // Options may follow the range after a space ("v100..187 +PACEAPI").
    let range = text.split_whitespace().next().ok_or_else(bad)?;
    let range = range.strip_prefix('v').ok_or_else(bad)?;
    let (min, max) = match range.split_once("..") {
        Some((min, max)) => (min, max),
        None => (range, range),
    };
    let min: i32 = min.parse().map_err(|_| bad())?;
    let max: i32 = max.parse().map_err(|_| bad())?;
    if min > max {
        return Err(bad());
    }
    Ok((min, max))
}

/// NUL-terminated text fields: `a\0b\0`.
pub fn text_fields<S: AsRef<str>>(fields: &[S]) -> Vec<u8> {
    let mut out = Vec::new();
    for field in fields {
        out.extend_from_slice(field.as_ref().as_bytes());
        out.push(0);
    }
    out
}

/// Splits NUL-terminated text fields (a missing final NUL is tolerated).
pub fn split_text_fields(payload: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(payload);
    text.split_terminator('\0').map(str::to_string).collect()
}

/// A decoded frame body.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The message id without the protobuf offset.
    pub id: i32,
    pub payload: Payload,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Protobuf(Vec<u8>),
    Text(Vec<String>),
}

impl Message {
    /// Decodes the protobuf payload as `T`.
    pub fn proto<T: prost::Message + Default>(&self) -> Result<T, WireError> {
        match &self.payload {
            Payload::Protobuf(bytes) => {
                T::decode(bytes.as_slice()).map_err(|source| WireError::Protobuf {
                    id: self.id,
                    source,
                })
            }
            Payload::Text(_) => Err(WireError::Text {
                id: self.id,
                reason: "expected a protobuf payload, got text fields".into(),
            }),
        }
    }
}

/// Splits a frame body into its message id and payload.
pub fn decode_body(body: &[u8]) -> Result<Message, WireError> {
    let Some((header, payload)) = body.split_first_chunk::<4>() else {
        return Err(WireError::ShortBody(body.len()));
    };
    let raw = i32::from_be_bytes(*header);
    if raw > PROTOBUF_OFFSET {
        Ok(Message {
            id: raw - PROTOBUF_OFFSET,
            payload: Payload::Protobuf(payload.to_vec()),
        })
    } else {
        Ok(Message {
            id: raw,
            payload: Payload::Text(split_text_fields(payload)),
        })
    }
}

/// Splits a text-encoding frame body (`id\0field\0...`, the id in decimal) into its
/// message id and the fields after it.
pub fn decode_text_body(body: &[u8]) -> Result<Message, WireError> {
    let mut fields = split_text_fields(body);
    if fields.is_empty() {
        return Err(WireError::ShortBody(body.len()));
    }
    let head = fields.remove(0);
    let id = head.trim().parse().map_err(|_| WireError::Text {
        id: -1,
        reason: format!("message id {head:?} is not a number"),
    })?;
    Ok(Message {
        id,
        payload: Payload::Text(fields),
    })
}

/// A text-encoding frame body: the id in decimal, then the fields, each NUL-terminated.
pub fn text_message<S: AsRef<str>>(id: i32, fields: &[S]) -> Vec<u8> {
    let mut out = text_fields(&[id.to_string()]);
    out.extend_from_slice(&text_fields(fields));
    out
}

/// A protobuf frame body: `(id + 200)` big-endian, then the encoded message.
pub fn proto_body<T: prost::Message>(id: i32, message: &T) -> Vec<u8> {
    let mut out = (id + PROTOBUF_OFFSET).to_be_bytes().to_vec();
    out.extend_from_slice(&message.encode_to_vec());
    out
}

/// A text frame body: the id big-endian, then NUL-terminated fields.
pub fn text_body<S: AsRef<str>>(id: i32, fields: &[S]) -> Vec<u8> {
    let mut out = id.to_be_bytes().to_vec();
    out.extend_from_slice(&text_fields(fields));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::ib::proto;

    #[test]
    fn frames_carry_a_big_endian_length() {
        assert_eq!(frame(b"abc"), vec![0, 0, 0, 3, b'a', b'b', b'c']);
        assert_eq!(frame(b""), vec![0, 0, 0, 0]);
    }

    #[tokio::test]
    async fn read_frame_round_trips_and_reports_close() {
        let mut bytes = frame(b"hello");
        bytes.extend(frame(b""));
        let mut reader = bytes.as_slice();
        assert_eq!(read_frame(&mut reader).await.unwrap(), b"hello");
        assert_eq!(read_frame(&mut reader).await.unwrap(), b"");
        assert!(matches!(
            read_frame(&mut reader).await,
            Err(WireError::Closed)
        ));
    }

    #[tokio::test]
    async fn read_frame_refuses_oversized_and_truncated_frames() {
        let huge = (MAX_FRAME_LEN as u32 + 1).to_be_bytes();
        assert!(matches!(
            read_frame(&mut huge.as_slice()).await,
            Err(WireError::FrameTooLong(_))
        ));
        let truncated = [0u8, 0, 0, 5, b'a'];
        assert!(matches!(
            read_frame(&mut truncated.as_slice()).await,
            Err(WireError::Io(_))
        ));
    }

    #[tokio::test]
    async fn client_hello_is_prefix_then_range() {
        let mut bytes = API_PREFIX.to_vec();
        bytes.extend(frame(b"v213..226"));
        assert_eq!(
            read_client_hello(&mut bytes.as_slice()).await.unwrap(),
            (213, 226)
        );
        let mut bad = b"HTTP".to_vec();
        bad.extend(frame(b"v1..2"));
        assert!(matches!(
            read_client_hello(&mut bad.as_slice()).await,
            Err(WireError::BadPrefix(_))
        ));
    }

    #[test]
    fn version_ranges() {
        assert_eq!(parse_version_range("v100..187").unwrap(), (100, 187));
        assert_eq!(parse_version_range("v187").unwrap(), (187, 187));
        assert_eq!(
            parse_version_range("v100..187 +PACEAPI").unwrap(),
            (100, 187)
        );
        for bad in ["", "100..187", "vx..1", "v9..1", "v1..", "v"] {
            assert!(
                parse_version_range(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn text_fields_are_nul_terminated() {
        assert_eq!(
            text_fields(&["226", "20261125 00:40:00 UTC"]),
            b"226\x0020261125 00:40:00 UTC\x00"
        );
        assert_eq!(split_text_fields(b"a\0\0b\0"), vec!["a", "", "b"]);
        assert_eq!(split_text_fields(b"a\0b"), vec!["a", "b"]);
        assert!(split_text_fields(b"").is_empty());
    }

    #[test]
    fn protobuf_bodies_carry_the_offset_id() {
        let body = proto_body(
            incoming::NEXT_VALID_ID,
            &proto::NextValidId { order_id: Some(7) },
        );
        assert_eq!(&body[..4], &209i32.to_be_bytes());
        let message = decode_body(&body).unwrap();
        assert_eq!(message.id, incoming::NEXT_VALID_ID);
        assert_eq!(
            message.proto::<proto::NextValidId>().unwrap().order_id,
            Some(7)
        );
    }

    #[test]
    fn text_bodies_keep_the_plain_id() {
        let body = text_body(outgoing::START_API, &["2", "12", ""]);
        let message = decode_body(&body).unwrap();
        assert_eq!(message.id, outgoing::START_API);
        assert_eq!(
            message.payload,
            Payload::Text(vec!["2".into(), "12".into(), "".into()])
        );
        assert!(message.proto::<proto::NextValidId>().is_err());
    }

    #[test]
    fn text_encoding_bodies_lead_with_a_decimal_id() {
        let body = text_message(outgoing::START_API, &["2", "31", ""]);
        assert_eq!(body, b"71\x002\x0031\x00\x00");
        let message = decode_text_body(&body).unwrap();
        assert_eq!(message.id, outgoing::START_API);
        assert_eq!(
            message.payload,
            Payload::Text(vec!["2".into(), "31".into(), "".into()])
        );
        assert!(matches!(
            decode_text_body(b""),
            Err(WireError::ShortBody(0))
        ));
        assert!(matches!(
            decode_text_body(b"x1\x002\x00"),
            Err(WireError::Text { .. })
        ));
    }

    #[test]
    fn short_bodies_and_garbage_protobuf_are_errors_not_panics() {
        for len in 0..4 {
            assert!(matches!(
                decode_body(&vec![0; len]),
                Err(WireError::ShortBody(_))
            ));
        }
        let mut body = 262i32.to_be_bytes().to_vec();
        body.extend([0xff, 0xff, 0xff]);
        let message = decode_body(&body).unwrap();
        assert!(matches!(
            message.proto::<proto::AccountSummaryRequest>(),
            Err(WireError::Protobuf { .. })
        ));
    }
}
