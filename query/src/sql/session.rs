//! A DataFusion session over one tenant's storage snapshot: each of `logs`, `spans`,
//! `samples` is the union of its in-memory batches and its live Parquet files; `series`
//! is the series index; `metrics` joins samples with their series' name and labels.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{
    CatalogProvider, CatalogProviderList, MemoryCatalogProvider, MemoryCatalogProviderList,
    MemorySchemaProvider,
};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use osprey_storage::files::blobs::STORE_URL;
use osprey_storage::schema::{series_batch, series_schema, stored_schema};
use osprey_storage::{FileMeta, Signal, Snapshot, Storage};

use crate::sql::listed_files::{FileSizes, ListedFiles};
use crate::sql::provider::{LogFiles, SignalTable};
use crate::{QueryError, QueryState};

/// The SQL dialect queries are parsed in.
pub fn dialect() -> String {
    base_state()
        .config()
        .options()
        .sql_parser
        .dialect
        .to_string()
}

/// The tables `sql` names (`None` when it does not parse: then every table is
/// registered and DataFusion reports the error). Call it only after the nesting check
/// (`depth.rs`): parsing a deep statement would overflow the stack.
pub fn referenced_tables(sql: &str) -> Option<Vec<String>> {
    let state = base_state();
    let dialect = state.config().options().sql_parser.dialect;
    let statement = state.sql_to_statement(sql, &dialect).ok()?;
    let refs = state.resolve_table_references(&statement).ok()?;
    Some(refs.iter().map(|r| r.table().to_string()).collect())
}

/// Builds a session for `tenant` with the tables `wanted` names registered (`None`:
/// all of them; `metrics` brings `samples` and `series`, which it joins). Only tables
/// are registered: no URL tables, no file-reading table functions. `memory` bounds
/// what its sorts, joins and aggregations may hold (0: unbounded). Each table costs a
/// snapshot and its registration, so a query pays for the ones it reads.
pub async fn session(
    st: &QueryState,
    tenant: &str,
    memory: u64,
    wanted: Option<&[String]>,
) -> Result<SessionContext, QueryError> {
    let storage = &st.storage;
    let ctx = new_context(st, memory)?;
    let wants = |name: &str| wanted.is_none_or(|w| w.iter().any(|t| t == name));
    let metrics = wants("metrics");
    // A querier learns the series of the ingesters' unflushed samples first.
    let synced = match metrics || wants("samples") || wants("series") {
        true => crate::promql::sync_metrics(st, tenant).await?,
        false => None,
    };
    for signal in Signal::ALL {
        let name = match signal {
            Signal::Metrics => "samples",
            other => other.table(),
        };
        if wants(name) || (metrics && signal == Signal::Metrics) {
            let snap = match signal {
                Signal::Metrics => synced.clone(),
                _ => None,
            };
            register(&ctx, storage, tenant, signal, snap, Strings::Views).await?;
        }
    }
    if !(metrics || wants("series")) {
        return Ok(ctx);
    }
    // Labels live once per series: `metrics` joins samples with the series index.
    let all = storage.series().select(tenant, &[]);
    let series = MemTable::try_new(
        series_schema(),
        vec![vec![
            series_batch(&all).map_err(|e| QueryError::Internal(e.to_string()))?,
        ]],
    )?;
    ctx.register_table("series", Arc::new(series))?;
    if !metrics {
        return Ok(ctx);
    }
    let metrics = ctx
        .sql(
            "SELECT s.metric AS metric, s.labels AS labels, p.timestamp AS timestamp, \
             p.value AS value, p.series_id AS series_id \
             FROM samples p JOIN series s ON p.series_id = s.series_id",
        )
        .await?;
    ctx.register_table("metrics", metrics.into_view())?;
    Ok(ctx)
}

/// A session with one table only (`samples` for metrics), for the APIs that read one
/// signal: no other snapshot is taken and no series table is built. `snap` replaces
/// the table's snapshot (a trace lookup's index-pruned file set).
pub async fn signal_session(
    st: &QueryState,
    tenant: &str,
    signal: Signal,
    snap: Option<Snapshot>,
) -> Result<SessionContext, QueryError> {
    let ctx = new_context(st, 0)?;
    register(&ctx, &st.storage, tenant, signal, snap, Strings::Utf8).await?;
    Ok(ctx)
}

