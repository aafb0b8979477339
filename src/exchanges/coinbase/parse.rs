//! The body of `GET /api/v3/brokerage/accounts`: one page of accounts plus the cursor.
//!
//! Only what the reconciliation needs is read exactly — `uuid` (to count an account listed
//! on two pages once), `currency`, `available_balance.value`, `hold.value`, `has_next`,
//! `cursor`; every other field (`type`, `platform`, timestamps) is
//! ignored, because the documented enums are not what real bodies always carry.

use rust_decimal::Decimal;
use serde::Deserialize;

use crate::domain::exact_add;
use crate::exchanges::http::{decode, JsonAmount};
use crate::exchanges::ExchangeError;

#[derive(Deserialize)]
struct RawPage {
    accounts: Vec<RawAccount>,
    has_next: bool,
    #[serde(default)]
    cursor: Option<String>,
}

#[derive(Deserialize)]
struct RawAccount {
    uuid: String,
    currency: String,
    available_balance: RawMoney,
    hold: RawMoney,
}

#[derive(Deserialize)]
struct RawMoney {
    value: JsonAmount,
}

/// One parsed page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountsPage {
    /// Per account, in body order: (currency, available + hold).
    pub rows: Vec<(String, Decimal)>,
    /// The account `uuid` of each row, same order.
    pub uuids: Vec<String>,
    /// Whether another page follows.
    pub has_next: bool,
    /// The cursor for the next page (`""` or absent on the last one).
    pub cursor: Option<String>,
}

/// Parses one page. A wrong shape is [`ExchangeError::Malformed`] (with the JSON path); an
/// amount that is not an exact decimal string is [`ExchangeError::Amount`] naming the
/// currency. Never a partial page.
pub fn parse_accounts_page(body: &[u8]) -> Result<AccountsPage, ExchangeError> {
    let page: RawPage = decode(body)?;
    let rows = page
        .accounts
        .iter()
        .map(|a| {
            let available = a.available_balance.value.parse(&a.currency)?;
            let hold = a.hold.value.parse(&a.currency)?;
            let total = exact_add(available, hold).ok_or_else(|| ExchangeError::Amount {
                asset: a.currency.clone(),
                detail: "available + hold cannot be held exactly in a 96-bit decimal".into(),
            })?;
            Ok((a.currency.clone(), total))
        })
        .collect::<Result<Vec<_>, ExchangeError>>()?;
    Ok(AccountsPage {
        rows,
        uuids: page.accounts.into_iter().map(|a| a.uuid).collect(),
        has_next: page.has_next,
        cursor: page.cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchanges::sum_by_asset;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/coinbase_advanced/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn totals(name: &str) -> Vec<(String, String)> {
        let page = parse_accounts_page(&fixture(name)).unwrap();
        sum_by_asset(page.rows)
            .unwrap()
            .into_iter()
            .map(|(a, d)| (a.to_string(), crate::domain::format_amount(d)))
            .collect()
    }

    #[test]
    fn split_currency_with_holds_sums_every_account() {
        assert_eq!(
            totals("accounts_split_currency_with_hold.json"),
            vec![("BTC".into(), "0.6".into()), ("USDC".into(), "1600".into())]
        );
    }

    #[test]
    fn docs_example_parses_despite_its_odd_type_and_asks_for_more() {
        let page = parse_accounts_page(&fixture("docs_example_list_accounts.json")).unwrap();
        assert!(page.has_next);
        assert_eq!(page.cursor.as_deref(), Some("789100"));
        assert_eq!(
            totals("docs_example_list_accounts.json"),
            vec![("BTC".into(), "2.46".into())]
        );
        assert_eq!(
            totals("accounts_last_page_ccxt_capture.json"),
            vec![("USDC".into(), "0".into())]
        );
        assert!(totals("accounts_empty_synthetic.json").is_empty());
    }

    #[test]
    fn bad_amounts_are_typed_errors_naming_the_currency() {
        for (file, asset, fragment) in [
            (
                "accounts_non_numeric_amount_synthetic.json",
                "USDC",
                "'N/A'",
            ),
            (
                "accounts_empty_string_amount_synthetic.json",
                "ETH",
                "empty string",
            ),
            (
                "accounts_amount_as_json_number_synthetic.json",
                "ETH",
                "a JSON number",
            ),
        ] {
            match parse_accounts_page(&fixture(file)) {
                Err(ExchangeError::Amount { asset: a, detail }) => {
                    assert_eq!(a, asset, "{file}");
                    assert!(detail.contains(fragment), "{file}: {detail}");
                }
                other => panic!("{file}: {other:?}"),
            }
        }
    }

    #[test]
    fn truncated_and_misshapen_bodies_are_malformed() {
        let err = parse_accounts_page(&fixture("accounts_truncated_synthetic.json")).unwrap_err();
        assert!(matches!(err, ExchangeError::Malformed(_)), "{err:?}");
        let err = parse_accounts_page(br#"{"accounts":[]}"#).unwrap_err();
        assert!(err.to_string().contains("has_next"), "{err}");
        let err = parse_accounts_page(br#"{"accounts":[{"currency":"BTC","available_balance":{"value":"1"}}],"has_next":false}"#).unwrap_err();
        assert!(err.to_string().contains("accounts[0]"), "{err}");
    }
}
