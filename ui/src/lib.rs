//! `osprey-ui`: Osprey's web UI, embedded into the binary.
//!
//! This crate owns the browser front end: the Vite + TypeScript + Preact project in
//! `ui/web/` (pages per view, loaded on demand; see its README), which `build.rs`
//! builds with npm at compile time and embeds file by file with `include_bytes!`, and
//! the axum routes that serve it. The app only talks to the server's public HTTP APIs
//! on the same origin; it owns no API routes of its own.
//!
//! Serving:
//! - `/` (and `/index.html`) and every view's route ([`VIEWS`]: history routing, so
//!   a pasted link opens its view): the app, `Cache-Control: no-cache`;
//! - `/assets/{*path}`: content-hashed bundles, cached as immutable for a year;
//! - any other top-level file of the build, by name, `no-cache`;
//! - anything else is left to the surrounding app (its fallback, normally 404).
//!
//! Merge [`router`] into the server's router; [`asset`] and [`asset_response`]
//! are there for a custom fallback.
//!
//! Building needs Node.js and npm (see `build.rs`), or `OSPREY_UI_DIST` pointing
//! at a prebuilt `dist/` directory.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

// Defines `static ASSETS: &[(&str, &[u8])]`, sorted by path (see build.rs).
include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// `Cache-Control` for content-hashed files under `assets/`.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` for everything else (index.html must always be revalidated).
const NO_CACHE: &str = "no-cache";

/// The app's own routes (its router reads the path): each answers with index.html.
pub const VIEWS: &[&str] = &[
    "/logs",
    "/explore",
    "/traces",
    "/trace/{trace_id}",
    "/services",
    "/services/{name}",
    "/hosts",
    "/hosts/{instance}",
    "/alerts",
    "/dashboards",
    "/d/{id}",
];

/// Routes serving the embedded UI: `/`, the views, `/assets/{*path}` and the build's
/// other top-level files (e.g. `/index.html`). Paths not listed are not matched, so
/// they fall through to the surrounding router's fallback.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new()
        .route("/", get(index))
        .route("/assets/{*path}", get(hashed_asset));
    for view in VIEWS {
        router = router.route(view, get(index));
    }
    for &(path, _) in ASSETS {
        if is_plain_top_level_name(path) {
            router = router.route(
                &format!("/{path}"),
                get(move || async move { asset_response(path) }),
            );
        }
    }
    router
}

/// The embedded file at `path` (relative to the build root, `/`-separated; a
/// leading `/` is ignored), e.g. `index.html` or `assets/index-abc123.js`.
pub fn asset(path: &str) -> Option<&'static [u8]> {
    let path = path.strip_prefix('/').unwrap_or(path);
    ASSETS
        .binary_search_by(|(p, _)| (*p).cmp(path))
        .ok()
        .and_then(|i| ASSETS.get(i))
        .map(|&(_, bytes)| bytes)
}

/// Paths of all embedded files, sorted.
pub fn asset_paths() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|&(path, _)| path)
}

/// The HTTP response for the embedded file at `path` (as for [`asset`]; an
/// empty path means `index.html`): 200 with its Content-Type and
/// Cache-Control, or a plain 404.
pub fn asset_response(path: &str) -> Response {
    let path = path.strip_prefix('/').unwrap_or(path);
    let path = if path.is_empty() { "index.html" } else { path };
    match asset(path) {
        Some(bytes) => (
            StatusCode::OK,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(content_type(path)),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static(cache_control(path)),
                ),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
            ],
            bytes,
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            )],
            "not found\n",
        )
            .into_response(),
    }
}

/// The Content-Type for a file name, by extension (case-insensitive);
/// `application/octet-stream` when unknown.
pub fn content_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = match name.rsplit_once('.') {
        Some((_, ext)) => ext.to_ascii_lowercase(),
        None => return "application/octet-stream",
    };
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "txt" => "text/plain; charset=utf-8",
        "woff2" => "font/woff2",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// Hashed bundles under `assets/` never change; everything else must be
