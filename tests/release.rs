//! Release packaging, end to end: `scripts/dist.sh` packages the freshly built binary; the archive
//! is unpacked into a directory on `PATH` and driven through the real `kubectl` (plugin
//! discovery, `version`, shell completion against the fake API server); and the krew manifest
//! template is rendered for a tag and the archive set and checked against krew's rules.
//!
//! The other platforms' archives cannot be built here (cross targets), so the archive set holds
//! the real host archive plus stand-in archives for the other targets of the release workflow,
//! made by the same script with `--target` (same names, layout and format: `.zip` for Windows)
//! around a small stand-in file. The manifest checks only look at names, layout and checksums.

#[macro_use]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::{BIN, TestCluster, stderr, stdout};
use serde_json::Value;

const PLUGIN: &str = "arc";
const REPO_URL: &str = "https://github.com/kubectl-arc/kubectl-arc";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tag() -> String {
    format!("v{}", env!("CARGO_PKG_VERSION"))
}

// ---------------------------------------------------------------------------------------------
// Archives

/// A Rust target triple as krew's (Go's) os and arch, the way scripts/dist.sh names archives.
fn platform_of(target: &str) -> (String, String) {
    let arch = if target.starts_with("x86_64-") {
        "amd64"
    } else if target.starts_with("aarch64-") {
        "arm64"
    } else {
        panic!("unexpected architecture in {target}")
    };
    let os = if target.contains("-linux-") {
        "linux"
    } else if target.ends_with("-apple-darwin") {
        "darwin"
    } else if target.contains("-windows-") {
        "windows"
    } else {
        panic!("unexpected os in {target}")
    };
    (os.to_owned(), arch.to_owned())
}

fn host_platform() -> (String, String) {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        o => o,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    };
    (os.to_owned(), arch.to_owned())
}

/// The targets the release workflow builds (its build matrix).
fn workflow_targets() -> Vec<String> {
    let text = std::fs::read_to_string(repo().join(".github/workflows/release.yml"))
        .expect("release workflow");
    let wf: Value = serde_saphyr::from_str(&text).expect("release.yml is YAML");
    wf.pointer("/jobs/build/strategy/matrix/include")
        .and_then(Value::as_array)
        .expect("jobs.build.strategy.matrix.include")
        .iter()
        .map(|m| m["target"].as_str().expect("matrix target").to_owned())
        .collect()
}

/// Run scripts/dist.sh; returns the archive path it prints last.
fn dist(bin: &Path, target: Option<&str>, out: &Path) -> PathBuf {
    let mut cmd = Command::new("bash");
    cmd.arg(repo().join("scripts/dist.sh"))
        .arg("--bin")
        .arg(bin)
        .arg("--out")
        .arg(out);
    if let Some(t) = target {
        cmd.args(["--target", t]);
    }
    let o = cmd.output().expect("bash runs scripts/dist.sh");
    assert!(
        o.status.success(),
        "dist.sh failed: {}\n{}",
        stderr(&o),
        stdout(&o)
    );
    let path = PathBuf::from(stdout(&o).lines().last().expect("archive path").trim());
    assert!(path.is_file(), "{} missing", path.display());
    path
}

struct ArchiveSet {
    dir: PathBuf,
    /// The archive packaging the binary under test.
    host: PathBuf,
    /// (os, arch) -> archive
    all: BTreeMap<(String, String), PathBuf>,
}

/// Built once per test run: the host archive from the debug binary under test, and stand-ins
/// for the other platforms of the release workflow.
fn archives() -> &'static ArchiveSet {
    static SET: OnceLock<ArchiveSet> = OnceLock::new();
    SET.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("release-archives");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("archive dir");
        let started = std::time::Instant::now();
        let host = dist(Path::new(BIN), None, &dir);
        eprintln!(
            "dist.sh: host archive {} ({} bytes) in {:?}",
            host.display(),
            std::fs::metadata(&host).map(|m| m.len()).unwrap_or(0),
            started.elapsed()
        );
        let standin = dir.join("stand-in").join("kubectl-arc");
        std::fs::create_dir_all(standin.parent().unwrap()).unwrap();
        std::fs::write(
            &standin,
            b"stand-in binary: the real one is cross-compiled in CI\n",
        )
        .unwrap();
        let mut all = BTreeMap::new();
        all.insert(host_platform(), host.clone());
        for target in workflow_targets() {
            let p = platform_of(&target);
            if p != host_platform() {
                all.insert(p, dist(&standin, Some(&target), &dir));
            }
        }
        ArchiveSet { dir, host, all }
    })
}

