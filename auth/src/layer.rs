//! The layers that attach a [`RequestContext`] to every request of a listener, and the
//! per-route layer that checks its scope.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::{AuthError, Authenticator, RequestContext, Scope};

/// The HTTP listeners' middleware: a request without valid credentials gets 401 (with
/// the challenges that make a browser ask for them), one for a tenant its token may
/// not act as 403, an invalid tenant header 400, all before any handler runs; the
/// others carry their context in their extensions.
pub async fn http_context(
    State(auth): State<Arc<Authenticator>>,
    mut req: Request,
    next: Next,
) -> Response {
    match auth.context(req.headers()) {
        Ok(ctx) => {
            req.extensions_mut().insert(ctx);
            next.run(req).await
        }
        Err(e) => {
            tracing::debug!(path = %req.uri().path(), error = %e, "request refused");
            http_error(&e)
        }
    }
}

/// An error in the JSON envelope every Osprey API shares (Prometheus' shape).
pub(crate) fn http_error(e: &AuthError) -> Response {
    let kind = match e {
        AuthError::Unauthenticated(_) => "unauthorized",
        AuthError::Forbidden(_) => "forbidden",
        AuthError::InvalidTenant(_) | AuthError::NotAscii => "bad_data",
        AuthError::Config(_) | AuthError::Missing | AuthError::Unscoped => "internal",
    };
    let body = serde_json::json!({"status": "error", "errorType": kind, "error": e.to_string()});
    let mut resp = (e.http_status(), axum::Json(body)).into_response();
    if matches!(e, AuthError::Unauthenticated(_)) {
        let h = resp.headers_mut();
        h.append(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer realm=\"osprey\""),
        );
        h.append(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Basic realm=\"osprey\", charset=\"UTF-8\""),
        );
    }
    resp
}

/// The scope every request of a route needs (`Router::route_layer(require(..))`).
pub fn require(scope: Scope) -> RequireScope {
    RequireScope {
        read: scope,
        write: scope,
    }
}

/// `read` for GET and HEAD, `write` for every other method: for resources read with
/// one scope and changed with another (dashboards).
pub fn require_by_method(read: Scope, write: Scope) -> RequireScope {
    RequireScope { read, write }
}

/// The per-route scope check: 403 naming the missing scope, else the request goes on
/// with its context marked as scoped.
#[derive(Debug, Clone, Copy)]
pub struct RequireScope {
    read: Scope,
    write: Scope,
}

impl RequireScope {
    fn scope(&self, method: &http::Method) -> Scope {
        if method == http::Method::GET || method == http::Method::HEAD {
            self.read
        } else {
            self.write
        }
    }
}

impl<S> tower::Layer<S> for RequireScope {
    type Service = Required<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Required {
            inner,
            scope: *self,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Required<S> {
    inner: S,
    scope: RequireScope,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> tower::Service<Request> for Required<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let scope = self.scope.scope(req.method());
        let checked = match req.extensions_mut().get_mut::<RequestContext>() {
            Some(ctx) => ctx.require(scope),
            None => Err(AuthError::Missing),
        };
        match checked {
            Ok(()) => Box::pin(self.inner.call(req)),
            Err(e) => {
                let resp = http_error(&e);
                Box::pin(async move { Ok(resp) })
            }
        }
    }
}

/// The gRPC listener's layer: credentials, tenant and the listener's one scope are
/// checked before the message is read (UNAUTHENTICATED, PERMISSION_DENIED or
/// INVALID_ARGUMENT); otherwise the context rides in the request's extensions, which
/// tonic hands to the service.
#[derive(Debug, Clone)]
pub struct GrpcContextLayer {
    auth: Arc<Authenticator>,
    scope: Scope,
}

impl GrpcContextLayer {
    pub fn new(auth: Arc<Authenticator>, scope: Scope) -> Self {
        Self { auth, scope }
    }
}

impl<S> tower::Layer<S> for GrpcContextLayer {
    type Service = GrpcContext<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcContext {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct GrpcContext<S> {
    inner: S,
    layer: GrpcContextLayer,
}

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
        let ctx = self
            .layer
            .auth
            .context(req.headers())
            .and_then(|mut ctx| ctx.require(self.layer.scope).map(|()| ctx));
        match ctx {
            Ok(ctx) => {
                req.extensions_mut().insert(ctx);
                Box::pin(self.inner.call(req))
            }
            Err(e) => {
                tracing::debug!(path = %req.uri().path(), error = %e, "gRPC request refused");
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
    use osprey_config::{AuthConfig, TokenConfig};
    use tower::ServiceExt;

    fn app(auth: Authenticator) -> Router {
        let who = get(|ctx: RequestContext| async move { ctx.tenant().to_string() });
        Router::new()
            .route(
                "/who",
                who.clone().post(|ctx: RequestContext| async move {
                    format!("wrote as {}", ctx.tenant())
                }),
            )
            .route_layer(require_by_method(Scope::Query, Scope::Rules))
            .route("/open", who)
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(auth),
                http_context,
            ))
    }

    async fn call(
        app: &Router,
        method: &str,
        path: &str,
        headers: &[(&str, &[u8])],
    ) -> (u16, String) {
        let mut req = http::Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, http::HeaderValue::from_bytes(v).unwrap());
        }
        let resp = app
            .clone()
            .oneshot(req.body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn without_tokens_the_layer_decides_the_tenant_once() {
        let app = app(Authenticator::default());
        assert_eq!(
            call(&app, "GET", "/who", &[]).await,
            (200, "default".into())
        );
        assert_eq!(
            call(&app, "GET", "/who", &[("X-Scope-OrgID", b"team-a")]).await,
            (200, "team-a".into())
        );
        let (status, body) = call(&app, "GET", "/who", &[("X-Scope-OrgID", b"../etc")]).await;
        assert_eq!(status, 400);
        assert!(body.contains("invalid tenant id"), "{body}");
        let (status, body) = call(&app, "GET", "/who", &[("X-Scope-OrgID", b"caf\xe9")]).await;
        assert_eq!(status, 400);
        assert!(body.contains("not valid ASCII"), "{body}");
    }

    #[tokio::test]
    async fn scopes_are_checked_per_route_and_method() {
        let token = crate::generate_token();
        let cfg = AuthConfig {
            tokens: vec![TokenConfig {
                name: "reader".into(),
                sha256: crate::token_sha256(&token),
                tenants: vec!["a".into()],
                scopes: vec![Scope::Query],
            }],
        };
        let app = app(Authenticator::new(&cfg).unwrap());
        let bearer = format!("Bearer {token}");
        let auth = [("authorization", bearer.as_bytes())];
        assert_eq!(call(&app, "GET", "/who", &auth).await, (200, "a".into()));
        let (status, body) = call(&app, "POST", "/who", &auth).await;
        assert_eq!(status, 403);
        assert!(
            body.contains("scope \\\"rules\\\"") && body.contains("reader"),
            "{body}"
        );
        let (status, body) = call(&app, "GET", "/who", &[]).await;
        assert_eq!(status, 401);
        assert!(body.contains("missing credentials"), "{body}");
        // A route that declared no scope cannot take the context.
        let (status, body) = call(&app, "GET", "/open", &auth).await;
        assert_eq!(status, 500);
        assert!(body.contains("declares no scope"), "{body}");
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
