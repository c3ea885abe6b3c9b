//! A lab's chart as SVG, drawn with plotters' SVG backend.
//!
//! No font is loaded: plotters lays text out with its own size estimate and writes `<text>`
//! elements that the program showing the SVG shapes with its fonts. So drawing needs no font
//! on this machine, and the file looks right wherever it is opened.
//!
//! Both kinds share one coordinate type, a linear f64 axis with chosen ticks: a logarithmic
//! x is drawn as log10(x) with ticks at the powers of ten (labelled 1, 10, 100, 1,000), and
//! bars as category indexes with ticks at each index (labelled with the category's name).

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::shown;
use crate::engine::lab::{Chart, ChartKind};

/// The smallest chart drawn: room for the caption, the axes' labels and a plot.
pub const MIN_SIZE: (u32, u32) = (200, 150);
/// The largest chart drawn, either way (plotters' coordinates are `i32`).
pub const MAX_SIDE: u32 = 10_000;
/// Values further from zero are skipped as non-finite ones are: an axis reaching them would
/// have no finite length.
const LIMIT: f64 = 1e300;
/// The series' colours, told apart in colour and in grey; then plotters' palette.
const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];
/// The share of a category's width its bars take together.
const GROUP: f64 = 0.8;

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// The size asked for is out of bounds.
    #[error(
        "a chart of {width}x{height} pixels cannot be drawn: it needs at least {}x{} and at most {MAX_SIDE} either way",
        MIN_SIZE.0,
        MIN_SIZE.1
    )]
    Size {
        /// Pixels across.
        width: u32,
        /// Pixels down.
        height: u32,
    },
    /// plotters failed while drawing.
    #[error("drawing failed: {0}")]
    Draw(String),
}

/// The chart as an SVG document `width`×`height` pixels: lines with a marker at each point, or
/// grouped bars with the category names under them; a legend naming every series; y from 0
/// (or from the lowest value, if negative).
///
/// Non-finite values are skipped, and so are x ≤ 0 on a logarithmic axis and bars whose x is
/// no category's index. With nothing left to draw the axes are drawn empty and the title says
/// `no data yet`.
///
/// # Errors
/// [`ChartError::Size`] when the size is under [`MIN_SIZE`] or over [`MAX_SIDE`];
/// [`ChartError::Draw`] if plotters fails (writing to a string, it does not).
pub fn svg(chart: &Chart, width: u32, height: u32) -> Result<String, ChartError> {
    if width < MIN_SIZE.0 || height < MIN_SIZE.1 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(ChartError::Size { width, height });
    }
    let plan = plan(chart);
    let mut out = String::new();
    draw(&plan, &mut out, (width, height)).map_err(|e| ChartError::Draw(e.to_string()))?;
    Ok(out)
}

/// Everything drawn, in plot coordinates.
struct Plan {
    /// The caption.
    title: String,
    /// The x axis' description.
    x_label: String,
    /// The y axis' description.
    y_label: String,
    /// The x axis' range.
    x: Range<f64>,
    /// The y axis' range.
    y: Range<f64>,
    /// Ticks on x, labelled by `x_tick`.
    x_ticks: Vec<f64>,
    /// Light grid lines on x.
    x_light: Vec<f64>,
    /// How an x tick reads.
    x_tick: XTick,
    /// Per series: its legend and its points (log10 x already taken for a log axis).
    series: Vec<(String, Vec<(f64, f64)>)>,
    /// Bars rather than lines.
    bars: bool,
    /// The legend's corner: away from where lines end high (bars: upper right).
    legend: SeriesLabelPosition,
}

/// How x ticks are labelled.
enum XTick {
    /// The value itself.
    Linear,
    /// 10 to the value.
    Log,
    /// The category at the value's index.
    Category(Vec<String>),
}

