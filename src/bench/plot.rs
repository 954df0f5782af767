//! The bench plot (SVG), made to be shared: a title naming the workload, one finish-time panel
//! per engine with every pool overlaid on shared axes, and wall time by pool size against the
//! ideal `ceil(N / pool) × L` drawn as the step function it is. One colour per pool and one
//! line style per engine (threads solid, async dashed), the same in every panel; text ≥ 14 px.
//! [`records_svg`] draws the finish-time picture of any `fetch` output.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::BenchResult;
use super::Contender;
use super::stats::ideal_ms;
use crate::record::Record;

type DrawResult = Result<(), Box<dyn std::error::Error>>;

const WIDTH: u32 = 1600;
const TITLE: u32 = 26;
const LABEL: u32 = 18;
const TICK: u32 = 15;

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
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    let (r, g, b) = TAB10[i % TAB10.len()];
    RGBColor(r, g, b)
}

/// The pool sizes of the sweep, in order: a pool's colour is its position here.
fn pools(results: &[BenchResult]) -> Vec<usize> {
    let mut pools: Vec<usize> = results.iter().map(|r| r.setup.pool).collect();
    pools.sort_unstable();
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
    let root = SVGBackend::new(path, (WIDTH, 900)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", TITLE))?;
    let (left, right) = root.split_horizontally(WIDTH * 3 / 5);
    let mut engines: Vec<Contender> = results.iter().map(|r| r.setup.engine).collect();
    engines.dedup();
    let pools = pools(results);
    // Shared axes: every finish-time panel spans the same requests and the same times.
    let requests = results.iter().map(|r| r.requests).max().unwrap_or(1);
    let span = time_span(
        results
            .iter()
            .filter_map(BenchResult::median_run)
            .flat_map(|run| run.finished_ms.iter().copied()),
    );
    let panels = left.split_evenly((engines.len().max(1), 1));
    for (area, engine) in panels.iter().zip(&engines) {
        let mut series = Vec::new();
        for result in results.iter().filter(|r| r.setup.engine == *engine) {
            let Some(run) = result.median_run() else {
                continue;
            };
            let slot = pools
                .iter()
                .position(|p| *p == result.setup.pool)
                .unwrap_or(0);
            let label = match result.setup.batch_size {
                Some(batch) => format!("{} batch {batch}", pool_label(result.setup.pool)),
                None => pool_label(result.setup.pool),
            };
            series.push((label, color(slot), *engine, run.finished_ms.clone()));
        }
        let caption = format!("{}: each request's finish time by index", engine.name());
        finish_panel(area, &caption, requests, span, &series)?;
    }
    wall_panel(&right, results, &pools)?;
    root.present()?;
    Ok(())
}

type Series = (String, RGBColor, Contender, Vec<f64>);

/// The earliest positive and the latest finish time (s) of `finished_ms`, for a log axis.
fn time_span(finished_ms: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let latest = finished_ms.clone().fold(1.0, f64::max);
    let earliest = finished_ms
        .filter(|ms| *ms > 0.0)
        .fold(f64::INFINITY, f64::min)
        .min(latest);
    (earliest / 1000.0, latest / 1000.0)
}

/// Finish time (log scale, so waves of 20 and a run of 100 fit one axis) by request index.
fn finish_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    requests: usize,
    (earliest, latest): (f64, f64),
    series: &[Series],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let low = (earliest * 0.8).max(1e-4);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", LABEL + 2))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..requests as f64, (low..latest * 1.25).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("request index")
        .y_desc("finished (s, log)")
        .axis_desc_style(("sans-serif", LABEL))
        .label_style(("sans-serif", TICK))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| seconds(*y))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for (label, color, engine, finished) in series {
        let points: Vec<(f64, f64)> = finished
            .iter()
            .enumerate()
            .map(|(index, ms)| (index as f64, (ms / 1000.0).max(low)))
            .collect();
        let style = color.stroke_width(2);
        let drawn = match engine {
            Contender::Async => chart.draw_series(DashedLineSeries::new(points, 6, 4, style))?,
            Contender::AsyncH2 => chart.draw_series(DashedLineSeries::new(points, 2, 3, style))?,
            _ => chart.draw_series(LineSeries::new(points, style))?,
        };
        let legend_color = *color;
        drawn.label(label.as_str()).legend(move |(x, y)| {
            PathElement::new([(x, y), (x + 20, y)], legend_color.stroke_width(3))
        });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font(("sans-serif", TICK))
        .border_style(BLACK.mix(0.4))
        .background_style(WHITE.mix(0.9))
        .draw()?;
    Ok(())
}

fn seconds(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.1} s")
    } else {
        format!("{:.0} ms", s * 1000.0)
    }
}

