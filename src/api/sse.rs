//! `GET /v1/events/stream`: Server-Sent Events with ids and a heartbeat (spec/server.md §10, with
//! the reference's missing heartbeat and ids added).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::ApiState;

/// Heartbeat interval (an SSE comment line) so proxies and clients see a live connection.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// Streams live frames; a lagging client gets a `{"type":"lagged","missed":N}` frame instead of
/// silently losing events.
pub async fn stream(State(st): State<Arc<ApiState>>) -> Response {
    let rx = st.gate.live.subscribe();
    let first = tokio_stream::once(Ok::<Event, Infallible>(
        Event::default().data(r#"{"type":"connected"}"#),
    ));
    let rest = BroadcastStream::new(rx).map(|item| {
        Ok::<Event, Infallible>(match item {
            Ok(f) => Event::default().id(f.seq.to_string()).data(&*f.json),
            Err(BroadcastStreamRecvError::Lagged(n)) => {
                Event::default().data(format!(r#"{{"type":"lagged","missed":{n}}}"#))
            }
        })
    });
    let stop = st.shutdown.clone().cancelled_owned();
    let frames = futures_util::StreamExt::take_until(first.chain(rest), stop);
    let sse = Sse::new(frames).keep_alive(KeepAlive::new().interval(HEARTBEAT));
    let mut resp = sse.into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        "no-cache".parse().expect("static header"),
    );
    resp.headers_mut()
        .insert("x-accel-buffering", "no".parse().expect("static header"));
    resp
}
