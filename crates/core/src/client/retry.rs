//! How long to keep trying: the retry policy, `Retry-After` in both of its
//! forms (and the rate-limit hints some platforms send instead), the ceiling
//! above which a requested wait is refused, and the give-up bound.
//!
//! A platform decides how long we wait, so every wait it asks for is checked
//! here against limits the user can see ("giving up at 14:05").

use std::time::{Duration, SystemTime};

use reqwest::header::{self, HeaderMap};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::Error;

/// The longest `Retry-After` waited out. A platform asking for more (or for
/// a wait past the give-up time) is not retried: the error says when it will
/// answer again, as the export quota does.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);

/// How long one request is retried in all before Keepsake gives up on it:
/// long enough for a restart or a short outage, short enough that an export
/// against a platform answering `503` for good ends with a clear message.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(10 * 60);

/// The longest wait a platform's answer is taken to name. A longer one is
/// nonsense (a time in milliseconds read as seconds, a broken header) and
/// is taken as this: still far past what Keepsake waits, so it stops and
/// says so, and no date computed from it overflows.
pub(crate) const LONGEST_NAMED: Duration = Duration::from_secs(365 * 86400);

/// A wait the platform named, at most [`LONGEST_NAMED`].
fn named(wait: Duration) -> Duration {
    wait.min(LONGEST_NAMED)
}

/// How hard to try.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts after the first.
    pub max_retries: usize,
    /// First backoff.
    pub min_delay: Duration,
    /// Longest backoff between attempts when the platform names no time.
    pub max_delay: Duration,
    /// Longest `Retry-After` waited out (see [`MAX_RETRY_AFTER`]).
    pub max_retry_after: Duration,
    /// Total time one request is retried before giving up (see
    /// [`GIVE_UP_AFTER`]).
    pub give_up_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 10,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(60),
            max_retry_after: MAX_RETRY_AFTER,
            give_up_after: GIVE_UP_AFTER,
        }
    }
}

impl RetryPolicy {
    /// The policy of requests someone waits on (signing in, who am I, a
    /// look-up): two quick retries, a wait the platform asks for only when
    /// it is short, and never more than half a minute in all.
    pub fn interactive() -> Self {
        Self {
            max_retries: 2,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(10),
            give_up_after: Duration::from_secs(30),
        }
    }
}

/// A wait before the next attempt, as the progress display shows it.
#[derive(Debug)]
pub struct Wait<'a> {
    /// How long until the next attempt.
    pub delay: Duration,
    /// What went wrong with the last one.
    pub error: &'a Error,
    /// When Keepsake stops trying this request.
    pub give_up_at: SystemTime,
}

/// The wait the platform asked for: `Retry-After` as seconds or as an
/// HTTP date (RFC 9110 §10.2.3), else, on a `429`, `X-RateLimit-Reset`
/// (seconds, or a Unix time when it is that large), relative to `now`.
pub(crate) fn from_headers(
    headers: &HeaderMap,
    now: SystemTime,
    rate_limited: bool,
) -> Option<Duration> {
    let text = |name: &str| headers.get(name)?.to_str().ok().map(str::trim);
    if let Some(v) = text(header::RETRY_AFTER.as_str()) {
        return parse_retry_after(v, now);
    }
    // Some platforms send the reset of their rate window on every answer:
    // it says when to come back only when the answer is "too many".
    if !rate_limited {
        return None;
    }
    let reset = text("x-ratelimit-reset")?.parse::<u64>().ok()?;
    // Platforms disagree: GitHub sends a Unix time, others a number of
    // seconds. No wait is a billion seconds long.
    if reset >= 1_000_000_000 {
        let wait = SystemTime::UNIX_EPOCH
            .checked_add(Duration::from_secs(reset))
            .map_or(LONGEST_NAMED, |at| {
                at.duration_since(now).unwrap_or_default()
            });
        Some(named(wait))
    } else {
        Some(named(Duration::from_secs(reset)))
    }
}

/// `Retry-After`: delay-seconds or an IMF-fixdate
/// (`Wed, 21 Oct 2026 07:28:00 GMT`). A date already past means now.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(named(Duration::from_secs(secs)));
    }
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = time::PrimitiveDateTime::parse(value, format)
        .ok()?
        .assume_utc();
    Some(named(
        SystemTime::from(at).duration_since(now).unwrap_or_default(),
    ))
}

/// The wait a Matrix homeserver names in its error body
/// (`M_LIMIT_EXCEEDED` with `retry_after_ms`).
pub(crate) fn from_body(problem: Option<&crate::error::Problem>) -> Option<Duration> {
    let ms = problem?.extensions.get("retry_after_ms")?.as_u64()?;
    Some(named(Duration::from_millis(ms)))
}

/// A time as the user reads it in a message: `14:05:09 UTC`.
pub(crate) fn clock(at: SystemTime) -> String {
    let t = OffsetDateTime::from(at);
    format!("{:02}:{:02}:{:02} UTC", t.hour(), t.minute(), t.second())
}

fn rfc3339(at: SystemTime) -> String {
    OffsetDateTime::from(at)
        .replace_nanosecond(0)
        .unwrap_or_else(|_| OffsetDateTime::from(at))
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// A duration in words: `10 min`, `3 h 20 min`, `45 s`.
pub(crate) fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=119 => format!("{} s", s.max(1)),
        120..=7199 => format!("{} min", s / 60),
        _ if s < 3 * 86400 => format!("{} h {} min", s / 3600, s / 60 % 60),
        _ => format!("{} days", s / 86400),
    }
}

