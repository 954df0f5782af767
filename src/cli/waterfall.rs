//! `poolfetch plot --waterfall`: where each request's time went, as a browser's network panel
//! draws it. Each request is a bar at its index, across the run's time: queued, name lookup,
//! connect, TLS, waiting for the first byte, body. At pool 5 the queue grows wave by wave, and
//! connects appear on the first wave only.
//!
//! Bounded like the finish-time plot: at most [`ROWS`] bars, each the mean of the requests
//! its row covers (one request per row while they fit, see [`Bins`]).

use plotters::prelude::*;

use super::bins::{Bins, Merge};
use super::plot::{DrawResult, LABEL, TICK, legend, seconds, title_size};
use super::words::count;
use poolfetch::{Fate, Record};

/// Most bars drawn: about 3 px each at 880 px wide.
const ROWS: usize = 160;

/// The phases, in the order they happen, with their colours.
const PHASES: [(&str, RGBColor); 6] = [
    ("queued", RGBColor(199, 199, 199)),
    ("dns", RGBColor(23, 190, 207)),
    ("connect", RGBColor(255, 127, 14)),
    ("tls", RGBColor(148, 103, 189)),
    ("waiting (first byte)", RGBColor(174, 199, 232)),
    ("body", RGBColor(31, 119, 180)),
];

/// The sums, over a row's requests, of the moments that bound the phases (seconds since the
/// run started): queued, started, then the end of each of dns, connect, tls, waiting, body.
#[derive(Debug, Clone, Copy)]
struct Row {
    requests: f64,
    /// Of them, interrupted by a cancel (cut off, not finished).
    interrupted: f64,
    moments: [f64; 7],
}

impl Merge for Row {
    fn merge(self, other: Self) -> Self {
        let mut moments = self.moments;
        for (sum, more) in moments.iter_mut().zip(other.moments) {
            *sum += more;
        }
        Row {
            requests: self.requests + other.requests,
            interrupted: self.interrupted + other.interrupted,
            moments,
        }
    }
}

/// The waterfall of a `fetch` output, built a record at a time in bounded memory.
#[derive(Debug, Clone)]
pub struct Waterfall {
    rows: Bins<Row>,
    /// Requests drawn (sent).
    pub sent: u64,
    /// Of them, interrupted by a cancel: their bars end in red where they were cut off.
    pub interrupted: u64,
    /// Requests never sent: no bar.
    pub never_sent: u64,
}

impl Default for Waterfall {
    fn default() -> Self {
        Waterfall {
            rows: Bins::new(ROWS),
            sent: 0,
            interrupted: 0,
            never_sent: 0,
        }
    }
}

/// The mark at the end of an interrupted request's bar.
const CUT_OFF: RGBColor = RGBColor(214, 39, 40);

impl Waterfall {
    /// Add one record (a never-sent one is counted, not drawn).
    pub fn add(&mut self, record: &Record) {
        let interrupted = match record.fate() {
            Fate::NeverSent => {
                self.never_sent += 1;
                return;
            }
            Fate::Interrupted => 1.0,
            Fate::Finished => 0.0,
        };
        let started = record.started_ms;
        let finished = record.finished_ms.max(started);
        // A phase a reused connection skipped ends where the one before it ended.
        let mut at = started;
        let mut end = |phase: Option<f64>| {
            if let Some(ms) = phase {
                at = (started + ms).clamp(at, finished);
            }
            at
        };
        let (dns, connect, tls) = (
            end(record.dns_ms),
            end(record.connect_ms),
            end(record.tls_ms),
        );
        // No head: all of what is left was waiting.
        let waited = end(Some(record.ttfb_ms.unwrap_or(finished - started)));
        let moments = [
            record.queued_ms.min(started),
            started,
            dns,
            connect,
            tls,
            waited,
            finished,
        ]
        .map(|ms| ms / 1000.0);
        if moments.iter().all(|m| m.is_finite()) {
            self.sent += 1;
            self.interrupted += interrupted as u64;
            self.rows.add(
                record.index,
                Row {
                    requests: 1.0,
                    interrupted,
                    moments,
                },
            );
        }
    }

    /// The SVG, titled `title`.
    pub fn svg(&self, title: &str) -> Result<String, String> {
        let mut svg = String::new();
        self.draw(&mut svg, title)
            .map_err(|e| format!("cannot draw the waterfall: {e}"))?;
        Ok(svg)
    }

