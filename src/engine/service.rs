//! `ConcretePortfolioReconciliationService`: one cycle = read the ledger and fetch every
//! exchange concurrently under the cycle budget, apply the rules, hand the result to the
//! store (which runs the lifecycle inside its transaction), return the report.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::time::Instant;

use super::guard::{self, SeenGap};
use super::lifecycle;
use super::report::{
    classify_status, BalanceRow, CircuitState, ExchangeReport, ExchangeStatus,
    ReconciliationReport, ReportValuation,
};
use super::rules::{self, Finding};
use super::PortfolioReconciliationService;
use crate::config::{ExchangeConfig, TradingConfig};
use crate::domain::{now_millis, Asset, BalanceDiscrepancy, ExchangeName, Expectation};
use crate::error::ReconciliationError;
use crate::exchanges::resilience::{
    BreakerState, BreakerTransition, CircuitBreaker, Deadline, Permit,
};
use crate::exchanges::{Coverage, ExchangeClient, ExchangeError, FetchedBalances};
use crate::ledger::{Holdings, Ledger, LedgerSource};
use crate::store::expectations::NewExpectation;
use crate::store::thread::StoreHandle;
use crate::store::{
    AuditEvent, AuditKind, CycleInput, CyclePlan, ExchangeRecord, SnapshotPair, SnapshotSet,
};
use crate::valuation::{PriceBook, PriceSource};
use rust_decimal::Decimal;

/// One exchange as the service tracks it across cycles.
struct Slot {
    client: Arc<dyn ExchangeClient>,
    breaker: CircuitBreaker,
    last_ok_at: Option<DateTime<Utc>>,
}

/// What fetching one exchange produced this cycle.
struct Fetched {
    latency_ms: u64,
    result: Result<FetchedBalances, ExchangeError>,
    refused: bool,
    transition: Option<BreakerTransition>,
}

/// The price source as the service tracks it across cycles: its own breaker (a failing
/// price feed is never an exchange's failure), and the book of every price with its time.
struct PriceSlot {
    source: Arc<dyn PriceSource>,
    breaker: CircuitBreaker,
    book: PriceBook,
    /// Assets seen last cycle (ledger and exchanges), asked for up front next cycle so a
    /// per-product source seldom needs a second request.
    seen: BTreeSet<Asset>,
}

impl PriceSlot {
    fn new(cfg: &TradingConfig) -> Option<Self> {
        let v = cfg.valuation.as_ref()?;
        let cb = &cfg.circuit_breaker;
        let source = crate::valuation::build_source(v, cfg).unwrap_or_else(|err| {
            tracing::error!(error = %err, "price source unavailable");
            Arc::new(UnavailablePrices(v.source.kind(), err))
        });
        Some(Self {
            book: PriceBook::new(v, source.kind()),
            breaker: CircuitBreaker::new(cb.failure_threshold, cb.open_for),
            source,
            seen: BTreeSet::new(),
        })
    }

    /// Fetches the prices of `assets` (mapped and filtered by the book) under the cycle
    /// deadline, through the breaker, and records the outcome in the book.
    async fn fetch(&mut self, assets: BTreeSet<Asset>, deadline: &Deadline) {
        let wanted = self.book.wanted(assets.iter());
        if wanted.is_empty() && !self.source.lists_all() {
            return;
        }
        let kind = self.source.kind();
        let result = match self.breaker.permit(Instant::now()) {
            Permit::Refused { retry_in } => Err(format!(
                "{kind} prices: {}",
                ExchangeError::CircuitOpen {
                    failures: self.breaker.consecutive_failures(),
                    retry_in_secs: retry_in.as_secs_f64().ceil() as u64,
                }
            )),
            _ => {
                let quote = self.book.quote().clone();
                let r = match tokio::time::timeout_at(
                    deadline.instant() + BACKSTOP_GRACE,
                    self.source.fetch(&wanted, &quote, deadline),
                )
                .await
                {
                    Ok(r) => r,
                    Err(_) => Err(deadline.exhausted()),
                };
                if let Some(t) = self.breaker.record(Instant::now(), r.is_ok()) {
                    tracing::warn!(source = kind, transition = ?t, "price source circuit");
                }
                r.map(|f| f.prices).map_err(|e| {
                    let message = format!("{kind} prices: {e}");
                    tracing::warn!(error = %message, "price fetch failed");
                    message
                })
            }
        };
        self.book.record(&wanted, result, now_millis());
    }
}

