//! The notifier's configuration checked and compiled: Alertmanager's checks and
//! messages where it has them, each receiver's integrations (webhook, Slack,
//! PagerDuty) with their defaults, the named time intervals given to the routes that
//! use them, and what Osprey does not deliver yet refused by name.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use super::config::{
    self, AlertmanagerConfig, HttpConfig, NamedTimeIntervals, PagerDutyConfig, SlackConfig,
    WebhookConfig,
};
use super::inhibit::InhibitRule;
use super::route::Route;
use super::timeinterval::{Intervals, TimeIntervalConfig};
use super::tls::TlsConfig;
use super::webhook::HttpClient;

/// Alertmanager's `resolve_timeout` default.
pub(super) const RESOLVE_TIMEOUT: Duration = Duration::from_secs(300);

/// One way of notifying of a receiver.
#[derive(Debug, Clone)]
pub enum Integration {
    Webhook(WebhookConfig),
    Slack {
        cfg: SlackConfig,
        url: String,
    },
    PagerDuty {
        cfg: PagerDutyConfig,
        url: String,
        routing_key: String,
    },
}

impl Integration {
    pub fn name(&self) -> &'static str {
        match self {
            Integration::Webhook(_) => "webhook",
            Integration::Slack { .. } => "slack",
            Integration::PagerDuty { .. } => "pagerduty",
        }
    }

    /// Alertmanager's defaults: webhooks and PagerDuty send resolved, Slack not.
    pub(super) fn send_resolved(&self) -> bool {
        match self {
            Integration::Webhook(w) => w.send_resolved.unwrap_or(true),
            Integration::Slack { cfg, .. } => cfg.send_resolved.unwrap_or(false),
            Integration::PagerDuty { cfg, .. } => cfg.send_resolved.unwrap_or(true),
        }
    }

    pub(super) fn url(&self) -> &str {
        match self {
            Integration::Webhook(w) => &w.url,
            Integration::Slack { url, .. } | Integration::PagerDuty { url, .. } => url,
        }
    }

    pub(super) fn http(&self) -> Option<&HttpConfig> {
        match self {
            Integration::Webhook(w) => w.http_config.as_ref(),
            Integration::Slack { cfg, .. } => cfg.http_config.as_ref(),
            Integration::PagerDuty { cfg, .. } => cfg.http_config.as_ref(),
        }
    }
}

/// PagerDuty's Events API v2 (Alertmanager's default `pagerduty_url`).
const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";

fn file_or(inline: &Option<String>, file: &Option<String>) -> Result<Option<String>, String> {
    match (inline, file) {
        (Some(v), _) if !v.is_empty() => Ok(Some(v.clone())),
        (_, Some(f)) => std::fs::read_to_string(f)
            .map(|t| Some(t.trim().to_string()))
            .map_err(|e| format!("{f}: {e}")),
        _ => Ok(None),
    }
}

/// Refuses a field written as a template (custom templates are not supported yet).
fn plain(receiver: &str, field: &str, v: &Option<String>) -> Result<(), String> {
    match v {
        Some(t) if t.contains("{{") => Err(format!(
            "receiver {receiver:?}: {field}: custom notification templates are not supported by Osprey yet (leave it out for Alertmanager's default, or write plain text)"
        )),
        _ => Ok(()),
    }
}

fn slack_integration(
    receiver: &str,
    c: &SlackConfig,
    global: &config::Global,
) -> Result<Integration, String> {
    let url = file_or(&c.api_url, &c.api_url_file)?
        .or_else(|| global.slack_api_url.clone())
        .ok_or("no global Slack API URL set either inline or in a file")?;
    for (f, v) in [
        ("title", &c.title),
        ("title_link", &c.title_link),
        ("text", &c.text),
        ("pretext", &c.pretext),
        ("fallback", &c.fallback),
        ("color", &c.color),
        ("channel", &c.channel),
        ("username", &c.username),
        ("footer", &c.footer),
    ] {
        plain(receiver, f, v)?;
    }
    if !c.fields.is_empty() || !c.actions.is_empty() {
        return Err(format!(
            "receiver {receiver:?}: Slack fields and actions are not supported by Osprey yet"
        ));
    }
    Ok(Integration::Slack {
        cfg: c.clone(),
        url,
    })
}

