//! Typed custom headers: the per-request fields that travel as strings in `extFields`.
//!
//! Java turns every non-static field of the header class into an entry named like the field, with
//! `toString()` of the value (decimal integers, `true`/`false`, enum constant names); null fields are
//! not sent. On the way in, integers are parsed strictly and booleans as `Boolean.parseBoolean`
//! (only "true", in any case, is true). Each header here declares its fields once, with the wire key
//! and whether it is required (a plain type), optional (`Option`), or defaulted (`[default: …]`).

mod field;

pub mod admin;
pub mod heartbeat;
pub mod kv;
pub mod offset;
pub mod pop;
pub mod pull;
pub mod query;
pub mod route;
pub mod rpc;
pub mod send;
pub mod transaction;

pub use field::ExtField;

use crate::command::ExtFields;
use crate::error::DecodeError;

/// A typed view of `extFields`.
pub trait CustomHeader: Sized {
    /// Writes this header's non-null fields into `out`, overwriting equal keys.
    fn write_ext_fields(&self, out: &mut ExtFields);

    /// Reads the header; entries it does not know are ignored.
    ///
    /// # Errors
    /// `MissingField` for an absent required field, `BadField` for an unparsable value.
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, DecodeError>;

    /// This header's fields as a fresh map.
    fn to_ext_fields(&self) -> ExtFields {
        let mut out = ExtFields::new();
        self.write_ext_fields(&mut out);
        out
    }
}

/// Reads one field by its wire key.
pub(crate) fn get<T: ExtField>(fields: &ExtFields, key: &'static str) -> Result<T, DecodeError> {
    T::from_ext(key, fields.get(key).map(String::as_str))
}

/// Writes one field under its wire key, unless it is null.
pub(crate) fn put<T: ExtField>(out: &mut ExtFields, key: &str, value: &T) {
    if let Some(v) = value.to_ext() {
        out.insert(key.to_owned(), v);
    }
}

/// Declares a header struct and its `extFields` mapping.
///
/// ```text
/// ext_header! {
///     /// Docs.
///     pub struct Name {
///         /// Required: absent is `MissingField`.
///         pub topic: String = "topic",
///         /// Optional.
///         pub order: Option<bool> = "order",
///         /// Absent reads as the default (Java primitives with an initialiser).
///         pub committed: bool = "committed" [default: true],
///     }
/// }
/// ```
macro_rules! ext_header {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                pub $field:ident : $ty:ty = $key:literal $([default: $default:expr])?,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl $crate::headers::CustomHeader for $name {
            fn write_ext_fields(&self, out: &mut $crate::command::ExtFields) {
                $( $crate::headers::put(out, $key, &self.$field); )*
            }

            #[allow(unused_variables)] // headers without fields
            fn from_ext_fields(
                fields: &$crate::command::ExtFields,
            ) -> Result<Self, $crate::error::DecodeError> {
                Ok(Self {
                    $( $field: ext_header!(@get fields, $key, $ty $(, $default)?), )*
                })
            }
        }

        /// Any value of every field, for round-trip property tests.
        #[cfg(test)]
        impl proptest::arbitrary::Arbitrary for $name {
            type Parameters = ();
            type Strategy = proptest::strategy::BoxedStrategy<Self>;

            fn arbitrary_with((): ()) -> Self::Strategy {
                #[allow(unused_imports)] // headers without fields
                use proptest::strategy::Strategy as _;
                // Fold one field at a time: tuples of strategies stop at 12 elements.
                let s = proptest::strategy::Just(Self::default()).boxed();
                $(
                    let s = (s, proptest::arbitrary::any::<$ty>())
                        .prop_map(|(mut h, v)| {
                            h.$field = v;
                            h
                        })
                        .boxed();
                )*
                s
            }
        }
    };
    (@get $fields:ident, $key:literal, $ty:ty) => {
        $crate::headers::get::<$ty>($fields, $key)?
    };
    (@get $fields:ident, $key:literal, $ty:ty, $default:expr) => {
        match $fields.get($key) {
            None => $default,
            Some(raw) => <$ty as $crate::headers::ExtField>::from_ext($key, Some(raw))?,
        }
    };
}
pub(crate) use ext_header;

#[cfg(test)]
pub(crate) mod testing {
    //! Round-trip helpers shared by the header tests.

    use super::CustomHeader;

    /// Asserts `from(to(h)) == h`.
    pub(crate) fn assert_round_trip<H: CustomHeader + PartialEq + std::fmt::Debug>(h: &H) {
        let map = h.to_ext_fields();
        let back = H::from_ext_fields(&map).expect("a header we wrote must decode");
        assert_eq!(&back, h, "map was {map:?}");
    }

    /// One round-trip property test per listed header type.
    macro_rules! round_trip_tests {
        ($($test:ident: $ty:ty),* $(,)?) => {
            proptest::proptest! {
                $(
                    #[test]
                    fn $test(h in proptest::arbitrary::any::<$ty>()) {
                        $crate::headers::testing::assert_round_trip(&h);
                    }
                )*
            }
        };
    }
    pub(crate) use round_trip_tests;
}
