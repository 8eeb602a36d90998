//! Read-only SQL over `logs`, `spans`, `metrics` (DataFusion), answered as
//! `{"columns":[{"name","type"}],"rows":[[…]]}`.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{Field, Schema};
use datafusion::execution::context::SQLOptions;
use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;

use osprey_config::QueryConfig;

use crate::{QueryError, QueryState};

mod body_filter;
mod depth;
mod listed_files;
pub(crate) use listed_files::GONE;
mod percentile;
pub(crate) mod provider;
pub(crate) mod session;
mod shared;
mod sketch;

#[derive(Debug, Serialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: String,
}

#[derive(Debug, Serialize)]
pub struct SqlResult {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
    /// True when `query.max_result_rows` cut the result short.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// A column's type as answers name it: string views (how the tables hold strings,
/// `session::Strings`) and dictionaries (span kinds and status codes) are their
/// values' type to a client, named as before.
fn type_name(t: &datafusion::arrow::datatypes::DataType) -> String {
    use datafusion::arrow::datatypes::DataType;
    match t {
        DataType::Dictionary(_, values) => type_name(values),
        DataType::Utf8View => DataType::Utf8.to_string(),
        DataType::BinaryView => DataType::Binary.to_string(),
        t => t.to_string(),
    }
}

fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// Runs `sql` for `tenant`, bounded in time and rows.
pub async fn run(st: &QueryState, tenant: &str, sql: &str) -> Result<SqlResult, QueryError> {
    let cfg = st.config_for(tenant);
    let memory = st.limiter.limits(tenant).max_query_memory;
    let timeout = cfg.timeout;
    tokio::time::timeout(timeout, run_inner(st, &cfg, memory, tenant, sql))
        .await
        .map_err(|_| QueryError::Timeout(timeout))?
        .map_err(|e| match e {
            QueryError::Execution(m) if memory > 0 && m.contains("Resources exhausted") => {
                QueryError::Execution(format!("{m} (limits.max_query_memory = {memory} bytes)"))
            }
            other => other,
        })
}

async fn run_inner(
    st: &QueryState,
    cfg: &QueryConfig,
    memory: u64,
    tenant: &str,
    sql: &str,
) -> Result<SqlResult, QueryError> {
    if sql.trim().is_empty() {
        return Err(QueryError::BadData("empty query".into()));
    }
    // Before anything parses it: a deep statement would overflow the stack.
    crate::sql::depth::check(&session::dialect(), sql)?;
    let tables = session::referenced_tables(sql);
    let ctx = session::session(st, tenant, memory, tables.as_deref()).await?;
    let df =
        ctx.sql_with_options(sql, read_only())
            .await
            .map_err(|e| match QueryError::from(e) {
                QueryError::Execution(m) | QueryError::Internal(m) => QueryError::BadData(m),
                other => other,
            })?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    let max = cfg.max_result_rows;
    let mut stream = df.execute_stream().await?;
    let mut rows = Vec::new();
    let mut truncated = false;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let room = max - rows.len();
        let batch = if batch.num_rows() > room {
            truncated = true;
            batch.slice(0, room)
        } else {
            batch
        };
        rows.extend(batch_rows(&batch)?);
        if truncated || rows.len() >= max {
            truncated |= rows.len() >= max;
            break;
        }
    }
    Ok(SqlResult {
        columns: schema
            .fields()
            .iter()
            .map(|f| Column {
                name: f.name().clone(),
                data_type: type_name(f.data_type()),
            })
            .collect(),
        rows,
        truncated,
    })
}

/// Rows of a batch as JSON arrays, through arrow's JSON writer (maps become objects,
/// timestamps RFC 3339 strings). Columns are renamed positionally first, so duplicate
/// names (`SELECT a, a`) stay apart.
pub fn batch_rows(batch: &RecordBatch) -> Result<Vec<Vec<Value>>, QueryError> {
    let n = batch.num_columns();
    let fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| Field::new(format!("c{i}"), f.data_type().clone(), true))
        .collect();
    let renamed = RecordBatch::try_new(Arc::new(Schema::new(fields)), batch.columns().to_vec())
        .map_err(|e| QueryError::Internal(e.to_string()))?;
    let mut buf = Vec::new();
    {
        let mut w = arrow::json::WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, arrow::json::writer::JsonArray>(&mut buf);
        w.write(&renamed)
            .map_err(|e| QueryError::Execution(format!("cannot render result as JSON: {e}")))?;
        w.finish()
            .map_err(|e| QueryError::Execution(format!("cannot render result as JSON: {e}")))?;
    }
    if buf.is_empty() {
        return Ok(Vec::new());
    }
    let objects: Vec<serde_json::Map<String, Value>> =
        serde_json::from_slice(&buf).map_err(|e| QueryError::Internal(e.to_string()))?;
    Ok(objects
        .into_iter()
        .map(|mut o| {
            (0..n)
                .map(|i| o.remove(&format!("c{i}")).unwrap_or(Value::Null))
                .collect()
        })
        .collect())
}
