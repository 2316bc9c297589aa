//! The v5 gRPC `authorization` metadata:
//! `MQv2-HMAC-SHA1 Credential=<ak>[/...], SignedHeaders=x-mq-date-time, Signature=<hex>`, where
//! the signature is HMAC-SHA1 over the `x-mq-date-time` value (`yyyyMMddTHHmmssZ`, UTC) keyed with
//! the secret key, in hex. Apache's proxy parses it the same way; the freshness window on
//! `x-mq-date-time` is ferromq's own, so that a captured header cannot be replayed forever.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use crate::error::AuthError;
use crate::user::User;

pub const AUTHORIZATION: &str = "authorization";
pub const DATE_TIME: &str = "x-mq-date-time";
const ALGORITHM: &str = "MQv2-HMAC-SHA1";

/// Longest `authorization` value looked at: real ones are about 150 bytes.
const MAX_LEN: usize = 4096;

/// A parsed `authorization` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcAuthorization {
    pub access_key: String,
    signature: Vec<u8>,
}

fn bad(reason: impl Into<String>) -> AuthError {
    AuthError::BadAuthorization {
        reason: reason.into(),
    }
}

impl GrpcAuthorization {
    /// # Errors
    /// `BadAuthorization` naming what is wrong.
    pub fn parse(value: &str) -> Result<Self, AuthError> {
        if value.len() > MAX_LEN {
            return Err(bad("authorization header is too long"));
        }
        let (algorithm, rest) = value
            .trim()
            .split_once(' ')
            .ok_or_else(|| bad("authorization header is incorrect"))?;
        if algorithm != ALGORITHM {
            return Err(bad(format!("unsupported algorithm {algorithm:?}")));
        }
        let mut access_key = None;
        let mut signature = None;
        for item in rest.split(',') {
            let (key, value) = item
                .trim()
                .split_once('=')
                .ok_or_else(|| bad(format!("authorization item {:?} has no value", item.trim())))?;
            match key {
                "Credential" => {
                    let ak = value.split('/').next().unwrap_or_default();
                    access_key = Some(ak.to_owned());
                }
                "Signature" => signature = Some(decode_hex(value)?),
                _ => {}
            }
        }
        let access_key = access_key
            .filter(|a| !a.is_empty())
            .ok_or_else(|| bad("authorization header has no Credential"))?;
        let signature = signature.ok_or_else(|| bad("authorization header has no Signature"))?;
        Ok(Self {
            access_key,
            signature,
        })
    }

    /// Checks the signature over `date_time` with `user`'s password (constant-time comparison).
    ///
    /// # Errors
    /// `BadSignature`.
    pub fn verify(&self, date_time: &str, user: &User) -> Result<(), AuthError> {
        let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(user.password.as_bytes())
            .expect("HMAC accepts keys of any length");
        mac.update(date_time.as_bytes());
        mac.verify_slice(&self.signature)
            .map_err(|_| AuthError::BadSignature {
                user: user.name.clone(),
            })
    }
}

fn decode_hex(s: &str) -> Result<Vec<u8>, AuthError> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) || s.is_empty() {
        return Err(bad("signature is not hex"));
    }
    s.as_bytes()
        .chunks(2)
        .map(|pair| {
            let digit = |c: u8| (c as char).to_digit(16);
            match (digit(pair[0]), digit(pair[1])) {
                // Two hex digits make one byte: at most 255.
                (Some(h), Some(l)) => Ok(u8::try_from(h * 16 + l).unwrap_or(u8::MAX)),
                _ => Err(bad("signature is not hex")),
            }
        })
        .collect()
}

/// Seconds since the Unix epoch of an `x-mq-date-time` value (`20240102T030405Z`).
///
/// # Errors
/// `BadAuthorization` for any other form.
pub fn parse_date_time(value: &str) -> Result<i64, AuthError> {
    let b = value.as_bytes();
    let wrong = || bad(format!("{DATE_TIME} {value:?} is not yyyyMMddTHHmmssZ"));
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return Err(wrong());
    }
    let num = |range: std::ops::Range<usize>| -> Result<i64, AuthError> {
        let part = &value[range];
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().map_err(|_| wrong())
        } else {
            Err(wrong())
        }
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, s) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return Err(wrong());
    }
    Ok(days_from_civil(y, mo, d) * 86_400 + h * 3_600 + mi * 60 + s)
}

