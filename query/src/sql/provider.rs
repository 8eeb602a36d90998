//! `SignalTable`: one tenant's table of one signal as DataFusion sees it: the memtable
//! batches and the live Parquet files, in the memory layout.
//!
//! Files keep some columns in a compact layout (`osprey_storage::files::layout`, which
//! owns it in both directions: samples as one coded run per series and file, log
//! `observed_timestamp` null when equal to `timestamp`, span `end_time` null, ids
//! binary). `FileLayoutExec` turns file batches back into memory-layout batches with
//! `layout::to_memory` (so the values are bit-exact), under a union with the memtable
//! scan. Filters on columns that are stored as they are, and trace-id equalities
//! rewritten to the binary column, are placed right above the Parquet scan, where
//! DataFusion's filter pushdown hands them to the Parquet source: files, row groups
//! and pages pruned by statistics and bloom filters, and rows filtered while decoding
//! (`session.rs` turns `pushdown_filters` on); filters on rebuilt columns, and on span
//! kinds and status codes (few values: `enum_column`), are applied above
//! `FileLayoutExec`, and every filter again above the union. A logs scan
//! filtered by trace ids or on `body` first asks each file's bloom filters and
//! full-text index ([`LogFiles`]): files that cannot match are not listed, and of the
//! others only the rows the index names are read (`body_filter.rs`).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::listing::ListingTable;
use datafusion::datasource::physical_plan::ParquetSource;
use datafusion::datasource::physical_plan::parquet::ParquetRowSelection;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig, FileScanConfigBuilder};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::{MemTable, TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::parquet::arrow::arrow_reader::RowSelection;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::StreamExt;
use osprey_storage::Signal;
use osprey_storage::files::layout;
use osprey_storage::index::fulltext::TextQuery;

use crate::logs::textquery::all_of;
use crate::sql::body_filter::text_query_of;

#[derive(Debug)]
pub struct SignalTable {
    signal: Signal,
    schema: SchemaRef,
    mem: Arc<MemTable>,
    files: Option<Arc<ListingTable>>,
    log_files: Option<LogFiles>,
}

/// A logs table's files and how to list a subset of them: a scan filtered by trace
/// ids keeps only the files whose bloom filters may hold one (each checked by the
/// one block an id hashes to), and a scan filtered on `body` only the files whose
/// full-text index names rows, and of those only the rows; DataFusion neither lists
/// nor opens the others.
pub struct LogFiles {
    pub storage: osprey_storage::Storage,
    pub files: Vec<osprey_storage::FileMeta>,
    pub listing: ListingOf,
}

/// Builds the table over some of the files.
pub type ListingOf = Arc<
    dyn Fn(&[osprey_storage::FileMeta]) -> Result<Option<ListingTable>, crate::QueryError>
        + Send
        + Sync,
>;

impl fmt::Debug for LogFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LogFiles({} files)", self.files.len())
    }
}

/// A file where more than one row in this many is an index candidate is read whole:
/// nearly every page holds a candidate then, and a selection would only add work
/// (measured: `body LIKE '%cache lookup%'`, 16 % of 10M lines, 6 % slower selected).
const DENSE_CANDIDATES: u64 = 16;

/// The files a logs scan lists, and the rows to read of those the index narrowed
/// (by path; a file not named is read whole).
struct Narrowed {
    table: Option<ListingTable>,
    rows: HashMap<String, RowSelection>,
}

impl LogFiles {
    /// The table over the files that may hold one of `ids` and rows matching `text`
    /// (a file whose filters or index cannot be read is kept, whole).
    async fn narrowed(
        &self,
        ids: Option<Vec<String>>,
        text: Option<TextQuery>,
    ) -> Result<Narrowed> {
        let storage = self.storage.clone();
        let files = self.files.clone();
        let (kept, rows) = tokio::task::spawn_blocking(move || {
            // One file after another: on every core measured no faster (10M lines).
            let mut rows = HashMap::new();
            let mut kept = Vec::new();
            for f in files {
                match file_verdict(&storage, &f, ids.as_deref(), text.as_ref()) {
                    Verdict::Skip => continue,
                    Verdict::Whole => {}
                    Verdict::Rows(selection) => {
                        rows.insert(f.path.clone(), selection);
                    }
                }
                kept.push(f);
            }
            (kept, rows)
        })
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let table = (self.listing)(&kept).map_err(|e| DataFusionError::External(Box::new(e)))?;
        Ok(Narrowed { table, rows })
    }
}

/// What a logs scan does with one file.
enum Verdict {
    Skip,
    Whole,
    Rows(RowSelection),
}