/// A price source whose client could not be built: every fetch reports why.
struct UnavailablePrices(&'static str, ExchangeError);

#[async_trait]
impl PriceSource for UnavailablePrices {
    fn kind(&self) -> &'static str {
        self.0
    }
    fn lists_all(&self) -> bool {
        true
    }
    async fn fetch(
        &self,
        _: &BTreeSet<Asset>,
        _: &Asset,
        _: &Deadline,
    ) -> Result<crate::valuation::FetchedPrices, ExchangeError> {
        Err(self.1.clone())
    }
}

/// The reconciliation service over configured clients, a ledger source and the store.
pub struct ConcretePortfolioReconciliationService {
    config: Arc<TradingConfig>,
    ledger: LedgerSource,
    slots: Vec<Slot>,
    store: StoreHandle,
    prices: Option<PriceSlot>,
    /// Each exchange's last good read, while the store is still opening (see
    /// [`ConcretePortfolioReconciliationService::seed_last_ok_later`]).
    pending_last_ok: Option<PendingLastOk>,
}

/// The store's answer to "when was each exchange last read?", arriving later.
pub type PendingLastOk =
    tokio::task::JoinHandle<Result<HashMap<ExchangeName, DateTime<Utc>>, crate::store::StoreError>>;

impl ConcretePortfolioReconciliationService {
    /// Builds the service. `last_ok` (from the store) seeds each exchange's staleness.
    pub fn new(
        config: Arc<TradingConfig>,
        clients: Vec<Arc<dyn ExchangeClient>>,
        ledger: LedgerSource,
        store: StoreHandle,
        last_ok: HashMap<ExchangeName, DateTime<Utc>>,
    ) -> Self {
        let cb = &config.circuit_breaker;
        let slots = clients
            .into_iter()
            .map(|client| Slot {
                last_ok_at: last_ok.get(client.name()).copied(),
                breaker: CircuitBreaker::new(cb.failure_threshold, cb.open_for),
                client,
            })
            .collect();
        Self {
            prices: PriceSlot::new(&config),
            config,
            ledger,
            slots,
            store,
            pending_last_ok: None,
        }
    }

    /// Sets each exchange's last good read (from the store), which its staleness counts
    /// from.
    pub fn seed_last_ok(&mut self, last_ok: &HashMap<ExchangeName, DateTime<Utc>>) {
        for slot in &mut self.slots {
            slot.last_ok_at = last_ok.get(slot.client.name()).copied();
        }
    }

    /// Like [`Self::seed_last_ok`], from a store that is still opening: the next cycle
    /// fetches meanwhile and waits for it only before comparing. Should the store fail,
    /// the cycle stops at once with its error, the fetches still in flight abandoned.
    pub fn seed_last_ok_later(&mut self, pending: PendingLastOk) {
        self.pending_last_ok = Some(pending);
    }

    /// The configuration it runs on.
    pub fn config(&self) -> &Arc<TradingConfig> {
        &self.config
    }

    /// The store it writes to.
    pub fn store(&self) -> &StoreHandle {
        &self.store
    }

