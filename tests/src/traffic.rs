//! Generated metric series: a version's traffic drawn minute by minute from repeatable noise, and
//! the figures the analysis computes from such minutes.

/// One minute of one version's Lambda metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Minute {
    /// `Invocations` (Sum).
    pub invocations: u32,
    /// `Errors` (Sum).
    pub errors: u32,
    /// Mean `Duration` in milliseconds (the minute's Average).
    pub duration_ms: f64,
    /// `Throttles` (Sum).
    pub throttles: u32,
    /// The latency of the slowest 2% of the minute's invocations (at least two), when they form
    /// a tail of their own: the minute's p99 without moving its mean.
    pub tail_ms: Option<f64>,
}

/// How a version behaves under traffic: what its per-minute metrics are drawn around.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Traffic {
    /// Mean invocations per minute.
    pub invocations: u32,
    /// Chance that one invocation fails.
    pub error_rate: f64,
    /// Mean latency in milliseconds.
    pub duration_ms: f64,
    /// Relative spread of each minute's invocations and mean latency (0.1: within ±10%).
    pub jitter: f64,
    /// Latency of a slow tail (see [`Minute::tail_ms`]), drawn within ±jitter; `None`: no tail.
    pub tail_ms: Option<f64>,
}

impl Traffic {
    /// `count` minutes drawn from `noise`: invocations and mean latency within ±jitter of
    /// their means, errors a binomial draw of the invocations, no throttles.
    pub fn minutes(&self, count: usize, noise: &mut Noise) -> Vec<Minute> {
        (0..count)
            .map(|_| {
                #[expect(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "a rounded count near a u32 mean"
                )]
                let invocations = noise.around(f64::from(self.invocations), self.jitter).round() as u32;
                let errors = noise.successes(invocations, self.error_rate);
                let duration_ms = (noise.around(self.duration_ms, self.jitter) * 1000.0).round() / 1000.0;
                let tail_ms =
                    self.tail_ms.map(|tail| (noise.around(tail, self.jitter) * 1000.0).round() / 1000.0);
                Minute { invocations, errors, duration_ms, throttles: 0, tail_ms }
            })
            .collect()
    }
}

/// Summary figures of generated minutes, as the analysis computes them from CloudWatch.
pub mod summary {
    use super::Minute;

    /// Errors over invocations, summed over the minutes.
    pub fn error_rate(minutes: &[Minute]) -> f64 {
        f64::from(errors(minutes)) / f64::from(invocations(minutes))
    }

    /// Invocations summed over the minutes.
    pub fn invocations(minutes: &[Minute]) -> u32 {
        minutes.iter().map(|m| m.invocations).sum()
    }

    /// Errors summed over the minutes.
    pub fn errors(minutes: &[Minute]) -> u32 {
        minutes.iter().map(|m| m.errors).sum()
    }

    /// Median of the minutes' mean latencies (minutes with invocations only).
    pub fn median_duration(minutes: &[Minute]) -> f64 {
        let mut values: Vec<f64> =
            minutes.iter().filter(|m| m.invocations > 0).map(|m| m.duration_ms).collect();
        values.sort_by(f64::total_cmp);
        let middle = values.len() / 2;
        if values.len() % 2 == 1 { values[middle] } else { f64::midpoint(values[middle - 1], values[middle]) }
    }
}

/// A deterministic pseudo-random generator (`SplitMix64`) for realistic, repeatable noise.
#[derive(Debug, Clone)]
pub struct Noise(u64);

impl Noise {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform within ±`spread` (relative) of `center`.
    pub fn around(&mut self, center: f64, spread: f64) -> f64 {
        center * (1.0 + spread * (2.0 * self.unit() - 1.0))
    }

    /// How many of `trials` independent tries with chance `p` succeed.
    pub fn successes(&mut self, trials: u32, p: f64) -> u32 {
        (0..trials).map(|_| u32::from(self.unit() < p)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_traffic_is_repeatable_and_near_its_means() {
        let traffic =
            Traffic { invocations: 200, error_rate: 0.02, duration_ms: 120.0, jitter: 0.2, tail_ms: None };
        let minutes = traffic.minutes(50, &mut Noise::new(7));
        assert_eq!(minutes, traffic.minutes(50, &mut Noise::new(7)));
        assert_ne!(minutes, traffic.minutes(50, &mut Noise::new(8)));
        for minute in &minutes {
            assert!((160..=240).contains(&minute.invocations), "{minute:?}");
            assert!((96.0..=144.0).contains(&minute.duration_ms), "{minute:?}");
        }
        let rate = summary::error_rate(&minutes);
        assert!((0.015..0.025).contains(&rate), "{rate}");
        let median = summary::median_duration(&minutes);
        assert!((110.0..130.0).contains(&median), "{median}");
    }
}
