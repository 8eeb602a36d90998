//! Alertmanager's API v2 over the built-in notifier (`alerting/docs/semantics.md` §8),
//! at the HTTP port's root so that `amtool --alertmanager.url=http://HOST:9800` and
//! Grafana's Alertmanager data source work: status, receivers, alerts (and posting
//! alerts, as other Prometheus servers do), alert groups, silences. Times have exactly
//! three fractional digits, as go-swagger writes them; errors are its JSON strings.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use osprey_auth::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::forward::rfc3339_millis;
use crate::manager::RuleManager;
use crate::notify::alert::NotifyAlert;
use crate::notify::matcher::{Matcher, parse_matchers};
use crate::notify::silence::{Silence, SilenceMatcher};
use crate::notify::{AlertView, Notifier, now_ns};

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::Value::String(message.into()))).into_response()
}

/// An error answer not yet rendered (small, unlike a `Response`).
struct Refusal(StatusCode, serde_json::Value);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Refusal {
    Refusal(status, serde_json::Value::String(message.into()))
}

fn notifier(m: &RuleManager) -> Result<&Notifier, Refusal> {
    m.notifier().ok_or_else(|| {
        refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "no built-in notifier: set [alerting] alertmanager_config",
        )
    })
}

pub(super) async fn status(State(m): State<RuleManager>) -> Response {
    let n = match notifier(&m) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    Json(json!({
        "cluster": {"peers": [], "status": "disabled"},
        "config": {"original": n.config_text()},
        "uptime": rfc3339_millis(n.started_at()),
        "versionInfo": {
            "branch": "osprey",
            "buildDate": "",
            "buildUser": "",
            "goVersion": "",
            "revision": concat!("osprey-", env!("CARGO_PKG_VERSION")),
            // What amtool checks: the Alertmanager release whose API this answers as.
            "version": "0.25.0",
        },
    }))
    .into_response()
}

