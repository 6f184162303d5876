//! The warehouse schema as numbered migrations (`sql/migrations/NNNN_name.sql`, compiled in) and the ledger that
//! records which ones ran (`schema_migrations`), so that a migration that is not idempotent — Redshift has no
//! `ADD COLUMN IF NOT EXISTS` — runs exactly once per warehouse. A migration's statements and its ledger row go in
//! one transaction. Warehouses created before the ledger existed re-run 1 and 2, which are idempotent.
//!
//! Files keep one convention so that they can be sent statement by statement (the Data API runs one statement per
//! SQL text): every statement ends with `;` at the end of a line (a `--` comment may follow).

/// The ledger of applied migrations.
pub const LEDGER_TABLE: &str = "schema_migrations";

/// One numbered migration.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in order.
pub const MIGRATIONS: [Migration; 9] = [
    Migration {
        version: 1,
        name: "create_tables",
        sql: include_str!("../../../sql/migrations/0001_create_tables.sql"),
    },
    Migration { version: 2, name: "daily_views", sql: include_str!("../../../sql/migrations/0002_daily_views.sql") },
    Migration {
        version: 3,
        name: "quality_and_channel",
        sql: include_str!("../../../sql/migrations/0003_quality_and_channel.sql"),
    },
    Migration {
        version: 4,
        name: "language_probability",
        sql: include_str!("../../../sql/migrations/0004_language_probability.sql"),
    },
    Migration { version: 5, name: "cost", sql: include_str!("../../../sql/migrations/0005_cost.sql") },
    Migration { version: 6, name: "audit_etag", sql: include_str!("../../../sql/migrations/0006_audit_etag.sql") },
    Migration { version: 7, name: "words", sql: include_str!("../../../sql/migrations/0007_words.sql") },
    Migration { version: 8, name: "pii_redacted", sql: include_str!("../../../sql/migrations/0008_pii_redacted.sql") },
    Migration { version: 9, name: "attributes", sql: include_str!("../../../sql/migrations/0009_attributes.sql") },
];

/// The ledger's DDL (idempotent).
pub fn ledger_ddl() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} (version INTEGER NOT NULL, name VARCHAR(128) NOT NULL, \
         applied_at TIMESTAMPTZ NOT NULL)"
    )
}

/// The query that lists applied versions.
pub fn applied_query() -> String {
    format!("SELECT DISTINCT version FROM {LEDGER_TABLE} ORDER BY version")
}

/// The migrations not in `applied`, in order.
pub fn pending(applied: &[u32]) -> Vec<Migration> {
    MIGRATIONS.into_iter().filter(|m| !applied.contains(&m.version)).collect()
}

impl Migration {
    /// The statements of the file, one SQL text each, comments dropped.
    pub fn statements(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut current = String::new();
        for line in self.sql.lines() {
            let code = line.split_once("--").map_or(line, |(code, _)| code).trim_end();
            if code.trim().is_empty() {
                continue;
            }
            if !current.is_empty() {
                current.push('\n');
            }
            if let Some(last) = code.strip_suffix(';') {
                current.push_str(last);
                out.push(std::mem::take(&mut current));
            } else {
                current.push_str(code);
            }
        }
        if !current.trim().is_empty() {
            out.push(current);
        }
        out
    }

    /// The statements and the ledger row, for one transaction.
    pub fn transaction(&self) -> Vec<String> {
        let mut sqls = self.statements();
        sqls.push(format!(
            // Names are this file's constants, lower-case words (tested): nothing to escape.
            "INSERT INTO {LEDGER_TABLE} (version, name, applied_at) VALUES ({}, '{}', GETDATE())",
            self.version, self.name
        ));
        sqls
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_the_file_names() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1);
            assert!(m.name.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{}", m.name);
        }
        assert_eq!(pending(&[1, 2]).iter().map(|m| m.version).collect::<Vec<_>>(), [3, 4, 5, 6, 7, 8, 9]);
        assert!(pending(&[1, 2, 3, 4, 5, 6, 7, 8, 9]).is_empty());
    }

    #[test]
    fn statements_split_at_line_ends_and_drop_comments() {
        let m = Migration { version: 9, name: "x", sql: "-- header\nSELECT 1;  -- one\n\nSELECT\n  2\n;\nSELECT 3" };
        assert_eq!(m.statements(), ["SELECT 1", "SELECT\n  2\n", "SELECT 3"]);
        let tx = m.transaction();
        assert_eq!(
            tx.last().unwrap(),
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9, 'x', GETDATE())"
        );
    }
}
