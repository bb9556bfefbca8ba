//! End-to-end behaviour of the engine: determinism, validity of sampled rows, the encoder's
//! round trip, the model format and cancellation.

mod common;

use common::*;
use synthvol::internals::encode::Encoder;
use synthvol::model::{FitRequest, SampleOptions, Synthesizer};
use synthvol::progress::Progress;
use synthvol::table::{write_csv_to, ColumnData, ColumnKind, MISSING};
use synthvol::ErrorKind;

fn csv_bytes(t: &synthvol::table::Table) -> Vec<u8> {
    let mut v = Vec::new();
    write_csv_to(t, &mut v).expect("write");
    v
}

#[test]
fn same_seed_same_bytes_and_thread_count_does_not_matter() {
    let table = mixed_table(500, 1);
    // Batches of 300 rows run as two shards, on one thread or on two.
    let opts = |threads| {
        let mut o = quick_options(threads);
        o.optim.batch_size = 300;
        o
    };
    let m1 = fit(&table, &opts(1));
    let m1b = fit(&table, &opts(1));
    let m2 = fit(&table, &opts(2));
    assert_eq!(m1.weights(), m1b.weights(), "same seed, same weights");
    assert_eq!(
        m1.weights(),
        m2.weights(),
        "1 and 2 threads give the same weights"
    );
    let s = |m: &Synthesizer, threads: usize, seed: u64| {
        csv_bytes(
            &m.sample(
                300,
                seed,
                &SampleOptions {
                    batch_size: 128,
                    threads,
                    ..SampleOptions::default()
                },
                &mut no_progress(),
            )
            .expect("sample"),
        )
    };
    let a = s(&m1, 1, 3);
    assert_eq!(a, s(&m1, 1, 3), "same seed, same rows");
    assert_eq!(a, s(&m1, 2, 3), "1 and 2 threads, same rows");
    assert_ne!(a, s(&m1, 1, 4), "another seed, other rows");
    // A model that went through bytes samples the same rows.
    let back = Synthesizer::from_bytes(&m1.to_bytes().expect("bytes")).expect("load");
    assert_eq!(a, s(&back, 2, 3));
}

#[test]
fn sampled_rows_are_valid() {
    let table = mixed_table(2000, 2);
    let mut o = quick_options(0);
    o.optim.steps = 1000;
    o.layers = vec![64, 64];
    let m = fit(&table, &o);
    let syn = m
        .sample(4000, 1, &SampleOptions::default(), &mut no_progress())
        .expect("sample");
    assert_eq!(syn.schema(), table.schema());
    assert_eq!(syn.n_rows(), 4000);
    for (j, spec) in table.schema().columns.iter().enumerate() {
        match (table.column(j), syn.column(j), &spec.kind) {
            (ColumnData::Numeric(r), ColumnData::Numeric(s), ColumnKind::Numeric { integer }) => {
                let lo = r
                    .iter()
                    .copied()
                    .filter(|x| !x.is_nan())
                    .fold(f64::INFINITY, f64::min);
                let hi = r
                    .iter()
                    .copied()
                    .filter(|x| !x.is_nan())
                    .fold(f64::NEG_INFINITY, f64::max);
                for &v in s.iter().filter(|v| !v.is_nan()) {
                    assert!(
                        v >= lo && v <= hi,
                        "column {}: {v} outside [{lo}, {hi}]",
                        spec.name
                    );
                    if *integer {
                        assert_eq!(v.fract(), 0.0, "column {} must hold integers", spec.name);
                    }
                }
                let rate =
                    |v: &[f64]| v.iter().filter(|x| x.is_nan()).count() as f64 / v.len() as f64;
                assert!(
                    (rate(r) - rate(s)).abs() < 0.04,
                    "column {}: missing rate {} vs {}",
                    spec.name,
                    rate(r),
                    rate(s)
                );
            }
            (
                ColumnData::Categorical(r),
                ColumnData::Categorical(s),
                ColumnKind::Categorical { levels },
            ) => {
                assert!(s
                    .iter()
                    .all(|&c| c == MISSING || (c as usize) < levels.len()));
                let rate =
                    |v: &[u32]| v.iter().filter(|&&c| c == MISSING).count() as f64 / v.len() as f64;
                // Every level (missing included) at about its observed frequency.
                let fr = |v: &[u32]| {
                    (0..=levels.len())
                        .map(|k| {
                            v.iter()
                                .filter(|&&c| {
                                    if k == levels.len() {
                                        c == MISSING
                                    } else {
                                        c == k as u32
                                    }
                                })
                                .count() as f64
                                / v.len() as f64
                        })
                        .collect::<Vec<_>>()
                };
                let (fr_r, fr_s) = (fr(r), fr(s));
                for (a, b) in fr_r.iter().zip(&fr_s) {
                    assert!(
                        (a - b).abs() < 0.05,
                        "column {}: level frequencies {fr_r:.3?} vs {fr_s:.3?}",
                        spec.name
                    );
                }
                assert!(
                    (rate(r) - rate(s)).abs() < 0.03,
                    "column {}: missing rate {} vs {}",
                    spec.name,
                    rate(r),
                    rate(s)
                );
            }
            _ => panic!("kinds differ"),
        }
    }
    // The few-valued integer column is snapped to its observed values.
    let ColumnData::Numeric(b) = syn.column(1) else {
        unreachable!()
    };
    assert!(b.iter().all(|&v| [0.0, 1.0, 2.0, 3.0, 4.0].contains(&v)));
}