/// Whether `f` may hold one of `ids` and rows matching `text`, and which rows (a file
/// whose filters or index cannot be read is read whole). With `ids`, only the row
/// groups whose bloom filters may hold one are selected, so DataFusion neither reads
/// the other groups' filters nor their ids.
fn file_verdict(
    storage: &osprey_storage::Storage,
    f: &osprey_storage::FileMeta,
    ids: Option<&[String]>,
    text: Option<&TextQuery>,
) -> Verdict {
    let total = usize::try_from(f.rows).unwrap_or(usize::MAX);
    let mut groups: Option<RowSelection> = None;
    if let Some(ids) = ids {
        match storage.trace_id_row_ranges(f, ids) {
            Ok(Some(ranges)) if ranges.is_empty() => return Verdict::Skip,
            Ok(Some(ranges)) if ranges.iter().map(|r| r.len()).sum::<usize>() < total => {
                groups = Some(RowSelection::from_consecutive_ranges(
                    ranges.into_iter(),
                    total,
                ));
            }
            _ => {}
        }
    }
    let narrowed = |groups: Option<RowSelection>| groups.map_or(Verdict::Whole, Verdict::Rows);
    let Some(q) = text else {
        return narrowed(groups);
    };
    match storage.text_index(f).map(|index| index.rows(q)) {
        Some(Ok(found)) if found.is_empty() => Verdict::Skip,
        Some(Ok(found)) if (found.len() as u64) <= f.rows / DENSE_CANDIDATES => {
            let rows = osprey_storage::files::row_selection(&found, total);
            Verdict::Rows(match groups {
                Some(g) => g.intersection(&rows),
                None => rows,
            })
        }
        _ => narrowed(groups),
    }
}

/// `plan` (a Parquet scan) reading only `rows` of the files they name.
fn select_rows(
    plan: Arc<dyn ExecutionPlan>,
    rows: &HashMap<String, RowSelection>,
) -> Arc<dyn ExecutionPlan> {
    let Some(config) = plan
        .downcast_ref::<DataSourceExec>()
        .and_then(|exec| exec.data_source().downcast_ref::<FileScanConfig>())
    else {
        return plan;
    };
    let selection_of = |location: &str| {
        rows.iter()
            .find(|(path, _)| {
                location == path.as_str()
                    || location
                        .strip_suffix(path.as_str())
                        .is_some_and(|prefix| prefix.ends_with('/'))
            })
            .map(|(_, sel)| sel.clone())
    };
    let groups: Vec<FileGroup> = config
        .file_groups
        .iter()
        .map(|group| {
            group
                .iter()
                .map(
                    |file| match selection_of(file.object_meta.location.as_ref()) {
                        Some(sel) => file.clone().with_extension(ParquetRowSelection::new(sel)),
                        None => file.clone(),
                    },
                )
                .collect()
        })
        .collect();
    let mut builder = FileScanConfigBuilder::from(config.clone()).with_file_groups(groups);
    // Parquet's predicate cache decodes the filter's columns a whole batch (8192 rows)
    // around each selected row, to hand them on to the output: 4.27M bodies decoded for
    // 686 candidates of 10M lines. Selected rows are few (`DENSE_CANDIDATES`), so
    // decoding them twice costs less than the cache; a selection of the row groups a
    // trace id may lie in filters their ids once, which the cache does not help
    // (measured no change on 1M lines).
    if let Some(source) = config.file_source().downcast_ref::<ParquetSource>() {
        let mut options = source.table_parquet_options().clone();
        options.global.max_predicate_cache_size = Some(0);
        builder = builder.with_source(Arc::new(source.clone().with_table_parquet_options(options)));
    }
    DataSourceExec::from_data_source(builder.build())
}

impl SignalTable {
    /// `schema`: the memory layout's, its strings as `Utf8` or `Utf8View`
    /// (`session::Strings`).
    pub fn new(
        signal: Signal,
        schema: SchemaRef,
        mem: MemTable,
        files: Option<ListingTable>,
    ) -> Self {
        Self {
            signal,
            schema,
            mem: Arc::new(mem),
            files: files.map(Arc::new),
            log_files: None,
        }
    }

