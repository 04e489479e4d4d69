//! Execution decisions (B15, B19–B21), as pure functions: analysis of a top-of-book tick for
//! an order, the passive/aggressive decisions of the best-execution algo (`algoOriginalBest`),
//! limit-price rounding, trade limits (rolling per-period counts of contracts traded) and the
//! sizing of a multi-leg order by trade limits and by liquidity, leg ratios and the price of a
//! spread fill, and the auto-populated standard position, trade limit and position limit.
//!
//! No I/O and no clock: callers pass ticks, elapsed times, the time left to the close and `now`.
//! Quantities are signed contracts (positive buys), prices `f64`.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Serialize, Serializer};

// ---- Tick analysis (B20) ----

/// Top of the book: best bid and offer and the sizes quoted at them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Tick {
    pub bid: f64,
    pub ask: f64,
    pub bid_size: f64,
    pub ask_size: f64,
}

/// A tick seen from one side of an order (pysystemtrade's `analysisTick`).
///
/// The *side* is the price you pay by crossing the spread (ask for a buy, bid for a sell); the
/// *offside* is the passive price you quote at (bid for a buy, ask for a sell).
///
/// §E7: pysystemtrade's documentation calls the offside price "the offer for buys", but its code
/// (`tick_data.py`) uses the bid, and the best-execution algo places its passive limit there.
/// We follow the code: offside = the passive side.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TickAnalysis {
    pub side_price: f64,
    pub offside_price: f64,
    /// Size quoted at the side price: what the order could take at once (ask size for a buy).
    pub side_qty: f64,
    /// Size quoted at the offside price (bid size for a buy): the queue we would join.
    pub offside_qty: f64,
    pub mid: f64,
    /// `offside_qty / side_qty`; 9999 when `side_qty` is 0.
    pub imbalance: f64,
}

/// `imbalance` when nothing is quoted on the side price, as in pysystemtrade.
pub const NO_SIDE_SIZE_IMBALANCE: f64 = 9999.0;

/// The tick seen from an order of `quantity`; `None` when bid or ask is not a finite positive
/// number, bid > ask (crossed book), or the quantity is 0. Sizes that are negative or not finite
/// count as 0 (nothing quoted).
pub fn analyse(tick: &Tick, quantity: i64) -> Option<TickAnalysis> {
    let valid_price = |p: f64| p.is_finite() && p > 0.0;
    if quantity == 0 || !valid_price(tick.bid) || !valid_price(tick.ask) || tick.bid > tick.ask {
        return None;
    }
    let size = |s: f64| if s.is_finite() && s > 0.0 { s } else { 0.0 };
    let (bid_size, ask_size) = (size(tick.bid_size), size(tick.ask_size));
    let (side_price, offside_price, side_qty, offside_qty) = if quantity > 0 {
        (tick.ask, tick.bid, ask_size, bid_size)
    } else {
        (tick.bid, tick.ask, bid_size, ask_size)
    };
    let imbalance = if side_qty == 0.0 {
        NO_SIDE_SIZE_IMBALANCE
    } else {
        offside_qty / side_qty
    };
    Some(TickAnalysis {
        side_price,
        offside_price,
        side_qty,
        offside_qty,
        mid: (tick.bid + tick.ask) / 2.0,
        imbalance,
    })
}

/// Whether the market has moved away from a passive order since `reference`: for a buy the
/// offside (bid) has risen, for a sell the offside (ask) has fallen. A zero quantity never
/// moves adversely.
pub fn adverse_move(reference: &TickAnalysis, current: &TickAnalysis, quantity: i64) -> bool {
    match quantity.signum() {
        1 => current.offside_price > reference.offside_price,
        -1 => current.offside_price < reference.offside_price,
        _ => false,
    }
}

/// `price` on the contract's tick grid: `min_tick × round(price / min_tick)`. A tick that is not
/// a finite positive number leaves the price unchanged.
pub fn round_to_tick(price: f64, min_tick: f64) -> f64 {
    if !(min_tick.is_finite() && min_tick > 0.0) {
        return price;
    }
    min_tick * (price / min_tick).round()
}

// ---- Best execution (B20, `algoOriginalBest`) ----

