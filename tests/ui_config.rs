//! `[ui]` keys of the console at desk scale: bell, require_ack_note, mouse, timezone —
//! defaults, file, environment, and one-line errors naming the key.

use std::path::Path;

use recon::config::{TimeZoneSetting, TradingConfig, UiConfig};

const EX: &str = "[[exchanges]]\nname = \"x\"\nkind = \"simulated\"\nbalances = {}\n";

fn load(text: &str, env: &[(&str, &str)]) -> Result<TradingConfig, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, format!("{text}\n{EX}")).unwrap();
    TradingConfig::load_with_env(
        Path::new(&path),
        env.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>(),
    )
    .map_err(|e| e.to_string())
}

#[test]
fn the_console_keys_default_to_bell_note_mouse_on_and_utc() {
    let cfg = load("", &[]).unwrap();
    assert_eq!(
        cfg.ui,
        UiConfig {
            bell: true,
            require_ack_note: true,
            mouse: true,
            timezone: TimeZoneSetting::Utc,
        }
    );
}

#[test]
fn the_console_keys_come_from_the_file_and_the_environment() {
    let cfg = load(
        "[ui]\nbell = false\nrequire_ack_note = false\ntimezone = \"local\"\n",
        &[("RECON_UI_MOUSE", "false"), ("RECON_UI_BELL", "true")],
    )
    .unwrap();
    assert_eq!(
        cfg.ui,
        UiConfig {
            bell: true,
            require_ack_note: false,
            mouse: false,
            timezone: TimeZoneSetting::Local,
        }
    );
}

#[test]
fn bad_console_keys_are_one_line_naming_the_key() {
    let err = load("[ui]\ntimezone = \"Europe/Mars\"\n", &[]).unwrap_err();
    assert!(
        err.ends_with(
            "ui.timezone: 'Europe/Mars' is not a time zone setting: use \"UTC\" or \"local\""
        ),
        "{err}"
    );
    let err = load("", &[("RECON_UI_BELL", "maybe")]).unwrap_err();
    assert!(
        err.ends_with("RECON_UI_BELL: ui.bell: 'maybe' is not true or false"),
        "{err}"
    );
    let err = load("[ui]\nmouse = \"yes\"\n", &[]).unwrap_err();
    assert!(err.contains("ui.mouse"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