pub(super) async fn receivers(State(m): State<RuleManager>) -> Response {
    match notifier(&m) {
        Ok(n) => Json(
            n.receiver_names()
                .into_iter()
                .map(|name| json!({ "name": name }))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(r) => r.into_response(),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GettableAlert {
    annotations: BTreeMap<String, String>,
    ends_at: String,
    fingerprint: String,
    receivers: Vec<serde_json::Value>,
    starts_at: String,
    status: serde_json::Value,
    updated_at: String,
    #[serde(rename = "generatorURL", skip_serializing_if = "String::is_empty")]
    generator_url: String,
    labels: BTreeMap<String, String>,
}

fn gettable(v: &AlertView) -> GettableAlert {
    let a = &v.alert;
    let suppressed = !v.silenced_by.is_empty() || !v.inhibited_by.is_empty();
    GettableAlert {
        annotations: a.annotations.clone(),
        ends_at: rfc3339_millis(a.ends_at.unwrap_or(a.starts_at)),
        fingerprint: format!("{:016x}", a.fingerprint()),
        receivers: v.receivers.iter().map(|r| json!({ "name": r })).collect(),
        starts_at: rfc3339_millis(a.starts_at),
        status: json!({
            "inhibitedBy": v.inhibited_by,
            "silencedBy": v.silenced_by,
            "state": if suppressed { "suppressed" } else { "active" },
        }),
        updated_at: rfc3339_millis(a.updated_at),
        generator_url: a.generator_url.clone(),
        labels: a.labels.clone(),
    }
}

/// The query's `filter` matchers and flags.
struct Filter {
    matchers: Vec<Matcher>,
    active: bool,
    silenced: bool,
    inhibited: bool,
    receiver: Option<regex::Regex>,
}

fn filter(q: &[(String, String)]) -> Result<Filter, Refusal> {
    let flag = |name: &str| {
        q.iter()
            .rev()
            .find(|(k, _)| k == name)
            .is_none_or(|(_, v)| v != "false")
    };
    let mut matchers = Vec::new();
    for (k, v) in q {
        if k == "filter" {
            matchers.extend(parse_matchers(v).map_err(|e| refuse(StatusCode::BAD_REQUEST, e))?);
        }
    }
    let receiver = match q.iter().find(|(k, v)| k == "receiver" && !v.is_empty()) {
        Some((_, r)) => Some(
            regex::Regex::new(&format!("^(?:{r})$"))
                .map_err(|e| refuse(StatusCode::BAD_REQUEST, e.to_string()))?,
        ),
        None => None,
    };
    Ok(Filter {
        matchers,
        active: flag("active"),
        silenced: flag("silenced"),
        inhibited: flag("inhibited"),
        receiver,
    })
}

impl Filter {
    fn keeps(&self, v: &AlertView) -> bool {
        let silenced = !v.silenced_by.is_empty();
        let inhibited = !v.inhibited_by.is_empty();
        let active = !silenced && !inhibited;
        (self.active || !active)
            && (self.silenced || !silenced)
            && (self.inhibited || !inhibited)
            && self
                .matchers
                .iter()
                .all(|m| m.matches_labels(&v.alert.labels))
            && self
                .receiver
                .as_ref()
                .is_none_or(|re| v.receivers.iter().any(|r| re.is_match(r)))
    }
}

pub(super) async fn get_alerts(
    State(m): State<RuleManager>,
    ctx: RequestContext,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let (n, f) = match (notifier(&m), filter(&q)) {
        (Ok(n), Ok(f)) => (n, f),
        (Err(r), _) | (_, Err(r)) => return r.into_response(),
    };
    let mut views: Vec<AlertView> = n
        .alerts(ctx.tenant())
        .into_iter()
        .filter(|v| f.keeps(v))
        .collect();
    views.sort_by_key(|v| v.alert.fingerprint());
    Json(views.iter().map(gettable).collect::<Vec<_>>()).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PostableAlert {
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    starts_at: Option<String>,
    #[serde(default)]
    ends_at: Option<String>,
    #[serde(default, rename = "generatorURL")]
    generator_url: String,
}

/// The latest time an alert or silence may name: a day short of the last
/// nanosecond an `i64` holds (2262-04-11), so that adding intervals and retention
/// to it cannot overflow.
const LATEST_NS: i64 = i64::MAX - 86_400 * 1_000_000_000;

/// The time of the field `name` (`None` when unset or Go's zero time).
fn parse_time(name: &str, v: &Option<String>) -> Result<Option<i64>, String> {
    match v.as_deref() {
        None | Some("") | Some("0001-01-01T00:00:00Z") | Some("0001-01-01T00:00:00.000Z") => {
            Ok(None)
        }
        Some(t) => {
            let parsed = chrono::DateTime::parse_from_rfc3339(t)
                .map_err(|e| format!("{name} {t:?}: must be an RFC 3339 time ({e})"))?;
            match parsed.timestamp_nanos_opt() {
                Some(ns) if (-LATEST_NS..=LATEST_NS).contains(&ns) => Ok(Some(ns)),
                _ => Err(format!(
                    "{name} {t:?} is out of range: Osprey holds times from {} to {}",
                    chrono::DateTime::from_timestamp_nanos(-LATEST_NS).to_rfc3339(),
                    chrono::DateTime::from_timestamp_nanos(LATEST_NS).to_rfc3339()
                )),
            }
        }
    }
}

/// Alerts from another Prometheus (or any client): checked as Alertmanager checks
/// them; the valid ones are kept even when others are refused.
pub(super) async fn post_alerts(
    State(m): State<RuleManager>,
    ctx: RequestContext,
    Json(body): Json<Vec<PostableAlert>>,
) -> Response {
    let n = match notifier(&m) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    let now = now_ns();
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for (i, a) in body.into_iter().enumerate() {
        let Some(mut labels) = a.labels else {
            errors.push(format!("{i}.labels in body is required"));
            continue;
        };
        labels.retain(|_, v| !v.is_empty());
        let (starts, ends) = match (
            parse_time("startsAt", &a.starts_at),
            parse_time("endsAt", &a.ends_at),
        ) {
            (Ok(s), Ok(e)) => (s, e),
            (Err(e), _) | (_, Err(e)) => {
                errors.push(e);
                continue;
            }
        };
        if labels.is_empty() {
            errors.push("at least one label pair required".into());
            continue;
        }
        if let Some(bad) = labels
            .keys()
            .find(|k| !crate::rules::validate::is_label_name(k))
        {
            errors.push(format!("invalid label set: invalid name {bad:?}"));
            continue;
        }
        let starts_at = starts.or(ends).unwrap_or(now);
        if ends.is_some_and(|e| e < starts_at) {
            errors.push("start time must be before end time".into());
            continue;
        }
        ok.push(NotifyAlert {
            labels,
            annotations: a.annotations,
            starts_at,
            ends_at: ends,
            generator_url: a.generator_url,
            updated_at: now,
        });
    }
    n.put(ctx.tenant(), ok);
    if errors.is_empty() {
        StatusCode::OK.into_response()
    } else {
        error(StatusCode::BAD_REQUEST, errors.join(";"))
    }
}

pub(super) async fn alert_groups(
    State(m): State<RuleManager>,
    ctx: RequestContext,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let (n, f) = match (notifier(&m), filter(&q)) {
        (Ok(n), Ok(f)) => (n, f),
        (Err(r), _) | (_, Err(r)) => return r.into_response(),
    };
    let mut groups: Vec<(BTreeMap<String, String>, String, Vec<GettableAlert>)> = n
        .alert_groups(ctx.tenant())
        .into_iter()
        .filter_map(|(labels, receiver, views)| {
            let alerts: Vec<GettableAlert> =
                views.iter().filter(|v| f.keeps(v)).map(gettable).collect();
            (!alerts.is_empty()).then_some((labels, receiver, alerts))
        })
        .collect();
    groups.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    Json(
        groups
            .into_iter()
            .map(|(labels, receiver, alerts)| {
                json!({"alerts": alerts, "labels": labels, "receiver": {"name": receiver}})
            })
            .collect::<Vec<_>>(),
    )
    .into_response()
}

fn gettable_silence(s: &Silence, now: i64) -> serde_json::Value {
    json!({
        "id": s.id,
        "status": {"state": s.state(now).as_str()},
        "updatedAt": rfc3339_millis(s.updated_at),
        "comment": s.comment,
        "createdBy": s.created_by,
        "endsAt": rfc3339_millis(s.ends_at),
        "matchers": s.matchers,
        "startsAt": rfc3339_millis(s.starts_at),
    })
}

pub(super) async fn get_silences(
    State(m): State<RuleManager>,
    ctx: RequestContext,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let n = match notifier(&m) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    let mut wanted = Vec::new();
    for (k, v) in &q {
        if k == "filter" {
            match parse_matchers(v) {
                Ok(ms) => wanted.extend(ms),
                Err(e) => return error(StatusCode::BAD_REQUEST, e),
            }
        }
    }
    let now = now_ns();
    let mut list: Vec<Silence> = n
        .silences(ctx.tenant())
        .into_iter()
        .filter(|s| {
            wanted.iter().all(|w| {
                s.matchers
                    .iter()
                    .any(|m| m.compile().is_ok_and(|c| c == *w))
            })
        })
        .collect();
    // Active by end, pending by start, expired by end, newest first.
    list.sort_by_key(|s| {
        let st = s.state(now);
        let key = match st {
            crate::notify::silence::SilenceState::Active => s.ends_at,
            crate::notify::silence::SilenceState::Pending => s.starts_at,
            crate::notify::silence::SilenceState::Expired => -s.ends_at,
        };
        (st, key)
    });
    Json(
        list.iter()
            .map(|s| gettable_silence(s, now))
            .collect::<Vec<_>>(),
    )
    .into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PostableSilence {
    #[serde(default)]
    id: String,
    matchers: Vec<SilenceMatcher>,
    starts_at: String,
    ends_at: String,
    created_by: String,
    comment: String,
}

pub(super) async fn post_silence(
    State(m): State<RuleManager>,
    ctx: RequestContext,
    Json(p): Json<PostableSilence>,
) -> Response {
    let n = match notifier(&m) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    let (starts_at, ends_at) = match (
        parse_time("startsAt", &Some(p.starts_at)),
        parse_time("endsAt", &Some(p.ends_at)),
    ) {
        (Ok(Some(s)), Ok(Some(e))) => (s, e),
        (Err(e), _) | (_, Err(e)) => return error(StatusCode::BAD_REQUEST, e),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "startsAt and endsAt must be RFC 3339 times",
            );
        }
    };
    let s = Silence {
        id: p.id,
        matchers: p.matchers,
        starts_at,
        ends_at,
        updated_at: 0,
        created_by: p.created_by,
        comment: p.comment,
    };
    match n.set_silence(ctx.tenant(), s).await {
        Ok(id) => Json(json!({ "silenceID": id })).into_response(),
        Err(e) => error(e.status(), e.client_message()),
    }
}

fn uuid_or_422(id: &str) -> Result<(), Refusal> {
    uuid::Uuid::parse_str(id).map(|_| ()).map_err(|_| {
        Refusal(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"code": 601, "message": format!("silenceID in path must be of type uuid: {id:?}")}),
        )
    })
}

/// The notifier for a request about silence `id` (a UUID).
fn for_silence<'a>(m: &'a RuleManager, id: &str) -> Result<&'a Notifier, Refusal> {
    let n = notifier(m)?;
    uuid_or_422(id)?;
    Ok(n)
}

pub(super) async fn get_silence(
    State(m): State<RuleManager>,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Response {
    let n = match for_silence(&m, &id) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    match n.silences(ctx.tenant()).into_iter().find(|s| s.id == id) {
        Some(s) => Json(gettable_silence(&s, now_ns())).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

pub(super) async fn delete_silence(
    State(m): State<RuleManager>,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Response {
    let n = match for_silence(&m, &id) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    match n.expire_silence(ctx.tenant(), &id).await {
        Ok(()) => StatusCode::OK.into_response(),
        // Another tenant's silence is not found either, as in post_silence.
        Err(e) => error(e.status(), e.client_message()),
    }
}
