//! promtool's rule unit-test file (`promtool test rules`, 2.42;
//! `alerting/docs/semantics.md` §9): rule files, the evaluation interval, groups'
//! order, and tests of input series, expected alerts and expected query results.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::duration;
use crate::rules::file::Scalar;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    #[serde(default)]
    pub rule_files: Vec<String>,
    #[serde(default, with = "duration::serde_opt")]
    pub evaluation_interval: Option<Duration>,
    #[serde(default)]
    pub group_eval_order: Vec<String>,
    #[serde(default)]
    pub tests: Vec<TestGroup>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestGroup {
    #[serde(default)]
    pub name: String,
    /// Between input samples; 2.42 has no default (every sample at 0).
    #[serde(default, with = "duration::serde_opt")]
    pub interval: Option<Duration>,
    #[serde(default)]
    pub external_labels: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub external_url: Option<String>,
    #[serde(default)]
    pub input_series: Vec<InputSeries>,
    #[serde(default)]
    pub alert_rule_test: Vec<AlertTest>,
    #[serde(default)]
    pub promql_expr_test: Vec<ExprTest>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSeries {
    pub series: String,
    #[serde(default)]
    pub values: Scalar,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertTest {
    #[serde(with = "duration::serde_opt")]
    pub eval_time: Option<Duration>,
    #[serde(default)]
    pub alertname: String,
    #[serde(default)]
    pub exp_alerts: Vec<ExpAlert>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpAlert {
    #[serde(default)]
    pub exp_labels: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub exp_annotations: BTreeMap<String, Scalar>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExprTest {
    pub expr: String,
    #[serde(with = "duration::serde_opt")]
    pub eval_time: Option<Duration>,
    #[serde(default)]
    pub exp_samples: Vec<ExpSample>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpSample {
    #[serde(default)]
    pub labels: String,
    pub value: f64,
}

pub fn parse(text: &str) -> Result<TestFile, String> {
    serde_saphyr::from_str::<TestFile>(text).map_err(|e| e.to_string())
}
