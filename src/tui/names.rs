//! Names that fit: a long venue name is shortened in the middle with `…`, so both its
//! start and the asset stay readable (`a-very-long…account:BTC`), the same way in every
//! panel. Widths are terminal columns (wide characters count two).

use unicode_width::UnicodeWidthStr;

/// `name` in at most `cols` columns: unchanged when it fits, else its start and end around
/// a `…` (the end gets the odd column: account suffixes such as `-main`/`-perps` tell
/// venues apart).
pub fn middle(name: &str, cols: usize) -> String {
    if name.width() <= cols {
        return name.to_string();
    }
    if cols == 0 {
        return String::new();
    }
    let room = cols - 1;
    let head_cols = room / 2;
    let tail_cols = room - head_cols;
    let mut head = String::new();
    let mut used = 0;
    for c in name.chars() {
        let w = c.to_string().width();
        if used + w > head_cols {
            break;
        }
        used += w;
        head.push(c);
    }
    let mut tail: Vec<char> = Vec::new();
    let mut used = 0;
    for c in name.chars().rev() {
        let w = c.to_string().width();
        if used + w > tail_cols {
            break;
        }
        used += w;
        tail.push(c);
    }
    tail.reverse();
    format!("{head}…{}", tail.into_iter().collect::<String>())
}

/// `exchange:asset` in at most `cols` columns: the asset is never cut (it is what the line
/// is about); the exchange gives up columns in its middle first.
pub fn id(exchange: &str, asset: &str, cols: usize) -> String {
    let fixed = asset.width() + 1;
    if exchange.width() + fixed <= cols {
        return format!("{exchange}:{asset}");
    }
    // At least two columns of venue ("a…") so the line still says which one it is.
    let room = cols.saturating_sub(fixed).max(2);
    format!("{}:{asset}", middle(exchange, room))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_that_fits_is_unchanged() {
        assert_eq!(middle("coinbase-main", 13), "coinbase-main");
        assert_eq!(id("coinbase-main", "BTC", 17), "coinbase-main:BTC");
    }

    #[test]
    fn a_long_name_keeps_its_start_and_end() {
        assert_eq!(middle("a-very-long-treasury-account", 12), "a-ver…ccount");
        assert_eq!(middle("a-very-long-treasury-account", 12).width(), 12);
        assert_eq!(
            id("a-very-long-treasury-account", "BTC", 20),
            "a-very-…-account:BTC"
        );
        assert_eq!(id("a-very-long-treasury-account", "BTC", 20).width(), 20);
    }

    #[test]
    fn the_asset_is_never_cut() {
        assert_eq!(id("exchange", "USDC", 4), "…e:USDC");
        assert_eq!(middle("abc", 0), "");
        assert_eq!(middle("abcdef", 1), "…");
    }

    #[test]
    fn wide_characters_count_two_columns() {
        assert_eq!(middle("交易所交易所交易所", 7), "交…所");
        assert!(middle("交易所交易所交易所", 7).width() <= 7);
    }
}