/// The parameters of the best-execution algo; `Default` is pysystemtrade's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BestExecutionParams {
    /// A passive limit becomes aggressive after this long (300 s).
    #[serde(serialize_with = "as_seconds")]
    pub passive_timeout: Duration,
    /// The order is cancelled after this long (600 s).
    #[serde(serialize_with = "as_seconds")]
    pub total_timeout: Duration,
    /// Imbalance (offside size / side size) above which the book is against us (5).
    pub imbalance_threshold: f64,
    /// With an imbalanced book, the side size needed, in multiples of |quantity| (3).
    pub side_qty_multiple: f64,
    /// Less time than this to the close (or the stack handler's stop): no passive order (30 min).
    #[serde(serialize_with = "as_seconds")]
    pub closing_margin: Duration,
    /// After a broker rejection, a leg is not sent again for this long (60 s).
    #[serde(serialize_with = "as_seconds")]
    pub reject_backoff: Duration,
    /// A leg the broker rejected this many times is not sent again (3); the order waits on
    /// the stack for an operator (cancel it, or fix the cause and clear the stack).
    pub max_reject_tries: u32,
}

impl Default for BestExecutionParams {
    fn default() -> Self {
        BestExecutionParams {
            passive_timeout: Duration::seconds(300),
            total_timeout: Duration::seconds(600),
            imbalance_threshold: 5.0,
            side_qty_multiple: 3.0,
            closing_margin: Duration::minutes(30),
            reject_backoff: Duration::seconds(60),
            max_reject_tries: 3,
        }
    }
}

fn as_seconds<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_i64(d.num_seconds())
}

/// Why a passive order is not placed, or a passive limit must cross the spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AggressiveReason {
    /// The passive timeout has passed since submission.
    PassiveTimeout,
    /// The market closes, or the stack handler stops, within the closing margin.
    ClosingSoon,
    /// The offside price moved away from us since the order was placed.
    AdverseMove,
    /// The book is imbalanced against us and too little is quoted on the side price.
    SizeImbalance,
    /// No valid bid and ask: data error, so cross rather than wait blind.
    NoValidTick,
}

impl fmt::Display for AggressiveReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AggressiveReason::PassiveTimeout => "passive time-out passed",
            AggressiveReason::ClosingSoon => "market closing or stack handler stopping soon",
            AggressiveReason::AdverseMove => "adverse price movement",
            AggressiveReason::SizeImbalance => {
                "size imbalance against us with too little on our side"
            }
            AggressiveReason::NoValidTick => "no valid bid and ask (data problem)",
        })
    }
}

/// The first order of the best-execution algo.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InitialOrder {
    /// A passive limit at the offside price (bid for a buy). The caller rounds it to the tick.
    Limit { price: f64 },
    /// A market order, and why a passive limit was not viable.
    Market { reason: AggressiveReason },
}

/// The size condition (both needed): imbalance above the threshold and the side size below
/// `side_qty_multiple × |quantity|`.
pub fn size_imbalanced(
    analysis: &TickAnalysis,
    quantity: i64,
    params: &BestExecutionParams,
) -> bool {
    let needed = params.side_qty_multiple * quantity.unsigned_abs() as f64;
    analysis.imbalance > params.imbalance_threshold && analysis.side_qty.abs() < needed
}

/// Whether less than the closing margin is left; `None` means no close is known.
fn closing_soon(time_left: Option<Duration>, params: &BestExecutionParams) -> bool {
    time_left.is_some_and(|t| t < params.closing_margin)
}

/// A passive limit at the offside price when viable; otherwise a market order, when the book is
/// imbalanced against us (checked first, as pysystemtrade) or `time_left` (to the contract's
/// close or the stack handler's stop, whichever is sooner; negative once passed) is below the
/// closing margin.
pub fn initial_order(
    analysis: &TickAnalysis,
    quantity: i64,
    time_left: Option<Duration>,
    params: &BestExecutionParams,
) -> InitialOrder {
    if size_imbalanced(analysis, quantity, params) {
        InitialOrder::Market {
            reason: AggressiveReason::SizeImbalance,
        }
    } else if closing_soon(time_left, params) {
        InitialOrder::Market {
            reason: AggressiveReason::ClosingSoon,
        }
    } else {
        InitialOrder::Limit {
            price: analysis.offside_price,
        }
    }
}

