//! `sv_table`: tables built from borrowed columns and read back into caller buffers.

use std::ffi::{c_char, CStr};

use super::{
    check_out, guard, put, str_arg, sv_status, Failure, FfiResult, SV_CATEGORICAL,
    SV_E_BUFFER_TOO_SMALL, SV_E_UTF8, SV_NUMERIC,
};
use crate::table::{
    read_csv, write_csv, ColumnData, ColumnKind, ColumnSpec, CsvOptions, PublicSchema, Schema,
    Table, MISSING,
};

/// A table: named columns, numeric or categorical, with missing values. Build it with
/// `sv_table_new` and `sv_table_add_*`, or get one from `sv_sample` / `sv_table_read_csv`.
/// Not synchronised: use one table from one thread at a time (reading from several threads
/// at once is safe).
pub struct sv_table {
    pub(crate) table: Table,
}

fn table_ref<'a>(t: *const sv_table) -> FfiResult<&'a Table> {
    if t.is_null() {
        return Err(Failure::null("table"));
    }
    // SAFETY: a live handle.
    Ok(unsafe { &(*t).table })
}

fn column(t: &Table, col: usize) -> FfiResult<(&ColumnSpec, &ColumnData)> {
    if col >= t.n_cols() {
        return Err(Failure::invalid(format!(
            "column index {col} is out of range (the table has {} columns)",
            t.n_cols()
        )));
    }
    Ok((&t.schema().columns[col], t.column(col)))
}

/// Copies `s` and its NUL into `buf` (when it fits) and reports the size needed.
fn copy_string(s: &str, buf: *mut c_char, buf_len: usize, needed: *mut usize) -> FfiResult<()> {
    let need = s.len() + 1;
    if !needed.is_null() {
        // SAFETY: a caller-provided out-pointer.
        unsafe { *needed = need };
    }
    if buf.is_null() {
        return if buf_len == 0 {
            Ok(())
        } else {
            Err(Failure::null("buf"))
        };
    }
    if buf_len < need {
        return Err(Failure::new(
            SV_E_BUFFER_TOO_SMALL,
            format!("the buffer holds {buf_len} bytes; {need} are needed"),
        ));
    }
    // SAFETY: buf holds at least `need` bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(s.as_ptr(), buf.cast(), s.len());
        *buf.add(s.len()) = 0;
    }
    Ok(())
}

/// Creates an empty table (no columns, no rows). Free it with `sv_table_free`.
#[no_mangle]
pub extern "C" fn sv_table_new(out: *mut *mut sv_table) -> sv_status {
    guard(|| {
        check_out(out, "out")?;
        let table = Table::new(Schema { columns: vec![] }, vec![])?;
        put(out, sv_table { table });
        Ok(())
    })
}

/// Appends a numeric column, copying `n` values from `values` (NaN is missing; infinite values
/// are refused). `is_integer` non-zero marks whole numbers (generated values are rounded).
/// The first column sets the row count; every later column must have as many values.
#[no_mangle]
pub extern "C" fn sv_table_add_numeric(
    table: *mut sv_table,
    name: *const c_char,
    values: *const f64,
    n: usize,
    is_integer: i32,
) -> sv_status {
    guard(|| {
        if table.is_null() {
            return Err(Failure::null("table"));
        }
        let name = str_arg(name, "name")?;
        if values.is_null() && n > 0 {
            return Err(Failure::null("values"));
        }
        let v = if n == 0 {
            Vec::new()
        } else {
            // SAFETY: the caller passes n readable values.
            unsafe { std::slice::from_raw_parts(values, n) }.to_vec()
        };
        let spec = ColumnSpec {
            name: name.to_string(),
            kind: ColumnKind::Numeric {
                integer: is_integer != 0,
            },
        };
        push(table, spec, ColumnData::Numeric(v))
    })
}

fn push(table: *mut sv_table, spec: ColumnSpec, data: ColumnData) -> FfiResult<()> {
    // SAFETY: a live handle, used from one thread.
    let t = unsafe { &mut (*table).table };
    Ok(t.push_column(spec, data)?)
}

