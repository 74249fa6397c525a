//! The one wall-clock type of every lifeguard crate, [`Timestamp`], and lifetimes as the reaper's
//! tags and settings spell them: RFC 3339 UTC instants (`2026-03-01T12:00:00Z`) and whole-unit
//! durations (`36h`, `7d`, `2w`). Spans of time are [`Duration`]s.

use std::fmt;
use std::time::Duration;

const SECONDS_PER_HOUR: u64 = 3_600;
const SECONDS_PER_DAY: u64 = 24 * SECONDS_PER_HOUR;
const SECONDS_PER_WEEK: u64 = 7 * SECONDS_PER_DAY;
/// Longest duration accepted anywhere: 100 years, far beyond any sane lifetime.
const MAX_DURATION_SECONDS: u64 = 36_500 * SECONDS_PER_DAY;

const MILLIS_PER_SECOND: i64 = 1_000;
/// `Lambda-Runtime-Deadline-Ms` values below this cannot be epoch timestamps (they would fall
/// on 1970-01-02): they are relative budgets, as `cargo lambda watch` sends (a constant
/// `600000`, meaning ten minutes).
const RELATIVE_DEADLINE_BELOW_MS: u64 = 24 * 60 * 60 * 1000;

/// A UTC instant, in milliseconds since the Unix epoch: the clock, the Lambda deadline, a
/// deployment's creation, a tag's expiry. It is written (RFC 3339, [`fmt::Display`]) and parsed
/// in whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// A value that is not an RFC 3339 UTC instant; the message names the value and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not an RFC 3339 UTC instant: {problem}")]
pub struct TimestampError {
    /// The rejected text.
    pub value: String,
    /// What is wrong with it.
    pub problem: String,
}

/// A value that is not a duration like `36h`, `7d` or `2w`; the message names the value and the
/// problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a duration like 36h, 7d or 2w: {problem}")]
pub struct DurationError {
    /// The rejected text.
    pub value: String,
    /// What is wrong with it.
    pub problem: String,
}

impl Timestamp {
    /// The instant `seconds` after the Unix epoch.
    pub const fn from_unix_seconds(seconds: i64) -> Self {
        Self(seconds.saturating_mul(MILLIS_PER_SECOND))
    }

    /// The instant `millis` milliseconds after the Unix epoch.
    pub const fn from_unix_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Whole seconds since the Unix epoch, rounded down.
    pub const fn unix_seconds(self) -> i64 {
        self.0.div_euclid(MILLIS_PER_SECOND)
    }

    /// Seconds since the Unix epoch, rounded up to the next whole second.
    pub const fn unix_seconds_rounded_up(self) -> i64 {
        self.unix_seconds() + if self.0.rem_euclid(MILLIS_PER_SECOND) == 0 { 0 } else { 1 }
    }

    /// This instant without its fraction of a second, as RFC 3339 tags and marks record it.
    pub const fn whole_seconds(self) -> Self {
        Self::from_unix_seconds(self.unix_seconds())
    }

    /// Milliseconds since the Unix epoch.
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// An invocation's deadline as Lambda's Runtime API gives it (`Lambda-Runtime-Deadline-Ms`,
    /// milliseconds since the epoch). A value too small to be a timestamp is the budget itself,
    /// counted from `now` (local emulators).
    pub fn lambda_deadline(deadline_ms: u64, now: Self) -> Self {
        let millis = i64::try_from(deadline_ms).unwrap_or(i64::MAX);
        if deadline_ms < RELATIVE_DEADLINE_BELOW_MS {
            Self(now.0.saturating_add(millis))
        } else {
            Self(millis)
        }
    }

    /// Its UTC calendar day, `YYYY-MM-DD`.
    pub fn utc_day(self) -> String {
        let (year, month, day) =
            civil_from_days(self.unix_seconds().div_euclid(SECONDS_PER_DAY.cast_signed()));
        format!("{year:04}-{month:02}-{day:02}")
    }

    /// The current instant from the system clock.
    pub fn now() -> Self {
        let since_epoch =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or(Duration::ZERO);
        Self(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
    }

    /// The instant `duration` later, saturating at the end of time.
    pub fn plus(self, duration: Duration) -> Self {
        let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_add(millis))
    }

