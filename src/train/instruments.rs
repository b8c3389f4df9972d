//! The instruments (Cockpit-style): at every checkpoint, how well the net fits a fixed part of
//! the training and the test set, and for each hidden weight layer the gradient norm of the
//! step, the relative size of its update and how far it has moved from initialisation. They
//! show *when* and *where* a deep plain net stops learning, which the probes at initialisation
//! and at the end cannot. Reading the net changes nothing it trains on: an instrumented run
//! follows the same trajectory as the run without them.

use crate::data::Dataset;
use crate::model::{Network, Real};
use crate::record::InstrumentPoint;
use crate::train::eval::evaluate_first;
use ndarray::{Array1, Zip};

/// Parameter copies the instruments compare against, sized once per run.
pub(crate) struct Instruments<T> {
    samples: usize,
    initial: Array1<T>,
    before_update: Array1<T>,
    difference: Array1<T>,
    initial_norms: Vec<f64>,
    pub(crate) points: Vec<InstrumentPoint>,
}

impl<T: Real> Instruments<T> {
    /// Remembers the initial network and records step 0 (fit only: no step, no update yet).
    pub(crate) fn start<N: Network<T>>(net: &mut N, samples: usize, train: &Dataset, test: &Dataset) -> Self {
        let initial = net.params().clone();
        let initial_norms = net.weight_norms_of(&initial);
        let layers = initial_norms.len();
        let mut instruments = Instruments {
            samples,
            before_update: initial.clone(),
            difference: Array1::zeros(initial.len()),
            initial,
            initial_norms,
            points: Vec::new(),
        };
        let mut point = instruments.fit(net, 0, train, test);
        point.distance_from_init = vec![0.0; layers];
        instruments.points.push(point);
        instruments
    }

    /// Called before the update of a checkpoint step, so that its size can be measured.
    pub(crate) fn before_step<N: Network<T>>(&mut self, net: &N) {
        self.before_update.assign(net.params());
    }

    /// Records checkpoint `step`, right after its update.
    pub(crate) fn checkpoint<N: Network<T>>(&mut self, net: &mut N, step: usize, train: &Dataset, test: &Dataset) {
        let weight_grad_norms = net.weight_grad_norms();
        let weight_norms = net.weight_norms_of(net.params());
        let update_ratios = ratios(&self.norms_of_difference(net, Reference::BeforeUpdate), &weight_norms);
        let distance_from_init = ratios(&self.norms_of_difference(net, Reference::Initial), &self.initial_norms);
        let mut point = self.fit(net, step, train, test);
        point.weight_grad_norms = weight_grad_norms;
        point.update_ratios = update_ratios;
        point.distance_from_init = distance_from_init;
        self.points.push(point);
    }

    /// Per-layer norms of θ − reference.
    fn norms_of_difference<N: Network<T>>(&mut self, net: &N, reference: Reference) -> Vec<f64> {
        let reference = match reference {
            Reference::Initial => &self.initial,
            Reference::BeforeUpdate => &self.before_update,
        };
        Zip::from(&mut self.difference).and(net.params()).and(reference).for_each(|d, &now, &then| *d = now - then);
        net.weight_norms_of(&self.difference)
    }

    /// Loss and error on the first `samples` training and test samples.
    fn fit<N: Network<T>>(&self, net: &mut N, step: usize, train: &Dataset, test: &Dataset) -> InstrumentPoint {
        let on_train = evaluate_first(net, train, self.samples);
        let on_test = evaluate_first(net, test, self.samples);
        let finite = |loss: f64| Some(loss).filter(|l| l.is_finite());
        InstrumentPoint {
            step,
            train_loss: finite(on_train.loss),
            train_error: on_train.accuracy.map(|a| 1.0 - a),
            test_loss: finite(on_test.loss),
            test_error: on_test.accuracy.map(|a| 1.0 - a),
            weight_grad_norms: Vec::new(),
            update_ratios: Vec::new(),
            distance_from_init: Vec::new(),
        }
    }
}

enum Reference {
    Initial,
    BeforeUpdate,
}

/// a_l ÷ b_l, `None`-free: a zero denominator (a layer initialised to zero) gives 0 for a zero
/// numerator and infinity otherwise, which JSON cannot hold, so it is written as f64::MAX.
fn ratios(numerators: &[f64], denominators: &[f64]) -> Vec<f64> {
    numerators
        .iter()
        .zip(denominators)
        .map(|(&a, &b)| {
            if b > 0.0 {
                a / b
            } else if a == 0.0 {
                0.0
            } else {
                f64::MAX
            }
        })
        .collect()
}
