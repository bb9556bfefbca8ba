//! Wide categorical columns in the encoded-space metrics. pMSE, detection, the Fréchet and
//! Wasserstein distances, utility and privacy risk one-hot every level, so their cost grows
//! with the square (or cube) of the level count: a 10,000-level column would take minutes
//! and gigabytes. For those metrics a column with more than [`MAX_LEVELS`] levels keeps its
//! most frequent levels in the real rows and pools the rest into one; the report says so.
//! The per-column scores and the plots still compare every level.

use super::Table;
use crate::error::Result;
use crate::table::{ColumnData, ColumnKind, Schema, MISSING};

/// Most levels a categorical column keeps in the encoded-space metrics.
pub const MAX_LEVELS: usize = 100;

/// The tables (real first) with each categorical column of more than `max` levels reduced to
/// the real rows' `max − 1` most frequent levels and one pooled level, and a note per column.
pub(crate) fn pool_rare_levels(tables: &[&Table], max: usize) -> Result<(Vec<Table>, Vec<String>)> {
    let real = tables[0];
    let mut schema = real.schema().clone();
    // Per wide column: old code → new code.
    let mut maps: Vec<(usize, Vec<u32>)> = Vec::new();
    let mut notes = Vec::new();
    for (j, spec) in schema.columns.iter_mut().enumerate() {
        let (ColumnKind::Categorical { levels }, ColumnData::Categorical(codes)) =
            (&mut spec.kind, real.column(j))
        else {
            continue;
        };
        if levels.len() <= max {
            continue;
        }
        let mut counts = vec![0usize; levels.len()];
        for &c in codes.iter().filter(|&&c| c != MISSING) {
            counts[c as usize] += 1;
        }
        let mut order: Vec<usize> = (0..levels.len()).collect();
        order.sort_by_key(|&l| (std::cmp::Reverse(counts[l]), l));
        let keep = max - 1;
        let mut map = vec![keep as u32; levels.len()];
        let mut kept: Vec<usize> = order[..keep].to_vec();
        kept.sort_unstable();
        for (new, &old) in kept.iter().enumerate() {
            map[old] = new as u32;
        }
        let mut pooled = "(other levels)".to_string();
        while levels.contains(&pooled) {
            pooled.push('*');
        }
        notes.push(format!(
            "column '{}' has {} levels: pMSE, detection, the distances, utility and privacy risk use its {keep} most frequent real levels and pool the other {} into '{pooled}'",
            spec.name,
            levels.len(),
            levels.len() - keep
        ));
        let mut new_levels: Vec<String> = kept.iter().map(|&l| levels[l].clone()).collect();
        new_levels.push(pooled);
        *levels = new_levels;
        maps.push((j, map));
    }
    if maps.is_empty() {
        return Ok((tables.iter().map(|t| (*t).clone()).collect(), notes));
    }
    let out = tables
        .iter()
        .map(|t| recode(t, &schema, &maps))
        .collect::<Result<Vec<_>>>()?;
    Ok((out, notes))
}

fn recode(t: &Table, schema: &Schema, maps: &[(usize, Vec<u32>)]) -> Result<Table> {
    let mut columns = t.columns().to_vec();
    for (j, map) in maps {
        if let ColumnData::Categorical(codes) = &mut columns[*j] {
            for c in codes.iter_mut().filter(|c| **c != MISSING) {
                *c = map[*c as usize];
            }
        }
    }
    Table::new(schema.clone(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::ColumnSpec;

    #[test]
    fn wide_columns_keep_their_frequent_levels_and_pool_the_rest() {
        let levels: Vec<String> = (0..10).map(|i| format!("l{i}")).collect();
        let spec = ColumnSpec {
            name: "c".into(),
            kind: ColumnKind::Categorical { levels },
        };
        let schema = Schema {
            columns: vec![spec],
        };
        // l9 most frequent, then l8; the others once.
        let real_codes = vec![9, 9, 9, 8, 8, 0, 1, 2, MISSING];
        let real = Table::new(schema.clone(), vec![ColumnData::Categorical(real_codes)]).unwrap();
        let syn = Table::new(schema, vec![ColumnData::Categorical(vec![3, 9, 8])]).unwrap();
        let (out, notes) = pool_rare_levels(&[&real, &syn], 3).unwrap();
        assert_eq!(notes.len(), 1);
        let ColumnKind::Categorical { levels } = &out[0].schema().columns[0].kind else {
            panic!()
        };
        assert_eq!(levels, &["l8", "l9", "(other levels)"]);
        assert_eq!(
            out[0].column(0),
            &ColumnData::Categorical(vec![1, 1, 1, 0, 0, 2, 2, 2, MISSING])
        );
        assert_eq!(out[1].column(0), &ColumnData::Categorical(vec![2, 1, 0]));
        // Narrow columns are left alone.
        let (same, notes) = pool_rare_levels(&[&real], 10).unwrap();
        assert!(notes.is_empty());
        assert_eq!(&same[0], &real);
    }
}
