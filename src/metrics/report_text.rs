//! The plain-text summary of a report.

use std::fmt::Write;

use super::{Report, Scores};

fn opt(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.digits$}"),
        _ => "n/a".into(),
    }
}

fn scores_line(s: &Scores) -> String {
    if s.rmse.is_some() {
        format!("RMSE {}  R² {}", opt(s.rmse, 4), opt(s.r2, 4))
    } else {
        format!(
            "accuracy {}  macro-F1 {}  ROC AUC {}",
            opt(s.accuracy, 4),
            opt(s.macro_f1, 4),
            opt(s.roc_auc, 4)
        )
    }
}

/// See [`Report::to_text`].
pub fn to_text(r: &Report) -> String {
    let mut o = String::new();
    let f = &r.fidelity;
    let _ = writeln!(
        o,
        "fidelity ({} real rows, {} synthetic rows):",
        r.real_rows, r.synthetic_rows
    );
    for c in &f.columns {
        let _ = writeln!(o, "  {:<24} {:<5} {:.3}", c.column, c.metric, c.score);
    }
    let _ = writeln!(o, "  mean column score          {:.3}", f.mean_column_score);
    let _ = writeln!(
        o,
        "  correlation similarity     {}",
        f.correlation_similarity
            .map_or("n/a (fewer than two numeric columns)".into(), |v| format!(
                "{v:.3}"
            ))
    );
    let _ = writeln!(
        o,
        "  contingency similarity     {}",
        opt(f.contingency_similarity, 3)
    );
    if let Some(p) = &f.pmse {
        let _ = writeln!(
            o,
            "  pMSE                       {:.5}  (S_pMSE {}, {:.1} for a perfect generator; {} parameters)",
            p.pmse,
            opt(Some(p.s_pmse), 2),
            p.s_pmse_reference,
            p.parameters
        );
    }
    if let Some(d) = &f.detection {
        let _ = writeln!(
            o,
            "  detection AUC              {:.3}  ({}-fold; 0.5 is ideal)",
            d.auc, d.folds
        );
    }
    if let Some(v) = f.frechet_distance {
        let _ = writeln!(o, "  Fréchet distance           {v:.4}");
    }
    if let Some(w) = &f.wasserstein {
        let _ = writeln!(
            o,
            "  Wasserstein W1 / W2        {:.4} / {:.4}  ({} rows each)",
            w.w1, w.w2, w.rows
        );
    }
    if let Some(u) = &r.utility {
        let _ = writeln!(
            o,
            "utility ({} on '{}', tested on {} holdout rows):",
            u.model, u.target, u.holdout_rows
        );
        let _ = writeln!(o, "  trained on real       {}", scores_line(&u.real));
        let _ = writeln!(o, "  trained on synthetic  {}", scores_line(&u.synthetic));
        if let Some(g) = u.accuracy_gap_points {
            let _ = writeln!(o, "  accuracy gap          {g:.2} points");
        } else {
            let _ = writeln!(o, "  R² ratio (synthetic / real) {}", opt(u.ratio.r2, 3));
        }
    }
    if let Some(p) = &r.privacy {
        let _ = writeln!(
            o,
            "privacy risk ({} training, {} holdout, {} synthetic rows):",
            p.training_rows, p.holdout_rows, p.synthetic_rows
        );
        let _ = writeln!(
            o,
            "  closer to training than to holdout  {:.1}%  (50% is ideal)",
            100.0 * p.closer_to_training_share
        );
        let _ = writeln!(
            o,
            "  median DCR training / holdout       {:.4} / {:.4}",
            p.median_dcr_training, p.median_dcr_holdout
        );
        let _ = writeln!(
            o,
            "  median NNDR synthetic / holdout     {:.3} / {:.3}",
            p.nndr_median, p.nndr_median_holdout
        );
        let _ = writeln!(
            o,
            "  memorised (RDR < 1/3) syn / holdout {:.1}% / {:.1}%",
            100.0 * p.memorised_share,
            100.0 * p.memorised_share_holdout
        );
        let _ = writeln!(
            o,
            "  membership-inference AUC            {:.3}  (0.5 is ideal)",
            p.membership_auc
        );
    }
    for n in &r.notes {
        let _ = writeln!(o, "note: {n}");
    }
    o
}
