//! The shipped dashboard is valid Grafana: checked against the `Dashboard` type of Grafana's own schema package
//! (`@grafana/schema`, as `dashboards/tools/package-lock.json` pins it), made into a JSON Schema and validated with
//! Ajv by `dashboards/tools/check.mjs` (installed by `scripts/setup.sh`). And `redscribe dashboard` draws it from a
//! run on the samples, in a real browser (headless Chromium): every panel a local run can fill has data.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

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

/// The samples `scripts/make-samples.sh` generates (as the setup step does), in `dir/samples`.
fn samples(dir: &Path) -> PathBuf {
    let samples = dir.join("samples");
    let made = Command::new("bash").arg(repo_root().join("scripts/make-samples.sh")).arg(&samples).output().unwrap();
    assert!(made.status.success(), "make-samples: {}", String::from_utf8_lossy(&made.stderr));
    samples
}

/// A `redscribe` command serving the dashboard page (`dashboard`, or `demo --dashboard` once its run is done),
/// stopped when dropped.
struct Page {
    child: Child,
    url: String,
}

impl Page {
    fn start(args: &[&std::ffi::OsStr]) -> Page {
        let mut child = Command::new(env!("CARGO_BIN_EXE_redscribe"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = stdout
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("dashboard: ")?.split_whitespace().next().map(str::to_string))
            .unwrap_or_else(|| panic!("redscribe {args:?} printed no dashboard address: {:?}", child.wait()));
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        std::thread::spawn(move || for _ in stdout {});
        Page { child, url }
    }

    /// Stops it as Ctrl-C would, and checks that it ends cleanly.
    fn stop(mut self) {
        assert!(Command::new("kill").args(["-INT", &self.child.id().to_string()]).status().unwrap().success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "stops cleanly on Ctrl-C: {status}");
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        // Still running only when the test failed before stopping it.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Headless Chromium on `url`, with time for the page's scripts to fetch and draw; `what` is `--dump-dom` or
/// `--screenshot=FILE`.
fn chromium(url: &str, what: &str) -> String {
    let out = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=15000", "--window-size=1600,2300"])
        .arg(what)
        .arg(url)
        .output()
        .expect("chromium (scripts/setup.sh installs it)");
    assert!(out.status.success(), "chromium: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The value of `attribute` in an element's opening tag.
fn attribute<'a>(tag: &'a str, attribute: &str) -> Option<&'a str> {
    let start = tag.find(&format!("{attribute}=\""))? + attribute.len() + 2;
    Some(&tag[start..start + tag[start..].find('"')?])
}

#[test]
fn the_page_draws_every_panel_from_a_run_on_the_samples() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let samples = samples(dir.path());
    let shipped: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo_root().join("dashboards/redscribe-pipeline.json")).unwrap())
            .unwrap();
    // Panels that read only what AWS publishes itself (Lambda, SQS): nothing of a local run can fill them.
    let aws_only: Vec<String> = shipped["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            p["targets"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["namespace"].as_str().is_some_and(|n| n.starts_with("AWS/")))
        })
        .map(|p| p["id"].to_string())
        .collect();
    assert_eq!(aws_only.len(), 2, "{aws_only:?}");

    // `redscribe demo --dashboard` runs on the samples, then serves the page of its run: in the browser, the page
    // lays out every panel and draws each from the run.
    let page = Page::start(&[
        "demo".as_ref(),
        "--dashboard".as_ref(),
        "--samples".as_ref(),
        samples.as_os_str(),
        "--data-dir".as_ref(),
        data.as_os_str(),
    ]);
    let dom = chromium(&page.url, "--dump-dom");
    assert!(dom.contains("<body data-state=\"ready\""), "{}", &dom[..dom.len().min(2000)]);
    let panels: Vec<&str> = dom.split("<section ").skip(1).map(|s| &s[..s.find('>').unwrap()]).collect();
    assert_eq!(panels.len(), shipped["panels"].as_array().unwrap().len(), "one section per panel");
    for tag in &panels {
        let id = attribute(tag, "data-panel-id").unwrap();
        let state = attribute(tag, "data-state").unwrap();
        let points: usize = attribute(tag, "data-points").unwrap().parse().unwrap();
        assert!(attribute(tag, "style").unwrap().contains("grid-area"), "laid out by gridPos: {tag}");
        if aws_only.contains(&id.to_string()) {
            assert_eq!(state, "empty", "{tag}");
        } else {
            assert!(state == "drawn" && points > 0, "panel {id} has no data: {tag}");
        }
    }
    assert_eq!(dom.matches("class=\"uplot").count(), panels.len() - aws_only.len() - 2, "a chart per series panel");
    // The real-time factor (about 0.05) and the audio seconds, each on an axis of its own.
    let rtf = panels.iter().find(|tag| attribute(tag, "data-panel-id") == Some("5")).unwrap();
    assert_eq!(attribute(rtf, "data-axes"), Some("2"), "{rtf}");
    assert_eq!(dom.matches("class=\"body table\"").count(), 2, "the two table panels");
    page.stop();

    // Without a browser: every panel's data, and the command fails for a panel without.
    let check = Command::new(env!("CARGO_BIN_EXE_redscribe"))
        .args(["dashboard", "--check", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(check.status.success(), "{listed}{}", String::from_utf8_lossy(&check.stderr));
    for view in ["Recordings per day", "Failures per day by code", "Cost per audio minute by model"] {
        let line = listed.lines().find(|l| l.contains(view)).unwrap_or_else(|| panic!("{view}: {listed}"));
        assert!(!line.contains(" 0 rows") && !line.contains(" 0 points"), "{line}");
    }
    let empty = tempfile::tempdir().unwrap();
    let none = Command::new(env!("CARGO_BIN_EXE_redscribe"))
        .args(["dashboard", "--check", "--data-dir"])
        .arg(empty.path())
        .output()
        .unwrap();
    assert!(!none.status.success(), "an empty data folder has no data to draw");

    // `redscribe dashboard` serves the same page over the data folder; a screenshot of it is the test's artefact.
    let page = Page::start(&["dashboard".as_ref(), "--data-dir".as_ref(), data.as_os_str()]);
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    let _ = std::fs::remove_file(&shot);
    chromium(&page.url, &format!("--screenshot={}", shot.display()));
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "{} bytes", png.len());
    eprintln!("screenshot: {}", shot.display());
    page.stop();
}
