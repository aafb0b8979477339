//! A secret pasted into the configuration (instead of the NAME of the variable holding
//! it) is never printed: the error names the key and never quotes the value, not even
//! in part, on every path: validation, a wrong TOML type, a TOML syntax error, an
//! environment override. Run as the real binary, since stderr is what cron mails.

use assert_cmd::Command;

/// A base64 secret, as a user would paste it.
const SECRET: &str = "dGhpcyBpcyBhIHZlcnkgc2VjcmV0IGtleQ==";
/// Fragments that must never appear: any recognisable piece of the secret.
const PIECES: &[&str] = &["dGhp", "c2VjcmV0", "IGtleQ", "ZXJ5"];

const SIM: &str = "[[exchanges]]\nname = \"x\"\nkind = \"simulated\"\nbalances = { BTC = \"1\" }\n";

/// Runs `recon --config c.toml <args>` in a temp dir; returns (exit code, stderr, stdout).
fn run(config: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.toml"), config).unwrap();
    std::fs::write(dir.path().join("ledger.toml"), "").unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_recon"));
    c.current_dir(dir.path())
        .env_clear()
        .env("RUST_BACKTRACE", "1")
        .args(["--config", "c.toml"])
        .args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

/// `config` exits 1, `once` exits 3 (unknown to monitoring), both with exactly
/// `expected` on stderr, nothing on stdout, and no piece of `secret` anywhere.
fn assert_refused_quietly(config: &str, env: &[(&str, &str)], expected: &str, secret: &[&str]) {
    for (args, code) in [(&["config"][..], 1), (&["once", "--format", "json"][..], 3)] {
        let (got, stderr, stdout) = run(config, args, env);
        assert_eq!(
            (got, stderr.as_str()),
            (code, format!("recon: {expected}\n").as_str()),
            "{config}"
        );
        assert_eq!(stdout, "");
        for piece in secret {
            assert!(!stderr.contains(piece), "{piece} leaked: {stderr}");
        }
    }
}

fn coinbase(key: &str, secret: &str) -> String {
    format!("[[exchanges]]\nname = \"cb\"\nkind = \"coinbase\"\napi_key_env = {key}\napi_secret_env = {secret}\n")
}

#[test]
fn a_secret_in_an_env_key_is_named_never_quoted() {
    let msg = |field: &str| {
        format!("c.toml: exchanges[0].{field}: must be the NAME of an environment variable (upper-case letters, digits, '_'), not the secret itself")
    };
    assert_refused_quietly(
        &coinbase(&format!("\"{SECRET}\""), "\"CB_SECRET\""),
        &[],
        &msg("api_key_env"),
        PIECES,
    );
    let pem = "\"-----BEGIN EC PRIVATE KEY-----\\nMHcCAQEEIIsecretsecret\\n-----END EC PRIVATE KEY-----\"";
    assert_refused_quietly(
        &coinbase("\"CB_KEY\"", pem),
        &[],
        &msg("api_secret_env"),
        &["BEGIN", "MHcCAQEE", "secretsecret"],
    );
    let cbx = format!(
        "[[exchanges]]\nname = \"cbx\"\nkind = \"coinbase_exchange\"\napi_key_env = \"K\"\napi_secret_env = \"S\"\npassphrase_env = \"{SECRET}\"\n"
    );
    assert_refused_quietly(&cbx, &[], &msg("passphrase_env"), PIECES);
    // A Coinbase Exchange key is 32 lower-case hex digits: a valid identifier, but never an
    // environment variable's name here, so it is refused before anything could quote it.
    let hex_key = "f3a9c0d1e2b4a5968778695a4b3c2d1e";
    assert_refused_quietly(
        &coinbase(&format!("\"{hex_key}\""), "\"CB_SECRET\""),
        &[],
        &msg("api_key_env"),
        &[hex_key, "f3a9c0"],
    );
}

#[test]
fn a_wrong_type_for_a_secret_key_does_not_echo_the_value() {
    let msg = "c.toml: exchanges[0].api_key_env: must be a string: the NAME of an environment variable (the value is not shown)";
    for value in [
        "1234567890987",
        "0.123456789",
        "true",
        "[\"dGhpcyBp\"]",
        "{ k = \"dGhpcyBp\" }",
    ] {
        assert_refused_quietly(
            &coinbase(value, "\"CB_SECRET\""),
            &[],
            msg,
            &["1234567890987", "123456789", "dGhpcyBp"],
        );
    }
    assert_refused_quietly(
        &format!("[alerts]\nwebhook_url = 73331234567\n{SIM}"),
        &[],
        "c.toml: alerts.webhook_url: must be a string: an http:// or https:// URL (the value is not shown)",
        &["73331234567"],
    );
}

#[test]
fn a_mis_quoted_secret_gives_only_line_and_column() {
    // A quote inside the pasted secret ends the string early: a TOML syntax error on the
    // line holding the secret. No source excerpt is printed, only where and what.
    let config = coinbase("\"dGhpcyBp\"cyBhIHNlY3JldA==\"", "\"S\"");
    assert_refused_quietly(
        &config,
        &[],
        "c.toml: line 4, column 25: expected newline, `#`",
        &["dGhp", "cyBhIHNlY3JldA"],
    );
    // Unquoted altogether.
    let config =
        format!("[alerts]\nwebhook_url = https://hooks.example/services/T0/B0/XOXOTOKEN\n{SIM}");
    assert_refused_quietly(
        &config,
        &[],
        "c.toml: line 2, column 15: invalid string expected `\"`, `'`",
        &["hooks.example", "XOXOTOKEN"],
    );
}

#[test]
fn a_bad_webhook_url_names_the_key_never_the_url() {
    for (url, why) in [
        (
            "hooks.example/services/T0/B0/XOXOTOKEN",
            "not a URL: relative URL without a base",
        ),
        (
            "ftp://user:XOXOTOKEN@hooks.example/x",
            "must be an http:// or https:// URL",
        ),
        (
            "https://hooks.example:99999/XOXOTOKEN",
            "not a URL: invalid port number",
        ),
    ] {
        assert_refused_quietly(
            &format!("[alerts]\nwebhook_url = \"{url}\"\n{SIM}"),
            &[],
            &format!("c.toml: alerts.webhook_url: {why}"),
            &["hooks.example", "XOXOTOKEN"],
        );
        // The same from the environment.
        assert_refused_quietly(
            SIM,
            &[("RECON_ALERTS_WEBHOOK_URL", url)],
            &format!("environment RECON_ALERTS_WEBHOOK_URL: alerts.webhook_url: {why}"),
            &["hooks.example", "XOXOTOKEN"],
        );
    }
}

#[test]
fn an_unknown_env_key_is_named_without_its_value() {
    let config = format!(
        "[[exchanges]]\nname = \"cb\"\nkind = \"coinbase\"\napi_key_env = \"K\"\napi_secret_env = \"S\"\nsigning_key_env = \"{SECRET}\"\n"
    );
    let (code, stderr, _) = run(&config, &["config"], &[]);
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with(
            "recon: c.toml: exchanges[0].signing_key_env: unknown field `signing_key_env`"
        ),
        "{stderr}"
    );
    for piece in PIECES {
        assert!(!stderr.contains(piece), "{stderr}");
    }
}

