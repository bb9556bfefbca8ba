//! The report as one self-contained HTML page with inline SVG plots: the summary, each
//! column's distribution in the real and the synthetic rows, and heat maps of the pairwise
//! differences. No scripts, no external files.

use std::fmt::Write;

use super::marginals::{Distribution, PairMatrix};
use super::Report;

const REAL: &str = "#3b6ea8";
const SYN: &str = "#e08a3c";

/// Escapes text for HTML and SVG.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn num(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.digits$}"),
        _ => "n/a".into(),
    }
}

/// One column's bar chart: real and synthetic shares side by side per label.
fn bar_chart(d: &Distribution, score: Option<(&str, f64)>) -> String {
    let (w, h) = (360.0, 210.0);
    let (left, right, top, bottom) = (40.0, 8.0, 26.0, 62.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    let k = d.labels.len().max(1) as f64;
    let max = d
        .real
        .iter()
        .chain(&d.synthetic)
        .copied()
        .fold(0.0f64, f64::max)
        .max(1e-12);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img"><title>{}</title>"#,
        esc(&d.column)
    );
    let title = match score {
        Some((m, v)) => format!("{} ({m} {v:.3})", d.column),
        None => d.column.clone(),
    };
    let _ = write!(
        s,
        r#"<text x="{}" y="16" font-size="13" text-anchor="middle" font-weight="600">{}</text>"#,
        w / 2.0,
        esc(&title)
    );
    // Axis with the maximum share.
    let _ = write!(
        s,
        r##"<line x1="{left}" y1="{top}" x2="{left}" y2="{}" stroke="#888"/><line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="#888"/>"##,
        top + ph,
        top + ph,
        left + pw,
        top + ph
    );
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" font-size="10" text-anchor="end">{:.0}%</text><text x="{}" y="{}" font-size="10" text-anchor="end">0</text>"#,
        left - 3.0,
        top + 8.0,
        100.0 * max,
        left - 3.0,
        top + ph
    );
    let slot = pw / k;
    let bw = (slot * 0.4).max(0.5);
    for (i, label) in d.labels.iter().enumerate() {
        let x0 = left + i as f64 * slot + slot * 0.1;
        for (j, (v, colour)) in [(d.real[i], REAL), (d.synthetic[i], SYN)]
            .into_iter()
            .enumerate()
        {
            let bh = ph * v / max;
            let _ = write!(
                s,
                r#"<rect x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="{colour}"><title>{}: {} {:.2}%</title></rect>"#,
                x0 + j as f64 * bw,
                top + ph - bh,
                bw,
                bh,
                esc(label),
                if j == 0 { "real" } else { "synthetic" },
                100.0 * v
            );
        }
        // Label every bin when they fit, else every few.
        let every = (k / 12.0).ceil().max(1.0) as usize;
        if i % every == 0 {
            let lx = left + (i as f64 + 0.5) * slot;
            let short: String = label.chars().take(14).collect();
            let _ = write!(
                s,
                r#"<text x="{lx:.1}" y="{:.1}" font-size="9" text-anchor="end" transform="rotate(-40 {lx:.1} {:.1})">{}</text>"#,
                top + ph + 10.0,
                top + ph + 10.0,
                esc(&short)
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// A heat map of `value(a, b)` over the matrix's columns, from 0 (white) to `scale` (red).
fn heat_map(m: &PairMatrix, title: &str, value: impl Fn(usize, usize) -> Option<f64>) -> String {
    let k = m.columns.len();
    if k < 2 {
        return format!("<p>{}: fewer than two columns.</p>", esc(title));
    }
    let cell = (360.0 / k as f64).clamp(12.0, 30.0);
    let label = 130.0;
    let size = label + cell * k as f64 + 10.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{size:.0}" height="{:.0}" role="img"><title>{}</title>"#,
        size + 20.0,
        esc(title)
    );
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="14" font-size="13" text-anchor="middle" font-weight="600">{}</text>"#,
        size / 2.0,
        esc(title)
    );
    let off = 24.0;
    for a in 0..k {
        let y = off + label + a as f64 * cell;
        let name: String = m.columns[a].chars().take(20).collect();
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end">{}</text>"#,
            label - 4.0,
            y + cell * 0.7,
            esc(&name)
        );
        let x = label + a as f64 * cell + cell * 0.6;
        let _ = write!(
            s,
            r#"<text x="{x:.1}" y="{:.1}" font-size="10" transform="rotate(-60 {x:.1} {:.1})">{}</text>"#,
            off + label - 4.0,
            off + label - 4.0,
            esc(&name)
        );
        for b in 0..k {
            let x = label + b as f64 * cell;
            let (fill, tip) = match value(a, b) {
                Some(v) if v.is_finite() => {
                    let t = v.clamp(0.0, 1.0);
                    let g = (255.0 * (1.0 - t)).round() as u8;
                    (
                        format!("rgb(255,{g},{g})"),
                        format!("{} × {}: {v:.3}", m.columns[a], m.columns[b]),
                    )
                }
                _ => (
                    "#eee".to_string(),
                    format!("{} × {}", m.columns[a], m.columns[b]),
                ),
            };
            let _ = write!(
                s,
                r##"<rect x="{x:.1}" y="{y:.1}" width="{cell:.1}" height="{cell:.1}" fill="{fill}" stroke="#fff"><title>{}</title></rect>"##,
                esc(&tip)
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// The report as an HTML page.
pub fn to_html(r: &Report) -> String {
    let f = &r.fidelity;
    let mut h = String::new();
    h.push_str(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>synthvol evaluation</title><style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}.grid{display:flex;flex-wrap:wrap;gap:8px}
.key span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}
.muted{color:#666;font-size:90%}</style></head><body>"#,
    );
    let _ = write!(
        h,
        "<h1>synthvol evaluation</h1><p>{} real rows, {} synthetic rows{}; seed {}.</p>",
        r.real_rows,
        r.synthetic_rows,
        r.holdout_rows
            .map_or(String::new(), |n| format!(", {n} holdout rows")),
        r.seed
    );
    h.push_str("<h2>Summary</h2><table><tr><th>metric</th><th>value</th><th>ideal</th></tr>");
    let mut row = |name: &str, v: String, ideal: &str| {
        let _ = write!(
            h,
            r#"<tr><td>{}</td><td class="n">{}</td><td class="muted">{}</td></tr>"#,
            esc(name),
            esc(&v),
            esc(ideal)
        );
    };
    row(
        "mean column score (1 − KS / 1 − TV)",
        format!("{:.3}", f.mean_column_score),
        "1",
    );
    row(
        "correlation similarity",
        num(f.correlation_similarity, 3),
        "1",
    );
    row(
        "contingency similarity",
        num(f.contingency_similarity, 3),
        "1",
    );
    if let Some(p) = &f.pmse {
        row("pMSE", format!("{:.5}", p.pmse), "0");
        row(
            "S_pMSE (synthpop's definition)",
            num(Some(p.s_pmse), 2),
            &format!(
                "{:.1} on average for a perfect generator",
                p.s_pmse_reference
            ),
        );
    }
    if let Some(d) = &f.detection {
        row("detection AUC", format!("{:.3}", d.auc), "0.5");
    }
    row("Fréchet distance", num(f.frechet_distance, 4), "0");
    if let Some(w) = &f.wasserstein {
        row("Wasserstein-1", format!("{:.4}", w.w1), "0");
        row("Wasserstein-2", format!("{:.4}", w.w2), "0");
    }
    if let Some(u) = &r.utility {
        for (name, real, syn) in [
            ("accuracy", u.real.accuracy, u.synthetic.accuracy),
            ("macro-F1", u.real.macro_f1, u.synthetic.macro_f1),
            ("ROC AUC", u.real.roc_auc, u.synthetic.roc_auc),
            ("RMSE", u.real.rmse, u.synthetic.rmse),
            ("R²", u.real.r2, u.synthetic.r2),
        ] {
            if real.is_some() || syn.is_some() {
                row(
                    &format!("{name} on the holdout ('{}'): real → synthetic", u.target),
                    format!("{} → {}", num(real, 4), num(syn, 4)),
                    "equal",
                );
            }
        }
    }
    if let Some(p) = &r.privacy {
        row(
            "synthetic rows closer to training than to holdout",
            format!("{:.1}%", 100.0 * p.closer_to_training_share),
            "50%",
        );
        row(
            "memorised rows (relative distance ratio below 1/3) synthetic / holdout",
            format!(
                "{:.1}% / {:.1}%",
                100.0 * p.memorised_share,
                100.0 * p.memorised_share_holdout
            ),
            "similar",
        );
        row(
            "membership-inference AUC",
            format!("{:.3}", p.membership_auc),
            "0.5",
        );
        row(
            "median NNDR synthetic / holdout",
            format!("{:.3} / {:.3}", p.nndr_median, p.nndr_median_holdout),
            "similar",
        );
    }
    h.push_str("</table>");
    let _ = write!(
        h,
        r#"<h2>Columns</h2><p class="key"><span style="background:{REAL}"></span>real<span style="background:{SYN}"></span>synthetic</p><div class="grid">"#
    );
    for (d, c) in r.plots.distributions.iter().zip(&f.columns) {
        h.push_str(&bar_chart(d, Some((c.metric, c.score))));
    }
    h.push_str("</div><h2>Pairs</h2><div class=\"grid\">");
    let (cr, cs) = (&r.plots.correlation_real, &r.plots.correlation_synthetic);
    h.push_str(&heat_map(
        cr,
        "|correlation difference| (numeric columns)",
        |a, b| match (cr.values[a][b], cs.values[a][b]) {
            (Some(x), Some(y)) => Some((x - y).abs()),
            (Some(x), None) => Some(x.abs()),
            _ => None,
        },
    ));
    let ct = &r.plots.contingency;
    h.push_str(&heat_map(ct, "1 − contingency similarity", |a, b| {
        ct.values[a][b].map(|v| 1.0 - v)
    }));
    h.push_str("</div><p class=\"muted\">White is a perfect match, red a difference of 1.</p>");
    if !r.notes.is_empty() {
        h.push_str("<h2>Notes</h2><ul>");
        for n in &r.notes {
            let _ = write!(h, "<li>{}</li>", esc(n));
        }
        h.push_str("</ul>");
    }
    h.push_str("</body></html>\n");
    h
}
