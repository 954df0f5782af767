//! The bench plot (SVG), drawn to be read where it is shared: a README shows it about 880 px
//! wide, where every text is at least 11 px.
//!
//! - Left: each request's finish time by index on a **linear** time axis, so a pool of P
//!   draws steps of equal height L every P requests. Every pool and engine is drawn over its
//!   ideal staircase `(⌊i / P⌋ + 1) × L`, in grey.
//! - Right: throughput by pool size against the ideal `N / (⌈N / P⌉ × L)`. The recommended
//!   pool is marked by a dotted vertical line beside the data, not over it.
//! - Colour is the pool, line style the engine (threads solid, async dashed, async-h2 dotted).
//!   Each has its own legend, drawn as the curves are.
//!
//! A curve never has more points than its panel has pixel columns ([`Columns`] keeps the min
//! and max per column). So [`RecordsPlot`] draws any `fetch` output, a million records or an
//! index of 2^60, in bounded memory and a small file.

use std::path::Path;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::bins::{Bins, Merge};
use super::report::{PoolAnswer, engines_of, pool_answer};
use poolfetch::bench::BenchResult;
use poolfetch::bench::Contender;
use poolfetch::bench::stats::ideal_ms;
use poolfetch::{Fate, Record};

pub(super) type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// A chart with linear axes of `f64` both ways (every panel here).
type Linear =
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>;

/// Drawn 1,400 px wide. plotters writes a font of size S as `S / 1.24` px in SVG, so the
/// smallest, a 22 tick label, is 17.7 px here and 11.2 px when shown 880 px wide.
const WIDTH: u32 = 1400;
const HEIGHT: u32 = 760;
const TITLE: u32 = 28;
pub(super) const LABEL: u32 = 24;
pub(super) const TICK: u32 = 22;
/// Columns a curve is reduced to: more than any panel's width in pixels.
const COLUMNS: usize = 1024;

/// Draw `results` of a sweep into an SVG at `path`, titled with `title`.
pub fn write_svg(path: &Path, results: &[BenchResult], title: &str) -> Result<(), String> {
    draw(path, results, title).map_err(|e| format!("cannot draw {}: {e}", path.display()))
}

/// Distinct, readable colours (matplotlib's tab10), one per pool size.
fn color(i: usize) -> RGBColor {
    const TAB10: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        // tab10's grey would read as the grey "ideal" line: a dark teal instead.
        (0, 95, 115),
        (188, 189, 34),
        (23, 190, 207),
    ];
    let (r, g, b) = TAB10[i % TAB10.len()];
    RGBColor(r, g, b)
}

const IDEAL: RGBAColor = RGBAColor(0, 0, 0, 0.35);

/// A title's font size: `largest`, or smaller so the whole title fits `width` px (a sans-serif
/// glyph is about 0.56 of the size wide on average; a long title used to be clipped at both
/// ends). Never below 12 px.
pub(super) fn title_size(title: &str, width: u32, largest: u32) -> u32 {
    let chars = title.chars().count().max(1) as f64;
    let fits = (f64::from(width) * 0.94 / (0.56 * chars)).floor() as u32;
    fits.clamp(12, largest)
}

/// A curve of y by index reduced to at most `cols` columns, each keeping the smallest and
/// largest y of its indices (see [`Bins`]).
#[derive(Debug, Clone)]
pub struct Columns(Bins<Range>);

/// The smallest and largest y of a column.
#[derive(Debug, Clone, Copy)]
struct Range(f64, f64);

impl Merge for Range {
    fn merge(self, other: Self) -> Self {
        Range(self.0.min(other.0), self.1.max(other.1))
    }
}

impl Columns {
    /// An empty curve of at most `cols` columns (at least 2).
    pub fn new(cols: usize) -> Self {
        Columns(Bins::new(cols))
    }

    /// Add the point (`index`, `y`).
    pub fn add(&mut self, index: u64, y: f64) {
        if y.is_finite() {
            self.0.add(index, Range(y, y));
        }
    }

