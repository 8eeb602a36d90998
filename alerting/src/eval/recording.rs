//! A recording rule (Prometheus' `rules/recording.go`): the query's result renamed to
//! `record`, with the rule's labels set (literally, no templates; an empty value
//! removes the label).

use osprey_promql::Labels;

use super::{OutSample, Sample};

#[derive(Debug, Clone)]
pub struct RecordingRule {
    pub record: String,
    pub expr: String,
    /// Group labels first, then the rule's (which win).
    pub labels: Vec<(String, String)>,
}

impl RecordingRule {
    /// The samples to write for the query's result, or Prometheus' error.
    pub fn eval(&self, result: Vec<Sample>, limit: usize) -> Result<Vec<OutSample>, String> {
        let mut out: Vec<OutSample> = Vec::with_capacity(result.len());
        let mut seen = std::collections::HashSet::with_capacity(result.len());
        for s in result {
            let mut pairs = s.labels;
            for (k, v) in &self.labels {
                pairs.retain(|(x, _)| x != k);
                pairs.push((k.clone(), v.clone()));
            }
            pairs.retain(|(x, _)| x != "__name__");
            pairs.push(("__name__".into(), self.record.clone()));
            let labels = Labels::new(pairs);
            if !seen.insert(labels.clone()) {
                return Err(
                    "vector contains metrics with the same labelset after applying rule labels"
                        .into(),
                );
            }
            out.push(OutSample {
                labels,
                value: s.value,
            });
        }
        if limit > 0 && out.len() > limit {
            return Err(format!(
                "exceeded limit of {limit} with {} series",
                out.len()
            ));
        }
        Ok(out)
    }
}
