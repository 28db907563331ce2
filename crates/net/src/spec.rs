//! A network written in shorthand (`2-8-8-1`, an activation per layer) and expanded into
//! named cells a learner can read, print, edit and paste back as a model.
//!
//! Names: `h2_3` is layer 2's neuron 3; `w2_3_1` its weight on input 1 of the layer
//! before, `b2_3` its bias; the output layer's weighted sum is `z`, and `pred` its
//! activation. With the softmax loss the output layer has one score per class, `z_1` …
//! `z_K` (class 0 … K−1), and `pred` is the class of the largest score.

use crate::NetError;

/// The most hidden layers a network may have.
pub const MAX_LAYERS: usize = 8;
/// The most neurons in one layer.
pub const MAX_WIDTH: usize = 256;
/// The most weights and biases in all.
pub const MAX_PARAMS: usize = 20_000;
/// The most classes (outputs) the softmax loss takes.
pub const MAX_CLASSES: usize = 10;

/// A neuron's activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// tanh u.
    Tanh,
    /// max(u, 0).
    Relu,
    /// 1/(1+e^−u).
    Sigmoid,
    /// u itself.
    Linear,
    /// max(u, 0.01·u).
    LeakyRelu,
    /// ln(1+e^u).
    Softplus,
}

/// Every activation with its name.
pub const ACTIVATIONS: &[(Activation, &str)] = &[
    (Activation::Tanh, "tanh"),
    (Activation::Relu, "relu"),
    (Activation::Sigmoid, "sigmoid"),
    (Activation::Linear, "linear"),
    (Activation::LeakyRelu, "leaky_relu"),
    (Activation::Softplus, "softplus"),
];

