//! Hand-written HTTP/1.1 exchanges for what a well-behaved client library refuses to send:
//! a body shorter or longer than its `Content-Length`.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const RAW_TIMEOUT: Duration = Duration::from_secs(30);

/// What came back on a raw connection.
#[derive(Debug)]
pub enum RawOutcome {
    /// The status code and the whole response text.
    Answered(u16, String),
    /// The server closed or reset the connection without a response.
    Closed,
}

/// Sends `head` (request line and headers, without the blank line; `Connection: close` is
/// added) and then `body` to `host`. With `close_early` the client half-closes its side
/// after the body, so a server waiting for more bytes sees end of input.
pub async fn exchange(host: &str, head: &str, body: &[u8], close_early: bool) -> RawOutcome {
    let mut stream = TcpStream::connect(host)
        .await
        .unwrap_or_else(|e| panic!("connecting to {host}: {e}"));
    let request_head = format!("{head}\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let wrote = async {
        stream.write_all(request_head.as_bytes()).await?;
        stream.write_all(body).await?;
        if close_early {
            stream.shutdown().await?;
        }
        Ok::<(), std::io::Error>(())
    }
    .await;
    // A server may answer (and close) before reading everything; that is not an error.
    if wrote.is_err() {
        return RawOutcome::Closed;
    }
    let mut response = Vec::new();
    let read = tokio::time::timeout(RAW_TIMEOUT, stream.read_to_end(&mut response)).await;
    assert!(
        read.is_ok(),
        "no answer and no close from {host} within {RAW_TIMEOUT:?} (request: {head})"
    );
    let text = String::from_utf8_lossy(&response).into_owned();
    // `read_to_end` may end in a reset after a partial read; whatever arrived counts.
    match text
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| text.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
    {
        Some(code) => RawOutcome::Answered(code, text),
        None => RawOutcome::Closed,
    }
}