/// Chooses ranges, ticks and the points to draw.
fn plan(chart: &Chart) -> Plan {
    let (log_x, categories) = match &chart.kind {
        ChartKind::Lines { log_x } => (*log_x, None),
        ChartKind::Bars { categories } => {
            (false, Some(categories.iter().map(|c| shown(c)).collect::<Vec<_>>()))
        }
    };
    let usable = |&&(x, y): &&(f64, f64)| {
        finite(x)
            && finite(y)
            && (!log_x || x > 0.0)
            && categories.as_ref().is_none_or(|c| index(x, c.len()).is_some())
    };
    let series: Vec<(String, Vec<(f64, f64)>)> = chart
        .series
        .iter()
        .map(|s| {
            let pts = s.points.iter().filter(usable).map(|&(x, y)| (if log_x { x.log10() } else { x }, y));
            (shown(&s.name), pts.collect())
        })
        .collect();
    let all = || series.iter().flat_map(|(_, p)| p.iter().copied());
    let empty = all().next().is_none();
    let title = match (empty, chart.title.is_empty()) {
        (false, _) => shown(&chart.title),
        (true, true) => "no data yet".to_string(),
        (true, false) => format!("{} — no data yet", shown(&chart.title)),
    };

    let (lo, hi) = all().fold((0.0_f64, 0.0_f64), |(lo, hi), (_, y)| (lo.min(y), hi.max(y)));
    let y = if hi - lo > 0.0 {
        // Headroom above for the legend, a little below a negative minimum.
        let span = hi - lo;
        (if lo < 0.0 { lo - span * 0.05 } else { 0.0 })..(hi + span * 0.08)
    } else {
        0.0..1.0
    };

    let (x, x_ticks, x_light, x_tick) = if let Some(cats) = categories {
        let n = cats.len().max(1);
        let step = n.div_ceil(24);
        let ticks = (0..n).step_by(step).map(|i| i as f64).collect();
        (-0.5..n as f64 - 0.5, ticks, Vec::new(), XTick::Category(cats))
    } else {
        let (lo, hi) = all()
            .fold(None, |r: Option<(f64, f64)>, (x, _)| {
                Some(r.map_or((x, x), |(lo, hi)| (lo.min(x), hi.max(x))))
            })
            .unwrap_or(if log_x { (0.0, 3.0) } else { (0.0, 1.0) });
        if log_x {
            log_axis(lo, hi)
        } else {
            linear_axis(lo, hi)
        }
    };

    // Lines rising to the right leave the upper left free, and falling ones the upper right.
    let rise: f64 = series
        .iter()
        .filter_map(|(_, p)| Some(p.last()?.1 - p.first()?.1))
        .map(|d| d / (y.end - y.start))
        .sum();
    let bars = matches!(chart.kind, ChartKind::Bars { .. });
    let legend =
        if !bars && rise > 0.0 { SeriesLabelPosition::UpperLeft } else { SeriesLabelPosition::UpperRight };

    Plan {
        title,
        x_label: shown(&chart.x_label),
        y_label: shown(&chart.y_label),
        x,
        y,
        x_ticks,
        x_light,
        x_tick,
        series,
        bars,
        legend,
    }
}

/// A value that can be drawn.
fn finite(v: f64) -> bool {
    v.is_finite() && v.abs() <= LIMIT
}

/// The category index a bar's x names, if any.
fn index(x: f64, n: usize) -> Option<usize> {
    let i = x.round();
    ((x - i).abs() < 1e-6 && i >= 0.0 && i < n as f64).then_some(i as usize)
}

/// A log10 axis over `lo..hi` (already log10): whole decades, a tick at each power of ten
/// (at most 12, evenly thinned), light lines at 2…9 times each when decades are few.
fn log_axis(lo: f64, hi: f64) -> (Range<f64>, Vec<f64>, Vec<f64>, XTick) {
    let (mut a, mut b) = (lo.floor(), hi.ceil());
    if b - a < 1.0 {
        a -= 1.0;
        b += 1.0;
    }
    let decades = (b - a) as usize;
    let step = decades.div_ceil(12).max(1);
    let ticks: Vec<f64> = (0..=decades).step_by(step).map(|d| a + d as f64).collect();
    let light = if decades <= 6 {
        (0..decades).flat_map(|d| (2..10).map(move |m| a + d as f64 + f64::from(m).log10())).collect()
    } else {
        Vec::new()
    };
    // A little room past the end decades, so their markers are not cut in half.
    ((a - 0.06 * (b - a))..(b + 0.06 * (b - a)), ticks, light, XTick::Log)
}

/// A linear axis over `lo..hi`, padded 4% each side, with plotters' own round ticks.
fn linear_axis(lo: f64, hi: f64) -> (Range<f64>, Vec<f64>, Vec<f64>, XTick) {
    let (lo, hi) = if hi - lo > 0.0 {
        let pad = (hi - lo) * 0.04;
        (lo - pad, hi + pad)
    } else {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo - pad, hi + pad)
    };
    let ticks = RangedCoordf64::from(lo..hi).key_points(10usize);
    (lo..hi, ticks, Vec::new(), XTick::Linear)
}

/// A tick's number: grouped thousands, at most 2 decimals (3 under 1), no trailing zeros,
/// scientific past what reads well.
fn number(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        return "0".to_string();
    }
    if !(1e-3..1e15).contains(&a) {
        return format!("{v:.1e}");
    }
    let decimals = if a >= 100.0 {
        0
    } else if a >= 1.0 {
        2
    } else {
        3
    };
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { &s };
    let (sign, rest) = s.strip_prefix('-').map_or(("", s), |r| ("-", r));
    let (int, frac) = rest.split_once('.').map_or((rest, None), |(i, f)| (i, Some(f)));
    let mut out = sign.to_string();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

