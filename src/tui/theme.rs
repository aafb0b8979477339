//! Themes as data: `themes/*.toml` with semantic slot names (`[severity] critical`,
//! `[exchange_status] error`), every slot optional over the default theme, unknown keys
//! rejected so a typo surfaces at start instead of doing nothing.
//!
//! The four shipped themes are embedded with `include_str!`, so recon runs from any
//! directory; a same-named file in `<config dir>/themes/` wins. A theme paints the whole
//! screen: `[base] text` carries the background every cell starts from (a file that sets
//! `text` without a colour keeps the default's), and `[base] selected` carries both
//! colours (a file that leaves out its foreground gets the text's), so no row keeps a
//! colour that vanishes into the highlight. Widgets ask semantic
//! questions (`theme.severity(s)`, `theme.block(focused)`) and never name a colour; the
//! symbol and word of a severity or status come from code, so no theme can make a row
//! unreadable without colour.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

use crate::domain::{DiscrepancySeverity, DiscrepancyState, ReconciliationStatus};
use crate::engine::report::{CircuitState, ExchangeStatus};

/// The shipped themes, in the order `t` cycles through them. `default` sets every slot.
pub const SHIPPED: [(&str, &str); 4] = [
    ("default", include_str!("../../themes/default.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("colorblind", include_str!("../../themes/colorblind.toml")),
];

/// Why the themes could not be loaded. One line, naming the theme or file at fault.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    /// `[ui] theme` names no shipped theme and no file.
    #[error("ui.theme: unknown theme '{name}' (available: {})", available.join(", "))]
    Unknown {
        /// The configured name.
        name: String,
        /// What could have been chosen.
        available: Vec<String>,
    },
    /// A theme file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A theme file is not valid: bad TOML, unknown key, bad colour.
    #[error("{origin}: {message}")]
    Invalid {
        /// The file (or `themes/x.toml (built in)`).
        origin: String,
        /// Key path and what is wrong.
        message: String,
    },
}

/// One slot as written in TOML: `{ fg = "#d55e00", bold = true }`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StyleSpec {
    fg: Option<String>,
    bg: Option<String>,
    bold: Option<bool>,
    dim: Option<bool>,
    italic: Option<bool>,
    underlined: Option<bool>,
    reversed: Option<bool>,
}

impl StyleSpec {
    fn to_style(&self, key: &str) -> Result<Style, String> {
        let colour = |field: &str, raw: &Option<String>| -> Result<Option<Color>, String> {
            raw.as_deref()
                .map(|s| {
                    Color::from_str(s.trim()).map_err(|_| {
                        format!(
                            "{key}.{field}: '{s}' is not a colour (a name such as \"red\", \
                             \"#rrggbb\" or 0-255)"
                        )
                    })
                })
                .transpose()
        };
        let mut style = Style::new();
        if let Some(c) = colour("fg", &self.fg)? {
            style = style.fg(c);
        }
        if let Some(c) = colour("bg", &self.bg)? {
            style = style.bg(c);
        }
        for (flag, modifier) in [
            (self.bold, Modifier::BOLD),
            (self.dim, Modifier::DIM),
            (self.italic, Modifier::ITALIC),
            (self.underlined, Modifier::UNDERLINED),
            (self.reversed, Modifier::REVERSED),
        ] {
            if flag == Some(true) {
                style = style.add_modifier(modifier);
            }
        }
        Ok(style)
    }
}