    /// Lets a scan filtered by trace ids or on `body` drop the files and rows that
    /// cannot match.
    pub fn with_log_files(mut self, l: LogFiles) -> Self {
        self.log_files = Some(l);
        self
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
                if binary_id_filter(f).is_some() {
                    // Rewritten for the files' binary ids (bloom filters prune).
                    TableProviderFilterPushDown::Inexact
                } else if columns_of(f)
                    .iter()
                    .any(|c| layout::file_columns_of(self.signal, c).is_some())
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
        let narrowed = match &self.log_files {
            Some(l) => {
                let ids = filters.iter().find_map(trace_ids_of);
                let text: Vec<TextQuery> = filters.iter().filter_map(text_query_of).collect();
                let text = (!text.is_empty()).then(|| all_of(text));
                match (ids, text) {
                    (None, None) => None,
                    (ids, text) => Some(l.narrowed(ids, text).await?),
                }
            }
            None => None,
        };
        let (pruned, rows) = match narrowed {
            Some(n) => (Some(n.table.map(Arc::new)), n.rows),
            None => (None, HashMap::new()),
        };
        let Some(files) = pruned.as_ref().unwrap_or(&self.files) else {
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
        let counting = layout::count_columns(self.signal).iter().copied();
        for name in wanted
            .iter()
            .map(|&i| self.schema.field(i).name().as_str())
            .flat_map(|name| match layout::file_columns_of(self.signal, name) {
                Some(cols) => cols.to_vec(),
                None => vec![name],
            })
            .chain(counting)
        {
            let idx = file_schema.index_of(name)?;
            if !file_cols.contains(&idx) {
                file_cols.push(idx);
            }
        }
        let (pushed, held) = self.split_filters(filters);
        let mut scan = files.scan(state, Some(&file_cols), &pushed, limit).await?;
        if !rows.is_empty() {
            scan = select_rows(scan, &rows);
        }
        // The filters on the files' columns (ids as binary), right above their scan:
        // there DataFusion's filter pushdown hands them to the Parquet source (files
        // and row groups pruned by statistics and bloom filters), which it cannot do
        // through FileLayoutExec (`ListingTable::scan` itself no longer uses them);
        // and rows are dropped before their columns are rebuilt.
        // So do the filters on columns stored as they are (service, time, …).
        if let Some(pred) = pushed.iter().cloned().reduce(Expr::and) {
            let schema = scan.schema();
            if pred
                .column_refs()
                .iter()
                .all(|c| schema.index_of(&c.name).is_ok())
            {
                let predicate = physical(state, &schema, pred)?;
                scan = Arc::new(datafusion::physical_plan::filter::FilterExec::try_new(
                    predicate, scan,
                )?);
            }
        }
        // Filters on span kinds and status codes: on the file batches as decoded,
        // before their columns are rebuilt (`enum_column`).
        let held = match held.into_iter().reduce(Expr::and) {
            Some(pred) => Some(physical(state, &scan.schema(), pred)?),
            None => None,
        };
        let files_exec: Arc<dyn ExecutionPlan> =
            Arc::new(FileLayoutExec::new(self.signal, scan, out_schema, held));
        UnionExec::try_new(vec![mem, files_exec])
    }
}

impl SignalTable {
    /// The filters placed right above the file scan (ids as binary; none on rebuilt
    /// columns), and those held for the decoded batches (`enum_column`). Filters on
    /// rebuilt columns are in neither: they run above the union only.
    fn split_filters(&self, filters: &[Expr]) -> (Vec<Expr>, Vec<Expr>) {
        let (mut pushed, mut held) = (Vec::new(), Vec::new());
        for f in filters {
            if let Some(binary) = binary_id_filter(f) {
                pushed.push(binary);
                continue;
            }
            let columns = columns_of(f);
            if columns
                .iter()
                .any(|c| layout::file_columns_of(self.signal, c).is_some())
            {
                continue;
            }
            if columns.iter().any(|c| enum_column(self.signal, c)) {
                held.push(f.clone());
            } else {
                pushed.push(f.clone());
            }
        }
        (pushed, held)
    }
}

/// `pred` as a physical expression over batches of `schema`.
fn physical(state: &dyn Session, schema: &SchemaRef, pred: Expr) -> Result<Arc<dyn PhysicalExpr>> {
    let df_schema = datafusion::common::DFSchema::try_from(schema.as_ref().clone())?;
    state.create_physical_expr(pred, &df_schema)
}

/// Whether `column` of `signal` holds one of a few fixed values (OTLP's span kinds and
/// status codes). A filter on one keeps many rows (`kind = 'SPAN_KIND_SERVER'`: about
/// half the spans), and every row group holds most values, so neither statistics nor
/// a row filter while decoding saves reading: as a row filter it made the other
/// columns decode through a selection of alternating runs, which cost more than it
/// saved (RED per service −27 % without it, benches/README.md). Such filters are
/// applied above the scan, on the decoded batches (dictionaries: `schema::
/// dictionary_columns`, so a filter compares the few values, not every row).
fn enum_column(signal: Signal, column: &str) -> bool {
    osprey_storage::schema::dictionary_columns(signal).contains(&column)
}

/// `trace_id = '<32 hex>'`, `trace_id IN (…)` or an OR of them (every value 32 hex
/// digits), as the
/// same filter on the files' binary column, so that their row-group statistics and
/// bloom filters prune (`storage/docs/format/parquet-layout.md`); `None` for any
/// other filter.
fn binary_id_filter(f: &Expr) -> Option<Expr> {
    use datafusion::common::ScalarValue;
    use datafusion::logical_expr::{col, lit};
    // As equalities joined by OR (as the optimizer rewrites `IN`): the pruning of row
    // groups (statistics, bloom filters) reads those, not lists of binary values.
    trace_ids_of(f)?
        .iter()
        .map(|id| {
            let bytes = osprey_storage::index::trace_index::parse_trace_id(id)?;
            Some(col("trace_id").eq(lit(ScalarValue::FixedSizeBinary(16, Some(bytes.to_vec())))))
        })
        .collect::<Option<Vec<Expr>>>()?
        .into_iter()
        .reduce(Expr::or)
}

/// The trace ids (32 hex digits each) a filter `trace_id = '…'`, `trace_id IN (…)` or
/// an OR of them names; `None` for any other filter.
fn trace_ids_of(f: &Expr) -> Option<Vec<String>> {
    use datafusion::logical_expr::{BinaryExpr, Operator};
    let id = |v: &Expr| -> Option<String> {
        // String literals come as Utf8 or Utf8View, depending on the planner.
        let Expr::Literal(value, _) = v else {
            return None;
        };
        let s = value.try_as_str().flatten()?;
        osprey_storage::index::trace_index::parse_trace_id(s)?;
        Some(s.to_ascii_lowercase())
    };
    let is_trace_id = |e: &Expr| matches!(e, Expr::Column(c) if c.name == "trace_id");
    match f {
        // `IN` comes here as equalities joined by OR (the optimizer's rewrite).
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or,
            right,
        }) => {
            let mut ids = trace_ids_of(left)?;
            ids.extend(trace_ids_of(right)?);
            Some(ids)
        }
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) => {
            if is_trace_id(left) {
                Some(vec![id(right)?])
            } else if is_trace_id(right) {
                Some(vec![id(left)?])
            } else {
                None
            }
        }
        Expr::InList(l) if !l.negated && is_trace_id(&l.expr) => {
            l.list.iter().map(id).collect::<Option<Vec<String>>>()
        }
        _ => None,
    }
}

