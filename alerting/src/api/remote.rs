//! A querier's alerting API in a cluster (`storage/docs/format/cluster.md`, "Rules and
//! alerts"): the rules and the notifier run on the compactor, so every alerting route
//! is passed on to it (`cluster.compactor`, its node-to-node address) with the cluster
//! token and the asking tenant, and its answer is given back unchanged. Each route
//! keeps its scope here, as [`super::router`] checks it, since the compactor trusts
//! the cluster token with every scope.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{MethodRouter, any};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use osprey_auth::{RequestContext, Scope, require};

use super::{ALERTMANAGER_PATHS, READ_PATHS, WRITE_PATHS};

/// The largest request body passed on (a rule group or a silence).
const MAX_BODY: usize = 4 << 20;

/// Where the alerting API is answered.
struct Compactor {
    addr: String,
    token: String,
    timeout: Duration,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// The alerting routes of [`super::router`], each passed on to the compactor at
/// `addr` with `token`, answered within `timeout`.
pub fn remote_router(addr: String, token: String, timeout: Duration) -> Router {
    let state = Arc::new(Compactor {
        addr,
        token,
        timeout,
        client: Client::builder(TokioExecutor::new()).build_http(),
    });
    let group = |paths: &[&str], scope: Scope| {
        let mut r = Router::new();
        for p in paths {
            let route: MethodRouter<Arc<Compactor>> = any(pass_on);
            r = r.route(p, route);
        }
        r.route_layer(require(scope))
    };
    group(READ_PATHS, Scope::Query)
        .merge(group(WRITE_PATHS, Scope::Rules))
        .merge(group(ALERTMANAGER_PATHS, Scope::Alerts))
        .with_state(state)
}

async fn pass_on(State(c): State<Arc<Compactor>>, ctx: RequestContext, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return error(StatusCode::PAYLOAD_TOO_LARGE, format!("request body: {e}")),
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut out = http::Request::builder()
        .method(parts.method.clone())
        .uri(format!("http://{}{path}", c.addr))
        .header(header::AUTHORIZATION, format!("Bearer {}", c.token))
        .header(osprey_auth::TENANT_HEADER, ctx.tenant.as_str());
    for name in [header::CONTENT_TYPE, header::ACCEPT] {
        if let Some(v) = parts.headers.get(&name) {
            out = out.header(name, v);
        }
    }
    let out = match out.body(Full::new(body)) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let unavailable = |what: String| {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the compactor at {} (cluster.compactor), which runs the rules and the notifier, {what}",
                c.addr
            ),
        )
    };
    let call = async {
        let resp = c.client.request(out).await.map_err(|e| e.to_string())?;
        let (head, body) = resp.into_parts();
        let bytes = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok::<_, String>((head, bytes))
    };
    let (head, bytes) = match tokio::time::timeout(c.timeout, call).await {
        Err(_) => return unavailable(format!("did not answer within {:?}", c.timeout)),
        Ok(Err(e)) => return unavailable(format!("did not answer: {e}")),
        Ok(Ok(answered)) => answered,
    };
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = head.status;
    if let Some(v) = head.headers.get(header::CONTENT_TYPE) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v.clone());
    }
    resp
}

