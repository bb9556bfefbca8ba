//! A new fit without DP trains an epoch budget of its rows (small tables are not trained for
//! thousands of epochs); the model records the steps the budget gave and the budget itself,
//! and the budget survives a save and load.

mod common;

use common::*;
use synthvol::model::{FitRequest, Synthesizer, FIT_EPOCHS};

fn fit(rows: usize, json: &str) -> Synthesizer {
    let t = mixed_table(rows, 4);
    let req = FitRequest::from_json(json).expect("request");
    Synthesizer::fit(&t, &req, &mut no_progress()).expect("fit")
}

#[test]
fn default_steps_follow_the_rows() {
    // 30 epochs of 200 rows in batches of 50 are 120 steps (without smoothed copies, which
    // `default_smoothing_follows_the_rows_and_width` counts).
    let small = r#"{"layers": [16, 16], "time_dim": 16, "timesteps": 10, "batch_size": 50, "epochs": 30, "smoothing": 0}"#;
    let m = fit(200, small);
    let o = &m.record().options;
    assert_eq!((o.optim.steps, o.epochs), (120, Some(30.0)));
    // Twice the rows, twice the steps.
    assert_eq!(fit(400, small).record().options.optim.steps, 240);
    // "steps" caps the budget.
    let capped = small.replace("\"epochs\": 30", "\"epochs\": 30, \"steps\": 70");
    assert_eq!(fit(400, &capped).record().options.optim.steps, 70);
    // The defaults: FIT_EPOCHS of the rows (the batch capped at the rows, and at the rows and
    // their copies: one step an epoch).
    let m = fit(
        150,
        r#"{"layers": [16, 16], "time_dim": 16, "timesteps": 10}"#,
    );
    let o = &m.record().options;
    assert_eq!(
        (o.optim.steps, o.epochs),
        (FIT_EPOCHS as usize, Some(FIT_EPOCHS))
    );
    // The model file keeps what was run.
    let back = Synthesizer::from_bytes(&m.to_bytes().expect("bytes")).expect("load");
    assert_eq!(back.record().options, m.record().options);
}

#[test]
fn default_layers_follow_the_rows() {
    use synthvol::model::{FitOptions, NARROW_TABLE_LAYERS, SMALL_TABLE_LAYERS, SMALL_TABLE_ROWS};
    // A small table without "layers": the small-table network, recorded with the choice.
    let quick = r#"{"time_dim": 16, "timesteps": 10, "steps": 3}"#;
    let m = fit_adult(300, quick);
    let o = &m.record().options;
    assert_eq!(o.layers, SMALL_TABLE_LAYERS.to_vec());
    assert!(o.layers_by_rows);
    assert_eq!(m.denoiser_config().layers, SMALL_TABLE_LAYERS.to_vec());
    let back = Synthesizer::from_bytes(&m.to_bytes().expect("bytes")).expect("load");
    assert_eq!(back.record().options, m.record().options);
    // A narrow one (11 encoded values) gets the narrow network.
    let narrow = fit(120, quick);
    assert_eq!(narrow.record().options.layers, NARROW_TABLE_LAYERS.to_vec());
    assert_eq!(
        narrow.denoiser_config().layers,
        NARROW_TABLE_LAYERS.to_vec()
    );
    // Explicit layers are kept whatever the rows.
    let m = fit(
        120,
        r#"{"layers": [512, 512], "time_dim": 16, "timesteps": 10, "steps": 3}"#,
    );
    assert_eq!(m.record().options.layers, vec![512, 512]);
    assert!(!m.record().options.layers_by_rows);
    // The plan leaves the choice to the rows; from SMALL_TABLE_ROWS rows on, the default.
    let plan = FitRequest::from_json(quick).unwrap().check().unwrap();
    assert!(plan.options.layers_by_rows);
    assert_eq!(plan.options.layers, FitOptions::default().layers);
    let big = fit(
        SMALL_TABLE_ROWS,
        r#"{"time_dim": 16, "timesteps": 10, "steps": 1, "batch_size": 64}"#,
    );
    assert_eq!(big.record().options.layers, FitOptions::default().layers);
    assert_eq!(
        big.record().options.smoothing,
        0.0,
        "no copies from SMALL_TABLE_ROWS on"
    );
    // A request rebuilt from those options leaves the choice to the rows again.
    let again = FitRequest::from_options(&plan.options).check().unwrap();
    assert_eq!(again.options, plan.options);
    // A private fit keeps the default network (its rows are not counted outside its budget).
    let private = FitRequest {
        epsilon: Some(1.0),
        schema: Some(synthvol::datasets::adult_schema().unwrap()),
        ..FitRequest::default()
    };
    assert!(!private.check().unwrap().options.layers_by_rows);
}

