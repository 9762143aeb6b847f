//! Columnar batches, decoded straight from msgpack bytes into column buffers.
//!
//! This is the hot path of training input: no [`Value`] is built for the common field kinds.
//! An n-d array field becomes one contiguous `(B, ...)` buffer, numbers become typed vectors,
//! strings vectors of strings. A column falls back to [`Column::Values`] when its samples do
//! not share one plain kind (optional values that are None, lists, maps, mixed types).
//!
//! Ragged arrays: when the arrays of a field in one batch differ in shape or dtype (or the
//! stacked array would break the [array limits](crate::value::limits)), that batch's column is
//! [`Column::Values`] holding one [`Value::Array`] per sample (Python gets a list of arrays),
//! and the next batch tries to stack again. Reading never fails because arrays do not stack.

use crate::codec::array::decode_array_view;
use crate::codec::msgpack::{MsgReader, Token};
use crate::codec::sample::decode_value;
use crate::error::{Error, Result};
use crate::schema::{FieldType, Primitive, Schema};
use crate::value::limits::check_array;
use crate::value::{DType, NdArray, Value};

/// One column of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Integers.
    Int(Vec<i64>),
    /// Floats.
    Float(Vec<f64>),
    /// Booleans.
    Bool(Vec<bool>),
    /// Strings.
    Str(Vec<String>),
    /// Byte strings.
    Bytes(Vec<Vec<u8>>),
    /// Arrays of one dtype and shape, stacked: shape `(B, item_shape...)`, C order. Arrays
    /// that cannot stack (ragged shapes, mixed dtypes) come as [`Column::Values`] instead.
    Array {
        /// numpy dtype string.
        dtype: String,
        /// Shape of one item.
        item_shape: Vec<usize>,
        /// All items' bytes, one after the other.
        data: Vec<u8>,
    },
    /// Anything else, one value per sample.
    Values(Vec<Value>),
}

impl Column {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Column::Int(v) => v.len(),
            Column::Float(v) => v.len(),
            Column::Bool(v) => v.len(),
            Column::Str(v) => v.len(),
            Column::Bytes(v) => v.len(),
            Column::Array {
                dtype,
                item_shape,
                data,
            } => data
                .len()
                .checked_div(item_bytes(dtype, item_shape))
                .unwrap_or(0),
            Column::Values(v) => v.len(),
        }
    }

    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The stacked array of an array column (shape `(B, ...)`).
    pub fn to_ndarray(&self, rows: usize) -> Option<Result<NdArray>> {
        match self {
            Column::Array {
                dtype,
                item_shape,
                data,
            } => {
                let mut shape = Vec::with_capacity(item_shape.len() + 1);
                shape.push(rows);
                shape.extend_from_slice(item_shape);
                Some(DType::parse(dtype).and_then(|d| NdArray::new(d, shape, data.clone())))
            }
            _ => None,
        }
    }
}

fn item_bytes(dtype: &str, item_shape: &[usize]) -> usize {
    let itemsize = DType::parse(dtype).map(|d| d.itemsize()).unwrap_or(0);
    item_shape.iter().product::<usize>() * itemsize
}

/// A batch of samples as named columns, in field order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Batch {
    names: Vec<String>,
    columns: Vec<Column>,
    len: usize,
}

