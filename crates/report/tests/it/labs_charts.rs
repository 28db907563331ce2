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
    // One background rectangle, then one per cell.
    assert_eq!(svg.matches("<rect").count(), 1 + cells);
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
