//! `alertmanager.yml` in Alertmanager 0.25's format (`alerting/docs/semantics.md` §7),
//! read strictly: an unknown key is an error, as in Alertmanager. What Osprey's
//! notifier does not do yet (receivers other than webhooks, Slack and PagerDuty, custom
//! templates) is refused by name rather than accepted and ignored. A time interval's
//! entries are read in `timeinterval.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::timeinterval::TimeIntervalConfig;
use crate::duration;
use crate::rules::file::Scalar;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerConfig {
    #[serde(default)]
    pub global: Global,
    pub route: Option<RouteConfig>,
    #[serde(default)]
    pub receivers: Vec<ReceiverConfig>,
    #[serde(default)]
    pub inhibit_rules: Vec<InhibitRuleConfig>,
    #[serde(default)]
    pub templates: Vec<String>,
    #[serde(default)]
    pub time_intervals: Vec<NamedTimeIntervals>,
    /// Deprecated for `time_intervals`; the names of both lists are one namespace.
    #[serde(default)]
    pub mute_time_intervals: Vec<NamedTimeIntervals>,
}

/// A named list of time intervals, which routes name in `mute_time_intervals` and
/// `active_time_intervals`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedTimeIntervals {
    #[serde(default)]
    pub name: Scalar,
    #[serde(default)]
    pub time_intervals: Option<Vec<TimeIntervalConfig>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Global {
    #[serde(default, with = "duration::serde_opt")]
    pub resolve_timeout: Option<Duration>,
    #[serde(default)]
    pub http_config: Option<HttpConfig>,
    #[serde(default)]
    pub slack_api_url: Option<String>,
    #[serde(default)]
    pub pagerduty_url: Option<String>,
}

/// The parts of Prometheus' common HTTP client config a receiver uses.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    #[serde(default)]
    pub authorization: Option<Authorization>,
    #[serde(default)]
    pub bearer_token: Option<String>,
    #[serde(default)]
    pub follow_redirects: Option<bool>,
    #[serde(default)]
    pub enable_http2: Option<bool>,
    #[serde(default)]
    pub tls_config: Option<super::tls::TlsConfig>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub username: String,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub password_file: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub credentials: Option<String>,
    #[serde(default)]
    pub credentials_file: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    #[serde(default)]
    pub receiver: Option<String>,
    #[serde(default)]
    pub group_by: Option<Vec<String>>,
    #[serde(default, rename = "continue")]
    pub continue_: bool,
    #[serde(default, rename = "match")]
    pub match_: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub match_re: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub matchers: Vec<String>,
    #[serde(default, with = "duration::serde_opt")]
    pub group_wait: Option<Duration>,
    #[serde(default, with = "duration::serde_opt")]
    pub group_interval: Option<Duration>,
    #[serde(default, with = "duration::serde_opt")]
    pub repeat_interval: Option<Duration>,
    #[serde(default)]
    pub mute_time_intervals: Vec<String>,
    #[serde(default)]
    pub active_time_intervals: Vec<String>,
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub webhook_configs: Vec<WebhookConfig>,
    #[serde(default)]
    pub slack_configs: Vec<SlackConfig>,
    #[serde(default)]
    pub pagerduty_configs: Vec<PagerDutyConfig>,
    #[serde(default)]
    pub email_configs: Vec<serde_json::Value>,
    #[serde(default)]
    pub opsgenie_configs: Vec<serde_json::Value>,
    #[serde(default)]
    pub pushover_configs: Vec<serde_json::Value>,
    #[serde(default)]
    pub victorops_configs: Vec<serde_json::Value>,
    #[serde(default)]
    pub wechat_configs: Vec<serde_json::Value>,
    #[serde(default)]
    pub telegram_configs: Vec<serde_json::Value>,
    #[serde(default)]
    pub sns_configs: Vec<serde_json::Value>,
    #[serde(default)]
    pub webex_configs: Vec<serde_json::Value>,
    #[serde(default)]
    pub discord_configs: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    #[serde(default)]
    pub url: String,
    /// Default true for webhooks.
    #[serde(default)]
    pub send_resolved: Option<bool>,
    #[serde(default)]
    pub max_alerts: usize,
    #[serde(default)]
    pub http_config: Option<HttpConfig>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    #[serde(default)]
    pub api_url: Option<String>,
    #[serde(default)]
    pub api_url_file: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub title_link: Option<String>,
    #[serde(default)]
    pub pretext: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub fallback: Option<String>,
    #[serde(default)]
    pub callback_id: Option<String>,
    #[serde(default)]
    pub footer: Option<String>,
    #[serde(default)]
    pub icon_emoji: Option<String>,
    #[serde(default)]
    pub icon_url: Option<String>,
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub thumb_url: Option<String>,
    #[serde(default)]
    pub link_names: bool,
    #[serde(default)]
    pub mrkdwn_in: Option<Vec<String>>,
    #[serde(default)]
    pub short_fields: bool,
    #[serde(default)]
    pub fields: Vec<serde_json::Value>,
    #[serde(default)]
    pub actions: Vec<serde_json::Value>,
    /// Default false for Slack.
    #[serde(default)]
    pub send_resolved: Option<bool>,
    #[serde(default)]
    pub http_config: Option<HttpConfig>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyConfig {
    #[serde(default)]
    pub routing_key: Option<String>,
    #[serde(default)]
    pub routing_key_file: Option<String>,
    #[serde(default)]
    pub service_key: Option<String>,
    #[serde(default)]
    pub service_key_file: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub client: Option<String>,
    #[serde(default)]
    pub client_url: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub details: BTreeMap<String, String>,
    #[serde(default)]
    pub images: Vec<serde_json::Value>,
    #[serde(default)]
    pub links: Vec<serde_json::Value>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub class: Option<String>,
    #[serde(default)]
    pub component: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    /// Default true.
    #[serde(default)]
    pub send_resolved: Option<bool>,
    #[serde(default)]
    pub http_config: Option<HttpConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InhibitRuleConfig {
    #[serde(default)]
    pub source_matchers: Vec<String>,
    #[serde(default)]
    pub target_matchers: Vec<String>,
    #[serde(default)]
    pub source_match: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub source_match_re: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub target_match: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub target_match_re: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub equal: Vec<String>,
}

/// Parses the file's text.
pub fn parse(text: &str) -> Result<AlertmanagerConfig, String> {
    serde_saphyr::from_str::<AlertmanagerConfig>(text).map_err(|e| e.to_string())
}

impl ReceiverConfig {
    /// The integrations of this receiver Osprey cannot deliver to yet.
    pub fn unsupported(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        for (name, n) in [
            ("email_configs", self.email_configs.len()),
            ("opsgenie_configs", self.opsgenie_configs.len()),
            ("pushover_configs", self.pushover_configs.len()),
            ("victorops_configs", self.victorops_configs.len()),
            ("wechat_configs", self.wechat_configs.len()),
            ("telegram_configs", self.telegram_configs.len()),
            ("sns_configs", self.sns_configs.len()),
            ("webex_configs", self.webex_configs.len()),
            ("discord_configs", self.discord_configs.len()),
        ] {
            if n > 0 {
                out.push(name);
            }
        }
        out
    }
}
