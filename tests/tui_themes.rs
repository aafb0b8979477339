//! Themes load from the binary itself (any working directory), a same-named file in
//! `<config dir>/themes/` wins, and an unknown theme is one line on stderr and exit 1.

#[path = "support/config.rs"]
mod config;

use std::process::Command;

use ratatui::style::{Color, Modifier};

use recon::domain::DiscrepancySeverity;
use recon::tui::theme::{self, Theme, ThemeError, SHIPPED};

#[test]
fn every_shipped_theme_loads() {
    let nowhere = std::path::Path::new("/nonexistent");
    for (name, _) in SHIPPED {
        let (themes, i) = theme::load(nowhere, name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(themes[i].name, name);
        let t = &themes[i];
        // Every severity and status is styled (the default sets every slot).
        for s in DiscrepancySeverity::ALL {
            assert!(t.severity(s).fg.is_some(), "{name}: {s} has no colour");
        }
        assert!(t
            .severity(DiscrepancySeverity::Critical)
            .add_modifier
            .contains(Modifier::BOLD));
    }
}

#[test]
fn colorblind_uses_the_okabe_ito_palette() {
    let (themes, i) = theme::load(std::path::Path::new("/nonexistent"), "colorblind").unwrap();
    let okabe_ito = [
        Color::Rgb(0xe6, 0x9f, 0x00),
        Color::Rgb(0x56, 0xb4, 0xe9),
        Color::Rgb(0x00, 0x9e, 0x73),
        Color::Rgb(0xf0, 0xe4, 0x42),
        Color::Rgb(0x00, 0x72, 0xb2),
        Color::Rgb(0xd5, 0x5e, 0x00),
        Color::Rgb(0xcc, 0x79, 0xa7),
    ];
    for s in DiscrepancySeverity::ALL {
        let fg = themes[i].severity(s).fg.unwrap();
        assert!(
            okabe_ito.contains(&fg),
            "{s}: {fg:?} is not an Okabe-Ito colour"
        );
    }
}

#[test]
fn a_file_in_the_config_dir_wins_and_may_add_a_theme() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("themes")).unwrap();
    std::fs::write(
        dir.path().join("themes/light.toml"),
        "[severity]\ncritical = { fg = \"#123456\" }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("themes/desk.toml"),
        "[base]\ntitle = { fg = \"blue\" }\n",
    )
    .unwrap();
    let (themes, i) = theme::load(dir.path(), "light").unwrap();
    assert_eq!(
        themes[i].severity.critical.fg,
        Some(Color::Rgb(0x12, 0x34, 0x56))
    );
    // Slots it does not set come from the default theme.
    assert_eq!(
        themes[i].severity.high,
        Theme::builtin_default().severity.high
    );
    let (themes, i) = theme::load(dir.path(), "desk").unwrap();
    assert_eq!((themes.len(), themes[i].name.as_str()), (5, "desk"));
}

#[test]
fn a_broken_theme_file_names_itself_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("themes")).unwrap();
    let path = dir.path().join("themes/default.toml");
    std::fs::write(&path, "[severity]\ncritcal = { fg = \"red\" }\n").unwrap();
    let err = theme::load(dir.path(), "default").unwrap_err();
    assert!(matches!(err, ThemeError::Invalid { .. }));
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "{}: severity.critcal: unknown field `critcal`",
            path.display()
        )),
        "{msg}"
    );
}

#[test]
fn an_unknown_theme_is_one_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    config::write(dir.path(), "5", "x");
    for args in [
        &["--config", "config.toml"][..],
        &["--config", "config.toml", "tui"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_recon"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "recon: ui.theme: unknown theme 'x' (available: default, light, high-contrast, colorblind)\n"
        );
        assert!(out.stdout.is_empty());
    }
    // Rejected before anything was started: no database, no log directory.
    assert!(!dir.path().join("recon.db").exists());
    assert!(!dir.path().join("logs").exists());
}

#[test]
fn every_shipped_theme_styles_explained_and_paints_its_background() {
    let nowhere = std::path::Path::new("/nonexistent");
    for (name, text) in SHIPPED {
        // Each file names the slot itself (not only through the default).
        assert!(
            text.lines().any(|l| l.starts_with("explained = {")),
            "{name}: no [widget] explained"
        );
        let (themes, i) = theme::load(nowhere, name).unwrap();
        let t = &themes[i];
        let explained = t.widget.explained;
        assert!(explained.fg.is_some(), "{name}: explained has no colour");
        assert_ne!(explained, t.widget.acknowledged, "{name}");
        assert_ne!(explained, t.base.text, "{name}");
        let bg = t.base.text.bg.unwrap();
        assert_ne!(bg, Color::Reset, "{name}: the terminal's background shows");
        assert_ne!(t.base.text.fg, Some(Color::Reset), "{name}");
        let sel = t.base.selected;
        assert!(
            sel.fg.is_some() && sel.bg.is_some() && sel.fg != sel.bg,
            "{name}: selection {sel:?}"
        );
    }
}

#[test]
fn a_user_theme_without_the_newer_slots_gets_sensible_ones() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("themes")).unwrap();
    // Written before `explained` existed; text and selection without some colours.
    std::fs::write(
        dir.path().join("themes/desk.toml"),
        "[base]\ntext = { fg = \"#102030\" }\nselected = { bg = \"#c0c0c0\" }\n\
         [widget]\nacknowledged = { fg = \"#808080\" }\n",
    )
    .unwrap();
    let (themes, i) = theme::load(dir.path(), "desk").unwrap();
    let (t, default) = (&themes[i], Theme::builtin_default());
    assert_eq!(t.widget.explained, default.widget.explained);
    assert_eq!(
        t.base.text,
        ratatui::style::Style::new()
            .fg(Color::Rgb(0x10, 0x20, 0x30))
            .bg(Color::Black)
    );
    assert_eq!(
        t.base.selected,
        ratatui::style::Style::new()
            .fg(Color::Rgb(0x10, 0x20, 0x30))
            .bg(Color::Rgb(0xc0, 0xc0, 0xc0))
    );
    // An explicit choice stays: `reset` is the terminal's own, on purpose.
    std::fs::write(
        dir.path().join("themes/desk.toml"),
        "[base]\ntext = { fg = \"reset\", bg = \"reset\" }\n",
    )
    .unwrap();
    let (themes, i) = theme::load(dir.path(), "desk").unwrap();
    assert_eq!(themes[i].base.text.bg, Some(Color::Reset));
}

#[test]
fn the_default_theme_must_name_explained() {
    let without: String = SHIPPED[0]
        .1
        .lines()
        .filter(|l| !l.starts_with("explained"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        Theme::parse("default", &without, None).unwrap_err(),
        "widget.explained: missing"
    );
}
