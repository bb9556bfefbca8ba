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
    // 30 epochs of 200 rows in batches of 50 are 120 steps.
    let small =
        r#"{"layers": [16, 16], "time_dim": 16, "timesteps": 10, "batch_size": 50, "epochs": 30}"#;
    let m = fit(200, small);
    let o = &m.record().options;
    assert_eq!((o.optim.steps, o.epochs), (120, Some(30.0)));
    // Twice the rows, twice the steps.
    assert_eq!(fit(400, small).record().options.optim.steps, 240);
    // "steps" caps the budget.
    let capped = small.replace("\"epochs\": 30", "\"epochs\": 30, \"steps\": 70");
    assert_eq!(fit(400, &capped).record().options.optim.steps, 70);
    // The defaults: FIT_EPOCHS of the rows (the batch capped at the rows: one step an epoch).
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
    use synthvol::model::{FitOptions, SMALL_TABLE_LAYERS, SMALL_TABLE_ROWS};
    // A small table without "layers": the small-table network, recorded with the choice.
    let quick = r#"{"time_dim": 16, "timesteps": 10, "steps": 3}"#;
    let m = fit(120, quick);
    let o = &m.record().options;
    assert_eq!(o.layers, SMALL_TABLE_LAYERS.to_vec());
    assert!(o.layers_by_rows);
    assert_eq!(m.denoiser_config().layers, SMALL_TABLE_LAYERS.to_vec());
    let back = Synthesizer::from_bytes(&m.to_bytes().expect("bytes")).expect("load");
    assert_eq!(back.record().options, m.record().options);
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
