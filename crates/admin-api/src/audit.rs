//! Audit records for every mutating call.

use crate::auth::Ctx;
use crate::state::ApiState;

/// Records `operation` (`create`, `update`, `delete`, ...) on `resource` of
/// `resource_type`. A failure to audit is logged, never hidden, but does not undo the
/// change that already happened.
pub async fn record(
    state: &ApiState,
    ctx: &Ctx,
    project_id: Option<i64>,
    operation: &str,
    resource_type: &str,
    resource: &str,
) {
    let entry = projects::NewAuditEntry {
        project_id,
        operation: operation.to_owned(),
        resource_type: resource_type.to_owned(),
        resource: resource.to_owned(),
        username: ctx.username().to_owned(),
        client_ip: ctx.client_ip.map(|ip| ip.to_string()).unwrap_or_default(),
    };
    if let Err(err) = state.db.add_audit_entry(&entry).await {
        tracing::error!(error = %err, operation, resource_type, resource, "could not write audit record");
    }
}