    /// Switches to a reloaded configuration between cycles. Tolerance, severity, cycle
    /// budget and interval apply as they are; the ledger source is rebuilt when `[ledger]`
    /// or the fetch timeout changed; an exchange client is rebuilt when its entry, `[retry]`
    /// or the fetch timeout changed, keeping its staleness and breaker (a breaker is reset
    /// only when `[circuit_breaker]` changed); added exchanges start fresh and removed ones
    /// stop being fetched. `[storage]` and `[logging]` need a restart: returned, one line
    /// per key, and left as they were.
    pub fn apply_config(&mut self, config: Arc<TradingConfig>) -> Vec<String> {
        let old = self.config.clone();
        let mut not_applied = Vec::new();
        if config.storage_path != old.storage_path {
            not_applied.push("storage.path: changing the database needs a restart".to_string());
        }
        if config.logging != old.logging {
            not_applied.push("logging: log settings need a restart".to_string());
        }
        let fetch_changed = config.reconciliation.fetch_timeout != old.reconciliation.fetch_timeout;
        if config.ledger != old.ledger || fetch_changed {
            self.ledger =
                LedgerSource::from_config(&config.ledger, config.reconciliation.fetch_timeout);
        }
        let clients_changed = fetch_changed || config.retry != old.retry;
        // The price book survives a reload unless what it prices changed.
        if config.valuation != old.valuation || clients_changed {
            self.prices = PriceSlot::new(&config);
        }
        let breaker_changed = config.circuit_breaker != old.circuit_breaker;
        let cb = &config.circuit_breaker;
        let mut previous = std::mem::take(&mut self.slots);
        for entry in &config.exchanges {
            let kept = previous
                .iter()
                .position(|s| s.client.name() == &entry.name)
                .map(|i| previous.swap_remove(i));
            let same_entry = old.exchange(&entry.name) == Some(entry);
            let slot = match kept {
                Some(slot) if same_entry && !clients_changed && !breaker_changed => slot,
                Some(slot) => Slot {
                    client: if same_entry && !clients_changed {
                        slot.client
                    } else {
                        client_for(entry, &config)
                    },
                    breaker: if breaker_changed {
                        CircuitBreaker::new(cb.failure_threshold, cb.open_for)
                    } else {
                        slot.breaker
                    },
                    last_ok_at: slot.last_ok_at,
                },
                None => Slot {
                    client: client_for(entry, &config),
                    breaker: CircuitBreaker::new(cb.failure_threshold, cb.open_for),
                    last_ok_at: None,
                },
            };
            self.slots.push(slot);
        }
        // Kept as before: what is not applied is not pretended to be.
        let mut applied = (*config).clone();
        applied.storage_path = old.storage_path.clone();
        applied.logging = old.logging.clone();
        self.config = Arc::new(applied);
        not_applied
    }
}

impl ConcretePortfolioReconciliationService {
    /// Values every finding from the price book (SPEC §2): a per-product source is first
    /// asked, within what is left of the cycle budget, for the assets it was never asked
    /// about (an asset only the exchange holds); each finding then gets its price, value
    /// and the severity the value gives it. Returns the report's price state.
    async fn value_findings(
        &mut self,
        findings: &mut BTreeMap<ExchangeName, Vec<Finding>>,
        seen_assets: BTreeSet<Asset>,
        deadline: &Deadline,
    ) -> Option<ReportValuation> {
        let p = self.prices.as_mut()?;
        let valuation = self.config.valuation.as_ref()?;
        let in_findings: BTreeSet<Asset> = findings
            .values()
            .flatten()
            .map(|f| f.asset.clone())
            .collect();
        if !p.source.lists_all() && p.book.error().is_none() {
            let missing = p
                .book
                .to_ask(&p.book.wanted(in_findings.iter()), now_millis());
            if !missing.is_empty() && !deadline.remaining().is_zero() {
                p.fetch(missing, deadline).await;
            }
        }
        p.seen = seen_assets;
        let now = now_millis();
        let thresholds = &self.config.severity.value;
        for f in findings.values_mut().flatten() {
            let (v, severity) = p
                .book
                .value(&f.asset, f.difference, f.severity, thresholds, now);
            f.severity = severity;
            f.valuation = Some(v);
        }
        Some(ReportValuation {
            quote: valuation.quote.clone(),
            source: p.book.source().to_string(),
            max_age: valuation.max_age,
            fetched_at: p.book.fetched_at(),
            error: p.book.error().map(str::to_string),
        })
    }
}

/// An exchange's client; one whose client cannot be built (credentials unset) reports
/// its error every cycle instead of disappearing.
fn client_for(entry: &ExchangeConfig, config: &TradingConfig) -> Arc<dyn ExchangeClient> {
    crate::exchanges::build_client(entry, config).unwrap_or_else(|err| {
        tracing::error!(exchange = %entry.name, error = %err, "exchange unavailable");
        Arc::new(crate::exchanges::Unavailable::new(
            entry.name.clone(),
            entry.kind,
            err,
        ))
    })
}

/// How long past the cycle deadline the backstop waits for a client to return its own,
/// more precise, give-up error.
const BACKSTOP_GRACE: Duration = Duration::from_millis(20);

