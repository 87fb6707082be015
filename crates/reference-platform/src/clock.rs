//! Wall-clock helpers: the platform stores Unix seconds and speaks RFC 3339.

use time::{OffsetDateTime, format_description::well_known::Rfc3339};

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Unix seconds as an RFC 3339 UTC string with second precision.
pub fn rfc3339(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// Parses a filter bound: an RFC 3339 date-time or a plain `YYYY-MM-DD`
/// (midnight UTC of that day).
pub fn parse_bound(text: &str) -> Option<i64> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(t.unix_timestamp());
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &fmt)
        .ok()
        .map(|d| d.midnight().assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_accept_dates_and_date_times() {
        assert_eq!(parse_bound("1970-01-02"), Some(86_400));
        assert_eq!(parse_bound("1970-01-01T00:01:00Z"), Some(60));
        assert_eq!(parse_bound("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_bound("yesterday"), None);
        assert_eq!(rfc3339(60), "1970-01-01T00:01:00Z");
    }
}