    /// Indices the curve spans: the largest one plus one.
    pub fn span(&self) -> f64 {
        self.0.span()
    }

    /// The largest y.
    pub fn top(&self) -> f64 {
        self.0.cells().map(|(_, r)| r.1).fold(0.0, f64::max)
    }

    /// The line to draw: each column's min then max at its first index (one point when they
    /// are equal).
    pub fn points(&self) -> Vec<(f64, f64)> {
        let mut points = Vec::new();
        for (x, Range(low, high)) in self.0.cells() {
            points.push((x, low));
            if high > low {
                points.push((x, high));
            }
        }
        points
    }
}

/// The line style of an engine's curves.
fn draw_line<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Linear>,
    points: Vec<(f64, f64)>,
    engine: Contender,
    style: ShapeStyle,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    match engine {
        Contender::Threads => {
            chart.draw_series(LineSeries::new(points, style))?;
        }
        Contender::Async => {
            chart.draw_series(std::iter::once(DashedPathElement::new(
                points, 12, 7, style,
            )))?;
        }
        Contender::AsyncH2 => {
            chart.draw_series(std::iter::once(DashedPathElement::new(points, 3, 5, style)))?;
        }
    }
    Ok(())
}

/// The pool sizes of the sweep, in order (unbounded last): a pool's colour is its position.
fn pools(results: &[BenchResult]) -> Vec<usize> {
    let mut pools: Vec<usize> = results.iter().map(|r| r.setup.pool).collect();
    pools.sort_unstable_by_key(|p| if *p == 0 { usize::MAX } else { *p });
    pools.dedup();
    pools
}

fn pool_label(pool: usize) -> String {
    match pool {
        0 => "unbounded".into(),
        pool => format!("pool {pool}"),
    }
}

fn draw(path: &Path, results: &[BenchResult], title: &str) -> DrawResult {
    let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", title_size(title, WIDTH, TITLE)))?;
    let (left, right) = root.split_horizontally(WIDTH * 11 / 20);
    finish_panel(&left, results)?;
    throughput_panel(&right, results)?;
    root.present()?;
    Ok(())
}

/// Every run's finish time by index (its median run), over each pool's ideal staircase.
fn finish_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    results: &[BenchResult],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let pools = pools(results);
    let mut curves = Vec::new();
    for result in results {
        let Some(run) = result.median_run() else {
            continue;
        };
        let mut columns = Columns::new(COLUMNS);
        for (index, ms) in run.finished_ms.iter().enumerate() {
            columns.add(index as u64, ms / 1000.0);
        }
        let slot = pools
            .iter()
            .position(|p| *p == result.setup.pool)
            .unwrap_or(0);
        curves.push((result, columns, color(slot)));
    }
    let requests = results.iter().map(|r| r.requests).max().unwrap_or(1);
    let top = curves.iter().map(|(_, c, _)| c.top()).fold(0.0, f64::max);
    let ideal_top = results
        .iter()
        .filter_map(|r| r.latency_ms.map(|l| ideal_ms(r.requests, r.setup.pool, l)))
        .fold(0.0, f64::max)
        / 1000.0;
    let mut chart = finish_axes(
        area,
        "each request's finish time by index (grey: ideal steps)",
        requests as f64,
        top.max(ideal_top),
    )?;
    // The ideal staircases first, under the curves.
    let mut drawn_ideal = Vec::new();
    for result in results {
        let (Some(latency), pool) = (result.latency_ms.filter(|l| *l > 0.0), result.setup.pool)
        else {
            continue;
        };
        if drawn_ideal.contains(&pool) {
            continue;
        }
        drawn_ideal.push(pool);
        chart.draw_series(LineSeries::new(
            ideal_steps(result.requests, pool, latency / 1000.0),
            IDEAL.stroke_width(2),
        ))?;
    }
    // Gather-per-batch runs: the same pool colour, pale.
    for (result, columns, color) in &curves {
        let style = match result.setup.batch_size {
            None => color.stroke_width(3),
            Some(_) => color.mix(0.45).stroke_width(3),
        };
        draw_line(&mut chart, columns.points(), result.setup.engine, style)?;
    }
    if let Some(batch) = results.iter().find_map(|r| r.setup.batch_size) {
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label(format!("pale: gather per batch of {batch}"))
            .legend(|(x, y)| {
                PathElement::new([(x, y), (x + 36, y)], BLACK.mix(0.45).stroke_width(5))
            });
    }
    pool_and_engine_legend(&mut chart, results, &pools)?;
    if !drawn_ideal.is_empty() {
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label("ideal")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 36, y)], IDEAL.stroke_width(2)));
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