async fn fetch_one(slot: &mut Slot, budget: Duration) -> Fetched {
    let start = Instant::now();
    let permit = slot.breaker.permit(start);
    if let Permit::Refused { retry_in } = permit {
        return Fetched {
            latency_ms: 0,
            result: Err(ExchangeError::CircuitOpen {
                failures: slot.breaker.consecutive_failures(),
                retry_in_secs: retry_in.as_secs_f64().ceil() as u64,
            }),
            refused: true,
            transition: None,
        };
    }
    // The client stops at the deadline itself and names its last real failure; the
    // timeout here is only a backstop (a client ignoring the deadline, a stuck parse),
    // and even then the report names what the deadline saw fail, if anything did.
    let deadline = Deadline::at(start + budget, budget);
    let result = match tokio::time::timeout_at(
        deadline.instant() + BACKSTOP_GRACE,
        slot.client.fetch_balances_until(&deadline),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => Err(deadline.exhausted()),
    };
    let end = Instant::now();
    // Missing credentials are not a fault of the exchange: the breaker would only replace
    // "COINBASE_API_SECRET is not set" with "circuit open" and hide the fix.
    let transition = match &result {
        Err(ExchangeError::Credentials(_)) => None,
        r => slot.breaker.record(end, r.is_ok()),
    };
    Fetched {
        latency_ms: (end - start).as_millis() as u64,
        result,
        refused: false,
        transition,
    }
}

fn circuit_state(b: &CircuitBreaker) -> CircuitState {
    match b.state() {
        BreakerState::Closed { .. } => CircuitState::Closed,
        BreakerState::Open { .. } => CircuitState::Open,
        BreakerState::HalfOpen => CircuitState::HalfOpen,
    }
}

/// Builds an exchange's report entry, its findings (when compared) and its audit events.
struct Compared {
    report: ExchangeReport,
    findings: Option<Vec<Finding>>,
    events: Vec<AuditEvent>,
    /// Every compared pair (the store writes only the changed ones).
    changed: Vec<SnapshotSet>,
}

/// The snapshot of every compared pair of an exchange. The store writes only those that
/// differ from the latest stored value (and records pairs that went to zero), comparing
/// against the database inside its transaction: a per-process memory of the last cycle
/// would go stale when a cron `once` and the console write the same database.
fn snapshot_rows(exchange: &ExchangeName, rows: &[BalanceRow]) -> Vec<SnapshotSet> {
    vec![SnapshotSet {
        exchange: exchange.to_string(),
        pairs: rows
            .iter()
            .map(|r| SnapshotPair {
                asset: r.asset.clone(),
                local: r.local,
                exchange_amount: r.exchange,
            })
            .collect(),
    }]
}