/// Why a passive limit placed at `reference` must become aggressive now, if it must. Checked in
/// pysystemtrade's order: passive timeout (`elapsed` since submission strictly above it),
/// closing soon, then on the `current` tick (`None`: no valid tick, a data error) an adverse
/// move, then the size condition. `current` must be analysed for the same `quantity`.
pub fn go_aggressive(
    elapsed: Duration,
    reference: &TickAnalysis,
    current: Option<&TickAnalysis>,
    quantity: i64,
    time_left: Option<Duration>,
    params: &BestExecutionParams,
) -> Option<AggressiveReason> {
    if elapsed > params.passive_timeout {
        return Some(AggressiveReason::PassiveTimeout);
    }
    if closing_soon(time_left, params) {
        return Some(AggressiveReason::ClosingSoon);
    }
    let Some(current) = current else {
        return Some(AggressiveReason::NoValidTick);
    };
    if adverse_move(reference, current, quantity) {
        return Some(AggressiveReason::AdverseMove);
    }
    if size_imbalanced(current, quantity, params) {
        return Some(AggressiveReason::SizeImbalance);
    }
    None
}

/// The limit price of an aggressive order: the side price (ask for a buy). The algo modifies the
/// broker's limit whenever it differs from this.
pub fn aggressive_price(current: &TickAnalysis) -> f64 {
    current.side_price
}

/// Whether the order has run out of time (strictly beyond the total timeout) and is cancelled.
pub fn timed_out(elapsed: Duration, params: &BestExecutionParams) -> bool {
    elapsed > params.total_timeout
}

// ---- Trading hours (B19 step 2, B20 closing soon) ----

/// Where `now` stands in a contract's trading hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "market", rename_all = "snake_case")]
pub enum MarketHours {
    /// In a session that closes in this many seconds.
    Open { closes_in_seconds: i64 },
    /// The hours are known and no session contains `now`.
    Closed,
    /// No usable hours (none stated, an unknown time zone, text that does not parse).
    Unknown,
}

/// `now` against IB's trading hours (`YYYYMMDD:HHMM-YYYYMMDD:HHMM` sessions, `;`- or
/// `,`-separated, `YYYYMMDD:CLOSED` days skipped) in
/// `time_zone` (IANA).
pub fn market_hours(trading_hours: &str, time_zone: &str, now: DateTime<Utc>) -> MarketHours {
    let Ok(tz) = time_zone.trim().parse::<chrono_tz::Tz>() else {
        return MarketHours::Unknown;
    };
    let at = |date: &str, hhmm: &str| -> Option<DateTime<Utc>> {
        let d = chrono::NaiveDate::parse_from_str(date.trim(), "%Y%m%d").ok()?;
        let t = chrono::NaiveTime::parse_from_str(hhmm.trim(), "%H%M").ok()?;
        use chrono::TimeZone;
        tz.from_local_datetime(&d.and_time(t))
            .earliest()
            .map(|x| x.with_timezone(&Utc))
    };
    let mut sessions = 0;
    for part in trading_hours.split([';', ',']).map(str::trim) {
        if part.is_empty() || part.ends_with("CLOSED") {
            continue;
        }
        let Some((start, end)) = part.split_once('-') else {
            return MarketHours::Unknown;
        };
        let Some((start_date, start_time)) = start.split_once(':') else {
            return MarketHours::Unknown;
        };
        let (end_date, end_time) = end.split_once(':').unwrap_or((start_date, end));
        let (Some(open), Some(close)) = (at(start_date, start_time), at(end_date, end_time)) else {
            return MarketHours::Unknown;
        };
        sessions += 1;
        if open <= now && now < close {
            return MarketHours::Open {
                closes_in_seconds: (close - now).num_seconds(),
            };
        }
    }
    if sessions == 0 {
        MarketHours::Unknown
    } else {
        MarketHours::Closed
    }
}

// ---- Trade limits (B15) ----

/// At most `limit` contracts (sum of |legs| of orders sent) per rolling period of `period_days`,
/// for one strategy's instrument or (`strategy: None`) the instrument across strategies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TradeLimit {
    /// `None`: instrument-wide (pysystemtrade's empty strategy name).
    pub strategy: Option<String>,
    pub instrument: String,
    pub limit: i64,
    pub period_days: u32,
    pub trades_since_reset: i64,
    pub last_reset: DateTime<Utc>,
}