/// Prometheus' error shape (`api::prometheus_error`), never cached.
fn error(status: StatusCode, message: String) -> Response {
    let mut r = super::prometheus_error(status, message);
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use osprey_auth::Authenticator;

    use super::*;
    use crate::eval::Backend;
    use crate::manager::{Outputs, RuleManager};
    use serde_json::json;

    const CLUSTER_TOKEN: &str = "cluster-secret";

    /// A compactor's alerting API (a real rule manager over real storage) behind the
    /// cluster token, recording the tenant each request was answered for.
    async fn compactor(
        dir: &std::path::Path,
        seen: Arc<Mutex<Vec<String>>>,
    ) -> (String, tokio::sync::watch::Sender<bool>) {
        let path = dir.to_path_buf();
        let storage = tokio::task::spawn_blocking(move || {
            osprey_storage::Storage::open(&path, osprey_config::StorageConfig::default())
        })
        .await
        .unwrap()
        .unwrap();
        let query = osprey_query::QueryState::new(storage, osprey_config::QueryConfig::default());
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let manager = RuleManager::new(
            Backend {
                query,
                output: None,
            },
            osprey_config::RulesConfig::default(),
            &osprey_config::AlertingConfig::default(),
            dir,
            Outputs {
                external_url: "http://osprey".into(),
                notifier: None,
                metrics: crate::AlertingMetrics::default(),
            },
            stopped,
        );
        let record =
            axum::middleware::from_fn(move |req: Request, next: axum::middleware::Next| {
                let tenant = req
                    .extensions()
                    .get::<RequestContext>()
                    .map(|ctx| ctx.tenant.as_str().to_string());
                seen.lock().unwrap().extend(tenant);
                next.run(req)
            });
        let app = super::super::router(manager).layer(record).layer(
            axum::middleware::from_fn_with_state(
                Arc::new(Authenticator::cluster(CLUSTER_TOKEN)),
                osprey_auth::http_context,
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (addr, stop)
    }

    /// The querier's side: the remote router behind API tokens; returns the address
    /// and a token per scope set asked for.
    async fn querier(compactor: &str, scopes: &[&[Scope]]) -> (String, Vec<String>) {
        let mut auth = Authenticator::cluster("not-an-api-token");
        let tokens = scopes
            .iter()
            .enumerate()
            .map(|(i, s)| auth.add_internal(&format!("user-{i}"), "team-a", s))
            .collect();
        let app = remote_router(
            compactor.to_string(),
            CLUSTER_TOKEN.into(),
            Duration::from_secs(5),
        )
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(auth),
            osprey_auth::http_context,
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (addr, tokens)
    }

    async fn get(addr: &str, path: &str, token: &str) -> (StatusCode, serde_json::Value) {
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let req = http::Request::get(format!("http://{addr}{path}"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(osprey_auth::TENANT_HEADER, "team-a")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let resp = client.request(req).await.unwrap();
        let status = resp.status();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_querier_passes_the_alerting_api_on_with_the_tenant_and_keeps_the_scopes() {
        let dir = tempfile::tempdir().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (c, _stop) = compactor(dir.path(), Arc::clone(&seen)).await;
        let (q, tokens) = querier(&c, &[&[Scope::Query], &[Scope::Query, Scope::Alerts]]).await;

        // The answer is the compactor's own, for the asking token's tenant.
        let (status, body) = get(&q, "/api/v1/rules", &tokens[0]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (_, direct) = get(&c, "/api/v1/rules", CLUSTER_TOKEN).await;
        assert_eq!(body, direct);
        assert_eq!(body["data"]["groups"], json!([]));
        let (status, body) = get(&q, "/api/v1/alerts?type=alert", &tokens[0]).await;
        assert_eq!(
            (status, &body["status"]),
            (StatusCode::OK, &json!("success"))
        );
        assert_eq!(*seen.lock().unwrap(), vec!["team-a"; 3]);

        // The querier checks the route's scope: the compactor trusts the cluster token.
        let (status, body) = get(&q, "/api/v2/status", &tokens[0]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(seen.lock().unwrap().len(), 3, "not passed on");
        let (status, _) = get(&q, "/api/v2/status", &tokens[1]).await;
        assert_ne!(status, StatusCode::FORBIDDEN);
        assert_eq!(seen.lock().unwrap().len(), 4);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_compactor_that_does_not_answer_is_a_503_naming_it() {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = free.local_addr().unwrap().to_string();
        drop(free);
        let (q, tokens) = querier(&addr, &[&[Scope::Query]]).await;
        let (status, body) = get(&q, "/api/v1/rules", &tokens[0]).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["errorType"], "unavailable");
        let message = body["error"].as_str().unwrap();
        assert!(
            message.contains(&addr) && message.contains("cluster.compactor"),
            "{message}"
        );
    }
}
