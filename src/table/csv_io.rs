//! CSV reading with type inference (overridable per column) and CSV writing.

use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::path::Path;

use super::{format_number, ColumnData, ColumnKind, ColumnSpec, Schema, Table, MISSING};
use crate::error::{Error, Result};

/// How to read a CSV file.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    /// Columns to read as categorical even when every value is a number.
    pub categorical: Vec<String>,
    /// Columns that must be numeric (a value that is not a number is an error).
    pub numeric: Vec<String>,
    /// Field values that mean "missing" (compared after trimming spaces).
    pub na_values: Vec<String>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            categorical: Vec::new(),
            numeric: Vec::new(),
            na_values: vec![String::new(), "NA".into(), "?".into()],
        }
    }
}

/// Reads a CSV file (comma-separated, a header row, UTF-8; `.gz` files are decompressed).
pub fn read_csv(path: &Path, opts: &CsvOptions) -> Result<Table> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path.display(), e))?;
    let name = path.display().to_string();
    if path.extension().is_some_and(|e| e == "gz") {
        read_from(flate2::read::GzDecoder::new(file), &name, opts)
    } else {
        read_from(file, &name, opts)
    }
}

/// Reads CSV text held in memory (gzip-compressed when it starts with the gzip magic).
pub fn read_csv_bytes(bytes: &[u8], name: &str, opts: &CsvOptions) -> Result<Table> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        read_from(flate2::read::GzDecoder::new(bytes), name, opts)
    } else {
        read_from(bytes, name, opts)
    }
}

fn read_from<R: Read>(reader: R, name: &str, opts: &CsvOptions) -> Result<Table> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut record = csv::ByteRecord::new();
    let mut header: Option<Vec<String>> = None;
    let mut raw: Vec<Vec<String>> = Vec::new();
    let mut lines: Vec<u64> = Vec::new();
    loop {
        let more = rdr
            .read_byte_record(&mut record)
            .map_err(|e| csv_error(name, e))?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line());
        // Blank lines carry nothing; the csv reader already skips them.
        let mut fields = Vec::with_capacity(record.len());
        for (j, f) in record.iter().enumerate() {
            let s = std::str::from_utf8(f).map_err(|_| {
                Error::data(format!(
                    "{name}, line {line}, field {}: invalid UTF-8 (save the file as UTF-8)",
                    j + 1
                ))
            })?;
            fields.push(s.trim().to_string());
        }
        match &header {
            None => {
                if let Some(first) = fields.first_mut() {
                    if let Some(stripped) = first.strip_prefix('\u{feff}') {
                        *first = stripped.to_string();
                    }
                }
                check_header(name, &fields)?;
                raw = vec![Vec::new(); fields.len()];
                header = Some(fields);
            }
            Some(h) => {
                if fields.len() != h.len() {
                    if let Some(j) = record.iter().position(|f| f.contains(&b'\n')) {
                        let spans = record
                            .iter()
                            .map(|f| f.iter().filter(|&&b| b == b'\n').count())
                            .sum::<usize>();
                        return Err(Error::data(format!(
                            "{name}, line {line}: field {} opens a quote that is not closed where the row should end (it runs on over {spans} more line(s){}); close the quote, or double a quote character inside a quoted field",
                            j + 1,
                            if rdr.is_done() { ", to the end of the file" } else { "" }
                        )));
                    }
                    return Err(Error::data(format!(
                        "{name}, line {line}: {} fields, but the header has {}",
                        fields.len(),
                        h.len()
                    )));
                }
                for (col, f) in raw.iter_mut().zip(fields) {
                    col.push(f);
                }
                lines.push(line);
            }
        }
    }
    let header = header.ok_or_else(|| {
        Error::data(format!(
            "{name} is empty: expected a header row and data rows"
        ))
    })?;
    if lines.is_empty() {
        return Err(Error::data(format!("{name} has a header but no data rows")));
    }
    for forced in opts.categorical.iter().chain(&opts.numeric) {
        if !header.contains(forced) {
            return Err(Error::invalid(format!(
                "column '{forced}' named in --categorical/--numeric is not in {name}; its columns are: {}",
                header.join(", ")
            )));
        }
    }
    if let Some(c) = opts.categorical.iter().find(|c| opts.numeric.contains(c)) {
        return Err(Error::invalid(format!(
            "column '{c}' is named both categorical and numeric"
        )));
    }
    let na = |s: &str| opts.na_values.iter().any(|v| v == s);
    let mut specs = Vec::with_capacity(header.len());
    let mut columns = Vec::with_capacity(header.len());
    for (name_j, values) in header.iter().zip(raw) {
        let force_cat = opts.categorical.contains(name_j);
        let force_num = opts.numeric.contains(name_j);
        let parsed: Option<Vec<f64>> = if force_cat {
            None
        } else {
            let mut out = Vec::with_capacity(values.len());
            let mut ok = true;
            let mut non_finite: Option<usize> = None;
            for (i, v) in values.iter().enumerate() {
                if na(v) {
                    out.push(f64::NAN);
                    continue;
                }
                match v.parse::<f64>() {
                    Ok(x) => {
                        if !x.is_finite() && non_finite.is_none() {
                            non_finite = Some(i);
                        }
                        out.push(x)
                    }
                    Err(_) if force_num => {
                        return Err(Error::data(format!(
                            "{name}, line {}, column '{name_j}': '{v}' is not a number (the column was declared numeric)",
                            lines[i]
                        )))
                    }
                    Err(_) => {
                        ok = false;
                        break;
                    }
                }
            }
            if let (true, Some(i)) = (ok, non_finite) {
                return Err(Error::data(format!(
                    "{name}, line {}, column '{name_j}': '{}' is not a finite number; write a missing value as an empty field or NA",
                    lines[i], values[i]
                )));
            }
            ok.then_some(out)
        };
        match parsed {
            Some(v) => {
                let integer = v.iter().all(|x| x.is_nan() || x.fract() == 0.0);
                specs.push(ColumnSpec {
                    name: name_j.clone(),
                    kind: ColumnKind::Numeric { integer },
                });
                columns.push(ColumnData::Numeric(v));
            }
            None => {
                let levels: BTreeSet<&str> = values
                    .iter()
                    .map(|s| s.as_str())
                    .filter(|s| !na(s))
                    .collect();
                let levels: Vec<String> = levels.into_iter().map(str::to_string).collect();
                let index: HashMap<&str, u32> = levels
                    .iter()
                    .enumerate()
                    .map(|(k, l)| (l.as_str(), k as u32))
                    .collect();
                let codes = values
                    .iter()
                    .map(|s| index.get(s.as_str()).copied().unwrap_or(MISSING))
                    .collect();
                specs.push(ColumnSpec {
                    name: name_j.clone(),
                    kind: ColumnKind::Categorical { levels },
                });
                columns.push(ColumnData::Categorical(codes));
            }
        }
    }
    Table::new(Schema { columns: specs }, columns)
}

