//! The learning-rate schedule of a run: constant (the default), or the ResNet paper's recipe, a
//! warm-up at a small rate and steps down by a constant factor at fixed fractions of training
//! (He et al. 2015, Sec. 4.2: lr 0.1, ÷10 at 32k and 48k of 64k iterations, ResNet-110 at
//! 0.01 for its first ~400 iterations).
//!
//! A run's configuration holds the schedule only when it is not constant (see
//! [`LrSchedule::is_constant`]): the configurations, and so the run ids, of every run without
//! one are what they were before schedules existed.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The factor a decay multiplies the rate by unless told otherwise: the paper's ÷10.
pub const DEFAULT_DECAY_FACTOR: f64 = 0.1;

/// The schedule of one run. The t-th update (t = 1..=steps) uses
/// - `warmup_lr` while t ≤ `warmup_steps`, then
/// - lr · decay_factor^m, with m the number of milestones already passed: t > round(f·steps)
///   for each f of `decay_at`.
///
/// So with 1000 steps and `decay_at = [0.5]`, updates 1–500 use lr and 501–1000 lr/10, as
/// PyTorch's `MultiStepLR(milestones=[500])` stepped once per iteration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LrSchedule {
    /// Fractions of the run's steps, increasing, each in (0, 1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decay_at: Vec<f64>,
    #[serde(default = "default_decay_factor")]
    pub decay_factor: f64,
    /// Updates at `warmup_lr` before the schedule proper starts (0: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub warmup_steps: usize,
    /// The warm-up's rate; 0 when there is no warm-up.
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub warmup_lr: f64,
}