/// The `x-mq-date-time` value (`yyyyMMddTHHmmssZ`, UTC) of `secs` since the Unix epoch.
#[must_use]
pub fn format_date_time(secs: i64) -> String {
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let (h, mi, s) = (rest / 3_600, rest % 3_600 / 60, rest % 60);
    format!("{y:04}{m:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// The `authorization` value a v5 client sends with `date_time`: what the official SDKs compute
/// (HMAC-SHA1 of the date-time keyed with the secret key, in hex).
#[must_use]
pub fn authorization_value(access_key: &str, secret_key: &str, date_time: &str) -> String {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(secret_key.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(date_time.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{ALGORITHM} Credential={access_key}, SignedHeaders={DATE_TIME}, Signature={hex}")
}

/// The date of a day count since 1970-01-01 (the inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Refuses an `x-mq-date-time` further than `window_secs` from `now_secs` either way.
///
/// # Errors
/// `BadAuthorization` for a malformed or stale value.
pub fn check_fresh(date_time: &str, now_secs: i64, window_secs: i64) -> Result<(), AuthError> {
    let at = parse_date_time(date_time)?;
    if (now_secs - at).abs() > window_secs {
        return Err(bad(format!(
            "{DATE_TIME} {date_time} is more than {window_secs} s away from the broker's clock"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::user::UserType;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02X}")).collect()
    }

    #[test]
    fn parses_and_verifies_what_the_v5_clients_send() {
        let user = User::new("ak", "sk", UserType::Normal).expect("user");
        let date = "20240102T030405Z";
        let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(b"sk").expect("key");
        mac.update(date.as_bytes());
        let sig = hex(&mac.finalize().into_bytes());
        let header =
            format!("MQv2-HMAC-SHA1 Credential=ak/region/service, SignedHeaders=x-mq-date-time, Signature={sig}");
        let auth = GrpcAuthorization::parse(&header).expect("parses");
        assert_eq!(auth.access_key, "ak");
        assert_eq!(auth.verify(date, &user), Ok(()));
        assert!(auth.verify("20240102T030406Z", &user).is_err());
        let lower = GrpcAuthorization::parse(
            &header
                .to_lowercase()
                .replace("mqv2-hmac-sha1 credential", "MQv2-HMAC-SHA1 Credential")
                .replace("signedheaders", "SignedHeaders")
                .replace("signature=", "Signature="),
        )
        .expect("lowercase hex parses");
        assert_eq!(lower.verify(date, &user), Ok(()));
    }

    #[test]
    fn malformed_headers_are_refused() {
        for h in [
            "",
            "MQv2-HMAC-SHA1",
            "Basic abc",
            "MQv2-HMAC-SHA1 Credential=ak, Signature=zz",
            "MQv2-HMAC-SHA1 Credential=ak, Signature=abc",
            "MQv2-HMAC-SHA1 Signature=ab",
            "MQv2-HMAC-SHA1 Credential=ak",
            "MQv2-HMAC-SHA1 Credential",
        ] {
            assert!(GrpcAuthorization::parse(h).is_err(), "{h:?}");
        }
    }

    #[test]
    fn date_times_format_as_they_parse() {
        for secs in [0, 951_868_800, 1_704_164_645, 4_102_444_799, 1_709_208_000] {
            let text = format_date_time(secs);
            assert_eq!(parse_date_time(&text), Ok(secs), "{text}");
        }
        assert_eq!(format_date_time(1_704_164_645), "20240102T030405Z");
    }

    #[test]
    fn date_time_and_window() {
        assert_eq!(parse_date_time("19700101T000000Z"), Ok(0));
        assert_eq!(parse_date_time("20000301T000000Z"), Ok(951_868_800));
        for bad in [
            "2024-01-02T03:04:05Z",
            "20241302T000000Z",
            "2024010XT000000Z",
            "+0240102T000000Z",
        ] {
            assert!(parse_date_time(bad).is_err(), "{bad}");
        }
        let now = parse_date_time("20240102T030405Z").expect("parses");
        assert!(check_fresh("20240102T030405Z", now + 60, 900).is_ok());
        assert!(check_fresh("20240102T030405Z", now + 901, 900).is_err());
        assert!(check_fresh("20240102T030405Z", now - 901, 900).is_err());
    }
}