impl TradeLimit {
    /// Starts the period again (trades 0, clock `now`) when more than `period_days` days have
    /// passed since the last reset (rolling from the last reset, not calendar days). Returns
    /// whether it reset. Call before reading the capacity.
    pub fn reset_if_due(&mut self, now: DateTime<Utc>) -> bool {
        let Some(period) = Duration::try_days(i64::from(self.period_days)) else {
            return false;
        };
        if now.signed_duration_since(self.last_reset) > period {
            self.trades_since_reset = 0;
            self.last_reset = now;
            true
        } else {
            false
        }
    }

    /// Contracts still allowed this period: `limit − trades`, never below 0.
    ///
    /// §E6: pysystemtrade does not clamp, so after a limit is lowered below the trades already
    /// done the capacity is negative, and its resize maths (ratio = capacity / total) then
    /// yields a size of the opposite sign that `abs` turns positive: an order goes out although
    /// the limit is used up. Clamped, nothing more is traded until the period resets.
    pub fn capacity(&self) -> i64 {
        self.limit.saturating_sub(self.trades_since_reset).max(0)
    }

    /// Counts an order sent: `abs_qty` is its ordered quantity, Σ|legs| (the sign is ignored).
    pub fn record(&mut self, abs_qty: i64) {
        self.trades_since_reset = self
            .trades_since_reset
            .saturating_add(abs_qty.saturating_abs());
    }

    /// Whether this limit applies to an order of `strategy` in `instrument`: it is the
    /// instrument's, and instrument-wide or that strategy's.
    pub fn applies_to(&self, strategy: &str, instrument: &str) -> bool {
        self.instrument == instrument && self.strategy.as_deref().is_none_or(|s| s == strategy)
    }
}

/// The limits an order of `strategy` in `instrument` must respect (and, once sent, count
/// towards): every instrument-wide limit of the instrument, whatever its period, and every
/// limit for that (strategy, instrument).
pub fn relevant<'a>(
    limits: &'a [TradeLimit],
    strategy: &str,
    instrument: &str,
) -> Vec<&'a TradeLimit> {
    limits
        .iter()
        .filter(|l| l.applies_to(strategy, instrument))
        .collect()
}

/// The total |quantity| allowed out of `proposed_abs`: the smallest capacity of the `relevant`
/// limits, or `proposed_abs` when none apply. Never negative (a negative `proposed_abs` gives 0).
/// Limits must be [`TradeLimit::reset_if_due`] first.
pub fn allowed_abs_quantity(relevant: &[&TradeLimit], proposed_abs: i64) -> i64 {
    relevant
        .iter()
        .map(|l| l.capacity())
        .fold(proposed_abs, i64::min)
        .max(0)
}

// ---- Leg sizing (B19 step 3) ----

/// Each leg scaled by `num / den` (with `0 ≤ num < den`), rounded towards zero, kept only if the
/// integer leg ratios survive; otherwise all zeros.
fn scale_keeping_ratios(legs: &[i64], num: i128, den: i128) -> Vec<i64> {
    let zeros = vec![0; legs.len()];
    if num <= 0 || den <= 0 {
        return zeros;
    }
    let scaled: Vec<i64> = legs
        .iter()
        .map(|&leg| {
            let abs = i128::from(leg).abs() * num / den;
            // abs ≤ |leg| because num < den, so it fits back into an i64.
            let abs = i64::try_from(abs).unwrap_or(i64::MAX);
            if leg < 0 {
                -abs
            } else {
                abs
            }
        })
        .collect();
    if leg_ratios(&scaled) == leg_ratios(legs) {
        scaled
    } else {
        zeros
    }
}