fn check_header(name: &str, fields: &[String]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for (j, f) in fields.iter().enumerate() {
        if f.is_empty() {
            return Err(Error::data(format!(
                "{name}, line 1: column {} of the header has no name",
                j + 1
            )));
        }
        if !seen.insert(f.as_str()) {
            return Err(Error::data(format!(
                "{name}, line 1: column name '{f}' appears twice in the header"
            )));
        }
    }
    Ok(())
}

fn csv_error(name: &str, e: csv::Error) -> Error {
    let line = e
        .position()
        .map(|p| format!(", line {}", p.line()))
        .unwrap_or_default();
    match e.kind() {
        csv::ErrorKind::Io(io) => {
            Error::new(crate::error::ErrorKind::Io, format!("{name}{line}: {io}"))
        }
        _ => Error::data(format!("{name}{line}: {e}")),
    }
}

/// Writes a table as CSV to a file (missing values as empty fields), whole or not at all
/// (see [`crate::files`]).
pub fn write_csv(table: &Table, path: &Path) -> Result<()> {
    let mut f = crate::files::AtomicFile::create(path)?;
    write_csv_to(table, f.writer()).map_err(|e| Error::io(path.display(), e))?;
    f.commit()
}

/// Writes a table as CSV to any writer.
pub fn write_csv_to<W: Write>(table: &Table, out: W) -> std::io::Result<()> {
    let mut w = CsvWriter::new(out, table.schema(), true)?;
    w.write(table)?;
    w.finish().map(drop)
}

/// CSV rows written table by table (a sampling's blocks) under one header: missing values as
/// empty fields, integer columns without a decimal point.
pub struct CsvWriter<W: Write> {
    w: csv::Writer<W>,
    schema: Schema,
    row: Vec<String>,
}

impl<W: Write> CsvWriter<W> {
    /// A writer for tables of `schema`, starting with the header row when `header`.
    pub fn new(out: W, schema: &Schema, header: bool) -> std::io::Result<Self> {
        let mut w = csv::Writer::from_writer(out);
        if header {
            w.write_record(schema.columns.iter().map(|c| c.name.as_bytes()))?;
        }
        Ok(CsvWriter {
            w,
            schema: schema.clone(),
            row: Vec::with_capacity(schema.columns.len()),
        })
    }

    /// Appends the rows of `table`, which has the writer's schema.
    pub fn write(&mut self, table: &Table) -> std::io::Result<()> {
        if table.schema() != &self.schema {
            return Err(std::io::Error::other(
                "the table's schema differs from the CSV writer's",
            ));
        }
        for i in 0..table.n_rows() {
            self.row.clear();
            for (spec, col) in table.schema().columns.iter().zip(table.columns()) {
                self.row.push(match (&spec.kind, col) {
                    (ColumnKind::Numeric { integer }, ColumnData::Numeric(v)) => {
                        if v[i].is_nan() {
                            String::new()
                        } else {
                            format_number(v[i], *integer)
                        }
                    }
                    (ColumnKind::Categorical { levels }, ColumnData::Categorical(v)) => {
                        if v[i] == MISSING {
                            String::new()
                        } else {
                            levels[v[i] as usize].clone()
                        }
                    }
                    _ => unreachable!("Table::new checks kinds"),
                });
            }
            self.w.write_record(&self.row)?;
        }
        Ok(())
    }

    /// The underlying writer (what reached it so far: the CSV writer buffers).
    pub fn get_ref(&self) -> &W {
        self.w.get_ref()
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(self) -> std::io::Result<W> {
        self.w
            .into_inner()
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
}
