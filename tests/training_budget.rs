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
