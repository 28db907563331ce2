//! Every kind of chart is drawn, as SVG with the expected series and labels in it, and as
//! a PNG that decodes to a picture that is not blank.
//!
//! GRADSHEET_KEEP_CHARTS=DIR keeps the files for a look.

use gradsheet_engine::{Dataset, Model, Roles, Scheme};
use gradsheet_report::chart::{self, render, Chart, Format, Series, SIZE};
use gradsheet_train::{Hooks, Optimizer, Trace, TrainConfig, Trainer};

fn train(model: &str, opt: Optimizer, epochs: usize) -> (Model, Dataset, Trace) {
    let data = Dataset::graddesc();
    let m = Model::new(model, "squared", &Roles::with_columns(&data.columns)).unwrap();
    let init = vec![1.0; m.params.len()];
    let t = Trainer::new(&m, &data)
        .unwrap()
        .run(&init, &TrainConfig::new(opt, epochs), &mut Hooks::none())
        .unwrap();
    (m, data, t)
}

/// The SVG's polylines (as point counts) and texts.
struct Svg {
    polylines: Vec<usize>,
    texts: Vec<String>,
    rects: usize,
}

fn parse_svg(bytes: &[u8]) -> Svg {
    let s = std::str::from_utf8(bytes).unwrap();
    assert!(
        s.starts_with("<svg") || s.starts_with("<?xml"),
        "not an SVG"
    );
    assert!(s.trim_end().ends_with("</svg>"));
    let mut polylines = Vec::new();
    for part in s.split("<polyline").skip(1) {
        let pts = part
            .split("points=\"")
            .nth(1)
            .and_then(|p| p.split('"').next())
            .unwrap_or("");
        polylines.push(pts.split_whitespace().count());
    }
    let mut texts = Vec::new();
    for part in s.split("<text").skip(1) {
        let body = part.split_once('>').map(|x| x.1).unwrap_or("");
        let t = body.split("</text>").next().unwrap_or("");
        texts.push(
            t.trim()
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&"),
        );
    }
    Svg {
        polylines,
        texts,
        rects: s.matches("<rect").count(),
    }
}

/// Decodes the PNG; checks the size and that it has many colours (not blank).
fn check_png(name: &str, bytes: &[u8]) {
    let dec = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), SIZE, "{name}");
    let px = &buf[..info.buffer_size()];
    let non_white = px.chunks(3).filter(|p| p != &[255, 255, 255]).count();
    let total = (info.width * info.height) as usize;
    assert!(
        non_white > total / 200,
        "{name}: the PNG is nearly blank ({non_white} of {total} pixels drawn)"
    );
    // Text was rendered: dark grey anti-aliased pixels exist (the font is embedded).
    let dark = px
        .chunks(3)
        .filter(|p| p[0] < 90 && p[1] < 90 && p[2] < 90)
        .count();
    assert!(dark > 500, "{name}: no text or axes drawn");
}

fn both(name: &str, c: &Chart) -> Svg {
    let svg = render(c, Format::Svg).unwrap();
    let png = render(c, Format::Png).unwrap();
    if let Ok(dir) = std::env::var("GRADSHEET_KEEP_CHARTS") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(format!("{dir}/{name}.svg"), &svg).unwrap();
        std::fs::write(format!("{dir}/{name}.png"), &png).unwrap();
    }
    check_png(name, &png);
    parse_svg(&svg)
}

fn has_text(svg: &Svg, t: &str) -> bool {
    svg.texts.iter().any(|x| x.contains(t))
}

#[test]
fn the_charts_of_a_run() {
    let (m, d, t) = train("a*x+b", Optimizer::sgd(1e-4), 8);
    let charts = chart::run_charts(&m, &d, "sgd", &t);
    let names: Vec<&str> = charts.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["error_by_epoch", "params_over_steps", "fit", "contours"]
    );
    for (name, c) in &charts {
        let svg = both(name, c);
        match name.as_str() {
            "error_by_epoch" => {
                assert!(
                    has_text(&svg, "Error by epoch") && has_text(&svg, "mean error (log scale)")
                );
                assert!(has_text(&svg, "sgd"));
                // One line of 8 epochs (plus the legend's sample line).
                assert!(svg.polylines.contains(&8), "{:?}", svg.polylines);
            }
            "params_over_steps" => {
                assert!(has_text(&svg, "Parameters over steps") && has_text(&svg, "step"));
                assert_eq!(
                    svg.polylines.iter().filter(|&&n| n == 8 * 29).count(),
                    2,
                    "one line per parameter"
                );
                assert!(svg.texts.iter().any(|x| x == "a") && svg.texts.iter().any(|x| x == "b"));
            }
            "fit" => {
                assert!(has_text(&svg, "Fit against data") && has_text(&svg, "data"));
                assert!(has_text(&svg, "prediction at the final parameters"));
                assert!(
                    svg.polylines.contains(&29),
                    "the prediction line through 29 points"
                );
                assert!(s_circles(c) == 29);
            }
            "contours" => {
                assert!(
                    has_text(&svg, "Path on the error contours") && has_text(&svg, "path of sgd")
                );
                assert!(has_text(&svg, "error contours"));
                // The path: the start and every step.
                assert!(svg.polylines.contains(&(8 * 29 + 1)));
                assert!(
                    svg.polylines.iter().filter(|&&n| n == 2).count() > 50,
                    "contour segments"
                );
            }
            _ => unreachable!(),
        }
    }
}