fn pagerduty_integration(
    receiver: &str,
    c: &PagerDutyConfig,
    global: &config::Global,
) -> Result<Integration, String> {
    if c.service_key.is_some() || c.service_key_file.is_some() {
        return Err(format!(
            "receiver {receiver:?}: PagerDuty's Events API v1 (service_key) is not supported by Osprey; use routing_key"
        ));
    }
    let routing_key = file_or(&c.routing_key, &c.routing_key_file)?
        .ok_or("missing service or routing key in PagerDuty config")?;
    for (f, v) in [
        ("description", &c.description),
        ("client_url", &c.client_url),
        ("severity", &c.severity),
    ] {
        plain(receiver, f, v)?;
    }
    if c.details.values().any(|v| v.contains("{{")) {
        return Err(format!(
            "receiver {receiver:?}: details: custom notification templates are not supported by Osprey yet"
        ));
    }
    if !c.images.is_empty() || !c.links.is_empty() {
        return Err(format!(
            "receiver {receiver:?}: PagerDuty images and links are not supported by Osprey yet"
        ));
    }
    let url = c
        .url
        .clone()
        .or_else(|| global.pagerduty_url.clone())
        .unwrap_or_else(|| PAGERDUTY_URL.to_string());
    Ok(Integration::PagerDuty {
        cfg: c.clone(),
        url,
        routing_key,
    })
}

/// Named time intervals as read: (which list, name, entries).
type ReadIntervals = Vec<(&'static str, String, Intervals)>;

/// Each named list's entries checked (Alertmanager does this while reading the file,
/// before its other checks), with the list it came from.
fn read_time_intervals(cfg: &AlertmanagerConfig) -> Result<ReadIntervals, String> {
    let lists: [(&'static str, &Vec<NamedTimeIntervals>); 2] = [
        ("mute time interval", &cfg.mute_time_intervals),
        ("time interval", &cfg.time_intervals),
    ];
    let mut out = Vec::new();
    for (what, list) in lists {
        for n in list {
            let entries = n
                .time_intervals
                .iter()
                .flatten()
                .map(TimeIntervalConfig::compile)
                .collect::<Result<Vec<_>, _>>()?;
            if n.name.as_str().is_empty() {
                return Err(format!("missing name in {what}"));
            }
            out.push((what, n.name.to_string(), Intervals::from(entries)));
        }
    }
    Ok(out)
}

/// The named time intervals by name: names are unique across both lists.
fn name_time_intervals(read: ReadIntervals) -> Result<HashMap<String, Intervals>, String> {
    let mut named = HashMap::new();
    for (what, name, entries) in read {
        if named.insert(name.clone(), entries).is_some() {
            return Err(format!("{what} {name:?} is not unique"));
        }
    }
    Ok(named)
}

/// A configuration ready to run.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The file as written (`/api/v2/status` shows it; amtool reads routes from it).
    pub text: String,
    /// Receiver names in the file's order.
    pub receiver_order: Vec<String>,
    pub root: Route,
    pub receivers: HashMap<String, Vec<Integration>>,
    pub http: Option<HttpConfig>,
    pub inhibit: Vec<InhibitRule>,
    pub resolve_timeout: Duration,
    /// A client per distinct `tls_config` in the file.
    pub tls_clients: TlsClients,
}

/// The HTTP clients of the file's `tls_config`s, built when it loads.
#[derive(Clone, Default)]
pub struct TlsClients(Vec<(TlsConfig, HttpClient)>);

impl std::fmt::Debug for TlsClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(c, _)| c))
            .finish()
    }
}

impl TlsClients {
    /// The client for `http`'s TLS settings; `None` when it has none.
    pub fn get(&self, http: Option<&HttpConfig>) -> Option<&HttpClient> {
        let tls = http?.tls_config.as_ref()?;
        self.0
            .iter()
            .find(|(c, _)| c == tls)
            .map(|(_, client)| client)
    }

    fn build<'a>(
        configs: impl Iterator<Item = Option<&'a HttpConfig>>,
        base: &Path,
    ) -> Result<Self, String> {
        let mut out: Vec<(TlsConfig, HttpClient)> = Vec::new();
        for tls in configs.flatten().filter_map(|h| h.tls_config.as_ref()) {
            if !out.iter().any(|(c, _)| c == tls) {
                out.push((tls.clone(), super::tls::client(tls, base)?));
            }
        }
        Ok(TlsClients(out))
    }
}