#[test]
fn encoder_round_trip() {
    let table = mixed_table(3000, 3);
    let enc = Encoder::fit(&table, Some(4)).expect("fit");
    let e = enc.encode(&table).expect("encode");
    let back = enc.decode(&e.x, e.labels.as_deref(), e.n).expect("decode");
    for j in 0..table.n_cols() {
        match (table.column(j), back.column(j)) {
            (ColumnData::Categorical(a), ColumnData::Categorical(b)) => {
                assert_eq!(a, b, "categorical round trip is exact")
            }
            (ColumnData::Numeric(a), ColumnData::Numeric(b)) => {
                let mut sorted: Vec<f64> = a.iter().copied().filter(|x| !x.is_nan()).collect();
                sorted.sort_by(f64::total_cmp);
                let range = sorted[sorted.len() - 1] - sorted[0];
                // Quantile resolution: values between two adjacent quantiles (of 100 here) come
                // back within their spacing; integer columns come back exactly.
                let nq = (sorted.len() / 30).clamp(10, 1000) as f64;
                for (x, y) in a.iter().zip(b) {
                    assert_eq!(x.is_nan(), y.is_nan());
                    if !x.is_nan() {
                        let tol = if j == 1 {
                            0.0
                        } else {
                            range / (nq - 1.0) * 2.0
                        };
                        assert!((x - y).abs() <= tol + 1e-9, "column {j}: {x} → {y}");
                    }
                }
            }
            _ => panic!("kinds differ"),
        }
    }
}

#[test]
fn model_bytes_reject_truncation_corruption_and_future_versions() {
    let m = fit(&mixed_table(200, 4), &quick_options(1));
    let bytes = m.to_bytes().expect("bytes");
    assert!(Synthesizer::from_bytes(&bytes).is_ok());
    for cut in [0, 5, 20, bytes.len() / 2, bytes.len() - 1] {
        let e = Synthesizer::from_bytes(&bytes[..cut]).expect_err("truncated");
        assert_eq!(e.kind, ErrorKind::Format);
        assert!(
            e.message.contains("truncated") || e.message.contains("not a synthvol model"),
            "{}",
            e.message
        );
    }
    let mut bad = bytes.clone();
    let mid = bad.len() - 100;
    bad[mid] ^= 0x40;
    assert!(Synthesizer::from_bytes(&bad)
        .expect_err("corrupt")
        .message
        .contains("checksum"));
    let mut future = bytes.clone();
    future[8..12].copy_from_slice(&99u32.to_le_bytes());
    assert!(Synthesizer::from_bytes(&future)
        .expect_err("future")
        .message
        .contains("newer synthvol"));
    assert!(Synthesizer::from_bytes(b"PK\x03\x04 a zip file")
        .expect_err("foreign")
        .message
        .contains("not a synthvol model"));
}

#[test]
fn cancelling_stops_training_and_sampling() {
    let table = mixed_table(300, 5);
    let mut seen = 0;
    let mut cancel_after_3 = |p: &Progress| {
        seen = p.done;
        p.done < 3
    };
    let e = Synthesizer::fit(
        &table,
        &FitRequest::from_options(&quick_options(1)),
        &mut cancel_after_3,
    )
    .expect_err("cancelled");
    assert_eq!(e.kind, ErrorKind::Cancelled);
    assert!(
        seen <= 4,
        "stopped within a step of the request (saw step {seen})"
    );
    let m = fit(&table, &quick_options(1));
    let e = m
        .sample(100, 0, &SampleOptions::default(), &mut |p: &Progress| {
            p.done < 2
        })
        .expect_err("cancelled");
    assert_eq!(e.kind, ErrorKind::Cancelled);
}

#[test]
fn training_reduces_the_loss() {
    let table = mixed_table(1000, 6);
    let mut o = quick_options(0);
    o.optim.steps = 400;
    let m = fit(&table, &o);
    let h = &m.record().loss_history;
    let first = h[..5].iter().map(|l| l.1).sum::<f64>() / 5.0;
    let last = h[h.len() - 5..].iter().map(|l| l.1).sum::<f64>() / 5.0;
    assert!(last < 0.8 * first, "loss fell from {first} to {last}");
}
