-- redscribe schema, version 8: what PII redaction took out of each transcript.
--
-- pii_redacted is NULL when redaction was not asked for, '{}' when it ran and found nothing, and otherwise the
-- count of values redacted by type, as JSON: {"CREDIT_DEBIT_NUMBER":1,"EMAIL":2} (the types are Amazon
-- Transcribe's PII entity types; crates/core/src/redact.rs). Appended at the end, as ALTER TABLE ADD COLUMN
-- appends it, and in the same place in the Arrow schema (crates/core/src/schema.rs).

ALTER TABLE transcription_results ADD COLUMN pii_redacted VARCHAR(256);