/// Median wall time at each measured pool (markers only: nothing was measured in between),
/// threads as circles and async as triangles (nudged right), against the ideal as a step
/// function.
fn wall_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    results: &[BenchResult],
    pools: &[usize],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    // An unbounded async pool is drawn at x = N: that many requests are in flight at once.
    let at = |r: &BenchResult| {
        if r.setup.pool == 0 {
            r.requests
        } else {
            r.setup.pool
        }
    };
    let max_pool = results.iter().map(at).max().unwrap_or(1).max(2) as f64;
    let slowest = results.iter().map(|r| r.wall_ms.max).fold(1.0, f64::max) / 1000.0;
    let ideal_top = results
        .iter()
        .filter_map(|r| r.latency_ms.map(|l| ideal_ms(r.requests, 1, l)))
        .fold(0.0, f64::max)
        / 1000.0;
    let mut chart = ChartBuilder::on(area)
        .caption("wall time by pool size", ("sans-serif", LABEL + 2))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (0.8f64..max_pool * 1.3).log_scale(),
            0f64..slowest.max(ideal_top) * 1.1,
        )?;
    chart
        .configure_mesh()
        .x_desc("pool size (log)")
        .y_desc("wall (s)")
        .axis_desc_style(("sans-serif", LABEL))
        .label_style(("sans-serif", TICK))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| seconds(*y))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    if let Some(with_latency) = results.iter().find(|r| r.latency_ms.is_some()) {
        let latency = with_latency.latency_ms.unwrap_or(0.0);
        let requests = with_latency.requests;
        // ceil(N / pool) × L only changes at whole pools: a staircase, not a smooth curve.
        let mut steps = Vec::new();
        for pool in 1..=max_pool as usize {
            let wall = ideal_ms(requests, pool, latency) / 1000.0;
            steps.push((pool as f64, wall));
            steps.push((pool as f64 + 1.0, wall));
        }
        chart
            .draw_series(LineSeries::new(steps, BLACK.mix(0.45).stroke_width(2)))?
            .label("ideal ceil(N/pool) × L")
            .legend(|(x, y)| {
                PathElement::new([(x, y), (x + 20, y)], BLACK.mix(0.45).stroke_width(2))
            });
    }
    let mut engines: Vec<Contender> = results.iter().map(|r| r.setup.engine).collect();
    engines.dedup();
    // The answer to "which pool size?": ringed, with a note.
    for (i, engine) in engines.iter().enumerate() {
        if let Some((pick, _)) = super::report::recommended(results, *engine) {
            let nudge = if *engine != Contender::Threads {
                1.07
            } else {
                1.0
            };
            let point = (at(pick) as f64 * nudge, pick.wall_ms.median / 1000.0);
            let note = format!(
                "{}: pool {} is enough (within 5% of the best)",
                engine.name(),
                pick.setup.pool
            );
            chart.draw_series(std::iter::once(
                EmptyElement::at(point) + Circle::new((0, 0), 15, BLACK.stroke_width(2)),
            ))?;
            // Notes in the empty upper middle, away from the staircase.
            let top = slowest.max(ideal_top);
            let at_note = (1.6, top * (0.8 - 0.07 * i as f64));
            chart.draw_series(std::iter::once(Text::new(
                format!("○ {note}"),
                at_note,
                ("sans-serif", TICK + 1),
            )))?;
        }
    }
    for engine in engines {
        let points: Vec<(f64, f64, RGBColor)> = results
            .iter()
            .filter(|r| r.setup.engine == engine && r.setup.batch_size.is_none())
            .map(|r| {
                let slot = pools.iter().position(|p| *p == r.setup.pool).unwrap_or(0);
                // Async a little to the right, so equal times do not hide one marker.
                let nudge = if engine != Contender::Threads {
                    1.07
                } else {
                    1.0
                };
                (at(r) as f64 * nudge, r.wall_ms.median / 1000.0, color(slot))
            })
            .collect();
        let label = format!("{} (median)", engine.name());
        match engine {
            Contender::Async | Contender::AsyncH2 => {
                chart
                    .draw_series(points.iter().map(|&(x, y, c)| {
                        EmptyElement::at((x, y))
                            + TriangleMarker::new((0, 0), 10, c.stroke_width(3))
                    }))?
                    .label(label)
                    .legend(|(x, y)| {
                        EmptyElement::at((x + 10, y))
                            + TriangleMarker::new((0, 0), 7, BLACK.stroke_width(2))
                    });
            }
            _ => {
                chart
                    .draw_series(points.iter().map(|&(x, y, c)| {
                        EmptyElement::at((x, y)) + Circle::new((0, 0), 8, c.filled())
                    }))?
                    .label(label)
                    .legend(|(x, y)| {
                        EmptyElement::at((x + 10, y)) + Circle::new((0, 0), 6, BLACK.filled())
                    });
            }
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", TICK))
        .border_style(BLACK.mix(0.4))
        .background_style(WHITE.mix(0.9))
        .draw()?;
    Ok(())
}

/// The finish-time-by-index picture of any `fetch` output (`poolfetch plot`).
pub fn records_svg(records: &[Record], title: &str) -> Result<String, String> {
    let mut svg = String::new();
    draw_records(&mut svg, records, title).map_err(|e| format!("cannot draw the plot: {e}"))?;
    Ok(svg)
}

fn draw_records(svg: &mut String, records: &[Record], title: &str) -> DrawResult {
    let root = SVGBackend::with_string(svg, (1200, 700)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", TITLE))?;
    let requests = records.iter().map(|r| r.index + 1).max().unwrap_or(1) as usize;
    let mut finished = vec![0.0; requests];
    for record in records {
        if let Some(slot) = finished.get_mut(record.index as usize) {
            *slot = record.finished_ms;
        }
    }
    let span = time_span(finished.iter().copied());
    let series = [(
        "finished".to_string(),
        color(0),
        Contender::Threads,
        finished,
    )];
    finish_panel(
        &root,
        "each request's finish time by index",
        requests,
        span,
        &series,
    )?;
    root.present()?;
    Ok(())
}
