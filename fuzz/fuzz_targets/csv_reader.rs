//! The CSV reader on arbitrary bytes (plain and gzip-looking): an error or a table, never a
//! panic; a table it returns is valid (it writes back and reads again).
#![no_main]

use libfuzzer_sys::fuzz_target;
use synthvol::table::{read_csv_bytes, write_csv_to, CsvOptions};

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = read_csv_bytes(data, "fuzz.csv", &CsvOptions::default()) {
        let mut out = Vec::new();
        write_csv_to(&t, &mut out).expect("a table read can be written");
    }
});
