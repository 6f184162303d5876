//! Loading one batch so that a file that fails for good costs only itself. The loader already takes out the
//! files `sys_load_error_detail` names; when a statement fails for good without naming a file, the batch is
//! split in halves and each half loaded on its own, until the file to blame stands alone and is quarantined (a
//! record and a `load_audit` row). Transient failures are not split: the files come back to be retried.

use redscribe_core::ports::{ObjectStore, PortError, Warehouse};
use redscribe_core::Disposition;

use crate::load::{LoadReport, Loader};
use crate::transcribe::ResultFile;

/// What loading a batch settled, and the files that failed transiently.
#[derive(Debug, Default)]
pub(super) struct Isolated {
    pub report: LoadReport,
    pub failed: Vec<(ResultFile, PortError)>,
}

pub(super) async fn load_isolating<S: ObjectStore, W: Warehouse>(
    loader: &Loader<S, W>,
    files: Vec<ResultFile>,
    deadline: Option<std::time::Instant>,
) -> Isolated {
    let mut out = Isolated::default();
    let mut groups = vec![files];
    while let Some(mut group) = groups.pop() {
        if group.is_empty() {
            continue;
        }
        match loader.load_until(group.clone(), deadline).await {
            Ok(report) => out.report.add(&report),
            Err(e) if e.code.disposition() == Disposition::Retry => {
                out.failed.extend(group.into_iter().map(|f| (f, e.clone())));
            }
            Err(e) if group.len() > 1 => {
                tracing::warn!(
                    files = group.len(),
                    code = e.code.as_str(),
                    "load failed for good; splitting the batch"
                );
                let second = group.split_off(group.len() / 2);
                // The first half is loaded first (a stack: pushed last).
                groups.push(second);
                groups.push(group);
            }
            Err(e) => {
                let file = group.pop().expect("one file");
                match loader.reject(&file, &e.message).await {
                    Ok(()) => out.report.rejected.push((file, e.message)),
                    Err(q) => out.failed.push((file, q)),
                }
            }
        }
    }
    out
}
