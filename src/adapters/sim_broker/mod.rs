//! `SimBroker`: the simulated broker's account. Its value is the configured
//! `broker.sim_account_value` in the base currency `capital.base_currency`; no currency
//! conversion is offered (asking in another currency is an error naming it). No positions or
//! orders exist yet, so the margin used is 0 and there is no simulated trading P&L.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::broker::*;
use crate::domain::contract::ContractId;
use crate::domain::instrument::InstrumentCode;
use crate::domain::ports::Frequency;
use crate::domain::series::ContractPrices;

#[derive(Debug, Clone, PartialEq)]
pub struct SimBroker {
    /// Account value in `currency`.
    pub account_value: f64,
    /// The account's currency (three letters, upper case).
    pub currency: String,
}

fn not_yet() -> BrokerError {
    BrokerError::Other {
        code: None,
        detail: "the simulated broker does not trade yet".into(),
    }
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

#[async_trait]
impl Broker for SimBroker {
    fn kind(&self) -> &'static str {
        "sim"
    }
    async fn health(&self) -> ConnectionHealth {
        ConnectionHealth {
            connected: true,
            last_ok: None,
            down_since: None,
            detail: "simulated".into(),
        }
    }
    async fn account_value(&self, currency: &str) -> Result<AccountValue, BrokerError> {
        self.check(currency)?;
        Ok(AccountValue {
            value: self.account_value,
            margin_used: 0.0,
        })
    }
    async fn positions(&self) -> Result<Vec<BrokerPosition>, BrokerError> {
        Ok(Vec::new())
    }
    async fn contract_details(
        &self,
        _: &InstrumentCode,
        _: ContractId,
    ) -> Result<ContractDetails, BrokerError> {
        Err(not_yet())
    }
    async fn historical_bars(
        &self,
        _: &InstrumentCode,
        _: ContractId,
        _: Frequency,
    ) -> Result<ContractPrices, BrokerError> {
        Err(not_yet())
    }
    async fn quote(&self, _: &InstrumentCode, _: ContractId) -> Result<Quote, BrokerError> {
        Err(not_yet())
    }
    async fn place_order(&self, _: &OrderRequest) -> Result<OrderState, BrokerError> {
        Err(not_yet())
    }
    async fn modify_order(&self, _: &str, _: f64) -> Result<OrderState, BrokerError> {
        Err(not_yet())
    }
    async fn cancel_order(&self, _: &str) -> Result<OrderState, BrokerError> {
        Err(not_yet())
    }
    async fn order_state(&self, _: &str) -> Result<OrderState, BrokerError> {
        Err(not_yet())
    }
    async fn open_orders(&self) -> Result<Vec<OrderState>, BrokerError> {
        Ok(Vec::new())
    }
    async fn executions(&self, _: Option<DateTime<Utc>>) -> Result<Vec<Execution>, BrokerError> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn values_the_account_in_its_currency_only() {
        let b = SimBroker::new(500_000.0, "USD");
        let v = b.account_value("USD").await.unwrap();
        assert_eq!(v.value, 500_000.0);
        assert_eq!(v.margin_used, 0.0);
        assert_eq!(b.account_value("usd").await.unwrap().value, 500_000.0);
        let e = b.account_value("EUR").await.unwrap_err();
        assert!(
            e.to_string().contains("EUR") && e.to_string().contains("USD"),
            "{e}"
        );
        assert!(!e.is_retryable());
    }
}
