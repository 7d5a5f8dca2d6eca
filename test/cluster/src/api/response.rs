//! HTTP responses: JSON objects, Status errors and streamed bodies.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use crate::status::ApiError;

/// The body of every response: whole, or streamed for watches and logs.
pub type Body = BoxBody<Bytes, Infallible>;

pub fn json(code: u16, value: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(value).expect("JSON values always serialize");
    build(
        code,
        "application/json",
        Full::new(Bytes::from(bytes)).boxed(),
    )
}

pub fn error(error: &ApiError) -> Response<Body> {
    json(error.code, &error.to_status())
}

pub fn text(code: u16, text: &str) -> Response<Body> {
    build(
        code,
        "text/plain; charset=utf-8",
        Full::new(Bytes::from(text.to_string())).boxed(),
    )
}

/// A streamed response fed by a channel; it ends when the sender is dropped.
pub fn stream(content_type: &str, chunks: mpsc::Receiver<Bytes>) -> Response<Body> {
    let frames = ReceiverStream::new(chunks).map(|chunk| Ok::<_, Infallible>(Frame::data(chunk)));
    build(200, content_type, BodyExt::boxed(StreamBody::new(frames)))
}

fn build(code: u16, content_type: &str, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() =
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let value = header::HeaderValue::from_str(content_type)
        .unwrap_or(header::HeaderValue::from_static("application/json"));
    response.headers_mut().insert(header::CONTENT_TYPE, value);
    response
}

/// Adds a `Warning` header, as the API server does for deprecated or surprising requests.
pub fn warn(mut response: Response<Body>, message: &str) -> Response<Body> {
    let text = format!("299 - \"{}\"", message.replace('"', "'"));
    if let Ok(value) = header::HeaderValue::from_str(&text) {
        response.headers_mut().append(header::WARNING, value);
    }
    response
}