/// Two legends in one box: colour = pool, line style = engine.
fn pool_and_engine_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Linear>,
    results: &[BenchResult],
    pools: &[usize],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    for (slot, pool) in pools.iter().enumerate() {
        let c = color(slot);
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label(pool_label(*pool))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 36, y)], c.stroke_width(5)));
    }
    for engine in engines_of(results) {
        let anno = chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label(engine.name());
        let sample = |(x, y): (i32, i32)| vec![(x, y), (x + 36, y)];
        let style = BLACK.stroke_width(3);
        match engine {
            Contender::Threads => anno.legend(move |p| PathElement::new(sample(p), style)),
            Contender::Async => {
                anno.legend(move |p| DashedPathElement::new(sample(p), 10, 6, style))
            }
            Contender::AsyncH2 => {
                anno.legend(move |p| DashedPathElement::new(sample(p), 3, 5, style))
            }
        };
    }
    Ok(())
}

/// The legend of a chart's labelled series, in the same box on every chart.
pub(super) fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Linear>,
    position: SeriesLabelPosition,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(position)
        .margin(10)
        .legend_area_size(44)
        .label_font(("sans-serif", TICK))
        .border_style(BLACK.mix(0.4))
        .background_style(WHITE.mix(0.9))
        .draw()?;
    Ok(())
}

/// The finish-time chart's axes, the same for `bench` and `plot`: request index across, a
/// linear time axis up to `top` seconds, `caption` above.
fn finish_axes<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    caption: &str,
    requests: f64,
    top: f64,
) -> Result<ChartContext<'a, DB, Linear>, Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", LABEL))
        .margin(14)
        .x_label_area_size(50)
        .y_label_area_size(96)
        .build_cartesian_2d(0f64..requests, 0f64..top.max(1e-3) * 1.05)?;
    chart
        .configure_mesh()
        .x_desc("request index")
        .y_desc("finished (s)")
        .axis_desc_style(("sans-serif", LABEL))
        .label_style(("sans-serif", TICK))
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| seconds(*y))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    Ok(chart)
}

/// `(⌊i / pool⌋ + 1) × L` as a staircase; past [`COLUMNS`] waves, the straight line it looks
/// like at that density.
fn ideal_steps(requests: usize, pool: usize, latency_s: f64) -> Vec<(f64, f64)> {
    let pool = if pool == 0 { requests.max(1) } else { pool };
    let waves = requests.div_ceil(pool);
    if waves > COLUMNS {
        return vec![
            (0.0, latency_s),
            (requests as f64, waves as f64 * latency_s),
        ];
    }
    let mut steps = Vec::with_capacity(2 * waves);
    for wave in 0..waves {
        let y = (wave + 1) as f64 * latency_s;
        steps.push(((wave * pool) as f64, y));
        steps.push((((wave + 1) * pool).min(requests) as f64, y));
    }
    steps
}

pub(super) fn seconds(s: f64) -> String {
    if s >= 10.0 {
        format!("{s:.0} s")
    } else if s >= 1.0 {
        format!("{s:.1} s")
    } else {
        format!("{:.0} ms", s * 1000.0)
    }
}

