//! The bench plot (SVG): (a) finish time against request index — the stepwise curve, one
//! series per setup — and (b) wall time against pool size beside the ideal curve.

use std::path::Path;

use plotters::prelude::*;

use super::BenchResult;
use super::stats::ideal_ms;

/// Draw `results` into an SVG at `path`.
pub fn write_svg(path: &Path, results: &[BenchResult]) -> Result<(), String> {
    draw(path, results).map_err(|e| format!("cannot draw {}: {e}", path.display()))
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// Height of one small chart of panel (a).
const CURVE_HEIGHT: u32 = 190;

fn draw(path: &Path, results: &[BenchResult]) -> DrawResult {
    let height = (CURVE_HEIGHT * results.len().max(1) as u32).max(560);
    let root = SVGBackend::new(path, (1320, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(760);
    // (a) one small chart per setup, each with its own time axis, so the waves of a big pool
    // are not flattened by the long run of a small one.
    let rows = left.split_evenly((results.len().max(1), 1));
    for (i, (area, result)) in rows.iter().zip(results).enumerate() {
        draw_curve(area, result, color(i))?;
    }
    draw_walls(&right.shrink((0, 0), (560, 560.min(height))), results)?;
    root.present()?;
    Ok(())
}

/// Distinct, readable colours (matplotlib's tab10), cycled.
fn color(i: usize) -> RGBAColor {
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
    RGBColor(r, g, b).to_rgba()
}

/// (a) Every request's finish time by index, for the median run of one setup.
fn draw_curve<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    result: &BenchResult,
    color: RGBAColor,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let Some(run) = result.median_run() else {
        return Ok(());
    };
    let latest = run.finished_ms.iter().copied().fold(1.0, f64::max) / 1000.0;
    let caption = match result.ideal_ms {
        Some(ideal) => format!(
            "{}: finish time by request index (wall {:.2} s, ideal {:.2} s)",
            result.setup.label(),
            run.wall_ms / 1000.0,
            ideal / 1000.0
        ),
        None => format!(
            "{}: finish time by request index (wall {:.2} s)",
            result.setup.label(),
            run.wall_ms / 1000.0
        ),
    };
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 15))
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(55)
        .build_cartesian_2d(0f64..result.requests as f64, 0f64..latest * 1.08)?;
    chart
        .configure_mesh()
        .x_desc("request index")
        .y_desc("finished (s)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.2}"))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    let points: Vec<(f64, f64)> = run
        .finished_ms
        .iter()
        .enumerate()
        .map(|(index, ms)| (index as f64, ms / 1000.0))
        .collect();
    chart.draw_series(LineSeries::new(
        points.iter().copied(),
        color.stroke_width(1),
    ))?;
    chart.draw_series(points.iter().map(|&p| Circle::new(p, 2, color.filled())))?;
    Ok(())
}

/// (b) Median wall time by pool size for each engine/batch group, and the ideal curve.
fn draw_walls<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    results: &[BenchResult],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    // An unbounded async pool is drawn at x = N: that many requests are in flight at once.
    let effective_pool = |r: &BenchResult| {
        if r.setup.pool == 0 {
            r.requests
        } else {
            r.setup.pool
        }
    };
    let max_pool = results.iter().map(effective_pool).max().unwrap_or(1).max(2) as f64;
    let slowest = results.iter().map(|r| r.wall_ms.max).fold(1.0, f64::max) / 1000.0;
    let ideal_top = results
        .iter()
        .filter_map(|r| r.latency_ms.map(|l| ideal_ms(r.requests, 1, l)))
        .fold(0.0, f64::max)
        / 1000.0;
    let mut chart = ChartBuilder::on(area)
        .caption("Wall time by pool size", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(
            (1f64..max_pool * 1.2).log_scale(),
            0f64..slowest.max(ideal_top) * 1.05,
        )?;
    chart
        .configure_mesh()
        .x_desc("pool size (log)")
        .y_desc("wall (s)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;

    if let Some(with_latency) = results.iter().find(|r| r.latency_ms.is_some()) {
        let latency = with_latency.latency_ms.unwrap_or(0.0);
        let requests = with_latency.requests;
        let ideal: Vec<(f64, f64)> = (1..=max_pool as usize)
            .map(|pool| (pool as f64, ideal_ms(requests, pool, latency) / 1000.0))
            .collect();
        chart
            .draw_series(LineSeries::new(ideal, BLACK.mix(0.5).stroke_width(1)))?
            .label("ideal ceil(N/pool) × L")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 12, y)], BLACK.mix(0.5)));
    }

    let mut groups: Vec<(String, Vec<&BenchResult>)> = Vec::new();
    for result in results {
        let key = result
            .setup
            .label()
            .split(" pool ")
            .next()
            .unwrap_or("")
            .to_string()
            + &result
                .setup
                .batch_size
                .map_or(String::new(), |b| format!(" batch {b}"));
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(result),
            None => groups.push((key, vec![result])),
        }
    }
    for (i, (name, members)) in groups.iter().enumerate() {
        let color = color(i);
        let mut points: Vec<(f64, f64)> = members
            .iter()
            .map(|r| (effective_pool(r) as f64, r.wall_ms.median / 1000.0))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart.draw_series(LineSeries::new(
            points.iter().copied(),
            color.stroke_width(2),
        ))?;
        chart
            .draw_series(points.iter().map(|&p| {
                Circle::new(p, 7u32.saturating_sub(2 * i as u32).max(3), color.filled())
            }))?
            .label(format!("{name} (measured)"))
            .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 12, y + 4)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .draw()?;
    Ok(())
}
