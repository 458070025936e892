//! Small, dependency-free SVG charts for the HTML reports: line charts,
//! bar charts and two-class histograms with axes and ticks. Plain SVG 1.1
//! with text as `<text>` (no fonts to embed, no scripts), so a report is
//! one self-contained file that renders the same offline and diffs cleanly.

use std::fmt::Write;

const W: f64 = 640.0;
const H: f64 = 300.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 46.0;
/// Colour-blind-safe pair (Okabe–Ito) and a third.
pub(crate) const COLOURS: [&str; 3] = ["#0072B2", "#D55E00", "#009E73"];

pub(crate) fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A series of (x, y) points.
pub(crate) struct Series<'a> {
    pub name: &'a str,
    pub points: Vec<(f64, f64)>,
}

/// How a y axis maps values.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Scale {
    Linear,
    /// log10(1 + y), for counts spanning orders of magnitude.
    Log,
}

/// Tick values: about `n` round numbers covering [lo, hi].
fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    // Also catches NaN bounds.
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return vec![lo];
    }
    let raw = (hi - lo) / n as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + step * 1e-9 {
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    out
}

fn fmt_num(v: f64) -> String {
    if v.abs() >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v.abs() >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

struct Frame {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
    scale: Scale,
}

impl Frame {
    fn y_val(&self, y: f64) -> f64 {
        match self.scale {
            Scale::Linear => y,
            Scale::Log => (1.0 + y.max(0.0)).log10(),
        }
    }
    fn px(&self, x: f64) -> f64 {
        let span = (self.x1 - self.x0).max(1e-12);
        LEFT + (x - self.x0) / span * (W - LEFT - RIGHT)
    }
    fn py(&self, y: f64) -> f64 {
        let (a, b) = (self.y_val(self.y0), self.y_val(self.y1));
        let span = (b - a).max(1e-12);
        H - BOTTOM - (self.y_val(y) - a) / span * (H - TOP - BOTTOM)
    }
}

fn open(svg: &mut String, title: &str) {
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{t}" font-family="sans-serif" font-size="11"><title>{t}</title><rect width="{W}" height="{H}" fill="#fff"/><text x="{LEFT}" y="18" font-size="13" font-weight="bold">{t}</text>"##,
        t = escape(title)
    );
}

/// Axes, grid and labels; `x_tick` formats an x value.
fn axes(svg: &mut String, f: &Frame, x_label: &str, y_label: &str, x_tick: &dyn Fn(f64) -> String) {
    let y_ticks = match f.scale {
        Scale::Linear => ticks(f.y0, f.y1, 5),
        Scale::Log => {
            // 0 sits one decade below 1: labelling both would overlap.
            let mut v = Vec::new();
            let mut p = 1.0;
            while p <= f.y1 * 1.0001 {
                v.push(p);
                p *= 10.0;
            }
            v
        }
    };
    for t in y_ticks {
        let y = f.py(t);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            fmt_num(t)
        );
    }
    for t in ticks(f.x0, f.x1, 6) {
        let x = f.px(t);
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#999"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            H - BOTTOM,
            H - BOTTOM + 4.0,
            H - BOTTOM + 16.0,
            escape(&x_tick(t))
        );
    }
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" y1="{b:.1}" x2="{r:.1}" y2="{b:.1}" stroke="#333"/><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{b:.1}" stroke="#333"/><text x="{cx:.1}" y="{lx:.1}" text-anchor="middle">{xl}</text><text transform="translate(14 {cy:.1}) rotate(-90)" text-anchor="middle">{yl}</text>"##,
        b = H - BOTTOM,
        r = W - RIGHT,
        cx = (LEFT + W - RIGHT) / 2.0,
        lx = H - 8.0,
        cy = (TOP + H - BOTTOM) / 2.0,
        xl = escape(x_label),
        yl = escape(y_label),
    );
}

fn legend(svg: &mut String, names: &[&str]) {
    let mut x = W - RIGHT - 10.0;
    for (i, n) in names.iter().enumerate().rev() {
        x -= 14.0 + 6.5 * n.chars().count() as f64;
        let _ = write!(
            svg,
            r#"<rect x="{x:.1}" y="9" width="10" height="10" fill="{}"/><text x="{:.1}" y="18">{}</text>"#,
            COLOURS[i % COLOURS.len()],
            x + 13.0,
            escape(n)
        );
    }
}

fn bounds(series: &[Series<'_>]) -> (f64, f64, f64) {
    let pts = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    if !x0.is_finite() {
        (0.0, 1.0, 1.0)
    } else {
        (
            x0,
            if x1 > x0 { x1 } else { x0 + 1.0 },
            if y1 > 0.0 { y1 } else { 1.0 },
        )
    }
}

/// A line chart's frame: titles, scale and fixed ranges.
pub(crate) struct LineChart<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub scale: Scale,
    /// Top of the y axis (default: a little above the largest value).
    pub y_max: Option<f64>,
    /// The x axis span (default: the data's).
    pub x_range: Option<(f64, f64)>,
}

impl<'a> LineChart<'a> {
    pub fn new(title: &'a str, x_label: &'a str, y_label: &'a str) -> Self {
        LineChart {
            title,
            x_label,
            y_label,
            scale: Scale::Linear,
            y_max: None,
            x_range: None,
        }
    }

