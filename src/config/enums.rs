//! The configuration's names: each enum reads and writes exactly the lower-case word used in
//! TOML files, on the command line and in results records, so one table of names serves all three.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(Error::invalid(stringify!($name), s,
                        format!("expected one of: {}", [$($text),+].join(", ")))),
                }
            }
        }
    };
}

named_enum!(
    /// The architecture family: the MLPs of the network definitions (`model::mlp`), or the
    /// ResNet paper's CIFAR conv nets (`model::conv`). An absent `family` means `mlp`, in
    /// experiment files, run configurations and records alike: it is written only for `conv`,
    /// so everything recorded before conv nets existed reads (and hashes) as it did.
    Family { Mlp => "mlp", Conv => "conv" }
);
named_enum!(
    /// Plain stack of layers, or pre-activation residual blocks.
    Arch { Plain => "plain", Residual => "residual" }
);
named_enum!(
    /// The nonlinearity φ. `gelu` is the exact form x·Φ(x) (erf), as in PyTorch's default.
    Activation { Relu => "relu", Tanh => "tanh", Gelu => "gelu", Identity => "identity" }
);
named_enum!(
    /// Normalisation N applied before each activation.
    Norm { None => "none", Layer => "layer", Batch => "batch" }
);
named_enum!(
    /// α in h_k = h_{k−1} + α_k·v: 1, 1/√K, or a learnable scalar initialised to 0.
    ResidualScale { One => "one", InvSqrtBlocks => "inv_sqrt_blocks", Rezero => "rezero" }
);
named_enum!(
    /// Weight initialisation: He N(0, 2/fan_in) or Xavier N(0, 2/(fan_in+fan_out)).
    Init { He => "he", Xavier => "xavier" }
);
named_enum!(
    OptimizerKind { Sgd => "sgd", Adam => "adam" }
);
named_enum!(
    /// The data sets; none is downloaded at run time. `fashion_mnist` reads the files of the
    /// Debian package `dataset-fashion-mnist` (or a directory given in the options); the others
    /// are built in.
    DatasetKind { Digits => "digits", Spirals => "spirals", Teacher => "teacher", FashionMnist => "fashion_mnist" }
);

impl ResidualScale {
    /// α at initialisation in a net of `blocks` residual blocks (ReZero's learnable α starts at 0).
    pub fn initial_alpha(self, blocks: usize) -> f64 {
        match self {
            ResidualScale::One => 1.0,
            ResidualScale::InvSqrtBlocks => 1.0 / (blocks.max(1) as f64).sqrt(),
            ResidualScale::Rezero => 0.0,
        }
    }
}

// `named_enum!` writes the derives of every enum above, so the default is spelled out here.
#[allow(clippy::derivable_impls)]
impl Default for Family {
    fn default() -> Self {
        Family::Mlp
    }
}

impl Family {
    /// For `skip_serializing_if`: `mlp` is never written.
    pub fn is_mlp(&self) -> bool {
        *self == Family::Mlp
    }
}

impl DatasetKind {
    /// Whether the set's samples are images (with a (C, H, W) shape a conv net can read):
    /// digits (1×8×8) and Fashion-MNIST (1×28×28).
    pub fn has_images(self) -> bool {
        matches!(self, DatasetKind::Digits | DatasetKind::FashionMnist)
    }

    /// Classes of a classification set whose count is fixed by the set itself; `None` where it
    /// is an option (spirals' arms) or the task is regression (teacher).
    pub fn fixed_classes(self) -> Option<usize> {
        match self {
            DatasetKind::Digits | DatasetKind::FashionMnist => Some(10),
            DatasetKind::Spirals | DatasetKind::Teacher => None,
        }
    }

    /// Cross-entropy of a uniform guess, ln(classes): the loss of a net that learned nothing.
    pub fn chance_loss(self) -> Option<f64> {
        self.fixed_classes().map(|classes| (classes as f64).ln())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_str_and_serde() {
        fn round_trip<T>(all: &[T], as_str: fn(T) -> &'static str)
        where
            T: Copy
                + PartialEq
                + std::fmt::Debug
                + std::str::FromStr<Err = Error>
                + Serialize
                + for<'a> Deserialize<'a>,
        {
            for &value in all {
                let name = as_str(value);
                assert_eq!(name.parse::<T>().unwrap(), value);
                assert_eq!(serde_json::to_string(&value).unwrap(), format!("\"{name}\""));
                assert_eq!(serde_json::from_str::<T>(&format!("\"{name}\"")).unwrap(), value);
            }
        }
        round_trip(Family::ALL, Family::as_str);
        round_trip(Arch::ALL, Arch::as_str);
        round_trip(Activation::ALL, Activation::as_str);
        round_trip(Norm::ALL, Norm::as_str);
        round_trip(ResidualScale::ALL, ResidualScale::as_str);
        round_trip(Init::ALL, Init::as_str);
        round_trip(OptimizerKind::ALL, OptimizerKind::as_str);
        round_trip(DatasetKind::ALL, DatasetKind::as_str);
        assert_eq!(Arch::ALL.len(), 2);
        assert_eq!(Activation::ALL.len(), 4);
        assert_eq!(Family::default(), Family::Mlp);
    }
}