/// File names at the root of a .tar.gz (via tar) or .zip (central directory, parsed here).
fn archive_entries(path: &Path) -> Vec<String> {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    if name.ends_with(".zip") {
        zip_entries(&std::fs::read(path).expect("read zip"))
    } else {
        let o = Command::new("tar")
            .arg("-tzf")
            .arg(path)
            .output()
            .expect("tar runs");
        assert!(o.status.success(), "tar -tzf {name}: {}", stderr(&o));
        stdout(&o).lines().map(str::to_owned).collect()
    }
}

fn zip_entries(b: &[u8]) -> Vec<String> {
    let u16_at = |i: usize| usize::from(u16::from_le_bytes([b[i], b[i + 1]]));
    let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as usize;
    let eocd = (0..=b.len().saturating_sub(22))
        .rev()
        .find(|&i| b[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])
        .expect("zip end of central directory");
    let (count, mut p) = (u16_at(eocd + 10), u32_at(eocd + 16));
    let mut names = Vec::new();
    for _ in 0..count {
        assert_eq!(
            b[p..p + 4],
            [0x50, 0x4b, 0x01, 0x02],
            "central directory entry"
        );
        let (n, extra, comment) = (u16_at(p + 28), u16_at(p + 30), u16_at(p + 32));
        names.push(String::from_utf8_lossy(&b[p + 46..p + 46 + n]).into_owned());
        p += 46 + n + extra + comment;
    }
    names
}

fn sha256_hex(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read archive");
    ring::digest::digest(&ring::digest::SHA256, &bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Manifest: render like krew-release-bot, validate like krew

/// Render the krew-release-bot template: `{{ .TagName }}` becomes the tag, and
/// `{{ addURIAndSha "URL" .TagName }}` becomes `uri: URL` and, on the next line at the bot's
/// fixed 4-space indent, `sha256:` of the asset (here: the file of that name in `assets`).
fn render(template: &str, tag: &str, assets: &Path) -> Result<String, String> {
    const TAG: &str = "{{ .TagName }}";
    let mut out = String::new();
    for (n, line) in template.lines().enumerate() {
        let mut rendered = String::new();
        let mut rest = line;
        while let Some(start) = rest.find("{{") {
            rendered.push_str(&rest[..start]);
            let action = &rest[start..];
            if let Some(after) = action.strip_prefix(TAG) {
                rendered.push_str(tag);
                rest = after;
            } else if let Some(args) = action
                .strip_prefix("{{ addURIAndSha \"")
                .or_else(|| action.strip_prefix("{{addURIAndSha \""))
            {
                let close = args
                    .find('"')
                    .ok_or(format!("line {}: unterminated URL", n + 1))?;
                let url = args[..close].replace(TAG, tag);
                let tail = args[close + 1..].trim_start();
                let tail = tail
                    .strip_prefix(".TagName")
                    .map(str::trim_start)
                    .and_then(|t| t.strip_prefix("}}"))
                    .ok_or(format!(
                        "line {}: addURIAndSha needs `.TagName }}}}`",
                        n + 1
                    ))?;
                let file = assets.join(url.rsplit('/').next().unwrap_or(""));
                if !file.is_file() {
                    return Err(format!("line {}: no asset {}", n + 1, file.display()));
                }
                rendered.push_str(&format!("uri: {url}\n    sha256: {}", sha256_hex(&file)));
                rest = tail;
            } else {
                return Err(format!(
                    "line {}: unsupported template action {action}",
                    n + 1
                ));
            }
        }
        rendered.push_str(rest);
        out.push_str(&rendered);
        out.push('\n');
    }
    Ok(out)
}

fn is_semver_with_v(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('v') else {
        return false;
    };
    let core = rest.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars().all(|c| c.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
        })
}

/// `from` patterns are shell globs (`*` only, as used in practice) over archive paths.
fn glob(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((pre, post)) => {
            name.len() >= pre.len() + post.len() && name.starts_with(pre) && name.ends_with(post)
        }
    }
}

