//! Drawing a report's [`Chart`] as inline SVG with `plotters` (its SVG backend: text stays
//! `<text>` for the browser to lay out, so no font files are needed and the HTML stays one
//! self-contained file).

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::domain::reports::{Chart, Plot};

const WIDTH: u32 = 860;
const HEIGHT: u32 = 380;

/// The chart as an `<svg>` element, or why it could not be drawn (then the HTML says so).
pub fn svg(chart: &Chart) -> Result<String, String> {
    let mut out = String::new();
    {
        let size = match &chart.plot {
            Plot::Matrix { labels, .. } => {
                let side = (labels.len() as u32 * 26 + 140).clamp(300, 900);
                (side, side)
            }
            _ => (WIDTH, HEIGHT),
        };
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        match &chart.plot {
            Plot::Lines { dates, series } => lines(&root, chart, dates, series)?,
            Plot::Bars { labels, values } => bars(&root, chart, labels, values)?,
            Plot::Matrix { labels, values } => matrix(&root, labels, values)?,
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// The finite range of `values`, widened a little (and made non-empty).
fn y_range<'a>(values: impl Iterator<Item = &'a f64>, include_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(*v), h.max(*v))
        });
    if !lo.is_finite() {
        return (-1.0, 1.0);
    }
    if include_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-9);
    (lo - pad, hi + pad)
}