    /// The instant `duration` earlier, saturating at the start of time.
    pub fn minus(self, duration: Duration) -> Self {
        let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_sub(millis))
    }

    /// The time from `earlier` to this instant; zero when `earlier` is not earlier.
    pub fn duration_since(self, earlier: Self) -> Duration {
        Duration::from_millis(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }

    /// Parses an RFC 3339 instant in UTC: `YYYY-MM-DDTHH:MM:SS[.fraction]` followed by `Z` (or
    /// `+00:00`). Other offsets are rejected rather than converted, so a tag always reads the
    /// same to people and to the reaper.
    pub fn parse_rfc3339(text: &str) -> Result<Self, TimestampError> {
        let error = |problem: &str| TimestampError { value: text.to_owned(), problem: problem.to_owned() };
        let bytes = text.trim().as_bytes();
        if bytes.len() < 19 {
            return Err(error("too short; expected e.g. 2026-03-01T12:00:00Z"));
        }
        let number = |range: std::ops::Range<usize>, what: &str| -> Result<i64, TimestampError> {
            let digits = &bytes[range];
            if !digits.iter().all(u8::is_ascii_digit) {
                return Err(error(&format!("{what} is not a number")));
            }
            Ok(digits.iter().fold(0, |acc, digit| acc * 10 + i64::from(digit - b'0')))
        };
        let separator = |index: usize, expected: &[u8], what: &str| -> Result<(), TimestampError> {
            if expected.contains(&bytes[index]) { Ok(()) } else { Err(error(&format!("expected {what}"))) }
        };
        let year = number(0..4, "year")?;
        separator(4, b"-", "'-' after the year")?;
        let month = number(5..7, "month")?;
        separator(7, b"-", "'-' after the month")?;
        let day = number(8..10, "day")?;
        separator(10, b"Tt", "'T' between date and time")?;
        let hour = number(11..13, "hour")?;
        separator(13, b":", "':' after the hour")?;
        let minute = number(14..16, "minute")?;
        separator(16, b":", "':' after the minute")?;
        let second = number(17..19, "second")?;

        if !(1..=12).contains(&month) {
            return Err(error("month must be 01 to 12"));
        }
        if day < 1 || day > days_in_month(year, month) {
            return Err(error("day does not exist in that month"));
        }
        if hour > 23 {
            return Err(error("hour must be 00 to 23"));
        }
        if minute > 59 {
            return Err(error("minute must be 00 to 59"));
        }
        if second > 59 {
            return Err(error("second must be 00 to 59 (leap seconds are not supported)"));
        }

        let mut rest = &bytes[19..];
        if let Some(fraction) = rest.strip_prefix(b".") {
            let digits = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
            if digits == 0 {
                return Err(error("'.' must be followed by fractional seconds"));
            }
            rest = &fraction[digits..];
        }
        match rest {
            b"Z" | b"z" | b"+00:00" => {}
            b"" => return Err(error("missing the UTC designator 'Z'")),
            b"-00:00" => return Err(error("offset -00:00 means an unknown local offset; use Z")),
            [b'+' | b'-', ..] => {
                let offset = String::from_utf8_lossy(rest);
                return Err(error(&format!("offset {offset} is not UTC; write the instant in UTC with Z")));
            }
            _ => return Err(error("unexpected text after the time; expected Z")),
        }

        let days = days_from_civil(year, month, day);
        Ok(Self::from_unix_seconds(
            days * SECONDS_PER_DAY.cast_signed() + hour * 3_600 + minute * 60 + second,
        ))
    }
}

impl serde::Serialize for Timestamp {
    /// As RFC 3339 text, like [`Display`](fmt::Display).
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl fmt::Display for Timestamp {
    /// Formats as RFC 3339 UTC, e.g. `2026-03-01T12:00:00Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.unix_seconds();
        let days = seconds.div_euclid(SECONDS_PER_DAY.cast_signed());
        let seconds_of_day = seconds.rem_euclid(SECONDS_PER_DAY.cast_signed());
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            seconds_of_day / 3_600,
            seconds_of_day % 3_600 / 60,
            seconds_of_day % 60
        )
    }
}