/// Appends a categorical column: `n` integer codes; code `c` stands for level
/// `levels[c - code_base]` (`code_base` 1 for R factors, 0 for C arrays) and `na_code` for a
/// missing value. `levels` holds `n_levels` distinct NUL-terminated UTF-8 labels; models
/// match levels by label, never by position. A code outside the levels, a duplicate label or
/// a label that is not UTF-8 is an error naming it.
#[no_mangle]
pub extern "C" fn sv_table_add_categorical(
    table: *mut sv_table,
    name: *const c_char,
    codes: *const i32,
    n: usize,
    code_base: i32,
    na_code: i32,
    levels: *const *const c_char,
    n_levels: usize,
) -> sv_status {
    guard(|| {
        if table.is_null() {
            return Err(Failure::null("table"));
        }
        let name = str_arg(name, "name")?;
        if codes.is_null() && n > 0 {
            return Err(Failure::null("codes"));
        }
        if levels.is_null() && n_levels > 0 {
            return Err(Failure::null("levels"));
        }
        let mut labels = Vec::with_capacity(n_levels);
        for k in 0..n_levels {
            // SAFETY: the caller passes n_levels readable pointers.
            let p = unsafe { *levels.add(k) };
            if p.is_null() {
                return Err(Failure::null(&format!("column '{name}': level {k}")));
            }
            // SAFETY: a NUL-terminated string.
            let s = unsafe { CStr::from_ptr(p) }.to_str().map_err(|_| {
                Failure::new(
                    SV_E_UTF8,
                    format!("column '{name}': level {k} is not valid UTF-8"),
                )
            })?;
            if labels.contains(&s.to_string()) {
                return Err(Failure::invalid(format!(
                    "column '{name}': level '{s}' appears twice"
                )));
            }
            labels.push(s.to_string());
        }
        check_na_code(name, na_code, code_base, &labels)?;
        let raw = if n == 0 {
            &[][..]
        } else {
            // SAFETY: the caller passes n readable codes.
            unsafe { std::slice::from_raw_parts(codes, n) }
        };
        let mut v = Vec::with_capacity(n);
        for (i, &c) in raw.iter().enumerate() {
            if c == na_code {
                v.push(MISSING);
                continue;
            }
            let k = i64::from(c) - i64::from(code_base);
            if k < 0 || k >= n_levels as i64 {
                return Err(Failure::invalid(format!(
                    "column '{name}', row {}: code {c} is outside the levels (codes {code_base} to {} and {na_code} for missing)",
                    i + 1,
                    i64::from(code_base) + n_levels as i64 - 1
                )));
            }
            v.push(k as u32);
        }
        let spec = ColumnSpec {
            name: name.to_string(),
            kind: ColumnKind::Categorical { levels: labels },
        };
        push(table, spec, ColumnData::Categorical(v))
    })
}

/// Refuses a missing-value code that is also a level's code: the two would collide.
fn check_na_code(column: &str, na_code: i32, code_base: i32, levels: &[String]) -> FfiResult<()> {
    let k = i64::from(na_code) - i64::from(code_base);
    if k >= 0 && (k as usize) < levels.len() {
        return Err(Failure::invalid(format!(
            "column '{column}': na_code {na_code} is also the code of level '{}' (codes {code_base} to {}); choose an na_code outside the level codes",
            levels[k as usize],
            i64::from(code_base) + levels.len() as i64 - 1
        )));
    }
    Ok(())
}

/// Reads a CSV file (header row; `.csv.gz` read directly; column types inferred).
#[no_mangle]
pub extern "C" fn sv_table_read_csv(path: *const c_char, out: *mut *mut sv_table) -> sv_status {
    guard(|| {
        check_out(out, "out")?;
        let path = str_arg(path, "path")?;
        let table = read_csv(path.as_ref(), &CsvOptions::default())?;
        put(out, sv_table { table });
        Ok(())
    })
}

/// Writes a table as CSV (whole or not at all).
#[no_mangle]
pub extern "C" fn sv_table_write_csv(table: *const sv_table, path: *const c_char) -> sv_status {
    guard(|| {
        let t = table_ref(table)?;
        let path = str_arg(path, "path")?;
        write_csv(t, path.as_ref())?;
        Ok(())
    })
}