    /// For values in [0, 1] on both axes (precision/recall).
    pub(crate) fn unit_square(mut self) -> Self {
        self.y_max = Some(1.0);
        self.x_range = Some((0.0, 1.0));
        self
    }

    /// For values in [0, 1] on the y axis.
    pub(crate) fn unit_y(mut self) -> Self {
        self.y_max = Some(1.0);
        self
    }

    /// Lines (with a dot per point when there are few); `x_tick` formats
    /// an x value.
    pub fn render(&self, series: &[Series<'_>], x_tick: &dyn Fn(f64) -> String) -> String {
        let (x0, x1, y1) = bounds(series);
        let (x0, x1) = self.x_range.unwrap_or((x0, x1));
        let f = Frame {
            x0,
            x1,
            y0: 0.0,
            y1: self.y_max.unwrap_or(y1 * 1.05),
            scale: self.scale,
        };
        let mut svg = String::new();
        open(&mut svg, self.title);
        axes(&mut svg, &f, self.x_label, self.y_label, x_tick);
        for (i, s) in series.iter().enumerate() {
            let c = COLOURS[i % COLOURS.len()];
            let path: Vec<String> = s
                .points
                .iter()
                .map(|&(x, y)| format!("{:.1},{:.1}", f.px(x), f.py(y)))
                .collect();
            let _ = write!(
                svg,
                r#"<polyline fill="none" stroke="{c}" stroke-width="1.6" points="{}"/>"#,
                path.join(" ")
            );
            if s.points.len() <= 40 {
                for &(x, y) in &s.points {
                    let _ = write!(
                        svg,
                        r#"<circle cx="{:.1}" cy="{:.1}" r="2.6" fill="{c}"/>"#,
                        f.px(x),
                        f.py(y)
                    );
                }
            }
        }
        legend(&mut svg, &series.iter().map(|s| s.name).collect::<Vec<_>>());
        svg.push_str("</svg>");
        svg
    }
}

/// Horizontal bars of values in [0, 1] (recall per scenario), labelled.
pub(crate) fn bar_chart(title: &str, bars: &[(String, f64, String)]) -> String {
    let h = (TOP + 22.0 * bars.len() as f64 + 16.0).max(80.0);
    let label_w = 190.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {h}" width="{W}" height="{h}" role="img" aria-label="{t}" font-family="sans-serif" font-size="11"><title>{t}</title><rect width="{W}" height="{h}" fill="#fff"/><text x="10" y="18" font-size="13" font-weight="bold">{t}</text>"##,
        t = escape(title)
    );
    let span = W - label_w - 90.0;
    for (i, (name, v, note)) in bars.iter().enumerate() {
        let y = TOP + 22.0 * i as f64;
        let w = v.clamp(0.0, 1.0) * span;
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text><rect x="{label_w}" y="{y:.1}" width="{span:.1}" height="16" fill="#eee"/><rect x="{label_w}" y="{y:.1}" width="{w:.1}" height="16" fill="{}"/><text x="{:.1}" y="{:.1}">{}</text>"##,
            label_w - 6.0,
            y + 12.0,
            escape(name),
            COLOURS[0],
            label_w + span + 6.0,
            y + 12.0,
            escape(note)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Two classes of counts over the same bins, as side-by-side lines of bars
/// on a log axis (scores: most calls are unremarkable).
pub(crate) fn histogram(
    title: &str,
    x_label: &str,
    bins: &[f64],
    classes: &[(&str, &[u64])],
) -> String {
    let x0 = bins.first().copied().unwrap_or(0.0);
    let step = if bins.len() > 1 {
        bins[1] - bins[0]
    } else {
        1.0
    };
    let x1 = bins.last().copied().unwrap_or(1.0) + step;
    let y1 = classes
        .iter()
        .flat_map(|(_, c)| c.iter())
        .copied()
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let f = Frame {
        x0,
        x1,
        y0: 0.0,
        y1,
        scale: Scale::Log,
    };
    let mut svg = String::new();
    open(&mut svg, title);
    axes(&mut svg, &f, x_label, "calls (log scale)", &|v| fmt_num(v));
    let n = classes.len().max(1) as f64;
    let bar_w = (f.px(x0 + step) - f.px(x0)) / n;
    for (k, (_, counts)) in classes.iter().enumerate() {
        for (i, &c) in counts.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let x = f.px(bins[i]) + bar_w * k as f64;
            let y = f.py(c as f64);
            let _ = write!(
                svg,
                r#"<rect x="{x:.2}" y="{y:.1}" width="{:.2}" height="{:.1}" fill="{}"/>"#,
                bar_w.max(0.5),
                (H - BOTTOM - y).max(0.0),
                COLOURS[k % COLOURS.len()]
            );
        }
    }
    legend(
        &mut svg,
        &classes.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
    );
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(
            ticks(0.0, 100.0, 5),
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        assert_eq!(ticks(0.0, 1.0, 4), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(ticks(3.0, 3.0, 5), vec![3.0]);
    }

    #[test]
    fn text_is_escaped() {
        let s = bar_chart("a<b & \"c\"", &[("x<y".into(), 0.5, "1/2".into())]);
        assert!(s.contains("a&lt;b &amp; &quot;c&quot;"));
        assert!(s.contains("x&lt;y"));
        assert!(!s.contains("x<y"));
    }
}