/// Median throughput at each measured pool (pools evenly spaced, as measured: nothing was
/// measured in between), against the ideal; the recommended pool on a dotted line.
fn throughput_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    results: &[BenchResult],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let pools = pools(results);
    let slot = |pool: usize| pools.iter().position(|p| *p == pool).unwrap_or(0) as f64;
    // No ideal throughput without a latency: it would be infinite.
    let ideal = |r: &BenchResult| {
        r.latency_ms
            .filter(|l| *l > 0.0)
            .map(|l| r.requests as f64 / (ideal_ms(r.requests, r.setup.pool, l) / 1000.0))
    };
    let top = results
        .iter()
        .flat_map(|r| [Some(r.req_per_s), ideal(r)])
        .flatten()
        .filter(|y| y.is_finite())
        .fold(1.0, f64::max);
    let labels = pools.clone();
    let mut chart = ChartBuilder::on(area)
        .caption("throughput by pool size", ("sans-serif", LABEL))
        .margin(14)
        .x_label_area_size(50)
        .y_label_area_size(96)
        .build_cartesian_2d(-0.5f64..pools.len() as f64 - 0.5, 0f64..top * 1.12)?;
    chart
        .configure_mesh()
        .x_desc("pool size")
        .y_desc("requests / s")
        .axis_desc_style(("sans-serif", LABEL))
        .label_style(("sans-serif", TICK))
        .x_labels(pools.len() * 2 + 1)
        .disable_x_mesh()
        .y_labels(6)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() > 0.01 || i < 0.0 {
                return String::new();
            }
            labels.get(i as usize).map_or(String::new(), |p| {
                if *p == 0 { "∞".into() } else { p.to_string() }
            })
        })
        .y_label_formatter(&|y| format!("{y:.0}"))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    // The ideal, once per pool.
    let mut ideal_points: Vec<(f64, f64)> = Vec::new();
    for r in results.iter().filter(|r| r.setup.batch_size.is_none()) {
        if let Some(y) = ideal(r) {
            let x = slot(r.setup.pool);
            if !ideal_points.iter().any(|(px, _)| *px == x) {
                ideal_points.push((x, y));
            }
        }
    }
    ideal_points.sort_by(|a, b| a.0.total_cmp(&b.0));
    if !ideal_points.is_empty() {
        chart
            .draw_series(LineSeries::new(ideal_points, IDEAL.stroke_width(2)))?
            .label("ideal N / (⌈N/P⌉ × L)")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 36, y)], IDEAL.stroke_width(2)));
    }
    let engines = engines_of(results);
    recommended(&mut chart, results, &slot, &engines, top)?;
    for (e, engine) in engines.iter().enumerate() {
        engine_points(&mut chart, results, &slot, e, *engine, engines.len())?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

/// The pool recommended for each engine: a dotted vertical line, named in the legend (not
/// over the data).
fn recommended<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Linear>,
    results: &[BenchResult],
    slot: &dyn Fn(usize) -> f64,
    engines: &[Contender],
    top: f64,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    for engine in engines {
        if let Some(PoolAnswer::Found { pick, .. }) = pool_answer(results, *engine) {
            let x = slot(pick.setup.pool) + offset(*engine, engines.len());
            let style = BLACK.mix(0.6).stroke_width(2);
            chart
                .draw_series(std::iter::once(DashedPathElement::new(
                    vec![(x, 0.0), (x, top * 1.1)],
                    3,
                    5,
                    style,
                )))?
                .label(format!(
                    "{}: pool {} is enough",
                    engine.name(),
                    pick.setup.pool
                ))
                .legend(move |(x, y)| {
                    DashedPathElement::new(vec![(x + 18, y - 9), (x + 18, y + 9)], 3, 3, style)
                });
        }
    }
    Ok(())
}

