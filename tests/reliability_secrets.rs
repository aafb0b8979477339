//! Reliability: no secret ever leaves the process. Distinctive secrets sit in the
//! environment (a Coinbase Advanced EC key, a Coinbase Exchange key, secret and passphrase,
//! a webhook URL's token) while every command runs against loopback mocks that refuse the
//! credentials, a headless daemon runs cycles and fails to deliver alerts, and malformed
//! configurations are loaded. Then stdout, stderr, every log file and the raw bytes of the
//! database (and its WAL) are searched for each secret: any hit fails.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::mock_exchange::{Auth, MockExchange, Scripted};
use support::p256_key;

const BIN: &str = env!("CARGO_BIN_EXE_recon");
const CBX_KEY: &str = "cbx-key-Q9-DISTINCTIVE-7741";
const CBX_SECRET: &str = "U0VDUkVULWhtYWMta2V5LWZvci10aGUtbGVhay1odW50LTk5MjE=";
const CBX_PASSPHRASE: &str = "passphrase-LEAKHUNT-31337";
const HOOK_TOKEN: &str = "hooktoken-S3CR3T-b7c1d9e2";

/// Everything that must never appear: each secret, and the parts a formatter might cut
/// a secret into (each line of the PEM body).
struct Secrets(Vec<String>);

impl Secrets {
    fn assert_absent(&self, what: &str, bytes: &[u8]) {
        for s in &self.0 {
            let hit = bytes.windows(s.len()).any(|w| w == s.as_bytes());
            assert!(
                !hit,
                "a secret ({}…) leaked into {what}",
                &s[..6.min(s.len())]
            );
        }
    }

    fn check_output(&self, what: &str, out: &Output) {
        self.assert_absent(&format!("{what}: stdout"), &out.stdout);
        self.assert_absent(&format!("{what}: stderr"), &out.stderr);
    }

    /// Every file under `dir`, recursively: logs, the database, its WAL, stderr captures.
    fn check_files(&self, dir: &Path) -> usize {
        let mut seen = 0;
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let name = p.file_name().unwrap().to_string_lossy().into_owned();
                    // The configuration holds env var *names* and the webhook URL by
                    // design; everything recon wrote is searched.
                    if name == "config.toml" {
                        continue;
                    }
                    self.assert_absent(&p.display().to_string(), &std::fs::read(&p).unwrap());
                    seen += 1;
                }
            }
        }
        seen
    }
}

fn config(cb: &MockExchange, cbx: &MockExchange, hook: &MockExchange) -> String {
    format!(
        r#"
[reconciliation]
interval_secs = 0.3
cycle_timeout_ms = 2000
fetch_timeout_ms = 500

[retry]
max_attempts = 2
base_delay_ms = 10
max_delay_ms = 50

[ledger]
kind = "file"
path = "ledger.toml"

[storage]
path = "recon.db"

[logging]
dir = "logs"
level = "debug"
format = "json"

[alerts]
webhook_url = "{hook}hook/{HOOK_TOKEN}"
min_severity = "low"
timeout_ms = 500

[[exchanges]]
name = "cb"
kind = "coinbase"
base_url = "{cb}"
api_key_env = "RECON_T_CB_KEY"
api_secret_env = "RECON_T_CB_SECRET"

[[exchanges]]
name = "cbx"
kind = "coinbase_exchange"
base_url = "{cbx}"
api_key_env = "RECON_T_CBX_KEY"
api_secret_env = "RECON_T_CBX_SECRET"
passphrase_env = "RECON_T_CBX_PASSPHRASE"

[[exchanges]]
name = "sim"
kind = "simulated"
balances = {{ BTC = "1.4" }}
"#,
        cb = cb.base_url(),
        cbx = cbx.base_url(),
        hook = hook.base_url(),
    )
}

