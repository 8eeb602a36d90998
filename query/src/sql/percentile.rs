//! `approx_percentile_cont` over [`Sketch`]: the same calls as DataFusion's (both
//! `approx_percentile_cont(x, p [, centroids])` and `approx_percentile_cont(p) WITHIN
//! GROUP (ORDER BY x)`), answered by a grouped accumulator that costs one shift and
//! one add per value instead of a sort per batch, group and quantile. Registered in
//! place of DataFusion's t-digest version (`session.rs`); the centroids argument is
//! accepted and has no effect (the sketch's error is fixed, see `sketch.rs`).

use std::any::Any;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, AsArray, BinaryBuilder, BooleanArray, Float64Array,
    Int64Array, PrimitiveArray, StructArray,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type, Int64Type};
use datafusion::common::types::{NativeType, logical_float64, logical_int64};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::functions_aggregate::approx_percentile_cont::ApproxPercentileCont;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Coercion, Documentation, EmitTo, GroupsAccumulator, Signature,
    TypeSignature, TypeSignatureClass,
};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::expressions::Literal;

use super::sketch::Sketch;

/// The UDAF (see the module doc).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ApproxPercentile {
    /// DataFusion's own, for its coercions, return type and docs.
    base: ApproxPercentileCont,
    /// DataFusion's, with 64-bit integers taken as they are ([`Values`]).
    signature: Signature,
}

impl ApproxPercentile {
    pub fn new() -> Self {
        let base = ApproxPercentileCont::new();
        let int64 = || Coercion::new_exact(TypeSignatureClass::Native(logical_int64()));
        let p = || {
            Coercion::new_implicit(
                TypeSignatureClass::Native(logical_float64()),
                vec![TypeSignatureClass::Numeric],
                NativeType::Float64,
            )
        };
        let centroids = || {
            Coercion::new_implicit(
                TypeSignatureClass::Integer,
                vec![TypeSignatureClass::Numeric],
                NativeType::Int64,
            )
        };
        let mut one_of = vec![
            TypeSignature::Coercible(vec![int64(), p()]),
            TypeSignature::Coercible(vec![int64(), p(), centroids()]),
        ];
        match &base.signature().type_signature {
            TypeSignature::OneOf(theirs) => one_of.extend(theirs.iter().cloned()),
            theirs => one_of.push(theirs.clone()),
        }
        let signature = Signature::one_of(one_of, base.signature().volatility);
        Self { base, signature }
    }

    /// The quantile asked (a literal in 0..=1), reversed for `ORDER BY x DESC`.
    fn percentile(args: &AccumulatorArgs) -> Result<f64> {
        let p = args
            .exprs
            .get(1)
            .and_then(|e| literal_f64(e.as_ref()))
            .filter(|p| (0.0..=1.0).contains(p));
        let Some(p) = p else {
            return plan_err!(
                "approx_percentile_cont: the percentile must be a literal between 0.0 and 1.0"
            );
        };
        let descending = args.order_bys.first().is_some_and(|s| s.options.descending);
        Ok(if descending { 1.0 - p } else { p })
    }
}

/// `e`'s value if it is a numeric literal.
pub(super) fn literal_f64(e: &dyn PhysicalExpr) -> Option<f64> {
    let any: &dyn Any = e;
    match any.downcast_ref::<Literal>()?.value().clone() {
        ScalarValue::Float64(Some(v)) => Some(v),
        ScalarValue::Float32(Some(v)) => Some(f64::from(v)),
        v => v.cast_to(&DataType::Float64).ok().and_then(|v| match v {
            ScalarValue::Float64(Some(v)) => Some(v),
            _ => None,
        }),
    }
}

impl AggregateUDFImpl for ApproxPercentile {
    fn name(&self) -> &str {
        self.base.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        // A percentile of integers is a float, as when DataFusion casts them first.
        match self.base.return_type(arg_types)? {
            DataType::Int64 => Ok(DataType::Float64),
            t => Ok(t),
        }
    }

