//! Reliability under load: 50 simulated exchanges with random latency and 20 % failures
//! for 200 cycles of the real engine (real store thread, real SQLite file). The runtime's
//! task count and the process's open file descriptors stay flat, and every circuit
//! breaker move is the one the failures seen call for: opened after `failure_threshold`
//! consecutive failures (or a failed trial), requests refused only while open, closed only
//! by a successful trial — each one audited exactly once.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use recon::config::{SimulatedConfig, SimulatedHoldings};
use recon::domain::ExchangeName;
use recon::engine::report::{CircuitState, ExchangeStatus};
use recon::engine::PortfolioReconciliationService;
use recon::exchanges::simulated::SimulatedExchange;
use recon::exchanges::ExchangeClient;
use recon::store::ReconciliationRepository;

const EXCHANGES: usize = 50;
const CYCLES: usize = 200;
const THRESHOLD: usize = 2;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_flaky_exchanges_for_200_cycles_leak_nothing_and_trip_breakers_by_the_rules() {
    let names: Vec<String> = (0..EXCHANGES).map(|i| format!("x{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let ledger: String = names
        .iter()
        .map(|n| format!("[{n}]\nBTC = \"1\"\n"))
        .collect();
    // Half the simulated failures are requests that never answer: a short fetch timeout
    // keeps 200 cycles of them to seconds.
    let mut r = common::rig(
        &format!(
            "[reconciliation]\ncycle_timeout_ms = 1000\nfetch_timeout_ms = 40\n\
             [retry]\nmax_attempts = 1\n\
             [circuit_breaker]\nfailure_threshold = {THRESHOLD}\nopen_secs = 0.05\n"
        ),
        &ledger,
        &refs,
        |cfg| {
            names
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    Arc::new(SimulatedExchange::new(
                        ExchangeName::new(n),
                        SimulatedConfig {
                            seed: i as u64 + 1,
                            latency_ms: (1, 15),
                            failure_rate: 0.2,
                            drift: rust_decimal::Decimal::ZERO,
                            holdings: SimulatedHoldings::Exact(common::holdings(&[("BTC", "1")])),
                        },
                        recon::exchanges::resilience::RetryPolicy::from_config(&cfg.retry)
                            .with_seed(i as u64),
                        cfg.reconciliation.fetch_timeout,
                    )) as Arc<dyn ExchangeClient>
                })
                .collect()
        },
    );

    let runtime = tokio::runtime::Handle::current();
    // (status, circuit) per exchange per cycle.
    let mut seen: HashMap<String, Vec<(ExchangeStatus, CircuitState)>> = HashMap::new();
    let mut baseline = None;
    for cycle in 0..CYCLES {
        let rep = r.service.reconcile().await.unwrap();
        assert_eq!(rep.exchanges.len(), EXCHANGES);
        for e in &rep.exchanges {
            seen.entry(e.name.to_string())
                .or_default()
                .push((e.status, e.circuit));
        }
        // Let the breakers' open time pass now and then, so trials happen.
        if cycle % 10 == 9 {
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        if cycle == 19 {
            baseline = Some((runtime.metrics().num_alive_tasks(), open_fds()));
        }
    }
    let (tasks, fds) = baseline.unwrap();
    let (tasks_end, fds_end) = (runtime.metrics().num_alive_tasks(), open_fds());
    assert!(tasks_end <= tasks, "tasks grew: {tasks} → {tasks_end}");
    assert!(
        fds_end <= fds + 2,
        "file descriptors grew: {fds} → {fds_end}"
    );

    // The breaker, replayed from what each exchange's cycles showed.
    let (mut failures, mut refusals, mut opens, mut closes) = (0, 0, 0, 0);
    let mut expected: HashMap<(&str, &str), usize> = HashMap::new();
    for (name, cycles) in &seen {
        let mut streak = 0;
        let mut prev = CircuitState::Closed;
        for (i, &(status, circuit)) in cycles.iter().enumerate() {
            let at = format!("{name} cycle {i}: {status:?} then {circuit:?} after {prev:?}");
            match status {
                ExchangeStatus::Ok => {
                    assert_eq!(circuit, CircuitState::Closed, "{at}");
                    if prev != CircuitState::Closed {
                        *expected.entry((name, "circuit_closed")).or_default() += 1;
                        closes += 1;
                    }
                    streak = 0;
                }
                ExchangeStatus::Error => {
                    failures += 1;
                    streak += 1;
                    if circuit == CircuitState::Open {
                        // Opened: by a streak from closed, or by a failed trial.
                        assert!(
                            prev != CircuitState::Closed || streak >= THRESHOLD,
                            "{at} (streak {streak})"
                        );
                        *expected.entry((name, "circuit_opened")).or_default() += 1;
                        opens += 1;
                    } else {
                        assert!(streak < THRESHOLD, "{at} (streak {streak})");
                    }
                }
                ExchangeStatus::CircuitOpen => {
                    refusals += 1;
                    assert_eq!(prev, CircuitState::Open, "{at}: refused while not open");
                    assert_eq!(circuit, CircuitState::Open, "{at}");
                }
            }
            prev = circuit;
        }
    }
    assert!(
        failures > EXCHANGES * CYCLES / 10,
        "only {failures} failures"
    );
    assert!(
        opens > 10 && closes > 5 && refusals > 10,
        "{opens} {closes} {refusals}"
    );

    // Each move audited once, against its exchange.
    let db = r.db();
    let dir = r.close();
    let repo = ReconciliationRepository::open_read_only(&db).unwrap();
    let mut audited: HashMap<(String, String), usize> = HashMap::new();
    for e in repo.audit_page(None, u32::MAX).unwrap() {
        if e.event.starts_with("circuit_") {
            *audited
                .entry((e.subject.unwrap_or_default(), e.event))
                .or_default() += 1;
        }
    }
    let expected: HashMap<(String, String), usize> = expected
        .into_iter()
        .map(|((n, k), v)| ((n.to_string(), k.to_string()), v))
        .collect();
    assert_eq!(audited, expected);
    drop(dir);
}
