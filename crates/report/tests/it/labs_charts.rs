//! The labs' heatmaps: an SVG with one cell per layer cell (its value in a tooltip) and
//! a PNG that decodes to the layer's size, grey levels from black (minimum) to white.

use gradsheet_report::chart::{heatmap_png, heatmap_svg};
use gradsheet_report::labs::gradsheet_labs::conv;

fn decode(png_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let dec = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

#[test]
fn conv_layers_as_one_svg_with_every_cell() {
    let net = conv::course_v3();
    let f = net.forward().unwrap();
    let panels = [
        ("input", net.input.as_slice()),
        ("conv1 1", f.conv1[0].as_slice()),
        ("conv2 1", f.conv2[0].as_slice()),
        ("maxpool 1", f.pool[0].as_slice()),
    ];
    let svg = heatmap_svg("the digit through each layer", &panels, 4).unwrap();
    let cells = 28 * 28 + 26 * 26 + 24 * 25 + 12 * 13;
    // One background rectangle, one per cell, and each panel's colour scale of 16 steps.
    let scale = svg.matches("<rect class=\"scale\"").count();
    assert_eq!(scale, 16 * panels.len());
    assert_eq!(svg.matches("<rect").count(), 1 + cells + scale);
    assert_eq!(svg.matches("<title>").count(), cells);
    for (name, _) in panels {
        assert!(svg.contains(&format!(">{name}</text>")), "{name}");
    }
    // The maximum of a layer is white, its minimum black.
    assert!(svg.contains("fill=\"#ffffff\"><title>"));
    assert!(svg.contains("fill=\"#000000\"><title>"));
    assert!(svg.trim_end().ends_with("</svg>"));
}

#[test]
fn a_layer_as_a_png_of_grey_squares() {
    let layer = vec![vec![1.0, 3.0], vec![2.0, 1.0]];
    let (w, h, px) = decode(&heatmap_png(&layer, 3).unwrap());
    assert_eq!((w, h), (6, 6));
    // Rows of 6 grey bytes: cell (0,1) = 3 is white, (1,0) = 2 is mid-grey.
    assert_eq!(px[0], 0);
    assert_eq!(px[3], 255);
    assert_eq!(px[3 * 6], 128);
    let digit = conv::digit();
    let (w, h, px) = decode(&heatmap_png(&digit, 2).unwrap());
    assert_eq!((w, h), (56, 56));
    assert!(px.iter().any(|p| *p > 200) && px.contains(&0));
}

#[test]
fn empty_layers_are_refused() {
    assert!(heatmap_png(&[], 2).is_err());
    assert!(heatmap_svg("x", &[], 2).is_err());
    let empty: Vec<Vec<f64>> = vec![vec![]];
    assert!(heatmap_svg("x", &[("e", &empty)], 2).is_err());
}

/// Small settings so that every lab runs in a moment in a debug build.
fn small(name: &str) -> Vec<&'static str> {
    match name {
        "dropout" => vec!["hidden=8", "steps=50", "ps=0,0.5", "ensemble=10"],
        "focal" => vec!["epochs=20", "negatives=100", "positives=10"],
        "l1-l2" => vec!["samples=20"],
        "gradients" => vec!["depth=5", "width=8", "batch=4"],
        "collab" | "titanic" => vec!["epochs=10"],
        _ => vec![],
    }
}

