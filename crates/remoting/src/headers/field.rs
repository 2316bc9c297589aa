//! How one header field is read from and written to its `extFields` string.

use crate::error::DecodeError;

/// A value that can sit in `extFields`. Plain types are required; `Option<T>` is optional.
pub trait ExtField: Sized {
    /// Reads the field named `name` from its raw entry (`None` when absent).
    ///
    /// # Errors
    /// `MissingField` when required and absent, `BadField` when unparsable.
    fn from_ext(name: &'static str, raw: Option<&str>) -> Result<Self, DecodeError>;

    /// The entry to write, or `None` to write nothing (Java's null).
    fn to_ext(&self) -> Option<String>;
}

/// A required scalar: its text form, Java's `toString()`.
pub(crate) trait ExtScalar: Sized {
    fn parse_ext(raw: &str) -> Option<Self>;
    fn render_ext(&self) -> String;
}

impl ExtScalar for String {
    fn parse_ext(raw: &str) -> Option<Self> {
        Some(raw.to_owned())
    }
    fn render_ext(&self) -> String {
        self.clone()
    }
}

impl ExtScalar for bool {
    /// `Boolean.parseBoolean`: never fails, only "true" (any case) is true.
    fn parse_ext(raw: &str) -> Option<Self> {
        Some(raw.eq_ignore_ascii_case("true"))
    }
    fn render_ext(&self) -> String {
        self.to_string()
    }
}

/// Integers parse like `Integer.parseInt`/`Long.parseLong`: optional sign, decimal digits, no blanks.
macro_rules! int_scalar {
    ($($t:ty),*) => {$(
        impl ExtScalar for $t {
            fn parse_ext(raw: &str) -> Option<Self> {
                raw.parse().ok()
            }
            fn render_ext(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
int_scalar!(i32, i64);

fn parse<T: ExtScalar>(name: &'static str, raw: &str) -> Result<T, DecodeError> {
    T::parse_ext(raw).ok_or_else(|| DecodeError::BadField {
        name,
        value: raw.to_owned(),
    })
}

/// Required fields.
macro_rules! required_field {
    ($($t:ty),*) => {$(
        impl ExtField for $t {
            fn from_ext(name: &'static str, raw: Option<&str>) -> Result<Self, DecodeError> {
                parse(name, raw.ok_or(DecodeError::MissingField(name))?)
            }
            fn to_ext(&self) -> Option<String> {
                Some(self.render_ext())
            }
        }

        impl ExtField for Option<$t> {
            fn from_ext(name: &'static str, raw: Option<&str>) -> Result<Self, DecodeError> {
                raw.map(|r| parse(name, r)).transpose()
            }
            fn to_ext(&self) -> Option<String> {
                self.as_ref().map(ExtScalar::render_ext)
            }
        }
    )*};
}
required_field!(String, bool, i32, i64);

/// Implements the field traits for a fieldless enum written by its Java constant name.
macro_rules! name_enum_field {
    ($t:ty { $($variant:ident = $text:literal),* $(,)? }) => {
        impl $crate::headers::field::ExtScalar for $t {
            fn parse_ext(raw: &str) -> Option<Self> {
                match raw {
                    $( $text => Some(Self::$variant), )*
                    _ => None,
                }
            }
            fn render_ext(&self) -> String {
                match self {
                    $( Self::$variant => $text, )*
                }
                .to_owned()
            }
        }

        impl $crate::headers::ExtField for $t {
            fn from_ext(
                name: &'static str,
                raw: Option<&str>,
            ) -> Result<Self, $crate::error::DecodeError> {
                let raw = raw.ok_or($crate::error::DecodeError::MissingField(name))?;
                <$t as $crate::headers::field::ExtScalar>::parse_ext(raw).ok_or_else(|| {
                    $crate::error::DecodeError::BadField { name, value: raw.to_owned() }
                })
            }
            fn to_ext(&self) -> Option<String> {
                Some(<$t as $crate::headers::field::ExtScalar>::render_ext(self))
            }
        }

        impl $crate::headers::ExtField for Option<$t> {
            fn from_ext(
                name: &'static str,
                raw: Option<&str>,
            ) -> Result<Self, $crate::error::DecodeError> {
                raw.map(|r| <$t as $crate::headers::ExtField>::from_ext(name, Some(r)))
                    .transpose()
            }
            fn to_ext(&self) -> Option<String> {
                self.as_ref().map(<$t as $crate::headers::field::ExtScalar>::render_ext)
            }
        }
    };
}
pub(crate) use name_enum_field;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_like_java() {
        assert_eq!(i32::from_ext("n", Some("+7")), Ok(7));
        assert_eq!(
            i64::from_ext("n", Some("-9223372036854775808")),
            Ok(i64::MIN)
        );
        assert!(matches!(
            i32::from_ext("n", Some(" 7")),
            Err(DecodeError::BadField { .. })
        ));
        assert!(matches!(
            i32::from_ext("n", Some("2147483648")),
            Err(DecodeError::BadField { .. })
        ));
        assert_eq!(
            i32::from_ext("n", None),
            Err(DecodeError::MissingField("n"))
        );
        assert_eq!(Option::<i32>::from_ext("n", None), Ok(None));
    }

    #[test]
    fn booleans_parse_like_java() {
        assert_eq!(bool::from_ext("b", Some("TRUE")), Ok(true));
        assert_eq!(bool::from_ext("b", Some("yes")), Ok(false));
        assert_eq!(Some(false).to_ext(), Some("false".to_owned()));
    }
}