/// The session every query starts from, built once: a fresh `SessionContext`
/// registers DataFusion's few hundred functions and rules, which took most of the
/// 8 ms a `SELECT 1` cost; a copy of a built state shares them.
fn base_state() -> &'static SessionState {
    static BASE: OnceLock<SessionState> = OnceLock::new();
    BASE.get_or_init(|| {
        // As many partitions as the cores this process may use (affinity and cgroup
        // quota included), as DataFusion would choose: it was 2 whatever the machine.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let config = SessionConfig::new()
            .with_target_partitions(cores)
            .with_information_schema(false);
        let mut state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            // One sketch for the percentiles of one argument (`shared.rs`).
            .with_optimizer_rule(Arc::new(super::shared::SharePercentileSketches))
            .build();
        // A grouped sketch in place of DataFusion's t-digest (`percentile.rs`).
        use datafusion::execution::FunctionRegistry;
        let percentile = datafusion::logical_expr::AggregateUDF::from(
            super::percentile::ApproxPercentile::new(),
        );
        if let Err(e) = state.register_udaf(Arc::new(percentile)) {
            tracing::warn!(error = %e, "approx_percentile_cont: the sketch was not registered");
        }
        state
    })
}

/// Bytes of parsed Parquet footers (with page indexes) SQL keeps across queries.
const FOOTER_CACHE_BYTES: usize = 64 << 20;

/// Parsed footers shared by the queries of one storage (`QueryState::sql_footers`):
/// a query's runtime is its own (its memory bound), so DataFusion's footer cache
/// would start empty each time and every query would fetch and parse each file's
/// footer again. Keys are object paths, and a data file is never rewritten under its
/// name (entries are also checked against the object's size and time), so an entry
/// cannot go stale; LRU past the budget.
pub type FooterCache = Arc<datafusion::execution::cache::cache_manager::FileMetadataCache>;

/// A new, empty [`FooterCache`].
pub fn footer_cache() -> FooterCache {
    Arc::new(
        datafusion::execution::cache::default_cache::DefaultCache::new(FOOTER_CACHE_BYTES)
            .with_name("osprey-sql-footers"),
    )
}

fn new_context(st: &QueryState, memory: u64) -> Result<SessionContext, QueryError> {
    let storage = &st.storage;
    // Each query has a runtime of its own: its memory bound and its object store; the
    // footer cache is the storage's.
    let caches = datafusion::execution::cache::cache_manager::CacheManagerConfig::default()
        .with_file_metadata_cache(Some(Arc::clone(&st.sql_footers)))
        .with_metadata_cache_limit(FOOTER_CACHE_BYTES);
    let mut runtime = RuntimeEnvBuilder::new().with_cache_manager(caches);
    if memory > 0 {
        // No spilling: the bound is on what a query may hold, refused past it (a
        // spill would move the cost to the disk, unbounded).
        runtime = runtime
            .with_memory_limit(usize::try_from(memory).unwrap_or(usize::MAX), 1.0)
            .with_disk_manager_builder(
                DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
            );
    }
    // And tables of its own: a copied state shares its catalog list (an `Arc`).
    let base = base_state();
    let defaults = &base.config_options().catalog;
    let schema = Arc::new(MemorySchemaProvider::new());
    let catalog = Arc::new(MemoryCatalogProvider::new());
    catalog.register_schema(&defaults.default_schema, schema)?;
    let catalogs = Arc::new(MemoryCatalogProviderList::new());
    catalogs.register_catalog(defaults.default_catalog.clone(), catalog);
    let sizes = Arc::new(FileSizes::default());
    let mut state = SessionStateBuilder::new_from_existing(base.clone())
        .with_catalog_list(catalogs)
        .with_runtime_env(runtime.build_arc()?)
        .build();
    state.config_mut().set_extension(Arc::clone(&sizes));
    let ctx = SessionContext::new_with_state(state);
    let url = ObjectStoreUrl::parse(STORE_URL)?;
    let store = storage.object_store();
    ctx.register_object_store(url.as_ref(), Arc::new(ListedFiles { store, sizes }));
    Ok(ctx)
}