/// Every problem krew (`validate-krew-manifest`), krew-index review and our release layout would
/// find in a rendered manifest; `archives` maps an archive file name to its path.
fn validate(rendered: &str, file_stem: &str, archives: &BTreeMap<String, PathBuf>) -> Vec<String> {
    let mut p = Vec::new();
    let m: Value = match serde_saphyr::from_str(rendered) {
        Ok(v) => v,
        Err(e) => return vec![format!("not YAML: {e}")],
    };
    let s = |ptr: &str| m.pointer(ptr).and_then(Value::as_str).unwrap_or("");
    if s("/apiVersion") != "krew.googlecontainertools.github.com/v1alpha2" {
        p.push(format!("apiVersion {:?}", s("/apiVersion")));
    }
    if s("/kind") != "Plugin" {
        p.push(format!("kind {:?}", s("/kind")));
    }
    let name = s("/metadata/name");
    let reserved = [
        "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
        "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
    ];
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        || reserved.iter().any(|r| r.eq_ignore_ascii_case(name))
    {
        p.push(format!("name {name:?} is not a safe plugin name"));
    }
    if name != file_stem {
        p.push(format!(
            "name {name:?} does not match the file name {file_stem}.yaml"
        ));
    }
    let version = s("/spec/version");
    if !is_semver_with_v(version) {
        p.push(format!(
            "version {version:?} is not semver with a leading v"
        ));
    }
    if !s("/spec/homepage").starts_with("https://") {
        p.push("homepage is not https".into());
    }
    let short = s("/spec/shortDescription");
    if short.is_empty() || short.contains(['\r', '\n']) || short.chars().count() > 50 {
        p.push(format!(
            "shortDescription {short:?}: needs one line of at most 50 characters"
        ));
    }
    let description = s("/spec/description");
    if description.trim().is_empty() {
        p.push("description is empty".into());
    }
    for (field, text, max_lines) in [
        ("description", description, 20),
        ("caveats", s("/spec/caveats"), 12),
    ] {
        let lines: Vec<&str> = text.lines().collect();
        if lines.len() > max_lines {
            p.push(format!(
                "{field} has {} lines (at most {max_lines})",
                lines.len()
            ));
        }
        for l in lines.iter().filter(|l| l.chars().count() > 80) {
            p.push(format!("{field} line longer than 80 columns: {l:?}"));
        }
    }
    let Some(platforms) = m.pointer("/spec/platforms").and_then(Value::as_array) else {
        p.push("no platforms".into());
        return p;
    };
    if platforms.is_empty() {
        p.push("no platforms".into());
    }
    let mut selectors: Vec<BTreeMap<String, String>> = Vec::new();
    for (i, pl) in platforms.iter().enumerate() {
        let at = format!("platform {i}");
        // Selector: non-empty matchLabels with os/arch keys only (we use no matchExpressions).
        let labels: BTreeMap<String, String> = pl
            .pointer("/selector/matchLabels")
            .and_then(Value::as_object)
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        if labels.is_empty() {
            p.push(format!("{at}: empty selector"));
        }
        if pl.pointer("/selector/matchExpressions").is_some() {
            p.push(format!("{at}: matchExpressions not expected"));
        }
        for k in labels.keys().filter(|k| *k != "os" && *k != "arch") {
            p.push(format!("{at}: selector key {k:?} not supported"));
        }
        for (j, other) in selectors.iter().enumerate() {
            // Two label selectors overlap unless some key both set has different values.
            let disjoint = labels
                .iter()
                .any(|(k, v)| other.get(k).is_some_and(|o| o != v));
            if !disjoint {
                p.push(format!("{at}: selector overlaps platform {j} ({labels:?})"));
            }
        }
        selectors.push(labels.clone());
        let (os, arch) = (
            labels.get("os").cloned().unwrap_or_default(),
            labels.get("arch").cloned().unwrap_or_default(),
        );

        let uri = pl["uri"].as_str().unwrap_or("");
        let ext = if os == "windows" { "zip" } else { "tar.gz" };
        let file = format!("kubectl-arc_{os}_{arch}.{ext}");
        let expected_uri = format!("{REPO_URL}/releases/download/{version}/{file}");
        if !uri.starts_with("https://") {
            p.push(format!("{at}: uri {uri:?} is not https"));
        }
        if uri != expected_uri {
            p.push(format!("{at}: uri {uri:?}, expected {expected_uri:?}"));
        }
        let sha = pl["sha256"].as_str().unwrap_or("");
        if sha.len() != 64 || !sha.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
            p.push(format!(
                "{at}: sha256 {sha:?} is not 64 lower-case hex digits"
            ));
        }
        let bin = pl["bin"].as_str().unwrap_or("");
        if bin.is_empty() {
            p.push(format!("{at}: bin not set"));
        }
        if os == "windows" && !bin.ends_with(".exe") {
            p.push(format!("{at}: Windows bin {bin:?} must be an .exe"));
        }
        let files: Option<Vec<(String, String)>> = pl.get("files").map(|f| {
            f.as_array()
                .map(|a| {
                    a.iter()
                        .map(|op| {
                            (
                                op["from"].as_str().unwrap_or("").to_owned(),
                                op["to"].as_str().unwrap_or("").to_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default()
        });
        if let Some(f) = &files {
            if f.is_empty() {
                p.push(format!("{at}: files must be unspecified or non-empty"));
            }
            for (from, to) in f
                .iter()
                .filter(|(from, to)| from.is_empty() || to.is_empty())
            {
                p.push(format!(
                    "{at}: file operation {from:?} -> {to:?} incomplete"
                ));
            }
        }

        let Some(archive) = archives.get(&file) else {
            p.push(format!("{at}: no archive {file} was built"));
            continue;
        };
        if sha != sha256_hex(archive) {
            p.push(format!("{at}: sha256 does not match {file}"));
        }
        let entries = archive_entries(archive);
        // What krew installs: each `from` glob copied to `to` (all at the root here).
        let installed: BTreeSet<String> = match &files {
            None => entries.iter().cloned().collect(),
            Some(f) => {
                let mut set = BTreeSet::new();
                for (from, to) in f {
                    let matched: Vec<&String> = entries.iter().filter(|e| glob(from, e)).collect();
                    if matched.is_empty() {
                        p.push(format!(
                            "{at}: files.from {from:?} matches nothing in {file}"
                        ));
                    }
                    for e in matched {
                        let base = e.rsplit('/').next().unwrap_or(e);
                        set.insert(if to == "." {
                            base.to_owned()
                        } else {
                            to.clone()
                        });
                    }
                }
                set
            }
        };
        if !installed.contains(bin.trim_start_matches("./")) {
            p.push(format!(
                "{at}: bin {bin:?} is not installed from {file} ({entries:?})"
            ));
        }
        if !installed.iter().any(|f| {
            ["LICENSE", "LICENSE.txt", "LICENSE.md"].contains(&f.as_str())
                || f.starts_with("LICENSES")
        }) {
            p.push(format!("{at}: no LICENSE installed from {file}"));
        }
    }
    p
}

fn archive_map(set: &ArchiveSet) -> BTreeMap<String, PathBuf> {
    set.all
        .values()
        .map(|a| {
            (
                a.file_name().unwrap().to_string_lossy().into_owned(),
                a.clone(),
            )
        })
        .collect()
}

fn rendered_manifest() -> String {
    let template =
        std::fs::read_to_string(repo().join("plugin-manifest/arc.yaml")).expect("manifest");
    render(&template, &tag(), &archives().dir).unwrap_or_else(|e| panic!("render: {e}"))
}

#[test]
fn archives_hold_the_plugin_the_completion_helper_and_the_license() {
    let set = archives();
    assert_eq!(
        set.all.len(),
        workflow_targets().len(),
        "one archive per workflow target"
    );
    for ((os, arch), archive) in &set.all {
        let mut entries = archive_entries(archive);
        entries.sort();
        let expected = if os == "windows" {
            ["LICENSE", "kubectl-arc.exe", "kubectl_complete-arc.cmd"]
        } else {
            ["LICENSE", "kubectl-arc", "kubectl_complete-arc"]
        };
        assert_eq!(entries, expected, "{os}/{arch}");
        // The .sha256 next to it is what `sha256sum -c` reads.
        let file = archive.file_name().unwrap().to_string_lossy().into_owned();
        let side = std::fs::read_to_string(archive.with_file_name(format!("{file}.sha256")))
            .expect(".sha256 file");
        assert_eq!(side, format!("{}  {file}\n", sha256_hex(archive)));
    }
    // The host archive really packages the binary under test.
    let unpacked = tempfile::tempdir().unwrap();
    unpack(&set.host, unpacked.path());
    assert_eq!(
        std::fs::read(unpacked.path().join("kubectl-arc")).unwrap(),
        std::fs::read(BIN).unwrap()
    );
    assert_eq!(
        std::fs::read(unpacked.path().join("LICENSE")).unwrap(),
        std::fs::read(repo().join("LICENSE")).unwrap()
    );
}

#[test]
fn dist_refuses_unknown_arguments_and_targets() {
    for args in [
        &["--bogus"][..],
        &["--target", "riscv64gc-unknown-linux-gnu", "--bin", BIN],
    ] {
        let o = Command::new("bash")
            .arg(repo().join("scripts/dist.sh"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o).lines().count(), 1, "one line: {}", stderr(&o));
    }
}

#[test]
fn manifest_renders_for_the_tag_and_follows_krews_rules() {
    let set = archives();
    let rendered = rendered_manifest();
    let problems = validate(&rendered, PLUGIN, &archive_map(set));
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}\n--- rendered ---\n{rendered}",
        problems.len(),
        problems.join("\n")
    );
    // Every archive the release workflow builds has exactly one platform, and nothing else does.
    let m: Value = serde_saphyr::from_str(&rendered).unwrap();
    let platforms: BTreeSet<(String, String)> = m["spec"]["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let l = &p["selector"]["matchLabels"];
            (
                l["os"].as_str().unwrap().to_owned(),
                l["arch"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let built: BTreeSet<(String, String)> =
        workflow_targets().iter().map(|t| platform_of(t)).collect();
    assert_eq!(platforms, built);
    assert!(platforms.contains(&("windows".to_owned(), "amd64".to_owned())));
    assert_eq!(m["spec"]["version"], tag());
    // The caveats carry the completion step krew cannot do (krew#812).
    assert!(
        m["spec"]["caveats"]
            .as_str()
            .unwrap()
            .contains("kubectl arc completion >")
    );
}

#[test]
fn the_manifest_check_catches_broken_manifests() {
    let set = archives();
    let good = rendered_manifest();
    let map = archive_map(set);
    let check = |bad: String, expect: &str| {
        assert_ne!(bad, good, "mutation for {expect:?} changed nothing");
        let problems = validate(&bad, PLUGIN, &map);
        assert!(
            problems.iter().any(|p| p.contains(expect)),
            "expected a problem containing {expect:?}, got {problems:?}"
        );
    };
    let linux_sha = sha256_hex(&set.all[&("linux".to_owned(), "amd64".to_owned())]);
    let darwin_sha = sha256_hex(&set.all[&("darwin".to_owned(), "arm64".to_owned())]);
    check(
        good.replacen(&linux_sha, &darwin_sha, 1),
        "sha256 does not match",
    );
    check(
        good.replace("{os: darwin, arch: arm64}", "{os: darwin}"),
        "overlaps",
    );
    check(
        good.replace("bin: kubectl-arc.exe", "bin: kubectl-arc"),
        "must be an .exe",
    );
    check(
        good.replacen("bin: kubectl-arc\n", "bin: kubectl-arc2\n", 1),
        "is not installed",
    );
    check(
        good.replacen("- {from: LICENSE, to: .}", "- {from: LICENCE, to: .}", 1),
        "matches nothing",
    );
    check(
        good.replace(&format!("version: \"{}\"", tag()), "version: \"0.1\""),
        "not semver",
    );
    check(
        good.replacen("uri: https://", "uri: http://", 1),
        "not https",
    );
    check(
        good.replace("name: arc\n", "name: kubectl-arc\n"),
        "does not match the file name",
    );
    check(
        good.replace(
            "shortDescription: ",
            "shortDescription: A very long tagline that explains everything ",
        ),
        "at most 50 characters",
    );
    // An archive set without Windows cannot render the Windows platform.
    let template = std::fs::read_to_string(repo().join("plugin-manifest/arc.yaml")).unwrap();
    let partial = tempfile::tempdir().unwrap();
    std::fs::copy(
        &set.host,
        partial.path().join(set.host.file_name().unwrap()),
    )
    .unwrap();
    let err = render(&template, &tag(), partial.path()).expect_err("assets missing");
    assert!(err.contains("no asset"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Installed from the archive, driven through the real kubectl

fn unpack(archive: &Path, into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    let o = Command::new("tar")
        .arg("-xzf")
        .arg(archive)
        .arg("-C")
        .arg(into)
        .output()
        .expect("tar runs");
    assert!(o.status.success(), "unpack: {}", stderr(&o));
}

/// The plugin installed from its archive into a directory of its own, with kubectl on `PATH`.
struct Installed {
    kubectl: PathBuf,
    bin: PathBuf,
    home: tempfile::TempDir,
}

impl Installed {
    fn new(kubectl: PathBuf) -> Installed {
        let home = tempfile::tempdir().unwrap();
        let bin = home.path().join("bin");
        unpack(&archives().host, &bin);
        Installed { kubectl, bin, home }
    }

    /// `kubectl ARGS` with PATH = the install dir, kubectl's dir and /usr/bin:/bin (for
    /// `/bin/sh` helpers), a private HOME, and `KUBECONFIG` only when given.
    fn kubectl(&self, kubeconfig_env: Option<&Path>, args: &[&str]) -> Output {
        let kubectl_dir = self.kubectl.parent().unwrap().to_path_buf();
        let path = std::env::join_paths([
            self.bin.clone(),
            kubectl_dir,
            PathBuf::from("/usr/bin"),
            PathBuf::from("/bin"),
        ])
        .unwrap();
        let mut cmd = Command::new(&self.kubectl);
        cmd.args(args)
            .env("PATH", path)
            .env("HOME", self.home.path())
            .env("NO_COLOR", "1")
            .env_remove("KUBECONFIG")
            .env_remove("KUBERNETES_SERVICE_HOST");
        if let Some(k) = kubeconfig_env {
            cmd.env("KUBECONFIG", k);
        }
        cmd.output().expect("kubectl runs")
    }
}

/// Candidates (values only) and the directive of a `kubectl __complete` answer.
fn parse_completion(o: &Output) -> (Vec<String>, String) {
    assert!(
        o.status.success(),
        "kubectl __complete failed: {}",
        stderr(o)
    );
    let out = stdout(o);
    let mut lines: Vec<&str> = out.lines().collect();
    let directive = lines.pop().unwrap_or("").to_owned();
    let values = lines
        .iter()
        .map(|l| l.split('\t').next().unwrap_or("").to_owned())
        .collect();
    (values, directive)
}

#[test]
fn kubectl_finds_runs_and_completes_the_installed_plugin() {
    let k = require_kubectl!();
    let inst = Installed::new(k);
    // S1 plus a namespace without ARC objects that sorts before them: "ARC first" is visible.
    let c = TestCluster::from_builder(
        fake_apiserver::FakeServer::builder()
            .fixture(common::scenarios_dir().join("S1"))
            .object(serde_json::json!({
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}
            })),
    );

    // Discovery.
    let list = inst.kubectl(None, &["plugin", "list"]);
    let installed = inst.bin.join("kubectl-arc");
    assert!(
        stdout(&list).contains(&installed.display().to_string()),
        "kubectl plugin list: {}\n{}",
        stdout(&list),
        stderr(&list)
    );
    assert!(
        !stderr(&list).contains("kubectl-arc"),
        "warning: {}",
        stderr(&list)
    );

    // version --client, then with the cluster (through KUBECONFIG, as a user would).
    let v = inst.kubectl(None, &["arc", "version", "--client"]);
    assert!(v.status.success(), "{}", stderr(&v));
    let text = stdout(&v);
    assert!(
        text.starts_with(&format!("Client Version: {}\n", tag())),
        "{text}"
    );
    assert!(
        text.contains("Git Commit:") && text.contains("Build Date:") && text.contains("Target:")
    );
    assert!(!text.contains("Server Version"), "{text}");
    let v = inst.kubectl(Some(&c.kubeconfig), &["arc", "version", "-o", "json"]);
    assert!(v.status.success(), "{}", stderr(&v));
    let j: Value = serde_json::from_str(&stdout(&v)).expect("version -o json");
    assert_eq!(j["clientVersion"]["gitVersion"], tag());
    assert_eq!(j["serverVersion"]["gitVersion"], "v1.32.0");

    // Completion of subcommands: kubectl runs kubectl_complete-arc from PATH.
    let (values, directive) = parse_completion(&inst.kubectl(None, &["__complete", "arc", "dr"]));
    assert_eq!(values, ["drain"]);
    assert_eq!(directive, ":4");
    let (values, _) = parse_completion(&inst.kubectl(None, &["__complete", "arc", ""]));
    assert_eq!(
        values,
        [
            "doctor",
            "orphans",
            "drain",
            "explain",
            "version",
            "completion"
        ]
    );

    // drain <ns>: namespaces with ARC objects first (S1: the controller and the moved listener
    // in arc-controller, the scale set in arc-runners, the stuck listener in arc-systems).
    let all = {
        let o = Command::new(&inst.kubectl)
            .args(["--kubeconfig"])
            .arg(&c.kubeconfig)
            .args(["get", "ns", "-o", "jsonpath={.items[*].metadata.name}"])
            .env("HOME", inst.home.path())
            .output()
            .unwrap();
        let mut v: Vec<String> = stdout(&o).split_whitespace().map(str::to_owned).collect();
        v.sort();
        v
    };
    let arc = ["arc-controller", "arc-runners", "arc-systems"];
    let mut expected: Vec<String> = arc.iter().map(|s| (*s).to_owned()).collect();
    expected.extend(all.iter().filter(|n| !arc.contains(&n.as_str())).cloned());
    assert!(all.contains(&"apps".to_owned()), "{all:?}");
    assert_eq!(
        expected[arc.len()],
        "apps",
        "the non-ARC namespaces follow, sorted"
    );

    let (values, directive) =
        parse_completion(&inst.kubectl(Some(&c.kubeconfig), &["__complete", "arc", "drain", ""]));
    assert_eq!(values, expected, "via KUBECONFIG");
    assert_eq!(directive, ":36", "NoFileComp|KeepOrder");
    let kc = c.kubeconfig.to_str().unwrap();
    let (values, _) = parse_completion(&inst.kubectl(
        None,
        &["__complete", "arc", "drain", "--kubeconfig", kc, ""],
    ));
    assert_eq!(values, expected, "via --kubeconfig on the line");
    let (values, _) = parse_completion(&inst.kubectl(
        Some(&c.kubeconfig),
        &["__complete", "arc", "doctor", "-n", "arc-r"],
    ));
    assert_eq!(values, ["arc-runners"]);
    let (values, _) = parse_completion(&inst.kubectl(
        Some(&c.kubeconfig),
        &["__complete", "arc", "doctor", "--context", ""],
    ));
    assert!(values.contains(&"admin".to_owned()), "{values:?}");
    let (values, directive) = parse_completion(&inst.kubectl(
        Some(&c.kubeconfig),
        &["__complete", "arc", "doctor", "-o", ""],
    ));
    assert_eq!(
        (values, directive.as_str()),
        (vec!["table".into(), "json".into(), "yaml".into()], ":4")
    );

    // The helper shipped in the archive is what `kubectl arc completion` prints.
    let printed = inst.kubectl(None, &["arc", "completion"]);
    assert!(printed.status.success());
    assert_eq!(
        printed.stdout,
        std::fs::read(inst.bin.join("kubectl_complete-arc")).unwrap()
    );
}