/// The legs cut so that Σ|leg| ≤ `allowed_total_abs` (from trade limits): unchanged when they
/// already fit; else each leg becomes sign × floor(ratio × |leg|) with ratio = allowed / Σ|leg|,
/// kept only if the result has the same integer leg ratios as the legs ([−2, 2] → [−1, 1] is
/// fine; [3, −1] → [1, 0] is not, giving [0, 0]). Allowed ≤ 0 → zeros. The floor is computed in
/// exact integer arithmetic, so no float rounding drops a contract.
pub fn scale_legs(legs: &[i64], allowed_total_abs: i64) -> Vec<i64> {
    let total: i128 = legs.iter().map(|&l| i128::from(l).abs()).sum();
    let allowed = i128::from(allowed_total_abs);
    if allowed <= 0 {
        return vec![0; legs.len()];
    }
    if total <= allowed {
        return legs.to_vec();
    }
    scale_keeping_ratios(legs, allowed, total)
}

/// The legs cut to the liquidity at the top of the book: `available[i]` is what leg `i` can take
/// at once, and the most constrained leg (smallest available / |leg|) sets one ratio for all
/// legs, applied as in [`scale_legs`] (floored, zeros if the leg ratios cannot be kept).
///
/// Pass the **side** size of each leg's tick ([`TickAnalysis::side_qty`]: the ask size for a
/// buy, the bid size for a sell). §E7: pysystemtrade caps by `offside_qty`, which for a buy is
/// the bid size — the queue we would join, not what a buyer can take; we deliberately use the
/// side size. Availability that is negative or not finite counts as 0; fractional sizes are
/// floored. Legs and availabilities of different lengths give zeros.
pub fn liquidity_cap(legs: &[i64], available: &[f64]) -> Vec<i64> {
    if legs.len() != available.len() {
        return vec![0; legs.len()];
    }
    // (cap, |leg|) of the leg with the smallest cap / |leg|, over non-zero legs.
    let mut tightest: Option<(i128, i128)> = None;
    for (&leg, &avail) in legs.iter().zip(available) {
        let abs = i128::from(leg).abs();
        if abs == 0 {
            continue;
        }
        // `as` saturates at i64::MAX; the value is finite and ≥ 0 here.
        let avail = if avail.is_finite() && avail > 0.0 {
            i128::from(avail.floor() as i64)
        } else {
            0
        };
        let cap = avail.min(abs);
        let tighter = tightest.is_none_or(|(c, a)| cap * a < c * abs);
        if tighter {
            tightest = Some((cap, abs));
        }
    }
    match tightest {
        None => legs.to_vec(),
        Some((cap, abs)) if cap >= abs => legs.to_vec(),
        Some((cap, abs)) => scale_keeping_ratios(legs, cap, abs),
    }
}

// ---- Leg ratios and spread price (B21) ----

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The legs divided by their highest common factor, signed so the first non-zero leg is
/// positive: [−2, 2] → [1, −1], [4, −6] → [2, −3]. All zero (or empty) → unchanged. Leading zero
/// legs keep the sign of the first non-zero leg ([0, −2] → [0, 1]); pysystemtrade would divide
/// by sign(0) there.
pub fn leg_ratios(legs: &[i64]) -> Vec<i64> {
    let hcf = legs
        .iter()
        .fold(0u128, |g, &l| gcd(g, u128::from(l.unsigned_abs())));
    if hcf == 0 {
        return legs.to_vec();
    }
    let negate = legs.iter().find(|&&l| l != 0).is_some_and(|&l| l < 0);
    let hcf = i128::try_from(hcf).unwrap_or(i128::MAX);
    legs.iter()
        .map(|&l| {
            let r = i128::from(l) / hcf;
            let r = if negate { -r } else { r };
            // |r| ≤ |l|; only negating an i64::MIN leg (with hcf 1) leaves the i64 range.
            i64::try_from(r).unwrap_or(if r < 0 { i64::MIN } else { i64::MAX })
        })
        .collect()
}

/// The price of a spread from its legs' prices: Σ leg ratio × price (e.g. legs [−2, 2] →
/// priced − forward). `None` when the lengths differ, there are no legs or all are zero, or a
/// price is not finite.
pub fn spread_price(legs: &[i64], prices: &[f64]) -> Option<f64> {
    if legs.len() != prices.len() || legs.iter().all(|&l| l == 0) {
        return None;
    }
    if prices.iter().any(|p| !p.is_finite()) {
        return None;
    }
    let price = leg_ratios(legs)
        .iter()
        .zip(prices)
        .map(|(&r, &p)| r as f64 * p)
        .sum();
    Some(price)
}

// ---- Auto-populated limits (B15) ----