fn lines(
    root: &Area<'_>,
    chart: &Chart,
    dates: &[chrono::NaiveDate],
    series: &[crate::domain::reports::Line],
) -> Result<(), String> {
    let (Some(first), Some(last)) = (dates.first(), dates.last()) else {
        return Err("no dates".into());
    };
    let last = if last > first {
        *last
    } else {
        *first + chrono::Duration::days(1)
    };
    let (lo, hi) = y_range(series.iter().flat_map(|s| s.values.iter()), false);
    let mut c = ChartBuilder::on(root)
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(64)
        .build_cartesian_2d(*first..last, lo..hi)
        .map_err(|e| e.to_string())?;
    c.configure_mesh()
        .y_desc(chart.y_label.as_str())
        .x_labels(8)
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(|e| e.to_string())?;
    for (k, s) in series.iter().enumerate() {
        let color = Palette99::pick(k).to_rgba();
        // A gap (NaN) ends a line; the next finite value starts a new one.
        let mut runs: Vec<Vec<(chrono::NaiveDate, f64)>> = vec![Vec::new()];
        for (d, v) in dates.iter().zip(&s.values) {
            if v.is_finite() {
                if let Some(run) = runs.last_mut() {
                    run.push((*d, *v));
                }
            } else if runs.last().is_some_and(|r| !r.is_empty()) {
                runs.push(Vec::new());
            }
        }
        for (i, run) in runs.into_iter().filter(|r| !r.is_empty()).enumerate() {
            let drawn = c
                .draw_series(LineSeries::new(run, color.stroke_width(2)))
                .map_err(|e| e.to_string())?;
            if i == 0 {
                drawn.label(s.name.as_str()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            }
        }
    }
    if series.len() > 1 {
        c.configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn bars(root: &Area<'_>, chart: &Chart, labels: &[String], values: &[f64]) -> Result<(), String> {
    if labels.is_empty() {
        return Err("no bars".into());
    }
    let (lo, hi) = y_range(values.iter(), true);
    let n = labels.len();
    let rotate = n > 8;
    let mut c = ChartBuilder::on(root)
        .margin(12)
        .x_label_area_size(if rotate { 90 } else { 32 })
        .y_label_area_size(64)
        .build_cartesian_2d((0..n - 1).into_segmented(), lo..hi)
        .map_err(|e| e.to_string())?;
    let label_style = if rotate {
        TextStyle::from(("sans-serif", 11).into_font()).transform(FontTransform::Rotate90)
    } else {
        TextStyle::from(("sans-serif", 12).into_font())
    };
    c.configure_mesh()
        .y_desc(chart.y_label.as_str())
        .x_labels(n)
        .x_label_style(label_style)
        .x_label_formatter(&|x| match x {
            SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(|e| e.to_string())?;
    c.draw_series(
        values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(i, v)| {
                let color = if *v >= 0.0 {
                    RGBColor(46, 125, 50)
                } else {
                    RGBColor(198, 40, 40)
                };
                let (y0, y1) = if *v >= 0.0 { (0.0, *v) } else { (*v, 0.0) };
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), y0),
                        (SegmentValue::Exact(i + 1), y1),
                    ],
                    color.filled(),
                );
                bar.set_margin(0, 0, 3, 3);
                bar
            }),
    )
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// Blue (−1) through white (0) to red (+1).
fn diverging(v: f64) -> RGBColor {
    let v = v.clamp(-1.0, 1.0);
    let fade = |c: u8, t: f64| (255.0 - (255.0 - f64::from(c)) * t).round() as u8;
    if v >= 0.0 {
        RGBColor(fade(198, v), fade(40, v), fade(40, v))
    } else {
        RGBColor(fade(21, -v), fade(101, -v), fade(192, -v))
    }
}

fn matrix(root: &Area<'_>, labels: &[String], values: &[Vec<f64>]) -> Result<(), String> {
    let n = labels.len();
    if n == 0 {
        return Err("an empty matrix".into());
    }
    let mut c = ChartBuilder::on(root)
        .margin(12)
        .x_label_area_size(90)
        .y_label_area_size(90)
        .build_cartesian_2d(
            RangedCoordf64::from(0.0..n as f64),
            RangedCoordf64::from(n as f64..0.0),
        )
        .map_err(|e| e.to_string())?;
    let name = |x: &f64| {
        let i = x.floor() as usize;
        if (x - x.floor() - 0.5).abs() < 1e-9 {
            labels.get(i).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    c.configure_mesh()
        .disable_mesh()
        .x_labels(2 * n + 1)
        .y_labels(2 * n + 1)
        .x_label_style(
            TextStyle::from(("sans-serif", 11).into_font()).transform(FontTransform::Rotate90),
        )
        .x_label_formatter(&name)
        .y_label_formatter(&name)
        .draw()
        .map_err(|e| e.to_string())?;
    let cells = values.iter().enumerate().flat_map(|(i, row)| {
        row.iter().enumerate().map(move |(j, v)| {
            let color = if v.is_finite() {
                diverging(*v)
            } else {
                RGBColor(220, 220, 220)
            };
            Rectangle::new(
                [(j as f64, i as f64), (j as f64 + 1.0, i as f64 + 1.0)],
                color.filled(),
            )
        })
    });
    c.draw_series(cells).map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::reports::Line;

    fn chart(plot: Plot) -> Chart {
        Chart {
            id: "c".into(),
            title: "T".into(),
            y_label: "% of capital".into(),
            plot,
        }
    }

    #[test]
    fn lines_bars_and_matrices_draw_as_svg() {
        let d = |n: i64| {
            chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Duration::days(n)
        };
        let lines = chart(Plot::Lines {
            dates: (0..30).map(d).collect(),
            series: vec![
                Line {
                    name: "a & b".into(),
                    values: (0..30)
                        .map(|i| if i == 10 { f64::NAN } else { i as f64 })
                        .collect(),
                },
                Line {
                    name: "c".into(),
                    values: (0..30).map(|i| -(i as f64)).collect(),
                },
            ],
        });
        let s = svg(&lines).unwrap();
        assert!(s.starts_with("<svg"), "{s}");
        assert!(s.contains("% of capital"), "the axis label is drawn");
        assert!(s.contains("a &amp; b"), "legend text is escaped");
        assert!(
            s.matches("<polyline").count() >= 3,
            "the gap splits the first line"
        );

        let bars = chart(Plot::Bars {
            labels: vec!["SP500".into(), "GOLD".into()],
            values: vec![1.5, -0.5],
        });
        let s = svg(&bars).unwrap();
        assert!(s.contains("SP500") && s.contains("GOLD"), "{s}");
        assert!(
            s.contains("rgb(46,125,50)") || s.contains("#2E7D32"),
            "a green bar: {s}"
        );

        let m = chart(Plot::Matrix {
            labels: vec!["A".into(), "B".into()],
            values: vec![vec![1.0, -0.5], vec![-0.5, 1.0]],
        });
        let s = svg(&m).unwrap();
        assert!(
            s.contains(">\nA\n</text>") && s.contains(">\nB\n</text>"),
            "{s}"
        );
    }

    #[test]
    fn nothing_to_draw_is_an_error_not_a_panic() {
        let e = svg(&chart(Plot::Lines {
            dates: vec![],
            series: vec![],
        }))
        .unwrap_err();
        assert!(e.contains("no dates"), "{e}");
        assert!(svg(&chart(Plot::Bars {
            labels: vec![],
            values: vec![]
        }))
        .is_err());
    }
}
