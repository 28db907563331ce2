//! A network's workbook recalculates to the engine's numbers: every neuron and every
//! backprop column is a live formula, and LibreOffice, forced to recalculate a copy whose
//! cached results are 0, gets each within 1e-12·max(1, |v|).

use gradsheet_net::cells::parse_cells;
use gradsheet_net::data::{features, DataSpec, Kind};
use gradsheet_net::init::{initial, Scheme};
use gradsheet_net::network::{Network, Reg};
use gradsheet_net::spec::{Loss, NetSpec};
use gradsheet_report::labs::Book;
use gradsheet_report::net::workbook;

use crate::soffice::{check_book, recalculate, soffice};

fn book(kind: Kind, feats: &str, layers: &str, act: &str, loss: Loss, reg: Reg) -> (Book, Network) {
    let split = DataSpec {
        kind,
        n: 60,
        noise: 0.1,
        features: features(feats).unwrap(),
        classes: if loss == Loss::Softmax { 3 } else { 2 },
        ..DataSpec::default()
    }
    .draw()
    .unwrap();
    let cols = &split.train.columns;
    let spec = NetSpec::parse(layers, act, loss, &cols[..cols.len() - 1]).unwrap();
    let reserved: Vec<&str> = cols.iter().map(String::as_str).collect();
    let cells = parse_cells(&spec.text(), &reserved).unwrap();
    let net = Network::new(cells, loss, reg, &split.train).unwrap();
    let p = initial(net.params(), Scheme::Normal(0.8), 2);
    (workbook(&net, &p, &split.train).unwrap(), net)
}

fn books() -> Vec<Book> {
    vec![
        book(
            Kind::Circle,
            "x1,x2",
            "2-3-2-1",
            "tanh",
            Loss::Logistic,
            Reg {
                l1: 0.01,
                l2: 0.001,
            },
        )
        .0,
        book(
            Kind::Xor,
            "x1,x2,x1x2",
            "3-4-1",
            "relu",
            Loss::Logistic,
            Reg::default(),
        )
        .0,
        book(
            Kind::Sine,
            "x1,x2,sinx1",
            "3-3-3-1",
            "leaky_relu,softplus,sigmoid",
            Loss::Squared,
            Reg { l1: 0.0, l2: 0.02 },
        )
        .0,
        // Three classes: scores, their largest, the class of the largest (comparisons)
        // and the shifted log-sum-exp, all as spreadsheet formulas.
        book(
            Kind::Gauss,
            "x1,x2",
            "2-3-3",
            "tanh",
            Loss::Softmax,
            Reg { l1: 0.0, l2: 0.01 },
        )
        .0,
    ]
}

/// The adjoints read as the chain rule: ∂err/∂z of the logistic loss is pred − y; a unit
/// of the last hidden layer passes it back through its weight; a unit below that, through
/// the weights and tanh's slopes of the layer above.
#[test]
fn backprop_columns_read_as_the_chain_rule() {
    let (b, net) = book(
        Kind::Circle,
        "x1,x2",
        "2-2-1",
        "tanh",
        Loss::Logistic,
        Reg::default(),
    );
    assert_eq!(
        net.cells
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["h1_1", "h1_2", "z", "pred"]
    );
    let sheet = &b.sheets[0];
    let at = |r: u32, c: u16| {
        sheet
            .cells
            .iter()
            .find(|x| x.0 == r && x.1 == c)
            .map(|x| x.2.clone())
            .unwrap()
    };
    use gradsheet_report::labs::Cell;
    // Columns: A row, B x1, C x2, D y, E h1_1, F h1_2, G z, H pred, I loss, J err, K.. adjoints.
    assert_eq!(at(0, 10), Cell::Text("d_h1_1".into()));
    let Cell::Formula(f, _) = at(1, 12) else {
        panic!()
    };
    assert_eq!(f, "=H2-D2");
    let Cell::Formula(f, _) = at(1, 10) else {
        panic!()
    };
    assert_eq!(f, "=M2*w2_1_1");
    let Cell::Formula(f, _) = at(1, 4) else {
        panic!()
    };
    assert_eq!(f, "=TANH(w1_1_1*B2+w1_1_2*C2+b1_1)");
    assert_eq!(
        b.names[0],
        ("w1_1_1".to_string(), "=Weights!$B$2".to_string())
    );
    let (b, _) = book(
        Kind::Circle,
        "x1,x2",
        "2-2-1-1",
        "tanh",
        Loss::Logistic,
        Reg::default(),
    );
    // A row, B x1, C x2, D y, E h1_1, F h1_2, G h2_1, H z, I pred, J loss, K err, L d_h1_1, …, O d_z.
    let Cell::Formula(f, _) = b.sheets[0]
        .cells
        .iter()
        .find(|x| x.0 == 1 && x.1 == 11)
        .unwrap()
        .2
        .clone()
    else {
        panic!()
    };
    assert_eq!(f, "=N2*(1-G2^2)*w2_1_1");
}

#[test]
fn network_workbooks_recalculate_to_the_engines_values() {
    let books = books();
    let mut recalc_in = Vec::new();
    for (i, b) in books.iter().enumerate() {
        b.to_xlsx(false).unwrap();
        recalc_in.push((format!("net-{i}"), b.to_xlsx(true).unwrap()));
    }
    let Some(bin) = soffice() else { return };
    let saved = recalculate(&bin, &recalc_in);
    let mut failures = Vec::new();
    for ((b, bytes), (file, _)) in books.iter().zip(&saved).zip(&recalc_in) {
        let checked = check_book(file, b, bytes, &mut failures);
        assert!(checked > 300, "{file}: only {checked} formulas checked");
        eprintln!("{file}: {checked} formula cells recalculated by LibreOffice match the engine");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
