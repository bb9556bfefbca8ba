//! The tuning curve as an SVG plot: validation error against the synthetic ratio ρ, with the
//! spread over repetitions, the raw-only error as a reference line and the chosen ρ marked.

use std::fmt::Write;

use super::TuneResult;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A standalone SVG document.
pub fn tune_svg(r: &TuneResult) -> String {
    let (w, h) = (640.0, 400.0);
    let (left, right, top, bottom) = (70.0, 20.0, 40.0, 55.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let xs: Vec<f64> = r.points.iter().map(|p| p.ratio).collect();
    let (x0, x1) = (
        xs.iter().copied().fold(f64::INFINITY, f64::min),
        xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    let lo = r
        .points
        .iter()
        .map(|p| p.error - p.error_sd)
        .chain([r.raw_only_error])
        .fold(f64::INFINITY, f64::min);
    let hi = r
        .points
        .iter()
        .map(|p| p.error + p.error_sd)
        .chain([r.raw_only_error])
        .fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.08).max(1e-9);
    let (y0, y1) = (lo - pad, hi + pad);
    let sx = |x: f64| {
        if x1 > x0 {
            left + (x - x0) / (x1 - x0) * pw
        } else {
            left + pw / 2.0
        }
    };
    let sy = |y: f64| top + (y1 - y) / (y1 - y0) * ph;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif">"#
    );
    let _ = write!(
        s,
        r#"<rect width="{w}" height="{h}" fill="white"/><text x="{}" y="22" font-size="15" text-anchor="middle" font-weight="600">Validation {} against synthetic volume (n = {} raw rows)</text>"#,
        w / 2.0,
        esc(&r.error_metric),
        r.n_raw
    );
    // Axes and ticks.
    let _ = write!(
        s,
        r##"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="#444"/><line x1="{left}" y1="{top}" x2="{left}" y2="{}" stroke="#444"/>"##,
        top + ph,
        left + pw,
        top + ph,
        top + ph
    );
    for i in 0..=5 {
        let y = y0 + (y1 - y0) * i as f64 / 5.0;
        let _ = write!(
            s,
            r##"<text x="{}" y="{:.1}" font-size="11" text-anchor="end">{y:.4}</text><line x1="{left}" y1="{:.1}" x2="{}" y2="{:.1}" stroke="#eee"/>"##,
            left - 6.0,
            sy(y) + 4.0,
            sy(y),
            left + pw,
            sy(y)
        );
    }
    let step = ((xs.len() as f64) / 10.0).ceil().max(1.0) as usize;
    for p in r.points.iter().step_by(step) {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{}" font-size="11" text-anchor="middle">{}</text>"#,
            sx(p.ratio),
            top + ph + 16.0,
            p.ratio
        );
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" font-size="12" text-anchor="middle">ρ = m / n (synthetic rows per raw row{})</text>"#,
        left + pw / 2.0,
        h - 12.0,
        if r.with_raw {
            ", trained with the raw rows"
        } else {
            ""
        }
    );
    // Raw-only reference.
    let yr = sy(r.raw_only_error);
    let _ = write!(
        s,
        r##"<line x1="{left}" y1="{yr:.1}" x2="{}" y2="{yr:.1}" stroke="#888" stroke-dasharray="6 4"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end" fill="#666">raw rows only {:.4}</text>"##,
        left + pw,
        left + pw,
        yr - 5.0,
        r.raw_only_error
    );
    // Spread, curve, points.
    for p in &r.points {
        let x = sx(p.ratio);
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#9bb7d9" stroke-width="3"/>"##,
            sy(p.error - p.error_sd),
            sy(p.error + p.error_sd)
        );
    }
    let path: Vec<String> = r
        .points
        .iter()
        .map(|p| format!("{:.1},{:.1}", sx(p.ratio), sy(p.error)))
        .collect();
    let _ = write!(
        s,
        r##"<polyline points="{}" fill="none" stroke="#2f5f98" stroke-width="2"/>"##,
        path.join(" ")
    );
    for p in &r.points {
        let _ = write!(
            s,
            r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="#2f5f98"><title>ρ = {}, m = {}: {:.4} ± {:.4}</title></circle>"##,
            sx(p.ratio),
            sy(p.error),
            p.ratio,
            p.m,
            p.error,
            p.error_sd
        );
    }
    let (cx, cy) = (sx(r.chosen_ratio), sy(r.chosen_error));
    let _ = write!(
        s,
        r##"<circle cx="{cx:.1}" cy="{cy:.1}" r="7" fill="none" stroke="#d2542f" stroke-width="2"/><text x="{cx:.1}" y="{:.1}" font-size="12" text-anchor="middle" fill="#d2542f">chosen ρ = {}, m = {}</text>"##,
        cy - 12.0,
        r.chosen_ratio,
        r.chosen_m
    );
    s.push_str("</svg>\n");
    s
}
