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
        round_trip(Arch::ALL, Arch::as_str);
        round_trip(Activation::ALL, Activation::as_str);
        round_trip(Norm::ALL, Norm::as_str);
        round_trip(ResidualScale::ALL, ResidualScale::as_str);
        round_trip(Init::ALL, Init::as_str);
        round_trip(OptimizerKind::ALL, OptimizerKind::as_str);
        round_trip(DatasetKind::ALL, DatasetKind::as_str);
        assert_eq!(Arch::ALL.len(), 2);
        assert_eq!(Activation::ALL.len(), 4);
    }
}
