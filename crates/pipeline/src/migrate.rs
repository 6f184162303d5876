//! Brings a warehouse's schema up to date: the ledger first, then every migration it does not list, each in its
//! own transaction with its ledger row ([`redscribe_core::migrations`]).

use redscribe_core::migrations::{applied_query, ledger_ddl, pending};
use redscribe_core::ports::{PortError, Warehouse};

/// Applies what is missing; returns the versions applied now.
pub async fn migrate(warehouse: &dyn Warehouse) -> Result<Vec<u32>, PortError> {
    migrate_until(warehouse, None).await
}

/// [`migrate`] with every statement ending by `deadline` (a load invocation's).
pub async fn migrate_until(
    warehouse: &dyn Warehouse,
    deadline: Option<std::time::Instant>,
) -> Result<Vec<u32>, PortError> {
    warehouse.run_batch_until(&[ledger_ddl()], &token("ledger"), deadline).await?;
    let applied: Vec<u32> = warehouse
        .query_until(&applied_query(), deadline)
        .await?
        .into_iter()
        .filter_map(|row| row.first()?.as_ref()?.parse().ok())
        .collect();
    let mut now = Vec::new();
    for m in pending(&applied) {
        warehouse.run_batch_until(&m.transaction(), &token(&m.version.to_string()), deadline).await?;
        tracing::info!(version = m.version, name = m.name, "migration applied");
        now.push(m.version);
    }
    Ok(now)
}

/// A fresh idempotency token per call: a retried call is deduplicated, a later run is not.
fn token(what: &str) -> String {
    format!("redscribe-migration-{what}-{}", uuid::Uuid::new_v4())
}
