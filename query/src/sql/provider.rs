//! `SignalTable`: one tenant's table of one signal as DataFusion sees it: the memtable
//! batches and the live Parquet files, in the memory layout.
//!
//! Files keep some columns in a compact layout (`osprey_storage::layout`): metric values
//! as decimal mantissa/scale, log `observed_timestamp` null when equal to `timestamp`.
//! `FileLayoutExec` turns file batches back into memory-layout batches in Rust (so the
//! values are bit-exact), under a union with the memtable scan. Filters on columns that
//! are stored as they are pushed down into the Parquet scan (row-group and page
//! pruning); filters on rebuilt columns are applied above it.

use std::fmt;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, RecordBatch, RecordBatchOptions, TimestampNanosecondArray,
};
use arrow::datatypes::{Float64Type, SchemaRef, TimestampNanosecondType};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::listing::ListingTable;
use datafusion::datasource::{MemTable, TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::StreamExt;
use osprey_storage::Signal;
use osprey_storage::schema::stored_schema;

/// Columns the file layout stores differently, with the file columns each is rebuilt
/// from.
fn rebuilt(signal: Signal, column: &str) -> Option<&'static [&'static str]> {
    match (signal, column) {
        (Signal::Metrics, "value") => Some(&["value_m", "value_k", "value_f"]),
        (Signal::Logs, "observed_timestamp") => Some(&["observed_timestamp", "timestamp"]),
        (Signal::Spans, "end_time") => Some(&["start_time", "duration_ns"]),
        (Signal::Spans | Signal::Logs, "trace_id") => Some(&["trace_id"]),
        (Signal::Spans | Signal::Logs, "span_id") => Some(&["span_id"]),
        (Signal::Spans, "parent_span_id") => Some(&["parent_span_id"]),
        _ => None,
    }
}

#[derive(Debug)]
pub struct SignalTable {
    signal: Signal,
    schema: SchemaRef,
    mem: Arc<MemTable>,
    files: Option<Arc<ListingTable>>,
}

impl SignalTable {
    pub fn new(signal: Signal, mem: MemTable, files: Option<ListingTable>) -> Self {
        Self {
            signal,
            schema: stored_schema(signal),
            mem: Arc::new(mem),
            files: files.map(Arc::new),
        }
    }
}

fn columns_of(expr: &Expr) -> Vec<String> {
    expr.column_refs()
        .into_iter()
        .map(|c| c.name.clone())
        .collect()
}

#[async_trait]
impl TableProvider for SignalTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| {
                if columns_of(f)
                    .iter()
                    .any(|c| rebuilt(self.signal, c).is_some())
                {
                    TableProviderFilterPushDown::Unsupported
                } else {
                    // Used for pruning; DataFusion still filters the rows above the scan.
                    TableProviderFilterPushDown::Inexact
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mem = self.mem.scan(state, projection, filters, limit).await?;
        let Some(files) = &self.files else {
            return Ok(mem);
        };
        // The memory-layout columns wanted, and the file columns they need.
        let wanted: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        let out_schema = Arc::new(self.schema.project(&wanted)?);
        let file_schema = files.schema();
        let mut file_cols: Vec<usize> = Vec::new();
        for &i in &wanted {
            let name = self.schema.field(i).name();
            let needed: Vec<&str> = match rebuilt(self.signal, name) {
                Some(cols) => cols.to_vec(),
                None => vec![name.as_str()],
            };
            for n in needed {
                let idx = file_schema.index_of(n)?;
                if !file_cols.contains(&idx) {
                    file_cols.push(idx);
                }
            }
        }
        let pushed: Vec<Expr> = filters
            .iter()
            .filter(|f| {
                !columns_of(f)
                    .iter()
                    .any(|c| rebuilt(self.signal, c).is_some())
            })
            .cloned()
            .collect();
        let scan = files.scan(state, Some(&file_cols), &pushed, limit).await?;
        let files_exec: Arc<dyn ExecutionPlan> =
            Arc::new(FileLayoutExec::new(self.signal, scan, out_schema));
        UnionExec::try_new(vec![mem, files_exec])
    }
}

