//! The price model behind the simulated exchange: a counter-based PRNG (splitmix64, so series
//! never change with a crate upgrade), per-instrument parameters, the business-day calendar, and
//! the underlying ("spot") paths with their drift, volatility and carry regimes.
//!
//! Every random draw is a pure function of `(seed, path name, business-day index, draw number)`,
//! so a path is the same however far, in whatever order, and in whatever pieces it is generated.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

// ---------------------------------------------------------------------------------------------
// Hashing and random numbers
// ---------------------------------------------------------------------------------------------

/// splitmix64's finaliser: a good 64-bit mixer.
pub(crate) fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Combines words into one key.
pub(crate) fn key(parts: &[u64]) -> u64 {
    parts
        .iter()
        .fold(0x5157_5EED_u64, |h, p| splitmix(h ^ splitmix(*p)))
}

/// FNV-1a of a string (stable across platforms and versions).
pub(crate) fn text_hash(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// Uniform in `[0, 1)` from a key.
pub(crate) fn unit(h: u64) -> f64 {
    (splitmix(h) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Standard normal from a key (Box–Muller).
pub(crate) fn normal(h: u64) -> f64 {
    let u1 = 1.0 - unit(h ^ 0xA5A5_A5A5_A5A5_A5A5); // (0, 1]
    let u2 = unit(h ^ 0x3C3C_3C3C_3C3C_3C3C);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// The draws of one (path, day): numbered uniforms and normals.
#[derive(Clone, Copy)]
pub(crate) struct Draws(u64);

impl Draws {
    pub(crate) fn new(path_key: u64, day: usize, stream: u64) -> Self {
        Self(key(&[path_key, day as u64, stream]))
    }
    pub(crate) fn u(self, k: u64) -> f64 {
        unit(key(&[self.0, k]))
    }
    pub(crate) fn n(self, k: u64) -> f64 {
        normal(key(&[self.0, k]))
    }
}

// ---------------------------------------------------------------------------------------------
// Business days
// ---------------------------------------------------------------------------------------------

/// A Monday long ago: business days are counted from it.
fn reference_monday() -> NaiveDate {
    NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN) // a Monday
}

pub(crate) fn is_business_day(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Business days in `[reference Monday, d)`.
pub(crate) fn business_days_before(d: NaiveDate) -> i64 {
    let days = (d - reference_monday()).num_days();
    let weeks = days.div_euclid(7);
    let rem = days.rem_euclid(7);
    weeks * 5 + rem.min(5)
}

/// The business day with `n` business days before it (inverse of [`business_days_before`]).
pub(crate) fn business_day_number(n: i64) -> NaiveDate {
    let weeks = n.div_euclid(5);
    let rem = n.rem_euclid(5);
    reference_monday() + Duration::days(weeks * 7 + rem)
}

/// `d` if a business day, else the next Monday.
pub(crate) fn business_day_on_or_after(d: NaiveDate) -> NaiveDate {
    match d.weekday() {
        Weekday::Sat => d + Duration::days(2),
        Weekday::Sun => d + Duration::days(1),
        _ => d,
    }
}

/// `d` if a business day, else the Friday before.
pub(crate) fn business_day_on_or_before(d: NaiveDate) -> NaiveDate {
    match d.weekday() {
        Weekday::Sat => d - Duration::days(1),
        Weekday::Sun => d - Duration::days(2),
        _ => d,
    }
}

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

pub(crate) const DAYS_PER_YEAR: f64 = 252.0;

/// Model parameters of one underlying path.
#[derive(Debug, Clone)]
pub(crate) struct PathParams {
    /// Typical level (the log-price mean-reverts weakly towards it).
    pub level: f64,
    /// Target annualised volatility of daily log returns.
    pub vol: f64,
    /// Mean reversion of the log level, per year.
    pub kappa: f64,
    /// Long-run annual carry rate (log forward premium per year of time to expiry).
    pub carry_mean: f64,
    /// Volatility of the carry rate, per sqrt(year).
    pub carry_vol: f64,
    /// How strongly the carry rate falls when the level is above its mean (vol indices: the
    /// curve inverts when volatility spikes).
    pub carry_beta: f64,
}

/// Known levels and volatilities of common pysystemtrade instruments (approximate, 2023).
fn known_instrument(code: &str) -> Option<(f64, f64)> {
    Some(match code {
        "SP500" | "SP500_micro" => (4000.0, 0.17),
        "NASDAQ" | "NASDAQ_micro" => (14000.0, 0.22),
        "DOW" => (34000.0, 0.15),
        "RUSSELL" => (1900.0, 0.21),
        "EUROSTX" => (4200.0, 0.18),
        "DAX" => (15500.0, 0.18),
        "CAC" => (7200.0, 0.17),
        "AEX" | "AEX_mini" => (740.0, 0.16),
        "SMI" => (11000.0, 0.13),
        "FTSE100" => (7500.0, 0.14),
        "NIKKEI" => (32000.0, 0.19),
        "KOSPI" => (330.0, 0.18),
        "US2" => (102.0, 0.015),
        "US3" => (103.0, 0.025),
        "US5" => (107.0, 0.04),
        "US10" => (111.0, 0.06),
        "US20" => (122.0, 0.11),
        "US30" => (125.0, 0.14),
        "SHATZ" => (105.0, 0.013),
        "BOBL" => (116.0, 0.035),
        "BUND" => (132.0, 0.06),
        "BUXL" => (140.0, 0.14),
        "OAT" => (128.0, 0.06),
        "BTP" => (116.0, 0.08),
        "KR3" => (104.0, 0.02),
        "KR10" => (110.0, 0.05),
        "JGB" => (145.0, 0.03),
        "EDOLLAR" | "SOFR" | "SONIA3" | "EURIBOR" => (96.0, 0.008),
        "GOLD" | "GOLD_micro" => (1900.0, 0.15),
        "SILVER" => (23.0, 0.27),
        "PLAT" => (950.0, 0.25),
        "PALLAD" => (1250.0, 0.33),
        "COPPER" => (3.8, 0.22),
        "CRUDE_W" | "CRUDE_W_mini" => (80.0, 0.33),
        "BRENT_W" | "BRENT-LAST" => (84.0, 0.30),
        "GAS_US" => (3.5, 0.50),
        "HEATOIL" => (2.8, 0.32),
        "GASOILINE" => (2.6, 0.33),
        "CORN" => (510.0, 0.24),
        "WHEAT" => (600.0, 0.28),
        "SOYBEAN" => (1290.0, 0.20),
        "LEANHOG" => (75.0, 0.25),
        "LIVECOW" => (180.0, 0.14),
        "VIX" => (17.0, 0.85),
        "V2X" => (18.0, 0.80),
        "VNKI" => (22.0, 0.70),
        _ => return None,
    })
}

/// Approximate USD value of one unit of a currency, and its annual volatility against USD.
pub(crate) fn known_currency(ccy: &str) -> Option<(f64, f64)> {
    Some(match ccy {
        "EUR" => (1.10, 0.08),
        "GBP" => (1.27, 0.08),
        "JPY" => (0.0068, 0.09),
        "CHF" => (1.13, 0.07),
        "AUD" => (0.66, 0.10),
        "NZD" => (0.60, 0.10),
        "CAD" => (0.74, 0.06),
        "MXP" | "MXN" => (0.058, 0.12),
        "KRW" => (0.00076, 0.09),
        "HKD" => (0.128, 0.005),
        "SGD" => (0.74, 0.05),
        "CNH" | "CNY" => (0.138, 0.04),
        "SEK" => (0.093, 0.10),
        "NOK" => (0.094, 0.10),
        "DKK" => (0.147, 0.08),
        "PLN" => (0.25, 0.11),
        "CZK" => (0.044, 0.09),
        "HUF" => (0.0028, 0.12),
        "INR" => (0.012, 0.05),
        "BRL" => (0.20, 0.15),
        "ZAR" => (0.055, 0.15),
        "TWD" => (0.031, 0.05),
        "ILS" => (0.27, 0.08),
        _ => return None,
    })
}

/// Default level and volatility of an asset class.
fn class_defaults(asset_class: &str) -> (f64, f64) {
    match asset_class.to_ascii_lowercase().as_str() {
        "equity" => (4000.0, 0.16),
        "bond" => (110.0, 0.06),
        "stir" => (96.0, 0.008),
        "fx" => (1.1, 0.08),
        "ags" => (500.0, 0.25),
        "oilgas" | "energy" => (80.0, 0.32),
        "metals" => (1500.0, 0.22),
        "vol" => (18.0, 0.80),
        "housing" => (300.0, 0.10),
        "sector" => (500.0, 0.20),
        "singlestock" => (150.0, 0.30),
        _ => (80.0, 0.25),
    }
}

/// A uniform in `[lo, hi)` from a key.
fn between(h: u64, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * unit(h)
}

impl PathParams {
    /// Parameters of a futures instrument. Level and volatility depend only on the code (and
    /// asset class); the long-run carry also on the seed.
    pub(crate) fn for_instrument(code: &str, asset_class: &str, seed: u64) -> Self {
        let h = text_hash(code);
        let (level, vol) = match known_instrument(code) {
            Some(lv) => lv,
            None => {
                let (l, v) = class_defaults(asset_class);
                (
                    l * between(key(&[h, 1]), 0.5, 2.0),
                    v * between(key(&[h, 2]), 0.8, 1.25),
                )
            }
        };
        let class = asset_class.to_ascii_lowercase();
        let c = normal(key(&[seed, h, 3]));
        let (carry_mean, carry_vol, carry_beta, kappa) = match class.as_str() {
            // r - dividend yield: a small contango, sometimes backwardation.
            "equity" | "sector" | "singlestock" => (0.01 + 0.01 * c, 0.01, 0.0, 0.1),
            "bond" | "stir" | "housing" => (0.012 * c, 0.01, 0.0, 0.1),
            "fx" => (0.02 * c, 0.01, 0.0, 0.1),
            // Storage, convenience yield, seasonality: large and of either sign.
            "ags" | "oilgas" | "energy" => (0.05 * c, 0.08, 0.0, 0.15),
            // Precious and base metals: mostly financing cost (contango).
            "metals" => (0.03 + 0.02 * c, 0.03, 0.0, 0.15),
            // Vol indices: contango while calm, inverted after spikes; the level reverts fast.
            "vol" => (0.3 + 0.05 * c, 0.1, 0.6, 3.0),
            _ => (0.03 * c, 0.04, 0.0, 0.15),
        };
        Self {
            level,
            vol,
            kappa,
            carry_mean,
            carry_vol,
            carry_beta,
        }
    }

    /// Parameters of a currency's USD rate (and of FX futures on it).
    pub(crate) fn for_currency(ccy: &str, seed: u64) -> Self {
        let h = text_hash(ccy);
        let (level, vol) =
            known_currency(ccy).unwrap_or_else(|| (between(key(&[h, 1]), 0.2, 2.0), 0.08));
        Self {
            level,
            vol,
            kappa: 0.1,
            // The interest rate differential.
            carry_mean: 0.02 * normal(key(&[seed, h, 3])),
            carry_vol: 0.01,
            carry_beta: 0.0,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Spot paths
// ---------------------------------------------------------------------------------------------

/// Volatility multipliers of the calm and volatile regimes.
const CALM: f64 = 0.8;
const VOLATILE: f64 = 1.6;
/// Daily switching probabilities: calm spells last ~150 business days, volatile ones ~50.
const P_TO_VOLATILE: f64 = 1.0 / 150.0;
const P_TO_CALM: f64 = 1.0 / 50.0;
/// Daily probability that the drift regime changes (mean duration ~4 months).
const P_NEW_DRIFT: f64 = 1.0 / 85.0;
/// Drift regimes: annual drift ~ N(0, DRIFT_SCALE × vol).
const DRIFT_SCALE: f64 = 0.6;
/// Fat tails: with this probability a shock is scaled by TAIL_MULT (then renormalised).
const P_TAIL: f64 = 0.03;
const TAIL_MULT: f64 = 2.5;
/// Mean reversion of the carry rate, per year.
const CARRY_KAPPA: f64 = 1.0;

/// One business day of an underlying path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Day {
    /// Log close.
    pub x: f64,
    /// Daily standard deviation of log returns in force (used for the intraday path too).
    pub sigma: f64,
    /// Annual carry rate: a contract with `t` years to expiry is priced `exp(x + carry × t)`.
    pub carry: f64,
    /// Whether the volatile regime is on.
    pub volatile: bool,
}

/// An underlying path, generated on demand from the first simulated business day.
#[derive(Debug, Clone)]
pub(crate) struct SpotPath {
    key: u64,
    params: PathParams,
    days: Vec<Day>,
    /// State carried from one day to the next besides `Day`.
    drift: f64,
    carry_ou: f64,
}

impl SpotPath {
    pub(crate) fn new(key: u64, params: PathParams) -> Self {
        Self {
            key,
            params,
            days: Vec::new(),
            drift: 0.0,
            carry_ou: 0.0,
        }
    }

    /// Generates days up to `last` (inclusive) if missing.
    pub(crate) fn ensure(&mut self, last: usize) {
        while self.days.len() <= last {
            self.push_day();
        }
    }

    /// The days generated so far.
    pub(crate) fn days(&self) -> &[Day] {
        &self.days
    }

    fn push_day(&mut self) {
        let p = &self.params;
        let i = self.days.len();
        let d = Draws::new(self.key, i, 0);
        let mean = p.level.ln();
        let carry_sd = p.carry_vol / (2.0 * CARRY_KAPPA).sqrt();
        let prev = match self.days.last() {
            Some(prev) => *prev,
            None => {
                // Day 0: start near the typical level, in a random regime.
                self.drift = DRIFT_SCALE * p.vol * d.n(2);
                self.carry_ou = p.carry_mean + carry_sd * d.n(5);
                let volatile = d.u(0) < 0.25;
                let x = mean + 0.25 * p.vol * d.n(3);
                let sigma = p.vol * if volatile { VOLATILE } else { CALM } / DAYS_PER_YEAR.sqrt();
                self.days.push(Day {
                    x,
                    sigma,
                    carry: self.carry_ou - p.carry_beta * (x - mean),
                    volatile,
                });
                return;
            }
        };
        let switch = if prev.volatile {
            P_TO_CALM
        } else {
            P_TO_VOLATILE
        };
        let volatile = prev.volatile != (d.u(0) < switch);
        if d.u(1) < P_NEW_DRIFT {
            self.drift = DRIFT_SCALE * p.vol * d.n(2);
        }
        // Regime multipliers are scaled so that the long-run average variance is vol².
        let norm = (0.75 * CALM * CALM + 0.25 * VOLATILE * VOLATILE).sqrt();
        let mult = if volatile { VOLATILE } else { CALM } / norm;
        let sigma = p.vol * mult / DAYS_PER_YEAR.sqrt();
        let tail_norm = (1.0 - P_TAIL + P_TAIL * TAIL_MULT * TAIL_MULT).sqrt();
        let mut z = d.n(3);
        if d.u(4) < P_TAIL {
            z *= TAIL_MULT;
        }
        z /= tail_norm;
        let x = prev.x + (self.drift - p.kappa * (prev.x - mean)) / DAYS_PER_YEAR
            - 0.5 * sigma * sigma
            + sigma * z;
        self.carry_ou += CARRY_KAPPA * (p.carry_mean - self.carry_ou) / DAYS_PER_YEAR
            + p.carry_vol / DAYS_PER_YEAR.sqrt() * d.n(5);
        self.days.push(Day {
            x,
            sigma,
            carry: self.carry_ou - p.carry_beta * (x - mean),
            volatile,
        });
    }

    /// The hourly log path of day `i`: `HOURS + 1` points, from the open to the close, and per
    /// bar the extra excursion above the higher and below the lower end.
    /// `i` must have been generated ([`SpotPath::ensure`]).
    pub(crate) fn intraday(&self, i: usize) -> Intraday {
        let day = self.days[i];
        let prev_x = if i == 0 { day.x } else { self.days[i - 1].x };
        let d = Draws::new(self.key, i, 1);
        let s = day.sigma * (1.0 / HOURS as f64).sqrt();
        let mut pts = [0.0; HOURS + 1];
        pts[0] = prev_x + 0.2 * day.sigma * d.n(0);
        pts[HOURS] = day.x;
        for k in 1..HOURS {
            let m = (HOURS - k + 1) as f64;
            pts[k] =
                pts[k - 1] + (day.x - pts[k - 1]) / m + s * ((m - 1.0) / m).sqrt() * d.n(k as u64);
        }
        let mut up = [0.0; HOURS];
        let mut down = [0.0; HOURS];
        for k in 0..HOURS {
            up[k] = 0.4 * s * d.n(100 + k as u64).abs();
            down[k] = 0.4 * s * d.n(200 + k as u64).abs();
        }
        Intraday { pts, up, down }
    }
}

/// Hourly bars per business day.
pub(crate) const HOURS: usize = 8;
/// UTC hour of the first hourly bar.
pub(crate) const FIRST_HOUR: u32 = 14;

/// One day's intraday log path (see [`SpotPath::intraday`]).
pub(crate) struct Intraday {
    pub pts: [f64; HOURS + 1],
    pub up: [f64; HOURS],
    pub down: [f64; HOURS],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_day_numbers_round_trip() {
        let mut d = NaiveDate::from_ymd_opt(2019, 12, 27).unwrap();
        let mut prev = None;
        for _ in 0..30 {
            if is_business_day(d) {
                let n = business_days_before(d);
                assert_eq!(business_day_number(n), d);
                if let Some(p) = prev {
                    assert_eq!(n, p + 1);
                }
                prev = Some(n);
            }
            d += Duration::days(1);
        }
    }

    #[test]
    fn normals_look_normal() {
        let xs: Vec<f64> = (0..20_000).map(|i| normal(key(&[7, i]))).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.03, "{mean}");
        assert!((var - 1.0).abs() < 0.05, "{var}");
    }
}
