//! What the capital update needs from a broker: the account value and the margin used, in a
//! currency. A minimal port; the full broker trait (orders, fills, positions) arrives with the
//! broker-layer issue and will absorb this one.

/// Errors of a broker account query.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BrokerError {
    /// The broker was not reachable or did not answer; trying again may help.
    #[error("broker unavailable: {detail}")]
    Unavailable { detail: String },
    /// The broker cannot value the account in this currency.
    #[error("the broker values the account in {base}, not {asked}; set capital.base_currency = \"{base}\"")]
    Currency { asked: String, base: String },
}

impl BrokerError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, BrokerError::Unavailable { .. })
    }
}

/// A broker account's valuation.
pub trait BrokerAccount: Send + Sync {
    /// The account's total value (cash plus the value of positions), in `currency`.
    fn account_value(&self, currency: &str) -> Result<f64, BrokerError>;

    /// Margin currently used by open positions, in `currency`.
    fn margin_used(&self, currency: &str) -> Result<f64, BrokerError>;
}
