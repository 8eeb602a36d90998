//! The record filter of the logs view's query, in either of its languages: Osprey's
//! search language (the default) or a LogQL log query (the view's LogQL mode). A LogQL
//! query becomes its index prefilter (`logql::prefilter`: the service and the leading
//! `|=` words) and-ed with the query itself, checked on each candidate record.

use std::sync::Arc;

use osprey_logql::logql::{self, Query};
use osprey_logql::search::{self as logquery, Expr, LogqlFilter};

use super::logql::prefilter;
use crate::QueryError;

/// The language a logs-view query is written in.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    #[default]
    Search,
    Logql,
}

impl Language {
    /// The `language` parameter: `search` (or absent) or `logql`.
    pub fn parse(s: Option<&str>) -> Result<Self, QueryError> {
        match s.unwrap_or("") {
            "" | "search" => Ok(Language::Search),
            "logql" => Ok(Language::Logql),
            other => Err(QueryError::BadData(format!(
                "invalid parameter \"language\": {other:?}; expected search or logql"
            ))),
        }
    }
}

/// The filter `query` (in `language`) and the optional service describe.
pub fn expr(language: Language, query: &str, service: Option<&str>) -> Result<Expr, QueryError> {
    let e = match language {
        Language::Search => logquery::parse(query)?,
        Language::Logql => match logql::parse(query)? {
            Query::Log(log) => Expr::And(vec![
                prefilter(&log),
                Expr::Logql(LogqlFilter(Arc::new(log))),
            ]),
            Query::Metric(_) => {
                return Err(QueryError::BadData(
                    "the logs view takes a LogQL log query (a selector and its pipeline), not a metric query".into(),
                ));
            }
        },
    };
    Ok(match service {
        Some(s) => Expr::And(vec![e, Expr::Service(s.to_string())]),
        None => e,
    })
}