/// One engine's medians by pool: a grey line through markers, the engine by marker shape
/// (circle, triangle, square), the pool by colour.
fn engine_points<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Linear>,
    results: &[BenchResult],
    slot: &dyn Fn(usize) -> f64,
    e: usize,
    engine: Contender,
    engines: usize,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let mut rows: Vec<&BenchResult> = results
        .iter()
        .filter(|r| r.setup.engine == engine && r.setup.batch_size.is_none())
        .collect();
    rows.sort_by(|a, b| slot(a.setup.pool).total_cmp(&slot(b.setup.pool)));
    let points: Vec<(f64, f64, RGBColor)> = rows
        .iter()
        .map(|r| {
            let i = slot(r.setup.pool);
            (i + offset(engine, engines), r.req_per_s, color(i as usize))
        })
        .collect();
    let line: Vec<(f64, f64)> = points.iter().map(|&(x, y, _)| (x, y)).collect();
    draw_line(chart, line, engine, BLACK.mix(0.5).stroke_width(2))?;
    let label = format!("{} (median)", engine.name());
    // Engine by marker: circle, triangle, square; pool by colour.
    match e % 3 {
        0 => {
            chart
                .draw_series(points.iter().map(|&(x, y, c)| {
                    EmptyElement::at((x, y)) + Circle::new((0, 0), 9, c.filled())
                }))?
                .label(label)
                .legend(|(x, y)| {
                    EmptyElement::at((x + 18, y)) + Circle::new((0, 0), 8, BLACK.filled())
                });
        }
        1 => {
            chart
                .draw_series(points.iter().map(|&(x, y, c)| {
                    EmptyElement::at((x, y)) + TriangleMarker::new((0, 0), 11, c.filled())
                }))?
                .label(label)
                .legend(|(x, y)| {
                    EmptyElement::at((x + 18, y)) + TriangleMarker::new((0, 0), 10, BLACK.filled())
                });
        }
        _ => {
            chart
                .draw_series(points.iter().map(|&(x, y, c)| {
                    EmptyElement::at((x, y)) + Rectangle::new([(-8, -8), (8, 8)], c.filled())
                }))?
                .label(label)
                .legend(|(x, y)| {
                    EmptyElement::at((x + 18, y))
                        + Rectangle::new([(-7, -7), (7, 7)], BLACK.filled())
                });
        }
    }
    Ok(())
}

/// Engines side by side at one pool, so equal figures do not hide a marker.
fn offset(engine: Contender, engines: usize) -> f64 {
    if engines < 2 {
        return 0.0;
    }
    match engine {
        Contender::Threads => -0.08,
        Contender::Async => 0.08,
        Contender::AsyncH2 => 0.16,
    }
}

/// The finish-time picture of any `fetch` output (`poolfetch plot`), built a record at a time
/// in bounded memory: a curve of [`Columns`], the counts, and the latest finish. A stopped
/// run's requests are drawn for what they are: one never sent has no finish and is left out
/// (counted); one interrupted is a red mark at the moment it was cut off, not a finish.
#[derive(Debug, Clone)]
pub struct RecordsPlot {
    finished: Columns,
    cut_off: Columns,
    /// Records read.
    pub records: u64,
    /// Of them, finished (drawn on the curve).
    pub finished_count: u64,
    /// Of those, ok.
    pub ok: u64,
    /// Records interrupted by a cancel (drawn as red marks).
    pub interrupted: u64,
    /// Records never sent (not drawn).
    pub never_sent: u64,
}

impl Default for RecordsPlot {
    fn default() -> Self {
        RecordsPlot {
            finished: Columns::new(COLUMNS),
            cut_off: Columns::new(COLUMNS),
            records: 0,
            finished_count: 0,
            ok: 0,
            interrupted: 0,
            never_sent: 0,
        }
    }
}

/// Interrupted requests' marks.
const CUT_OFF: RGBColor = RGBColor(214, 39, 40);

impl RecordsPlot {
    /// Add one record.
    pub fn add(&mut self, record: &Record) {
        self.records += 1;
        match record.fate() {
            Fate::NeverSent => self.never_sent += 1,
            Fate::Interrupted => {
                self.interrupted += 1;
                self.cut_off.add(record.index, record.finished_ms / 1000.0);
            }
            Fate::Finished => {
                self.finished_count += 1;
                self.ok += u64::from(record.ok);
                self.finished.add(record.index, record.finished_ms / 1000.0);
            }
        }
    }

