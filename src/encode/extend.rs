//! Growing a fitted encoder by categorical levels it has not seen, for fine-tuning on data
//! that has them (pre-train on men, fine-tune on women). New levels are appended to their
//! column's level list, so existing codes keep their meaning; in the encoded row they sit at
//! the end of the column's block, before its "missing" slot.

use super::{BlockSource, Encoder};
use crate::error::{Error, Result};
use crate::table::ColumnKind;

/// The grown encoder and how encoded positions moved.
#[derive(Debug, Clone)]
pub struct Extension {
    pub encoder: Encoder,
    /// New encoded position of each old encoded position.
    pub moved: Vec<usize>,
    /// Encoded positions of the added levels, with the old positions of the other levels of
    /// their block (to start the new output logits from the block's existing ones).
    pub added: Vec<(usize, Vec<usize>)>,
}

impl Encoder {
    /// Appends `levels` to categorical `column`'s level set.
    pub fn with_added_levels(&self, additions: &[(usize, Vec<String>)]) -> Result<Extension> {
        let mut enc = self.clone();
        let mut grow = vec![0usize; self.schema.columns.len()];
        for (column, new) in additions {
            let spec = enc
                .schema
                .columns
                .get_mut(*column)
                .ok_or_else(|| Error::invalid(format!("no column {column}")))?;
            let ColumnKind::Categorical { levels } = &mut spec.kind else {
                return Err(Error::invalid(format!(
                    "column '{}' is numeric: it has no levels to add",
                    spec.name
                )));
            };
            for l in new {
                if levels.contains(l) {
                    return Err(Error::invalid(format!(
                        "column '{}' already has level '{l}'",
                        spec.name
                    )));
                }
                levels.push(l.clone());
            }
            grow[*column] += new.len();
        }
        if let Some(label) = &mut enc.label {
            label.n_classes += grow[label.column];
            label.counts.resize(label.n_classes, 0.0);
        }
        // Walk the old and new layouts block by block.
        let n_num = self.numeric.len();
        let mut moved: Vec<usize> = (0..n_num).collect();
        let mut added = Vec::new();
        let (mut old_off, mut new_off) = (n_num, n_num);
        for (ob, nb) in self.blocks.iter().zip(enc.blocks.iter_mut()) {
            let g = match ob.source {
                BlockSource::Column { column, .. } => grow[column],
                BlockSource::MissingIndicator { .. } => 0,
            };
            let has_missing = matches!(
                ob.source,
                BlockSource::Column {
                    has_missing: true,
                    ..
                }
            );
            let n_levels = ob.size - has_missing as usize;
            for k in 0..n_levels {
                moved.push(new_off + k);
            }
            let siblings: Vec<usize> = (old_off..old_off + n_levels).collect();
            for k in 0..g {
                added.push((new_off + n_levels + k, siblings.clone()));
            }
            if has_missing {
                moved.push(new_off + n_levels + g);
            }
            nb.size = ob.size + g;
            old_off += ob.size;
            new_off += nb.size;
        }
        enc.validate()?;
        Ok(Extension {
            encoder: enc,
            moved,
            added,
        })
    }
}