fn fit_adult(rows: usize, json: &str) -> Synthesizer {
    let adult = synthvol::datasets::adult_train().expect("adult");
    let t = adult.select_rows(&(0..rows).collect::<Vec<_>>());
    let req = FitRequest::from_json(json).expect("request");
    Synthesizer::fit(&t, &req, &mut no_progress()).expect("fit")
}

#[test]
fn smoothing_is_recorded_and_counted_in_the_budget() {
    let quick = r#"{"time_dim": 16, "timesteps": 10, "steps": 3}"#;
    // None unless asked for.
    let plain = fit(120, quick);
    assert_eq!(plain.record().options.smoothing, 0.0);
    // Asked for: the rows and a smoothed copy of each, recorded, through a save and load.
    let m = fit(120, &quick.replace('}', r#", "smoothing": 1.5}"#));
    let o = &m.record().options;
    assert_eq!(o.smoothing, 1.5);
    let back = Synthesizer::from_bytes(&m.to_bytes().expect("bytes")).expect("load");
    assert_eq!(back.record().options, m.record().options);
    // The copies change what is learned.
    assert_ne!(m.weights(), plain.weights());
    // The epoch budget counts the copies: 30 epochs of 2 × 200 rows in batches of 50.
    let budget = r#"{"layers": [16, 16], "time_dim": 16, "timesteps": 10, "batch_size": 50, "epochs": 30, "smoothing": 1}"#;
    assert_eq!(fit(200, budget).record().options.optim.steps, 240);
    // A table with categorical columns (Adult's rows) and a target.
    let adult = fit_adult(
        300,
        r#"{"target": "income", "layers": [16, 16], "time_dim": 16, "timesteps": 10, "steps": 3, "smoothing": 2.5}"#,
    );
    assert_eq!(adult.record().options.smoothing, 2.5);
}

#[test]
fn smoothing_is_checked() {
    let check = |json: &str| FitRequest::from_json(json).and_then(|r| r.check());
    for bad in [r#"{"smoothing": -0.5}"#, r#"{"smoothing": 10.5}"#] {
        let e = check(bad).unwrap_err();
        assert!(
            e.message.contains("option 'smoothing'") && e.message.contains("from 0"),
            "{}",
            e.message
        );
    }
    assert!(check(r#"{"smoothing": 10}"#).is_ok());
    // Under DP a copy would count its row twice.
    let schema = serde_json::to_string(&synthvol::datasets::adult_schema().unwrap()).unwrap();
    let private = |h: &str| format!(r#"{{"epsilon": 1, "schema": {schema}, "smoothing": {h}}}"#);
    let e = check(&private("1")).unwrap_err();
    assert!(e.message.contains("private fit"), "{}", e.message);
    let plan = check(&private("0")).unwrap();
    assert_eq!(plan.options.smoothing, 0.0);
    // Nothing to move: no numeric column besides a numeric target.
    let cats = synthvol::datasets::adult_train().unwrap();
    let cats = cats.select_rows(&(0..100).collect::<Vec<_>>());
    let keep: Vec<usize> = (0..cats.n_cols())
        .filter(|&j| {
            matches!(
                cats.schema().columns[j].kind,
                synthvol::table::ColumnKind::Categorical { .. }
            )
        })
        .collect();
    let cats = cats.select_columns(&keep);
    let req = FitRequest::from_json(r#"{"steps": 2, "smoothing": 1}"#).unwrap();
    let e = Synthesizer::fit(&cats, &req, &mut no_progress()).unwrap_err();
    assert!(e.message.contains("no numeric column"), "{}", e.message);
    // A fine-tuning trains on its rows as they are.
    let pre = fit(120, r#"{"time_dim": 16, "timesteps": 10, "steps": 3}"#);
    let e = FitRequest::from_json(r#"{"smoothing": 1}"#)
        .unwrap()
        .check_fine_tune(&pre)
        .unwrap_err();
    assert!(e.message.contains("option 'smoothing'"), "{}", e.message);
}