/// How a table's string columns are typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strings {
    /// `Utf8`, as storage keeps them (the trace APIs read them so).
    Utf8,
    /// `Utf8View` (the SQL API): Parquet's dictionary pages decode to views of their
    /// values instead of a copy of each string per row, and grouping and comparing use
    /// the views' inline prefixes. Answers name the type `Utf8` still (`mod.rs`).
    Views,
}

async fn register(
    ctx: &SessionContext,
    storage: &Storage,
    tenant: &str,
    signal: Signal,
    snap: Option<Snapshot>,
    strings: Strings,
) -> Result<(), QueryError> {
    let snap = match snap {
        Some(s) => s,
        None => storage.read_snapshot(tenant, signal)?,
    };
    let df = table(ctx, storage, snap, signal, strings).await?;
    let name = match signal {
        Signal::Metrics => "samples",
        other => other.table(),
    };
    ctx.register_table(name, df.into_view())?;
    Ok(())
}

async fn table(
    ctx: &SessionContext,
    storage: &Storage,
    snap: Snapshot,
    signal: Signal,
    strings: Strings,
) -> Result<DataFrame, QueryError> {
    let schema = typed(&stored_schema(signal), strings);
    let batches = snap
        .batches
        .iter()
        .map(|b| to_schema(b, &schema))
        .collect::<Result<Vec<_>, _>>()?;
    let mem = MemTable::try_new(Arc::clone(&schema), vec![batches])?;
    let sizes = ctx
        .state_ref()
        .read()
        .config()
        .get_extension::<FileSizes>()
        .unwrap_or_default();
    let files = listing_table(storage, &sizes, &snap.files, signal, strings)?;
    let mut table = SignalTable::new(signal, schema, mem, files);
    if signal == Signal::Logs && !snap.files.is_empty() {
        // The logs of a trace, and body filters: the files their ids' bloom filters or
        // the full-text index rule out are dropped before DataFusion lists them, and
        // only the rows the index names are read (`provider.rs`).
        let st = storage.clone();
        table = table.with_log_files(LogFiles {
            storage: storage.clone(),
            files: snap.files.clone(),
            listing: Arc::new(move |files| listing_table(&st, &sizes, files, signal, strings)),
        });
    }
    Ok(ctx.read_table(Arc::new(table))?)
}

/// A table over `files` (`None` when there are none), whose sizes it adds to `sizes`.
fn listing_table(
    storage: &Storage,
    sizes: &FileSizes,
    files: &[FileMeta],
    signal: Signal,
    strings: Strings,
) -> Result<Option<ListingTable>, QueryError> {
    if files.is_empty() {
        return Ok(None);
    }
    // Data files are objects of the storage's store, registered under STORE_URL.
    let mut urls = Vec::with_capacity(files.len());
    for f in files {
        let url = ListingTableUrl::parse(storage.object_url(&f.path))?;
        sizes.add(url.prefix().clone(), f.bytes);
        urls.push(url);
    }
    // Filters pushed to the files (`provider.rs`) are evaluated while decoding:
    // the columns they read first, the others only for the rows that pass (the
    // logs of one trace read one row's body, not a row group's).
    let mut parquet = datafusion::config::TableParquetOptions::default();
    parquet.global.pushdown_filters = true;
    parquet.global.reorder_filters = true;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default().with_options(parquet)))
        .with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .with_schema(typed(
            &osprey_storage::files::layout::file_schema(signal),
            strings,
        ));
    Ok(Some(ListingTable::try_new(config)?))
}

/// `schema` with its top-level `Utf8` fields typed as `strings` says.
fn typed(schema: &SchemaRef, strings: Strings) -> SchemaRef {
    if strings == Strings::Utf8 {
        return Arc::clone(schema);
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 => f.as_ref().clone().with_data_type(DataType::Utf8View),
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// A memtable batch with the columns `schema` types differently cast to it (views of
/// the same string buffers).
fn to_schema(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, QueryError> {
    if batch.schema().fields() == schema.fields() {
        return Ok(batch.clone());
    }
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| {
            if c.data_type() == f.data_type() {
                Ok(Arc::clone(c))
            } else {
                datafusion::arrow::compute::cast(c, f.data_type())
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| QueryError::Internal(e.to_string()))?;
    RecordBatch::try_new(Arc::clone(schema), columns)
        .map_err(|e| QueryError::Internal(e.to_string()))
}
