//! The hook's time budget: work must end early enough that the verdict is still reported before
//! Lambda stops the function.

use std::time::Duration;
use tokio::time::Instant;

/// Default time kept back for reporting the verdict.
pub const DEFAULT_REPORT_MARGIN: Duration = Duration::from_secs(5);

/// Time kept back after the report, to return the response and flush logs.
const RESPONSE_TAIL: Duration = Duration::from_millis(250);

/// When the work must stop, and when the report must have been sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// Anything unfinished at this instant counts as a failure.
    pub work_until: Instant,
    /// The report's retries stop here.
    pub report_until: Instant,
}

impl Deadlines {
    /// Splits `remaining` (time before Lambda's own deadline, measured at `now`) between work and
    /// reporting: the report keeps `report_margin`, or half the time when less is left.
    pub fn split(now: Instant, remaining: Duration, report_margin: Duration) -> Self {
        let tail = RESPONSE_TAIL.min(remaining / 10);
        let margin = report_margin.min(remaining / 2);
        Self {
            work_until: now + remaining.saturating_sub(margin),
            report_until: now + remaining.saturating_sub(tail),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_margin_for_reporting() {
        let now = Instant::now();
        let d = Deadlines::split(now, Duration::from_mins(5), Duration::from_secs(5));
        assert_eq!(d.work_until - now, Duration::from_secs(295));
        assert_eq!(d.report_until - now, Duration::from_millis(299_750));
    }

    #[test]
    fn short_budgets_are_halved() {
        let now = Instant::now();
        let d = Deadlines::split(now, Duration::from_secs(4), Duration::from_secs(5));
        assert_eq!(d.work_until - now, Duration::from_secs(2));
        assert_eq!(d.report_until - now, Duration::from_millis(3_750));
    }

    #[test]
    fn past_deadlines_leave_no_time() {
        let now = Instant::now();
        let d = Deadlines::split(now, Duration::ZERO, DEFAULT_REPORT_MARGIN);
        assert_eq!((d.work_until, d.report_until), (now, now));
    }
}