/// Number of rows.
#[no_mangle]
pub extern "C" fn sv_table_n_rows(table: *const sv_table, out: *mut usize) -> sv_status {
    guard(|| {
        let t = table_ref(table)?;
        check_out(out, "out")?;
        // SAFETY: checked out-pointer.
        unsafe { *out = t.n_rows() };
        Ok(())
    })
}

/// Number of columns.
#[no_mangle]
pub extern "C" fn sv_table_n_cols(table: *const sv_table, out: *mut usize) -> sv_status {
    guard(|| {
        let t = table_ref(table)?;
        check_out(out, "out")?;
        // SAFETY: checked out-pointer.
        unsafe { *out = t.n_cols() };
        Ok(())
    })
}

/// A column's name, NUL-terminated, into `buf` of `buf_len` bytes; `*needed` (if not NULL)
/// receives the size needed. Call with `buf` NULL and `buf_len` 0 to ask for the size.
#[no_mangle]
pub extern "C" fn sv_table_column_name(
    table: *const sv_table,
    col: usize,
    buf: *mut c_char,
    buf_len: usize,
    needed: *mut usize,
) -> sv_status {
    guard(|| {
        let (spec, _) = column(table_ref(table)?, col)?;
        copy_string(&spec.name, buf, buf_len, needed)
    })
}

/// A column's kind (`SV_NUMERIC` or `SV_CATEGORICAL`) and, for numeric columns, whether it
/// holds whole numbers (`is_integer` may be NULL).
#[no_mangle]
pub extern "C" fn sv_table_column_kind(
    table: *const sv_table,
    col: usize,
    kind: *mut i32,
    is_integer: *mut i32,
) -> sv_status {
    guard(|| {
        let (spec, _) = column(table_ref(table)?, col)?;
        check_out(kind, "kind")?;
        let (k, int) = match spec.kind {
            ColumnKind::Numeric { integer } => (SV_NUMERIC, integer as i32),
            ColumnKind::Categorical { .. } => (SV_CATEGORICAL, 0),
        };
        // SAFETY: checked out-pointers.
        unsafe {
            *kind = k;
            if !is_integer.is_null() {
                *is_integer = int;
            }
        }
        Ok(())
    })
}

/// Number of levels of a categorical column.
#[no_mangle]
pub extern "C" fn sv_table_n_levels(
    table: *const sv_table,
    col: usize,
    out: *mut usize,
) -> sv_status {
    guard(|| {
        let (spec, _) = column(table_ref(table)?, col)?;
        check_out(out, "out")?;
        let ColumnKind::Categorical { levels } = &spec.kind else {
            return Err(Failure::invalid(format!(
                "column '{}' is numeric",
                spec.name
            )));
        };
        // SAFETY: checked out-pointer.
        unsafe { *out = levels.len() };
        Ok(())
    })
}

/// The label of level `level` (0-based) of a categorical column, as `sv_table_column_name`.
#[no_mangle]
pub extern "C" fn sv_table_level(
    table: *const sv_table,
    col: usize,
    level: usize,
    buf: *mut c_char,
    buf_len: usize,
    needed: *mut usize,
) -> sv_status {
    guard(|| {
        let (spec, _) = column(table_ref(table)?, col)?;
        let ColumnKind::Categorical { levels } = &spec.kind else {
            return Err(Failure::invalid(format!(
                "column '{}' is numeric",
                spec.name
            )));
        };
        let l = levels.get(level).ok_or_else(|| {
            Failure::invalid(format!(
                "level {level} is out of range (column '{}' has {} levels)",
                spec.name,
                levels.len()
            ))
        })?;
        copy_string(l, buf, buf_len, needed)
    })
}

/// Copies a numeric column into `out`, which holds `n` values (`n` must equal the row count);
/// missing values are NaN.
#[no_mangle]
pub extern "C" fn sv_table_get_numeric(
    table: *const sv_table,
    col: usize,
    out: *mut f64,
    n: usize,
) -> sv_status {
    guard(|| {
        let t = table_ref(table)?;
        let (spec, data) = column(t, col)?;
        let ColumnData::Numeric(v) = data else {
            return Err(Failure::invalid(format!(
                "column '{}' is categorical",
                spec.name
            )));
        };
        check_len(n, v.len())?;
        if n > 0 {
            check_out(out, "out")?;
            // SAFETY: out holds n values.
            unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), out, n) };
        }
        Ok(())
    })
}

