//! Several percentiles of one argument from one sketch.
//!
//! RED asks `approx_percentile_cont(duration_ns, 0.5)`, `… 0.95)` and `… 0.99)` in one
//! `GROUP BY`. DataFusion plans each call as an accumulator of its own, so every value
//! went into three identical sketches per group: the sketches' `update_batch` was 17 %
//! of the query (benches/README.md). [`SharePercentileSketches`] is a logical optimizer
//! rule that replaces such calls (same argument, a literal percentile, no `DISTINCT`,
//! `FILTER` or `WITHIN GROUP`) by one [`SharedPercentiles`] call, whose sketch answers
//! a struct of the percentiles, and a projection above the aggregate that takes each
//! percentile out under its original name, so the plan's schema is unchanged.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, Result, ScalarValue, plan_err};
use datafusion::functions::core::expr_fn::get_field;
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, Aggregate, AggregateUDF, AggregateUDFImpl, Expr, GroupsAccumulator, LogicalPlan,
    Projection, Signature, Volatility,
};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};

use super::percentile::{
    Answer, ApproxPercentile, Groups, One, literal_f64, sketch_state, struct_fields,
};

/// `approx_percentiles(x, p1, …, pn)`: a struct `{p0: …, p(n-1): …}` of the
/// percentiles of `x`, from one sketch. Only [`SharePercentileSketches`] writes calls
/// to it; it is not registered under its name.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SharedPercentiles {
    signature: Signature,
}

impl SharedPercentiles {
    pub fn new() -> Self {
        Self {
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }

    fn answer(args: &AccumulatorArgs) -> Result<Answer> {
        let mut ps = Vec::new();
        for e in args.exprs.iter().skip(1) {
            match literal_f64(e.as_ref()).filter(|p| (0.0..=1.0).contains(p)) {
                Some(p) => ps.push(p),
                None => {
                    return plan_err!(
                        "approx_percentiles: a percentile that is not a literal in 0..=1"
                    );
                }
            }
        }
        Ok(Answer::Many(ps))
    }
}

impl AggregateUDFImpl for SharedPercentiles {
    fn name(&self) -> &str {
        "approx_percentiles"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(struct_fields(
            arg_types.len().saturating_sub(1),
        )))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(sketch_state(&args))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(One::new(Self::answer(&args)?)))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(Groups::new(Self::answer(&args)?)))
    }
}

/// The rule (see the module doc).
#[derive(Debug, Default)]
pub struct SharePercentileSketches;

/// `e` (aliases aside) as its argument and percentile if it is a call the rule may
/// share: Osprey's `approx_percentile_cont(x, <literal in 0..=1>)`, plain.
fn shareable(e: &Expr) -> Option<(Expr, Expr)> {
    let mut e = e;
    while let Expr::Alias(a) = e {
        e = &a.expr;
    }
    let Expr::AggregateFunction(AggregateFunction { func, params }) = e else {
        return None;
    };
    if func.inner().downcast_ref::<ApproxPercentile>().is_none()
        || params.distinct
        || params.filter.is_some()
        || !params.order_by.is_empty()
        || params.null_treatment.is_some()
    {
        return None;
    }
    let [x, p] = params.args.as_slice() else {
        return None;
    };
    let Expr::Literal(v, _) = p else {
        return None;
    };
    match v.cast_to(&DataType::Float64) {
        Ok(ScalarValue::Float64(Some(q))) if (0.0..=1.0).contains(&q) => {
            Some((x.clone(), p.clone()))
        }
        _ => None,
    }
}

/// `agg` with its shareable calls merged per argument, under a projection that gives
/// back its schema; unchanged when no argument has two calls.
fn share(agg: Aggregate) -> Result<Transformed<LogicalPlan>> {
    if agg
        .group_expr
        .iter()
        .any(|e| matches!(e, Expr::GroupingSet(_)))
    {
        return Ok(Transformed::no(LogicalPlan::Aggregate(agg)));
    }
    // Per argument, in the order first seen: the calls' positions and percentiles.
    let mut by_arg: Vec<(Expr, Vec<(usize, Expr)>)> = Vec::new();
    for (i, e) in agg.aggr_expr.iter().enumerate() {
        if let Some((x, p)) = shareable(e) {
            match by_arg.iter_mut().find(|(y, _)| *y == x) {
                Some((_, calls)) => calls.push((i, p)),
                None => by_arg.push((x, vec![(i, p)])),
            }
        }
    }
    by_arg.retain(|(_, calls)| calls.len() > 1);
    if by_arg.is_empty() {
        return Ok(Transformed::no(LogicalPlan::Aggregate(agg)));
    }
    // Each merged call's position → the shared call's alias and its struct field.
    let mut merged: HashMap<usize, (String, usize)> = HashMap::new();
    let udaf = Arc::new(AggregateUDF::from(SharedPercentiles::new()));
    let mut shared_calls = Vec::new();
    for (k, (x, calls)) in by_arg.into_iter().enumerate() {
        let alias = format!("__approx_percentiles_{k}");
        let mut args = vec![x];
        for (field, (i, p)) in calls.into_iter().enumerate() {
            args.push(p);
            merged.insert(i, (alias.clone(), field));
        }
        let call = AggregateFunction::new_udf(Arc::clone(&udaf), args, false, None, vec![], None);
        shared_calls.push(Expr::AggregateFunction(call).alias(alias));
    }
    let aggr_expr: Vec<Expr> = (agg.aggr_expr.iter().enumerate())
        .filter(|(i, _)| !merged.contains_key(i))
        .map(|(_, e)| e.clone())
        .chain(shared_calls)
        .collect();
    let groups = agg.group_expr.len();
    let schema = Arc::clone(&agg.schema);
    let input = Aggregate::try_new(agg.input, agg.group_expr, aggr_expr)?;
    let exprs = (schema.iter().enumerate())
        .map(
            |(i, (q, f))| match i.checked_sub(groups).and_then(|a| merged.get(&a)) {
                Some((alias, field)) => get_field(
                    Expr::Column(Column::new_unqualified(alias)),
                    format!("p{field}"),
                )
                .alias_qualified(q.cloned(), f.name()),
                None => Expr::Column(Column::new(q.cloned(), f.name())),
            },
        )
        .collect();
    let projection = Projection::try_new(exprs, Arc::new(LogicalPlan::Aggregate(input)))?;
    Ok(Transformed::yes(LogicalPlan::Projection(projection)))
}

impl OptimizerRule for SharePercentileSketches {
    fn name(&self) -> &str {
        "share_percentile_sketches"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        match plan {
            LogicalPlan::Aggregate(agg) => share(agg),
            plan => Ok(Transformed::no(plan)),
        }
    }
}