fn compare(
    cfg: &TradingConfig,
    slot: &mut Slot,
    fetched: Fetched,
    ledger: Option<&Ledger>,
    finished_at: DateTime<Utc>,
) -> Compared {
    let name = slot.client.name().clone();
    let mut events = Vec::new();
    match fetched.transition {
        Some(BreakerTransition::Opened { failures }) => events.push(AuditEvent::new(
            AuditKind::CircuitOpened,
            name.as_str(),
            json!({ "consecutive_failures": failures, "open_secs": cfg.circuit_breaker.open_for.as_secs_f64() }),
        )),
        Some(BreakerTransition::Closed) => events.push(AuditEvent::new(
            AuditKind::CircuitClosed,
            name.as_str(),
            json!({}),
        )),
        None => {}
    }
    let mut report = ExchangeReport {
        name: name.clone(),
        kind: slot.client.kind(),
        status: ExchangeStatus::Ok,
        latency_ms: fetched.latency_ms,
        attempts: 0,
        error: None,
        balances: Vec::new(),
        compared: false,
        uncompared: Vec::new(),
        exposed: Vec::new(),
        coverage: Coverage::default(),
        last_ok_at: slot.last_ok_at,
        circuit: circuit_state(&slot.breaker),
    };
    let mut changed = Vec::new();
    let mut fail = |report: &mut ExchangeReport, message: String, attempts: u32| {
        report.status = if fetched.refused {
            ExchangeStatus::CircuitOpen
        } else {
            ExchangeStatus::Error
        };
        report.attempts = attempts;
        if !fetched.refused {
            events.push(AuditEvent::new(
                AuditKind::ExchangeError,
                name.as_str(),
                json!({ "error": message, "attempts": attempts, "latency_ms": fetched.latency_ms }),
            ));
        }
        report.error = Some(message);
    };
    let f = match fetched.result {
        Ok(f) => f,
        Err(err) => {
            fail(&mut report, err.to_string(), err.attempts());
            // What the desk holds there is what is at stake while it is down.
            if let Some(Some(Ok(holdings))) = ledger.map(|l| l.get(&name)) {
                report.exposed = reported(holdings, cfg);
            }
            return Compared {
                report,
                findings: None,
                events,
                changed,
            };
        }
    };
    report.attempts = f.attempts;
    report.coverage = f.coverage;
    // What this exchange is compared with: nothing when the ledger is unreadable, its own
    // entry's error when only that entry is bad (the other exchanges are still compared;
    // the breaker is not touched: the exchange itself answered).
    let empty = Holdings::new();
    let local = ledger.map(|l| match l.get(&name) {
        None => Ok(&empty),
        Some(Ok(holdings)) => Ok(holdings),
        Some(Err(e)) => Err(e.to_string()),
    });
    let compared = local.map(|local| {
        let local = local?;
        let pairs = rules::pairs(local, &f.totals, &cfg.tolerance);
        let findings =
            rules::reconcile_pairs(&pairs, &cfg.tolerance, &cfg.severity).map_err(|e| {
                ExchangeError::Amount {
                    asset: e.asset.to_string(),
                    detail:
                        "the difference from the ledger cannot be held exactly in a 96-bit decimal"
                            .into(),
                }
                .to_string()
            })?;
        let rows = pairs
            .into_iter()
            .filter(|(_, l, e)| !(l.is_zero() && e.is_zero()))
            .map(|(asset, local, exchange)| BalanceRow {
                asset,
                local,
                exchange,
            })
            .collect::<Vec<_>>();
        Ok::<_, String>((findings, rows))
    });
    let findings = match compared {
        Some(Ok((findings, rows))) => {
            slot.last_ok_at = Some(finished_at);
            report.last_ok_at = Some(finished_at);
            changed = snapshot_rows(&name, &rows);
            report.balances = rows;
            report.compared = true;
            Some(findings)
        }
        // Not compared, yet never shown as empty holdings: what the exchange reported is
        // listed with the local side unknown.
        None => {
            slot.last_ok_at = Some(finished_at);
            report.last_ok_at = Some(finished_at);
            report.uncompared = reported(&f.totals, cfg);
            None
        }
        Some(Err(message)) => {
            let attempts = report.attempts;
            fail(&mut report, message, attempts);
            report.uncompared = reported(&f.totals, cfg);
            None
        }
    };
    Compared {
        report,
        findings,
        events,
        changed,
    }
}

/// What an exchange reported, for when it could not be compared (or what the ledger holds
/// there, for when it could not be fetched): non-zero totals of the assets that are not
/// ignored, in asset order.
fn reported(totals: &BTreeMap<Asset, Decimal>, cfg: &TradingConfig) -> Vec<(Asset, Decimal)> {
    totals
        .iter()
        .filter(|(a, v)| !v.is_zero() && !cfg.tolerance.ignore_assets.contains(*a))
        .map(|(a, v)| (a.clone(), *v))
        .collect()
}

fn record(e: &ExchangeReport) -> ExchangeRecord {
    ExchangeRecord {
        exchange: e.name.to_string(),
        kind: e.kind.as_str().to_string(),
        status: e.status.as_str().to_string(),
        latency_ms: e.latency_ms,
        attempts: e.attempts,
        error: e.error.clone(),
        pages: e.coverage.pages,
        rows: e.coverage.rows,
        complete: e.coverage.complete,
    }
}