/// Every figure of every lab is drawn: an SVG document with the figure's title and its
/// charts' titles, a PNG that decodes (per panel too for heatmaps), and the images.
#[test]
fn every_lab_figure_is_drawn_as_svg_and_png() {
    use gradsheet_report::labs;
    let all = labs::all();
    assert_eq!(all.len(), 15);
    let course22 = crate::course22();
    for lab in all {
        if lab.name == "titanic" && !course22 {
            continue;
        }
        let p = lab.params(&small(lab.name)).unwrap();
        let out = (lab.run)(&p, None).unwrap();
        assert!(!out.figures.is_empty(), "{}", lab.name);
        let files = labs::files(&out, true).unwrap();
        for f in &out.figures {
            let stem = f.stem(lab.name);
            let svg = files
                .iter()
                .find(|(n, _)| *n == format!("{stem}.svg"))
                .map(|(_, b)| String::from_utf8(b.clone()).unwrap())
                .unwrap_or_else(|| panic!("{stem}.svg"));
            assert!(svg.starts_with("<svg"), "{stem}");
            assert!(svg.trim_end().ends_with("</svg>"), "{stem}");
            assert_eq!(svg.matches("<g").count(), svg.matches("</g>").count());
            let title = if f.panels.len() > 1 {
                f.title.clone()
            } else {
                match &f.panels[0] {
                    gradsheet_labs::figure::Panel::Lines(c) => c.title.clone(),
                    gradsheet_labs::figure::Panel::Heatmap(_) => f.title.clone(),
                }
            };
            let text = svg
                .replace("&apos;", "'")
                .replace("&#39;", "'")
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&");
            assert!(text.contains(&title), "{stem}: no title {title:?}");
            let png = files
                .iter()
                .find(|(n, _)| *n == format!("{stem}.png"))
                .unwrap_or_else(|| panic!("{stem}.png"));
            let (w, h, px) = decode(&png.1);
            assert!(
                w > 0 && h > 0 && px.iter().any(|&v| v < 200),
                "{stem}.png is blank"
            );
        }
        for (name, _) in &out.images {
            assert!(files
                .iter()
                .any(|(n, _)| *n == format!("{}-{name}.png", lab.name)));
        }
    }
}

/// A lab's grayscale image is a well-formed PNG: the signature, and the IEND chunk every
/// PNG ends with (length 0, type, CRC AE 42 60 82).
#[test]
fn images_are_well_formed_pngs() {
    let img = gradsheet_labs::Image::new(3, 2, vec![0.0, 0.5, 1.0, 0.1, 0.2, 0.3]).unwrap();
    let png = gradsheet_report::chart::image_png(&img).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png[png.len() - 12..], b"\0\0\0\0IEND\xae\x42\x60\x82");
    let (w, h, px) = decode(&png);
    assert_eq!((w, h), (3, 2));
    assert_eq!(px, [0, 128, 255, 26, 51, 77]);
}

/// Entropy's softmax as bars over the class names: one filled rectangle per class and
/// series, the names under the axis.
#[test]
fn the_softmax_is_bars_over_named_classes() {
    let lab = gradsheet_report::labs::find("entropy").unwrap();
    let params = lab.params::<&str>(&[]).unwrap();
    let out = (lab.run)(&params, None).unwrap();
    let files = gradsheet_report::labs::files(&out, false).unwrap();
    let (_, svg) = files
        .iter()
        .find(|(n, _)| n.ends_with("softmax.svg"))
        .expect("the softmax chart");
    let svg = String::from_utf8_lossy(svg);
    for class in ["cat", "dog", "plane", "fish", "building"] {
        assert!(
            svg.contains(&format!("\n{class}\n</text>")),
            "{class} not on the axis"
        );
    }
    // Two series (softmax, sigmoid) of five bars, and the legend's two swatches.
    assert!(
        svg.matches("<rect").count() >= 12,
        "{}",
        svg.matches("<rect").count()
    );
}

/// broadcasting's and style_loss's grids show each cell's value and a colour scale (a
/// strip from the lowest value's colour to the highest's, with the range).
#[test]
fn small_grids_show_their_values_and_a_colour_scale() {
    for name in ["broadcasting", "style_loss"] {
        let lab = gradsheet_report::labs::find(name).unwrap();
        let params = lab.params::<&str>(&[]).unwrap();
        let out = (lab.run)(&params, None).unwrap();
        let files = gradsheet_report::labs::files(&out, false).unwrap();
        let (_, svg) = files.iter().find(|(n, _)| n.ends_with(".svg")).unwrap();
        let svg = String::from_utf8_lossy(svg);
        assert!(
            svg.matches("class=\"scale\"").count() >= 16,
            "{name}: no colour scale"
        );
        assert!(svg.contains(" … "), "{name}: no range under the scale");
        if name == "broadcasting" {
            // c + m: 11 … 39, every value written in its cell.
            for v in ["11", "25", "39"] {
                assert!(
                    svg.contains(&format!(">{v}</text>")),
                    "{name}: {v} not shown"
                );
            }
        }
    }
}