    /// The latest finish of a request that finished, in seconds.
    pub fn last_finish_s(&self) -> f64 {
        self.finished.top()
    }

    /// What the picture shows, in words: its caption.
    pub fn caption(&self) -> String {
        let mut caption = match self.finished_count {
            0 => "none finished".to_string(),
            finished => format!(
                "{finished} finished ({} ok), last at {:.2} s",
                self.ok,
                self.last_finish_s()
            ),
        };
        if self.interrupted > 0 {
            caption.push_str(&format!(
                "; {} interrupted (red: when cut off)",
                self.interrupted
            ));
        }
        if self.never_sent > 0 {
            caption.push_str(&format!("; {} never sent (not drawn)", self.never_sent));
        }
        caption
    }

    /// The SVG, titled `title`.
    pub fn svg(&self, title: &str) -> Result<String, String> {
        let mut svg = String::new();
        self.draw(&mut svg, title)
            .map_err(|e| format!("cannot draw the plot: {e}"))?;
        Ok(svg)
    }

    fn draw(&self, svg: &mut String, title: &str) -> DrawResult {
        let root = SVGBackend::with_string(svg, (1100, 640)).into_drawing_area();
        root.fill(&WHITE)?;
        let root = root.titled(title, ("sans-serif", title_size(title, 1100, LABEL)))?;
        let span = self.finished.span().max(self.cut_off.span());
        let top = self.finished.top().max(self.cut_off.top());
        let caption = self.caption();
        let mut chart = finish_axes(&root, &caption, span, top)?;
        chart.draw_series(LineSeries::new(
            self.finished.points(),
            color(0).stroke_width(3),
        ))?;
        if self.interrupted > 0 {
            chart.draw_series(
                self.cut_off
                    .points()
                    .into_iter()
                    .map(|point| Cross::new(point, 6, CUT_OFF.stroke_width(2))),
            )?;
        }
        root.present()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_keep_min_and_max_in_bounded_cells_whatever_the_index() {
        let mut columns = Columns::new(8);
        for i in 0..8u64 {
            columns.add(i, i as f64);
        }
        assert_eq!(
            columns.points().len(),
            8,
            "one point per index while they fit"
        );
        columns.add(1 << 60, 5.0);
        let points = columns.points();
        assert!(points.len() <= 16, "{points:?}");
        assert_eq!(points.first(), Some(&(0.0, 0.0)));
        assert_eq!(columns.top(), 7.0);
        assert_eq!(columns.span(), (1u64 << 60) as f64 + 1.0);
        let mut shuffled = Columns::new(4);
        for i in [5u64, 0, 7, 2, 6, 1, 3, 4] {
            shuffled.add(i, (i * 10) as f64);
        }
        assert_eq!(
            shuffled.points(),
            [
                (0.0, 0.0),
                (0.0, 10.0),
                (2.0, 20.0),
                (2.0, 30.0),
                (4.0, 40.0),
                (4.0, 50.0),
                (6.0, 60.0),
                (6.0, 70.0)
            ]
        );
    }

    #[test]
    fn a_long_title_gets_a_smaller_font_and_no_pool_is_drawn_in_grey() {
        assert_eq!(title_size("short", 1400, 28), 28);
        let long = "x".repeat(200);
        let size = title_size(&long, 1400, 28);
        assert!(
            size < 28 && f64::from(size) * 0.56 * 200.0 <= 1400.0,
            "{size}"
        );
        for slot in 0..10 {
            let RGBColor(r, g, b) = color(slot);
            assert!(!(r == g && g == b), "pool slot {slot} is grey");
        }
    }

    #[test]
    fn the_ideal_is_a_staircase_of_equal_steps() {
        assert_eq!(
            ideal_steps(5, 2, 0.1),
            [
                (0.0, 0.1),
                (2.0, 0.1),
                (2.0, 0.2),
                (4.0, 0.2),
                (4.0, 0.30000000000000004),
                (5.0, 0.30000000000000004)
            ]
        );
        assert_eq!(ideal_steps(1_000_000, 1, 0.01).len(), 2);
    }
}