mod properties {
    use std::path::Path;

    use proptest::prelude::*;
    use recon::config::TradingConfig;

    /// No 8-character piece of `secret` is in `message`.
    fn leaks(secret: &str, message: &str) -> Option<String> {
        let chars: Vec<char> = secret.chars().collect();
        chars
            .windows(8)
            .map(|w| w.iter().collect::<String>())
            .find(|piece| message.contains(piece.as_str()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn no_config_error_quotes_a_pasted_secret(
            secret in "[A-Za-z0-9+/=_-]{12,40}",
            split in 1usize..11,
            key in prop_oneof![Just("api_key_env"), Just("api_secret_env"), Just("passphrase_env"), Just("webhook_url")],
            form in 0usize..4,
        ) {
            let (a, b) = secret.split_at(split);
            let value = match form {
                0 => format!("\"{secret}\""),
                1 => secret.clone(),
                2 => format!("\"{a}\"{b}\""),
                _ => format!("[\"{secret}\"]"),
            };
            let text = if key == "webhook_url" {
                format!("[alerts]\nwebhook_url = {value}\n[[exchanges]]\nname = \"x\"\nkind = \"simulated\"\nbalances = {{}}\n")
            } else {
                let others: String = ["api_key_env", "api_secret_env", "passphrase_env"]
                    .iter()
                    .filter(|k| **k != key)
                    .map(|k| format!("{k} = \"V\"\n"))
                    .collect();
                format!("[[exchanges]]\nname = \"x\"\nkind = \"coinbase_exchange\"\n{key} = {value}\n{others}")
            };
            let r = TradingConfig::from_toml_str(&text, Path::new("c.toml"), Path::new("."), Vec::<(String, String)>::new());
            if let Err(e) = r {
                let msg = e.to_string();
                prop_assert!(leaks(&secret, &msg).is_none(), "{} in {}", secret, msg);
            }
            let r = TradingConfig::from_toml_str(
                "[[exchanges]]\nname = \"x\"\nkind = \"simulated\"\nbalances = {}\n",
                Path::new("c.toml"),
                Path::new("."),
                vec![("RECON_ALERTS_WEBHOOK_URL".to_string(), secret.clone())],
            );
            if let Err(e) = r {
                let msg = e.to_string();
                prop_assert!(leaks(&secret, &msg).is_none(), "{} in {}", secret, msg);
            }
        }
    }
}
