//! The shipped dashboard is valid Grafana: checked against the `Dashboard` type of Grafana's own schema package
//! (`@grafana/schema`, as `dashboards/tools/package-lock.json` pins it), made into a JSON Schema and validated with
//! Ajv by `dashboards/tools/check.mjs` (installed by `scripts/setup.sh`).

use std::path::{Path, PathBuf};
use std::process::Command;

use redscribe_testkit::stack::repo_root;

fn check(dashboards: &[&Path]) -> (bool, String) {
    let modules: PathBuf = redscribe_testkit::cache_dir().join("dashboard-tools");
    assert!(modules.join("node_modules/@grafana/schema").is_dir(), "{}: run scripts/setup.sh", modules.display());
    let out = Command::new("node")
        .arg(repo_root().join("dashboards/tools/check.mjs"))
        .arg("--modules")
        .arg(&modules)
        .args(dashboards)
        .output()
        .expect("node (scripts/setup.sh)");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), said)
}

#[test]
fn the_shipped_dashboard_is_valid_against_grafanas_schema() {
    let shipped = repo_root().join("dashboards/redscribe-pipeline.json");
    let (valid, said) = check(&[&shipped]);
    assert!(valid, "{said}");
    assert!(said.contains("valid against @grafana/schema 13.2.3 Dashboard"), "{said}");

    // The check can fail: a misspelt panel property and a refresh given as a number are caught, by path.
    let mut dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&shipped).unwrap()).unwrap();
    let panel = dashboard["panels"][0].as_object_mut().unwrap();
    let grid = panel.remove("gridPos").unwrap();
    panel.insert("gridPosition".into(), grid);
    dashboard["refresh"] = serde_json::json!(60);
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, dashboard.to_string()).unwrap();
    let (valid, said) = check(&[&broken]);
    assert!(!valid, "{said}");
    assert!(said.contains("/panels/0 must NOT have additional properties (gridPosition)"), "{said}");
    assert!(said.contains("/refresh must be string"), "{said}");
}
