//! Sampling through the C ABI against the Rust API: 100,000 rows from one model, each way
//! timed in alternation, the order swapped every repetition, after a warm-up (medians of 5). The C ABI path includes what a binding does after
//! the call: copying every column out with `sv_table_get_*`. `cargo bench --bench ffi`.

use std::ptr;
use std::time::Instant;

use synthvol::datasets;
use synthvol::internals::ffi::{
    sv_model, sv_model_free, sv_model_from_bytes, sv_sample, sv_table, sv_table_free,
    sv_table_get_categorical, sv_table_get_numeric, SV_OK,
};
use synthvol::model::{FitOptions, FitRequest, SampleOptions, Synthesizer};
use synthvol::table::ColumnData;

const ROWS: usize = 100_000;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let train = datasets::adult_train().expect("bundled data");
    let mut o = FitOptions {
        target: Some("income".into()),
        layers: vec![256, 256],
        timesteps: 20,
        ..FitOptions::default()
    };
    o.optim.steps = 200;
    let model =
        Synthesizer::fit(&train, &FitRequest::from_options(&o), &mut |_| true).expect("fit");
    let bytes = model.to_bytes().expect("bytes");
    let mut handle: *mut sv_model = ptr::null_mut();
    assert_eq!(
        sv_model_from_bytes(bytes.as_ptr(), bytes.len(), &mut handle),
        SV_OK
    );

    let time_rust = |rep: u64| {
        let t = Instant::now();
        let table = model
            .sample(ROWS, rep, &SampleOptions::default(), &mut |_| true)
            .expect("sample");
        (t.elapsed().as_secs_f64(), table)
    };
    let kinds: Vec<bool> = train
        .columns()
        .iter()
        .map(|c| matches!(c, ColumnData::Numeric(_)))
        .collect();
    let time_ffi = |rep: u64| {
        let t = Instant::now();
        let mut out: *mut sv_table = ptr::null_mut();
        assert_eq!(
            sv_sample(
                handle,
                ROWS,
                rep,
                0,
                None,
                ptr::null_mut(),
                ptr::null(),
                &mut out
            ),
            SV_OK
        );
        let (mut num, mut cat) = (vec![0f64; ROWS], vec![0i32; ROWS]);
        for (j, &numeric) in kinds.iter().enumerate() {
            let s = if numeric {
                sv_table_get_numeric(out, j, num.as_mut_ptr(), ROWS)
            } else {
                sv_table_get_categorical(out, j, cat.as_mut_ptr(), ROWS, 1, i32::MIN)
            };
            assert_eq!(s, SV_OK);
        }
        sv_table_free(out);
        t.elapsed().as_secs_f64()
    };
    time_rust(99);
    time_ffi(99);
    let (mut rust, mut ffi) = (Vec::new(), Vec::new());
    for rep in 0..5 {
        if rep % 2 == 0 {
            rust.push(time_rust(rep).0);
            ffi.push(time_ffi(rep));
        } else {
            ffi.push(time_ffi(rep));
            rust.push(time_rust(rep).0);
        }
    }
    sv_model_free(handle);
    let (r, f) = (median(rust), median(ffi));
    println!("sampling {ROWS} rows ([256,256], T = 20), medians of 5:");
    println!("  Rust API           {r:.3} s");
    println!(
        "  C ABI + copy-out   {f:.3} s   ({:+.2}%)",
        100.0 * (f / r - 1.0)
    );
}