/// Rebuilds memory-layout columns from a file-layout scan.
#[derive(Debug)]
pub struct FileLayoutExec {
    signal: Signal,
    input: Arc<dyn ExecutionPlan>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
    /// Rows of the file batches to keep, decided before they are converted.
    filter: Option<Arc<dyn PhysicalExpr>>,
}

impl FileLayoutExec {
    fn new(
        signal: Signal,
        input: Arc<dyn ExecutionPlan>,
        schema: SchemaRef,
        filter: Option<Arc<dyn PhysicalExpr>>,
    ) -> Self {
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
            filter,
        }
    }
}

impl DisplayAs for FileLayoutExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "FileLayoutExec: {}", self.signal)?;
        match &self.filter {
            Some(p) => write!(f, ", filter={p}"),
            None => Ok(()),
        }
    }
}

/// The rows of `batch` that `filter` keeps.
fn keep_rows(batch: RecordBatch, filter: &dyn PhysicalExpr) -> Result<RecordBatch> {
    let keep = filter.evaluate(&batch)?.into_array(batch.num_rows())?;
    let keep = keep
        .as_any()
        .downcast_ref::<arrow::array::BooleanArray>()
        .ok_or_else(|| DataFusionError::Internal("a filter that is not boolean".into()))?;
    Ok(arrow::compute::filter_record_batch(&batch, keep)?)
}

/// Converts one file batch into the output schema (`layout::to_memory`).
pub(crate) fn convert(
    signal: Signal,
    batch: &RecordBatch,
    schema: &SchemaRef,
) -> Result<RecordBatch> {
    layout::to_memory(signal, batch, schema).map_err(|e| DataFusionError::External(Box::new(e)))
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
            self.filter.clone(),
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
        let filter = self.filter.clone();
        let stream = input.map(move |batch| {
            let b = match &filter {
                Some(f) => keep_rows(batch?, f.as_ref())?,
                None => batch?,
            };
            convert(signal, &b, &out)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}