/// Declares one `[section]`: its TOML form (every slot optional, unknown slots rejected)
/// and its resolved form (every slot a `Style`).
macro_rules! section {
    ($(#[$doc:meta])* $name:ident, $raw:ident, $key:literal { $($(#[$fdoc:meta])* $slot:ident),+ $(,)? }) => {
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct $raw { $($slot: Option<StyleSpec>,)+ }

        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $name { $($(#[$fdoc])* pub $slot: Style,)+ }

        impl $name {
            /// Every slot with its key (`base.text`), in declaration order.
            fn slots(&self) -> Vec<(&'static str, Style)> {
                vec![$((concat!($key, ".", stringify!($slot)), self.$slot),)+]
            }

            /// Sets the slots present in `raw`; with `complete`, a missing slot is an error.
            fn overlay(&mut self, raw: $raw, complete: bool) -> Result<(), String> {
                $(
                    let key = concat!($key, ".", stringify!($slot));
                    match raw.$slot {
                        Some(spec) => self.$slot = spec.to_style(key)?,
                        None if complete => return Err(format!("{key}: missing")),
                        None => {}
                    }
                )+
                Ok(())
            }
        }
    };
}

section!(
    /// `[base]`: text, chrome and selection.
    BaseStyles, RawBase, "base" {
        /// Body text and the screen background (every cell starts from it).
        text,
        /// Secondary text (hints, column headers).
        muted,
        /// Panel titles.
        title,
        /// Borders of unfocused panels.
        border,
        /// Border of the focused panel.
        border_focused,
        /// The selected row in the focused panel: both colours, over every cell's own.
        selected,
        /// Key names in the footer and help.
        key,
        /// Error text (an exchange's error, a failed action).
        error,
        /// Informational notices.
        notice,
    }
);

section!(
    /// `[status]`: the overall report status in the header.
    StatusStyles, RawStatus, "status" {
        /// Everything matches.
        reconciled,
        /// Open (counted) discrepancies.
        discrepancies,
        /// Some exchanges failed.
        partial,
        /// Ledger unreadable or no exchange fetched.
        failed,
        /// No cycle has completed yet.
        waiting,
    }
);

section!(
    /// `[severity]`: discrepancy severities.
    SeverityStyles, RawSeverity, "severity" {
        /// Low.
        low,
        /// Medium.
        medium,
        /// High.
        high,
        /// Critical.
        critical,
    }
);

section!(
    /// `[exchange_status]`: health of an exchange this cycle.
    ExchangeStatusStyles, RawExchangeStatus, "exchange_status" {
        /// Fetched.
        ok,
        /// Fetch failed.
        error,
        /// Not asked: the breaker is open.
        circuit_open,
    }
);

section!(
    /// `[circuit]`: breaker states.
    CircuitStyles, RawCircuit, "circuit" {
        /// Requests flow.
        closed,
        /// Requests refused.
        open,
        /// A trial is due.
        half_open,
    }
);

section!(
    /// `[cycle]`: the loop's state in the header.
    CycleStyles, RawCycle, "cycle" {
        /// The interval loop runs.
        running,
        /// The interval loop is paused.
        paused,
        /// The spinner while a cycle is in flight.
        spinner,
    }
);

section!(
    /// `[amount]`: amounts in the tables.
    AmountStyles, RawAmount, "amount" {
        /// Zero or positive.
        positive,
        /// Negative.
        negative,
        /// Not known (the exchange could not be fetched): never shown as zero.
        unknown,
    }
);

section!(
    /// `[widget]`: everything else.
    WidgetStyles, RawWidget, "widget" {
        /// Acknowledged discrepancies.
        acknowledged,
        /// Discrepancies a declared movement in flight explains (`recon expect`).
        explained,
        /// The cycle-latency sparkline.
        sparkline,
        /// The acknowledgement prompt.
        prompt,
        /// The active filter.
        filter,
    }
);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawTheme {
    base: RawBase,
    status: RawStatus,
    severity: RawSeverity,
    exchange_status: RawExchangeStatus,
    circuit: RawCircuit,
    cycle: RawCycle,
    amount: RawAmount,
    widget: RawWidget,
}

/// A resolved theme: every slot a `Style`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Theme {
    /// The name shown in the header and chosen by `[ui] theme`.
    pub name: String,
    /// `[base]`.
    pub base: BaseStyles,
    /// `[status]`.
    pub status: StatusStyles,
    /// `[severity]`.
    pub severity: SeverityStyles,
    /// `[exchange_status]`.
    pub exchange_status: ExchangeStatusStyles,
    /// `[circuit]`.
    pub circuit: CircuitStyles,
    /// `[cycle]`.
    pub cycle: CycleStyles,
    /// `[amount]`.
    pub amount: AmountStyles,
    /// `[widget]`.
    pub widget: WidgetStyles,
}

impl Theme {
    /// Parses `text` laid over `base` (or, without a base, requires every slot).
    pub fn parse(name: &str, text: &str, base: Option<&Theme>) -> Result<Self, String> {
        let value: toml::Value = text.parse().map_err(|e: toml::de::Error| {
            let line = e.span().map_or(1, |s| {
                text[..s.start.min(text.len())].matches('\n').count() + 1
            });
            format!("line {line}: {}", e.message().trim().replace('\n', " "))
        })?;
        let raw: RawTheme = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let msg = e.inner().message().trim().replace('\n', " ");
            if path == "." {
                msg
            } else {
                format!("{path}: {msg}")
            }
        })?;
        let complete = base.is_none();
        let mut theme = base.cloned().unwrap_or_default();
        theme.name = name.to_string();
        theme.base.overlay(raw.base, complete)?;
        theme.status.overlay(raw.status, complete)?;
        theme.severity.overlay(raw.severity, complete)?;
        theme
            .exchange_status
            .overlay(raw.exchange_status, complete)?;
        theme.circuit.overlay(raw.circuit, complete)?;
        theme.cycle.overlay(raw.cycle, complete)?;
        theme.amount.overlay(raw.amount, complete)?;
        theme.widget.overlay(raw.widget, complete)?;
        if let Some(base) = base {
            theme.fill_base_colours(base);
        }
        Ok(theme)
    }

    /// A theme file that sets `[base] text` or `selected` without one of their colours
    /// keeps the base theme's text colours there: a missing background would let the
    /// terminal's own show through, a missing selection foreground would leave a row's
    /// colour on a highlight that may be the same colour.
    fn fill_base_colours(&mut self, base: &Theme) {
        let text = &mut self.base.text;
        text.fg = text.fg.or(base.base.text.fg);
        text.bg = text.bg.or(base.base.text.bg);
        let selected = &mut self.base.selected;
        selected.fg = selected.fg.or(self.base.text.fg);
        selected.bg = selected.bg.or(base.base.selected.bg);
    }

    /// The embedded default theme.
    pub fn builtin_default() -> Self {
        // Checked by a unit test; the file is compiled in.
        Self::parse("default", SHIPPED[0].1, None).unwrap_or_default()
    }

    /// Every slot with its key (`base.text`, `severity.critical`, …): what a test needs
    /// to check a property of the whole theme.
    pub fn slots(&self) -> Vec<(&'static str, Style)> {
        let mut all = self.base.slots();
        all.extend(self.status.slots());
        all.extend(self.severity.slots());
        all.extend(self.exchange_status.slots());
        all.extend(self.circuit.slots());
        all.extend(self.cycle.slots());
        all.extend(self.amount.slots());
        all.extend(self.widget.slots());
        all
    }

    /// A discrepancy severity.
    pub fn severity(&self, s: DiscrepancySeverity) -> Style {
        match s {
            DiscrepancySeverity::Low => self.severity.low,
            DiscrepancySeverity::Medium => self.severity.medium,
            DiscrepancySeverity::High => self.severity.high,
            DiscrepancySeverity::Critical => self.severity.critical,
        }
    }

    /// The text of a discrepancy row in `state`: open rows in body text, acknowledged and
    /// explained ones in their own slots.
    pub fn discrepancy_state(&self, state: DiscrepancyState) -> Style {
        match state {
            DiscrepancyState::Open => self.base.text,
            DiscrepancyState::Acknowledged => self.widget.acknowledged,
            DiscrepancyState::Explained => self.widget.explained,
        }
    }

    /// The overall status (`None`: no cycle yet).
    pub fn status(&self, s: Option<ReconciliationStatus>) -> Style {
        match s {
            None => self.status.waiting,
            Some(ReconciliationStatus::Reconciled) => self.status.reconciled,
            Some(ReconciliationStatus::Discrepancies) => self.status.discrepancies,
            Some(ReconciliationStatus::Partial) => self.status.partial,
            Some(ReconciliationStatus::Failed) => self.status.failed,
        }
    }

    /// An exchange's health.
    pub fn exchange_status(&self, s: ExchangeStatus) -> Style {
        match s {
            ExchangeStatus::Ok => self.exchange_status.ok,
            ExchangeStatus::Error => self.exchange_status.error,
            ExchangeStatus::CircuitOpen => self.exchange_status.circuit_open,
        }
    }

    /// A breaker state.
    pub fn circuit(&self, c: CircuitState) -> Style {
        match c {
            CircuitState::Closed => self.circuit.closed,
            CircuitState::Open => self.circuit.open,
            CircuitState::HalfOpen => self.circuit.half_open,
        }
    }

    /// `style` over the base text style: what every widget paints with, so no cell is
    /// left to the terminal's own colours.
    pub fn on_base(&self, style: Style) -> Style {
        self.base.text.patch(style)
    }

    /// A panel border.
    pub fn block(&self, focused: bool) -> Style {
        if focused {
            self.base.border_focused
        } else {
            self.base.border
        }
    }

    /// An amount by sign.
    pub fn amount(&self, negative: bool) -> Style {
        if negative {
            self.amount.negative
        } else {
            self.amount.positive
        }
    }
}

/// Loads the shipped themes (each replaced by a same-named file in `<config_dir>/themes/`)
/// and, if `selected` is not one of them, `<config_dir>/themes/<selected>.toml`. Returns
/// the themes in cycling order and the index of `selected`.
pub fn load(config_dir: &Path, selected: &str) -> Result<(Vec<Theme>, usize), ThemeError> {
    let base =
        Theme::parse("default", SHIPPED[0].1, None).map_err(|message| ThemeError::Invalid {
            origin: "themes/default.toml (built in)".into(),
            message,
        })?;
    let dir = config_dir.join("themes");
    let mut themes = Vec::with_capacity(SHIPPED.len() + 1);
    for (name, text) in SHIPPED {
        let theme = match read_override(&dir, name)? {
            Some((path, text)) => parse_at(name, &text, &base, &path.display().to_string())?,
            None => parse_at(name, text, &base, &format!("themes/{name}.toml (built in)"))?,
        };
        themes.push(theme);
    }
    if let Some(i) = themes.iter().position(|t| t.name == selected) {
        return Ok((themes, i));
    }
    match read_override(&dir, selected)? {
        Some((path, text)) => {
            themes.push(parse_at(
                selected,
                &text,
                &base,
                &path.display().to_string(),
            )?);
            let i = themes.len() - 1;
            Ok((themes, i))
        }
        None => Err(ThemeError::Unknown {
            name: selected.to_string(),
            available: themes.iter().map(|t| t.name.clone()).collect(),
        }),
    }
}

fn parse_at(name: &str, text: &str, base: &Theme, origin: &str) -> Result<Theme, ThemeError> {
    Theme::parse(name, text, Some(base)).map_err(|message| ThemeError::Invalid {
        origin: origin.to_string(),
        message,
    })
}

fn read_override(dir: &Path, name: &str) -> Result<Option<(PathBuf, String)>, ThemeError> {
    let path = dir.join(format!("{name}.toml"));
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some((path, text))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ThemeError::Read { path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_theme_sets_every_slot() {
        Theme::parse("default", SHIPPED[0].1, None).expect("complete");
    }

    #[test]
    fn a_partial_theme_without_a_base_names_the_missing_slot() {
        let err = Theme::parse("x", "[severity]\nlow = { fg = \"red\" }\n", None).unwrap_err();
        assert_eq!(err, "base.text: missing");
    }

    #[test]
    fn unknown_keys_and_bad_colours_are_rejected_with_their_path() {
        let base = Theme::builtin_default();
        let err =
            Theme::parse("x", "[severity]\ncritcal = { fg = \"red\" }\n", Some(&base)).unwrap_err();
        assert!(
            err.starts_with("severity.critcal: unknown field `critcal`"),
            "{err}"
        );
        let err =
            Theme::parse("x", "[severity]\nhigh = { fg = \"redd\" }\n", Some(&base)).unwrap_err();
        assert!(
            err.starts_with("severity.high.fg: 'redd' is not a colour"),
            "{err}"
        );
        let err = Theme::parse("x", "[sev]\n", Some(&base)).unwrap_err();
        assert!(err.starts_with("sev: unknown field `sev`"), "{err}");
        let err = Theme::parse(
            "x",
            "[base]\ntext = { fg = \"red\", blink = true }\n",
            Some(&base),
        )
        .unwrap_err();
        assert!(
            err.starts_with("base.text.blink: unknown field `blink`"),
            "{err}"
        );
        let err = Theme::parse("x", "[base\n", Some(&base)).unwrap_err();
        assert!(err.starts_with("line 1:"), "{err}");
    }

    #[test]
    fn an_override_keeps_the_other_slots() {
        let base = Theme::builtin_default();
        let t = Theme::parse(
            "x",
            "[severity]\ncritical = { fg = \"#010203\" }\n",
            Some(&base),
        )
        .unwrap();
        assert_eq!(t.severity.critical, Style::new().fg(Color::Rgb(1, 2, 3)));
        assert_eq!(t.severity.high, base.severity.high);
        assert_eq!(t.base, base.base);
    }
}
