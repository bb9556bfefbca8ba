//! Output precision: numeric columns come back at the decimals their training values have
//! (one decimal in, one out; integers stay integers) unless "precision" is "full"; a private
//! fit keeps full precision (learning decimals from private rows would spend privacy); the
//! choice is recorded; and a model file of the previous format version still loads and samples.

mod common;

use common::*;
use synthvol::internals::encode::{decimals_of, round_to};
use synthvol::model::{FitRequest, Precision, SampleOptions, Synthesizer};
use synthvol::table::{ColumnData, ColumnKind, ColumnSpec, Schema, Table};

/// bmi with one decimal, a score with three, an integer age, a full-precision measurement: all
/// with many distinct values (so nothing is snapped to the observed values).
fn table(n: usize) -> Table {
    let mut r = Lcg(11);
    let (mut bmi, mut score, mut age, mut raw) = (vec![], vec![], vec![], vec![]);
    for _ in 0..n {
        bmi.push((180.0 + 220.0 * r.u()).round() / 10.0);
        score.push((1000.0 * r.u()).round() / 1000.0);
        age.push((18.0 + 70.0 * r.u()).round());
        raw.push(r.normal() * std::f64::consts::PI);
    }
    let int = |name: &str| ColumnSpec {
        name: name.into(),
        kind: ColumnKind::Numeric { integer: true },
    };
    Table::new(
        Schema {
            columns: vec![num("bmi"), num("score"), int("age"), num("raw")],
        },
        vec![
            ColumnData::Numeric(bmi),
            ColumnData::Numeric(score),
            ColumnData::Numeric(age),
            ColumnData::Numeric(raw),
        ],
    )
    .expect("table")
}

fn fit_json(t: &Table, extra: &str) -> synthvol::Result<Synthesizer> {
    let req = FitRequest::from_json(&format!(
        r#"{{"steps": 60, "layers": [32, 32], "time_dim": 16, "timesteps": 20, "batch_size": 128{extra}}}"#
    ))?;
    Synthesizer::fit(t, &req, &mut no_progress())
}

fn column(t: &Table, i: usize) -> Vec<f64> {
    match t.column(i) {
        ColumnData::Numeric(v) => v.clone(),
        _ => panic!("numeric"),
    }
}

/// The decimals a value prints with.
fn printed_decimals(v: f64) -> usize {
    let s = format!("{v}");
    s.split_once('.').map_or(0, |(_, f)| f.len())
}

fn csv(t: &Table) -> Vec<u8> {
    let mut v = Vec::new();
    synthvol::table::write_csv_to(t, &mut v).unwrap();
    v
}

fn sample(m: &Synthesizer, n: usize) -> Table {
    m.sample(n, 3, &SampleOptions::default(), &mut no_progress())
        .expect("sample")
}

#[test]
fn decimals_are_learned_and_kept() {
    let t = table(1500);
    let m = fit_json(&t, "").expect("fit");
    assert_eq!(m.record().options.precision, Precision::Input);
    let s = sample(&m, 2000);
    let max_dec = |i: usize| {
        column(&s, i)
            .into_iter()
            .map(printed_decimals)
            .max()
            .unwrap()
    };
    assert!(max_dec(0) <= 1, "bmi: {:?}", &column(&s, 0)[..5]);
    assert!(max_dec(1) <= 3, "score: {:?}", &column(&s, 1)[..5]);
    assert_eq!(max_dec(2), 0, "age must stay whole");
    assert!(max_dec(3) > 8, "a full-precision column stays full");
    // the choice survives a round trip through the file format
    let back = Synthesizer::from_bytes(&m.to_bytes().unwrap()).unwrap();
    assert_eq!(csv(&sample(&back, 50)), csv(&sample(&m, 50)));

    // "full" keeps every digit
    let f = fit_json(&t, r#", "precision": "full""#).expect("fit");
    assert_eq!(f.record().options.precision, Precision::Full);
    let fs = sample(&f, 2000);
    assert!(
        column(&fs, 0)
            .into_iter()
            .map(printed_decimals)
            .max()
            .unwrap()
            > 3
    );
    // precision does not change training: the same values, rounded (not snapped elsewhere)
    assert_eq!(f.weights(), m.weights());
    for (i, d) in [(0usize, 1u32), (1, 3)] {
        let rounded: Vec<f64> = column(&fs, i).into_iter().map(|v| round_to(v, d)).collect();
        assert_eq!(rounded, column(&s, i), "column {i}");
    }
}

#[test]
fn private_fits_keep_full_precision_and_refuse_input() {
    let t = table(600);
    let schema = synthvol::table::PublicSchema::from_table(&t).to_json();
    let private = format!(r#", "epsilon": 5.0, "noise_seed": 1, "schema": {schema}"#);
    let m = fit_json(&t, &private).expect("private fit");
    assert_eq!(m.record().options.precision, Precision::Full);
    let e = fit_json(&t, &format!(r#"{private}, "precision": "input""#)).expect_err("refused");
    assert!(e.message.contains("option 'precision'"), "{}", e.message);
    // a fine-tuning keeps the model's precision
    let base = fit_json(&t, "").unwrap();
    let req = FitRequest::from_json(r#"{"precision": "full", "steps": 5}"#).unwrap();
    let e = base
        .fine_tune(&t, &req, &mut no_progress())
        .expect_err("refused");
    assert!(e.message.contains("'precision'"), "{}", e.message);
}

#[test]
fn a_model_of_the_previous_format_still_loads() {
    let bytes = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/seeds/model_loader/tiny.svmodel"),
    )
    .unwrap();
    assert_eq!(u32::from_le_bytes(bytes[8..12].try_into().unwrap()), 1);
    let m = Synthesizer::from_bytes(&bytes).expect("a version 1 model loads");
    assert_eq!(m.record().options.precision, Precision::Full);
    assert_eq!(sample(&m, 20).n_rows(), 20);
}

#[test]
fn decimals_and_rounding() {
    assert_eq!(decimals_of(&[30.2, 18.0, 25.5]), Some(1));
    assert_eq!(decimals_of(&[1.0, 2.0]), Some(0));
    assert_eq!(decimals_of(&[0.125, 0.5]), Some(3));
    assert_eq!(decimals_of(&[0.1 + 0.2]), Some(1)); // 0.30000000000000004 is 0.3 as written
    assert_eq!(decimals_of(&[std::f64::consts::PI]), None);
    assert_eq!(decimals_of(&[1e-12]), None);
    assert_eq!(decimals_of(&[f64::NAN, 2.5]), Some(1));
    assert_eq!(format!("{}", round_to(20.582435374090814, 1)), "20.6");
    assert_eq!(format!("{}", round_to(-0.04999, 2)), "-0.05");
    assert_eq!(round_to(1e300, 8), 1e300);
}