fn default_decay_factor() -> f64 {
    DEFAULT_DECAY_FACTOR
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn is_zero_f64(x: &f64) -> bool {
    *x == 0.0
}

impl Default for LrSchedule {
    fn default() -> Self {
        LrSchedule { decay_at: Vec::new(), decay_factor: DEFAULT_DECAY_FACTOR, warmup_steps: 0, warmup_lr: 0.0 }
    }
}

impl LrSchedule {
    /// No decay and no warm-up: the optimizer's own rate throughout. Such a schedule is left
    /// out of serialised configurations and records.
    pub fn is_constant(&self) -> bool {
        self.decay_at.is_empty() && self.warmup_steps == 0
    }

    /// The step after which the rate falls for the milestone at fraction `at` of `steps`.
    pub fn milestone(at: f64, steps: usize) -> usize {
        (at * steps as f64).round() as usize
    }

    /// The learning rate of update `step` (1-based) of a run of `steps` updates whose base rate
    /// is `lr`. A constant schedule returns `lr` itself, bit for bit.
    pub fn lr_at(&self, lr: f64, step: usize, steps: usize) -> f64 {
        if step <= self.warmup_steps {
            return self.warmup_lr;
        }
        let passed = self.decay_at.iter().filter(|&&at| step > Self::milestone(at, steps)).count();
        if passed == 0 {
            lr
        } else {
            lr * self.decay_factor.powi(passed as i32)
        }
    }

    /// Checks the values; errors name the field under `prefix` (`lr_schedule` in a run's
    /// configuration).
    pub fn validate(&self, prefix: &str) -> Result<()> {
        let field = |name: &str| format!("{prefix}.{name}");
        validate_decay_at(&self.decay_at, &field("decay_at"))?;
        if !(self.decay_factor.is_finite() && self.decay_factor > 0.0 && self.decay_factor < 1.0) {
            return Err(Error::invalid(&field("decay_factor"), self.decay_factor, "must be in (0, 1)"));
        }
        match (self.warmup_steps, self.warmup_lr) {
            (0, lr) if lr != 0.0 => {
                Err(Error::invalid(&field("warmup_lr"), lr, "has no effect without warmup_steps; leave it out"))
            }
            (steps, lr) if steps > 0 && !(lr.is_finite() && lr > 0.0) => {
                Err(Error::invalid(&field("warmup_lr"), lr, "a warm-up needs a rate that is finite and > 0"))
            }
            _ => Ok(()),
        }
    }
}

/// `decay_at`: fractions in (0, 1), strictly increasing.
pub(crate) fn validate_decay_at(decay_at: &[f64], field: &str) -> Result<()> {
    for (index, &at) in decay_at.iter().enumerate() {
        if !(at.is_finite() && at > 0.0 && at < 1.0) {
            return Err(Error::invalid(field, at, "each decay point is a fraction of the run's steps, in (0, 1)"));
        }
        if index > 0 && at <= decay_at[index - 1] {
            return Err(Error::invalid(
                field,
                at,
                format!("must be after the point before it, {}", decay_at[index - 1]),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paper() -> LrSchedule {
        LrSchedule { decay_at: vec![0.5, 0.75], ..LrSchedule::default() }
    }

    #[test]
    fn the_rate_steps_down_after_each_milestone() {
        let schedule = paper();
        // 1000 steps: milestones after updates 500 and 750.
        let rates: Vec<f64> = [1, 500, 501, 750, 751, 1000].iter().map(|&t| schedule.lr_at(0.1, t, 1000)).collect();
        let expected = [0.1, 0.1, 0.1 * 0.1, 0.1 * 0.1, 0.1 * 0.1 * 0.1, 0.1 * 0.1 * 0.1];
        for (rate, expected) in rates.iter().zip(expected) {
            assert!((rate - expected).abs() < 1e-15, "{rates:?}");
        }
        // Milestones round to the nearest step: 0.5 of 1407 is 703.5 → 704.
        assert_eq!(LrSchedule::milestone(0.5, 1407), 704);
        assert_eq!(schedule.lr_at(0.1, 704, 1407), 0.1);
        assert!(schedule.lr_at(0.1, 705, 1407) < 0.1);
    }

    #[test]
    fn a_warm_up_comes_first_then_the_base_rate() {
        let schedule = LrSchedule { warmup_steps: 400, warmup_lr: 0.01, ..paper() };
        assert_eq!(schedule.lr_at(0.1, 1, 1000), 0.01);
        assert_eq!(schedule.lr_at(0.1, 400, 1000), 0.01);
        assert_eq!(schedule.lr_at(0.1, 401, 1000), 0.1);
        assert!((schedule.lr_at(0.1, 501, 1000) - 0.01).abs() < 1e-15);
    }

    #[test]
    fn a_constant_schedule_is_the_base_rate_exactly_and_is_not_serialised() {
        let constant = LrSchedule::default();
        assert!(constant.is_constant());
        for lr in [1e-3, 0.1, 0.3, 7.7e-4] {
            assert_eq!(constant.lr_at(lr, 1, 10).to_bits(), lr.to_bits());
            assert_eq!(constant.lr_at(lr, 10, 10).to_bits(), lr.to_bits());
        }
        assert_eq!(serde_json::to_string(&constant).unwrap(), r#"{"decay_factor":0.1}"#);
        let json = serde_json::to_string(&LrSchedule { warmup_steps: 4, warmup_lr: 0.01, ..paper() }).unwrap();
        assert_eq!(json, r#"{"decay_at":[0.5,0.75],"decay_factor":0.1,"warmup_steps":4,"warmup_lr":0.01}"#);
        assert_eq!(serde_json::from_str::<LrSchedule>(&json).unwrap().warmup_steps, 4);
    }

    #[test]
    fn bad_values_name_their_field() {
        let cases = [
            (LrSchedule { decay_at: vec![0.5, 1.0], ..paper() }, "`s.decay_at`", "1"),
            (LrSchedule { decay_at: vec![0.0], ..paper() }, "`s.decay_at`", "0"),
            (LrSchedule { decay_at: vec![0.75, 0.5], ..paper() }, "`s.decay_at`", "0.5"),
            (LrSchedule { decay_at: vec![f64::NAN], ..paper() }, "`s.decay_at`", "NaN"),
            (LrSchedule { decay_factor: 0.0, ..paper() }, "`s.decay_factor`", "0"),
            (LrSchedule { decay_factor: 2.0, ..paper() }, "`s.decay_factor`", "2"),
            (LrSchedule { warmup_steps: 10, ..paper() }, "`s.warmup_lr`", "0"),
            (LrSchedule { warmup_lr: 0.01, ..paper() }, "`s.warmup_lr`", "0.01"),
            (LrSchedule { warmup_steps: 10, warmup_lr: -1.0, ..paper() }, "`s.warmup_lr`", "-1"),
        ];
        for (schedule, field, value) in cases {
            let message = schedule.validate("s").unwrap_err().to_string();
            assert!(message.contains(field) && message.contains(value), "{message}");
        }
        assert!(paper().validate("s").is_ok());
        assert!(LrSchedule::default().validate("s").is_ok());
    }
}
