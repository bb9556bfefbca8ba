//! Data sets bundled with the library (see `data/adult/README.md` for the citation).

use crate::error::Result;
use crate::table::{read_csv_bytes, CsvOptions, Table};

const ADULT_TRAIN: &[u8] = include_bytes!("../data/adult/adult_train.csv.gz");
const ADULT_TEST: &[u8] = include_bytes!("../data/adult/adult_test.csv.gz");
const ADULT_SCHEMA: &str = include_str!("../data/adult/schema.json");

/// Citation of the Adult data set.
pub const ADULT_CITATION: &str = "Becker, B. and Kohavi, R. (1996). Adult. UCI Machine Learning Repository. https://doi.org/10.24432/C5XW20 (CC BY 4.0)";

/// The Adult training file (32,561 rows, 15 columns; target `income`).
pub fn adult_train() -> Result<Table> {
    read_csv_bytes(ADULT_TRAIN, "adult_train.csv", &CsvOptions::default())
}

/// The Adult test file (16,281 rows).
pub fn adult_test() -> Result<Table> {
    read_csv_bytes(ADULT_TEST, "adult_test.csv", &CsvOptions::default())
}

/// The public schema of the Adult data for private fits (documented levels, round public
/// bounds; see `data/adult/README.md`).
pub fn adult_schema() -> Result<crate::table::PublicSchema> {
    crate::table::PublicSchema::from_json(ADULT_SCHEMA)
}