impl Batch {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the batch holds no sample.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Field names in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The column of field `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        let i = self.names.iter().position(|n| n == name)?;
        self.columns.get(i)
    }

    /// `(name, column)` pairs in field order.
    pub fn columns(&self) -> impl Iterator<Item = (&str, &Column)> {
        self.names
            .iter()
            .map(String::as_str)
            .zip(self.columns.iter())
    }

    /// Consumes the batch into `(name, column)` pairs.
    pub fn into_columns(self) -> Vec<(String, Column)> {
        self.names.into_iter().zip(self.columns).collect()
    }
}

/// How a column is being built.
#[derive(Debug)]
enum Builder {
    Int(Vec<i64>),
    Float(Vec<f64>),
    Bool(Vec<bool>),
    Str(Vec<String>),
    Bytes(Vec<Vec<u8>>),
    Array {
        dtype: String,
        item_shape: Vec<usize>,
        data: Vec<u8>,
        rows: usize,
    },
    Values(Vec<Value>),
}

/// What the schema says a field is, resolved once per column.
#[derive(Debug, Clone)]
struct Hint {
    ty: Option<FieldType>,
}

impl Hint {
    fn is_array(&self) -> bool {
        matches!(self.ty, Some(FieldType::NdArray { .. }))
    }
    fn is_float(&self) -> bool {
        matches!(self.ty, Some(FieldType::Primitive(Primitive::Float)))
    }
}

#[derive(Debug)]
struct ColumnState {
    name: String,
    hint: Hint,
    builder: Option<Builder>,
}

/// Accumulates samples into a [`Batch`].
#[derive(Debug)]
pub struct BatchBuilder {
    schema: Option<Schema>,
    cols: Vec<ColumnState>,
    rows: usize,
    capacity: usize,
}

impl BatchBuilder {
    /// A builder for batches of about `capacity` rows; `schema` tells arrays from bytes.
    pub fn new(schema: Option<Schema>, capacity: usize) -> Self {
        let cols = schema
            .as_ref()
            .map(|s| {
                s.fields
                    .iter()
                    .map(|f| ColumnState {
                        name: f.name.clone(),
                        hint: Hint {
                            ty: Some(f.ty.clone()),
                        },
                        builder: None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        BatchBuilder {
            schema,
            cols,
            rows: 0,
            capacity,
        }
    }

    /// Rows so far.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// True when no row has been added.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Drops whatever a failed sample left in the columns past the last whole row, so that
    /// the rows before it can still be finished into a batch (a later corrupt sample must not
    /// take the good ones before it down with it).
    pub fn discard_partial_row(&mut self) {
        let rows = self.rows;
        for col in &mut self.cols {
            match &mut col.builder {
                None => {}
                Some(Builder::Int(v)) => v.truncate(rows),
                Some(Builder::Float(v)) => v.truncate(rows),
                Some(Builder::Bool(v)) => v.truncate(rows),
                Some(Builder::Str(v)) => v.truncate(rows),
                Some(Builder::Bytes(v)) => v.truncate(rows),
                Some(Builder::Values(v)) => v.truncate(rows),
                Some(Builder::Array {
                    dtype,
                    item_shape,
                    data,
                    rows: n,
                }) => {
                    let item = DType::parse(dtype).map_or(0, |d| {
                        d.itemsize()
                            .saturating_mul(item_shape.iter().product::<usize>())
                    });
                    *n = (*n).min(rows);
                    data.truncate(item.saturating_mul(*n));
                }
            }
        }
    }

    /// Decodes one msgpack sample and appends it. On error the builder is unchanged only up to
    /// the failing field; callers stop the iteration on error.
    pub fn push(&mut self, buf: &[u8]) -> Result<()> {
        let mut r = MsgReader::new(buf);
        let n = r.read_map_len()?;
        self.push_fields(&mut r, 0..n)?;
        self.end_row(&r)
    }

    /// Decodes fields `range` (their positions in the sample map) of the current row.
    pub(crate) fn push_fields(
        &mut self,
        r: &mut MsgReader<'_>,
        range: std::ops::Range<usize>,
    ) -> Result<()> {
        let row = self.rows;
        for i in range {
            let name = r.read_str()?;
            let ci = self.column_index(i, name);
            let col = &mut self.cols[ci];
            push_field(col, r, row, self.capacity).map_err(|e| e.with_field(name))?;
        }
        Ok(())
    }

    /// The column of field `name`, the `i`-th of its sample, made if new.
    pub(crate) fn column_index(&mut self, i: usize, name: &str) -> usize {
        match self.find_column(i, name) {
            Some(ci) => ci,
            None => {
                self.cols.push(ColumnState {
                    name: name.to_string(),
                    hint: Hint { ty: None },
                    builder: None,
                });
                self.cols.len() - 1
            }
        }
    }

    /// The column of field `name`, the `i`-th of its sample, if the builder has one.
    pub(crate) fn find_column(&self, i: usize, name: &str) -> Option<usize> {
        // Fast path: fields come in the same order in every sample.
        match self.cols.get(i) {
            Some(c) if c.name == name => Some(i),
            _ => self.cols.iter().position(|c| c.name == name),
        }
    }

    /// Closes the current row: no bytes may follow the map, and fields the sample lacked
    /// read as None.
    pub(crate) fn end_row(&mut self, r: &MsgReader<'_>) -> Result<()> {
        if r.remaining() != 0 {
            return Err(r.error(format!(
                "{} trailing bytes after the sample map",
                r.remaining()
            )));
        }
        self.rows += 1;
        for col in &mut self.cols {
            if builder_len(col.builder.as_ref()) < self.rows {
                let b = to_values(col.builder.take(), self.rows - 1);
                let mut vals = b;
                vals.push(Value::Nil);
                col.builder = Some(Builder::Values(vals));
            }
        }
        Ok(())
    }

    /// Whether field `ci` is an n-d array column that can take a payload of `dtype`/`shape`
    /// read straight from the input: its schema says ndarray and it holds arrays of that dtype
    /// and shape (or nothing yet, on row 0). Otherwise the sample is decoded from memory, which
    /// turns a ragged column into per-sample values.
    pub(crate) fn direct_array_target(&self, ci: usize, dtype: &str, shape: &[usize]) -> bool {
        self.cols.get(ci).is_some_and(|c| {
            c.hint.is_array()
                && match &c.builder {
                    None => self.rows == 0,
                    Some(Builder::Array {
                        rows,
                        dtype: d,
                        item_shape,
                        ..
                    }) => *rows == self.rows && d == dtype && item_shape == shape,
                    Some(_) => false,
                }
        })
    }

    /// Appends one array of `dtype`/`shape` to column `ci`, its first `head.len()` payload bytes
    /// given and the other `rest` bytes read from `input` straight into the column buffer.
    pub(crate) fn push_array_from(
        &mut self,
        ci: usize,
        dtype: &str,
        shape: Vec<usize>,
        head: &[u8],
        rest: u64,
        input: &mut dyn std::io::Read,
    ) -> Result<()> {
        let row = self.rows;
        let cap = self.capacity;
        let col = &mut self.cols[ci];
        let name = col.name.clone();
        let total = head.len() as u64 + rest;
        if col.builder.is_none() {
            col.builder = Some(Builder::Array {
                dtype: dtype.to_string(),
                item_shape: shape.clone(),
                data: column_buffer(total, cap).map_err(|e| e.with_field(&name))?,
                rows: 0,
            });
        }
        let Some(builder) = col.builder.as_mut() else {
            unreachable!("set just above")
        };
        let Builder::Array {
            dtype: col_dtype,
            item_shape,
            data,
            rows,
        } = builder
        else {
            return Err(Error::corrupt("array column changed kind").with_field(&name));
        };
        if col_dtype.as_str() != dtype || *item_shape != shape {
            // direct_array_target() said yes, so this cannot happen; refuse rather than mix.
            return Err(Error::corrupt(format!(
                "array column of dtype {col_dtype} shape {item_shape:?} was given dtype {dtype} shape {shape:?} at row {row}"
            ))
            .with_field(&name));
        }
        data.extend_from_slice(head);
        let before = data.len();
        // Into the column's spare capacity: no zeroing pass, one copy from the file.
        let got = std::io::Read::read_to_end(&mut std::io::Read::take(input, rest), data)
            .map_err(|e| Error::corrupt(format!("reading array payload: {e}")).with_field(&name))?;
        if (got as u64) < rest {
            data.truncate(before - head.len());
            return Err(Error::corrupt(format!(
                "truncated: array payload ends after {} of {total} bytes",
                head.len() + got
            ))
            .with_field(&name));
        }
        *rows += 1;
        Ok(())
    }

    /// Finishes the batch and resets the builder.
    pub fn finish(&mut self) -> Batch {
        let rows = self.rows;
        let mut names = Vec::with_capacity(self.cols.len());
        let mut columns = Vec::with_capacity(self.cols.len());
        for col in &mut self.cols {
            names.push(col.name.clone());
            columns.push(match col.builder.take() {
                None => Column::Values(vec![Value::Nil; rows]),
                Some(Builder::Int(v)) => Column::Int(v),
                Some(Builder::Float(v)) => Column::Float(v),
                Some(Builder::Bool(v)) => Column::Bool(v),
                Some(Builder::Str(v)) => Column::Str(v),
                Some(Builder::Bytes(v)) => Column::Bytes(v),
                Some(Builder::Array {
                    dtype,
                    item_shape,
                    data,
                    rows: n,
                }) => {
                    let stacked: Vec<usize> = std::iter::once(n)
                        .chain(item_shape.iter().copied())
                        .collect();
                    let fits = DType::parse(&dtype).and_then(|d| check_array(&d, &stacked));
                    if fits.is_ok() {
                        Column::Array {
                            dtype,
                            item_shape,
                            data,
                        }
                    } else {
                        Column::Values(to_values(
                            Some(Builder::Array {
                                dtype,
                                item_shape,
                                data,
                                rows: n,
                            }),
                            rows,
                        ))
                    }
                }
                Some(Builder::Values(v)) => Column::Values(v),
            });
        }
        // Columns that only appeared in later samples stay; the schema's order comes first.
        if self.schema.is_none() {
            self.cols.clear();
        }
        self.rows = 0;
        Batch {
            names,
            columns,
            len: rows,
        }
    }
}

fn builder_len(b: Option<&Builder>) -> usize {
    match b {
        None => 0,
        Some(Builder::Int(v)) => v.len(),
        Some(Builder::Float(v)) => v.len(),
        Some(Builder::Bool(v)) => v.len(),
        Some(Builder::Str(v)) => v.len(),
        Some(Builder::Bytes(v)) => v.len(),
        Some(Builder::Array { rows, .. }) => *rows,
        Some(Builder::Values(v)) => v.len(),
    }
}

/// Converts whatever was built so far into dynamic values, padding with None up to `rows`.
fn to_values(b: Option<Builder>, rows: usize) -> Vec<Value> {
    let mut out: Vec<Value> = match b {
        None => Vec::new(),
        Some(Builder::Int(v)) => v.into_iter().map(Value::Int).collect(),
        Some(Builder::Float(v)) => v.into_iter().map(Value::Float).collect(),
        Some(Builder::Bool(v)) => v.into_iter().map(Value::Bool).collect(),
        Some(Builder::Str(v)) => v.into_iter().map(Value::Str).collect(),
        Some(Builder::Bytes(v)) => v.into_iter().map(Value::Bytes).collect(),
        Some(Builder::Array {
            dtype,
            item_shape,
            data,
            rows,
        }) => {
            let per = data.len().checked_div(rows).unwrap_or(0);
            let d = DType::parse(&dtype).ok();
            (0..rows)
                .map(|i| {
                    d.clone()
                        .and_then(|d| {
                            NdArray::new(
                                d,
                                item_shape.clone(),
                                data[i * per..(i + 1) * per].to_vec(),
                            )
                            .ok()
                        })
                        .map_or(Value::Nil, Value::Array)
                })
                .collect()
        }
        Some(Builder::Values(v)) => v,
    };
    out.resize(rows, Value::Nil);
    out
}

fn push_field(col: &mut ColumnState, r: &mut MsgReader<'_>, row: usize, cap: usize) -> Result<()> {
    if col.builder.is_some() && builder_len(col.builder.as_ref()) != row {
        return Err(Error::corrupt("field appears twice in one sample"));
    }
    let save = r.clone();
    let tok = r.next_token()?;
    // Try the typed fast paths; anything that does not fit demotes the column to values.
    let fitted = match (&mut col.builder, tok) {
        (Some(Builder::Int(v)), Token::Int(i)) => {
            v.push(i);
            true
        }
        (Some(Builder::Float(v)), Token::Float(f)) => {
            v.push(f);
            true
        }
        (Some(Builder::Float(v)), Token::Int(i)) => {
            v.push(i as f64);
            true
        }
        (Some(Builder::Bool(v)), Token::Bool(b)) => {
            v.push(b);
            true
        }
        (Some(Builder::Str(v)), Token::Str(s)) => {
            v.push(s.to_string());
            true
        }
        (Some(Builder::Bytes(v)), Token::Bin(b)) if !col.hint.is_array() => {
            v.push(b.to_vec());
            true
        }
        (
            Some(Builder::Array {
                dtype,
                item_shape,
                data,
                rows,
            }),
            Token::Bin(b),
        ) => {
            let view = decode_array_view(b)?;
            // A ragged column (another dtype or shape) falls back to one array per sample.
            let stacks = view.dtype == dtype.as_str() && view.shape == *item_shape;
            if stacks {
                data.extend_from_slice(view.data);
                *rows += 1;
            }
            stacks
        }
        (None, tok) if row == 0 => {
            col.builder = Some(match tok {
                Token::Int(i) if col.hint.is_float() => Builder::Float(with(cap, i as f64)),
                Token::Int(i) => Builder::Int(with(cap, i)),
                Token::Float(f) => Builder::Float(with(cap, f)),
                Token::Bool(b) => Builder::Bool(with(cap, b)),
                Token::Str(s) => Builder::Str(with(cap, s.to_string())),
                Token::Bin(b) if col.hint.is_array() => {
                    let view = decode_array_view(b)?;
                    let mut data = column_buffer(view.data.len() as u64, cap)?;
                    data.extend_from_slice(view.data);
                    Builder::Array {
                        dtype: view.dtype.to_string(),
                        item_shape: view.shape,
                        data,
                        rows: 1,
                    }
                }
                Token::Bin(b) => Builder::Bytes(with(cap, b.to_vec())),
                _ => {
                    *r = save.clone();
                    let v = decode_value(r, col.hint.ty.as_ref(), 0)?;
                    Builder::Values(with(cap, v))
                }
            });
            true
        }
        _ => false,
    };
    if !fitted {
        *r = save;
        let v = decode_value(r, col.hint.ty.as_ref(), 0)?;
        let mut vals = match col.builder.take() {
            Some(Builder::Values(v)) => v,
            other => to_values(other, row),
        };
        vals.push(v);
        col.builder = Some(Builder::Values(vals));
    }
    Ok(())
}

fn with<T>(cap: usize, first: T) -> Vec<T> {
    let mut v = Vec::with_capacity(cap.max(1));
    v.push(first);
    v
}

/// The most an array column reserves before its bytes arrive: a batch of arrays this large or
/// larger grows with what is read instead.
const UP_FRONT_LIMIT: u64 = 1 << 30;

/// An array column's buffer, reserved for `cap` items of `item_bytes` (the one-copy read path
/// then fills it without reallocating), but never more than [`UP_FRONT_LIMIT`] up front: the
/// size comes from a header, and a batch of large arrays times the batch size must not abort
/// the process on an allocation it could not make. A reservation that fails is an error.
fn column_buffer(item_bytes: u64, cap: usize) -> Result<Vec<u8>> {
    let want = item_bytes
        .saturating_mul(cap.max(1) as u64)
        .min(UP_FRONT_LIMIT) as usize;
    let mut data = Vec::new();
    data.try_reserve_exact(want).map_err(|_| {
        Error::corrupt(format!(
            "cannot reserve {want} bytes for a batch of {cap} arrays of {item_bytes} bytes"
        ))
    })?;
    Ok(data)
}

#[cfg(test)]
mod tests {

    #[test]
    fn array_columns_reserve_a_bounded_amount_whatever_a_header_declares() {
        // A declared size times the batch size that no machine could reserve.
        let data = super::column_buffer(u64::MAX / 2, usize::MAX).unwrap();
        assert_eq!(data.capacity() as u64, super::UP_FRONT_LIMIT);
        let data = super::column_buffer(1 << 20, 4).unwrap();
        assert_eq!(data.capacity(), 4 << 20);
    }
    use super::*;
    use crate::codec::encode_sample;
    use crate::schema::Field;
    use crate::value::limits::MAX_NDIM;

    fn enc(fields: Vec<(&str, Value)>) -> Vec<u8> {
        let mut out = Vec::new();
        encode_sample(&fields, &mut out);
        out
    }

    fn text_schema() -> Schema {
        Schema::new(
            "T",
            vec![
                Field::new("text", FieldType::Primitive(Primitive::Str)),
                Field::new("n", FieldType::Primitive(Primitive::Int)),
                Field::new("x", FieldType::Primitive(Primitive::Float)),
                Field::new("v", FieldType::ndarray()),
            ],
        )
    }

    #[test]
    fn builds_typed_columns() {
        let mut b = BatchBuilder::new(Some(text_schema()), 4);
        for i in 0..3 {
            let arr = NdArray::from_vec(vec![2], vec![i as f32, 1.0]).unwrap();
            b.push(&enc(vec![
                ("text", Value::from(format!("t{i}"))),
                ("n", Value::Int(i)),
                ("x", Value::Int(i)),
                ("v", Value::Array(arr)),
            ]))
            .unwrap();
        }
        let batch = b.finish();
        assert_eq!(batch.len(), 3);
        assert_eq!(
            batch.column("text"),
            Some(&Column::Str(vec!["t0".into(), "t1".into(), "t2".into()]))
        );
        assert_eq!(batch.column("n"), Some(&Column::Int(vec![0, 1, 2])));
        assert_eq!(batch.column("x"), Some(&Column::Float(vec![0.0, 1.0, 2.0])));
        let v = batch.column("v").unwrap().to_ndarray(3).unwrap().unwrap();
        assert_eq!(v.shape(), &[3, 2]);
        assert_eq!(
            v.to_vec::<f32>().unwrap(),
            vec![0.0, 1.0, 1.0, 1.0, 2.0, 1.0]
        );
        // The builder is reusable.
        b.push(&enc(vec![
            ("text", Value::from("z")),
            ("n", Value::Int(9)),
            ("x", Value::Float(0.5)),
            ("v", Value::Array(NdArray::from_slice(&[1.0f32, 2.0]))),
        ]))
        .unwrap();
        assert_eq!(b.finish().len(), 1);
    }

    fn with_v(v: NdArray) -> Vec<u8> {
        enc(vec![
            ("text", Value::from("a")),
            ("n", Value::Int(1)),
            ("x", Value::Float(1.0)),
            ("v", Value::Array(v)),
        ])
    }

    #[test]
    fn ragged_arrays_come_as_one_array_per_sample() {
        let a2 = NdArray::from_vec(vec![2], vec![1f32; 2]).unwrap();
        let a3 = NdArray::from_vec(vec![3], vec![2f32; 3]).unwrap();
        let f8 = NdArray::from_vec(vec![2], vec![3f64; 2]).unwrap();
        let mut b = BatchBuilder::new(Some(text_schema()), 3);
        for a in [&a2, &a3, &f8] {
            b.push(&with_v(a.clone())).unwrap();
        }
        let batch = b.finish();
        assert_eq!(batch.len(), 3);
        assert_eq!(
            batch.column("v"),
            Some(&Column::Values(vec![
                Value::Array(a2.clone()),
                Value::Array(a3),
                Value::Array(f8)
            ]))
        );
        // The other columns keep their typed form, and the next batch stacks again.
        assert_eq!(batch.column("n"), Some(&Column::Int(vec![1, 1, 1])));
        b.push(&with_v(a2.clone())).unwrap();
        b.push(&with_v(a2)).unwrap();
        let next = b.finish();
        assert_eq!(
            next.column("v")
                .unwrap()
                .to_ndarray(2)
                .unwrap()
                .unwrap()
                .shape(),
            &[2, 2]
        );
    }

    #[test]
    fn arrays_whose_stack_breaks_the_limits_come_per_sample() {
        // 32 dimensions is the limit: each item reads, a stacked (B, ...) of 33 would not.
        let deep = NdArray::from_vec(vec![1; MAX_NDIM], vec![1f32]).unwrap();
        let mut b = BatchBuilder::new(Some(text_schema()), 2);
        b.push(&with_v(deep.clone())).unwrap();
        b.push(&with_v(deep.clone())).unwrap();
        let batch = b.finish();
        assert_eq!(
            batch.column("v"),
            Some(&Column::Values(vec![
                Value::Array(deep.clone()),
                Value::Array(deep)
            ]))
        );
    }

    #[test]
    fn arrays_beyond_the_limits_are_located_errors() {
        // A hand-made 40-dimensional header: refused by the decoder, naming the field.
        let mut bin = vec![3, b'<', b'f', b'4', 40];
        bin.extend(std::iter::repeat_n(1i64.to_le_bytes(), 40).flatten());
        bin.extend_from_slice(&1f32.to_le_bytes());
        let mut sample = vec![0x81, 0xa1, b'v', 0xc5];
        sample.extend_from_slice(&(bin.len() as u16).to_be_bytes());
        sample.extend_from_slice(&bin);
        let mut b = BatchBuilder::new(Some(text_schema()), 2);
        let e = b.push(&sample).unwrap_err().to_string();
        assert!(
            e.contains("field 'v'") && e.contains("40 dimensions"),
            "{e}"
        );
    }

    #[test]
    fn optional_and_mixed_fall_back_to_values() {
        let mut b = BatchBuilder::new(None, 2);
        b.push(&enc(vec![("a", Value::Int(1)), ("b", Value::from("x"))]))
            .unwrap();
        b.push(&enc(vec![("a", Value::Nil)])).unwrap();
        b.push(&enc(vec![
            ("a", Value::Int(3)),
            ("b", Value::from("y")),
            ("c", Value::Bool(true)),
        ]))
        .unwrap();
        let batch = b.finish();
        assert_eq!(
            batch.column("a"),
            Some(&Column::Values(vec![
                Value::Int(1),
                Value::Nil,
                Value::Int(3)
            ]))
        );
        assert_eq!(
            batch.column("b"),
            Some(&Column::Values(vec![
                Value::from("x"),
                Value::Nil,
                Value::from("y")
            ]))
        );
        assert_eq!(
            batch.column("c"),
            Some(&Column::Values(vec![
                Value::Nil,
                Value::Nil,
                Value::Bool(true)
            ]))
        );
    }

    #[test]
    fn corrupt_input_is_an_error_not_a_panic() {
        let mut b = BatchBuilder::new(Some(text_schema()), 2);
        let good = enc(vec![("text", Value::from("a")), ("n", Value::Int(1))]);
        for cut in 0..good.len() {
            let _ = b.push(&good[..cut]);
            b = BatchBuilder::new(Some(text_schema()), 2);
        }
        assert!(b.push(&[0x81, 0xa1, b'v', 0xc4, 0x02, 0x03, 0x3c]).is_err());
    }
}
