//! Silences (Alertmanager's `silence/silence.go`; `alerting/docs/semantics.md` §8):
//! matchers over alert labels between a start and an end, with author and comment.
//! A silence is pending before its start, active until its end, expired after; an
//! active one mutes the alerts it matches. Updating keeps the id when only the end (or
//! a pending start) changes, else the old one is expired and a new one made. Expired
//! silences are kept 120 h (Alertmanager's `--data.retention`). Each tenant's are
//! saved whole as the document `silences.json` (a JSON array of these structs).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::matcher::{MatchType, Matcher};
use crate::error::AlertingError;
use crate::rules::validate::is_label_name;

/// How long an expired silence is kept.
pub const RETENTION_NS: i64 = 120 * 3600 * 1_000_000_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SilenceMatcher {
    pub name: String,
    pub value: String,
    pub is_regex: bool,
    #[serde(default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

impl SilenceMatcher {
    pub fn compile(&self) -> Result<Matcher, String> {
        let kind = match (self.is_regex, self.is_equal) {
            (false, true) => MatchType::Equal,
            (false, false) => MatchType::NotEqual,
            (true, true) => MatchType::Regexp,
            (true, false) => MatchType::NotRegexp,
        };
        Matcher::new(&self.name, kind, &self.value)
    }
}

/// Times are Unix ns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<SilenceMatcher>,
    pub starts_at: i64,
    pub ends_at: i64,
    pub updated_at: i64,
    pub created_by: String,
    pub comment: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SilenceState {
    Active,
    Pending,
    Expired,
}

impl SilenceState {
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Active => "active",
            SilenceState::Pending => "pending",
            SilenceState::Expired => "expired",
        }
    }
}

impl Silence {
    pub fn state(&self, now: i64) -> SilenceState {
        if now < self.starts_at {
            SilenceState::Pending
        } else if now > self.ends_at {
            SilenceState::Expired
        } else {
            SilenceState::Active
        }
    }

    /// Whether it mutes an alert with these labels now.
    pub fn mutes(&self, labels: &BTreeMap<String, String>, now: i64) -> bool {
        self.state(now) == SilenceState::Active
            && self
                .matchers
                .iter()
                .all(|m| m.compile().is_ok_and(|c| c.matches_labels(labels)))
    }

    /// Alertmanager's checks of a silence.
    pub fn validate(&self) -> Result<(), String> {
        if self.matchers.is_empty() {
            return Err("at least one matcher required".into());
        }
        let mut all_match_empty = true;
        for m in &self.matchers {
            if !is_label_name(&m.name) {
                return Err(format!("invalid label name {:?}", m.name));
            }
            let c = m.compile()?;
            all_match_empty &= c.matches("");
        }
        if all_match_empty {
            return Err("at least one matcher must not match the empty string".into());
        }
        if self.ends_at < self.starts_at {
            return Err("start time must be before end time".into());
        }
        Ok(())
    }
}

/// One tenant's silences.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Silences(pub Vec<Silence>);

impl Silences {
    /// Creates or updates `s` (its `id` empty: create) and returns its id.
    pub fn set(&mut self, mut s: Silence, now: i64) -> Result<String, AlertingError> {
        s.validate()
            .map_err(|e| AlertingError::Invalid(format!("silence invalid: {e}")))?;
        if s.ends_at < now {
            return Err(AlertingError::Invalid(
                "Failed to create silence: end time can't be in the past".into(),
            ));
        }
        if !s.id.is_empty() {
            let Some(old) = self.0.iter_mut().find(|o| o.id == s.id) else {
                return Err(not_found());
            };
            let same_matchers = old.matchers == s.matchers;
            let in_place = same_matchers
                && match old.state(now) {
                    SilenceState::Active => {
                        old.starts_at / 1_000_000_000 == s.starts_at / 1_000_000_000
                    }
                    SilenceState::Pending => s.starts_at >= now,
                    SilenceState::Expired => false,
                };
            if in_place {
                old.ends_at = s.ends_at;
                old.starts_at = s.starts_at;
                old.comment = s.comment;
                old.created_by = s.created_by;
                old.updated_at = now;
                return Ok(old.id.clone());
            }
            expire(old, now);
        }
        s.id = uuid::Uuid::new_v4().to_string();
        s.starts_at = s.starts_at.max(now);
        s.updated_at = now;
        let id = s.id.clone();
        self.0.push(s);
        Ok(id)
    }

