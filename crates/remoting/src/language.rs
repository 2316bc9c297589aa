//! The caller's implementation language carried in every command header.
//!
//! JSON headers carry the Java constant name, ROCKETMQ headers the code byte. Java maps an unknown
//! byte or name to `null` without failing, so decoding is total here as well.

use std::fmt;

/// `LanguageCode` of the Java source, plus [`LanguageCode::Unknown`] for bytes Java does not define.
///
/// The default is `Java`: it is what Java peers expect (older Java clients map newer names such as
/// `RUST` to `null`, which some code paths dereference).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LanguageCode {
    #[default]
    Java,
    Cpp,
    Dotnet,
    Python,
    Delphi,
    Erlang,
    Ruby,
    /// Java's own `OTHER` constant (code 7), not the fallback for unknown codes.
    Other,
    Http,
    Go,
    Php,
    Oms,
    Rust,
    NodeJs,
    /// A code byte no Java release defines; kept so it survives a decode/encode round trip.
    Unknown(u8),
}

/// Known languages in code order: the index is the wire byte.
const KNOWN: [(LanguageCode, &str); 14] = [
    (LanguageCode::Java, "JAVA"),
    (LanguageCode::Cpp, "CPP"),
    (LanguageCode::Dotnet, "DOTNET"),
    (LanguageCode::Python, "PYTHON"),
    (LanguageCode::Delphi, "DELPHI"),
    (LanguageCode::Erlang, "ERLANG"),
    (LanguageCode::Ruby, "RUBY"),
    (LanguageCode::Other, "OTHER"),
    (LanguageCode::Http, "HTTP"),
    (LanguageCode::Go, "GO"),
    (LanguageCode::Php, "PHP"),
    (LanguageCode::Oms, "OMS"),
    (LanguageCode::Rust, "RUST"),
    (LanguageCode::NodeJs, "NODE_JS"),
];

impl LanguageCode {
    /// The byte used by the ROCKETMQ header encoding.
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            Self::Unknown(b) => b,
            known => KNOWN
                .iter()
                .position(|(l, _)| *l == known)
                .and_then(|i| u8::try_from(i).ok())
                .unwrap_or(u8::MAX),
        }
    }

    /// The Java constant name used by the JSON header encoding; `None` for [`LanguageCode::Unknown`].
    #[must_use]
    pub fn name(self) -> Option<&'static str> {
        KNOWN.iter().find(|(l, _)| *l == self).map(|(_, n)| *n)
    }

    /// Looks a Java constant name up (exact, as Java's `Enum.valueOf`).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        KNOWN.iter().find(|(_, n)| *n == name).map(|(l, _)| *l)
    }
}

impl From<u8> for LanguageCode {
    fn from(code: u8) -> Self {
        KNOWN
            .get(usize::from(code))
            .map_or(Self::Unknown(code), |(l, _)| *l)
    }
}

impl From<LanguageCode> for u8 {
    fn from(l: LanguageCode) -> Self {
        l.code()
    }
}

impl fmt::Display for LanguageCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "UNKNOWN({})", self.code()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_match_the_java_enum() {
        assert_eq!(LanguageCode::Java.code(), 0);
        assert_eq!(LanguageCode::Other.code(), 7);
        assert_eq!(LanguageCode::Go.code(), 9);
        assert_eq!(LanguageCode::Rust.code(), 12);
        assert_eq!(LanguageCode::NodeJs.code(), 13);
        assert_eq!(
            LanguageCode::from_name("NODE_JS"),
            Some(LanguageCode::NodeJs)
        );
        assert_eq!(LanguageCode::from_name("java"), None);
    }

    #[test]
    fn every_byte_round_trips() {
        for b in 0..=u8::MAX {
            assert_eq!(LanguageCode::from(b).code(), b);
        }
        assert_eq!(LanguageCode::from(14), LanguageCode::Unknown(14));
    }
}
