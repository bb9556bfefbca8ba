//! Inputs built to break things: model files whose checksum is valid but whose contents are
//! not, random byte changes, random CSV bytes. Each is an error or a valid result, never a
//! panic.

mod common;

use common::*;
use synthvol::model::{FitRequest, Synthesizer};
use synthvol::table::{read_csv_bytes, CsvOptions};
use synthvol::ErrorKind;

/// Splits a model file into (header JSON, the rest after the header without the checksum).
fn split(bytes: &[u8]) -> (serde_json::Value, Vec<u8>) {
    let hlen = u64::from_le_bytes(bytes[16..24].try_into().unwrap()) as usize;
    let header = serde_json::from_slice(&bytes[24..24 + hlen]).expect("header");
    (header, bytes[24 + hlen..bytes.len() - 4].to_vec())
}

/// Reassembles a model file with a new header and a valid checksum.
fn rebuild(original: &[u8], header: &serde_json::Value, rest: &[u8]) -> Vec<u8> {
    let json = serde_json::to_vec(header).unwrap();
    let mut out = original[..16].to_vec();
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(rest);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

#[test]
fn headers_with_a_valid_checksum_but_inconsistent_contents_are_refused() {
    let m = fit(&mixed_table(300, 21), &quick_options(1));
    let bytes = m.to_bytes().expect("bytes");
    let (header, rest) = split(&bytes);
    assert!(
        Synthesizer::from_bytes(&rebuild(&bytes, &header, &rest)).is_ok(),
        "an untouched rebuild loads"
    );
    use serde_json::json;
    // (what, JSON pointer into the header, replacement)
    let tamper = [
        ("empty quantiles", "/encoder/numeric/0/quantiles", json!([])),
        (
            "unsorted quantiles",
            "/encoder/numeric/0/quantiles/0",
            json!(1e9),
        ),
        (
            "column out of range",
            "/encoder/numeric/0/column",
            json!(99),
        ),
        ("block of size 0", "/encoder/blocks/0/size", json!(0)),
        ("label counts", "/encoder/label/counts", json!([1.0])),
        ("no layers", "/net/layers", json!([])),
        ("odd time embedding", "/net/dim_t", json!(15)),
        ("timesteps", "/timesteps", json!(1)),
        // Sizes that set allocations: bounded at load as at fit time.
        (
            "a billion diffusion steps",
            "/timesteps",
            json!(1_000_000_000u64),
        ),
        (
            "a layer wider than any fit allows",
            "/net/layers/0",
            json!(70_000),
        ),
        (
            "a huge time embedding",
            "/net/dim_t",
            json!(4_000_000_000u64),
        ),
        (
            "an input width unlike the encoder's",
            "/net/d_in",
            json!(1u64 << 40),
        ),
        ("wrong field type", "/encoder/schema", json!("no")),
    ];
    for (what, pointer, value) in tamper {
        let mut h = header.clone();
        *h.pointer_mut(pointer).expect(pointer) = value;
        let e = Synthesizer::from_bytes(&rebuild(&bytes, &h, &rest)).expect_err(what);
        assert_eq!(e.kind, ErrorKind::Format, "{what}: {}", e.message);
    }
}

#[test]
fn random_changes_to_a_model_never_panic() {
    let m = fit(&mixed_table(200, 22), &quick_options(1));
    let bytes = m.to_bytes().expect("bytes");
    let mut s = 0x1234_5678_9abc_def0u64;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    for _ in 0..3000 {
        let mut b = bytes.clone();
        for _ in 0..1 + next() % 4 {
            let i = (next() as usize) % b.len();
            b[i] = next() as u8;
        }
        // With and without a repaired checksum, so the parser behind the checksum is exercised.
        let _ = Synthesizer::from_bytes(&b);
        let n = b.len();
        let crc = crc32fast::hash(&b[..n - 4]);
        b[n - 4..].copy_from_slice(&crc.to_le_bytes());
        if let Ok(m) = Synthesizer::from_bytes(&b) {
            let _ = m.sample(5, 1, &Default::default(), &mut no_progress());
        }
    }
}

#[test]
fn random_csv_bytes_never_panic() {
    let alphabet = b"a1,\n\r\"  .-e9NA?x\xff\xc3\xa9";
    let mut s = 42u64;
    for len in [0usize, 1, 5, 40, 400] {
        for _ in 0..400 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    s = s
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    alphabet[(s >> 33) as usize % alphabet.len()]
                })
                .collect();
            if let Ok(t) = read_csv_bytes(&bytes, "random.csv", &CsvOptions::default()) {
                // Whatever was read either fits or is refused with an error.
                let mut o = quick_options(1);
                o.target = None;
                o.optim.steps = 2;
                let _ = Synthesizer::fit(&t, &FitRequest::from_options(&o), &mut no_progress());
            }
        }
    }
}

#[test]
fn random_changes_to_a_schema_never_panic() {
    let text = include_str!("../fuzz/seeds/schema_reader/adult.json").as_bytes();
    synthvol::table::PublicSchema::from_json(std::str::from_utf8(text).unwrap()).expect("seed");
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let alphabet = b"{}[]\",:0123456789.eE-+ truefalsnul\\";
    for _ in 0..4000 {
        let mut b = text.to_vec();
        for _ in 0..1 + next() % 6 {
            let i = (next() as usize) % b.len();
            b[i] = alphabet[(next() as usize) % alphabet.len()];
        }
        if let Ok(t) = std::str::from_utf8(&b) {
            if let Ok(schema) = synthvol::table::PublicSchema::from_json(t) {
                schema.validate().expect("a schema read validates");
            }
        }
    }
}

#[test]
fn the_fuzz_seeds_are_valid_inputs() {
    let model = include_bytes!("../fuzz/seeds/model_loader/tiny.svmodel");
    let m = Synthesizer::from_bytes(model).expect("the seed model loads");
    m.sample(5, 1, &Default::default(), &mut no_progress())
        .expect("and samples");
    for csv in [
        &include_bytes!("../fuzz/seeds/csv_reader/adult60.csv")[..],
        &include_bytes!("../fuzz/seeds/csv_reader/quotes.csv")[..],
    ] {
        read_csv_bytes(csv, "seed.csv", &CsvOptions::default()).expect("the seed CSV reads");
    }
}

/// Found by the model-loader fuzzer: a header length near 2^64 made the bounds check itself
/// overflow.
#[test]
fn header_lengths_near_the_top_of_u64_are_refused() {
    let model = include_bytes!("../fuzz/seeds/model_loader/tiny.svmodel");
    for hlen in [u64::MAX, u64::MAX - 27, u64::MAX - 31, u64::MAX / 4] {
        let mut b = model.to_vec();
        b[16..24].copy_from_slice(&hlen.to_le_bytes());
        let n = b.len();
        let crc = crc32fast::hash(&b[..n - 4]);
        b[n - 4..].copy_from_slice(&crc.to_le_bytes());
        let e = Synthesizer::from_bytes(&b).expect_err("refused");
        assert_eq!(e.kind, ErrorKind::Format, "{hlen}: {}", e.message);
    }
    let crash = include_bytes!("../fuzz/seeds/model_loader/crash-header-length-overflow");
    assert!(Synthesizer::from_bytes(crash).is_err());
}
