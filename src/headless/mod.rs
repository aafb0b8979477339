//! The headless front end (`recon headless`): the engine on a server, with logs, metrics and alerts.
pub mod alerts;