    fn supports_within_group_clause(&self) -> bool {
        true
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.base.documentation()
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(sketch_state(&args))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(One::new(Answer::One(Self::percentile(&args)?))))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(Groups::new(Answer::One(Self::percentile(&args)?))))
    }
}

/// The state of every sketch accumulator: the sketch, encoded.
pub(super) fn sketch_state(args: &StateFieldsArgs) -> Vec<FieldRef> {
    vec![Arc::new(Field::new(
        format!("{}[sketch]", args.name),
        DataType::Binary,
        true,
    ))]
}

/// What an accumulator answers from its sketches: one quantile as Float64, or
/// several as a struct of Float64 fields, [`struct_fields`] (`shared.rs`).
#[derive(Debug, Clone)]
pub(super) enum Answer {
    One(f64),
    Many(Vec<f64>),
}

/// The fields of [`Answer::Many`]'s struct: `p0`, `p1`, … as the percentiles were
/// asked.
pub(super) fn struct_fields(n: usize) -> Fields {
    (0..n)
        .map(|i| Field::new(format!("p{i}"), DataType::Float64, true))
        .collect()
}

impl Answer {
    fn array(&self, sketches: &[Sketch]) -> ArrayRef {
        let column = |p: f64| -> ArrayRef {
            Arc::new(
                sketches
                    .iter()
                    .map(|s| s.quantile(p))
                    .collect::<Float64Array>(),
            )
        };
        match self {
            Answer::One(p) => column(*p),
            Answer::Many(ps) => Arc::new(StructArray::new(
                struct_fields(ps.len()),
                ps.iter().map(|&p| column(p)).collect(),
                None,
            )),
        }
    }
}

/// An argument's values: 64-bit integers as they are, every other number cast to
/// Float64 by the signature. Each `approx_percentile_cont` call evaluates its own
/// argument, so a `CAST(duration_ns AS Float64)` ran once per percentile asked
/// (RED asks three; the casts were ~9 % of its time).
enum Values<'a> {
    Floats(&'a Float64Array),
    Ints(&'a Int64Array),
}

impl Values<'_> {
    fn len(&self) -> usize {
        match self {
            Values::Floats(a) => a.len(),
            Values::Ints(a) => a.len(),
        }
    }

    fn get(&self, i: usize) -> Option<f64> {
        match self {
            Values::Floats(a) => a.is_valid(i).then(|| a.value(i)),
            Values::Ints(a) => a.is_valid(i).then(|| a.value(i) as f64),
        }
    }
}

fn values_of(values: &[ArrayRef]) -> Result<Values<'_>> {
    let first = values.first();
    if let Some(a) = first.and_then(|a| a.as_primitive_opt::<Float64Type>()) {
        return Ok(Values::Floats(a));
    }
    match first.and_then(|a| a.as_primitive_opt::<Int64Type>()) {
        Some(a) => Ok(Values::Ints(a)),
        None => plan_err!("approx_percentile_cont: expected a Float64 or Int64 argument"),
    }
}

fn states(values: &[ArrayRef]) -> Result<&datafusion::arrow::array::BinaryArray> {
    match values.first().and_then(|a| a.as_binary_opt::<i32>()) {
        Some(a) => Ok(a),
        None => plan_err!("approx_percentile_cont: expected a Binary state"),
    }
}

/// Without GROUP BY.
#[derive(Debug)]
pub(super) struct One {
    answer: Answer,
    sketch: Sketch,
}

impl One {
    pub(super) fn new(answer: Answer) -> Self {
        Self {
            answer,
            sketch: Sketch::default(),
        }
    }
}