/// revalidated so a new binary's UI is picked up at once.
fn cache_control(path: &str) -> &'static str {
    if path.starts_with("assets/") {
        IMMUTABLE
    } else {
        NO_CACHE
    }
}

/// Top-level files get an explicit route each; names that axum would read as
/// route syntax (or reject) are skipped and only reachable via [`asset_response`].
fn is_plain_top_level_name(path: &str) -> bool {
    !path.is_empty()
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

async fn index() -> Response {
    asset_response("index.html")
}

async fn hashed_asset(Path(path): Path<String>) -> Response {
    asset_response(&format!("assets/{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_str(resp: &Response, name: header::HeaderName) -> &str {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    #[test]
    fn index_html_is_embedded_and_branded() {
        let html = asset("index.html").expect("index.html is embedded");
        let html = std::str::from_utf8(html).expect("index.html is UTF-8");
        assert!(html.contains("Osprey"), "index.html should mention Osprey");
        assert!(
            html.contains("id=\"app\""),
            "index.html should hold the app's root"
        );
        assert_eq!(asset("/index.html"), asset("index.html"));
    }

    #[test]
    fn index_references_only_embedded_assets() {
        let html = std::str::from_utf8(asset("index.html").unwrap()).unwrap();
        let mut referenced = 0;
        for (i, _) in html.match_indices("\"/assets/") {
            let rest = &html[i + 2..];
            let end = rest.find('"').unwrap();
            let path = &rest[..end];
            assert!(
                asset(path).is_some(),
                "index.html references missing {path}"
            );
            referenced += 1;
        }
        assert!(referenced >= 1, "index.html should load a bundled script");
        assert!(asset_paths().any(|p| p.starts_with("assets/") && p.ends_with(".js")));
    }

    #[test]
    fn table_is_sorted_and_relative() {
        let paths: Vec<&str> = asset_paths().collect();
        assert!(
            paths.windows(2).all(|w| w[0] < w[1]),
            "ASSETS must be sorted: {paths:?}"
        );
        for p in paths {
            assert!(
                !p.starts_with('/') && !p.contains('\\') && !p.contains(".."),
                "{p}"
            );
            assert!(asset(p).is_some());
        }
        assert!(asset("missing.js").is_none());
        assert!(asset("").is_none());
    }

    #[test]
    fn content_types_map_by_extension() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(
            content_type("assets/index-abc.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            content_type("assets/index-abc.css"),
            "text/css; charset=utf-8"
        );
        assert_eq!(content_type("logo.svg"), "image/svg+xml");
        assert_eq!(content_type("a/b.PNG"), "image/png");
        assert_eq!(content_type("favicon.ico"), "image/x-icon");
        assert_eq!(content_type("manifest.json"), "application/json");
        assert_eq!(content_type("assets/index-abc.js.map"), "application/json");
        assert_eq!(content_type("data.bin"), "application/octet-stream");
        assert_eq!(content_type("LICENSE"), "application/octet-stream");
        assert_eq!(content_type("dir.d/noext"), "application/octet-stream");
    }

    #[test]
    fn responses_carry_type_and_cache_headers() {
        let index = asset_response("");
        assert_eq!(index.status(), StatusCode::OK);
        assert_eq!(
            header_str(&index, header::CONTENT_TYPE),
            "text/html; charset=utf-8"
        );
        assert_eq!(header_str(&index, header::CACHE_CONTROL), "no-cache");

        let js = asset_paths()
            .find(|p| p.starts_with("assets/") && p.ends_with(".js"))
            .unwrap();
        let resp = asset_response(&format!("/{js}"));
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            header_str(&resp, header::CONTENT_TYPE),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(header_str(&resp, header::CACHE_CONTROL), IMMUTABLE);

        let missing = asset_response("assets/nope.js");
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn router_builds() {
        let _: Router = router();
        let _: Router<u32> = router();
        assert!(is_plain_top_level_name("index.html"));
        assert!(!is_plain_top_level_name("assets/x.js"));
        assert!(!is_plain_top_level_name("{x}"));
    }
}