/// Rebuilds memory-layout columns from a file-layout scan.
#[derive(Debug)]
pub struct FileLayoutExec {
    signal: Signal,
    input: Arc<dyn ExecutionPlan>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl FileLayoutExec {
    fn new(signal: Signal, input: Arc<dyn ExecutionPlan>, schema: SchemaRef) -> Self {
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            input.properties().partitioning.clone(),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Self {
            signal,
            input,
            schema,
            properties,
        }
    }
}

impl DisplayAs for FileLayoutExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "FileLayoutExec: {}", self.signal)
    }
}

/// Converts one file batch into the output schema.
pub(crate) fn convert(
    signal: Signal,
    batch: &RecordBatch,
    schema: &SchemaRef,
) -> Result<RecordBatch> {
    let column = |name: &str| -> Result<ArrayRef> {
        batch
            .column_by_name(name)
            .cloned()
            .ok_or_else(|| DataFusionError::Internal(format!("file scan has no {name} column")))
    };
    let mut columns = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let array: ArrayRef = match (signal, field.name().as_str()) {
            (Signal::Metrics, "value") => {
                let m = column("value_m")?;
                let k = column("value_k")?;
                let f = column("value_f")?;
                let (m, k, f) = (
                    m.as_primitive::<arrow::datatypes::Int64Type>(),
                    k.as_primitive::<arrow::datatypes::Int8Type>(),
                    f.as_primitive::<Float64Type>(),
                );
                let values: arrow::array::Float64Array = (0..batch.num_rows())
                    .map(|i| {
                        Some(osprey_storage::decimal::decode(
                            (!m.is_null(i)).then(|| m.value(i)),
                            k.value(i),
                            (!f.is_null(i)).then(|| f.value(i)),
                        ))
                    })
                    .collect();
                Arc::new(values)
            }
            (Signal::Logs, "observed_timestamp") => {
                let obs = column("observed_timestamp")?;
                let ts = column("timestamp")?;
                let (obs, ts) = (
                    obs.as_primitive::<TimestampNanosecondType>(),
                    ts.as_primitive::<TimestampNanosecondType>(),
                );
                let values: TimestampNanosecondArray = (0..batch.num_rows())
                    .map(|i| {
                        Some(if obs.is_null(i) {
                            ts.value(i)
                        } else {
                            obs.value(i)
                        })
                    })
                    .collect::<TimestampNanosecondArray>()
                    .with_timezone("UTC");
                Arc::new(values)
            }
            (Signal::Spans, "end_time") => {
                let start = column("start_time")?;
                let dur = column("duration_ns")?;
                let (start, dur) = (
                    start.as_primitive::<TimestampNanosecondType>(),
                    dur.as_primitive::<arrow::datatypes::Int64Type>(),
                );
                let values: TimestampNanosecondArray = (0..batch.num_rows())
                    .map(|i| Some(start.value(i).saturating_add(dur.value(i))))
                    .collect::<TimestampNanosecondArray>()
                    .with_timezone("UTC");
                Arc::new(values)
            }
            (_, name) if osprey_storage::layout::id_width(name).is_some() => {
                osprey_storage::layout::binary_to_hex(&column(name)?)
            }
            (_, name) => column(name)?,
        };
        columns.push(array);
    }
    // `SELECT count(*)` projects no column at all: keep the row count.
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        Arc::clone(schema),
        columns,
        &options,
    )?)
}

impl ExecutionPlan for FileLayoutExec {
    fn name(&self) -> &str {
        "FileLayoutExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    #[allow(deprecated)]
    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return Err(DataFusionError::Internal(
                "FileLayoutExec has one child".into(),
            ));
        }
        Ok(Arc::new(FileLayoutExec::new(
            self.signal,
            children.swap_remove(0),
            Arc::clone(&self.schema),
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let (signal, schema) = (self.signal, Arc::clone(&self.schema));
        let out = Arc::clone(&schema);
        let stream = input.map(move |batch| batch.and_then(|b| convert(signal, &b, &out)));
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}