/// What the standard position of an instrument is computed from (pysystemtrade's
/// `reporting/data/constants.py` defaults in [`StandardPositionInputs::new`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StandardPositionInputs {
    /// Total capital, base currency.
    pub capital: f64,
    /// Instrument diversification multiplier (2.5).
    pub idm: f64,
    pub instrument_weight: f64,
    /// Annualised risk target, a fraction (0.25).
    pub risk_target: f64,
    /// Maximum forecast over average forecast (2.0).
    pub max_over_avg_forecast: f64,
    /// Annual price standard deviation × point size, base currency (B29).
    pub annual_cash_risk_per_contract: f64,
    pub notional_exposure_per_contract: f64,
    pub max_leverage: f64,
    /// Largest share of the risk target in one instrument (0.20).
    pub concentration: f64,
    /// Best average daily volume in contracts; `None`: no data, no volume bound.
    pub average_daily_volume: Option<f64>,
    /// Share of the daily volume one position may be (0.01).
    pub volume_fraction: f64,
}

impl StandardPositionInputs {
    /// The instrument's figures with pysystemtrade's defaults for the rest: IDM 2.5, instrument
    /// weight 0.04, risk target 0.25, max/average forecast 2, max leverage 1, concentration
    /// 0.20, volume fraction 0.01, no volume data.
    pub fn new(
        capital: f64,
        annual_cash_risk_per_contract: f64,
        notional_exposure_per_contract: f64,
    ) -> Self {
        StandardPositionInputs {
            capital,
            idm: 2.5,
            instrument_weight: 0.04,
            risk_target: 0.25,
            max_over_avg_forecast: 2.0,
            annual_cash_risk_per_contract,
            notional_exposure_per_contract,
            max_leverage: 1.0,
            concentration: 0.20,
            average_daily_volume: None,
            volume_fraction: 0.01,
        }
    }

    /// The smallest of the bounds, in contracts:
    /// * risk: |max/avg forecast × capital × IDM × weight × risk target / cash risk per contract|;
    /// * leverage: floor(capital × max leverage / notional per contract);
    /// * concentration: floor(capital × risk target × concentration / cash risk per contract);
    /// * volume (when known): volume fraction × average daily volume.
    ///
    /// `None` when any input (the volume, if given) is not a finite positive number.
    pub fn standard_position(&self) -> Option<f64> {
        let inputs = [
            self.capital,
            self.idm,
            self.instrument_weight,
            self.risk_target,
            self.max_over_avg_forecast,
            self.annual_cash_risk_per_contract,
            self.notional_exposure_per_contract,
            self.max_leverage,
            self.concentration,
            self.volume_fraction,
        ];
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if !inputs.into_iter().all(positive) || !self.average_daily_volume.is_none_or(positive) {
            return None;
        }
        let risk = (self.max_over_avg_forecast
            * self.capital
            * self.idm
            * self.instrument_weight
            * self.risk_target
            / self.annual_cash_risk_per_contract)
            .abs();
        let leverage =
            (self.capital * self.max_leverage / self.notional_exposure_per_contract).floor();
        let concentration = (self.capital * self.risk_target * self.concentration
            / self.annual_cash_risk_per_contract)
            .floor();
        let volume = self
            .average_daily_volume
            .map_or(f64::INFINITY, |v| self.volume_fraction * v);
        let standard = risk.min(leverage).min(concentration).min(volume);
        standard.is_finite().then_some(standard)
    }
}

/// The auto-populated instrument-wide trade limit for a period of `period_days`:
/// max(4, ceil(|standard × √period × 0.33|)). A standard position that is not finite gives 4.
pub fn auto_trade_limit(standard: f64, period_days: u32) -> i64 {
    let raw = (standard * f64::from(period_days).sqrt() * 0.33)
        .abs()
        .ceil();
    if !raw.is_finite() {
        return 4;
    }
    // `as` saturates at i64::MAX.
    (raw as i64).max(4)
}

/// The auto-populated position limit: the integer part of |standard| (0 when not finite;
/// saturating for huge values).
pub fn auto_position_limit(standard: f64) -> i64 {
    if !standard.is_finite() {
        return 0;
    }
    standard.abs().trunc() as i64
}

#[cfg(test)]
mod tests;
