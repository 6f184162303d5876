//! The language of each upload, as `REDSCRIBE_MODEL=base redscribe serve` hears it: detected when nobody says,
//! taken from the object's `x-amz-meta-language` when the uploader does (put with the real `aws` CLI), and a
//! language the model does not speak is a failed row with its own code and a quarantine record, not a guess.

use std::process::Command;

mod common;
use common::{aws, query_until, start_serve, stop};

#[test]
fn each_upload_is_heard_in_its_own_language_or_the_one_its_metadata_names() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("es.wav");
    let spoken = "Buenos días, quisiera hablar sobre la factura del mes pasado.";
    assert!(Command::new("espeak-ng").args(["-v", "es", "-w"]).arg(&wav).arg(spoken).status().unwrap().success());
    let wav = wav.to_str().unwrap();

    let served = start_serve(&dir.path().join("data"), &[], &[("REDSCRIBE_MODEL", "base")]);
    aws(&served, &["s3", "cp", wav, "s3://recordings/in/detected.wav"]);
    aws(&served, &["s3", "cp", wav, "s3://recordings/in/hinted.wav", "--metadata", "language=es-MX"]);
    aws(&served, &["s3", "cp", wav, "s3://recordings/in/unspoken.wav", "--metadata", "language=tlh"]);
    let rows = query_until(
        &served,
        "select object_key, status, error_code, model, language, language_probability is not null as detected, \
         text like '%factura%' as heard from transcription_results order by object_key",
        3,
    );
    let listed = aws(&served, &["s3", "ls", "--recursive", "s3://recordings/rejected/unsupported_language/"]);
    let record_key = listed.split_whitespace().last().expect("a quarantine record").to_string();
    let record = aws(&served, &["s3", "cp", &format!("s3://recordings/{record_key}"), "-"]);
    stop(served);

    assert_eq!(
        rows,
        "object_key,status,error_code,model,language,detected,heard\n\
         in/detected.wav,transcribed,,whisper-base,es,true,true\n\
         in/hinted.wav,transcribed,,whisper-base,es,false,true\n\
         in/unspoken.wav,failed,unsupported_language,,,false,\n"
    );
    let record: serde_json::Value = serde_json::from_str(&record).unwrap();
    assert_eq!((&record["reason"], &record["stage"]), (&"unsupported_language".into(), &"transcribe".into()));
    assert_eq!(record["recording"]["key"], "in/unspoken.wav");
    assert!(
        record["message"].as_str().is_some_and(|m| m.contains("\"tlh\"") && m.contains("whisper-base")),
        "{record}"
    );
}