#[async_trait]
impl PortfolioReconciliationService for ConcretePortfolioReconciliationService {
    async fn reconcile(&mut self) -> Result<ReconciliationReport, ReconciliationError> {
        let started_at = now_millis();
        let t0 = Instant::now();
        let budget = self.config.reconciliation.cycle_timeout;
        let price_deadline = Deadline::at(t0 + budget, budget);
        let Self {
            ledger: ledger_source,
            slots,
            prices,
            pending_last_ok,
            ..
        } = self;
        // Prices are fetched alongside the exchanges: as soon as the ledger is read (a
        // file: microseconds), for its assets and every asset seen last cycle.
        let ledger_then_prices = async {
            let ledger = ledger_source.read().await;
            if let Some(p) = prices.as_mut() {
                let mut assets = std::mem::take(&mut p.seen);
                if let Ok(l) = &ledger {
                    for holdings in l.values().flatten() {
                        assets.extend(holdings.keys().cloned());
                    }
                }
                p.fetch(assets, &price_deadline).await;
            }
            ledger
        };
        let fetch_all = async {
            Ok(tokio::join!(
                ledger_then_prices,
                futures::future::join_all(slots.iter_mut().map(|s| fetch_one(s, budget)))
            ))
        };
        let store_ready = async {
            match pending_last_ok.take() {
                None => Ok(None),
                Some(pending) => match pending.await {
                    Ok(last_ok) => last_ok.map(Some),
                    Err(_) => Err(crate::store::StoreError::Stopped),
                },
            }
        };
        let ((ledger, fetched), last_ok) =
            tokio::try_join!(fetch_all, store_ready).map_err(ReconciliationError::from)?;
        if let Some(last_ok) = last_ok {
            self.seed_last_ok(&last_ok);
        }
        let finished_at = now_millis();
        let duration_ms = (Instant::now() - t0).as_millis() as u64;
        let ledger_error = ledger.as_ref().err().map(ToString::to_string);
        let mut exchanges = Vec::with_capacity(self.slots.len());
        let mut findings: BTreeMap<ExchangeName, Vec<Finding>> = BTreeMap::new();
        let mut events = Vec::new();
        let mut snapshots = Vec::new();
        // Only a price source asks for them next cycle; without one, copying every asset
        // of every exchange into a set was a fifth of the engine's own time at 10 x 1000.
        let mut seen_assets = BTreeSet::new();
        if self.prices.is_some() {
            for f in fetched.iter().filter_map(|f| f.result.as_ref().ok()) {
                seen_assets.extend(f.totals.keys().cloned());
            }
        }
        for (slot, f) in self.slots.iter_mut().zip(fetched) {
            let c = compare(&self.config, slot, f, ledger.as_deref().ok(), finished_at);
            if let Some(list) = c.findings {
                findings.insert(c.report.name.clone(), list);
            }
            events.extend(c.events);
            snapshots.extend(c.changed);
            exchanges.push(c.report);
        }
        let mut unconfigured = Vec::new();
        match &ledger {
            Err(err) => tracing::warn!(error = %err, "ledger unreadable; cycle failed"),
            Ok(l) => {
                // Expectations for an exchange nobody fetches are never reconciled: say so.
                for name in l
                    .keys()
                    .filter(|n| !self.slots.iter().any(|s| s.client.name() == *n))
                {
                    tracing::warn!(exchange = %name, "ledger lists an exchange that is not configured; its balances are not reconciled");
                    unconfigured.push(name.clone());
                }
            }
        }
        let valuation = self
            .value_findings(&mut findings, seen_assets, &price_deadline)
            .await;
        let ok = exchanges
            .iter()
            .filter(|e| e.status == ExchangeStatus::Ok)
            .count();
        let total = exchanges.len();
        let input = CycleInput {
            started_at,
            finished_at,
            duration_ms,
            ledger_error: ledger_error.clone(),
            exchanges: exchanges.iter().map(record).collect(),
            snapshots,
        };
        let ledger_ok = ledger_error.is_none();
        let severity = self.config.severity.clone();
        let (id, plan) = self
            .store
            .call(move |repo| {
                repo.commit_cycle(&input, |(open, expected)| {
                    let outcome = lifecycle::apply_with(
                        open,
                        expected,
                        &findings,
                        Some(&severity),
                        finished_at,
                    );
                    let (status, worst) = classify_status(ledger_ok, ok, total, &outcome.current);
                    let mut all_events = events;
                    all_events.extend(outcome.events);
                    CyclePlan {
                        status,
                        worst,
                        writes: outcome.writes,
                        events: all_events,
                        discrepancies: outcome.current,
                    }
                })
            })
            .await?;
        Ok(ReconciliationReport {
            id,
            started_at,
            finished_at,
            duration_ms,
            status: plan.status,
            worst_severity: plan.worst,
            ledger_error,
            unconfigured,
            exchanges,
            discrepancies: plan.discrepancies,
            valuation,
        })
    }