/// Reads and checks an `alertmanager.yml`, with Alertmanager's messages where it has
/// them; what Osprey does not deliver yet is refused by name.
/// Files it names (CA, client certificates) are relative to its directory.
pub fn load(path: &Path) -> Result<Compiled, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    compile_in(&text, base).map_err(|e| format!("{}: {e}", path.display()))
}

/// [`load`] of a text, files relative to the working directory.
pub fn compile(text: &str) -> Result<Compiled, String> {
    compile_in(text, Path::new("."))
}

fn compile_in(text: &str, base: &Path) -> Result<Compiled, String> {
    let cfg: AlertmanagerConfig = config::parse(text)?;
    let time_intervals = read_time_intervals(&cfg)?;
    let Some(route_cfg) = &cfg.route else {
        return Err("no routes provided".into());
    };
    if route_cfg.receiver.as_deref().unwrap_or("").is_empty() {
        return Err("root route must specify a default receiver".into());
    }
    if !(route_cfg.match_.is_empty()
        && route_cfg.match_re.is_empty()
        && route_cfg.matchers.is_empty())
    {
        return Err("root route must not have any matchers".into());
    }
    if !route_cfg.mute_time_intervals.is_empty() {
        return Err("root route must not have any mute time intervals".into());
    }
    if !route_cfg.active_time_intervals.is_empty() {
        return Err("root route must not have any active time intervals".into());
    }
    if route_cfg.continue_ {
        return Err("cannot have continue in root route".into());
    }
    if !cfg.templates.is_empty() {
        return Err("templates: notification templates are not supported by Osprey yet".into());
    }
    let mut root = Route::build(route_cfg, None, 0)?;
    let mut receivers = HashMap::new();
    let receiver_order = cfg.receivers.iter().map(|r| r.name.clone()).collect();
    for r in &cfg.receivers {
        if r.name.is_empty() {
            return Err("missing name in receiver".into());
        }
        if receivers.contains_key(&r.name) {
            return Err(format!(
                "notification config name {:?} is not unique",
                r.name
            ));
        }
        if let Some(kind) = r.unsupported().first() {
            return Err(format!(
                "receiver {:?}: {kind} are not supported by Osprey yet (webhook, slack and pagerduty configs are)",
                r.name
            ));
        }
        let mut integrations = Vec::new();
        for w in &r.webhook_configs {
            if w.url.is_empty() {
                return Err("missing URL in webhook config".into());
            }
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                return Err("scheme required for webhook url".into());
            }
            integrations.push(Integration::Webhook(w.clone()));
        }
        for c in &r.slack_configs {
            integrations.push(slack_integration(&r.name, c, &cfg.global)?);
        }
        for c in &r.pagerduty_configs {
            integrations.push(pagerduty_integration(&r.name, c, &cfg.global)?);
        }
        receivers.insert(r.name.clone(), integrations);
    }
    for name in root.receivers() {
        if !receivers.contains_key(name) {
            return Err(format!("undefined receiver {name:?} used in route"));
        }
    }
    root.resolve_time_intervals(&name_time_intervals(time_intervals)?)?;
    let inhibit = cfg
        .inhibit_rules
        .iter()
        .map(InhibitRule::build)
        .collect::<Result<Vec<_>, _>>()?;
    let https = std::iter::once(cfg.global.http_config.as_ref())
        .chain(receivers.values().flatten().map(Integration::http));
    let tls_clients = TlsClients::build(https, base)?;
    Ok(Compiled {
        text: text.to_string(),
        receiver_order,
        root,
        receivers,
        http: cfg.global.http_config.clone(),
        inhibit,
        resolve_timeout: cfg.global.resolve_timeout.unwrap_or(RESOLVE_TIMEOUT),
        tls_clients,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_are_checked_with_alertmanagers_words() {
        let ok = compile("route:\n  receiver: hook\nreceivers:\n  - name: hook\n    webhook_configs: [{url: 'http://127.0.0.1:1/'}]\n").unwrap();
        assert_eq!(ok.resolve_timeout, RESOLVE_TIMEOUT);
        for (text, want) in [
            ("receivers: []\n", "no routes provided"),
            ("route: {}\n", "root route must specify a default receiver"),
            (
                "route: {receiver: x}\nreceivers: []\n",
                "undefined receiver \"x\" used in route",
            ),
            (
                "route: {receiver: x, matchers: [a=b]}\nreceivers: [{name: x}]\n",
                "root route must not have any matchers",
            ),
            (
                "route: {receiver: x}\nreceivers: [{name: x, webhook_configs: [{url: ''}]}]\n",
                "missing URL in webhook config",
            ),
            (
                "route: {receiver: x}\nreceivers: [{name: x, slack_configs: [{channel: '#a'}]}]\n",
                "no global Slack API URL set",
            ),
            (
                "route: {receiver: x}\nreceivers: [{name: x, slack_configs: [{api_url: 'http://s', title: '{{ .Status }}'}]}]\n",
                "custom notification templates are not supported",
            ),
            (
                "route: {receiver: x}\nreceivers: [{name: x, pagerduty_configs: [{}]}]\n",
                "missing service or routing key in PagerDuty config",
            ),
            (
                "route: {receiver: x}\nreceivers: [{name: x, email_configs: [{to: a@b}]}]\n",
                "email_configs are not supported",
            ),
            (
                "route: {receiver: x}\nreceivers: [{name: x}, {name: x}]\n",
                "is not unique",
            ),
            (
                "route: {receiver: x, group_interval: 0s}\nreceivers: [{name: x}]\n",
                "group_interval cannot be zero",
            ),
            (
                "route: {receiver: x}\nreceivers: [{name: x}]\nbogus: 1\n",
                "bogus",
            ),
        ] {
            let e = compile(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn time_intervals_are_named_once_and_given_to_their_routes() {
        let receivers = "receivers: [{name: x}]\n";
        let ok = compile(&format!(
            "time_intervals:\n  - name: weekend\n    time_intervals: [{{weekdays: ['saturday', 'sunday']}}]\nmute_time_intervals:\n  - name: nights\n    time_intervals:\n      - times: [{{start_time: '22:00', end_time: '24:00'}}]\n      - times: [{{start_time: '00:00', end_time: '06:00'}}]\nroute:\n  receiver: x\n  routes:\n    - receiver: x\n      mute_time_intervals: [weekend, nights]\n      routes: [{{receiver: x, active_time_intervals: [nights]}}]\n{receivers}"
        ))
        .unwrap();
        let child = &ok.root.routes[0];
        assert_eq!(child.times.mute.len(), 2);
        assert_eq!(child.times.mute[1].len(), 2);
        assert!(child.times.active.is_empty());
        // Not inherited.
        assert!(child.routes[0].times.mute.is_empty());
        assert_eq!(child.routes[0].times.active.len(), 1);
        assert!(ok.root.times.mute.is_empty());
        for (text, want) in [
            (
                "route: {receiver: x, routes: [{mute_time_intervals: [nope]}]}\n",
                "undefined time interval \"nope\" used in route",
            ),
            (
                "route: {receiver: x, routes: [{active_time_intervals: [nope]}]}\n",
                "undefined time interval \"nope\" used in route",
            ),
            (
                "time_intervals: [{name: a}]\nroute: {receiver: x, mute_time_intervals: [a]}\n",
                "root route must not have any mute time intervals",
            ),
            (
                "time_intervals: [{name: a}]\nroute: {receiver: x, active_time_intervals: [a]}\n",
                "root route must not have any active time intervals",
            ),
            (
                "time_intervals: [{name: a}, {name: a}]\nroute: {receiver: x}\n",
                "time interval \"a\" is not unique",
            ),
            (
                "mute_time_intervals: [{name: a}, {name: a}]\nroute: {receiver: x}\n",
                "mute time interval \"a\" is not unique",
            ),
            (
                "mute_time_intervals: [{name: a}]\ntime_intervals: [{name: a}]\nroute: {receiver: x}\n",
                "time interval \"a\" is not unique",
            ),
            (
                "time_intervals: [{time_intervals: []}]\nroute: {receiver: x}\n",
                "missing name in time interval",
            ),
            (
                "mute_time_intervals: [{name: ~}]\nroute: {receiver: x}\n",
                "missing name in mute time interval",
            ),
            (
                "time_intervals: [{name: a, time_intervals: [{weekdays: [funday]}]}]\nroute: {receiver: x}\n",
                "funday is not a valid weekday",
            ),
            (
                "time_intervals: [{name: a, time_intervals: [{location: Nowhere/Town}]}]\nroute: {receiver: x}\n",
                "unknown time zone Nowhere/Town",
            ),
        ] {
            let e = compile(&format!("{text}{receivers}")).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
