//! SQL text for the statements the loader sends to Redshift: string literals and validated identifiers.
//!
//! Values that come from data (S3 keys, URIs, error messages) go through [`literal`]; names that come from
//! configuration (schema, table) go through [`Identifier::parse`]. Nothing else is spliced into SQL.

use crate::CoreError;

/// Writes `value` as a Redshift string literal.
///
/// `column` (a column name of this crate's tables) starts with `prefix`: `LEFT("column", n) = 'prefix'`, not
/// `LIKE`, in which a prefix's `%` and `_` would be wildcards.
pub fn starts_with(column: &str, prefix: &str) -> Result<String, CoreError> {
    Ok(format!("LEFT(\"{column}\", {}) = {}", prefix.chars().count(), literal(prefix)?))
}

/// Redshift, like the PostgreSQL it descends from, reads a backslash in a literal as an escape character, so
/// both `'` and `\` are doubled. NUL cannot be stored in a Redshift `VARCHAR` and is refused.
pub fn literal(value: &str) -> Result<String, CoreError> {
    if value.contains('\0') {
        return Err(CoreError::InvalidLiteral("contains a NUL character"));
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    Ok(out)
}

/// Longest identifier Redshift accepts, in bytes.
pub const IDENTIFIER_MAX_BYTES: usize = 127;

/// A table or schema name from configuration, optionally schema-qualified (`analytics.transcription_results`).
///
/// Only plain identifiers are accepted (`[A-Za-z_][A-Za-z0-9_$]*`, at most 127 bytes per part); they are
/// lower-cased, as Redshift folds unquoted names, and written quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identifier {
    parts: Vec<String>,
}

impl Identifier {
    /// Validates a possibly schema-qualified name.
    pub fn parse(name: &str) -> Result<Identifier, CoreError> {
        let err = |reason| CoreError::InvalidIdentifier { name: name.into(), reason };
        let parts: Vec<&str> = name.split('.').collect();
        if parts.len() > 2 {
            return Err(err("at most schema.table"));
        }
        let mut out = Vec::with_capacity(parts.len());
        for part in parts {
            let mut chars = part.chars();
            match chars.next() {
                None => return Err(err("empty name")),
                Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
                    return Err(err("must start with a letter or underscore"))
                }
                _ => {}
            }
            if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
                return Err(err("only letters, digits, '_' and '$' are allowed"));
            }
            if part.len() > IDENTIFIER_MAX_BYTES {
                return Err(err("longer than 127 bytes"));
            }
            out.push(part.to_ascii_lowercase());
        }
        Ok(Identifier { parts: out })
    }

    /// The unqualified name (the table name of `schema.table`).
    pub fn name(&self) -> &str {
        self.parts.last().map(String::as_str).unwrap_or_default()
    }

    /// The name as written in SQL: each part double-quoted.
    pub fn quoted(&self) -> String {
        self.parts.iter().map(|p| format!("\"{p}\"")).collect::<Vec<_>>().join(".")
    }
}

impl std::fmt::Display for Identifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.quoted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_quotes_and_backslashes() {
        let cases = [
            ("plain", "'plain'"),
            ("", "''"),
            ("it's", "'it''s'"),
            ("a'; drop table x; --.wav", "'a''; drop table x; --.wav'"),
            ("back\\slash", "'back\\\\slash'"),
            ("\\'", "'\\\\'''"),
            ("録音 \"quoted\"", "'録音 \"quoted\"'"),
            ("s3://bucket/dt=2026-11-23/a b.parquet", "'s3://bucket/dt=2026-11-23/a b.parquet'"),
        ];
        for (input, want) in cases {
            assert_eq!(literal(input).unwrap(), want, "{input:?}");
        }
        assert!(literal("nul\0byte").is_err());
    }

    #[test]
    fn identifiers_are_validated_and_quoted() {
        assert_eq!(Identifier::parse("transcription_results").unwrap().quoted(), "\"transcription_results\"");
        assert_eq!(Identifier::parse("Analytics.Results$1").unwrap().quoted(), "\"analytics\".\"results$1\"");
        assert_eq!(Identifier::parse("public.t").unwrap().name(), "t");
        for bad in ["", "1table", "a.b.c", "t; drop table x", "t\"", "a..b", ".t", "naïve", &"x".repeat(128)] {
            assert!(Identifier::parse(bad).is_err(), "{bad:?}");
        }
    }
}