/// The x axis: linear over f64, with the plan's ticks. (plotters' `with_key_points` does the
/// same but loses the f64 label formatter, which the mesh needs even when ours replaces it.)
struct XAxis<'a> {
    /// Where values go.
    inner: RangedCoordf64,
    /// Labelled ticks and bold grid lines.
    ticks: &'a [f64],
    /// Light grid lines.
    light: &'a [f64],
}

impl Ranged for XAxis<'_> {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() { self.light } else { self.ticks }.to_vec()
    }

    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

/// A series' colour.
fn colour(i: usize) -> RGBColor {
    COLOURS.get(i).copied().unwrap_or_else(|| {
        let c = Palette99::pick(i).to_rgba();
        RGBColor(c.0, c.1, c.2)
    })
}

/// Draws `plan` into `out` as SVG.
fn draw(plan: &Plan, out: &mut String, size: (u32, u32)) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(out, size).into_drawing_area();
    root.fill(&WHITE)?;
    let x_spec = XAxis { inner: plan.x.clone().into(), ticks: &plan.x_ticks, light: &plan.x_light };
    let mut cc = ChartBuilder::on(&root)
        .caption(&plan.title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x_spec, plan.y.clone())?;

    let x_fmt = |v: &f64| match &plan.x_tick {
        XTick::Linear => number(*v),
        XTick::Log => number(10f64.powf(v.round())),
        XTick::Category(c) => index(*v, c.len()).and_then(|i| c.get(i)).cloned().unwrap_or_default(),
    };
    let y_fmt = |v: &f64| number(*v);
    let mut mesh = cc.configure_mesh();
    mesh.x_desc(plan.x_label.as_str())
        .y_desc(plan.y_label.as_str())
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        // One light line between two ticks on y: plotters' default of ten reads as stripes.
        .y_max_light_lines(1)
        .bold_line_style(BLACK.mix(0.15))
        .light_line_style(BLACK.mix(0.05));
    if plan.bars {
        // Vertical lines between bars would only cross them.
        mesh.disable_x_mesh();
    }
    mesh.draw()?;

    let k = plan.series.len().max(1) as f64;
    for (i, (name, points)) in plan.series.iter().enumerate() {
        let c = colour(i);
        let drawn = if plan.bars {
            let w = GROUP / k;
            let left = move |x: f64| x - GROUP / 2.0 + i as f64 * w;
            cc.draw_series(points.iter().map(|&(x, y)| {
                Rectangle::new([(left(x) + w * 0.06, 0.0), (left(x) + w * 0.94, y)], c.filled())
            }))?
        } else {
            cc.draw_series(points.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
            cc.draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))?
        };
        drawn
            .label(name.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], c.filled()));
    }
    if !plan.series.is_empty() {
        cc.configure_series_labels()
            .position(plan.legend.clone())
            .label_font(("sans-serif", 15))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()?;
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::lab::Series;

    fn lines(log_x: bool, series: Vec<Series>) -> Chart {
        Chart {
            title: "Commands per second".into(),
            x_label: "batch".into(),
            y_label: "commands/s".into(),
            kind: ChartKind::Lines { log_x },
            series,
        }
    }

    fn series(name: &str, points: &[(f64, f64)]) -> Series {
        Series { name: name.into(), points: points.to_vec() }
    }

    /// The text of every `<text>` element, trimmed.
    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| Some(t.split_once('>')?.1.split_once("</text>")?.0.trim().to_string()))
            .collect()
    }

    #[test]
    fn a_log_axis_ticks_every_power_of_ten() {
        let batches = [(1.0, 500.0), (10.0, 4_000.0), (100.0, 30_000.0), (1_000.0, 90_000.0)];
        let svg =
            svg(&lines(true, vec![series("2 ms RTT", &batches), series("5 ms RTT", &batches)]), 900, 540);
        let t = texts(&svg.unwrap_or_default());
        for tick in
            ["1", "10", "100", "1,000", "Commands per second", "batch", "commands/s", "2 ms RTT", "5 ms RTT"]
        {
            assert!(t.iter().any(|s| s == tick), "{tick} not in {t:?}");
        }
        assert!(!t.iter().any(|s| s.contains("no data")), "{t:?}");
    }

    #[test]
    fn lines_have_a_marker_per_point() {
        let s = svg(&lines(false, vec![series("a", &[(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)])]), 900, 540)
            .unwrap_or_default();
        assert_eq!(s.matches("<circle").count(), 3, "{s}");
        assert_eq!(s.matches(r##"<polyline fill="none" opacity="1" stroke="#1F77B4""##).count(), 1, "{s}");
    }

    #[test]
    fn bars_are_grouped_under_their_category_names() {
        let chart = Chart {
            title: "p99 by client".into(),
            x_label: "client".into(),
            y_label: "ms".into(),
            kind: ChartKind::Bars {
                categories: vec!["redis-cli".into(), "pipelined".into(), "multi".into()],
            },
            series: vec![
                series("p50", &[(0.0, 1.0), (1.0, 0.5), (2.0, 0.7)]),
                // Not a category's index: skipped, as NaN is.
                series("p99", &[(0.0, 3.0), (1.5, 2.0), (7.0, 1.0), (2.0, f64::NAN), (1.0, 1.2)]),
            ],
        };
        let s = svg(&chart, 900, 540).unwrap_or_default();
        let t = texts(&s);
        for name in ["redis-cli", "pipelined", "multi", "p50", "p99"] {
            assert!(t.iter().any(|x| x == name), "{name} not in {t:?}");
        }
        // Each series' bars and its legend swatch, in its colour.
        assert_eq!(s.matches(r##"fill="#1F77B4""##).count(), 3 + 1, "{s}");
        assert_eq!(s.matches(r##"fill="#FF7F0E""##).count(), 2 + 1, "{s}");
    }

    #[test]
    fn nothing_to_draw_draws_the_axes_and_says_so() {
        let none = [
            lines(true, vec![]),
            lines(true, vec![series("2 ms", &[])]),
            lines(
                true,
                vec![series("2 ms", &[(0.0, 1.0), (-3.0, 2.0), (f64::INFINITY, 1.0), (1.0, f64::NAN)])],
            ),
            Chart {
                kind: ChartKind::Bars { categories: vec![] },
                ..lines(false, vec![series("x", &[(0.0, 1.0)])])
            },
        ];
        for chart in none {
            let s = svg(&chart, 900, 540);
            let t = texts(s.as_deref().unwrap_or_default());
            assert!(t.iter().any(|x| x == "Commands per second — no data yet"), "{chart:?}: {t:?}");
            assert!(t.iter().any(|x| x == "batch"), "{t:?}");
        }
    }

    #[test]
    fn sizes_out_of_bounds_are_refused() {
        let c = lines(false, vec![]);
        for (w, h) in [(0, 0), (199, 540), (900, 149), (10_001, 540), (u32::MAX, u32::MAX)] {
            assert!(matches!(svg(&c, w, h), Err(ChartError::Size { .. })), "{w}x{h}");
        }
        assert!(svg(&c, MIN_SIZE.0, MIN_SIZE.1).is_ok());
    }

    #[test]
    fn text_is_escaped_for_xml_and_control_characters_never_written() {
        let mut c = lines(false, vec![series("a<b & \"c\"\u{1b}", &[(1.0, 1.0)])]);
        c.title = "</svg>\u{0}".into();
        let s = svg(&c, 900, 540).unwrap_or_default();
        assert!(s.contains("a&lt;b &amp;") && s.contains("&lt;/svg&gt;\\x00"), "{s}");
        assert!(!s.chars().any(|ch| ch.is_control() && !matches!(ch, '\n' | '\t')), "{s}");
    }

    #[test]
    fn tick_numbers_read_well() {
        let got: Vec<String> =
            [0.0, 0.25, 1.5, 12.0, 1_000.0, 25_000.0, -1_500.0, 1e16, 1e-5].map(number).to_vec();
        assert_eq!(got, ["0", "0.25", "1.5", "12", "1,000", "25,000", "-1,500", "1.0e16", "1.0e-5"]);
    }

    /// Any f64 (NaN, infinities, subnormals, the extremes) or an everyday one.
    fn value() -> impl proptest::strategy::Strategy<Value = f64> {
        proptest::prop_oneof![
            proptest::num::f64::ANY,
            -1e4..1e4f64,
            proptest::sample::select(vec![0.0, 1.0, 10.0, 1e-310])
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 300, ..Default::default() })]
        /// Any values, however extreme, draw or fail with an error: never a panic.
        #[test]
        fn any_values_draw(
            pts in proptest::collection::vec((value(), value()), 0..6),
            log_x: bool,
            bars: bool,
        ) {
            let kind = if bars { ChartKind::Bars { categories: vec!["a".into(), "b".into()] } } else { ChartKind::Lines { log_x } };
            let c = Chart { kind, ..lines(log_x, vec![series("s", &pts), series("t", &pts[..pts.len() / 2])]) };
            proptest::prop_assert!(svg(&c, 900, 540).is_ok());
        }
    }
}