fn check_len(n: usize, rows: usize) -> FfiResult<()> {
    if n != rows {
        return Err(Failure::new(
            if n < rows {
                SV_E_BUFFER_TOO_SMALL
            } else {
                super::SV_E_INVALID_ARGUMENT
            },
            format!("the buffer holds {n} values but the table has {rows} rows"),
        ));
    }
    Ok(())
}

/// Copies a categorical column's codes into `out` (`n` must equal the row count): level `k`
/// (0-based, as `sv_table_level`) is written as `k + code_base`, a missing value as `na_code`.
#[no_mangle]
pub extern "C" fn sv_table_get_categorical(
    table: *const sv_table,
    col: usize,
    out: *mut i32,
    n: usize,
    code_base: i32,
    na_code: i32,
) -> sv_status {
    guard(|| {
        let t = table_ref(table)?;
        let (spec, data) = column(t, col)?;
        let (ColumnData::Categorical(v), ColumnKind::Categorical { levels }) = (data, &spec.kind)
        else {
            return Err(Failure::invalid(format!(
                "column '{}' is numeric",
                spec.name
            )));
        };
        check_na_code(&spec.name, na_code, code_base, levels)?;
        check_len(n, v.len())?;
        if n > 0 {
            check_out(out, "out")?;
            // SAFETY: out holds n values.
            let o = unsafe { std::slice::from_raw_parts_mut(out, n) };
            for (d, &c) in o.iter_mut().zip(v) {
                *d = if c == MISSING {
                    na_code
                } else {
                    i32::try_from(c)
                        .ok()
                        .and_then(|c| c.checked_add(code_base))
                        .ok_or_else(|| Failure::invalid("code_base makes a code overflow"))?
                };
            }
        }
        Ok(())
    })
}

/// The public schema read off a table, as JSON (what `synthvol schema` writes) in new bytes
/// `*out`: each column's kind, levels (categorical), observed bounds and integer flag
/// (numeric), and whether it has missing values. Under differential privacy the levels and
/// bounds must be public knowledge: review them before a private fit.
#[no_mangle]
pub extern "C" fn sv_table_schema_json(
    table: *const sv_table,
    out: *mut *mut super::sv_bytes,
) -> sv_status {
    guard(|| {
        let t = table_ref(table)?;
        check_out(out, "out")?;
        put(
            out,
            super::sv_bytes::text(PublicSchema::from_table(t).to_json()),
        );
        Ok(())
    })
}

/// A data set bundled with the library, as a new table `*out`: "adult_train" (32,561 rows)
/// or "adult_test" (16,281 rows) of the Adult data (Becker & Kohavi 1996, CC BY 4.0).
#[no_mangle]
pub extern "C" fn sv_dataset(name: *const c_char, out: *mut *mut sv_table) -> sv_status {
    guard(|| {
        let name = str_arg(name, "name")?;
        check_out(out, "out")?;
        let table = match name {
            "adult_train" => crate::datasets::adult_train()?,
            "adult_test" => crate::datasets::adult_test()?,
            other => {
                return Err(Failure::invalid(format!(
                    "there is no bundled data set '{other}' (there are: adult_train, adult_test)"
                )))
            }
        };
        put(out, sv_table { table });
        Ok(())
    })
}

/// The public schema of a bundled data set ("adult"), as JSON in new bytes `*out`.
#[no_mangle]
pub extern "C" fn sv_dataset_schema_json(
    name: *const c_char,
    out: *mut *mut super::sv_bytes,
) -> sv_status {
    guard(|| {
        let name = str_arg(name, "name")?;
        check_out(out, "out")?;
        let schema = match name {
            "adult" => crate::datasets::adult_schema()?,
            other => {
                return Err(Failure::invalid(format!(
                    "there is no bundled schema '{other}' (there is: adult)"
                )))
            }
        };
        put(out, super::sv_bytes::text(schema.to_json()));
        Ok(())
    })
}

/// Frees a table (NULL is allowed).
#[no_mangle]
pub extern "C" fn sv_table_free(table: *mut sv_table) {
    if !table.is_null() {
        // SAFETY: a handle made by the library, freed once.
        drop(unsafe { Box::from_raw(table) });
    }
}
