//! Shared HTTP plumbing for the real exchange clients (issue 4).