/// Parses a positive whole number of hours, days or weeks: `36h`, `7d`, `2w`.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let error = |problem: &str| DurationError { value: text.to_owned(), problem: problem.to_owned() };
    let trimmed = text.trim();
    let Some(unit) = trimmed.chars().last() else {
        return Err(error("empty"));
    };
    let unit_seconds = match unit {
        'h' => SECONDS_PER_HOUR,
        'd' => SECONDS_PER_DAY,
        'w' => SECONDS_PER_WEEK,
        _ if unit.is_ascii_digit() => return Err(error("missing a unit: h, d or w")),
        _ => {
            return Err(error(&format!(
                "unknown unit {unit:?}; write a whole number and one of h, d, w, e.g. 36h, 7d, 2w"
            )));
        }
    };
    let digits = &trimmed[..trimmed.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(error("expected a whole number before the unit"));
    }
    let count: u64 = digits.parse().map_err(|_| error("number too large"))?;
    if count == 0 {
        return Err(error("must be more than zero"));
    }
    match count.checked_mul(unit_seconds) {
        Some(seconds) if seconds <= MAX_DURATION_SECONDS => Ok(Duration::from_secs(seconds)),
        _ => Err(error("longer than 100 years")),
    }
}

/// Formats a duration in the largest unit that divides it: `2w`, `3d`, `36h` (seconds otherwise).
pub fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match seconds {
        0 => "0h".to_owned(),
        s if s % SECONDS_PER_WEEK == 0 => format!("{}w", s / SECONDS_PER_WEEK),
        s if s % SECONDS_PER_DAY == 0 => format!("{}d", s / SECONDS_PER_DAY),
        s if s % SECONDS_PER_HOUR == 0 => format!("{}h", s / SECONDS_PER_HOUR),
        s => format!("{s}s"),
    }
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date, counting in 400-year eras that start
/// on 1 March so the leap day falls at the end of each year.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let march_based_year = if month <= 2 { year - 1 } else { year };
    let era = march_based_year.div_euclid(400);
    let year_of_era = march_based_year - era * 400;
    let march_based_month = (month + 9) % 12;
    let day_of_year = (153 * march_based_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let march_based_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * march_based_month + 2) / 5 + 1;
    let month = if march_based_month < 10 { march_based_month + 3 } else { march_based_month - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn keeps_milliseconds_and_rounds_seconds_both_ways() {
        let instant = Timestamp::from_unix_millis(1_795_000_000_250);
        assert_eq!(
            (instant.unix_seconds(), instant.unix_seconds_rounded_up()),
            (1_795_000_000, 1_795_000_001)
        );
        let whole = Timestamp::from_unix_seconds(1_795_000_000);
        assert_eq!((whole.unix_seconds(), whole.unix_seconds_rounded_up()), (1_795_000_000, 1_795_000_000));
        assert_eq!(Timestamp::from_unix_millis(-1).unix_seconds(), -1);
        assert_eq!(instant.to_string(), "2026-11-18T11:06:40Z");
        assert_eq!(instant.duration_since(whole), Duration::from_millis(250));
        assert_eq!(whole.duration_since(instant), Duration::ZERO);
        assert_eq!(instant.whole_seconds(), whole);
        assert_eq!(Timestamp::from_unix_millis(-1).whole_seconds(), Timestamp::from_unix_seconds(-1));
        assert_eq!(whole.plus(Duration::from_millis(250)), instant);
        assert_eq!(instant.minus(Duration::from_millis(250)), whole);
    }

    #[test]
    fn the_utc_day_is_the_date_of_the_rfc_3339_text() {
        for text in ["1970-01-01T00:00:00Z", "2026-12-31T23:59:59Z", "2028-02-29T12:00:00Z"] {
            assert_eq!(at(text).utc_day(), text[..10]);
        }
    }

    #[test]
    fn lambda_deadlines_are_absolute_or_emulator_budgets() {
        let now = Timestamp::from_unix_millis(1_795_000_000_000);
        let remaining = |deadline_ms| Timestamp::lambda_deadline(deadline_ms, now).duration_since(now);
        assert_eq!(remaining(1_795_000_030_000), Duration::from_secs(30));
        assert_eq!(remaining(1_794_999_970_000), Duration::ZERO);
        // cargo lambda watch sends `Lambda-Runtime-Deadline-Ms: 600000`.
        assert_eq!(remaining(600_000), Duration::from_mins(10));
    }

    #[test]
    fn parses_known_instants() {
        assert_eq!(at("1970-01-01T00:00:00Z").unix_seconds(), 0);
        assert_eq!(at("2000-03-01T00:00:00Z").unix_seconds(), 951_868_800);
        assert_eq!(at("2024-02-29T23:59:59Z").unix_seconds(), 1_709_251_199);
        assert_eq!(at("1969-12-31T23:59:59Z").unix_seconds(), -1);
        assert_eq!(at("2026-03-01t12:00:00.123456z"), at("2026-03-01T12:00:00Z"));
        assert_eq!(at("2026-03-01T12:00:00+00:00"), at("2026-03-01T12:00:00Z"));
    }

    #[test]
    fn formats_and_parses_back_across_eras() {
        for seconds in [0, -1, 951_868_800, 1_709_251_199, 4_102_444_800, -62_135_596_800, 253_402_300_799] {
            let instant = Timestamp::from_unix_seconds(seconds);
            assert_eq!(at(&instant.to_string()), instant, "{instant}");
        }
        assert_eq!(Timestamp::from_unix_seconds(1_709_251_199).to_string(), "2024-02-29T23:59:59Z");
        let mut day = -800_000;
        while day < 800_000 {
            let (year, month, dom) = civil_from_days(day);
            assert_eq!(days_from_civil(year, month, dom), day);
            day += 37;
        }
    }

    #[test]
    fn rejects_non_utc_offsets_naming_them() {
        let error = Timestamp::parse_rfc3339("2026-03-01T12:00:00+02:00").unwrap_err();
        assert!(error.to_string().contains("offset +02:00 is not UTC"), "{error}");
        let error = Timestamp::parse_rfc3339("2026-03-01T12:00:00-00:00").unwrap_err();
        assert!(error.problem.contains("unknown local offset"), "{error}");
        let error = Timestamp::parse_rfc3339("2026-03-01T12:00:00").unwrap_err();
        assert!(error.problem.contains("'Z'"), "{error}");
    }

    #[test]
    fn rejects_impossible_or_misshapen_instants() {
        for (text, problem) in [
            ("2025-02-29T00:00:00Z", "day does not exist"),
            ("2026-13-01T00:00:00Z", "month"),
            ("2026-01-01T24:00:00Z", "hour"),
            ("2026-01-01T00:60:00Z", "minute"),
            ("2026-06-30T23:59:60Z", "leap seconds"),
            ("2026-01-01 00:00:00Z", "'T'"),
            ("2026-1-01T00:00:00Z", "not a number"),
            ("2026-01-01T00:00:00.Z", "fractional"),
            ("2026-01-01T00:00:00Zjunk", "unexpected text"),
            ("tomorrow", "too short"),
            ("2026-01-01", "too short"),
        ] {
            let error = Timestamp::parse_rfc3339(text).unwrap_err();
            assert!(error.problem.contains(problem), "{text}: {error}");
            assert_eq!(error.value, text);
        }
    }

    #[test]
    fn parses_durations_in_hours_days_and_weeks() {
        assert_eq!(parse_duration("36h").unwrap(), Duration::from_hours(36));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_hours(168));
        assert_eq!(parse_duration(" 2w ").unwrap(), Duration::from_hours(336));
        assert_eq!(format_duration(parse_duration("14d").unwrap()), "2w");
        assert_eq!(format_duration(parse_duration("36h").unwrap()), "36h");
    }

    #[test]
    fn rejects_bad_durations_naming_the_problem() {
        for (text, problem) in [
            ("", "empty"),
            ("7", "missing a unit"),
            ("7m", "unknown unit 'm'"),
            ("d", "whole number"),
            ("-3d", "whole number"),
            ("1.5d", "whole number"),
            ("0h", "more than zero"),
            ("99999999999999999999d", "too large"),
            ("40000d", "100 years"),
            ("7é", "unknown unit"),
        ] {
            let error = parse_duration(text).unwrap_err();
            assert!(error.problem.contains(problem), "{text:?}: {error}");
        }
    }

    #[test]
    fn arithmetic_saturates() {
        let end = Timestamp::from_unix_millis(i64::MAX - 1);
        assert_eq!(end.plus(Duration::from_secs(10)).unix_millis(), i64::MAX);
        let start = Timestamp::from_unix_millis(i64::MIN + 1);
        assert_eq!(start.minus(Duration::from_secs(10)).unix_millis(), i64::MIN);
        assert_eq!(Timestamp::from_unix_seconds(i64::MAX).unix_millis(), i64::MAX);
    }
}