impl Activation {
    /// The activation of this name.
    ///
    /// # Errors
    ///
    /// [`NetError::Setting`] listing the activations there are.
    pub fn from_name(name: &str) -> Result<Activation, NetError> {
        let key = name.trim().to_ascii_lowercase().replace('-', "_");
        ACTIVATIONS
            .iter()
            .find(|(_, n)| *n == key)
            .map(|(a, _)| *a)
            .ok_or_else(|| {
                NetError::setting(
                    "activation",
                    format!(
                        "unknown activation {name:?}; the activations are {}",
                        ACTIVATIONS
                            .iter()
                            .map(|a| a.1)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        ACTIVATIONS
            .iter()
            .find(|a| a.0 == self)
            .map_or("?", |a| a.1)
    }

    /// The formula applying it to `u` (a formula in gradsheet's language).
    pub fn apply(self, u: &str) -> String {
        match self {
            Activation::Tanh => format!("TANH({u})"),
            Activation::Relu => format!("RELU({u})"),
            Activation::Sigmoid => format!("SIGMOID({u})"),
            Activation::Linear => u.to_string(),
            Activation::LeakyRelu => format!("MAX({u},0.01*({u}))"),
            Activation::Softplus => format!("SOFTPLUS({u})"),
        }
    }
}

/// The loss a network is trained on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// (pred − y)², for regression or 0/1 targets.
    Squared,
    /// Binary cross-entropy of `pred = SIGMOID(z)` against y ∈ {0, 1}, computed from the
    /// logit z as ln(1+e^z) − z·y, which never takes the log of 0.
    Logistic,
    /// Softmax cross-entropy of the scores `z_1` … `z_K` against the class y ∈ {0, …,
    /// K−1}: ln Σ e^(z_k − m) + m − z_(y+1) with m the largest score, which never
    /// overflows nor takes the log of 0.
    Softmax,
}

impl Loss {
    /// The loss of this name (`squared`/`mse`, `logistic`/`bce`).
    ///
    /// # Errors
    ///
    /// [`NetError::Setting`] naming the losses there are.
    pub fn from_name(name: &str) -> Result<Loss, NetError> {
        match name.trim().to_ascii_lowercase().as_str() {
            "squared" | "mse" => Ok(Loss::Squared),
            "logistic" | "bce" | "log" => Ok(Loss::Logistic),
            "softmax" | "cross_entropy" | "softmax_cross_entropy" | "ce" => Ok(Loss::Softmax),
            _ => Err(NetError::setting(
                "loss",
                format!("unknown loss {name:?}; the losses are squared, logistic and softmax"),
            )),
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Loss::Squared => "squared",
            Loss::Logistic => "logistic",
            Loss::Softmax => "softmax",
        }
    }
}

/// A network in shorthand: its inputs, hidden layers and activations.
#[derive(Clone, Debug, PartialEq)]
pub struct NetSpec {
    /// The input columns (the features), in order.
    pub inputs: Vec<String>,
    /// The neurons of each hidden layer.
    pub hidden: Vec<usize>,
    /// Each hidden layer's activation.
    pub activations: Vec<Activation>,
    /// The output neuron's activation.
    pub output: Activation,
    /// The outputs: 1, or one score per class for the softmax loss.
    pub outputs: usize,
}

impl NetSpec {
    /// Reads `2-8-8-1` (inputs, hidden layers, one output) and the activations: one name
    /// for every hidden layer, or one per hidden layer, or one per layer with the output's
    /// last (`relu,relu,sigmoid`). Without an output activation it is `sigmoid` for the
    /// logistic loss and `linear` otherwise.
    ///
    /// # Errors
    ///
    /// [`NetError::Setting`] naming the fault: a layer of 0 neurons, too many, an input
    /// count that is not the number of features, an output count other than 1 (2 to
    /// [`MAX_CLASSES`] for the softmax loss), an unknown activation or the wrong number of
    /// them, a logistic loss on an output that is not a sigmoid, a softmax loss on an
    /// output that is not linear.
    ///
    /// # Examples
    ///
    /// ```
    /// use gradsheet_net::spec::{Loss, NetSpec};
    /// let inputs = vec!["x1".to_string(), "x2".to_string()];
    /// let n = NetSpec::parse("2-3-1", "tanh", Loss::Logistic, &inputs).unwrap();
    /// assert_eq!(n.cells()[0], ("h1_1".to_string(), "TANH(w1_1_1*x1+w1_1_2*x2+b1_1)".to_string()));
    /// assert_eq!(n.cells()[4], ("pred".to_string(), "SIGMOID(z)".to_string()));
    /// ```
    pub fn parse(
        layers: &str,
        activation: &str,
        loss: Loss,
        inputs: &[String],
    ) -> Result<NetSpec, NetError> {
        let mut sizes = Vec::new();
        for (i, part) in layers.split('-').enumerate() {
            let part = part.trim();
            let n: usize = part.parse().map_err(|_| {
                NetError::setting(
                    "net",
                    format!(
                        "layer {} of {layers:?} is {part:?}, not a number of neurons (write e.g. 2-8-8-1)",
                        i + 1
                    ),
                )
            })?;
            if n == 0 {
                return Err(NetError::setting(
                    "net",
                    format!("layer {} of {layers:?} has 0 neurons", i + 1),
                ));
            }
            if n > MAX_WIDTH {
                return Err(NetError::setting(
                    "net",
                    format!(
                        "layer {} of {layers:?} has {n} neurons; at most {MAX_WIDTH} per layer",
                        i + 1
                    ),
                ));
            }
            sizes.push(n);
        }
        if sizes.len() < 2 {
            return Err(NetError::setting(
                "net",
                format!("{layers:?} needs at least an input and an output layer, as 2-1 or 2-8-1"),
            ));
        }
        if sizes[0] != inputs.len() {
            return Err(NetError::setting(
                "net",
                format!(
                    "{layers:?} starts with {} inputs, but there are {} features ({})",
                    sizes[0],
                    inputs.len(),
                    inputs.join(", ")
                ),
            ));
        }
        let outputs = sizes[sizes.len() - 1];
        match loss {
            Loss::Softmax if !(2..=MAX_CLASSES).contains(&outputs) => {
                return Err(NetError::setting(
                    "net",
                    format!(
                        "{layers:?} ends with {outputs} output{}; the softmax loss needs one score \
                         per class, 2 to {MAX_CLASSES} (as 2-8-3 for three classes)",
                        if outputs == 1 { "" } else { "s" }
                    ),
                ))
            }
            Loss::Squared | Loss::Logistic if outputs != 1 => {
                return Err(NetError::setting(
                    "net",
                    format!(
                        "{layers:?} ends with {outputs} outputs; the {} loss reads one output, \
                         pred (several outputs, one per class, are for --loss softmax)",
                        loss.name()
                    ),
                ))
            }
            _ => {}
        }
        let hidden: Vec<usize> = sizes[1..sizes.len() - 1].to_vec();
        if hidden.len() > MAX_LAYERS {
            return Err(NetError::setting(
                "net",
                format!(
                    "{layers:?} has {} hidden layers; at most {MAX_LAYERS}",
                    hidden.len()
                ),
            ));
        }
        let params: usize = sizes.windows(2).map(|w| (w[0] + 1) * w[1]).sum();
        if params > MAX_PARAMS {
            return Err(NetError::setting(
                "net",
                format!("{layers:?} has {params} weights and biases; at most {MAX_PARAMS}"),
            ));
        }
        let acts = activation
            .split(',')
            .map(Activation::from_name)
            .collect::<Result<Vec<_>, _>>()?;
        let default_out = match loss {
            Loss::Logistic => Activation::Sigmoid,
            Loss::Squared | Loss::Softmax => Activation::Linear,
        };
        let (activations, output) = match acts.len() {
            1 => (vec![acts[0]; hidden.len()], default_out),
            k if k == hidden.len() => (acts, default_out),
            k if k == hidden.len() + 1 => (acts[..k - 1].to_vec(), acts[k - 1]),
            k => {
                return Err(NetError::setting(
                    "activation",
                    format!(
                        "{k} activations for {} hidden layers: give one for all, one per hidden layer, or one per layer with the output's last",
                        hidden.len()
                    ),
                ))
            }
        };
        if loss == Loss::Logistic && output != Activation::Sigmoid {
            return Err(NetError::setting(
                "activation",
                format!(
                    "the logistic loss reads its output as a probability: the output activation must be sigmoid, not {}",
                    output.name()
                ),
            ));
        }
        if loss == Loss::Softmax && output != Activation::Linear {
            return Err(NetError::setting(
                "activation",
                format!(
                    "the softmax loss turns the output scores into probabilities itself: the output activation must be linear, not {}",
                    output.name()
                ),
            ));
        }
        Ok(NetSpec {
            inputs: inputs.to_vec(),
            hidden,
            activations,
            output,
            outputs,
        })
    }

    /// The network as named cells `(name, formula)`, each layer after the one it reads,
    /// `z` and `pred` last.
    pub fn cells(&self) -> Vec<(String, String)> {
        let mut cells = Vec::new();
        let mut prev: Vec<String> = self.inputs.clone();
        let sum = |layer: usize, neuron: usize, prev: &[String]| {
            let mut s = String::new();
            for (k, p) in prev.iter().enumerate() {
                s.push_str(&format!("w{layer}_{neuron}_{}*{p}+", k + 1));
            }
            s.push_str(&format!("b{layer}_{neuron}"));
            s
        };
        for (l, (&width, act)) in self.hidden.iter().zip(&self.activations).enumerate() {
            let layer = l + 1;
            let mut names = Vec::with_capacity(width);
            for j in 1..=width {
                let name = format!("h{layer}_{j}");
                cells.push((name.clone(), act.apply(&sum(layer, j, &prev))));
                names.push(name);
            }
            prev = names;
        }
        let out_layer = self.hidden.len() + 1;
        if self.outputs == 1 {
            cells.push(("z".into(), sum(out_layer, 1, &prev)));
            cells.push(("pred".into(), self.output.apply("z")));
        } else {
            for k in 1..=self.outputs {
                cells.push((format!("z_{k}"), sum(out_layer, k, &prev)));
            }
            cells.push(("pred".into(), argmax_class(self.outputs)));
        }
        cells
    }

    /// The cells as a model text, one definition a line: what `gradsheet net --print`
    /// prints and what [`crate::cells::parse_cells`] reads back.
    pub fn text(&self) -> String {
        self.cells()
            .iter()
            .map(|(n, f)| format!("{n} = {f}\n"))
            .collect()
    }
}

/// The class (0 … k−1) of the largest of the scores `z_1` … `z_k`, the first on a tie, as
/// a formula of comparisons (each 1 or 0, as in a spreadsheet): class c counts when
/// `z_(c+1)` beats every score before it and equals or beats every score after it.
///
/// ```
/// assert_eq!(gradsheet_net::spec::argmax_class(3), "1*(z_2>z_1)*(z_2>=z_3)+2*(z_3>z_1)*(z_3>z_2)");
/// ```
pub fn argmax_class(k: usize) -> String {
    let mut terms = Vec::new();
    for c in 2..=k {
        let mut t = format!("{}", c - 1);
        for j in 1..=k {
            if j < c {
                t.push_str(&format!("*(z_{c}>z_{j})"));
            } else if j > c {
                t.push_str(&format!("*(z_{c}>=z_{j})"));
            }
        }
        terms.push(t);
    }
    terms.join("+")
}