    async fn acknowledge(
        &self,
        exchange: ExchangeName,
        asset: Asset,
        by: String,
        note: String,
        seen: Option<SeenGap>,
    ) -> Result<BalanceDiscrepancy, ReconciliationError> {
        acknowledge(&self.store, &self.config, exchange, asset, by, note, seen).await
    }

    fn config(&self) -> Arc<TradingConfig> {
        self.config.clone()
    }

    fn reconfigure(&mut self, config: Arc<TradingConfig>) -> Vec<String> {
        self.apply_config(config)
    }
}

/// Records an acknowledgement through the store thread (usable while a cycle runs). With
/// `seen`, the store refuses it unless the open discrepancy is still the gap that was seen
/// (SPEC §2, [`guard::check`] with `config`'s tolerance) and records the difference seen;
/// without, it records the stored difference.
pub async fn acknowledge(
    store: &StoreHandle,
    config: &TradingConfig,
    exchange: ExchangeName,
    asset: Asset,
    by: String,
    note: String,
    seen: Option<SeenGap>,
) -> Result<BalanceDiscrepancy, ReconciliationError> {
    acknowledge_until(store, config, exchange, asset, by, note, seen, None).await
}

/// [`acknowledge`] with a snooze: with `expires_at`, the first cycle finishing at or after
/// it lapses the acknowledgement (`acknowledgement_expired`).
#[allow(clippy::too_many_arguments)]
pub async fn acknowledge_until(
    store: &StoreHandle,
    config: &TradingConfig,
    exchange: ExchangeName,
    asset: Asset,
    by: String,
    note: String,
    seen: Option<SeenGap>,
    expires_at: Option<DateTime<Utc>>,
) -> Result<BalanceDiscrepancy, ReconciliationError> {
    // Only the tolerance crosses to the store thread, not the whole configuration.
    let tolerance = seen.map(|_| config.tolerance.clone());
    let d = store
        .call(move |repo| {
            repo.acknowledge_until(
                &exchange,
                &asset,
                &by,
                &note,
                now_millis(),
                expires_at,
                |current| match (seen, tolerance) {
                    (Some(seen), Some(t)) => {
                        guard::check(&seen, current, &t).map(|()| seen.difference)
                    }
                    _ => Ok(current.difference),
                },
            )
        })
        .await?;
    Ok(d)
}

/// Withdraws an acknowledgement through the store thread (`u` in the console,
/// `acknowledgement_withdrawn`); returns the discrepancy, counted again.
pub async fn withdraw_acknowledgement(
    store: &StoreHandle,
    exchange: ExchangeName,
    asset: Asset,
    by: String,
    note: String,
) -> Result<BalanceDiscrepancy, ReconciliationError> {
    let d = store
        .call(move |repo| {
            repo.withdraw_acknowledgement(&exchange, &asset, &by, &note, now_millis())
        })
        .await?;
    Ok(d)
}

/// Records an expectation through the store thread (SPEC §2). With `seen` (the row the
/// console showed when `e` was pressed), the store refuses it unless that gap is still
/// the one open (the acknowledgement guard, [`guard::check`]); a gap that resolved
/// meanwhile is refused too: what was looked at is gone.
pub async fn declare_expectation(
    store: &StoreHandle,
    config: &TradingConfig,
    new: NewExpectation,
    seen: Option<SeenGap>,
) -> Result<Expectation, ReconciliationError> {
    let tolerance = seen.map(|_| config.tolerance.clone());
    let e = store
        .call(move |repo| {
            let id = crate::domain::DiscrepancyId::new(&new.exchange, &new.asset);
            repo.add_expectation(&new, |current| match (seen, tolerance, current) {
                (Some(seen), Some(t), Some(current)) => guard::check(&seen, current, &t),
                (Some(seen), _, None) => Err(format!(
                    "{id} resolved since you saw it ({}); nothing declared",
                    crate::domain::format_amount(seen.difference)
                )),
                _ => Ok(()),
            })
        })
        .await?;
    Ok(e)
}
