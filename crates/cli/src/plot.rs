//! Plain SVG charts for benchmark and simulation results (no fonts or libraries needed; any
//! browser or Markdown viewer renders them).

use std::fmt::Write as _;

const WIDTH: f64 = 870.0;
const HEIGHT: f64 = 440.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 300.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;
const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
];

/// One line of a [`line_chart`].
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// Dashed and without markers (an ideal or a bound).
    pub reference: bool,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A round step giving about `target` intervals over `0..=max`.
fn step(max: f64, target: f64) -> f64 {
    let raw = (max / target).max(f64::MIN_POSITIVE);
    let magnitude = 10f64.powf(raw.log10().floor());
    let scaled = raw / magnitude;
    let nice = if scaled <= 1.0 {
        1.0
    } else if scaled <= 2.0 {
        2.0
    } else if scaled <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

fn label(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{}k", (v / 1000.0).round())
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn frame(out: &mut String, title: &str, x_label: &str, y_label: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{}</text>
<text x="{}" y="{}" text-anchor="middle">{}</text>
<text transform="translate(18,{}) rotate(-90)" text-anchor="middle">{}</text>
"#,
        (LEFT + WIDTH - RIGHT) / 2.0,
        escape(title),
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - 15.0,
        escape(x_label),
        (TOP + HEIGHT - BOTTOM) / 2.0,
        escape(y_label),
    );
}

fn y_axis(out: &mut String, y_max: f64) -> f64 {
    let plot_h = HEIGHT - TOP - BOTTOM;
    let y_step = step(y_max, 6.0);
    let y_top = (y_max / y_step).ceil() * y_step;
    let mut v = 0.0;
    while v <= y_top + y_step / 2.0 {
        let y = TOP + plot_h - v / y_top * plot_h;
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            label(v)
        );
        v += y_step;
    }
    y_top
}

/// The left and bottom axis lines.
fn axes(out: &mut String) {
    let bottom = HEIGHT - BOTTOM;
    let _ = writeln!(
        out,
        r#"<polyline points="{LEFT},{TOP} {LEFT},{bottom} {},{bottom}" fill="none" stroke="black"/>"#,
        WIDTH - RIGHT,
    );
}

fn legend(out: &mut String, entries: &[(String, &str, bool)]) {
    for (i, (name, color, dashed)) in entries.iter().enumerate() {
        let x = WIDTH - RIGHT + 15.0;
        let y = TOP + 10.0 + i as f64 * 20.0;
        let dash = if *dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = writeln!(
            out,
            r#"<line x1="{x}" x2="{}" y1="{y}" y2="{y}" stroke="{color}" stroke-width="2"{dash}/><text x="{}" y="{}">{}</text>"#,
            x + 24.0,
            x + 30.0,
            y + 4.0,
            escape(name)
        );
    }
}

/// A line chart starting both axes at 0.
pub fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    let mut out = String::new();
    frame(&mut out, title, x_label, y_label);
    let points = series.iter().flat_map(|s| s.points.iter());
    let x_max = points.clone().map(|p| p.0).fold(1.0, f64::max);
    let y_max = points.map(|p| p.1).fold(1.0, f64::max);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let y_top = y_axis(&mut out, y_max);
    let x_step = step(x_max, 8.0);
    let x_right = (x_max / x_step).ceil() * x_step;
    let mut v = 0.0;
    while v <= x_right + x_step / 2.0 {
        let x = LEFT + v / x_right * plot_w;
        let _ = writeln!(
            out,
            r#"<line x1="{x:.1}" x2="{x:.1}" y1="{}" y2="{}" stroke="black"/><text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"#,
            TOP + plot_h,
            TOP + plot_h + 5.0,
            TOP + plot_h + 20.0,
            label(v)
        );
        v += x_step;
    }
    axes(&mut out);
    let map = |(x, y): (f64, f64)| {
        (
            LEFT + x / x_right * plot_w,
            TOP + plot_h - y / y_top * plot_h,
        )
    };
    let mut entries = Vec::new();
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let coords: Vec<String> = s
            .points
            .iter()
            .map(|p| {
                let (x, y) = map(*p);
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let dash = if s.reference {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = writeln!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#,
            coords.join(" ")
        );
        if !s.reference {
            for p in &s.points {
                let (x, y) = map(*p);
                let _ = writeln!(
                    out,
                    r#"<circle cx="{x:.1}" cy="{y:.1}" r="3.5" fill="{color}"/>"#
                );
            }
        }
        entries.push((s.name.clone(), color, s.reference));
    }
    legend(&mut out, &entries);
    out.push_str("</svg>\n");
    out
}

/// Grouped bars: one group per category, one bar per series (`values[series][category]`).
pub fn bar_chart(
    title: &str,
    y_label: &str,
    categories: &[String],
    series: &[(String, Vec<f64>)],
) -> String {
    let mut out = String::new();
    frame(&mut out, title, "", y_label);
    let y_max = series
        .iter()
        .flat_map(|s| s.1.iter().copied())
        .fold(1.0, f64::max);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let y_top = y_axis(&mut out, y_max);
    let group_w = plot_w / categories.len().max(1) as f64;
    let bar_w = group_w * 0.8 / series.len().max(1) as f64;
    for (c, name) in categories.iter().enumerate() {
        let x0 = LEFT + c as f64 * group_w + group_w * 0.1;
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            LEFT + (c as f64 + 0.5) * group_w,
            TOP + plot_h + 20.0,
            escape(name)
        );
        for (s, (_, values)) in series.iter().enumerate() {
            let v = values.get(c).copied().unwrap_or(0.0);
            let h = v / y_top * plot_h;
            let x = x0 + s as f64 * bar_w;
            let _ = writeln!(
                out,
                r#"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{}"/><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10">{}</text>"#,
                TOP + plot_h - h,
                bar_w * 0.92,
                COLORS[s % COLORS.len()],
                x + bar_w * 0.46,
                TOP + plot_h - h - 4.0,
                label((v * 10.0).round() / 10.0)
            );
        }
    }
    axes(&mut out);
    let entries: Vec<(String, &str, bool)> = series
        .iter()
        .enumerate()
        .map(|(i, s)| (s.0.clone(), COLORS[i % COLORS.len()], false))
        .collect();
    legend(&mut out, &entries);
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round() {
        assert_eq!(step(200.0, 8.0), 50.0);
        assert_eq!(step(20_000.0, 6.0), 5_000.0);
        assert_eq!(step(7.0, 6.0), 2.0);
    }

    #[test]
    fn charts_hold_every_point_and_name() {
        let svg = line_chart(
            "t <1>",
            "pairs",
            "jobs/s",
            &[
                Series {
                    name: "ideal".into(),
                    points: vec![(0.0, 0.0), (200.0, 20_000.0)],
                    reference: true,
                },
                Series {
                    name: "digests & 1 thread".into(),
                    points: vec![(10.0, 1000.0), (100.0, 9000.0), (200.0, 9500.0)],
                    reference: false,
                },
            ],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("digests &amp; 1 thread") && svg.contains("t &lt;1&gt;"));
        assert!(svg.contains("stroke-dasharray"));
        let bars = bar_chart(
            "b",
            "jobs/s",
            &["4 validators".into(), "7 validators".into()],
            &[
                ("replicated".into(), vec![26.7, 19.4]),
                ("cross-vendor".into(), vec![37.8, 25.0]),
            ],
        );
        assert_eq!(bars.matches("<rect").count(), 1 + 4);
        assert!(bars.contains(">37.8<") && bars.contains("7 validators"));
    }
}
