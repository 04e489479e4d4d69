//! `SimBroker`: the simulated broker's account. Its value is the configured
//! `broker.sim_account_value` in the base currency `capital.base_currency`; no currency
//! conversion is offered (asking in another currency is an error naming it). No positions exist
//! yet (order management is a later issue), so the margin used is 0 and there is no simulated
//! trading P&L: the value moves only when the configuration does.

use crate::domain::broker::{BrokerAccount, BrokerError};

#[derive(Debug, Clone, PartialEq)]
pub struct SimBroker {
    /// Account value in `currency`.
    pub account_value: f64,
    /// The account's currency (three letters, upper case).
    pub currency: String,
}

impl SimBroker {
    pub fn new(account_value: f64, currency: impl Into<String>) -> Self {
        Self {
            account_value,
            currency: currency.into(),
        }
    }

    fn check(&self, currency: &str) -> Result<(), BrokerError> {
        if currency.eq_ignore_ascii_case(&self.currency) {
            Ok(())
        } else {
            Err(BrokerError::Currency {
                asked: currency.to_string(),
                base: self.currency.clone(),
            })
        }
    }
}

impl BrokerAccount for SimBroker {
    fn account_value(&self, currency: &str) -> Result<f64, BrokerError> {
        self.check(currency)?;
        Ok(self.account_value)
    }

    /// Always 0: the simulated broker holds no positions yet.
    fn margin_used(&self, currency: &str) -> Result<f64, BrokerError> {
        self.check(currency)?;
        Ok(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_the_account_in_its_currency_only() {
        let b = SimBroker::new(500_000.0, "USD");
        assert_eq!(b.account_value("USD"), Ok(500_000.0));
        assert_eq!(b.account_value("usd"), Ok(500_000.0));
        assert_eq!(b.margin_used("USD"), Ok(0.0));
        let e = b.account_value("EUR").unwrap_err();
        assert!(
            e.to_string().contains("EUR") && e.to_string().contains("USD"),
            "{e}"
        );
        assert!(!e.is_retryable());
        assert!(b.margin_used("GBP").is_err());
    }
}
