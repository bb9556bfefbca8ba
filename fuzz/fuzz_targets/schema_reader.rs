//! The public-schema reader on arbitrary text: an error or a schema that validates and
//! round-trips through its own JSON, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synthvol::table::PublicSchema;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(s) = PublicSchema::from_json(text) {
        s.validate().expect("a schema read validates");
        let again = PublicSchema::from_json(&s.to_json()).expect("a schema round-trips");
        assert_eq!(again.columns.len(), s.columns.len());
    }
});