impl Accumulator for One {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let v = values_of(values)?;
        (0..v.len())
            .filter_map(|i| v.get(i))
            .for_each(|x| self.sketch.insert(x));
        Ok(())
    }

    fn merge_batch(&mut self, states_: &[ArrayRef]) -> Result<()> {
        for s in states(states_)?.iter().flatten() {
            self.sketch.merge(&Sketch::decode(s)?);
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let mut bytes = Vec::new();
        self.sketch.encode(&mut bytes);
        Ok(vec![ScalarValue::Binary(Some(bytes))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let answer = self.answer.array(std::slice::from_ref(&self.sketch));
        ScalarValue::try_from_array(&answer, 0)
    }

    fn size(&self) -> usize {
        std::mem::size_of::<Self>() + self.sketch.heap_bytes()
    }
}

/// With GROUP BY: one sketch per group, heap bytes kept as they change.
pub(super) struct Groups {
    answer: Answer,
    sketches: Vec<Sketch>,
    heap: usize,
}

impl Groups {
    pub(super) fn new(answer: Answer) -> Self {
        Self {
            answer,
            sketches: Vec::new(),
            heap: 0,
        }
    }

    fn with(&mut self, group: usize, f: impl FnOnce(&mut Sketch)) {
        let s = &mut self.sketches[group];
        let before = s.heap_bytes();
        f(s);
        self.heap = self.heap + s.heap_bytes() - before;
    }

    /// Adds `a`'s values (`f` turns one into f64) to their groups' sketches.
    fn add<T: ArrowPrimitiveType>(
        &mut self,
        a: &PrimitiveArray<T>,
        f: impl Fn(T::Native) -> f64,
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
    ) {
        let nulls = a.nulls().filter(|n| n.null_count() > 0);
        for (i, (&g, &x)) in group_indices.iter().zip(a.values().iter()).enumerate() {
            if nulls.is_some_and(|n| n.is_null(i))
                || opt_filter.is_some_and(|f| !f.is_valid(i) || !f.value(i))
            {
                continue;
            }
            let x = f(x);
            // Most values fall in a bucket their group has: counted without the heap
            // bookkeeping of `with` (measured: the sketches were 23 % of RED).
            if let Some(s) = self.sketches.get_mut(g)
                && s.try_count(x)
            {
                continue;
            }
            self.with(g, |s| s.insert(x));
        }
    }

    fn take(&mut self, emit_to: EmitTo) -> Vec<Sketch> {
        let taken = emit_to.take_needed(&mut self.sketches);
        self.heap -= taken.iter().map(Sketch::heap_bytes).sum::<usize>();
        taken
    }
}

impl GroupsAccumulator for Groups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.sketches.resize_with(total_num_groups, Sketch::default);
        match values_of(values)? {
            Values::Floats(a) => self.add(a, |x| x, group_indices, opt_filter),
            Values::Ints(a) => self.add(a, |x| x as f64, group_indices, opt_filter),
        }
        Ok(())
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        let st = states(values)?;
        self.sketches.resize_with(total_num_groups, Sketch::default);
        for (i, &g) in group_indices.iter().enumerate() {
            if st.is_valid(i) {
                let other = Sketch::decode(st.value(i))?;
                self.with(g, |s| s.merge(&other));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let taken = self.take(emit_to);
        Ok(self.answer.array(&taken))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let taken = self.take(emit_to);
        let mut b = BinaryBuilder::with_capacity(taken.len(), taken.len() * 16);
        let mut bytes = Vec::new();
        for s in &taken {
            bytes.clear();
            s.encode(&mut bytes);
            b.append_value(&bytes);
        }
        Ok(vec![Arc::new(b.finish())])
    }

    /// Each row as a state of its own (one value, or none where filtered out).
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let v = values_of(values)?;
        let mut b = BinaryBuilder::with_capacity(v.len(), v.len() * 13);
        let mut bytes = Vec::new();
        for i in 0..v.len() {
            let mut s = Sketch::default();
            if let Some(x) = v.get(i)
                && opt_filter.is_none_or(|f| f.is_valid(i) && f.value(i))
            {
                s.insert(x);
            }
            bytes.clear();
            s.encode(&mut bytes);
            b.append_value(&bytes);
        }
        Ok(vec![Arc::new(b.finish())])
    }

    fn size(&self) -> usize {
        self.sketches.capacity() * std::mem::size_of::<Sketch>() + self.heap
    }
}
