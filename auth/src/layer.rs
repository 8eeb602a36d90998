//! The layers that attach a [`RequestContext`] to every request of a listener.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::{AuthError, RequestContext};

/// The HTTP listeners' middleware: a request with an invalid tenant header gets 400
/// before any handler runs; the others carry their context in their extensions.
pub async fn http_context(mut req: Request, next: Next) -> Response {
    match RequestContext::from_headers(req.headers()) {
        Ok(ctx) => {
            req.extensions_mut().insert(ctx);
            next.run(req).await
        }
        Err(e) => http_error(&e),
    }
}

/// An error in the JSON envelope every Osprey API shares (Prometheus' shape).
pub(crate) fn http_error(e: &AuthError) -> Response {
    let body = serde_json::json!({
        "status": "error",
        "errorType": "bad_data",
        "error": e.to_string(),
    });
    (e.http_status(), axum::Json(body)).into_response()
}

/// The gRPC listener's layer: an invalid tenant header is answered INVALID_ARGUMENT
/// before the message is read; otherwise the context rides in the request's
/// extensions, which tonic hands to the service.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcContextLayer;

impl<S> tower::Layer<S> for GrpcContextLayer {
    type Service = GrpcContext<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcContext { inner }
    }
}

#[derive(Debug, Clone)]
pub struct GrpcContext<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, R> tower::Service<http::Request<B>> for GrpcContext<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    R: Default,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        match RequestContext::from_headers(req.headers()) {
            Ok(ctx) => {
                req.extensions_mut().insert(ctx);
                Box::pin(self.inner.call(req))
            }
            Err(e) => {
                let status = e.grpc_status();
                Box::pin(async move { Ok(status.into_http()) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;
    use tower::ServiceExt;

    fn app() -> Router {
        Router::new()
            .route(
                "/who",
                get(|ctx: RequestContext| async move { ctx.tenant().to_string() }),
            )
            .layer(axum::middleware::from_fn(http_context))
    }

    async fn call(tenant: Option<&[u8]>) -> (http::StatusCode, String) {
        let mut req = http::Request::get("/who");
        if let Some(t) = tenant {
            req = req.header("X-Scope-OrgID", http::HeaderValue::from_bytes(t).unwrap());
        }
        let resp = app()
            .oneshot(req.body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn the_layer_decides_the_tenant_once() {
        assert_eq!(call(None).await, (http::StatusCode::OK, "default".into()));
        assert_eq!(
            call(Some(b"team-a")).await,
            (http::StatusCode::OK, "team-a".into())
        );
        let (status, body) = call(Some(b"../etc")).await;
        assert_eq!(status, http::StatusCode::BAD_REQUEST);
        assert!(body.contains("invalid tenant id"), "{body}");
        let (status, body) = call(Some(b"caf\xe9")).await;
        assert_eq!(status, http::StatusCode::BAD_REQUEST);
        assert!(body.contains("not valid ASCII"), "{body}");
    }

    #[tokio::test]
    async fn a_handler_without_the_layer_is_a_wiring_error() {
        let app = Router::new().route(
            "/who",
            get(|ctx: RequestContext| async move { ctx.tenant().to_string() }),
        );
        let resp = app
            .oneshot(
                http::Request::get("/who")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
    }
}