/// The platform asked to wait `wait` from `now`, longer than Keepsake
/// waits. A wait of [`LONGEST_NAMED`] (or one taken as that) names no date:
/// such an answer is the platform's mistake more likely than its plan.
pub(crate) fn come_back_later(
    url: &str,
    now: SystemTime,
    wait: Duration,
    limit: &str,
    last: &Error,
) -> Error {
    if wait >= LONGEST_NAMED {
        return Error::TryLater {
            code: last.code(),
            message: format!(
                "the platform asked Keepsake to wait a year or more before trying {url} again, \
                 which is {limit}; Keepsake stopped instead of waiting. An answer like that is \
                 most likely the platform's mistake: try again later."
            ),
            retry_at: None,
        };
    }
    let when = rfc3339(now + wait);
    Error::TryLater {
        code: last.code(),
        message: format!(
            "the platform asked Keepsake to wait until {when} before trying {url} again, \
             which is {limit}; Keepsake stopped instead of waiting. Try again after {when}."
        ),
        retry_at: Some(when),
    }
}

/// Keepsake stopped retrying a request that kept failing.
pub(crate) fn gave_up(url: &str, started: SystemTime, tries: usize, last: &Error) -> Error {
    let now = SystemTime::now();
    let spent = now.duration_since(started).unwrap_or_default();
    Error::TryLater {
        code: last.code(),
        message: format!(
            "gave up on {url} at {} after {tries} tries in {}: {last}. \
             The platform may be down or overloaded; try again later.",
            clock(now),
            human(spent),
        ),
        retry_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc: &str) -> SystemTime {
        OffsetDateTime::parse(rfc, &Rfc3339).expect("date").into()
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_as_an_http_date() {
        let now = at("2026-10-21T07:27:00Z");
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        // A date already past: try now.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2026 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        for bad in ["soon", "-5", "Wed, 21 Oct 2026 07:28:00 PST", ""] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
    }

    #[test]
    fn rate_limit_reset_is_read_as_seconds_or_a_unix_time() {
        let now = at("2026-10-21T07:27:00Z");
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset", "30".parse().expect("value"));
        assert_eq!(from_headers(&h, now, true), Some(Duration::from_secs(30)));
        // On a 503 the rate window is beside the point.
        assert_eq!(from_headers(&h, now, false), None);
        let unix = OffsetDateTime::from(now).unix_timestamp() + 90;
        h.insert(
            "x-ratelimit-reset",
            unix.to_string().parse().expect("value"),
        );
        assert_eq!(from_headers(&h, now, true), Some(Duration::from_secs(90)));
        // Retry-After wins when both are sent.
        h.insert(header::RETRY_AFTER, "5".parse().expect("value"));
        assert_eq!(from_headers(&h, now, true), Some(Duration::from_secs(5)));
    }

    #[test]
    fn a_matrix_body_names_its_wait_in_milliseconds() {
        let p: crate::error::Problem = serde_json::from_str(
            r#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":2500}"#,
        )
        .expect("problem");
        assert_eq!(from_body(Some(&p)), Some(Duration::from_millis(2500)));
        assert_eq!(from_body(None), None);
    }

    #[test]
    fn messages_carry_the_platforms_time() {
        let last = Error::Network {
            url: "u".into(),
            detail: "reset".into(),
        };
        let e = come_back_later(
            "u",
            at("2026-10-21T07:27:00Z"),
            Duration::from_secs(60),
            "more than 1 h",
            &last,
        );
        let Error::TryLater {
            message, retry_at, ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(retry_at.as_deref(), Some("2026-10-21T07:28:00Z"));
        assert!(message.contains("2026-10-21T07:28:00Z"), "{message}");
        assert_eq!(e.code(), "network");
        assert_eq!(human(Duration::from_secs(600)), "10 min");
        assert_eq!(human(Duration::from_secs(999_999)), "11 days");
    }

    #[test]
    fn a_wait_past_any_sense_is_a_year_and_names_no_date() {
        // Bug pinned: a reset in milliseconds (or any huge wait) overflowed
        // the date arithmetic and the process panicked.
        let now = at("2026-10-21T07:27:00Z");
        for value in ["999999999999", "18446744073709551615"] {
            assert_eq!(
                parse_retry_after(value, now),
                Some(LONGEST_NAMED),
                "{value}"
            );
        }
        assert_eq!(
            parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now),
            Some(LONGEST_NAMED)
        );
        let mut h = HeaderMap::new();
        for reset in ["1718000000000", "18446744073709551615"] {
            h.insert("x-ratelimit-reset", reset.parse().expect("value"));
            assert_eq!(from_headers(&h, now, true), Some(LONGEST_NAMED), "{reset}");
        }
        let p: crate::error::Problem = serde_json::from_str(
            r#"{"errcode":"M_LIMIT_EXCEEDED","error":"slow down","retry_after_ms":18446744073709551615}"#,
        )
        .expect("problem");
        assert_eq!(from_body(Some(&p)), Some(LONGEST_NAMED));
        let last = Error::Network {
            url: "u".into(),
            detail: "reset".into(),
        };
        let e = come_back_later("u", now, LONGEST_NAMED, "more than 1 h", &last);
        let Error::TryLater {
            message, retry_at, ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(retry_at, &None);
        assert!(message.contains("a year or more"), "{message}");
    }
}