    /// Expires silence `id` (pending: never starts); unknown: an error.
    pub fn expire(&mut self, id: &str, now: i64) -> Result<(), AlertingError> {
        let s = self
            .0
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or_else(not_found)?;
        expire(s, now);
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<&Silence> {
        self.0.iter().find(|s| s.id == id)
    }

    /// The ids of the silences that mute an alert with these labels.
    pub fn muting(&self, labels: &BTreeMap<String, String>, now: i64) -> Vec<String> {
        self.0
            .iter()
            .filter(|s| s.mutes(labels, now))
            .map(|s| s.id.clone())
            .collect()
    }

    /// Drops silences expired more than the retention ago; whether any went.
    pub fn collect_garbage(&mut self, now: i64) -> bool {
        let n = self.0.len();
        self.0
            .retain(|s| s.ends_at.saturating_add(RETENTION_NS) >= now);
        n != self.0.len()
    }
}

fn not_found() -> AlertingError {
    AlertingError::NotFound("silence not found".into())
}

fn expire(s: &mut Silence, now: i64) {
    match s.state(now) {
        SilenceState::Active => s.ends_at = now,
        SilenceState::Pending => {
            s.starts_at = now;
            s.ends_at = now;
        }
        SilenceState::Expired => return,
    }
    s.updated_at = now;
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn silence(name: &str, value: &str, regex: bool, start: i64, end: i64) -> Silence {
        Silence {
            id: String::new(),
            matchers: vec![SilenceMatcher {
                name: name.into(),
                value: value.into(),
                is_regex: regex,
                is_equal: true,
            }],
            starts_at: start,
            ends_at: end,
            updated_at: 0,
            created_by: "alice".into(),
            comment: "maintenance".into(),
        }
    }

    #[test]
    fn silences_mute_while_active_and_update_or_replace() {
        let mut all = Silences::default();
        let id = all
            .set(silence("inst", "a|c", true, 100 * S, 200 * S), 100 * S)
            .unwrap();
        let l = |v: &str| BTreeMap::from([("inst".to_string(), v.to_string())]);
        assert_eq!(all.muting(&l("c"), 150 * S), std::slice::from_ref(&id));
        assert!(all.muting(&l("b"), 150 * S).is_empty());
        assert!(all.muting(&l("a"), 201 * S).is_empty());
        // Extending the end keeps the id.
        let mut longer = all.get(&id).unwrap().clone();
        longer.ends_at = 300 * S;
        assert_eq!(all.set(longer, 150 * S).unwrap(), id);
        // Other matchers: the old one expires, a new one is made.
        let mut other = all.get(&id).unwrap().clone();
        other.matchers[0].value = "x".into();
        let new_id = all.set(other, 160 * S).unwrap();
        assert_ne!(new_id, id);
        assert_eq!(all.get(&id).unwrap().state(161 * S), SilenceState::Expired);
        // Expire, then the retention.
        all.expire(&new_id, 170 * S).unwrap();
        assert!(all.expire("nope", 170 * S).is_err());
        assert!(!all.collect_garbage(160 * S + RETENTION_NS));
        assert!(all.collect_garbage(170 * S + RETENTION_NS + 1));
        assert!(all.0.is_empty());
        assert!(all.get(&id).is_none());
        // Checks.
        let e = all
            .set(silence("inst", ".*", true, 0, 10 * S), 0)
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("at least one matcher must not match the empty string"),
            "{e}"
        );
        let e = all
            .set(silence("inst", "a", false, 0, 10 * S), 20 * S)
            .unwrap_err();
        assert!(
            e.to_string().contains("end time can't be in the past"),
            "{e}"
        );
        let e = all
            .set(silence("inst", "a", false, 10 * S, 5 * S), 0)
            .unwrap_err();
        assert!(
            e.to_string().contains("start time must be before end time"),
            "{e}"
        );
    }
}