fn s_circles(c: &Chart) -> usize {
    match c {
        Chart::Lines { series, .. } => series
            .iter()
            .filter(|s| s.style == chart::Style::Points)
            .map(|s| s.points.len())
            .sum(),
        _ => 0,
    }
}

#[test]
fn slices_for_more_than_two_parameters() {
    let (m, d, t) = train("c*MAX(a*x+b,0)+d", Optimizer::torch_adam(0.1), 3);
    let charts = chart::run_charts(&m, &d, "torch-adam", &t);
    let names: Vec<&str> = charts.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "error_by_epoch",
            "params_over_steps",
            "fit",
            "contours_c_a",
            "contours_a_b",
            "contours_b_d"
        ]
    );
    let svg = both("contours_c_a", &charts[3].1);
    assert!(has_text(&svg, "slice at b = ") && has_text(&svg, "path of torch-adam"));
}

#[test]
fn optimizers_compared_fd_error_and_stability() {
    let runs: Vec<(&str, Trace)> = vec![
        ("sgd", train("a*x+b", Optimizer::sgd(1e-4), 10).2),
        (
            "momentum",
            train(
                "a*x+b",
                Optimizer::Momentum {
                    lr: 1e-4,
                    beta: 0.9,
                },
                10,
            )
            .2,
        ),
        (
            "adam",
            train(
                "a*x+b",
                Optimizer::Adam {
                    lr: 0.1,
                    beta1: 0.9,
                    beta2: 0.9,
                },
                10,
            )
            .2,
        ),
    ];
    let refs: Vec<(&str, &Trace)> = runs.iter().map(|(n, t)| (*n, t)).collect();
    let svg = both("compare", &chart::compare_runs(&refs));
    for n in ["sgd", "momentum", "adam", "Optimizers compared"] {
        assert!(has_text(&svg, n), "{n}");
    }
    assert_eq!(svg.polylines.iter().filter(|&&n| n == 10).count(), 3);

    // FD error against h: forward and central differences of e = (a*x+b-y)^2 wrt a at
    // x = 14, y = 58, a = b = 1; exact de/da = 2*(a*x+b-y)*x.
    let e = |a: f64| (a * 14.0 + 1.0 - 58.0f64).powi(2);
    let exact = 2.0 * (14.0 + 1.0 - 58.0) * 14.0;
    let hs: Vec<f64> = (0..14).map(|k| 10f64.powi(-k)).collect();
    let mk = |s: Scheme| {
        let pts = hs
            .iter()
            .map(|&h| {
                let est = match s {
                    Scheme::Forward => (e(1.0 + h) - e(1.0)) / h,
                    Scheme::Backward => (e(1.0) - e(1.0 - h)) / h,
                    Scheme::Central => (e(1.0 + h) - e(1.0 - h)) / (2.0 * h),
                };
                (h, (est - exact).abs())
            })
            .collect();
        Series::line(format!("{s:?}").to_lowercase(), pts)
    };
    let svg = both(
        "fd_error_vs_h",
        &chart::fd_error_vs_h(vec![mk(Scheme::Forward), mk(Scheme::Central)]),
    );
    assert!(
        has_text(&svg, "forward") && has_text(&svg, "central") && has_text(&svg, "h (log scale)")
    );
    assert!(!svg.polylines.is_empty());

    // A stability map of learning rate × momentum.
    let xs = vec![1e-5, 1e-4, 1e-3, 1e-2];
    let ys = vec![0.0, 0.5, 0.9];
    let cells: Vec<Option<f64>> = (0..12)
        .map(|k| {
            if k % 4 == 3 || k == 10 {
                None
            } else {
                Some(10f64.powi(k % 5))
            }
        })
        .collect();
    let svg = both(
        "stability",
        &chart::stability_map("learning rate", "momentum", xs, ys, cells),
    );
    assert!(
        has_text(&svg, "diverged")
            && has_text(&svg, "converged")
            && has_text(&svg, "learning rate")
    );
    assert!(svg.rects >= 12, "one rectangle per cell");
}

/// Values at the ends of f64 (a run that blew up, an axis typed as ±1e308) are refused
/// with a message instead of an axis plotters cannot lay out.
#[test]
fn ranges_too_wide_for_an_axis_are_refused() {
    let lines = Chart::Lines {
        title: "params".into(),
        x_label: "step".into(),
        y_label: "a".into(),
        log_x: false,
        log_y: false,
        series: vec![Series::line("a", vec![(0.0, -1.7e308), (1.0, 1.7e308)])],
    };
    let e = render(&lines, Format::Svg).unwrap_err().to_string();
    assert_eq!(
        e,
        "nothing to draw: params: no finite point, or a range too wide to draw"
    );
    let grid = chart::Grid {
        xs: vec![-1e308, 0.0, 1e308],
        ys: vec![0.0, 1.0],
        values: vec![1.0; 6],
    };
    let contours = Chart::Contours {
        title: "surface".into(),
        x_label: "a".into(),
        y_label: "b".into(),
        grid,
        paths: vec![],
    };
    let e = render(&contours, Format::Png).unwrap_err().to_string();
    assert!(e.contains("no finite range of drawable width"), "{e}");
    // Infinite and NaN values among finite ones are left out of the range.
    let ok = Chart::Lines {
        title: "loss".into(),
        x_label: "step".into(),
        y_label: "error".into(),
        log_x: false,
        log_y: false,
        series: vec![Series::line(
            "error",
            vec![
                (0.0, 1.0),
                (1.0, f64::INFINITY),
                (2.0, f64::NAN),
                (3.0, 2.0),
            ],
        )],
    };
    assert!(render(&ok, Format::Svg).is_ok());
}