    fn draw(&self, svg: &mut String, title: &str) -> DrawResult {
        let root = SVGBackend::with_string(svg, (1100, 700)).into_drawing_area();
        root.fill(&WHITE)?;
        let root = root.titled(title, ("sans-serif", title_size(title, 1100, LABEL)))?;
        let span = self.rows.span();
        let width = self.rows.width() as f64;
        let rows: Vec<(f64, [f64; 7], bool)> = self
            .rows
            .cells()
            .map(|(first, row)| {
                let moments = row.moments.map(|sum| sum / row.requests);
                (first, moments, row.interrupted > 0.0)
            })
            .collect();
        let end = rows
            .iter()
            .map(|(_, m, _)| m[6])
            .fold(0.0, f64::max)
            .max(1e-3);
        let caption = self.caption(width);
        // Index 0 at the top, as a network panel lists requests: the y axis runs negative.
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", TICK))
            .margin(14)
            .x_label_area_size(50)
            .y_label_area_size(96)
            .build_cartesian_2d(0f64..end * 1.02, -span..0f64)?;
        chart
            .configure_mesh()
            .x_desc("since the run started")
            .y_desc("request index")
            .axis_desc_style(("sans-serif", LABEL))
            .label_style(("sans-serif", TICK))
            .x_labels(8)
            // Whole indices only: no more labels than there are.
            .y_labels((span.min(7.0) as usize + 1).max(2))
            .x_label_formatter(&|x| seconds(*x))
            .y_label_formatter(&|y| format!("{:.0}", y.abs()))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        // A small gap between bars while they are thick enough to show one.
        let gap = if rows.len() < ROWS / 2 {
            0.15 * width
        } else {
            0.0
        };
        for (phase, (name, colour)) in PHASES.iter().enumerate() {
            let bars = rows.iter().filter_map(|(first, moments, _)| {
                let (from, to) = (moments[phase], moments[phase + 1]);
                (to > from).then(|| {
                    Rectangle::new(
                        [(from, -first - gap), (to, -(first + width) + gap)],
                        colour.filled(),
                    )
                })
            });
            chart.draw_series(bars)?.label(*name).legend(move |(x, y)| {
                Rectangle::new([(x, y - 8), (x + 28, y + 8)], colour.filled())
            });
        }
        if self.interrupted > 0 {
            cut_off_marks(&mut chart, &rows, end, width, gap)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        root.present()?;
        Ok(())
    }

    /// What the picture shows, in words: how many bars, and of which requests.
    pub fn caption(&self, width: f64) -> String {
        let mut caption = if width > 1.0 {
            format!(
                "{}, each bar the mean of {width:.0}",
                count(self.sent, "request")
            )
        } else {
            format!("{}, one bar each", count(self.sent, "request"))
        };
        if self.interrupted > 0 {
            caption.push_str(&format!("; {} interrupted (red end)", self.interrupted));
        }
        if self.never_sent > 0 {
            caption.push_str(&format!("; {} never sent (not drawn)", self.never_sent));
        }
        caption
    }
}

/// A red end where an interrupted request (or a row holding one) was cut off.
fn cut_off_marks<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<
        'a,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    rows: &[(f64, [f64; 7], bool)],
    end: f64,
    width: f64,
    gap: f64,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let tick = end * 0.006;
    let marks = rows.iter().filter(|(_, _, cut)| *cut).map(|(first, m, _)| {
        Rectangle::new(
            [
                (m[6] - tick, -first - gap),
                (m[6] + tick, -(first + width) + gap),
            ],
            CUT_OFF.filled(),
        )
    });
    chart
        .draw_series(marks)?
        .label("interrupted (cut off)")
        .legend(|(x, y)| Rectangle::new([(x, y - 8), (x + 28, y + 8)], CUT_OFF.filled()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(index: u64, phases: [Option<f64>; 4], ms: (f64, f64, f64)) -> Record {
        let mut record: Record = serde_json::from_value(serde_json::json!({
            "index": index, "url": "http://h/", "method": "GET", "ok": true, "status": 200,
            "bytes": 0, "attempts": 1, "worker": 0, "queued_ms": ms.0, "started_ms": ms.1,
            "finished_ms": ms.2, "body": null, "file": null, "error": null
        }))
        .unwrap();
        [
            record.dns_ms,
            record.connect_ms,
            record.tls_ms,
            record.ttfb_ms,
        ] = phases;
        record
    }

    #[test]
    fn a_bar_is_split_at_its_phases_and_a_skipped_phase_takes_no_room() {
        let mut waterfall = Waterfall::default();
        waterfall.add(&record(
            0,
            [Some(1.0), Some(3.0), Some(6.0), Some(10.0)],
            (0.0, 2.0, 20.0),
        ));
        // Reused: only the first byte, at 5 ms.
        waterfall.add(&record(1, [None, None, None, Some(5.0)], (1.0, 30.0, 40.0)));
        let rows: Vec<[f64; 7]> = waterfall
            .rows
            .cells()
            .map(|(_, row)| row.moments.map(|s| (s * 1000.0 / row.requests).round()))
            .collect();
        assert_eq!(rows[0], [0.0, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0]);
        assert_eq!(rows[1], [1.0, 30.0, 30.0, 30.0, 30.0, 35.0, 40.0]);
        // Never sent: no bar.
        let mut never = record(2, [None; 4], (0.0, 0.0, 0.0));
        never.attempts = 0;
        waterfall.add(&never);
        let drawn: f64 = waterfall.rows.cells().map(|(_, row)| row.requests).sum();
        assert_eq!(drawn, 2.0);
        assert_eq!((waterfall.sent, waterfall.never_sent), (2, 1));
    }

    #[test]
    fn many_records_make_at_most_rows_bars_and_a_small_file() {
        let mut waterfall = Waterfall::default();
        for i in 0..200_000u64 {
            let t = (i / 5) as f64 * 10.0;
            waterfall.add(&record(
                i,
                [None, None, None, Some(9.0)],
                (0.0, t, t + 10.0),
            ));
        }
        assert!(waterfall.rows.cells().count() <= ROWS);
        let svg = waterfall.svg("big").unwrap();
        assert!(svg.len() < 1_000_000, "{} bytes", svg.len());
    }
}
