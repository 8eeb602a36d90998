//! Builds the web UI (`web/`, Vite + TypeScript) and embeds its output.
//!
//! Steps:
//! 1. `npm ci` in `web/` when `node_modules` is missing or older than
//!    `package-lock.json`;
//! 2. `npm run build -- --outDir $OUT_DIR/dist --emptyOutDir` (type-check with
//!    `tsc --noEmit`, then `vite build`);
//! 3. write `$OUT_DIR/assets.rs`: a sorted `static ASSETS: &[(&str, &[u8])]`
//!    table of every built file (paths relative to the dist root, `/`-separated),
//!    each embedded with `include_bytes!`.
//!
//! Environment (all optional):
//! - `OSPREY_UI_DIST=/path/to/dist`: embed an already-built UI from that
//!   directory and do not run npm at all (e.g. builds without Node.js).
//! - `OSPREY_UI_NPM=/path/to/npm`: the npm executable to use (default `npm`).

use std::collections::BTreeMap;
use std::env;
use std::error::Error;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

type BoxError = Box<dyn Error>;

/// Inputs of the web build; a change to any of them re-runs this script.
const WATCHED: &[&str] = &[
    "src",
    "index.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "tsconfig.json",
];

const INSTALL_HINT: &str = "\
osprey-ui embeds a web UI built with Node.js and npm (Node 20.19+ or 22.12+).
Install them and re-run the build:
  Debian/Ubuntu:  apt-get install nodejs npm
  macOS:          brew install node
  other systems:  https://nodejs.org/en/download
Alternatively, build the UI elsewhere (`cd ui/web && npm ci && npm run build`) and
point the build at the result with OSPREY_UI_DIST=/abs/path/to/ui/web/dist.";