fn recon(dir: &Path, args: &[&str], env: &[(String, String)]) -> Output {
    let mut c = Command::new(BIN);
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_BACKTRACE", "full")
        .current_dir(dir)
        .args(["--config", "config.toml"])
        .args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn wait_for(path: &Path, within: Duration, pred: impl Fn(&str) -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if std::fs::read_to_string(path).is_ok_and(|s| pred(&s)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_any_output_log_or_database_byte() {
    // The mocks know other credentials than the ones in the environment: every signed
    // request is refused, which is the path most likely to quote what was sent.
    let (_, other_pem) = p256_key();
    let (their_key, _) = p256_key();
    let cb = MockExchange::start(Auth::CoinbaseJwt {
        key: *their_key.verifying_key(),
        key_name: "organizations/x/apiKeys/y".into(),
    })
    .await;
    let cbx = MockExchange::start(Auth::CoinbaseExchangeHmac {
        key: "another-key".into(),
        secret_base64: "YW5vdGhlci1zZWNyZXQ=".into(),
        passphrase: "another-passphrase".into(),
    })
    .await;
    let hook = MockExchange::start(Auth::None).await;
    hook.always(
        &format!("/hook/{HOOK_TOKEN}"),
        Scripted::json(500, &br#"{"error":"down"}"#[..]),
    );

    let mut secrets: Vec<String> = other_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::to_string)
        .collect();
    secrets.extend([CBX_KEY, CBX_SECRET, CBX_PASSPHRASE, HOOK_TOKEN].map(String::from));
    let secrets = Secrets(secrets);
    let env: Vec<(String, String)> = [
        ("RECON_T_CB_KEY", "organizations/x/apiKeys/y".to_string()),
        // As users paste it into an environment variable: one line, literal "\n".
        ("RECON_T_CB_SECRET", other_pem.replace('\n', "\\n")),
        ("RECON_T_CBX_KEY", CBX_KEY.into()),
        ("RECON_T_CBX_SECRET", CBX_SECRET.into()),
        ("RECON_T_CBX_PASSPHRASE", CBX_PASSPHRASE.into()),
    ]
    .map(|(k, v)| (k.to_string(), v))
    .into();

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    std::fs::write(d.join("config.toml"), config(&cb, &cbx, &hook)).unwrap();
    std::fs::write(
        d.join("ledger.toml"),
        "[cb]\nBTC = \"1\"\n[cbx]\nETH = \"2\"\n[sim]\nBTC = \"1.5\"\n",
    )
    .unwrap();

    let run = {
        let d = d.clone();
        let env = env.clone();
        move |args: Vec<&'static str>| {
            let d = d.clone();
            let env = env.clone();
            tokio::task::spawn_blocking(move || recon(&d, &args, &env))
        }
    };
    // Every command, in the order a desk would use them.
    let once = run(vec!["once", "--format", "json"]).await.unwrap();
    assert_eq!(once.status.code(), Some(2), "{once:?}");
    let report: serde_json::Value = serde_json::from_slice(&once.stdout).unwrap();
    for (i, name) in ["cb", "cbx"].iter().enumerate() {
        assert_eq!(report["exchanges"][i]["name"], *name);
        assert_eq!(report["exchanges"][i]["status"], "error", "{report}");
    }
    assert!(cb.requests().len() + cbx.requests().len() >= 2);
    secrets.check_output("once json", &once);
    for args in [
        vec!["once", "--format", "table"],
        vec!["config"],
        vec!["audit"],
        vec!["audit", "--format", "json"],
        vec!["audit", "verify"],
        vec!["ack", "sim:BTC", "--note", "counted"],
        vec!["unack", "sim:BTC", "--note", "recount"],
        vec![
            "expect",
            "sim:BTC",
            "-0.1",
            "--for",
            "1h",
            "--note",
            "withdrawal",
        ],
        vec!["expect", "list", "--format", "json"],
        vec!["expect", "cancel", "1"],
    ] {
        let what = args.join(" ");
        let out = run(args).await.unwrap();
        assert!(out.status.code().is_some(), "{what}: killed");
        secrets.check_output(&what, &out);
    }

    // The daemon: cycles with refused credentials and undeliverable alerts, then SIGTERM.
    let stderr = std::fs::File::create(d.join("headless.stderr")).unwrap();
    let mut child = Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(&d)
        .args(["--config", "config.toml", "headless"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let hook_path = format!("/hook/{HOOK_TOKEN}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while hook
        .requests()
        .iter()
        .filter(|r| r.path == hook_path)
        .count()
        < 3
    {
        assert!(Instant::now() < deadline, "no alert was attempted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(wait_for(
        &d.join("headless.stderr"),
        Duration::from_secs(1),
        |s| s.contains("alert")
    ));

    // Malformed configurations: a secret pasted where a variable name belongs, a webhook
    // URL that does not parse, a bad override from the environment.
    let bad = std::fs::read_to_string(d.join("config.toml")).unwrap();
    let malformed: Vec<(String, Vec<(String, String)>)> = vec![
        (
            bad.replace(
                "api_secret_env = \"RECON_T_CBX_SECRET\"",
                &format!("api_secret_env = \"{CBX_SECRET}\""),
            ),
            env.clone(),
        ),
        (
            bad.replace(
                &format!("{}hook/{HOOK_TOKEN}", hook.base_url()),
                &format!("ht!tp://{HOOK_TOKEN}"),
            ),
            env.clone(),
        ),
        (bad.replace("passphrase_env", "passphrase"), env.clone()),
        (bad.clone(), {
            let mut e = env.clone();
            e.push((
                "RECON_ALERTS_WEBHOOK_URL".into(),
                format!("not a url {HOOK_TOKEN}"),
            ));
            e
        }),
    ];
    let mdir = tempfile::tempdir().unwrap();
    std::fs::write(mdir.path().join("ledger.toml"), "").unwrap();
    for (i, (text, env)) in malformed.into_iter().enumerate() {
        std::fs::write(mdir.path().join("config.toml"), text).unwrap();
        for args in [vec!["config"], vec!["once"], vec!["headless"]] {
            let what = format!("malformed config {i}: {}", args.join(" "));
            let p: PathBuf = mdir.path().to_path_buf();
            let env = env.clone();
            let out = tokio::task::spawn_blocking(move || {
                let mut c = Command::new(BIN);
                c.env_clear()
                    .current_dir(&p)
                    .args(["--config", "config.toml"])
                    .args(&args)
                    .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    .stdin(Stdio::null());
                c.output().unwrap()
            })
            .await
            .unwrap();
            // Refused at start (never a panic), with one line naming the problem.
            assert!(
                matches!(out.status.code(), Some(1..=3)),
                "{what}: {:?}",
                out.status
            );
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!err.contains("panicked"), "{what}: {err}");
            assert_eq!(err.trim_end().lines().count(), 1, "{what}: {err}");
            secrets.check_output(&what, &out);
        }
    }

    // Everything recon wrote: logs of every run, the database and its WAL, stderr.
    let files = secrets.check_files(&d);
    assert!(d.join("recon.db").exists());
    assert!(files >= 3, "only {files} files searched");
    secrets.check_files(mdir.path());
}