fn main() {
    // Print the error with Display (not the Debug form `main -> Result` uses),
    // so the multi-line install hint stays readable in cargo's output.
    if let Err(e) = run() {
        eprintln!("error: building the osprey web UI failed: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), BoxError> {
    let manifest_dir = PathBuf::from(required_env("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(required_env("OUT_DIR")?);
    let web_dir = manifest_dir.join("web");

    println!("cargo:rerun-if-env-changed=OSPREY_UI_DIST");
    println!("cargo:rerun-if-env-changed=OSPREY_UI_NPM");

    let dist_dir = match env::var_os("OSPREY_UI_DIST").filter(|v| !v.is_empty()) {
        Some(prebuilt) => {
            let dist = PathBuf::from(prebuilt);
            println!("cargo:rerun-if-changed={}", dist.display());
            if !dist.join("index.html").is_file() {
                return Err(format!(
                    "OSPREY_UI_DIST={} does not contain index.html; \
                     build the UI with `cd ui/web && npm ci && npm run build` first",
                    dist.display()
                )
                .into());
            }
            dist
        }
        None => {
            for input in WATCHED {
                println!("cargo:rerun-if-changed={}", web_dir.join(input).display());
            }
            let dist = out_dir.join("dist");
            build_web(&web_dir, &dist)?;
            dist
        }
    };

    let assets = collect_files(&dist_dir)?;
    if !assets.contains_key("index.html") {
        return Err(format!(
            "the UI build produced no index.html in {}",
            dist_dir.display()
        )
        .into());
    }
    fs::write(out_dir.join("assets.rs"), render_table(&assets)?)?;
    Ok(())
}

fn required_env(name: &str) -> Result<String, BoxError> {
    env::var(name).map_err(|e| format!("{name} is not set ({e}); is this run by cargo?").into())
}

fn build_web(web_dir: &Path, dist: &Path) -> Result<(), BoxError> {
    let npm = env::var_os("OSPREY_UI_NPM")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(if cfg!(windows) { "npm.cmd" } else { "npm" }));

    // Hold an exclusive lock on package.json while touching node_modules, so two
    // concurrent builds (e.g. different target dirs) never run `npm ci` at once.
    let lock = fs::File::open(web_dir.join("package.json")).map_err(|e| {
        format!(
            "cannot open {}: {e}",
            web_dir.join("package.json").display()
        )
    })?;
    lock.lock()?;

    if needs_install(web_dir)? {
        run_npm(&npm, web_dir, &["ci", "--no-audit", "--no-fund"])?;
    }

    let out_dir = dist
        .to_str()
        .ok_or_else(|| format!("OUT_DIR is not valid UTF-8: {}", dist.display()))?;
    // `npm run build -- ARGS` appends ARGS to the script `tsc --noEmit && vite build`,
    // so they reach `vite build`.
    run_npm(
        &npm,
        web_dir,
        &["run", "build", "--", "--outDir", out_dir, "--emptyOutDir"],
    )?;

    lock.unlock()?;
    Ok(())
}

/// `npm ci` is needed when `node_modules` is missing, or `package-lock.json`
/// changed after the last install (npm writes `node_modules/.package-lock.json`).
fn needs_install(web_dir: &Path) -> Result<bool, BoxError> {
    let installed = web_dir.join("node_modules").join(".package-lock.json");
    if !web_dir.join("node_modules").is_dir() || !installed.is_file() {
        return Ok(true);
    }
    let lock_mtime = mtime(&web_dir.join("package-lock.json"))?;
    let installed_mtime = mtime(&installed)?;
    Ok(lock_mtime > installed_mtime)
}

fn mtime(path: &Path) -> Result<SystemTime, BoxError> {
    fs::metadata(path).and_then(|m| m.modified()).map_err(|e| {
        format!(
            "cannot read the modification time of {}: {e}",
            path.display()
        )
        .into()
    })
}

fn run_npm(npm: &Path, web_dir: &Path, args: &[&str]) -> Result<(), BoxError> {
    let shown = format!("{} {}", npm.display(), args.join(" "));
    let status = Command::new(npm)
        .args(args)
        .current_dir(web_dir)
        // Keep the logs plain, and drop cargo's `DEBUG=true|false`, which the
        // `debug` package (used by vite's dependencies) reads as a log filter.
        .env("NO_COLOR", "1")
        .env("npm_config_update_notifier", "false")
        .env_remove("DEBUG")
        // Cargo reads a build script's stdout for `cargo:` directives; send
        // npm's chatter to stderr, which cargo shows when the build fails.
        .stdout(Stdio::from(io::stderr()))
        .status()
        .map_err(|e| {
            format!(
                "could not run `{shown}` in {}: {e}\n\n{INSTALL_HINT}",
                web_dir.display()
            )
        })?;
    if !status.success() {
        return Err(format!(
            "`{shown}` failed in {} ({status}); see its output above.\n\n{INSTALL_HINT}",
            web_dir.display()
        )
        .into());
    }
    Ok(())
}

/// Every regular file under `root`, keyed by its `/`-separated relative path.
fn collect_files(root: &Path) -> Result<BTreeMap<String, PathBuf>, BoxError> {
    let mut files = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries =
            fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() || path.is_file() {
                let rel = path.strip_prefix(root)?;
                let mut key = String::new();
                for part in rel.components() {
                    let part = part.as_os_str().to_str().ok_or_else(|| {
                        format!("non UTF-8 file name in UI build: {}", path.display())
                    })?;
                    if !key.is_empty() {
                        key.push('/');
                    }
                    key.push_str(part);
                }
                files.insert(key, fs::canonicalize(&path)?);
            }
        }
    }
    Ok(files)
}

fn render_table(assets: &BTreeMap<String, PathBuf>) -> Result<String, BoxError> {
    let mut out = String::from(
        "// @generated by ui/build.rs: the built web UI, sorted by path.\n\
         static ASSETS: &[(&str, &[u8])] = &[\n",
    );
    for (rel, abs) in assets {
        let abs = abs
            .to_str()
            .ok_or_else(|| format!("non UTF-8 path in UI build: {}", abs.display()))?;
        // `{:?}` renders a valid Rust string literal (quotes and backslashes escaped).
        writeln!(out, "    ({rel:?}, include_bytes!({abs:?})),")?;
    }
    out.push_str("];\n");
    Ok(out)
}
